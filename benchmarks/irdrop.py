"""Exact IR-drop solve: reram's nested-dissection solver beside badcrossbar (exact, PyPI).

Table 1, for each array size, 256 input vectors, 1 ohm row and column segments, cells uniform
in 1-40 uS: agreement of the output currents (max relative error against badcrossbar), time
(median of repeats; badcrossbar once at large sizes) and peak memory (max RSS of a fresh process
per case). Install the peer with ``pip install --no-deps badcrossbar sigfig pathvalidate``.

Table 2: a network (the default job's CNN, batch 256) with ``array.ir_drop`` off, approx and
exact on 64/128/256 arrays: inference time ratio once the tiles are programmed, and the one-time
cost of the effective matrices per tile.

    python benchmarks/irdrop.py [--sizes 64 128 256 512] [--repeats 3] [--threads 2] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import statistics
import subprocess
import sys
import time
import warnings

import numpy as np


def _case(n: int, tool: str, repeats: int, threads: int, device: str = "cpu") -> dict[str, float]:
    import torch

    torch.set_num_threads(threads)
    rng = np.random.default_rng(n)
    g = rng.uniform(1e-6, 40e-6, (n, n))
    v = rng.uniform(0.0, 0.2, (256, n))
    times = []
    if tool == "badcrossbar":
        warnings.filterwarnings("ignore")
        logging.disable(logging.INFO)
        import badcrossbar

        for _ in range(repeats if n <= 128 else 1):
            t0 = time.perf_counter()
            out = np.asarray(badcrossbar.compute(v.T, 1.0 / g, r_i=1.0).currents.output)
            times.append(time.perf_counter() - t0)
    else:
        from reram.array.circuit import Wires, solve_crossbar

        for _ in range(repeats):
            t0 = time.perf_counter()
            out = solve_crossbar(torch.tensor(g, device=device), torch.tensor(v, device=device), Wires(1.0, 1.0))
            if device == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
            out = out.currents_A.cpu().numpy()
    np.save(f"/tmp/irdrop_{tool}_{n}.npy", out)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "time_s": statistics.median(times),
        "max_rss_MB": rss,
        "ideal_dev": float(np.abs(v @ g - out).max() / np.abs(v @ g).max()),
    }


def _network(threads: int, device: str, repeats: int) -> None:
    import torch

    import reram
    from reram.zoo import build

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = build("fashion_cnn")[0].to(device)
    x = torch.rand(256, 1, 28, 28, device=device)
    print("\n| array | sensing | ir_drop | inference ms (batch 256) | ratio to off | one-time per tile s | tiles |")
    print("|---|---|---|---:|---:|---:|---:|")
    cases = [("voltage", m) for m in ("off", "exact")] + [("current", m) for m in ("off", "approx", "exact")]
    t_off = 0.0
    for n, (sensing, mode) in ((n, c) for n in (64, 128, 256) for c in cases):
        base = reram.override(
            reram.preset("neurram"),
            {"array": {"rows": n, "cols": n, "r_wire_ohm": 1.0}, "periphery": {"adc": {"sensing": sensing}}},
        )
        chip = reram.convert(model, reram.override(base, {"array": {"ir_drop": mode}})).to(device)
        chip.program()
        layers = [m for _, m in reram.nn.analog_layers(chip)]
        tiles = sum(m.grid.n_row * m.grid.n_col for m in layers)
        t0 = time.perf_counter()
        for m in layers:
            m.gdiff()
        if device == "cuda":
            torch.cuda.synchronize()
        once = (time.perf_counter() - t0) / tiles
        times = []
        with torch.no_grad():
            for _ in range(repeats + 1):
                t0 = time.perf_counter()
                chip(x)
                if device == "cuda":
                    torch.cuda.synchronize()
                times.append(time.perf_counter() - t0)
        t = statistics.median(times[1:]) * 1e3
        t_off = t if mode == "off" else t_off
        print(f"| {n}×{n} | {sensing} | {mode} | {t:.1f} | {t / t_off:.2f} | {once:.3f} | {tiles} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256, 512])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", help="cpu or cuda (reram's side; badcrossbar is CPU only)")
    ap.add_argument("--network-only", action="store_true", help="only the network table")
    ap.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.network_only:
        _network(args.threads, args.device, args.repeats)
        return
    if args.one:
        print(json.dumps(_case(int(args.one[0]), args.one[1], args.repeats, args.threads, args.device)))
        return
    print("| size | badcrossbar s | reram s | speed-up | max rel. diff | IR drop vs ideal | memory MB (peer / reram) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for n in args.sizes:
        res = {}
        for tool in ("badcrossbar", "reram"):
            cmd = [
                sys.executable,
                __file__,
                "--one",
                str(n),
                tool,
                "--repeats",
                str(args.repeats),
                "--threads",
                str(args.threads),
                "--device",
                args.device,
            ]
            p = subprocess.run(cmd, capture_output=True, text=True)
            res[tool] = json.loads(p.stdout.strip().splitlines()[-1]) if p.returncode == 0 else None
        if res["badcrossbar"] is None or res["reram"] is None:
            print(f"| {n} | failed: is badcrossbar installed? |")
            continue
        a, b = np.load(f"/tmp/irdrop_badcrossbar_{n}.npy"), np.load(f"/tmp/irdrop_reram_{n}.npy")
        err = float(np.abs(a - b).max() / np.abs(a).max())
        tb, tr = res["badcrossbar"]["time_s"], res["reram"]["time_s"]
        print(f"| {n}×{n} | {tb:.3f} | {tr:.3f} | {tb / tr:.1f}× | {err:.1e} | {res['reram']['ideal_dev']:.1%} | "
              f"{res['badcrossbar']['max_rss_MB']:.0f} / {res['reram']['max_rss_MB']:.0f} |", flush=True)  # fmt: skip
    _network(args.threads, args.device, args.repeats)


if __name__ == "__main__":
    main()
