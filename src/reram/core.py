"""One analog MVM as the chip does it, on a stack of tiles at once, with event counts.

DAC (input planes) -> array (column currents, read noise) -> sensing (current or voltage mode)
-> ADC (full scale, bits) -> digital (shift-add of planes, sign phases, scale, partial-sum
accumulation over row tiles). The array product itself is supplied by the caller as an
:class:`ArrayOp` (a batched matmul for Linear, a grouped convolution for Conv), so one code path
serves every layer type.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Protocol

import numpy as np
import torch

from reram.array import add_read_noise_
from reram.config import Config
from reram.periphery import adc_levels, encode_inputs, percentile_abs

EVENT_KINDS = ("mvms", "cell_reads", "dac_conversions", "adc_conversions", "shift_adds", "psum_adds")


@dataclass
class EventCounts:
    """Events of analog compute.

    Attributes:
        mvms: array activations (one per input plane per input vector per tile).
        cell_reads: cells read (cells x planes x input vectors).
        dac_conversions: row drives (rows x planes x input vectors).
        adc_conversions: column conversions (columns x planes x input vectors).
        shift_adds: digital shift-add operations that recombine input planes.
        psum_adds: digital additions accumulating partial sums across row tiles.

    """

    mvms: int = 0
    cell_reads: int = 0
    dac_conversions: int = 0
    adc_conversions: int = 0
    shift_adds: int = 0
    psum_adds: int = 0

    def __add__(self, other: EventCounts) -> EventCounts:
        return EventCounts(*(getattr(self, k) + getattr(other, k) for k in EVENT_KINDS))

    def as_dict(self) -> dict[str, int]:
        """Plain dict of counts."""
        return {f.name: int(getattr(self, f.name)) for f in fields(self)}


class TileEvents:
    """Per-tile event counters of one layer; counts follow from shapes and plane counts.

    Args:
        tiles: (row tile, column tile, weight rows used, weight columns used) per tile.
        cells_per_row, cells_per_col: cells one weight occupies along a column / a row.

    """

    def __init__(self, tiles: list[tuple[int, int, int, int]], cells_per_row: int, cells_per_col: int):
        unit = []
        for r, _c, rows, cols in tiles:
            cr, cc = rows * cells_per_row, cols * cells_per_col
            unit.append([1, cr * cc, cr, cols, cols, cols if r > 0 else 0])
        self.unit = np.asarray(unit, dtype=np.int64)
        self.counts = np.zeros_like(self.unit)

    def add(self, vectors: int, planes: int) -> None:
        """Count one read of every tile by ``vectors`` input vectors of ``planes`` planes."""
        mult = np.asarray([planes, planes, planes, planes, planes - 1, 1], dtype=np.int64) * vectors
        self.counts += self.unit * mult

    def per_tile(self) -> list[EventCounts]:
        """Counts per tile, in the layer's tile order."""
        return [EventCounts(*map(int, row)) for row in self.counts]

    def total(self) -> EventCounts:
        """Counts summed over the layer's tiles."""
        return EventCounts(*map(int, self.counts.sum(0)))

    def reset(self) -> None:
        """Zero the counters."""
        self.counts[:] = 0


class ArrayOp(Protocol):
    """The array product of a tile stack, for a flat batch of input planes (volts)."""

    def currents(self, v_V: torch.Tensor) -> torch.Tensor:
        """(N, tiles, cols, *spatial) column currents (amperes) for row voltages ``v_V``."""
        ...

    def square_sums(self, v_sq: torch.Tensor) -> torch.Tensor:
        """(N, tiles, 1, *spatial) sum over each tile's rows of V**2 (volts squared)."""
        ...


