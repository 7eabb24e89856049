"""Drift compensation as chips do it: a known input per core, read after programming and again
later; the digital side rescales the outputs by what the reference lost.

IBM's analog chips and NeuRRAM correct conductance drift with a reference read (a known input
vector, or a reference column, per core). Here each analog layer keeps known inputs, kept
digitally: what it read on a batch of data right after programming (``inputs``; fits the
correction to data-like inputs), or ``samples`` seeded vectors over its calibrated input range;
and the outputs they gave then; :func:`compensate_drift` reads them again and sets the layer's
``out_scale``: one factor per layer (``per_column=False``, global drift compensation:
sum |y0| / sum |y|) or one per output column, applied only where it differs from 1 by more than
twice its standard error over the reference samples (a fresh chip is left as it is). The
reference reads are real reads: they count events and cost energy.
Re-calibrating the ADC ranges (``reram.calibrate`` on data) is the other periodic correction.
"""

from __future__ import annotations

import torch
from torch import nn

from reram.nn.convert import analog_layers
from reram.nn.layers import AnalogLayer


def _reference_inputs(layer: AnalogLayer, samples: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(1_000_003 * (layer.index + 1) + layer.config.seed)
    shape = (samples, *layer.reference_input_shape())
    scale = float(layer.x_range) if float(layer.x_range) > 0 else 1.0
    return (torch.rand(shape, generator=gen) * scale).to(layer.weight.device, layer.weight.dtype)


def _raw_read(layer: AnalogLayer, x: torch.Tensor) -> torch.Tensor:
    """(samples, out) |outputs| without compensation and bias, summed over output positions."""
    kept = layer.compensated
    layer.compensated = False
    try:
        with torch.no_grad():
            y = layer(x)
    finally:
        layer.compensated = kept
    if layer.bias is not None:
        y = y - layer.bias.detach().view(-1, *([1] * (y.dim() - 2)))
    return y.abs().reshape(y.shape[0], y.shape[1], -1).sum(-1)


def _captured_inputs(model: nn.Module, layers: list[AnalogLayer], x: torch.Tensor) -> dict[int, torch.Tensor]:
    """What each layer reads when the model runs on ``x`` (its known inputs, kept digitally)."""
    found: dict[int, torch.Tensor] = {}
    hooks = [m.register_forward_pre_hook(lambda mod, args: found.setdefault(id(mod), args[0].detach().clone()))
             for m in layers]  # fmt: skip
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in hooks:
            h.remove()
    return found


def store_drift_reference(model: nn.Module, samples: int = 64, inputs: torch.Tensor | None = None) -> nn.Module:
    """Read each analog layer's reference inputs now (right after programming and calibration).

    Args:
        model: a converted, programmed and calibrated model.
        samples: reference vectors per layer (seeded, uniform over the calibrated input range)
            when ``inputs`` is not given.
        inputs: a batch of the model's inputs (e.g. calibration data): each layer's reference is
            what it reads on them, so the compensation is fitted to data-like inputs.

    """
    if not 1 <= samples <= 100_000:
        raise ValueError(f"samples = {samples!r} is invalid: allowed is an integer in [1, 100000]")
    layers = [m for _, m in analog_layers(model) if not m.digital]
    if not layers:
        raise ValueError("store_drift_reference(): the model has no analog layers (call reram.convert first)")
    captured = _captured_inputs(model, layers, inputs) if inputs is not None else {}
    for m in layers:
        x = captured.get(id(m))
        x = _reference_inputs(m, samples) if x is None else x
        m.drift_reference = (x, _raw_read(m, x))
        m.out_scale.fill_(1.0)
        m.compensated = False
    return model


def compensate_drift(model: nn.Module, per_column: bool = False) -> nn.Module:
    """Rescale each analog layer's outputs by what its reference read lost since it was stored."""
    for name, m in analog_layers(model):
        if m.digital:
            continue
        ref = getattr(m, "drift_reference", None)
        if ref is None:
            raise ValueError(f"compensate_drift(): layer {name!r} has no reference: call store_drift_reference first")
        x, y0 = ref
        y = _raw_read(m, x)
        if not per_column:  # one factor: the reference's total over the columns
            y0, y = y0.sum(1, keepdim=True), y.sum(1, keepdim=True)
        scale = _significant(y0, y).expand(m.out_scale.shape[0]) if not per_column else _significant(y0, y)
        m.out_scale.copy_(scale)
        m.compensated = bool((scale != 1).any())
    return model


def _significant(y0: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per column: sum y0 / sum y over the samples, or 1 where that differs from 1 by less than
    twice its standard error (the reference reads' own noise: a fresh chip is left alone).
    """
    n = y.shape[0]
    total = y.sum(0).clamp_min(1e-30)
    scale = y0.sum(0) / total
    resid = y0 - scale * y  # the ratio estimator's residuals (delta method)
    se = resid.std(0, unbiased=True) * n**0.5 / total if n > 1 else torch.zeros_like(scale)
    keep = ((scale - 1).abs() < 2 * se) | (y.sum(0) <= 0)
    return torch.where(keep, torch.ones_like(scale), scale)
