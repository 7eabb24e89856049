"""Where an ADC rounds: signed uniform quantiser with a full scale, saturating beyond it.

The same model serves NeuRRAM's integrate-and-fire neuron, whose count of charge-decrement
steps is a uniform quantisation of the integrated bit-line voltage.
"""

from __future__ import annotations

import math

import torch

from reram.array.noise import K_B
from reram.config import ADCConfig


def adc_levels(bits: int) -> int:
    """Largest output code of a signed ``bits``-bit converter: 2**(bits-1) - 1."""
    return 2 ** (bits - 1) - 1


def to_codes_(signal: torch.Tensor, step: torch.Tensor | float, bits: int) -> torch.Tensor:
    """The ADC's rounding, in place: ``signal`` (amperes or volts) -> integer codes of size
    ``step`` (same unit), saturating at +-(2**(bits-1) - 1). A division, so a tiny step saturates
    instead of producing NaN. Every read of the package converts here.
    """
    top = adc_levels(bits)
    return signal.div_(step).round_().clamp_(-top, top)


def sampling_unit(cfg: ADCConfig, kelvin: float, t_pulse_s: float) -> float:
    """kT/C of one sample on the converter's capacitor: V^2 on a voltage-sensed line, referred
    to the current of a line integrated on C over ``t_pulse_s`` (A^2: kT C / t_pulse^2).
    """
    c = cfg.sample_cap_F
    return K_B * kelvin / c if cfg.sensing == "voltage" else K_B * kelvin * c / t_pulse_s**2


