"""Inference throughput of analog (neurram preset) vs float torch on the same machine, same run.

For an MLP 784-256-128-10, a LeNet-5-like CNN and a ResNet-like CNN (32/64/128 channels,
3x32x32), at batch 256 with 2 threads: samples/s of the float model and of the converted model
(programmed and calibrated), and the ratio analog time / float time. The float model and each
analog mode are timed in alternating blocks (one forward each per block, ``--repeats`` blocks), so
that a slow spell of a shared machine hits them alike; times and ratios are medians over the
blocks (the table also gives the quartiles of the blocks' ratios: a shared machine's spread).
Modes: current-mode sensing with multi-level inputs, and bit-serial inputs; with
``--ir-drop``, also the multi-level mode with 1-ohm wire segments solved ``approx`` and ``exact``
(the issue-17 target: <= 1.2x the same model without IR drop, the column "vs no IR drop").

    OMP_WAIT_POLICY=PASSIVE python benchmarks/throughput.py [--repeats 15] [--device cpu|cuda] [--ir-drop]
        [--models mlp,lenet5,resnet_small] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import torch

import reram
from reram.zoo import build

MODES = {
    "multi-level": {
        "base": "neurram",
        "periphery": {
            "dac": {"bit_serial": False, "accumulate": "digital", "split_bits": 0},
            "adc": {"sensing": "current"},
        },
    },
    "bit-serial": {"base": "neurram", "periphery": {"dac": {"bit_serial": True}, "adc": {"sensing": "current"}}},
}
IR_DROP = {  # the multi-level mode with wire resistance, both solvers
    f"multi-level, IR drop {kind}": {**MODES["multi-level"], "array": {"ir_drop": kind, "r_wire_ohm": 1.0}}
    for kind in ("approx", "exact")
}


def _blocks(fns: dict[str, Callable[[torch.Tensor], torch.Tensor]], x: torch.Tensor, repeats: int,
            sync: Callable[[], None]) -> dict[str, list[float]]:  # fmt: skip
    """Seconds per forward of each function, one call each per block, ``repeats`` blocks."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    with torch.no_grad():
        for fn in fns.values():  # warm-up
            fn(x), fn(x)
        sync()
        for _ in range(repeats):
            for k, fn in fns.items():
                t0 = time.perf_counter()
                fn(x)
                sync()
                times[k].append(time.perf_counter() - t0)
    return times


def _quartiles(values: list[float]) -> tuple[float, float]:
    """The first and third quartiles of the blocks' ratios: how far one block's figure strays."""
    if len(values) < 2:
        return values[0], values[0]
    q = statistics.quantiles(values, n=4)
    return q[0], q[2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument(
        "--ir-drop", action="store_true", help="also time the multi-level mode with IR drop (approx, exact)"
    )
    ap.add_argument("--models", default="mlp,lenet5,resnet_small", help="comma-separated zoo models")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    modes = {**MODES, **(IR_DROP if args.ir_drop else {})}
    torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    rows = []
    for name in args.models.split(","):
        torch.manual_seed(0)
        model, shape = build(name)
        model = model.to(dev).eval()
        x = torch.rand(args.batch, *shape, device=dev)
        fns: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"float": model}
        for mode, cfg in modes.items():
            analog = reram.convert(model, cfg)
            reram.calibrate(analog, [x])
            fns[mode] = analog
        times = _blocks(fns, x, args.repeats, sync)
        t_float = statistics.median(times["float"])
        for mode in modes:
            ratios = [a / f for a, f in zip(times[mode], times["float"], strict=True)]
            plain = [a / p for a, p in zip(times[mode], times["multi-level"], strict=True)]
            rows.append({
                "model": name, "mode": mode, "float_samples_per_s": args.batch / t_float,
                "analog_samples_per_s": args.batch / statistics.median(times[mode]),
                "ratio_analog_over_float": statistics.median(ratios),
                "ratio_quartiles": _quartiles(ratios),
                "ratio_over_no_ir_drop": statistics.median(plain) if "IR drop" in mode else None,
            })  # fmt: skip
    if args.json:
        print(json.dumps({"device": str(dev), "threads": args.threads, "batch": args.batch, "rows": rows}, indent=2))
        return
    print(f"device {dev}, {args.threads} threads, batch {args.batch}, median of {args.repeats} alternating blocks")
    print("| model | inputs | float samples/s | analog samples/s | analog/float | blocks' quartiles | vs no IR drop |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for r in rows:
        plain = "" if r["ratio_over_no_ir_drop"] is None else f"{r['ratio_over_no_ir_drop']:.2f}x"
        print(
            f"| {r['model']} | {r['mode']} | {r['float_samples_per_s']:.0f} | "
            f"{r['analog_samples_per_s']:.0f} | {r['ratio_analog_over_float']:.2f}x | "
            f"{r['ratio_quartiles'][0]:.2f}-{r['ratio_quartiles'][1]:.2f}x | {plain} |"
        )


if __name__ == "__main__":
    main()
