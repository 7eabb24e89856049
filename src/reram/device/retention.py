"""Retention failure of multi-level cells as an error rate, from the relaxation model.

A cell holding ``bits`` bits is programmed to one of 2**bits levels evenly spaced over
[g_min_S, g_max_S] and read back by thresholds midway between neighbouring levels. After
``seconds`` at ``kelvin`` (Arrhenius-equivalent time at t_ref_K, ``relax.equivalent_time_s``)
its conductance is Gaussian around the level plus the mean drift towards ``relax_center_S``
(``relax.relaxed_fraction``), with the spread sigma(g, t) of ``relax.relaxation_sigma_S`` (the
total spread after write-verify, programming band included). The level error rate is the
probability that the read falls into another level's band; with a Gray code a neighbouring level
costs one bit, so the bit error rate is the level error rate / bits. Compare it with a measured
BER table: ``level_errors(cfg, 2, 3600.0 * 24, 358.15)``.
"""

from __future__ import annotations

import math

import torch

from reram.config import DeviceConfig
from reram.device.relax import equivalent_time_s, relaxation_sigma_S, relaxed_fraction


def level_errors(cfg: DeviceConfig, bits: int, seconds: float, kelvin: float | None = None) -> torch.Tensor:
    """(2**bits,) probability that a cell programmed to each level reads in another level's band.

    Args:
        cfg: the device (window, relaxation fits, drift, activation energy).
        bits: bits per cell (1 to 8).
        seconds: time since programming (seconds).
        kelvin: storage temperature (default: the device's t_ref_K).

    """
    if not (isinstance(bits, int) and 1 <= bits <= 8):
        raise ValueError(f"bits = {bits!r} is invalid: allowed is an integer in [1, 8] (bits per cell)")
    t_eq = equivalent_time_s(seconds, cfg.t_ref_K if kelvin is None else kelvin, cfg)
    n = 2**bits
    step = (cfg.g_max_S - cfg.g_min_S) / (n - 1)
    g = cfg.g_min_S + step * torch.arange(n, dtype=torch.float64)
    mean = g + relaxed_fraction(t_eq, cfg) * (cfg.relax_center_S - g)
    sigma = relaxation_sigma_S(g, t_eq, cfg)
    lower = torch.where(torch.arange(n) == 0, torch.tensor(-math.inf, dtype=torch.float64), g - step / 2)
    upper = torch.where(torch.arange(n) == n - 1, torch.tensor(math.inf, dtype=torch.float64), g + step / 2)
    safe = sigma.clamp_min(1e-300)
    normal = torch.distributions.Normal(mean, safe)
    inside = normal.cdf(upper) - normal.cdf(lower)
    exact = ((mean >= lower) & (mean < upper)).to(torch.float64)  # no spread: in or out of its band
    return 1.0 - torch.where(sigma > 0, inside, exact)


def level_error_rate(cfg: DeviceConfig, bits: int, seconds: float, kelvin: float | None = None) -> float:
    """Mean over the levels of :func:`level_errors` (levels used equally often)."""
    return float(level_errors(cfg, bits, seconds, kelvin).mean())


def bit_error_rate(cfg: DeviceConfig, bits: int, seconds: float, kelvin: float | None = None) -> float:
    """Bit error rate with Gray-coded levels: the level error rate / bits (errors to neighbours)."""
    return level_error_rate(cfg, bits, seconds, kelvin) / bits
