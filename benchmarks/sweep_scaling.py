"""Sweep throughput on Dask: points per minute with 1 and 2 local workers, and the scheduler's
overhead per point.

Each timed point puts a 784-256-128-10 MLP on the ``neurram`` chip (current sensing), programs it
and reads 2,000 inputs through it (about a second of one core); each worker process has one
thread (``OMP_NUM_THREADS=1``). The overhead is measured with points that do nothing: the time
of such a sweep, less the cluster's start, per point (submission, scheduling, result transfer,
Parquet batches). Median of ``--repeats`` sweeps each.

    python benchmarks/sweep_scaling.py [--points 16] [--repeats 3] [--trivial 200] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any


def mlp_point(config: Any, options: dict[str, Any], cache: Path) -> dict[str, Any]:
    """One timed point: program an MLP on the chip and read 2,000 inputs through it."""
    import torch

    import reram
    from reram.zoo import mlp

    torch.manual_seed(0)
    chip = reram.convert(mlp(10, 784), config)
    chip.program()
    x = torch.rand(2000, 784)
    reram.calibrate(chip, x[:500])
    with torch.no_grad():
        y = chip(x)
    return {"mean_output": float(y.mean())}


def nothing(config: Any, options: dict[str, Any], cache: Path) -> dict[str, Any]:
    """A point that does nothing: what the scheduler costs."""
    return {"value": 1.0}


def _sweep(job: str, points: int, workers: int) -> tuple[float, float]:
    """(seconds for the sweep's points, seconds to start the cluster)."""
    from distributed import LocalCluster

    from reram.sweep import parse_spec, run_sweep

    spec = parse_spec({"job": job, "base": "neurram", "seeds": points,
                       "axes": {"periphery.adc.sensing": ["current"]}})  # fmt: skip
    t0 = time.perf_counter()
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                           env={"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})  # fmt: skip
    t1 = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory() as d:
            run_sweep(spec, Path(d), cluster=cluster, batch=16)
    finally:
        cluster.close()
    return time.perf_counter() - t1, t1 - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--trivial", type=int, default=200)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    job = f"{Path(__file__).stem}:mlp_point"
    rates = {}
    for workers in (1, 2):
        runs = [_sweep(job, a.points, workers)[0] for _ in range(a.repeats)]
        rates[workers] = 60 * a.points / statistics.median(runs)
    idle = [_sweep(f"{Path(__file__).stem}:nothing", a.trivial, 2)[0] for _ in range(a.repeats)]
    out = {"points_per_min_1_worker": rates[1], "points_per_min_2_workers": rates[2],
           "speedup_2_workers": rates[2] / rates[1], "overhead_ms_per_point": 1e3 * statistics.median(idle) / a.trivial,
           "points": a.points, "repeats": a.repeats}  # fmt: skip
    if a.json:
        print(json.dumps(out, indent=2))
    else:
        for k, v in out.items():
            print(f"{k:28s} {v:.3g}" if isinstance(v, float) else f"{k:28s} {v}")


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(Path(__file__).parent))  # the workers import this file's jobs by name
    import os

    os.environ["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])
    main()
