"""Simulation at scale: peak memory per weight and forward time of GPT-shaped models, float vs analog.

For each shape (GPT-2 small, 124 M weights; GPT-2 medium, 355 M; a Llama-like 1.24 B) and each
mode, a fresh process builds the model (random weights), then for ``analog`` converts it onto
the ``neurram`` preset (every nn.Linear on cores: drift, read noise, ADC as configured),
programs and calibrates it; then runs ``--repeats`` forward passes of ``--batch`` sequences of
``--tokens`` tokens. Reported: set-up times, the median forward time, its ratio to float's
measured the same way, and the process's peak resident memory (``ru_maxrss``) over the model's
weights (bytes per weight) and over the float run's peak. A shape whose analog run would not fit
``--memory-gb`` (estimated from the smaller shapes' bytes per weight) is skipped, saying so.

    python benchmarks/scale.py [--shapes 124M,355M,1B] [--batch 8] [--tokens 128] [--repeats 3]
        [--inputs multi-level|bit-serial] [--device cpu|cuda] [--memory-gb 22] [--processes 1] [--json]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

import torch

SHAPES = {"124M": "gpt2_small", "355M": "gpt2_medium", "1B": "llama_1b"}


def _model(shape: str) -> torch.nn.Module:
    from reram.zoo import CharGPT, build

    if shape == "355M":
        m = CharGPT(50257, dim=1024, depth=24, heads=16, context=1024)
        m.head.weight = m.tok.weight
        return m
    return build(SHAPES[shape], None)[0]


def _config(inputs: str) -> object:
    from reram.config import load_config, override

    changes: dict = {"chip": {"max_chips": 100_000}}
    if inputs == "multi-level":
        changes["periphery"] = {"dac": {"bit_serial": False, "accumulate": "digital", "split_bits": 0}}
    return override(load_config("neurram"), changes)


def _rss_GB() -> float:
    """The process's present resident memory (GB), from /proc (0 where there is none)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize() / 2**30
    except OSError:
        return 0.0


