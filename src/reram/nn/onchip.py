"""Layers trained on the chip: forward, transposed and outer-product update kernels on one array.

:class:`OnChipLinear` keeps a real ``weight`` parameter equal to what its cells hold, read out
through the mapping W = w_scale * sum_k F^(K-1-k) (u_k - 1/2): each weight is K cells (K = 1, or
2 for periodic carry with base F) against a reference conductance at mid-window, and u is the
normalised conductance of ``reram.device.update``. On the chip:

- **forward** (rows driven, columns sensed): inputs quantised by the DAC (``periphery.dac.bits``,
  range = the batch's max |x|), the column sums of the programmed cells with read noise in
  distribution, the ADC (``periphery.adc.bits``, auto-ranged to the batch's largest output);
- **transposed** (columns driven, rows sensed): the backward pass, the errors quantised and read
  through the same cells the other way (NeuRRAM's TNSA; Marinella et al. 2018), skipped for a
  first layer whose input needs no gradient;
- **update** (``reram.nn.onchip_update``): :meth:`OnChipLinear.pulse_update` turns the
  recorded (x, d) of the batch into pulse coincidences (``reram.array.outer``) and the cells
  respond (``reram.device.update``).

The layout is K cells and a reference column per output (``reram.array.onchip_stack``), not
the differential pairs of inference layers: ``array.differential`` does not apply here. With
``array.ir_drop`` on, the reads see each array's resistor network and the update pulses lose voltage along the lines
(``reram.array.onchip_wires``: the arrays' layout, exact or first-order reads, first-order
update drops); per-cell programming (carry transfers, mixed precision's pulses, write-verify)
sees the nominal voltage; the reads' energy splits between cells and wires by the arrays' power
forms (``read_forms``). Every kernel counts its events in ``OnChipLinear.events`` for the cost
model. ``.weight`` changed by anything else than the cells (another optimizer,
``load_state_dict``) is written back into the cells (write-verify) at the next forward, so any
torch optimizer works, as a digital-update baseline.
"""

from __future__ import annotations

import copy
import weakref
from dataclasses import fields
from functools import partial
from typing import Any

import numpy as np
import torch
from torch import nn

from reram.array.onchip_stack import Layout, ReadStack, floating_differences, forward_stack, transposed_stack_of
from reram.array.onchip_wires import effective_differences, read_forms
from reram.config import Config, load_config
from reram.core import PeripheryState, analog_matmul
from reram.device import update as cellupd
from reram.events import EventCounts
from reram.nn.onchip_update import UpdateKernel
from reram.nn.wired import warn_out_of_range
from reram.periphery.adc import percentile_abs
from reram.periphery.dac import InputPlanes, dac_quantize


class _Kernels(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, layer: OnChipLinear) -> torch.Tensor:  # noqa: D102
        xq, y = layer.read(x, transposed=False)
        ctx.layer = layer
        ctx.save_for_backward(xq)
        return y

    @staticmethod
    def backward(ctx: Any, gy: torch.Tensor) -> Any:  # noqa: D102
        layer: OnChipLinear = ctx.layer
        (xq,) = ctx.saved_tensors
        if ctx.needs_input_grad[0]:
            dq, gx = layer.read(gy, transposed=True)
        else:
            dq, gx = layer.dac(gy)[0], None
        layer.recorded = (xq, dq)
        gw = dq.T @ xq if ctx.needs_input_grad[1] and layer.weight_grad else None
        return gx, gw, None


