"""Input drivers: quantise inputs to ``bits`` per phase; signed inputs in two phases; bit-serial.

Inputs are normalised by the input full scale, x_n = x / x_range; out of [-1, 1] they clip, as a
real driver saturates. With ``bits`` magnitude bits the input code is k = round(|x_n| (2^bits-1)).
Multi-level mode applies v_read k / (2^bits-1) as one pulse amplitude per phase; bit-serial mode
applies one binary pulse plane (0 or v_read) per bit. Positive and negative inputs go in separate phases (a phase is
skipped when no input needs it). Each plane is one analog MVM and one ADC conversion; the
digital side recombines planes with ``weights`` (shift-add, sign).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from reram.config import DACConfig
from reram.periphery.adc import max_abs


@dataclass
class InputPlanes:
    """Pulse planes of one input batch.

    Attributes:
        planes: (planes, *input_shape) pulse amplitudes (volts, 0 to v_read).
        weights: planes' digital recombination weights (shift-add and sign), one per plane, such
            that sum(weights * planes) / v_read * (2**bits - 1) is the input code.

    """

    planes: torch.Tensor
    weights: list[float]


def encode_inputs(x: torch.Tensor, x_range: torch.Tensor | float, cfg: DACConfig, v_read_V: float) -> InputPlanes:
    """Quantise inputs ``x`` with full scale ``x_range`` into pulse planes (see the module docstring).

    Returns planes in volts (a full-scale pulse is ``v_read_V``).
    """
    full = 2**cfg.bits - 1
    k = torch.mul(x, full / x_range).clamp_(-full, full).round_()
    signs = [1.0, -1.0] if bool(k.amin() < 0) else [1.0]
    if not cfg.bit_serial:
        if len(signs) == 1:
            return InputPlanes(k.mul_(v_read_V / full).unsqueeze(0), signs)
        return InputPlanes(torch.stack([k.clamp_min(0), (-k).clamp_min(0)]).mul_(v_read_V / full), signs)
    planes_out: list[torch.Tensor] = []
    weights: list[float] = []
    for sign in signs:
        mag = (sign * k).clamp_min(0).to(torch.int32)
        for j in range(cfg.bits):
            planes_out.append(((mag >> j) & 1).to(x.dtype))
            weights.append(sign * 2**j)
    return InputPlanes(torch.stack(planes_out).mul_(v_read_V), weights)


def driven_values(planes: InputPlanes, x_range: torch.Tensor | float, cfg: DACConfig, v_read_V: float) -> torch.Tensor:
    """The inputs as the DAC's codes drive them (input units): sum(weights * planes) read back
    through the full scale, the same values as :func:`dac_quantize` at that full scale.
    """
    unit = x_range / (v_read_V * (2**cfg.bits - 1 if cfg.bit_serial else 1))
    out = planes.planes[0] * (planes.weights[0] * unit)
    for w, plane in zip(planes.weights[1:], planes.planes[1:], strict=True):
        out.add_(plane, alpha=float(w * unit))
    return out


def dac_quantize(
    x: torch.Tensor, bits: int, full_scale: torch.Tensor | float | None = None
) -> tuple[torch.Tensor, float]:
    """Inputs as a DAC with ``bits`` magnitude bits (codes +-(2**bits - 1), signs in two phases)
    drives them, over ``full_scale`` (default: auto-ranged to the batch, max |x|); inputs beyond
    it saturate at the largest code.

    Returns:
        The quantised values (input units) and the full scale (the largest code's value).

    """
    top = 2**bits - 1
    fs = max_abs(x) if full_scale is None else float(full_scale)
    if fs == 0:
        return torch.zeros_like(x), 0.0
    return torch.mul(x, top / fs).round_().clamp_(-top, top).mul_(fs / top), fs
