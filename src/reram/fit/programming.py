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
- ``device.wv_step_gain`` (with ``iterations``): the mean fraction of the verified error one
  pulse corrects. With it the band is refined too: both are the values at which the project's
  own loop (``reram.device.write_verify``, on the same targets with the base preset's spread
  and verify-read noise) gives the data's pulses per converged cell (mean and spread: the mean
  alone is met twice, under- and over-correcting) and leaves the same rms error (simulated
  moments, a coordinate search on grids; the band's estimate above starts it).
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


def _simulate(target: torch.Tensor, dev: DeviceConfig, tol: float, gain: float) -> tuple[float, float, float]:
    """(mean and std of the pulses, rms error) of the cells the project's loop converges on ``target``."""
    cfg = dataclasses.replace(dev, wv_step_gain=gain, wv_tolerance_S=tol)
    lo, hi = torch.full_like(target, dev.g_min_S), torch.full_like(target, dev.g_max_S)
    g, failed, _, pulses = write_verify(target, lo, hi, cfg, torch.Generator().manual_seed(0))
    ok = ~failed
    if not bool(ok.any()):
        return float("inf"), float("inf"), float("inf")
    p = pulses[ok].double()
    return float(p.mean()), float(p.std()), float((g - target)[ok].pow(2).mean().sqrt())


def _match(target: torch.Tensor, dev: DeviceConfig, want: tuple[float, float, float],
           tol0: float) -> tuple[float, float, tuple[float, float, float]]:  # fmt: skip
    """(tol, gain) at which the loop's converged cells take the data's pulses (mean and std: the
    mean alone has two solutions, under- and over-correcting) and leave its rms error, by a
    coordinate search on grids (three rounds); with the simulated (mean, std, rms).
    """
    mean, std, rms = want
    tol, gain = tol0, 0.6
    for _ in range(3):
        gains = np.arange(0.05, 1.96, 0.025)
        sims = [_simulate(target, dev, tol, float(k)) for k in gains]
        miss = [((m - mean) / mean) ** 2 + ((s - std) / max(std, 1e-9)) ** 2 for m, s, _ in sims]
        gain = float(gains[int(np.argmin(miss))])
        tols = tol0 * np.linspace(0.5, 2.0, 31)
        errs = np.array([_simulate(target, dev, float(x), gain)[2] for x in tols])
        tol = float(tols[np.argmin(np.abs(errs - rms))])
    return tol, gain, _simulate(target, dev, tol, gain)


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
        want_std = float(t["iterations"][pick].std())
        want_rms = float(np.sqrt(np.mean(err[pick] ** 2)))
        sim_dev = dataclasses.replace(dev, wv_max_iterations=max(max_it, 2), stuck_low_rate=0.0, stuck_high_rate=0.0)
        tol, gain, (sim_mean, sim_std, sim_rms) = _match(aim, sim_dev, (want, want_std, want_rms), tol)
        params["device.wv_tolerance_S"], params["device.wv_step_gain"] = tol, gain
        stderr["device.wv_tolerance_S"], stderr["device.wv_step_gain"] = tol * 0.05 / 2, 0.025 / 2  # grid steps
        quality.update({"mean_pulses_data": want, "mean_pulses_model": sim_mean, "std_pulses_data": want_std,
                        "std_pulses_model": sim_std, "rms_error_data_S": want_rms,
                        "rms_error_model_S": sim_rms})  # fmt: skip
        gains = np.arange(0.05, 1.96, 0.05)
        found = np.array([_simulate(aim, sim_dev, tol, float(k))[0] for k in gains])
        curves.append(Curve(gains, found, np.full_like(found, want), "step gain (fraction of the error per pulse)",
                            "mean pulses per converged cell", label="the loop, simulated"))  # fmt: skip
        notes.append(f"band and pulse response together: the project's loop takes the data's {want:.2f} pulses "
                     f"per cell and leaves its {want_rms * 1e6:.3g} uS rms error at wv_tolerance_S = "
                     f"{tol * 1e6:.3g} uS, wv_step_gain = {gain:.3f} (the base preset's spread and noise)")  # fmt: skip
    return FitResult("program", t.path, params, stderr, quality, curves, notes)