def sampling_variance(
    samples: list[int], rows: int, cfg: ADCConfig, kelvin: float, t_pulse_s: float, like: torch.Tensor
) -> torch.Tensor:
    """kT/C of the sampling capacitor per conversion, (conversions * N, 1, ...) broadcastable to
    the sensed signals (V^2, or A^2 when current-sensed): each of a conversion's samples adds
    kT/C to a voltage-sensed line; a current-sensed line integrated on C over t_pulse sees it
    referred to its current, kT C / t_pulse^2.

    Args:
        samples: samples integrated into each conversion (1 unless the neuron integrates).
        rows: conversions * N, the signals' first dim (conversion-major).
        cfg: the converter (``sample_cap_F``, ``sensing``).
        kelvin: the temperature of the read.
        t_pulse_s: the integration window of a current-sensed read.
        like: a tensor of the signals' dtype, device and rank.

    """
    unit = sampling_unit(cfg, kelvin, t_pulse_s)
    var = torch.tensor([n * unit for n in samples], dtype=like.dtype, device=like.device)
    return var.repeat_interleave(rows // len(samples)).view(-1, *([1] * (like.dim() - 1)))


def adc_convert(signal: torch.Tensor, full_scale: torch.Tensor | float, bits: int) -> torch.Tensor:
    """Digitise ``signal`` (amperes or volts) with +-``full_scale`` and ``bits``; returns the
    reconstructed value (same unit), monotone in the signal and saturating at +-full_scale.
    """
    step = full_scale / adc_levels(bits)
    return to_codes_(signal.clone(), step, bits).mul_(step)


def max_abs(t: torch.Tensor) -> float:
    """The largest |t| (0 for an empty tensor), in one pass over t: an auto-ranged converter's full scale."""
    if t.numel() == 0:
        return 0.0
    lo, hi = torch.aminmax(t.detach())
    return max(float(hi), -float(lo))


def percentile_abs(values: torch.Tensor, percentile: float, absolute: bool = False) -> torch.Tensor:
    """|values| percentile along the last axis (one result per leading index).

    Long rows are subsampled deterministically (every k-th element) to at most 2**22 samples.
    ``absolute``: ``values`` are already |values| (and may be consumed).
    """
    if percentile >= 100:  # the largest |value|: one pass, no copy
        if absolute:
            return values.detach().amax(dim=-1)
        lo, hi = torch.aminmax(values.detach(), dim=-1)
        return torch.maximum(hi, lo.neg_())
    a = values.detach() if absolute else values.detach().abs()
    limit = 2**22
    if a.shape[-1] > limit:
        a = a[..., :: -(-a.shape[-1] // limit)]
    q = percentile / 100
    if q < 0.5:
        return torch.quantile(a.float(), q, dim=-1).to(values.dtype)
    # an upper quantile from the top (1 - q) share alone (one topk instead of a sort): the same
    # linear interpolation between order statistics as torch.quantile
    n = a.shape[-1]
    pos = q * (n - 1)
    below = math.floor(pos)
    frac = pos - below
    top = a.topk(n - below, dim=-1).values  # descending: the below-th smallest is the last
    v_lo = top[..., -1]
    return v_lo if frac == 0 or n - below < 2 else torch.lerp(v_lo, top[..., -2], frac)


def mismatch(shape: tuple[int, ...], cfg: ADCConfig, gen: torch.Generator, like: torch.Tensor) -> torch.Tensor | None:
    """The converters' fixed pattern, drawn once per set of converters: (2, *shape) relative gain
    (1 + N(0, gain_sigma)) and offset (N(0, offset_sigma_lsb) LSB), then, with ``dnl_lsb``, the
    (2 top, *shape) transitions' offsets (LSB, :func:`dnl_offsets`); None for ideal converters.
    """
    if cfg.gain_sigma == 0 and cfg.offset_sigma_lsb == 0 and cfg.dnl_lsb == 0:
        return None
    n = torch.randn((2, *shape), generator=gen, device=like.device, dtype=like.dtype)
    rows = [1 + cfg.gain_sigma * n[0], cfg.offset_sigma_lsb * n[1]]
    if cfg.dnl_lsb:
        rows += list(dnl_offsets(shape, cfg, gen, like))
    return torch.stack(rows)


def dnl_offsets(shape: tuple[int, ...], cfg: ADCConfig, gen: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    """(2 top, *shape) offsets (LSB) of the transitions between codes c - 1 and c, c = -top + 1 ..
    top, from code widths 1 + N(0, dnl_lsb) (at least 0: a missing code): each transition moves by
    the widths' running error, less the straight line through the end points (the first and last
    transition stay where the ideal converter has them).
    """
    top = adc_levels(cfg.bits)
    width_err = cfg.dnl_lsb * torch.randn((2 * top, *shape), generator=gen, device=like.device, dtype=like.dtype)
    width_err = width_err.clamp_min_(-1.0)
    run = torch.cumsum(width_err, 0) - width_err[:1]  # transition c's shift: the widths below it
    line = torch.linspace(0, 1, 2 * top, device=like.device, dtype=like.dtype).view(-1, *([1] * len(shape)))
    return run - line * run[-1:]


def to_codes_dnl_(signal: torch.Tensor, step: torch.Tensor, bits: int, offsets: torch.Tensor) -> torch.Tensor:
    """The ADC's rounding with differential nonlinearity, in place: the integer code is -top plus
    the number of the converter's transitions at or below the signal, the transition into code
    c sitting at c - 1/2 + ``offsets`` (LSB) instead of c - 1/2: monotone in the signal.

    Args:
        signal: (N, tiles, cols, ...) sensed signals (amperes or volts).
        step: LSB size, broadcastable to ``signal``.
        bits: signed bits.
        offsets: (2 top, tiles, cols) transition offsets (LSB) of each converter.

    """
    top = adc_levels(bits)
    x = signal.div_(step)
    c = torch.arange(-top + 1, top + 1, device=x.device, dtype=x.dtype).view(-1, *([1] * (offsets.dim() - 1)))
    edges = (c - 0.5 + offsets).movedim(0, -1).reshape(-1, 2 * top).sort(-1).values.contiguous()  # per converter
    lead = x.movedim(0, 2)  # (tiles, cols, N, ...)
    per_conv = lead.reshape(edges.shape[0], -1)
    codes = torch.searchsorted(edges, per_conv.contiguous(), right=True).to(x.dtype) - top
    return signal.copy_(codes.view(lead.shape).movedim(2, 0))


def distort_(signal: torch.Tensor, full_scale: torch.Tensor, pattern: torch.Tensor | None, cfg: ADCConfig,
             view: tuple[int, ...]) -> torch.Tensor:  # fmt: skip
    """What the converter sees, in place: its gain and offset error and its INL bow,
    x (1 + g) + o step + inl step (c u - c u^3), u = x / full_scale clipped to [-1, 1] (beyond
    full scale the converter saturates), c = 3 sqrt(3) / 2: the bow's largest deviation is
    ``inl_lsb`` LSB at |u| = 1 / sqrt(3).
    """
    step = (full_scale / adc_levels(cfg.bits)).view(view)
    if cfg.inl_lsb:
        u = (signal / full_scale.view(view)).clamp_(-1.0, 1.0)
        signal.addcmul_(u - u**3, step, value=cfg.inl_lsb * 3 * 3**0.5 / 2)
    if pattern is not None:
        signal.mul_(pattern[0].view(view)).addcmul_(pattern[1].view(view), step)
    return signal


def correct_(codes: torch.Tensor, pattern: torch.Tensor | None, cfg: ADCConfig, view: tuple[int, ...]) -> torch.Tensor:
    """The digital side's correction of the measured fixed pattern (codes in LSB), in place."""
    if pattern is None or cfg.correction == "none":
        return codes
    codes.sub_(pattern[1].view(view))
    if cfg.correction == "offset_gain":
        codes.div_(pattern[0].view(view))
    return codes