@dataclass
class PeripheryState:
    """Calibrated periphery of one layer's tile stack (tensors are the layer's buffers).

    Attributes:
        x_range: input full scale (input units); 0 = not calibrated: per-batch max |x|.
        adc_fs: (tiles, cols) ADC full scale (amperes, or volts in voltage mode).
        gain: (tiles, cols) digital scale from ADC units back to output units per input unit.
        gsum_S: (tiles, cols) physical column conductance sums (siemens), voltage mode.
        calibrating: if True, update x_range and adc_fs from this batch (running max).
        first_batch: True on the first calibration batch (replaces instead of max).

    """

    x_range: torch.Tensor
    adc_fs: torch.Tensor
    gain: torch.Tensor
    gsum_S: torch.Tensor
    calibrating: bool = False
    first_batch: bool = False


def _running(buf: torch.Tensor, value: torch.Tensor, first: bool) -> None:
    buf.copy_(value if first else torch.maximum(buf, value))


def analog_matmul(
    x: torch.Tensor,
    op: ArrayOp,
    state: PeripheryState,
    cfg: Config,
    gen: torch.Generator | None,
    spatial: int,
    on_planes: Callable[[int], None] | None = None,
) -> torch.Tensor:
    """Run inputs ``x`` (N, ...) through the tile stack as the chip would.

    Args:
        x: layer inputs (input units), batch first.
        op: the array product of the tile stack.
        state: the layer's periphery state (calibration updates it in place).
        cfg: system config (DAC, ADC, read voltage, read noise).
        gen: generator for read noise.
        spatial: number of spatial dims after (tiles, cols) in the op's output.
        on_planes: called with the number of input planes used (for event counts).

    Returns:
        (N, cols, *spatial) outputs in output units (weights x inputs), before bias.

    """
    dac, adc = cfg.periphery.dac, cfg.periphery.adc
    if state.calibrating:
        _running(state.x_range, percentile_abs(x.reshape(1, -1), dac.percentile)[0], state.first_batch)
        x_range = state.x_range
    elif float(state.x_range) > 0:
        x_range = state.x_range
    else:
        x_range = x.detach().abs().amax().clamp_min(torch.finfo(x.dtype).tiny)
    # DAC: pulse planes, in volts
    planes = encode_inputs(x, x_range, dac, cfg.array.v_read_V)
    n_planes = len(planes.weights)
    v = planes.planes.flatten(0, 1)
    # array: column currents (amperes), read noise in distribution
    i = op.currents(v)
    sigma = cfg.device.read_sigma_S
    if sigma > 0:
        add_read_noise_(i, op.square_sums(v * v), sigma, gen)
    view = (1, *state.adc_fs.shape) + (1,) * spatial
    if adc.sensing == "voltage":  # floating bit line: V = sum(V G) / sum(G)
        i.div_(state.gsum_S.view(view))
    if state.calibrating:
        flat = i.detach().movedim(0, -1).reshape(*state.adc_fs.shape, -1)
        if adc.range == "column":
            fs = percentile_abs(flat, adc.percentile)
        else:
            fs = percentile_abs(flat.reshape(1, -1), adc.percentile).expand_as(state.adc_fs)
        _running(state.adc_fs, fs.clamp_min(torch.finfo(i.dtype).tiny), state.first_batch)
    # ADC: integer codes; the step size is folded into the digital scale below
    top = adc_levels(adc.bits)
    step = state.adc_fs / top
    codes = i.mul_((1.0 / step).view(view)).round_().clamp_(-top, top)
    # digital: shift-add of planes, scale back to output units, accumulate row tiles
    codes = codes.view(n_planes, -1, *codes.shape[1:])
    y = codes[0]
    if n_planes > 1:
        y = y * planes.weights[0]
        for p in range(1, n_planes):
            y.add_(codes[p], alpha=planes.weights[p])
    scale = (step * state.gain * (x_range * planes.weights[0] if n_planes == 1 else x_range)).view(view)
    if dac.bit_serial:  # plane weights 2**j count input codes; codes / (2**bits - 1) = x / x_range
        scale = scale / (2**dac.bits - 1)
    if on_planes is not None:
        on_planes(n_planes)
    out = y[:, 0] * scale[:, 0]
    for t in range(1, y.shape[1]):  # partial sums of the row tiles, accumulated digitally
        out.addcmul_(y[:, t], scale[:, t])
    return out
