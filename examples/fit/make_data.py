"""Generate a lab's worth of device data in ``reram fit``'s formats, from the project's own models
with known parameters (nothing here is measured or copied): repeated reads, write-verify results,
retention bakes, pulse trains, I-V sweeps and an endurance test, written as ``reads.csv``,
``program.csv``, ``relax.csv``, ``pulses.csv``, ``iv.csv`` and ``endurance.csv`` (see ``examples/fit/README.md``).

The parameters behind the data (what the fits should find): read noise 1.5 % of G (the
physical model), write-verify band 0.8 uS with a step gain of 0.45, 0.5 % of cells stuck low and
1 % stuck high, relaxation as the ``neurram`` preset's with an activation energy of 1.05 eV,
an exponential pulse response (250 pulses up, 350 down, nonlinearity 1.5 and 2.5, 0.3 %
cycle-to-cycle noise), a window that narrows 12 % per decade after 3e4 cycles, I-V sweeps of
cells with I = G v0 sinh(V / v0), v0 = 0.25 V, on at 40 uS and off at 1 uS (5 % spread).
"""

from __future__ import annotations

import csv
import dataclasses
import sys
from pathlib import Path

import numpy as np
import torch

import reram
from reram.device import equivalent_time_s, program, relax
from reram.device.update import apply_pulses, init_cells
from reram.fit.endurance import window_model

TRUE = {"read_noise_rel": 0.015, "wv_tolerance_S": 0.8e-6, "wv_step_gain": 0.45, "stuck_low_rate": 0.005,
        "stuck_high_rate": 0.01, "activation_energy_eV": 1.05, "pulses_up": 250.0, "pulses_down": 350.0,
        "nl_up": 1.5, "nl_down": 2.5, "c2c_sigma": 0.003, "endurance_cycles": 3e4,
        "endurance_narrowing": 0.12, "iv_v0_V": 0.25, "g_on_S": 40e-6, "g_off_S": 1e-6}  # fmt: skip


def _write(path: Path, rows: list[dict[str, object]]) -> None:
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def main(out: Path) -> None:
    """Write the six CSVs into ``out``."""
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
    _relax(out)
    _pulses(out)
    _iv(out)
    cycles = np.unique(np.round(np.logspace(0, 8, 80)))
    rows = []
    for d, w0 in enumerate((32e-6, 36e-6, 29e-6, 34e-6)):
        w = window_model(cycles, np.full(len(cycles), w0), TRUE["endurance_cycles"], TRUE["endurance_narrowing"])
        w = w * (1 + 0.01 * rng.standard_normal(len(w)))
        rows += [{"device": f"d{d}", "cycles": int(n), "g_on_S": f"{1e-6 + x:.6e}", "g_off_S": "1e-6"}
                 for n, x in zip(cycles, w, strict=True)]  # fmt: skip
    _write(out / "endurance.csv", rows)


def _relax(out: Path) -> None:
    """3,000 cells per bake: 1 s, 1 day, 2 days at 300 K; 1 h at 358 K; 10 min at 398 K."""
    dev = dataclasses.replace(reram.preset("neurram").device, activation_energy_eV=TRUE["activation_energy_eV"])
    gen = torch.Generator().manual_seed(7)
    rows = []
    for kelvin, t in ((300.0, 1.0), (300.0, 86400.0), (300.0, 172800.0), (358.15, 3600.0), (398.15, 600.0)):
        g0 = 2e-6 + torch.rand(3000, generator=gen, dtype=torch.float64) * 36e-6
        g = relax(g0, g0, torch.zeros(3000, dtype=torch.bool), 0.0, equivalent_time_s(t, kelvin, dev), dev, gen)
        rows += [{"g0_S": f"{a:.6e}", "g_S": f"{b:.6e}", "t_s": t, "T_K": kelvin}
                 for a, b in zip(g0.tolist(), g.tolist(), strict=True)]  # fmt: skip
    _write(out / "relax.csv", rows)


def _pulses(out: Path) -> None:
    """Three devices, two SET/RESET cycles of 200 pulses each, read after every pulse (the 1-40 uS window)."""
    base = reram.preset("neurram").device
    upd = dataclasses.replace(base.update, model="exponential", pulses_up=TRUE["pulses_up"],
                              pulses_down=TRUE["pulses_down"], nl_up=TRUE["nl_up"], nl_down=TRUE["nl_down"],
                              c2c_sigma=TRUE["c2c_sigma"], d2d_sigma=0.0)  # fmt: skip
    dev = dataclasses.replace(base, update=upd, d2d_window_sigma=0.0)
    span, gen, rows = dev.g_max_S - dev.g_min_S, torch.Generator().manual_seed(11), []
    one, zero = torch.ones(1, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)
    for d in range(3):
        cells = init_cells((1,), dev, gen)
        cells.u = cells.u.double().fill_(0.0)
        for cycle in range(2):
            for direction in ("set", "reset"):
                for k in range(201):
                    if k:
                        up = direction == "set"
                        apply_pulses(cells, one if up else zero, zero if up else one, dev.update, gen)
                    rows.append({"device": f"d{d}", "train": f"d{d}-{cycle}-{direction}", "direction": direction,
                                 "pulse": k, "g_S": f"{dev.g_min_S + float(cells.u[0]) * span:.6e}"})  # fmt: skip
    _write(out / "pulses.csv", rows)


def _iv(out: Path) -> None:
    """Four cells swept from -0.5 V to 0.5 V in the on and the off state (1 % current noise, 1 pA floor)."""
    rng, rows = np.random.default_rng(7), []
    v = np.linspace(-0.5, 0.5, 41)
    for d in range(4):
        for state, g_mid in (("on", TRUE["g_on_S"]), ("off", TRUE["g_off_S"])):
            g = g_mid * (1 + 0.05 * rng.standard_normal())
            i = g * TRUE["iv_v0_V"] * np.sinh(v / TRUE["iv_v0_V"])
            i = i * (1 + 0.01 * rng.standard_normal(len(v))) + 1e-12 * rng.standard_normal(len(v))
            rows += [{"sweep": f"d{d}-{state}", "state": state, "v_V": f"{a:.4f}", "i_A": f"{b:.6e}"}
                     for a, b in zip(v, i, strict=True)]  # fmt: skip
    _write(out / "iv.csv", rows)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "examples/fit/data"))
