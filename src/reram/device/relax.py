"""Relaxation over time and temperature: the conductance spread grows after programming.

Model: sigma(g, t) of the conductance around its target is given as polynomials in
x = g / relax_x_ref_S at listed times (NeuRRAM fits: 1 s, 1 day, 2 days). Between listed times
sigma is interpolated linearly in log t; beyond the last it continues along the log-time slope of
the last two; before the first it is the first. Temperature maps to an equivalent time at the
reference temperature (Arrhenius): t_eq = t * exp(Ea/k * (1/T_ref - 1/T)). Relaxation is a random
walk: going from t1 to t2 adds independent Gaussian steps of variance sigma(t2)^2 - sigma(t1)^2,
so ageing in several steps or one gives the same law. The part of sigma already explained by the
write-verify band (uniform, variance tol^2/3, plus the verify read's noise) is not added twice.
"""

from __future__ import annotations

import math

import torch

from reram.config import DeviceConfig

BOLTZMANN_eV_per_K = 8.617333262e-5


def equivalent_time_s(seconds: float, kelvin: float, cfg: DeviceConfig) -> float:
    """Time at the reference temperature that relaxes cells as much as ``seconds`` at ``kelvin``."""
    if not seconds >= 0:
        raise ValueError(f"seconds = {seconds!r} is invalid: allowed is a duration >= 0 s")
    if not kelvin > 0:
        raise ValueError(f"kelvin = {kelvin!r} is invalid: allowed is a temperature > 0 K")
    factor = math.exp(cfg.activation_energy_eV / BOLTZMANN_eV_per_K * (1 / cfg.t_ref_K - 1 / kelvin))
    return seconds * factor


def _poly_uS(g_S: torch.Tensor, coeffs: tuple[float, ...], x_ref_S: float) -> torch.Tensor:
    x = g_S / x_ref_S
    out = torch.zeros_like(g_S)
    for c in reversed(coeffs):
        out = out * x + c
    return out.clamp_min(0.0)


def relaxation_sigma_S(g_S: torch.Tensor, t_eq_s: float, cfg: DeviceConfig) -> torch.Tensor:
    """Total spread sigma(g, t) (siemens) of conductances ``t_eq_s`` seconds after programming."""
    times = cfg.relax_times_s
    if not times or t_eq_s <= 0:
        return torch.zeros_like(g_S)
    sig = [_poly_uS(g_S, c, cfg.relax_x_ref_S) * 1e-6 for c in cfg.relax_poly_uS]
    if t_eq_s <= times[0] or len(times) == 1:
        return sig[0]
    k = next((i for i in range(1, len(times)) if t_eq_s <= times[i]), len(times) - 1)
    w = (math.log(t_eq_s) - math.log(times[k - 1])) / (math.log(times[k]) - math.log(times[k - 1]))
    return (sig[k - 1] + w * (sig[k] - sig[k - 1])).clamp_min(0.0)


def _walk_var(g_S: torch.Tensor, t_eq_s: float, cfg: DeviceConfig, band_var: float) -> torch.Tensor:
    return (relaxation_sigma_S(g_S, t_eq_s, cfg) ** 2 - band_var).clamp_min(0.0)


def relax(
    g_S: torch.Tensor,
    frozen: torch.Tensor,
    t_from_eq_s: float,
    t_to_eq_s: float,
    cfg: DeviceConfig,
    gen: torch.Generator,
) -> torch.Tensor:
    """Age conductances from equivalent time ``t_from_eq_s`` to ``t_to_eq_s`` (seconds at t_ref_K).

    Args:
        g_S: present conductances (siemens).
        frozen: cells that do not relax (stuck cells).
        t_from_eq_s, t_to_eq_s: equivalent ages before and after (seconds).
        cfg: the device.
        gen: random generator (seeded by the caller).

    Returns:
        Relaxed conductances (siemens), never below zero.

    """
    if not cfg.relax_times_s or t_to_eq_s <= t_from_eq_s:
        return g_S
    band_var = 0.0
    if cfg.program_mode == "write_verify":  # uniform band, widened by the verify read's noise
        band_var = cfg.wv_tolerance_S**2 / 3 + cfg.read_sigma_S**2
    elif cfg.program_mode == "gaussian":
        band_var = cfg.program_sigma_S**2
    var = _walk_var(g_S, t_to_eq_s, cfg, band_var) - _walk_var(g_S, t_from_eq_s, cfg, band_var)
    step = var.clamp_min(0.0).sqrt() * torch.randn(g_S.shape, generator=gen, device=g_S.device)
    return torch.where(frozen, g_S, (g_S + step).clamp_min(0.0))
