"""``reram fit endurance``: the on/off window over switching cycles -> the narrowing law.

Data (one row per measurement): ``cycles`` (switching cycles so far, increasing within a
device), ``g_on_S`` and ``g_off_S`` (the two states read then, siemens), optionally ``device``
(an id). The model is the one on-chip training applies (``reram.device.update.window``): the
window W = g_on - g_off keeps its width W0 up to ``endurance_cycles`` N0 and then narrows by
``endurance_narrowing`` n of W0 per decade, W(N) = W0 (1 - min(0.95, n log10(max(1, N / N0)))).
Least squares (scipy.optimize.least_squares, bounds: 1 <= N0 <= 1e15, 0 <= n <= 1), one W0
per device; standard errors from the Jacobian's covariance.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.optimize import least_squares

from reram.config import Config
from reram.fit.result import Curve, FitResult
from reram.fit.tables import Column, FitDataError, check_increasing, read_table

COLUMNS = [
    Column("cycles", "switching cycles so far (count)", non_negative=True),
    Column("g_on_S", "the on (low-resistance) state's conductance (siemens)", positive=True),
    Column("g_off_S", "the off (high-resistance) state's conductance (siemens)", positive=True),
    Column("device", "an id of the device cycled", required=False, text=True),
]


def window_model(cycles: np.ndarray, w0: np.ndarray, n0: float, narrowing: float) -> np.ndarray:
    """W(N) (siemens) of the narrowing law (see the module docstring)."""
    decades = np.log10(np.maximum(cycles / n0, 1.0))
    return w0 * (1.0 - np.minimum(narrowing * decades, 0.95))


def fit_endurance(path: str | Path, base: Config) -> FitResult:
    """Fit the narrowing law to ``path`` (see the module docstring)."""
    t = read_table(path, COLUMNS)
    check_increasing(t, "cycles", within="device")
    w = t["g_on_S"] - t["g_off_S"]
    bad = np.flatnonzero(w <= 0)
    if bad.size:
        raise t.error(int(bad[0]), "g_on_S", "the on state must conduct more than the off state (g_on_S > g_off_S)")
    ids = t["device"] if "device" in t else np.zeros(len(t), dtype=str)
    names, dev = np.unique(ids, return_inverse=True)
    if len(t) < len(names) + 3:
        raise FitDataError(f"{t.path}: want at least 3 more rows than devices to fit N0, n and each W0")
    n = t["cycles"]
    scale = float(np.median(w))
    w0_start = np.array([w[dev == k][:3].mean() for k in range(len(names))]) / scale

    def residual(p: np.ndarray) -> np.ndarray:
        return (window_model(n, p[2:][dev], 10 ** p[0], p[1]) - w / scale) * 1.0

    top = max(float(np.log10(max(n.max(), 10.0))), 1.0)
    p0 = np.concatenate([[top / 2, 0.1], w0_start])
    lo = np.concatenate([[0.0, 0.0], np.zeros(len(names))])
    hi = np.concatenate([[15.0, 1.0], np.full(len(names), np.inf)])
    best = None
    for start in np.linspace(0.0, top, 8):  # the kink makes the cost multi-modal in log N0
        p0[0] = start
        res = least_squares(residual, p0.copy(), bounds=(lo, hi), x_scale="jac")
        if best is None or res.cost < best.cost:
            best = res
    assert best is not None
    p = best.x
    dof = max(1, len(w) - len(p))
    s2 = 2 * best.cost / dof
    try:
        cov = np.linalg.pinv(best.jac.T @ best.jac) * s2
        err = np.sqrt(np.maximum(np.diag(cov), 0.0))
    except np.linalg.LinAlgError:
        err = np.full(len(p), np.nan)
    n0, narrowing = 10 ** p[0], float(p[1])
    model = window_model(n, p[2:][dev], n0, narrowing) * scale
    ss = float(np.sum((w - w.mean()) ** 2))
    quality = {"rows": float(len(w)), "devices": float(len(names)), "r2": 1 - float(np.sum((w - model) ** 2)) / ss
               if ss else 1.0, "rmse_S": float(np.sqrt(np.mean((w - model) ** 2)))}  # fmt: skip
    params = {"device.update.endurance_cycles": float(n0), "device.update.endurance_narrowing": narrowing}
    stderr = {"device.update.endurance_cycles": float(n0 * np.log(10) * err[0]),
              "device.update.endurance_narrowing": float(err[1])}  # fmt: skip
    curve = Curve(np.maximum(n, 1.0), w * 1e6, model * 1e6, "cycles", "window g_on - g_off (uS)", logx=True)
    notes = [f"{len(names)} device(s); one initial window W0 each (median {np.median(p[2:]) * scale * 1e6:.3g} uS)"]
    return FitResult("endurance", t.path, params, stderr, quality, [curve], notes)
