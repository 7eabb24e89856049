"""On-chip analog training: an optimizer whose step is the chip's outer-product update.

:class:`AnalogSGD` is a ``torch.optim.Optimizer``: after ``loss.backward()`` (forward and
transposed kernels on the cells), ``step()`` updates every :class:`OnChipLinear` weight by pulses
and every other parameter (biases) by digital SGD. Schemes (``OnChipConfig.scheme``):

- "sgd": plain analog SGD, the batch's pulse coincidences applied to one cell per weight;
- "carry": periodic carry (Agarwal et al., VLSI 2017; Marinella et al., JETCAS 2018): a weight is
  F * (more significant cell) + (less significant cell); updates go to the less significant cell,
  whose range near mid-window is where its response is most linear; every ``carry_every`` steps
  it is read (with read noise), its content moved into the more significant cell (write-verify,
  or open-loop pulses), and it is reset to mid-window by write-verify;
- "mixed": mixed precision (Nandakumar et al., Front. Neurosci. 2020): the wanted changes
  -lr d^T x accumulate digitally; where one exceeds the change of one pulse, that many pulses
  are sent to the cell and the accumulator keeps the remainder.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch

from reram.config import ConfigError, OnChipConfig
from reram.device import update as cellupd
from reram.nn.onchip import OnChipLinear


def _layer_of(p: torch.Tensor) -> OnChipLinear | None:
    ref = getattr(p, "_onchip_layer", None)
    layer = ref() if ref is not None else None
    return layer if isinstance(layer, OnChipLinear) and layer.weight is p else None


class AnalogSGD(torch.optim.Optimizer):
    """SGD on the chip: pulse updates for on-chip weights, digital SGD for the rest.

    Args:
        params: the model's parameters (or parameter groups with their own ``lr``).
        config: the training scheme; ``lr`` here overrides ``config.lr`` when given.
        lr: learning rate.

    """

    def __init__(self, params: Iterable[Any], config: OnChipConfig | None = None, lr: float | None = None):
        self.onchip = config or OnChipConfig()
        lr = self.onchip.lr if lr is None else lr
        if not lr > 0:
            raise ConfigError(f"lr = {lr!r} is invalid: allowed is a number > 0")
        super().__init__(params, {"lr": lr})
        self.steps = 0
        for group in self.param_groups:
            for p in group["params"]:
                layer = _layer_of(p)
                if layer is not None:
                    layer.set_cells_per_weight(self.onchip.cells_per_weight, self.onchip.carry_base)
                    layer.weight_grad = self.onchip.scheme == "mixed"

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        """One update: pulses for on-chip weights (from the recorded batch), SGD for the rest."""
        loss = closure() if closure is not None else None
        cfg = self.onchip
        self.steps += 1
        for group in self.param_groups:
            lr = group["lr"]
            for p in group["params"]:
                layer = _layer_of(p)
                if layer is None:
                    if p.grad is not None:
                        p.add_(p.grad, alpha=-lr)
                    continue
                if cfg.scheme == "mixed":
                    self._mixed(layer, lr)
                else:
                    layer.pulse_update(lr, cfg.slots, cfg.pulse_mode)
                    if cfg.scheme == "carry" and self.steps % cfg.carry_every == 0:
                        carry(layer, cfg.carry_write)
        return loss

    def _mixed(self, layer: OnChipLinear, lr: float) -> None:
        grad = layer.weight.grad
        if grad is None:
            return
        if layer.accumulator is None or layer.accumulator.shape != grad.shape:
            layer.accumulator = torch.zeros_like(grad)
        acc = layer.accumulator
        acc.add_(grad, alpha=-lr)
        dw_pulse = layer.pulse_step(0)
        n = torch.div(acc, dw_pulse, rounding_mode="trunc")  # whole pulses; the remainder stays
        acc.sub_(n, alpha=dw_pulse)
        batch = layer.recorded[0].shape[0] if layer.recorded else 0
        layer.events.digital_macs += float(grad.numel() * max(batch, 1))
        layer.recorded = None
        layer.program_rows(0, n.clamp_min(0), (-n).clamp_min(0))
        layer.weight.grad = None


@torch.no_grad()
def carry(layer: OnChipLinear, write: str = "pulses") -> None:
    """Move the less significant cells' content into the more significant ones (periodic carry).

    The less significant cell is read (with the device's read noise); the change F^-1 (u_1 - 1/2)
    goes into the more significant cell as open-loop pulses through its nonlinear response
    (``write="pulses"``) or by write-verify to its read value plus that change (``"verify"``);
    the less significant cell is reset to mid-window by write-verify. Cells whose transfer is
    under half a pulse of the more significant cell are left alone.
    """
    if write not in ("verify", "pulses"):
        raise ValueError(f"write = {write!r} is invalid: allowed is 'verify' or 'pulses'")
    if len(layer.cells) != 2:
        raise ValueError("carry() needs two cells per weight: use OnChipConfig(scheme='carry')")
    dev = layer.config.device
    msd, lsd = layer.cells
    span = dev.g_max_S - dev.g_min_S
    layer.read_all_cells(1)
    noise = torch.randn(lsd.u.shape, generator=layer.gen, device=lsd.u.device) * (dev.read_sigma_S / span)
    content = (lsd.u + noise - 0.5) / layer.base  # in units of the more significant cell's u
    n = torch.round(content * dev.update.nominal_pulses)
    moved = n != 0
    rows_moved = float(moved.any(0).sum())
    if write == "pulses":
        layer.program_rows(0, n.clamp_min(0), (-n).clamp_min(0))
    else:
        layer.read_all_cells(0)
        read_msd = msd.u + torch.randn(msd.u.shape, generator=layer.gen, device=msd.u.device) * (
            dev.read_sigma_S / span
        )
        kept_msd = msd.u.clone()
        cellupd.set_state(msd, read_msd + content, dev, layer.gen)
        msd.u.copy_(torch.where(moved, msd.u, kept_msd))
        layer.events.programmed_cells += float(moved.sum())
        layer.events.verify_rows += rows_moved
    kept = lsd.u.clone()
    cellupd.set_state(lsd, torch.full_like(kept, 0.5), dev, layer.gen)
    lsd.u.copy_(torch.where(moved, lsd.u, kept))
    layer.events.programmed_cells += float(moved.sum())
    layer.events.verify_rows += rows_moved
    layer.sync()
