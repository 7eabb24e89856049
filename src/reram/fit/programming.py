"""``reram fit program``: target and achieved conductances after write-verify -> its band, its
failures and the pulse response.

Data (one row per cell programmed): ``target_S`` and ``g_S`` (siemens), optionally
``iterations`` (the programming pulses the cell took). A cell converged if it took fewer than
the most pulses any cell took (without ``iterations``: if its error is within 2.5 times the
median error). Fitted:

- ``device.wv_tolerance_S``: the acceptance band's half-width: a verified cell's error is near
  uniform within the band plus the verify read's noise (the base preset's ``read_sigma_S``),
  so tol = sqrt(3 (var(error) - sigma_read^2)) over the converged cells;
- ``device.stuck_low_rate`` / ``stuck_high_rate``: failed cells sitting at the window's low /
  high end (within the band of the base preset's g_min / g_max) while their target is not;
- ``device.wv_max_iterations``: the most pulses any cell took;
- ``device.wv_step_gain``: the mean fraction of the verified error one pulse corrects, the
  value at which the project's own loop (``reram.device.write_verify``, on the same targets
  with the base preset's spread and noise) takes as many pulses on average as the data.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from reram.config import Config, DeviceConfig
from reram.device import write_verify
from reram.fit.result import Curve, FitResult
from reram.fit.tables import Column, FitDataError, read_table

COLUMNS = [
    Column("target_S", "the conductance aimed at (siemens)", non_negative=True),
    Column("g_S", "the conductance reached (siemens)", non_negative=True),
    Column("iterations", "programming pulses the cell took (count)", required=False, non_negative=True),
]
SIM_CELLS = 4000  # cells the pulse-response match simulates


def _mean_pulses(target: torch.Tensor, dev: DeviceConfig, gain: float) -> float:
    cfg = dataclasses.replace(dev, wv_step_gain=gain)
    lo, hi = torch.full_like(target, dev.g_min_S), torch.full_like(target, dev.g_max_S)
    _, _, _, pulses = write_verify(target, lo, hi, cfg, torch.Generator().manual_seed(0))
    return float(pulses.double().mean())


def fit_program(path: str | Path, base: Config) -> FitResult:
    """Fit the programming statistics of ``path`` (see the module docstring)."""
    t = read_table(path, COLUMNS)
    if len(t) < 20:
        raise FitDataError(f"{t.path}: want at least 20 programmed cells, found {len(t)}")
    target, g = t["target_S"], t["g_S"]
    err = g - target
    if "iterations" in t:
        max_it = int(t["iterations"].max())
        converged = t["iterations"] < max_it
    else:
        max_it, converged = 0, np.abs(err) <= 2.5 * np.median(np.abs(err))
    if converged.sum() < 10:
        raise FitDataError(f"{t.path}: fewer than 10 cells converged: nothing to fit the band to")
    dev = base.device
    spread = float(np.mean(err[converged] ** 2)) - dev.read_sigma_S**2
    if spread <= 0:
        raise FitDataError(f"{t.path}: the converged cells' errors are smaller than the base preset's "
                           f"verify-read noise ({dev.read_sigma_S:.3g} S): fit the read noise first, or use "
                           "another --base")  # fmt: skip
    tol = float(np.sqrt(3 * spread))
    near_lo, near_hi = g <= dev.g_min_S + tol, g >= dev.g_max_S - tol
    stuck_lo = ~converged & near_lo & (target > dev.g_min_S + 2 * tol)
    stuck_hi = ~converged & near_hi & (target < dev.g_max_S - 2 * tol)
    n = len(t)
    params: dict[str, float | int] = {"device.wv_tolerance_S": tol, "device.stuck_low_rate": float(stuck_lo.mean()),
                                      "device.stuck_high_rate": float(stuck_hi.mean())}  # fmt: skip
    stderr = {"device.wv_tolerance_S": tol / np.sqrt(converged.sum()),
              "device.stuck_low_rate": float(np.sqrt(max(stuck_lo.mean(), 1 / n) / n)),
              "device.stuck_high_rate": float(np.sqrt(max(stuck_hi.mean(), 1 / n) / n))}  # fmt: skip
    notes = [f"{int(converged.sum())} of {n} cells converged; {int((~converged).sum())} failed "
             f"({int(stuck_lo.sum())} stuck low, {int(stuck_hi.sum())} stuck high)"]  # fmt: skip
    quality = {"cells": float(n), "failure_rate": float((~converged).mean()),
               "rmse_converged_S": float(np.sqrt(np.mean(err[converged] ** 2)))}  # fmt: skip
    curves = [Curve(target * 1e6, g * 1e6, target * 1e6, "target (uS)", "reached (uS)")]
    if max_it:
        params["device.wv_max_iterations"] = max_it
        pick = np.flatnonzero(converged)[:SIM_CELLS]
        aim = torch.tensor(target[pick], dtype=torch.float64)
        want = float(t["iterations"][pick].mean())
        sim_dev = dataclasses.replace(dev, wv_tolerance_S=tol, wv_max_iterations=max(max_it, 2),
                                      stuck_low_rate=0.0, stuck_high_rate=0.0)  # fmt: skip
        gains = np.arange(0.05, 1.96, 0.05)
        found = np.array([_mean_pulses(aim, sim_dev, float(k)) for k in gains])
        k0 = float(gains[np.argmin(np.abs(found - want))])
        fine = np.arange(max(0.01, k0 - 0.05), min(1.99, k0 + 0.05) + 1e-9, 0.005)
        fine_found = np.array([_mean_pulses(aim, sim_dev, float(k)) for k in fine])
        gain = float(fine[np.argmin(np.abs(fine_found - want))])
        params["device.wv_step_gain"] = gain
        stderr["device.wv_step_gain"] = 0.005
        quality["mean_pulses_data"] = want
        quality["mean_pulses_model"] = float(fine_found[np.argmin(np.abs(fine_found - want))])
        curves.append(Curve(gains, found, np.full_like(found, want), "step gain (fraction of the error per pulse)",
                            "mean pulses per converged cell", label="the loop, simulated"))  # fmt: skip
        notes.append(f"the pulse response: the project's loop takes the data's {want:.2f} pulses per cell at "
                     f"wv_step_gain = {gain:.3f} (spread and noise of the base preset)")  # fmt: skip
    return FitResult("program", t.path, params, stderr, quality, curves, notes)
