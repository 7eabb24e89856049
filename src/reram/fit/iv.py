"""``reram fit iv``: I-V sweeps of cells -> the cell's nonlinearity and the on/off window.

Data (one row per point of a sweep): ``sweep`` (an id: one voltage sweep of one cell in one
state), ``v_V`` (the voltage across the cell, volts), ``i_A`` (the current through it, amperes);
optionally ``state`` ("on" / "off", also "lrs" / "hrs": the cell's state during the sweep).
The model is the simulator's (``device.iv_v0_V``, :func:`reram.array.mvm.floating_line_V`):
I = G v0 sinh(V / v0), one low-field conductance G per sweep and one v0 shared by all. It is
fitted by least squares (``scipy.optimize.least_squares``, v0 bounded to (1 mV, 100 V)); each
sweep's residuals are divided by its largest current, so a high-resistance sweep weighs as
much as a low-resistance one. Standard errors come from the Jacobian at the optimum
(covariance = s^2 (J^T J)^-1). With ``state`` the window is the median G of the "on" sweeps
(``device.g_max_S``) and of the "off" sweeps (``device.g_min_S``); the spread of G among
sweeps of one state is reported. v0 fitted per state alone is reported too: a large difference
says the one-v0 model is a simplification for these cells.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares

from reram.config import Config
from reram.fit.result import Curve, FitResult
from reram.fit.tables import Column, FitDataError, read_table

COLUMNS = [
    Column("sweep", "an id of one voltage sweep (one cell, one state)", text=True),
    Column("v_V", "the voltage across the cell (volts)"),
    Column("i_A", "the current through the cell (amperes)"),
    Column("state", 'the cell\'s state: "on" or "off" (also "lrs", "hrs")', required=False, text=True),
]
STATES = {"on": "on", "lrs": "on", "off": "off", "hrs": "off"}
V0_BOUNDS_V = (1e-3, 100.0)


def _model(v: np.ndarray, g: np.ndarray, v0: float) -> np.ndarray:
    """I = G v0 sinh(V / v0) (amperes); ``g`` per point."""
    return g * v0 * np.sinh(v / v0)


def _fit(v: np.ndarray, i: np.ndarray, idx: np.ndarray, n: int, scale: np.ndarray) -> tuple[np.ndarray, float, object]:
    """Least squares of (log G per sweep, log v0); returns G (S), v0 (V) and scipy's result."""
    g0 = np.array([np.sum(i[idx == k] * v[idx == k]) / max(np.sum(v[idx == k] ** 2), 1e-300) for k in range(n)])
    g0 = np.maximum(np.abs(g0), 1e-15)
    vmax = float(np.abs(v).max())

    def resid(p: np.ndarray) -> np.ndarray:
        return (_model(v, np.exp(p[idx]), float(np.exp(p[-1]))) - i) / scale[idx]

    start = np.concatenate([np.log(g0), [math.log(min(max(vmax, 2e-3), 50.0))]])
    lo = np.concatenate([np.full(n, -60.0), [math.log(V0_BOUNDS_V[0])]])
    hi = np.concatenate([np.full(n, 5.0), [math.log(V0_BOUNDS_V[1])]])
    found = least_squares(resid, start, bounds=(lo, hi), x_scale="jac")
    return np.exp(found.x[:n]), float(np.exp(found.x[-1])), found


