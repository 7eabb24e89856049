"""``reram fit relax``: programmed cells read over time at bake temperatures -> the relaxation
law (spread vs time and conductance, mean drift) and its activation energy; or a multi-level
bit-error-rate table -> the activation energy and the spread's scale, through
``reram.device.bit_error_rate``.

Conductance data (one row per read): ``g0_S`` (the cell's verified conductance right after
programming), ``g_S`` (read at ``t_s`` seconds after programming, > 0), optionally ``T_K`` (the
bake temperature; default the base preset's ``t_ref_K``). The model is the project's
(``reram.device.relax``): sigma(g0, t) of the total spread, programming band included, is a
polynomial in x = g0 / relax_x_ref_S at listed times, interpolated in log time, with times at
temperature T mapped to the reference temperature by t_eq = t exp(Ea / k (1 / T_ref - 1 / T)).

- At the reference temperature (the data's temperature nearest the base's ``t_ref_K``, which
  becomes ``t_ref_K``) each measured time becomes a listed time: the spread of g - g0 in ten
  conductance bins, plus the base preset's write-verify band, fitted by a polynomial of degree
  up to 4 (least squares);
- the other temperatures fit Ea: the value whose equivalent times make the model's spread meet
  theirs (least squares in log sigma, bounded 0.05-5 eV; standard error from the curvature);
- with ``holdout`` (a temperature in the data) that temperature is left out of the fit and the
  model's prediction there is compared with it (``holdout_rms_log_error``).

- the mean drift: per temperature and time a line of g - g0 over g0 gives the relaxed fraction
  f (minus its slope) and the centre it drifts to (its root); f(t_eq) = 1 - (1 + t_eq / tau)^-alpha
  is fitted across them (``relax_center_S``, ``relax_tau_s``, ``relax_alpha``; alpha = 0 where
  no slope differs from 0 by 3 standard errors). The spread is taken around the mean line.

BER data (one row per entry): ``bits`` (per cell), ``T_K``, ``t_s``, ``ber``: the base preset's
spread law scaled by a factor and its Ea are fitted (least squares in log BER).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import torch
from scipy.optimize import least_squares, minimize_scalar

from reram.config import Config, DeviceConfig
from reram.device import bit_error_rate
from reram.device.relax import BOLTZMANN_eV_per_K, _band_var, relaxation_sigma_S
from reram.fit.result import Curve, FitResult
from reram.fit.tables import Column, FitDataError, Table, read_table

COLUMNS = [
    Column("g0_S", "the cell's verified conductance right after programming (siemens)", non_negative=True),
    Column("g_S", "the conductance read later (siemens)", non_negative=True),
    Column("t_s", "time since programming (seconds)", positive=True),
    Column("T_K", "the bake (storage) temperature (kelvin)", required=False, positive=True),
]
BER_COLUMNS = [
    Column("bits", "bits per cell", positive=True),
    Column("T_K", "the bake temperature (kelvin)", positive=True),
    Column("t_s", "time since programming (seconds)", positive=True),
    Column("ber", "the measured bit error rate (a fraction)", positive=True),
]
BINS = 10


def _binned_sigma(g0: np.ndarray, dg: np.ndarray, band_var: float) -> tuple[np.ndarray, np.ndarray]:
    """(bin centres, total spread) of g - g0 over conductance bins with at least 10 cells."""
    edges = np.quantile(g0, np.linspace(0, 1, BINS + 1))
    centres, sigmas = [], []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        pick = (g0 >= lo) & (g0 <= hi)
        if pick.sum() >= 10:
            centres.append(float(g0[pick].mean()))
            sigmas.append(float(np.sqrt(dg[pick].var(ddof=1) + band_var)))
    return np.array(centres), np.array(sigmas)


def _t_eq(t_s: float, kelvin: float, ea: float, t_ref: float) -> float:
    return t_s * math.exp(ea / BOLTZMANN_eV_per_K * (1 / t_ref - 1 / kelvin))


def _model_sigma(dev: DeviceConfig, g: np.ndarray, t_eq: float) -> np.ndarray:
    return relaxation_sigma_S(torch.tensor(g, dtype=torch.float64), t_eq, dev).numpy()


def _groups(t: Table, t_ref: float, band_var: float) -> list[tuple[float, float, np.ndarray, np.ndarray]]:
    """(T, t, bin centres, spreads) per (temperature, time) of the data."""
    temps = t["T_K"] if "T_K" in t else np.full(len(t), t_ref)
    out = []
    for kelvin in np.unique(temps):
        for time in np.unique(t["t_s"][temps == kelvin]):
            pick = (temps == kelvin) & (t["t_s"] == time)
            if pick.sum() < 10 * 3:
                raise FitDataError(f"{t.path}: T_K = {kelvin:g}, t_s = {time:g} has {int(pick.sum())} reads: want "
                                   "at least 30 per temperature and time (ten conductance bins)")  # fmt: skip
            c, s = _binned_sigma(t["g0_S"][pick], t["g_S"][pick] - t["g0_S"][pick], band_var)
            out.append((float(kelvin), float(time), c, s))
    return out


def fit_relax(path: str | Path, base: Config, holdout: float | None = None) -> FitResult:
    """Fit the relaxation of ``path`` (see the module docstring)."""
    header = ""
    if Path(path).is_file():
        with Path(path).open() as f:  # the header alone says which kind of table this is
            header = f.readline()
    if "ber" in [h.strip() for h in header.split(",")]:
        return _fit_ber(path, base)
    t = read_table(path, COLUMNS)
    dev = base.device
    band = _band_var(dev)
    groups = _groups(t, dev.t_ref_K, band)
    temps = sorted({k for k, *_ in groups})
    if holdout is not None and holdout not in temps:
        raise FitDataError(f"{t.path}: --holdout {holdout:g} K is not a temperature of the data ({temps})")
    t_ref = min((k for k in temps if k != holdout), key=lambda k: abs(k - dev.t_ref_K))
    ref = [(time, c, s) for k, time, c, s in groups if k == t_ref]
    x_ref = dev.relax_x_ref_S
    polys = []
    for _, c, s in ref:
        deg = min(4, len(c) - 1)
        coef = np.polynomial.polynomial.polyfit(c / x_ref, s * 1e6, deg)
        polys.append(tuple(float(v) for v in coef))
    dev_fit = dataclasses.replace(dev, relax_times_s=tuple(time for time, _, _ in ref), relax_poly_uS=tuple(polys),
                                  t_ref_K=t_ref)  # fmt: skip
    others = [(k, time, c, s) for k, time, c, s in groups if k not in (t_ref, holdout)]

    def log_miss(ea: float, which: list[tuple[float, float, np.ndarray, np.ndarray]]) -> np.ndarray:
        d = dataclasses.replace(dev_fit, activation_energy_eV=ea)
        parts = [np.log(np.maximum(_model_sigma(d, c, _t_eq(time, k, ea, t_ref)), 1e-15) / s)
                 for k, time, c, s in which]  # fmt: skip
        return np.concatenate(parts) if parts else np.zeros(0)

    params: dict[str, object] = {"device.relax_times_s": list(dev_fit.relax_times_s),
                                 "device.relax_poly_uS": [list(p) for p in polys], "device.t_ref_K": t_ref}  # fmt: skip
    stderr: dict[str, float] = {}
    quality: dict[str, float] = {"reads": float(len(t)), "temperatures": float(len(temps))}
    notes = [f"spread polynomials at the {len(ref)} times measured at {t_ref:g} K (the write-verify band of "
             f"the base added: {math.sqrt(band) * 1e6:.3g} uS)"]  # fmt: skip
    ea = dev.activation_energy_eV
    if others:
        found = minimize_scalar(lambda e: float(np.sum(log_miss(e, others) ** 2)), bounds=(0.05, 5.0),
                                method="bounded", options={"xatol": 1e-5})  # fmt: skip
        ea = float(found.x)
        h = 1e-3
        f0, fp, fm = (float(np.sum(log_miss(e, others) ** 2)) for e in (ea, ea + h, ea - h))
        n = sum(len(c) for *_, c, _ in others)
        curv = (fp - 2 * f0 + fm) / h**2
        stderr["device.activation_energy_eV"] = math.sqrt(2 * f0 / max(1, n - 1) / curv) if curv > 0 else math.nan
        params["device.activation_energy_eV"] = ea
        quality["rms_log_error"] = math.sqrt(f0 / max(1, n))
        notes.append(f"Ea from {len(temps) - 1 - (holdout is not None)} other temperature(s): {ea:.3f} eV")
    else:
        notes.append(f"one temperature only: Ea kept from the base ({ea:g} eV)")
    drift = _fit_drift(t, dev.t_ref_K if "T_K" not in t else None, ea, t_ref, holdout)
    if drift is None:
        notes.append("no significant mean drift (the slope of mean(g - g0) vs g0 within 3 standard errors of 0 "
                     "at every time): relax_alpha = 0")  # fmt: skip
        params["device.relax_alpha"] = 0.0
    else:
        (center, tau, alpha), (e_c, e_tau, e_alpha), f_rms = drift
        params.update({"device.relax_center_S": center, "device.relax_tau_s": tau, "device.relax_alpha": alpha})
        stderr.update({"device.relax_center_S": e_c, "device.relax_tau_s": e_tau, "device.relax_alpha": e_alpha})
        quality["drift_fraction_rms_error"] = f_rms
        notes.append(f"mean drift toward {center * 1e6:.3g} uS: f(t) = 1 - (1 + t / {tau:.3g} s)^-{alpha:.3g}")
    if holdout is not None:
        held = [(k, time, c, s) for k, time, c, s in groups if k == holdout]
        miss = log_miss(ea, held)
        quality["holdout_K"] = holdout
        quality["holdout_rms_log_error"] = float(np.sqrt(np.mean(miss**2)))
        notes.append(f"held out {holdout:g} K: the model predicts its spread within "
                     f"{100 * (math.exp(quality['holdout_rms_log_error']) - 1):.1f} % (rms, log)")  # fmt: skip
    final = dataclasses.replace(dev_fit, activation_energy_eV=ea)
    if drift is not None:
        final = dataclasses.replace(final, relax_center_S=drift[0][0], relax_tau_s=drift[0][1],
                                    relax_alpha=drift[0][2])  # fmt: skip
    curves = []
    for k, time, c, s in groups:
        model = _model_sigma(final, c, _t_eq(time, k, ea, t_ref))
        curves.append(Curve(c * 1e6, s * 1e6, model * 1e6, "conductance after programming (uS)",
                            f"spread (uS) at {time:g} s, {k:g} K"))  # fmt: skip
    return FitResult("relax", t.path, params, stderr, quality, curves[:6], notes)


Drift = tuple[tuple[float, float, float], tuple[float, float, float], float]  # values, errors, rms of f


def _fit_drift(t: Table, kelvin: float | None, ea: float, t_ref: float, holdout: float | None) -> Drift | None:
    """The mean drift E[g - g0] = f(t_eq) (c - g0): per (temperature, time) a line in g0 gives f
    (minus its slope) and c (its root); f(t_eq) = 1 - (1 + t_eq / tau)^-alpha is fitted across
    them (least squares); None where no slope differs from 0 by 3 standard errors.
    """
    temps = t["T_K"] if "T_K" in t else np.full(len(t), kelvin)
    fs, es, teqs, roots = [], [], [], []
    for k in np.unique(temps):
        if k == holdout:
            continue
        for time in np.unique(t["t_s"][temps == k]):
            pick = (temps == k) & (t["t_s"] == time)
            g0, dg = t["g0_S"][pick], t["g_S"][pick] - t["g0_S"][pick]
            (slope, icpt), cov = np.polyfit(g0, dg, 1, cov=True)
            fs.append(-slope)
            es.append(math.sqrt(cov[0, 0]))
            teqs.append(_t_eq(float(time), float(k), ea, t_ref))
            roots.append(icpt / -slope if slope else math.nan)
    f, e, teq = np.array(fs), np.array(es), np.array(teqs)
    if not bool((np.abs(f) > 3 * e).any()):
        return None
    sig = np.abs(f) > 3 * e
    w = 1 / e[sig] ** 2
    center = float(np.sum(np.array(roots)[sig] * w * f[sig] ** 2) / np.sum(w * f[sig] ** 2))  # precise f weigh most

    def resid(p: np.ndarray) -> np.ndarray:
        return (1 - (1 + teq / 10 ** p[0]) ** -p[1] - f) / e

    res = least_squares(resid, np.array([0.0, 0.05]), bounds=([-6.0, 0.0], [10.0, 1.0]))
    cov_p = np.linalg.pinv(res.jac.T @ res.jac) * max(1.0, 2 * res.cost / max(1, len(f) - 2))
    err = np.sqrt(np.maximum(np.diag(cov_p), 0.0))
    tau = float(10 ** res.x[0])
    e_center = float(np.std(np.array(roots)[sig]) / math.sqrt(sig.sum())) if sig.sum() > 1 else math.nan
    f_rms = float(np.sqrt(np.mean((1 - (1 + teq / tau) ** -res.x[1] - f) ** 2)))
    return (center, tau, float(res.x[1])), (e_center, tau * math.log(10) * float(err[0]), float(err[1])), f_rms


def _fit_ber(path: str | Path, base: Config) -> FitResult:
    t = read_table(path, BER_COLUMNS)
    dev = base.device
    if not dev.relax_times_s:
        raise FitDataError(f"{t.path}: a BER table is fitted through the base preset's relaxation law, and "
                           f"{base.name!r} has none (device.relax_times_s is empty)")  # fmt: skip
    bits = t["bits"].astype(int)

    def model(p: np.ndarray) -> np.ndarray:
        scale, ea = float(p[0]), float(p[1])
        d = dataclasses.replace(
            dev,
            activation_energy_eV=ea,
            relax_poly_uS=tuple(tuple(scale * c for c in poly) for poly in dev.relax_poly_uS),
        )
        return np.array([bit_error_rate(d, int(b), float(s), float(k)) for b, s, k in
                         zip(bits, t["t_s"], t["T_K"], strict=True)])  # fmt: skip

    def residual(p: np.ndarray) -> np.ndarray:
        return np.log10(np.maximum(model(p), 1e-300)) - np.log10(t["ber"])

    res = least_squares(residual, np.array([1.0, dev.activation_energy_eV]), bounds=([0.05, 0.05], [20.0, 5.0]),
                        x_scale=np.array([0.1, 0.1]), diff_step=1e-4)  # fmt: skip
    dof = max(1, len(t) - 2)
    cov = np.linalg.pinv(res.jac.T @ res.jac) * (2 * res.cost / dof)
    err = np.sqrt(np.maximum(np.diag(cov), 0.0))
    scale, ea = (float(v) for v in res.x)
    polys = [[scale * c for c in poly] for poly in dev.relax_poly_uS]
    fitted = model(res.x)
    quality = {"rows": float(len(t)), "rms_log10_error": float(np.sqrt(np.mean(residual(res.x) ** 2)))}
    notes = [f"the base's spread law scaled by {scale:.4g} and Ea {ea:.4g} eV (through reram.device.bit_error_rate)"]
    curve = Curve(t["t_s"], t["ber"], fitted, "time since programming (s)", "bit error rate", logx=True)
    return FitResult("relax", t.path, {"device.relax_poly_uS": polys, "device.activation_energy_eV": ea},
                     {"device.activation_energy_eV": float(err[1])}, quality, [curve],
                     notes + [f"spread scale {scale:.4g} +- {err[0]:.2g}"])  # fmt: skip
