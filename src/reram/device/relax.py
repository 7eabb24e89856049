"""Relaxation over time and temperature: after programming, conductances spread and drift.

Spread. sigma(g0, t) of a cell's conductance around its programmed value g0 is given as
polynomials in x = g0 / relax_x_ref_S at listed times (NeuRRAM fits: 1 s, 1 day, 2 days). The
fits are measured ensembles and not monotone everywhere (NeuRRAM's 2-day fit lies below its
1-day fit above ~8 uS), while the spread of a relaxing ensemble cannot shrink: the model takes
the running maximum over the listed times (the envelope), interpolates it linearly in log t,
and continues it before the first and beyond the last listed time along one log-time law, the
envelope's mean slope from the first to the last fit (non-negative), from 1 ms to 10 years and
beyond; sigma is capped at the window's uniform spread (g_max - g_min) / sqrt(12), where a
fully relaxed cell would be.

Drift. The mean relaxes toward ``relax_center_S``: E[g(t)] = g0 + f(t) (g_c - g0), with the
relaxed fraction f(t) = 1 - (1 + t / relax_tau_s) ** -relax_alpha (0 at t = 0, monotone, below 1).

Time and temperature. Temperature maps to an equivalent time at the reference temperature
(Arrhenius): t_eq = t * exp(Ea/k * (1/T_ref - 1/T)). Relaxation is a random walk evaluated at the
programmed conductance g0: going from t1 to t2 adds independent Gaussian steps of variance
sigma(g0, t2)^2 - sigma(g0, t1)^2 (never negative: sigma is non-decreasing) and the drift
f(t2) - f(t1) times (g_c - g0), so ageing in several steps or one gives the same law, for any
age and temperature. The part of sigma already explained by the write-verify band (uniform,
variance tol^2/3, plus the verify read's noise) is not added twice.
"""

from __future__ import annotations

import math

import torch

from reram.config import DeviceConfig

BOLTZMANN_eV_per_K = 8.617333262e-5


def equivalent_time_s(seconds: float, kelvin: float, cfg: DeviceConfig) -> float:
    """Time at the reference temperature that relaxes cells as much as ``seconds`` at ``kelvin``."""
    if not (seconds >= 0 and math.isfinite(seconds)):
        raise ValueError(f"seconds = {seconds!r} is invalid: allowed is a finite duration >= 0 s")
    if not (kelvin > 0 and math.isfinite(kelvin)):
        raise ValueError(f"kelvin = {kelvin!r} is invalid: allowed is a finite temperature > 0 K")
    factor = math.exp(cfg.activation_energy_eV / BOLTZMANN_eV_per_K * (1 / cfg.t_ref_K - 1 / kelvin))
    return seconds * factor


def _poly_uS(g_S: torch.Tensor, coeffs: tuple[float, ...], x_ref_S: float) -> torch.Tensor:
    x = g_S / x_ref_S
    out = torch.zeros_like(g_S)
    for c in reversed(coeffs):
        out = out * x + c
    return out.clamp_min(0.0)


def relaxation_sigma_S(g0_S: torch.Tensor, t_eq_s: float, cfg: DeviceConfig) -> torch.Tensor:
    """Total spread sigma(g0, t) (siemens) of cells programmed to ``g0_S``, ``t_eq_s`` seconds
    (at the reference temperature) after programming: non-decreasing in t, bounded by the window.
    """
    times = cfg.relax_times_s
    if not times or t_eq_s <= 0:
        return torch.zeros_like(g0_S)
    env: list[torch.Tensor] = []  # the running maximum over the listed times
    for c in cfg.relax_poly_uS:
        s = _poly_uS(g0_S, c, cfg.relax_x_ref_S) * 1e-6
        env.append(s if not env else torch.maximum(env[-1], s))
    logs = [math.log(t) for t in times]
    lt = math.log(t_eq_s)
    if len(times) == 1:
        sig = env[0]
    elif logs[0] <= lt <= logs[-1]:
        k = next(i for i in range(1, len(times)) if lt <= logs[i])
        w = (lt - logs[k - 1]) / (logs[k] - logs[k - 1])
        sig = env[k - 1] + w * (env[k] - env[k - 1])
    else:  # one log-time law outside the fits: the envelope's mean slope, first to last
        slope = (env[-1] - env[0]) / (logs[-1] - logs[0])
        sig = env[-1] + slope * (lt - logs[-1]) if lt > logs[-1] else env[0] + slope * (lt - logs[0])
    cap = (cfg.g_max_S - cfg.g_min_S) / math.sqrt(12.0)
    return sig.clamp(0.0, cap)