class OnChipLinear(UpdateKernel, nn.Module):
    """``nn.Linear`` trained on ReRAM cells by pulses.

    Args:
        linear: the float layer (its weight initialises the cells; the module keeps its own copy).
        config: the chip (device incl. ``device.update``, DAC/ADC bits, read noise, seed).
        index: position in the network (seeds the layer's randomness).
        range_factor: the weight range +-w_max = range_factor * max|W| of the initial weights
            maps onto the conductance window.
        cells_per_weight: 1, or 2 for periodic carry (a more and a less significant cell).
        carry_base: significance ratio F of the two cells.

    """

    def __init__(self, linear: nn.Linear, config: Config, index: int = 0, range_factor: float = 2.0,
                 cells_per_weight: int = 1, carry_base: float = 8.0):  # fmt: skip
        super().__init__()
        if cells_per_weight not in (1, 2):
            raise ValueError(f"cells_per_weight = {cells_per_weight!r} is invalid: allowed is 1 or 2")
        if not range_factor > 0 or not carry_base >= 1:
            raise ValueError(f"range_factor = {range_factor!r} / carry_base = {carry_base!r}: allowed is > 0 / >= 1")
        self.config, self.index = config, index
        arr = config.array
        self._wired = arr.ir_drop != "off" and arr.has_wires
        if self._wired and config.periphery.adc.sensing == "voltage":
            raise ValueError("array.ir_drop = 'exact' with periphery.adc.sensing = 'voltage' is not modelled "
                             "for on-chip layers (their wired reads are current-sensed): use 'current'")  # fmt: skip
        self._stacks: dict[str, ReadStack] = {}
        self._layout: Layout | None = None
        self.in_features, self.out_features = linear.in_features, linear.out_features
        w0 = linear.weight.detach()
        self.weight = nn.Parameter(w0.clone())
        self.bias = nn.Parameter(linear.bias.detach().clone()) if linear.bias is not None else None
        self.weight._onchip_layer = weakref.ref(self)  # type: ignore[attr-defined]
        self.w_max = float(range_factor * w0.abs().max().clamp_min(1e-12))
        self.base = float(carry_base) if cells_per_weight == 2 else 1.0
        self.events = EventCounts()
        self.weight_grad = True
        self._warned_first_order = False  # ir_drop = "approx" beyond its range, logged once
        self.recorded: tuple[torch.Tensor, torch.Tensor] | None = None
        self.accumulator: torch.Tensor | None = None  # mixed precision: digital sum of wanted changes
        seed = int(np.random.SeedSequence([config.seed, index, 7]).generate_state(1)[0])
        self.gen = torch.Generator(device=w0.device).manual_seed(seed)
        shape = (self.out_features, self.in_features)
        self.cells = [cellupd.init_cells(shape, config.device, self.gen, w0.device) for _ in range(cells_per_weight)]
        self.write_weights(w0)

    def __setstate__(self, state: dict[str, Any]) -> None:  # deepcopy / unpickle: the weight points here again
        super().__setstate__(state)
        self.weight._onchip_layer = weakref.ref(self)  # type: ignore[attr-defined]

    def _apply(self, fn: Any, recurse: bool = True) -> OnChipLinear:  # .to(), .cuda(), .double() move the cells too
        super()._apply(fn, recurse)
        self.cells = [cellupd.PulseCells(**{f.name: fn(getattr(c, f.name)) for f in fields(c)}) for c in self.cells]
        if self.accumulator is not None:
            self.accumulator = fn(self.accumulator)
        if self.gen.device != self.weight.device:
            seed = int(torch.randint(0, 2**62, (1,), generator=self.gen))
            self.gen = torch.Generator(device=self.weight.device).manual_seed(seed)
        self._synced = self.weight._version
        self._stacks = {}
        return self

    # ----- mapping between cells and weights -----
    @property
    def w_scale(self) -> float:
        """Weight units per unit of normalised conductance of the least significant cell."""
        return 2 * self.w_max / (self.base + 1) if len(self.cells) == 2 else 2 * self.w_max

    def significance(self, k: int) -> float:
        """Weight per unit u of cell k (k = 0 most significant)."""
        return self.w_scale * (self.base if len(self.cells) == 2 and k == 0 else 1.0)

    def significances(self) -> list[float]:
        """Weight per unit u of each cell, most significant first."""
        return [self.significance(k) for k in range(len(self.cells))]

    def pulse_step(self, k: int) -> float:
        """Weight change of one nominal pulse on cell k (weight units)."""
        return self.significance(k) / self.config.device.update.nominal_pulses

    def device_weight(self, out: torch.Tensor | None = None) -> torch.Tensor:
        """What the cells hold, in weight units (the mapping, without read noise), into ``out`` if given."""
        sig = self.significances()
        u0 = self.cells[0].u
        w = torch.mul(u0, sig[0], out=out).sub_(0.5 * sum(sig))  # W = sum_k s_k (u_k - 1/2)
        for s, c in zip(sig[1:], self.cells[1:], strict=True):
            w.add_(c.u, alpha=s)
        return w

    def sync(self) -> None:
        """Set ``weight`` to what the cells hold."""
        with torch.no_grad():
            self.device_weight(out=self.weight)
        self._synced = self.weight._version
        dev = self.config.device
        span = dev.g_max_S - dev.g_min_S
        # for the energy: each cell array's conductance summed along each input line (over the
        # columns it crosses) and along each output line (siemens); reads drive all of them
        n_in, n_out = self.in_features, self.out_features
        self._lines_S = [(c.u.sum(0).mul_(span).add_(n_out * dev.g_min_S),
                          c.u.sum(1).mul_(span).add_(n_in * dev.g_min_S)) for c in self.cells]  # fmt: skip
        self._stacks = {}  # the read stacks of these cells, built at the next read

    def write_weights(self, w: torch.Tensor) -> None:
        """Write-verify weights ``w`` into the cells (the most significant cell takes it all)."""
        with torch.no_grad():
            cellupd.set_state(self.cells[0], 0.5 + w / self.significance(0), self.config.device, self.gen)
            for c in self.cells[1:]:
                cellupd.set_state(c, torch.full_like(c.u, 0.5), self.config.device, self.gen)
        self.events.programmed_cells += w.numel() * len(self.cells)
        self.events.verify_rows += self.in_features * len(self.cells)
        self.sync()

    def set_cells_per_weight(self, cells: int, base: float = 8.0) -> None:
        """Re-map the present weights onto ``cells`` cells per weight (1, or 2 for periodic carry)."""
        if cells == len(self.cells) and (cells == 1 or base == self.base):
            return
        w = self.device_weight()
        shape = (self.out_features, self.in_features)
        self.base = float(base) if cells == 2 else 1.0
        self.cells = [cellupd.init_cells(shape, self.config.device, self.gen, w.device) for _ in range(cells)]
        self.write_weights(w)

    def conductances_S(self) -> list[torch.Tensor]:
        """Each cell's conductance (siemens), most significant first."""
        return [cellupd.conductance_S(c, self.config.device) for c in self.cells]

    # ----- the read kernels -----
    def dac(self, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The DAC of a read: its full scale (the ``periphery.dac.percentile`` of |v|, per batch)
        and the inputs as its codes drive them (input units; the update pulses use the same codes).
        """
        dac = self.config.periphery.dac
        fs = percentile_abs(v.reshape(1, -1), dac.percentile)[0]
        return dac_quantize(v, dac.magnitude_bits, fs)[0], fs

    def _stack(self, transposed: bool) -> ReadStack:
        key = "transposed" if transposed else "forward"
        stack = self._stacks.get(key)
        if stack is None:
            dev, sig = self.config.device, self.significances()
            lo = self._layout
            if lo is None or lo.k != len(self.cells) or lo.gain_f.device != self.weight.device:
                lo = Layout(self.in_features, self.out_features, sig, self.config, self.weight, self.gen)
                self._layout = lo
            r_acc = 0.0 if self._wired else self.config.array.r_access_ohm  # wired: the network holds it
            cells = self.conductances_S() if self._wired or lo.voltage or r_acc else []
            if r_acc:  # each branch is a cell in series with its access transistor: G / (1 + G r)
                cells = [g / (1 + g * r_acc) for g in cells]
            g_ref = lo.g_ref / (1 + lo.g_ref * r_acc)
            if self._wired:  # the arrays' resistor networks: what they realise (both directions)
                drops: list[float] | None = None if self._warned_first_order else []
                diffs = effective_differences(cells, self.config, drops)
                warn_out_of_range(self, max(drops or [0.0]))
            elif lo.voltage and not transposed:  # the cell's and the reference's floating bit lines
                diffs = floating_differences(lo, cells)
            elif r_acc:
                diffs = [g - g_ref for g in cells]
            else:  # G_k - g_ref, from the normalised states in one pass each
                span, offset = dev.g_max_S - dev.g_min_S, (dev.g_min_S - dev.g_max_S) / 2
                diffs = [torch.mul(c.u, span).add_(offset) for c in self.cells]
            noise = self._noise_cells if self.config.device.read_noise_model == "physical" else None
            # wired: the arrays' cell and wire power forms (solved, or first order for "approx")
            energy = partial(read_forms, cells, self.config, transposed, lo.r, lo.ct) if self._wired else None
            if transposed:
                stack = transposed_stack_of(lo, cells, diffs, [lines[1] for lines in self._lines_S], noise, energy)
            else:
                stack = forward_stack(lo, cells, diffs, [lines[0] for lines in self._lines_S], noise, energy)
            self._stacks[key] = stack
        return stack

    def _noise_cells(self) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """K (out, in) G^2 and G of each cell position with its reference cell (the physical read noise)."""
        r_acc = 0.0 if self._wired else self.config.array.r_access_ohm
        assert self._layout is not None
        g_ref = self._layout.g_ref / (1 + self._layout.g_ref * r_acc)
        gs = [g / (1 + g * r_acc) for g in self.conductances_S()]
        return [g * g + g_ref**2 for g in gs], [g + g_ref for g in gs]

    def read(self, v: torch.Tensor, transposed: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """One analog read through the shared pipeline (``reram.core.analog_matmul``): ``v``
        (batch, in) forward or (batch, out) transposed, in input units; the DAC auto-ranges to
        the batch, the ADC full scale is set from this read's own signals (weights change every
        step). Returns the DAC's quantised inputs and the outputs in output units.
        """
        lo = None
        if self.config.periphery.dac.percentile >= 100:  # the largest |v| and the sign test, one pass
            lo, hi = torch.aminmax(v)
            fs = torch.maximum(hi, -lo)
        else:
            fs = percentile_abs(v.reshape(1, -1), self.config.periphery.dac.percentile)[0]
        stack = self._stack(transposed)
        state = PeripheryState(fs, torch.empty_like(stack.gain), stack.gain, stack.gsum_S, auto_adc=True,
                               adc_pattern=stack.pattern, x_min=lo)  # fmt: skip
        n = v.shape[0]

        def count(shape: InputPlanes, pulses: torch.Tensor, joules: torch.Tensor, wire_J: Any = None) -> None:
            e, n_in, n_out, k = self.events, v.shape[1], stack.outputs, len(self.cells)
            planes, conv, steps = len(shape.weights), shape.conversions, shape.timesteps
            if transposed:
                e.transposed_vectors += n
                e.transposed_macs += float(n * n_in * n_out)
            else:
                e.vectors += n
                e.macs += float(n * n_in * n_out)
            e.mvms += n * planes * (k if transposed else 1)
            e.dac_conversions += n * planes * n_in * (k if transposed else 1)
            e.adc_conversions += n * conv * n_out * k
            e.slices += n * conv * (k if transposed else 1)
            e.timesteps += n * steps * (k if transposed else 1)
            e.integrations += n * steps * n_out * k
            e.cell_energy_J += float(joules.sum())
            if wire_J is not None:
                e.wire_energy_J += float(wire_J.sum())

        driven: list[torch.Tensor] = []
        # the training-step cost prices every drive slot (dac_conversions): no pulse count needed
        y = analog_matmul(v, stack.op, state, self.config, self.gen, 0, count, driven, count_pulses=False)
        vq = driven[0]
        if stack.blocks > 1:
            y = y.view(n, stack.blocks, stack.outputs).sum(1)
        return vq, y[:, : stack.outputs] if y.shape[1] != stack.outputs else y

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Forward kernel; the backward pass runs the transposed kernel and records (x, d)."""
        ref = getattr(self.weight, "_onchip_layer", None)
        if ref is None or ref() is not self:  # lost in a deep copy: the optimizer finds layers by it
            self.weight._onchip_layer = weakref.ref(self)  # type: ignore[attr-defined]
        if self.weight._version != getattr(self, "_synced", -1):  # changed outside the cells
            self.write_weights(self.weight.detach())
        lead = x.shape[:-1]
        y = _Kernels.apply(x.reshape(-1, self.in_features), self.weight, self)
        y = y.reshape(*lead, self.out_features)
        return y + self.bias if self.bias is not None else y

    def extra_repr(self) -> str:
        """Matrix size, cells per weight, weight range and config."""
        return (f"{self.in_features}x{self.out_features}, cells_per_weight={len(self.cells)}, "
                f"w_max={self.w_max:.3g}, config={self.config.name!r}")  # fmt: skip


