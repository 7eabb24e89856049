"""Input drivers: quantise inputs to ``bits`` per phase; signed inputs in two phases; bit-serial.

Inputs arrive normalised by the input full scale, x_n = x / x_range. Out of [-1, 1] they clip,
as a real driver saturates. With ``bits`` magnitude bits the input is k = round(|x_n| (2^bits-1)).
Multi-level mode applies k / (2^bits-1) as one pulse amplitude per phase; bit-serial mode applies
one binary pulse plane per bit. Positive and negative inputs go in separate phases (a phase is
skipped when no input needs it). Each plane is one analog MVM and one ADC conversion; the
digital side recombines planes with ``weights`` (shift-add, sign).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from reram.config import DACConfig


@dataclass
class InputPlanes:
    """Pulse planes of one input batch.

    Attributes:
        planes: (planes, *input_shape) pulse amplitudes in [0, 1] (fractions of v_read).
        weights: planes' digital recombination weights (shift-add and sign), one per plane.
    """

    planes: torch.Tensor
    weights: list[float]


def encode_inputs(x_n: torch.Tensor, cfg: DACConfig) -> InputPlanes:
    """Quantise normalised inputs ``x_n`` into pulse planes (see the module docstring)."""
    full = 2**cfg.bits - 1
    k = torch.round(x_n.clamp(-1.0, 1.0) * full)
    signs = [1.0, -1.0] if bool((k < 0).any()) else [1.0]
    if not cfg.bit_serial:
        planes = [k.clamp_min(0) / full] if len(signs) == 1 else [k.clamp_min(0) / full, (-k).clamp_min(0) / full]
        return InputPlanes(torch.stack(planes), signs)
    planes_out: list[torch.Tensor] = []
    weights: list[float] = []
    for sign in signs:
        mag = (sign * k).clamp_min(0).to(torch.int32)
        for j in range(cfg.bits):
            planes_out.append(((mag >> j) & 1).to(x_n.dtype))
            weights.append(sign * 2**j / full)
    return InputPlanes(torch.stack(planes_out), weights)
