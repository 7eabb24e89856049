"""``reram fit read``: repeated reads of the same cells -> the read-noise model and its size.

Data (one row per read): ``cell`` (an id), ``g_S`` (the conductance read, siemens); optionally
``v_read_V``, ``bandwidth_Hz`` and ``T_K`` of the measurement. Per cell the reads give a mean G
and a sample variance s^2 over n reads. With the measurement's voltage and bandwidth the
thermal (4kTG df) and shot (2q|VG| df) noise it must have held, referred to conductance
(divided by V^2), are part of the model: var = (the cells' own fluctuation)^2 + that floor.

Two models of that fluctuation, each one parameter, fitted by maximum likelihood (Gaussian
reads, var = the model's std^2 + the floor): "constant", the same std c (siemens) on every
cell (``read_noise_rel = c / g_max``), and "physical", a std proportional to G
(``read_noise_rel = r``: 1/f and random-telegraph noise scale with the current). The one of
larger likelihood is written; both are reported. Standard error: that of a variance from
sum(n - 1) degrees of freedom, sqrt(2 / sum(n - 1)) of it (a lower bound where the floor
dominates).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from scipy.optimize import minimize_scalar

from reram.array.noise import K_B, Q_E
from reram.config import Config
from reram.fit.result import Curve, FitResult
from reram.fit.tables import Column, FitDataError, read_table

COLUMNS = [
    Column("cell", "an id of the cell read", text=True),
    Column("g_S", "the conductance read (siemens)", non_negative=True),
    Column("v_read_V", "the read voltage of the measurement (volts)", required=False, positive=True),
    Column("bandwidth_Hz", "the measurement's noise bandwidth (hertz)", required=False, positive=True),
    Column("T_K", "the temperature of the measurement (kelvin)", required=False, positive=True),
]


def _log_likelihood(s2: np.ndarray, dof: np.ndarray, var: np.ndarray) -> float:
    return float(-0.5 * np.sum(dof * (np.log(2 * math.pi * var) + s2 / var)))


def fit_read(path: str | Path, base: Config) -> FitResult:
    """Fit the read noise of ``path`` (see the module docstring); ``base`` gives g_max."""
    t = read_table(path, COLUMNS)
    cells, inverse, counts = np.unique(t["cell"], return_inverse=True, return_counts=True)
    if (counts >= 2).sum() < 2:
        raise FitDataError(f"{t.path}: want at least two cells read at least twice each (column 'cell')")
    g = t["g_S"]
    mean = np.bincount(inverse, g) / counts
    s2 = np.bincount(inverse, (g - mean[inverse]) ** 2) / np.maximum(counts - 1, 1)
    keep = counts >= 2
    mean, s2, dof = mean[keep], s2[keep], (counts - 1)[keep].astype(float)
    notes = []
    floor = np.zeros_like(mean)
    if "v_read_V" in t and "bandwidth_Hz" in t:
        v = np.bincount(inverse, t["v_read_V"])[keep] / counts[keep]
        df = np.bincount(inverse, t["bandwidth_Hz"])[keep] / counts[keep]
        kelvin = np.bincount(inverse, t["T_K"])[keep] / counts[keep] if "T_K" in t else base.device.t_ref_K
        floor = (4 * K_B * kelvin * mean * df + 2 * Q_E * v * mean * df) / v**2  # S^2
        notes.append("thermal and shot noise of the measurement in the model (v_read_V, bandwidth_Hz given)")
    else:
        notes.append("no v_read_V / bandwidth_Hz: the whole variance is taken as the cells' fluctuation")
    if bool((mean <= 0).any()):
        raise FitDataError(f"{t.path}: a cell reads a mean conductance of 0 S: the physical model needs G > 0")

    def best(shape: np.ndarray) -> tuple[float, float]:
        """(the parameter p^2 of var = p^2 shape + floor of largest likelihood, that likelihood)."""
        guess = max(float(np.sum(dof * s2 / shape) / dof.sum()), 1e-30)
        found = minimize_scalar(lambda lp: -_log_likelihood(s2, dof, np.exp(lp) * shape + floor),
                                bounds=(np.log(guess) - 30, np.log(guess) + 5), method="bounded",
                                options={"xatol": 1e-8})  # fmt: skip
        return float(np.exp(found.x)), -float(found.fun)

    c2, ll_const = best(np.ones_like(mean))  # constant: sigma = c
    r2, ll_phys = best(mean**2)  # physical: sigma = r G
    rel_err = math.sqrt(2.0 / dof.sum()) / 2  # of a std, from its variance's
    g_max = base.device.g_max_S
    if ll_phys >= ll_const:
        model, rel, sigma = "physical", math.sqrt(r2), np.sqrt(r2 * mean**2 + floor)
    else:
        model, rel, sigma = "constant", math.sqrt(c2) / g_max, np.sqrt(c2 + floor)
    resid = np.sqrt(s2) - sigma
    ss = float(np.sum((np.sqrt(s2) - np.sqrt(s2).mean()) ** 2))
    quality = {"cells": float(len(mean)), "reads": float(len(g)), "log_likelihood_physical": ll_phys,
               "log_likelihood_constant": ll_const, "r2_sigma": 1 - float(np.sum(resid**2)) / ss if ss else 1.0,
               "rmse_sigma_S": float(np.sqrt(np.mean(resid**2)))}  # fmt: skip
    notes.append(f"model {model!r} chosen by likelihood (physical {ll_phys:.1f}, constant {ll_const:.1f})")
    curve = Curve(mean * 1e6, np.sqrt(s2) * 1e6, sigma * 1e6, "mean conductance (uS)", "read-noise std (uS)")
    return FitResult("read", t.path, {"device.read_noise_model": model, "device.read_noise_rel": rel},
                     {"device.read_noise_rel": rel * rel_err}, quality, [curve], notes)  # fmt: skip
