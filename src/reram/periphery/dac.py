"""Input drivers: quantise inputs to their magnitude bits; the sign in two phases or by polarity; bit-serial.

Inputs are normalised by the input full scale, x_n = x / x_range; out of [-1, 1] they clip, as a
real driver saturates. With m magnitude bits (``DACConfig.magnitude_bits``) the input code is
k = round(|x_n| (2^m - 1)). Multi-level mode applies v_read k / (2^m - 1) as one pulse amplitude;
bit-serial mode applies one binary pulse plane (0 or v_read) per bit. The sign: in two phases
(positive and negative inputs read separately, a phase skipped when no input needs it) or by the
pulse's polarity in one phase (planes of -v_read, 0, +v_read). Each plane is one array
activation (one pulse). With digital accumulation every plane is converted and the planes are
recombined with ``weights`` (shift-add, sign); with analog accumulation the neuron samples the
settled bit line of bit j 2^j times into its integrator (``repeats``) and converts each slice
once (``reram.periphery.neuron``).
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
        planes: (planes, *input_shape) pulse amplitudes (volts, -v_read to v_read).
        weights: planes' digital recombination weights (shift-add and sign), one per plane, such
            that sum(weights * planes) / v_read * (2**m - 1) is the input code (m magnitude bits).
        repeats: sample-and-integrate steps the neuron takes of each plane's settled bit line
            (2**j within its slice when the neuron integrates, else 1); the plane is pulsed once.
        slices: with analog accumulation, the planes integrated together before each
            conversion (plane indices); None when every plane is converted.

    """

    planes: torch.Tensor
    weights: list[float]
    repeats: list[int]
    slices: list[list[int]] | None = None

    @property
    def conversions(self) -> int:
        """Conversions of each sensed line per input vector."""
        return len(self.weights) if self.slices is None else len(self.slices)

    @property
    def timesteps(self) -> int:
        """Sample-and-integrate steps per input vector (the planes' repeats summed)."""
        return sum(self.repeats)


def _slices(cfg: DACConfig, m: int, first: int) -> tuple[list[list[int]], list[int]]:
    """The slices of one phase's m planes (indices from ``first``) and each plane's repeats."""
    if cfg.split_bits and cfg.bits >= cfg.split_bits and m >= 2:
        lo = m // 2  # two-phase: the low bits, then the high bits, each integrated and converted
        groups = [list(range(lo)), list(range(lo, m))]
    else:
        groups = [list(range(m))]
    repeats = [0] * m
    for g in groups:
        for j in g:
            repeats[j] = 2 ** (j - g[0])
    return [[first + j for j in g] for g in groups], repeats


def plane_counts(cfg: DACConfig, phases: float = 1.0) -> tuple[float, float, float]:
    """(planes, conversions, timesteps) per input vector of the scheme, for ``phases`` sign
    phases used (1 with polarity inputs; 1 or 2 with phases): the analytic path's counts.
    """
    phases = 1.0 if cfg.sign == "polarity" else phases
    m = cfg.magnitude_bits
    if not cfg.bit_serial:
        return phases, phases, phases
    if cfg.accumulate == "digital":
        return phases * m, phases * m, phases * m
    groups, repeats = _slices(cfg, m, 0)
    return phases * m, phases * len(groups), phases * sum(repeats)


def encode_inputs(
    x: torch.Tensor, x_range: torch.Tensor | float, cfg: DACConfig, v_read_V: float, x_min: torch.Tensor | None = None
) -> InputPlanes:
    """Quantise inputs ``x`` with full scale ``x_range`` into pulse planes (see the module docstring).

    ``x_min``: the smallest input, when the caller has it: the codes are a non-decreasing map of
    the inputs, so the smallest code (whether a negative phase is needed) is that map of it.
    Returns planes in volts (a full-scale pulse is ``v_read_V``).
    """
    m = cfg.magnitude_bits
    full = 2**m - 1
    scale = full / x_range
    k = torch.mul(x, scale).clamp_(-full, full).round_()
    polarity = cfg.sign == "polarity"
    signs = [1.0]
    if not polarity:  # a negative code needs the second phase
        lowest = k.amin() if x_min is None else torch.mul(x_min, scale).clamp_(-full, full).round_()
        signs = [1.0] if not bool(lowest < 0) else [1.0, -1.0]
    if not cfg.bit_serial:
        if len(signs) == 1:
            return InputPlanes(k.mul_(v_read_V / full).unsqueeze(0), signs, [1])
        return InputPlanes(torch.stack([k.clamp_min(0), (-k).clamp_min(0)]).mul_(v_read_V / full), signs, [1, 1])
    planes_out: list[torch.Tensor] = []
    weights: list[float] = []
    repeats: list[int] = []
    slices: list[list[int]] = []
    for sign in signs:
        mag = (k.abs() if polarity else (sign * k).clamp_min(0)).to(torch.int32)
        sgn = torch.sign(k) if polarity else None
        if cfg.accumulate == "analog":
            groups, reps = _slices(cfg, m, len(planes_out))
            slices += groups
        else:
            reps = [1] * m
        for j in range(m):
            plane = ((mag >> j) & 1).to(x.dtype)
            planes_out.append(plane.mul_(sgn) if sgn is not None else plane)
            weights.append(sign * 2**j)
        repeats += reps
    return InputPlanes(torch.stack(planes_out).mul_(v_read_V), weights, repeats,
                       slices if cfg.accumulate == "analog" else None)  # fmt: skip


def driven_values(planes: InputPlanes, x_range: torch.Tensor | float, cfg: DACConfig, v_read_V: float) -> torch.Tensor:
    """The inputs as the DAC's codes drive them (input units): sum(weights * planes) read back
    through the full scale, the same values as :func:`dac_quantize` at that full scale.
    """
    unit = x_range / (v_read_V * (2**cfg.magnitude_bits - 1 if cfg.bit_serial else 1))
    out = planes.planes[0] * (planes.weights[0] * unit)
    for w, plane in zip(planes.weights[1:], planes.planes[1:], strict=True):
        out.add_(plane, alpha=float(w * unit))
    return out


def dac_quantize(
    x: torch.Tensor, bits: int, full_scale: torch.Tensor | float | None = None
) -> tuple[torch.Tensor, float]:
    """Inputs as a DAC with ``bits`` magnitude bits (codes +-(2**bits - 1), either sign scheme)
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