def to_onchip(
    model: nn.Module,
    config: Config | str | dict[str, Any] | None = "marinella2018",
    range_factor: float = 2.0,
    cells_per_weight: int = 1,
    carry_base: float = 8.0,
) -> nn.Module:
    """A copy of ``model`` whose ``nn.Linear`` layers are trained on the chip (:class:`OnChipLinear`)."""
    cfg = load_config(config)
    out = copy.deepcopy(model)
    targets = [(n, m) for n, m in out.named_modules() if isinstance(m, nn.Linear)]
    if not targets:
        raise ValueError("to_onchip: the model has no nn.Linear layer to put on the chip")
    for index, (name, m) in enumerate(targets):
        layer = OnChipLinear(m, cfg, index, range_factor, cells_per_weight, carry_base)
        parent_name, _, child = name.rpartition(".")
        setattr(out.get_submodule(parent_name), child, layer)
    return out


def onchip_layers(model: nn.Module) -> list[OnChipLinear]:
    """The model's on-chip layers, in order."""
    return [m for m in model.modules() if isinstance(m, OnChipLinear)]


def onchip_events(model: nn.Module) -> dict[str, float]:
    """The summed event counts of all on-chip layers."""
    return sum((m.events for m in onchip_layers(model)), EventCounts()).as_dict()


def reset_onchip_events(model: nn.Module) -> None:
    """Zero the event counts of all on-chip layers."""
    for m in onchip_layers(model):
        m.events = EventCounts()
