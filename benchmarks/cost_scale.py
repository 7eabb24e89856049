"""How long the analytic cost path takes for a ResNet-50-sized network (25.6 M weights).

The cost comes from the mapping alone: a shape trace on the meta device, tiling and placement,
target conductances per tile, and the component arithmetic. Reported as seconds (median of
repeats) and as a ratio against one batch-1 float forward pass of the same model measured in
the same run.

    python benchmarks/cost_scale.py [--preset neurram] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from reram.cost import cost_of_model
from reram.zoo import build


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="neurram")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model, shape = build("resnet50", 1000)
    weights = sum(p.numel() for p in model.parameters() if p.dim() > 1)
    x = torch.zeros(1, *shape)
    cost_of_model(model, args.preset, shape)  # warm-up
    t_cost, t_fwd = [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        work, report = cost_of_model(model, args.preset, shape)
        t_cost.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        with torch.no_grad():
            model.eval()(x)
        t_fwd.append(time.perf_counter() - t0)
    c, f = statistics.median(t_cost), statistics.median(t_fwd)
    m = report.metrics()
    print(f"resnet50: {weights / 1e6:.1f} M weights, {work.placement.cores_used} cores on {report.chips} chips "
          f"({args.preset}); {m['energy_per_inference_J'] * 1e3:.3g} mJ, {m['tops_per_w']:.3g} TOPS/W")  # fmt: skip
    print(f"analytic cost: {c:.3f} s (median of {args.repeats}); float forward batch 1: {f:.3f} s; ratio {c / f:.2f}x")


if __name__ == "__main__":
    main()
