"""Exact IR-drop solve: reram's block-tridiagonal solver beside badcrossbar (exact, PyPI).

For each array size, 256 input vectors, 1 ohm row and column segments, cells uniform in
1-40 uS: agreement of the output currents (max relative error against badcrossbar), time
(median of repeats; badcrossbar once at large sizes) and peak memory (max RSS of a fresh process
per case). Install the peer with ``pip install --no-deps badcrossbar sigfig pathvalidate``.

    python benchmarks/irdrop.py [--sizes 64 128 256 512] [--repeats 3] [--threads 2]
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


def _case(n: int, tool: str, repeats: int, threads: int) -> dict[str, float]:
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
            out = solve_crossbar(torch.tensor(g), torch.tensor(v), Wires(1.0, 1.0)).currents_A.numpy()
            times.append(time.perf_counter() - t0)
    np.save(f"/tmp/irdrop_{tool}_{n}.npy", out)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "time_s": statistics.median(times),
        "max_rss_MB": rss,
        "ideal_dev": float(np.abs(v @ g - out).max() / np.abs(v @ g).max()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256, 512])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(_case(int(args.one[0]), args.one[1], args.repeats, args.threads)))
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


if __name__ == "__main__":
    main()