def one(shape: str, mode: str, batch: int, tokens: int, repeats: int, inputs: str, device: str,
        state_dtype: str = "float16") -> dict:  # fmt: skip
    """Measure one (shape, mode) in this process."""
    import reram

    torch.manual_seed(0)
    t0 = time.perf_counter()
    model = _model(shape).to(device).eval()
    weights = sum(p.numel() for n, p in model.named_parameters() if p.dim() >= 2 and "pos" not in n)
    row: dict = {"shape": shape, "mode": mode, "weights": weights, "build_s": time.perf_counter() - t0,
                 "rss_model_GB": _rss_GB()}  # fmt: skip
    vocab = model.head.out_features
    x = torch.randint(0, vocab, (batch, tokens), generator=torch.Generator().manual_seed(1)).to(device)
    if mode == "analog":
        t0 = time.perf_counter()
        model = reram.convert(model, _config(inputs), inplace=True, state_dtype=state_dtype)
        row["convert_s"] = time.perf_counter() - t0
        row["rss_converted_GB"] = _rss_GB()
        t0 = time.perf_counter()
        model.program()
        row["program_s"] = time.perf_counter() - t0
        row["rss_programmed_GB"] = _rss_GB()
        t0 = time.perf_counter()
        reram.calibrate(model, [x[:1]])
        row["calibrate_s"] = time.perf_counter() - t0
        row["rss_calibrated_GB"] = _rss_GB()
        row["peak_setup_GB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    times = []
    with torch.no_grad():
        for _ in range(repeats):
            if device == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            model(x)
            if device == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
    row["forward_s"] = statistics.median(times)
    row["peak_rss_GB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    if device == "cuda":
        row["peak_cuda_GB"] = torch.cuda.max_memory_allocated() / 2**30
    row["rss_model_GB"] = row.get("rss_model_GB", _rss_GB())
    row["bytes_per_weight"] = row.get("peak_cuda_GB", row["peak_rss_GB"]) * 2**30 / weights
    return row


def _median_run(runs: list[dict]) -> dict:
    """The run of median peak memory, with every run's peak and forward time beside it."""
    ordered = sorted(runs, key=lambda r: r["peak_rss_GB"])
    r = dict(ordered[len(ordered) // 2])
    if len(runs) > 1:
        r["peak_rss_GB_runs"] = [x["peak_rss_GB"] for x in runs]
        r["forward_s_runs"] = [x["forward_s"] for x in runs]
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shapes", default="124M,355M,1B")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--inputs", default="multi-level", choices=("multi-level", "bit-serial"))
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument(
        "--state-dtype",
        default="float16",
        choices=("float16", "float32"),
        help="how the chip state holds the conductances (reram.convert(state_dtype=...))",
    )
    ap.add_argument("--memory-gb", type=float, default=22.0)
    ap.add_argument(
        "--processes",
        type=int,
        default=1,
        help="fresh processes per (shape, mode); the row of median peak memory is reported",
    )
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--one", help=argparse.SUPPRESS)  # "SHAPE:MODE": measure in this process
    args = ap.parse_args()
    if args.one:
        shape, mode = args.one.split(":")
        print(
            json.dumps(
                one(shape, mode, args.batch, args.tokens, args.repeats, args.inputs, args.device, args.state_dtype)
            )
        )
        return
    rows, per_weight = [], {"float": 0.0, "analog": 0.0}
    for shape in args.shapes.split(","):
        found = {}
        for mode in ("float", "analog"):
            from reram.zoo import CharGPT  # noqa: F401  (fail early on a broken install)

            weights = {"124M": 124e6, "355M": 355e6, "1B": 1.24e9}[shape]
            need_gb = per_weight[mode] * weights / 2**30
            if per_weight[mode] and need_gb > args.memory_gb:
                why = f"needs ~{need_gb:.0f} GB at {per_weight[mode]:.1f} B/weight, over --memory-gb {args.memory_gb}"
                rows.append({"shape": shape, "mode": mode, "skipped": why})
                continue
            cmd = [
                sys.executable,
                __file__,
                "--one",
                f"{shape}:{mode}",
                "--batch",
                str(args.batch),
                "--tokens",
                str(args.tokens),
                "--repeats",
                str(args.repeats),
                "--inputs",
                args.inputs,
                "--device",
                args.device,
                "--state-dtype",
                args.state_dtype,
            ]
            runs, failure = [], None
            for _ in range(args.processes):  # fresh processes: the peak memory scatters with the C heap
                done = subprocess.run(cmd, capture_output=True, text=True, check=False)
                if done.returncode != 0:
                    failure = f"exit {done.returncode}: {done.stderr[-300:]}"
                    break
                runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
            if failure is not None:
                rows.append({"shape": shape, "mode": mode, "skipped": failure})
                continue
            r = _median_run(runs)
            per_weight[mode] = max(per_weight[mode], r["bytes_per_weight"])
            found[mode] = r
            rows.append(r)
            print(json.dumps(r), file=sys.stderr, flush=True)
        if "float" in found and "analog" in found:
            found["analog"]["forward_vs_float"] = found["analog"]["forward_s"] / found["float"]["forward_s"]
            found["analog"]["memory_vs_float"] = found["analog"]["peak_rss_GB"] / found["float"]["peak_rss_GB"]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"| shape | mode | weights | set-up (convert + program + calibrate) | forward {args.batch}x{args.tokens} "
          "| vs float | peak memory | bytes/weight | memory vs float |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        if "skipped" in r:
            print(f"| {r['shape']} | {r['mode']} | | skipped: {r['skipped']} | | | | | |")
            continue
        setup = r.get("convert_s", 0) + r.get("program_s", 0) + r.get("calibrate_s", 0)
        print(f"| {r['shape']} | {r['mode']} | {r['weights'] / 1e6:.0f} M | {setup:.1f} s | {r['forward_s']:.2f} s | "
              f"{r.get('forward_vs_float', 1.0):.2f}x | {r['peak_rss_GB']:.2f} GB | {r['bytes_per_weight']:.1f} | "
              f"{r.get('memory_vs_float', 1.0):.2f}x |")  # fmt: skip


if __name__ == "__main__":
    main()
