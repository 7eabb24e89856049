"""Generate a lab's worth of device data in ``reram fit``'s formats, from the project's own models
with known parameters (nothing here is measured or copied): repeated reads, write-verify results
and an endurance test, written as ``reads.csv``, ``program.csv`` and ``endurance.csv``.

    python examples/fit/make_data.py examples/fit/data
    reram fit read examples/fit/data/reads.csv --out examples/fit/data/step1.toml
    reram fit program examples/fit/data/program.csv --base examples/fit/data/step1.toml ...

The parameters behind the data (what the fits should find): read noise 1.5 % of G (the
physical model), write-verify band 0.8 uS with a step gain of 0.45, 0.5 % of cells stuck low and
1 % stuck high, a window that narrows 12 % per decade after 3e4 cycles.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np
import torch

import reram
from reram.device import program
from reram.fit.endurance import window_model

TRUE = {"read_noise_rel": 0.015, "wv_tolerance_S": 0.8e-6, "wv_step_gain": 0.45, "stuck_low_rate": 0.005,
        "stuck_high_rate": 0.01, "endurance_cycles": 3e4, "endurance_narrowing": 0.12}  # fmt: skip


def _write(path: Path, rows: list[dict[str, object]]) -> None:
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def main(out: Path) -> None:
    """Write the three CSVs into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2026)
    reads = []  # 64 cells across the window, 100 reads each at 0.2 V over a 50 MHz bandwidth
    for c, g in enumerate(np.linspace(1.5e-6, 39e-6, 64)):
        for v in g + TRUE["read_noise_rel"] * g * rng.standard_normal(100):
            reads.append({"cell": f"r{c // 8}c{c % 8}", "g_S": f"{v:.6e}"})
    _write(out / "reads.csv", reads)
    dev = reram.override(reram.preset("neurram"), {"device": {
        "levels": 0, "read_noise_rel": TRUE["read_noise_rel"], "wv_tolerance_S": TRUE["wv_tolerance_S"],
        "wv_step_gain": TRUE["wv_step_gain"], "stuck_low_rate": TRUE["stuck_low_rate"],
        "stuck_high_rate": TRUE["stuck_high_rate"]}}).device  # fmt: skip
    gen = torch.Generator().manual_seed(2026)
    target = 2e-6 + torch.rand(5000, generator=gen, dtype=torch.float64) * 36e-6
    res = program(target, dev, gen)
    assert res.pulses is not None
    _write(out / "program.csv", [{"target_S": f"{a:.6e}", "g_S": f"{b:.6e}", "iterations": int(p)}
                                 for a, b, p in zip(target.tolist(), res.g_S.tolist(), res.pulses.tolist(),
                                                    strict=True)])  # fmt: skip
    cycles = np.unique(np.round(np.logspace(0, 8, 80)))
    rows = []
    for d, w0 in enumerate((32e-6, 36e-6, 29e-6, 34e-6)):
        w = window_model(cycles, np.full(len(cycles), w0), TRUE["endurance_cycles"], TRUE["endurance_narrowing"])
        w = w * (1 + 0.01 * rng.standard_normal(len(w)))
        rows += [{"device": f"d{d}", "cycles": int(n), "g_on_S": f"{1e-6 + x:.6e}", "g_off_S": "1e-6"}
                 for n, x in zip(cycles, w, strict=True)]  # fmt: skip
    _write(out / "endurance.csv", rows)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "examples/fit/data"))
