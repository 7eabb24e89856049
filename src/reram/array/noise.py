"""Read noise as a sensed line sees it, sampled exactly in distribution (one sample per output).

Two models (``device.read_noise_model``):

- "constant": every cell fluctuates with the same std sigma = read_noise_rel g_max (siemens),
  whatever the read: the column current is N(V @ G, (V^2) @ sigma^2) (:func:`line_variance`);
- "physical": the current noise of every cell on the line over the read's noise bandwidth
  df = 1 / (2 t_pulse) (an integration window of t_pulse), at the read temperature T:
  the conductance fluctuation proportional to G (1/f and random telegraph noise, the measured
  RRAM behaviour; std read_noise_rel G per read), shot noise 2 q |V G| df and thermal noise
  4 k T G df of every cell connected to the line (driven or not). Per output,
  var = rel^2 (V^2) @ G^2 + 2 q df |V| @ G + 4 k T df sum G.
  Signal-to-noise then depends on the read voltage (the thermal and shot terms do not scale
  with V), the pulse width (df) and the conductance.

The sampling capacitor's kT/C and the comparator's noise act at the converter
(``reram.periphery.adc``).
"""

from __future__ import annotations

from typing import Any

import torch

from reram.config import Config
from reram.rng import gaussian_like

K_B = 1.380649e-23  # J/K
Q_E = 1.602176634e-19  # C


def noise_bandwidth_Hz(t_pulse_s: float) -> float:
    """The noise bandwidth of a read integrated over ``t_pulse_s``: 1 / (2 t)."""
    return 1.0 / (2.0 * t_pulse_s)


def has_line_noise(cfg: Config) -> bool:
    """Whether the configured device has read noise on the lines (:func:`line_variance` not None)."""
    return not (cfg.device.read_noise_rel == 0 and cfg.device.read_noise_model == "constant")


def line_variance(
    op: Any,
    v_abs: torch.Tensor,
    v_sq: torch.Tensor | None,
    cfg: Config,
    reads: float | torch.Tensor = 1.0,
    extra_A2: float = 0.0,
) -> torch.Tensor | None:
    """The variance of the configured read noise of each line current (A^2), broadcastable to
    the currents (N, tiles, cols, ...); None without read noise.

    Args:
        op: the array product (``square_sums``; for the physical model ``cell_sums``,
            ``variance_sums`` and ``line_conductance_S``, and optionally ``read_K``).
        v_abs, v_sq: per output row, |V| and V^2 of the drive (N, features; volts, volts squared);
            for integrated reads, sums of r^2 |V| and r^2 V^2 over the reads of weight r;
            ``v_sq`` None: ``v_abs`` is the drive V itself (its |V| and V^2 are taken).
        cfg: the system (device noise, array pulse width).
        reads: sum of r^2 over the integrated reads (the thermal term's weight), a number or a
            tensor broadcastable to the currents; 1 for one read.
        extra_A2: a variance the same for every output (A^2; the converter's kT/C referred to
            the current), added with the thermal term (physical model).

    """
    dev = cfg.device
    if not has_line_noise(cfg):
        return None
    if dev.read_noise_model == "constant":  # the two cells of each pair
        var = op.square_sums(v_abs * v_abs if v_sq is None else v_sq).mul_(2 * dev.read_sigma_S**2)
        return var.add_(extra_A2) if extra_A2 else var
    df = noise_bandwidth_Hz(cfg.array.t_pulse_s)
    kelvin = getattr(op, "read_K", None) or dev.t_ref_K
    thermal = op.line_conductance_S() * (4 * K_B * kelvin * df)  # (tiles, cols): every cell on the line
    one_read = isinstance(reads, float | int) and reads == 1
    if extra_A2 and one_read:
        thermal = thermal + extra_A2
    if dev.read_noise_rel > 0 and one_read:  # shot, the fluctuation proportional to G and thermal: one product
        return op.variance_sums(v_abs, v_sq, 2 * Q_E * df, dev.read_noise_rel**2, bias=thermal)
    if dev.read_noise_rel > 0:  # shot, and the fluctuation proportional to G: one product
        var = op.variance_sums(v_abs, v_sq, 2 * Q_E * df, dev.read_noise_rel**2)
    else:  # shot
        var = op.cell_sums(v_abs.abs() if v_sq is None else v_abs, "g_tot").mul_(2 * Q_E * df)
    view = thermal.view(1, *thermal.shape, *([1] * (var.dim() - 3)))
    var.add_(view if one_read else view * reads)  # thermal
    return var.add_(extra_A2) if extra_A2 and not one_read else var


def add_line_noise_(
    i_A: torch.Tensor,
    op: Any,
    v_abs: torch.Tensor,
    v_sq: torch.Tensor,
    cfg: Config,
    gen: torch.Generator | None,
    reads: float | torch.Tensor = 1.0,
) -> torch.Tensor:
    """Add the configured read noise (:func:`line_variance`) to the line currents ``i_A``
    (N, tiles, cols, ...; amperes) in place, one Gaussian sample per output.
    """
    var = line_variance(op, v_abs, v_sq, cfg, reads)
    if var is None:
        return i_A
    return i_A.addcmul_(gaussian_like(i_A, gen), var.sqrt_())
