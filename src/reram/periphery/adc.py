"""Where an ADC rounds: signed uniform quantiser with a full scale, saturating beyond it.

The same model serves NeuRRAM's integrate-and-fire neuron, whose count of charge-decrement
steps is a uniform quantisation of the integrated bit-line voltage.
"""

from __future__ import annotations

import torch


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


def percentile_abs(values: torch.Tensor, percentile: float) -> torch.Tensor:
    """|values| percentile along the last axis (one result per leading index).

    Long rows are subsampled deterministically (every k-th element) to at most 2**22 samples.
    """
    a = values.detach().abs()
    if percentile >= 100:
        return a.amax(-1)
    limit = 2**22
    if a.shape[-1] > limit:
        a = a[..., :: -(-a.shape[-1] // limit)]
    return torch.quantile(a.float(), percentile / 100, dim=-1).to(values.dtype)