def relaxed_fraction(t_eq_s: float, cfg: DeviceConfig) -> float:
    """f(t): the fraction of the way to ``relax_center_S`` the mean has drifted after ``t_eq_s``."""
    if cfg.relax_alpha == 0 or t_eq_s <= 0:
        return 0.0
    return 1.0 - (1.0 + t_eq_s / cfg.relax_tau_s) ** -cfg.relax_alpha


def _band_var(cfg: DeviceConfig) -> float:
    if cfg.program_mode == "write_verify":  # uniform band, widened by the verify read's noise
        return cfg.wv_tolerance_S**2 / 3 + cfg.read_sigma_S**2
    if cfg.program_mode == "gaussian":
        return cfg.program_sigma_S**2
    return 0.0


def _walk_var(g0_S: torch.Tensor, t_eq_s: float, cfg: DeviceConfig) -> torch.Tensor:
    return (relaxation_sigma_S(g0_S, t_eq_s, cfg) ** 2 - _band_var(cfg)).clamp_min(0.0)


def relax(
    g_S: torch.Tensor,
    g0_S: torch.Tensor,
    frozen: torch.Tensor,
    t_from_eq_s: float,
    t_to_eq_s: float,
    cfg: DeviceConfig,
    gen: torch.Generator,
) -> torch.Tensor:
    """Age conductances from equivalent time ``t_from_eq_s`` to ``t_to_eq_s`` (seconds at t_ref_K).

    Args:
        g_S: present conductances (siemens).
        g0_S: the conductances programming left (siemens): the walk's law depends on them only.
        frozen: cells that do not relax (stuck cells).
        t_from_eq_s, t_to_eq_s: equivalent ages before and after (seconds).
        cfg: the device.
        gen: random generator (seeded by the caller).

    Returns:
        Relaxed conductances (siemens), never below zero.

    """
    if t_to_eq_s <= t_from_eq_s or not (cfg.relax_times_s or cfg.relax_alpha):
        return g_S
    out = g_S
    if cfg.relax_times_s:
        var = (_walk_var(g0_S, t_to_eq_s, cfg) - _walk_var(g0_S, t_from_eq_s, cfg)).clamp_min(0.0)
        out = out + var.sqrt() * torch.randn(g_S.shape, generator=gen, device=g_S.device, dtype=g_S.dtype)
    df = relaxed_fraction(t_to_eq_s, cfg) - relaxed_fraction(t_from_eq_s, cfg)
    if df:
        out = out + df * (cfg.relax_center_S - g0_S)
    return torch.where(frozen, g_S, out.clamp_min(0.0))


def at_read_temperature(g_S: torch.Tensor, kelvin: float | None, cfg: DeviceConfig) -> torch.Tensor:
    """Conductances read at ``kelvin`` of cells programmed (and relaxed) at ``t_ref_K``:
    g (1 + tcr(g) (T - t_ref_K)), tcr linear in g from ``tcr_low_per_K`` at g_min to
    ``tcr_high_per_K`` at g_max; never below zero. ``None`` or the reference temperature: unchanged.
    """
    if kelvin is None or kelvin == cfg.t_ref_K or not (cfg.tcr_low_per_K or cfg.tcr_high_per_K):
        return g_S
    if not (math.isfinite(kelvin) and kelvin > 0):
        raise ValueError(f"read temperature = {kelvin!r} is invalid: allowed is a finite temperature > 0 K")
    x = ((g_S - cfg.g_min_S) / (cfg.g_max_S - cfg.g_min_S)).clamp(0.0, 1.0)
    tcr = cfg.tcr_low_per_K + x * (cfg.tcr_high_per_K - cfg.tcr_low_per_K)
    out = g_S * (1 + tcr * (kelvin - cfg.t_ref_K))
    return torch.where(g_S > 0, out.clamp_min(0.0), g_S)