def fit_iv(path: str | Path, base: Config) -> FitResult:
    """Fit the I-V sweeps of ``path`` (see the module docstring); ``base`` is not read."""
    del base
    t = read_table(path, COLUMNS)
    sweeps, idx = np.unique(t["sweep"], return_inverse=True)
    n = len(sweeps)
    v, i = t["v_V"], t["i_A"]
    counts = np.bincount(idx, minlength=n)
    for k in range(n):
        vk = v[idx == k]
        if counts[k] < 3 or np.ptp(vk) == 0:
            row = int(np.flatnonzero(idx == k)[0])
            what = f"sweep {str(sweeps[k])!r} has {counts[k]} point(s) at {len(set(vk))} voltage(s)"
            raise t.error(row, "v_V", f"{what}: want at least 3 points at more than one voltage")
    scale = np.array([max(float(np.abs(i[idx == k]).max()), 1e-300) for k in range(n)])
    g, v0, found = _fit(v, i, idx, n, scale)
    params: dict[str, float] = {"device.iv_v0_V": v0}
    jac = found.jac  # type: ignore[attr-defined]
    dof = max(len(v) - (n + 1), 1)
    s2 = float(np.sum(found.fun**2)) / dof  # type: ignore[attr-defined]
    try:
        cov = np.linalg.inv(jac.T @ jac) * s2
        stderr = {"device.iv_v0_V": v0 * math.sqrt(max(float(cov[-1, -1]), 0.0))}
    except np.linalg.LinAlgError:
        stderr = {}
    notes = [f"{n} sweeps, {len(v)} points; one v0 for all (I = G v0 sinh(V / v0))"]
    if v0 >= 0.99 * V0_BOUNDS_V[1]:
        notes.append(f"v0 reached its upper bound {V0_BOUNDS_V[1]} V: these cells are ohmic over the swept range")
    model = _model(v, g[idx], v0)
    resid = (model - i) / scale[idx]
    ss = float(np.sum((i / scale[idx] - np.mean(i / scale[idx])) ** 2))
    quality = {"sweeps": float(n), "points": float(len(v)), "r2": 1 - float(np.sum(resid**2)) / ss if ss else 1.0,
               "rmse_rel": float(np.sqrt(np.mean(resid**2)))}  # fmt: skip
    if "state" in t:
        states = np.array([STATES.get(str(s).strip().lower(), "") for s in t["state"]])
        bad = np.flatnonzero(states == "")
        if len(bad):
            raise t.error(int(bad[0]), "state", f"{t['state'][bad[0]]!r}: allowed are on, off, lrs, hrs")
        per_sweep = {}
        for k in range(n):
            found_states = set(states[idx == k])
            if len(found_states) > 1:
                raise t.error(int(np.flatnonzero(idx == k)[0]), "state", f"sweep {str(sweeps[k])!r} mixes on and off")
            per_sweep[k] = found_states.pop()
        for which, field_name in (("on", "device.g_max_S"), ("off", "device.g_min_S")):
            ks = [k for k in range(n) if per_sweep[k] == which]
            if not ks:
                continue
            gs = g[ks]
            params[field_name] = float(np.median(gs))
            if len(ks) > 1:
                stderr[field_name] = float(1.2533 * np.std(gs, ddof=1) / math.sqrt(len(ks)))  # of a median
                quality[f"g_{which}_spread_rel"] = float(np.std(gs, ddof=1) / np.mean(gs))
            sel = np.isin(idx, ks)
            remap = np.searchsorted(ks, idx[sel])
            _, v0_state, _ = _fit(v[sel], i[sel], remap, len(ks), scale[ks])
            quality[f"v0_{which}_alone_V"] = v0_state
        if "device.g_max_S" in params and "device.g_min_S" in params:
            on, off = params["device.g_max_S"], params["device.g_min_S"]
            if on <= off:
                raise FitDataError(f"{t.path}: the 'on' sweeps conduct less than the 'off' ones (median G "
                                   f"{on:.3g} S <= {off:.3g} S)")  # fmt: skip
            quality["on_off_ratio"] = params["device.g_max_S"] / params["device.g_min_S"]
        notes.append("window from the 'state' column: median G of the on (g_max_S) and off (g_min_S) sweeps")
    else:
        notes.append("no 'state' column: only the nonlinearity is fitted, the window is the base preset's")
    order = np.lexsort((v, idx))
    curve = Curve(v[order], (i / scale[idx])[order], (model / scale[idx])[order], "voltage (V)",
                  "current / the sweep's largest |I|")  # fmt: skip
    return FitResult("iv", t.path, params, stderr, quality, [curve], notes)
