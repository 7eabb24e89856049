"""Hardware-aware training: make a float network survive the chip (NeuRRAM's recipe).

Each Linear/Conv gets, while it trains:

- weight quantisation to the signed levels a differential pair can hold (2 * device.levels - 1,
  scale = the array's clip percentile of |W| per layer or per output), straight-through;
- Gaussian weight (and bias) noise of std = ``noise_level`` x max|W| of the layer, drawn afresh on
  every training forward (Wan et al., Nature 2022: 0.15 MNIST, 0.20 CIFAR-10, 0.16 LSTM);
- input quantisation to the DAC bits with a calibrated (running percentile) or learned (PACT-style)
  range, and optional output quantisation to the ADC bits, both straight-through.

Everything is a torch parametrization or hook on the user's own modules, so any optimizer and
training loop work; :func:`strip_hwa` removes it all and leaves the trained float weights.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.nn.utils import parametrize

from reram.config import Config, HWAConfig, load_config

_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d)


def kth_smallest(a: torch.Tensor, k: int, dim: int = -1) -> torch.Tensor:
    """The ``k``-th smallest value along ``dim`` (1-based), as ``torch.kthvalue``; an upper one
    (k near the length: a high percentile) from a ``topk`` of the few largest, several times
    faster than the selection over the whole row.
    """
    n = a.shape[dim]
    top = n - k + 1  # its rank from the top
    if top > n // 2:
        return a.kthvalue(k, dim=dim).values
    return a.topk(top, dim=dim).values.select(dim, top - 1)


class _RoundSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return torch.round(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return grad


def ste_round(x: torch.Tensor) -> torch.Tensor:
    """Round in the forward pass, identity in the backward pass (straight-through estimator):
    one pass each way (``x + (round(x) - x).detach()`` takes three).
    """
    return _RoundSTE.apply(x)  # type: ignore[no-any-return]


class _Levels(torch.autograd.Function):
    """w -> round(clamp(w * scale, -steps, steps)) / scale, the gradient straight through inside
    the clip (exactly 1) and 0 outside: the device levels' quantiser in one autograd node.
    """

    @staticmethod
    def forward(ctx: Any, w: torch.Tensor, scale: torch.Tensor, steps: int) -> torch.Tensor:  # noqa: D102
        t = w * scale
        ctx.save_for_backward(t.abs() <= steps)
        return t.clamp_(-steps, steps).round_().div_(scale)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:  # noqa: D102
        (inside,) = ctx.saved_tensors
        return grad * inside, None, None


class WeightNoiseQuant(nn.Module):
    """Parametrization of a weight: device levels (straight-through) plus training-time noise."""

    def __init__(self, levels: int, clip_percentile: float, per_output: bool, quantize: bool):
        super().__init__()
        self.steps = max(levels - 1, 1) if levels else 0
        self.clip_percentile = clip_percentile
        self.per_output = per_output
        self.quantize = quantize
        self.noise_scale = 0.0  # std relative to max|W|, set by the schedule

    def _clip(self, w_abs: torch.Tensor) -> torch.Tensor:
        # the clip |W| per output (or one for the layer), shaped to broadcast over the weight
        a = w_abs.reshape(w_abs.shape[0], -1) if self.per_output else w_abs.reshape(1, -1)
        if self.clip_percentile >= 100:
            c = a.amax(1)
        else:
            k = max(1, round(a.shape[1] * self.clip_percentile / 100))
            c = kth_smallest(a, k, dim=1)
        c = c.clamp_min(torch.finfo(w_abs.dtype).tiny)
        return c.view(-1, *([1] * (w_abs.dim() - 1))) if self.per_output else c.view(*([1] * w_abs.dim()))

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        """Quantised (and, when training, noisy) weight."""
        quantize, noisy = self.quantize and self.steps, self.training and self.noise_scale > 0
        if not (quantize or noisy):
            return w
        w_abs, out = w.detach().abs(), w
        if quantize:  # levels -steps..steps of c / steps, the gradient straight through inside the clip
            c = self._clip(w_abs)
            out = _Levels.apply(w, self.steps / c, self.steps)
        if noisy:
            out = torch.addcmul(out, torch.randn_like(w), w_abs.max() * self.noise_scale)
        return out


class BiasNoise(nn.Module):
    """Parametrization of a bias: training-time noise of std = level x max|W| of its layer."""

    def __init__(self, weight_owner: nn.Module):
        super().__init__()
        self._owner = [weight_owner]  # a list: not registered as a submodule
        self.noise_scale = 0.0

    def forward(self, b: torch.Tensor) -> torch.Tensor:
        """Noisy bias when training."""
        if not (self.training and self.noise_scale > 0):
            return b
        owner: Any = self._owner[0]
        w = owner.parametrizations.weight.original if parametrize.is_parametrized(owner, "weight") else owner.weight
        return b + torch.randn_like(b) * (self.noise_scale * w.detach().abs().max())


class FakeQuant(nn.Module):
    """Signed uniform fake quantiser with a calibrated or learned range (straight-through).

    Args:
        bits: magnitude bits (levels 2**bits - 1 per sign).
        learned: the range is a trained parameter (gradient through the clip) instead of a
            running percentile.
        percentile, momentum: the running range's statistic and averaging.

    """

    def __init__(self, bits: int, learned: bool = False, percentile: float = 99.99, momentum: float = 0.9):
        super().__init__()
        self.steps = 2**bits - 1
        self.percentile, self.momentum = percentile, momentum
        self.range: torch.Tensor
        self.register_buffer("range", torch.zeros(()))
        self.alpha = nn.Parameter(torch.zeros(())) if learned else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Quantise ``x`` to ``bits`` within +-range."""
        if self.training or float(self.range) == 0:
            a = x.detach().abs().reshape(-1)
            a = a[:: max(1, a.numel() // 65536)]  # a deterministic subsample bounds the cost
            k = max(1, int(round(a.numel() * self.percentile / 100)))
            stat = kth_smallest(a, k) if k < a.numel() else a.max()
            first = float(self.range) == 0
            self.range.copy_(stat if first else self.momentum * self.range + (1 - self.momentum) * stat)
            if self.alpha is not None and first:
                with torch.no_grad():
                    self.alpha.copy_(stat)
        if self.alpha is None:  # a calibrated range: one node, the gradient 1 inside and 0 outside
            return _Levels.apply(x, self.steps / self.range.clamp_min(1e-12), self.steps)  # type: ignore[no-any-return]
        r = self.alpha.abs().clamp_min(1e-12)  # learned: the gradient reaches the range through the clip
        xc = torch.minimum(torch.maximum(x, -r), r)
        return ste_round(xc / r * self.steps) / self.steps * r


def _input_hook(module: Any, args: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    return (module.reram_input_quant(args[0]), *args[1:])


def _output_hook(module: Any, args: tuple[torch.Tensor, ...], out: torch.Tensor) -> torch.Tensor:
    return module.reram_output_quant(out)  # type: ignore[no-any-return]


def prepare_hwa(
    model: nn.Module,
    hwa: HWAConfig | None = None,
    config: Config | str | None = None,
    filter_fn: Callable[[nn.Module, str], bool] | None = None,
    per_layer_noise: dict[str, float] | None = None,
) -> nn.Module:
    """Add hardware-aware training to ``model``'s Linear/Conv layers, in place.

    Args:
        model: a float network.
        hwa: the training settings (default ``HWAConfig()``).
        config: the chip the network will run on (levels, clip, DAC/ADC bits; default ``neurram``).
        filter_fn: ``filter_fn(module, name) -> bool`` selects layers (default: all).
        per_layer_noise: {module name: noise level} overriding ``hwa.noise_level``.

    Returns:
        ``model``; call :func:`set_noise_epoch` each epoch for a ramped schedule.

    """
    hwa = hwa or HWAConfig()
    cfg = load_config(config)
    in_bits = cfg.periphery.dac.magnitude_bits if hwa.input_bits is None else hwa.input_bits
    for name, m in model.named_modules():
        if not isinstance(m, _LAYERS) or (filter_fn is not None and not filter_fn(m, name)):
            continue
        wq = WeightNoiseQuant(
            cfg.device.levels, cfg.array.clip_percentile, cfg.array.scale == "column", hwa.quantize_weights
        )
        parametrize.register_parametrization(m, "weight", wq)
        if m.bias is not None and hwa.bias_noise:
            parametrize.register_parametrization(m, "bias", BiasNoise(m))
        m.reram_noise_level = (per_layer_noise or {}).get(name, hwa.noise_level)  # type: ignore[assignment]
        if in_bits:
            m.reram_input_quant = FakeQuant(in_bits, hwa.input_range == "learned", hwa.percentile, hwa.momentum)
            m.reram_hooks = [m.register_forward_pre_hook(_input_hook)]  # type: ignore[assignment]
        else:
            m.reram_hooks = []  # type: ignore[assignment]
        if hwa.output_bits:
            m.reram_output_quant = FakeQuant(hwa.output_bits - 1, False, hwa.percentile, hwa.momentum)
            m.reram_hooks.append(m.register_forward_hook(_output_hook))  # type: ignore[union-attr,operator]
    model.reram_hwa = hwa  # type: ignore[assignment]
    set_noise_epoch(model, hwa.ramp_epochs)
    return model


def set_noise_epoch(model: nn.Module, epoch: int) -> None:
    """Set every layer's noise for ``epoch`` (0-based) of the schedule: full level after the ramp."""
    hwa: HWAConfig | None = getattr(model, "reram_hwa", None)
    if hwa is None:
        raise ValueError("set_noise_epoch(): call prepare_hwa(model) first")
    frac = 1.0 if hwa.ramp_epochs == 0 else min(1.0, (epoch + 1) / hwa.ramp_epochs)
    for m in model.modules():
        if hasattr(m, "reram_noise_level") and parametrize.is_parametrized(m):
            level = float(m.reram_noise_level) * frac  # type: ignore[arg-type]
            for p in m.parametrizations.values():  # type: ignore[union-attr,operator]
                for q in p:
                    if hasattr(q, "noise_scale"):
                        q.noise_scale = level


def strip_hwa(model: nn.Module) -> nn.Module:
    """Remove hardware-aware training from ``model`` (in place), keeping the trained float weights."""
    for m in model.modules():
        if parametrize.is_parametrized(m):
            for name in list(m.parametrizations.keys()):  # type: ignore[union-attr,operator]
                parametrize.remove_parametrizations(m, name, leave_parametrized=False)
        for h in getattr(m, "reram_hooks", []):
            h.remove()
        for attr in ("reram_hooks", "reram_input_quant", "reram_output_quant", "reram_noise_level"):
            if hasattr(m, attr):
                delattr(m, attr)
    model.__dict__.pop("reram_hwa", None)
    return model
