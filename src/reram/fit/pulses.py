"""``reram fit pulse``: conductance over SET and RESET pulse trains -> the update model.

Data (one row per read after a pulse): ``train`` (an id: one train of pulses of one direction),
``direction`` ("set" or "reset"), ``pulse`` (the pulses applied so far in the train, 0 = the
state before the first, increasing), ``g_S`` (siemens), optionally ``device`` (an id).

Each train is run through the project's own update model (``reram.device.update``:
``init_cells`` and ``apply_pulses``, on the base preset's window, without noise) from the
read before it (reads after every pulse: each state from the one before, the Markov chain's own
likelihood; sparser reads: each train from its first read), and the model's parameters are
fitted by least squares: "linear" and
"soft_bounds" (``pulses_up``, ``pulses_down``) and "exponential" (also ``nl_up``, ``nl_down``),
on the base preset's window (trains that do not reach both ends cannot tell a window apart from
a nonlinearity: the exponential curves of a wider window with a smaller nl are the same);
the model of least AIC is written. Then, with that model:

- ``c2c_sigma``: the spread of each measured step about the model's step from the measured
  state (one pulse), as a fraction of the window (reads after every pulse only);
- ``d2d_sigma`` (two devices or more): the log-std of a per-device factor on the steps.

Standard errors from the Jacobian's covariance.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import torch
from scipy.optimize import least_squares

from reram.config import Config, DeviceConfig
from reram.device.update import apply_pulses, init_cells
from reram.fit.result import Curve, FitResult
from reram.fit.tables import Column, FitDataError, check_increasing, read_table

COLUMNS = [
    Column("train", "an id of the pulse train (pulses of one direction)", text=True),
    Column("direction", "'set' (up) or 'reset' (down)", text=True),
    Column("pulse", "pulses applied so far in the train (count, 0 = before the first)", non_negative=True),
    Column("g_S", "the conductance read after them (siemens)", non_negative=True),
    Column("device", "an id of the device", required=False, text=True),
]
MODELS = {"linear": 2, "soft_bounds": 2, "exponential": 4}


def _dev(base: DeviceConfig, model: str, p: np.ndarray) -> DeviceConfig:
    upd = dataclasses.replace(base.update, model=model, pulses_up=float(10 ** p[0]), pulses_down=float(10 ** p[1]),
                              nl_up=float(p[2]) if len(p) > 2 else 0.0, nl_down=float(p[3]) if len(p) > 3 else 0.0,
                              c2c_sigma=0.0, d2d_sigma=0.0, endurance_cycles=0.0)  # fmt: skip
    return dataclasses.replace(base, update=upd, d2d_window_sigma=0.0, stuck_low_rate=0.0, stuck_high_rate=0.0)


def _run(dev: DeviceConfig, u0: np.ndarray, up: np.ndarray, steps: int, gain: np.ndarray | None = None) -> np.ndarray:
    """(trains, steps + 1) states of every train from u0, one pulse at a time (``gain``: a factor on the pulses)."""
    cells = init_cells((len(u0),), dev, torch.Generator().manual_seed(0))
    cells.u.copy_(torch.tensor(u0, dtype=cells.u.dtype))
    n = torch.tensor(gain if gain is not None else np.ones(len(u0)), dtype=cells.u.dtype)
    is_up = torch.tensor(up)
    n_up, n_down = torch.where(is_up, n, 0.0), torch.where(is_up, 0.0, n)
    out = [cells.u.clone()]
    for _ in range(steps):
        apply_pulses(cells, n_up, n_down, dev.update, None)
        out.append(cells.u.clone())
    return torch.stack(out, 1).double().numpy()


def fit_pulse(path: str | Path, base: Config) -> FitResult:
    """Fit the update model to the pulse trains of ``path`` (see the module docstring)."""
    t = read_table(path, COLUMNS)
    check_increasing(t, "pulse", within="train")
    bad = np.flatnonzero(~np.isin(np.char.lower(t["direction"]), ["set", "reset"]))
    if bad.size:
        raise t.error(int(bad[0]), "direction", f"{t['direction'][bad[0]]!r} is not 'set' or 'reset'")
    dev0 = base.device
    span = dev0.g_max_S - dev0.g_min_S
    names, train = np.unique(t["train"], return_inverse=True)
    k = t["pulse"].astype(int)
    u = (t["g_S"] - dev0.g_min_S) / span
    outside = np.flatnonzero((u < -0.05) | (u > 1.05))
    if outside.size:  # the trains rarely reach both ends: the window cannot be fitted from them
        raise t.error(int(outside[0]), "g_S", f"{t['g_S'][outside[0]]!r} S lies outside the base preset's window "
                      f"[{dev0.g_min_S:g}, {dev0.g_max_S:g}] S: use a --base with the device's window (g_min_S, "
                      "g_max_S)")  # fmt: skip
    first = np.array([np.flatnonzero(train == j)[0] for j in range(len(names))])
    if bool((k[first] != 0).any()):
        raise t.error(int(first[np.flatnonzero(k[first] != 0)[0]]), "pulse", "a train must start at pulse 0")
    up = np.char.lower(t["direction"][first]) == "set"
    u0, steps = u[first], int(k.max())
    if len(t) < 2 * len(names) + 4:
        raise FitDataError(f"{t.path}: want more reads than trains: a train needs reads after its pulses")

    prev = np.full(len(u), -1)  # the read before each read of a train
    for j in range(len(names)):
        rows = np.flatnonzero(train == j)
        prev[rows[1:]] = rows[:-1]
    has = np.flatnonzero(prev >= 0)
    has = has[k[has] - k[prev[has]] == 1]  # one pulse apart
    one_step = len(has) >= 10

    def residual(model: str, p: np.ndarray) -> np.ndarray:
        dev = _dev(dev0, model, p)
        if one_step:  # a Markov chain: each state from the one measured before (its exact likelihood)
            return _run(dev, u[prev[has]], up[train[has]], 1)[:, 1] - u[has]
        return _run(dev, u0, up, steps)[train, k] - u  # sparse reads: each train run from its first

    fits = {}
    for model, n_par in MODELS.items():
        p0 = np.array([2.0, 2.0, 1.0, 1.0][:n_par])
        lo = np.array([0.0, 0.0, 0.0, 0.0][:n_par])
        hi = np.array([9.0, 9.0, 50.0, 50.0][:n_par])
        res = least_squares(lambda p, m=model: residual(m, p), p0, bounds=(lo, hi), diff_step=1e-3)
        n_res = len(res.fun)
        fits[model] = (res, n_res * math.log(max(2 * res.cost, 1e-300) / n_res) + 2 * n_par)
    model = min(fits, key=lambda m: fits[m][1])
    res = fits[model][0]
    p = res.x
    dof = max(1, len(res.fun) - len(p))
    cov = np.linalg.pinv(res.jac.T @ res.jac) * (2 * res.cost / dof)
    err = np.sqrt(np.maximum(np.diag(cov), 0.0))
    dev = _dev(dev0, model, p)
    # one-pulse steps from the measured states: their spread about the model's is the c2c noise
    c2c = float(np.std(residual(model, p))) if one_step else 0.0
    params: dict[str, object] = {"device.update.model": model, "device.update.pulses_up": float(10 ** p[0]),
                                 "device.update.pulses_down": float(10 ** p[1]),
                                 "device.update.c2c_sigma": c2c}  # fmt: skip
    stderr = {"device.update.pulses_up": float(10 ** p[0] * math.log(10) * err[0]),
              "device.update.pulses_down": float(10 ** p[1] * math.log(10) * err[1])}  # fmt: skip
    if model == "exponential":
        params["device.update.nl_up"], params["device.update.nl_down"] = float(p[2]), float(p[3])
        stderr["device.update.nl_up"], stderr["device.update.nl_down"] = float(err[2]), float(err[3])
    notes = ["AIC: " + ", ".join(f"{m} {a:.1f}" for m, (_, a) in fits.items()) + f"; {model!r} written",
             f"window from the base preset: {dev0.g_min_S * 1e6:.3g}-{dev0.g_max_S * 1e6:.3g} uS"]  # fmt: skip
    if "device" in t:
        devs, di = np.unique(t["device"][first], return_inverse=True)
        if len(devs) >= 2:
            logs = []
            for d in range(len(devs)):
                mine = np.isin(train, np.flatnonzero(di == d))
                sel = np.flatnonzero(di == d)

                def miss(s: np.ndarray, mine: np.ndarray = mine, sel: np.ndarray = sel) -> np.ndarray:
                    states = _run(dev, u0[sel], up[sel], steps, np.full(len(sel), float(s[0])))
                    remap = {int(j): i for i, j in enumerate(sel)}
                    rows = np.array([remap[int(j)] for j in train[mine]])
                    return states[rows, k[mine]] - u[mine]

                logs.append(math.log(least_squares(miss, [1.0], bounds=([0.05], [20.0])).x[0]))
            params["device.update.d2d_sigma"] = float(np.std(logs, ddof=1))
            notes.append(f"{len(devs)} devices: per-device step factors e^({', '.join(f'{v:+.2f}' for v in logs)})")
    fitted = _run(dev, u0, up, steps)[train, k]
    ss = float(np.sum((u - u.mean()) ** 2))
    quality = {"reads": float(len(u)), "trains": float(len(names)),
               "r2": 1 - float(np.sum((u - fitted) ** 2)) / ss if ss else 1.0,
               "rmse_S": float(np.sqrt(np.mean((u - fitted) ** 2)) * span)}  # fmt: skip
    curves = [Curve(k + 0.0, t["g_S"] * 1e6, (dev0.g_min_S + fitted * span) * 1e6, "pulses in the train",
                    "conductance (uS)")]  # fmt: skip
    return FitResult("pulse", t.path, params, stderr, quality, curves, notes)
