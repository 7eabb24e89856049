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
from typing import Any, Protocol

import numpy as np
import torch

from reram.array.mvm import floating_line_V
from reram.array.noise import add_line_noise_
from reram.config import Config, DACConfig
from reram.periphery import adc_levels, encode_inputs, percentile_abs
from reram.periphery.adc import add_sampling_noise_, correct_, distort_, max_abs, to_codes_
from reram.periphery.dac import InputPlanes, driven_values
from reram.periphery.neuron import integrate
from reram.rng import gaussian_like

# per tile, per read: the kinds an inference read counts (the cost model's workload)
EVENT_KINDS = (
    "vectors",
    "mvms",
    "macs",
    "cell_reads",
    "dac_conversions",
    "read_pulses",
    "adc_conversions",
    "slices",
    "timesteps",
    "integrations",
    "shift_adds",
    "psum_adds",
    "cell_energy_J",
    "wire_energy_J",
)


@dataclass
class EventCounts:
    """Events of the chip: one vocabulary for every kernel (forward and transposed reads,
    outer-product updates, programming). Counts are numbers of events; energies in joules.

    Attributes:
        vectors: input vectors read with the rows driven (one per sample per output position).
        transposed_vectors: input vectors read with the columns driven (TNSA, backpropagation).
        mvms: array activations (one per input plane per input vector per tile or phase).
        macs, transposed_macs: multiply-accumulates of those reads (logical weights x vectors).
        cell_reads: cells read (cells x planes x input vectors).
        dac_conversions: line drive slots of the reads (driven lines x planes x input vectors).
        read_pulses: read drive slots with a non-zero pulse (the slots a driver actually switches).
        adc_conversions: conversions of sensed lines (lines x conversions x input vectors; a
            conversion per plane, or per slice when the neuron integrates the planes).
        slices: conversion rounds of an array (conversions x input vectors): the latency's.
        timesteps: sample-and-integrate steps of an array (planes' repeats x input vectors): the
            settled line of bit j of an integrated slice is sampled 2**j times.
        integrations: sample-and-integrate steps of sensed lines (lines x timesteps x vectors).
        shift_adds: digital shift-add operations that recombine input planes.
        psum_adds: digital additions accumulating partial sums across tiles.
        cell_energy_J: energy the reads dissipated in the cells: the sum over pulses and cells of
            (V_row - V_col)^2 G t_pulse, from the same voltages and conductances the read used
            (with exact IR drop, from the solved node voltages: ``reram.array.energy``).
        wire_energy_J: energy the reads dissipated in the wires, driver and sense resistances and
            access transistors (exact IR drop, current sensing; 0 with ideal wires).
        update_samples: outer-product updates (samples) applied.
        update_row_pulses, update_col_pulses: update pulses fired on rows and on columns.
        update_cell_pulses: full-selected cell pulses (coincidences, and programmed pulses).
        half_selected: cell-pulse slots where only the row or only the column fired.
        update_cell_J: energy update pulses dissipated in the cells, sum V^2 G t over selected
            (V = v_write) and half-selected (V = v_write / 2) cell pulses.
        programmed_cells: cells written by write-verify (carry resets, digital write-backs).
        verify_rows: rows written by write-verify (each cell of a row verified in parallel).
        program_slots: pulse slots of row-by-row open-loop programming: per row, the largest
            SET count plus the largest RESET count.
        digital_macs: multiply-accumulates done digitally (mixed precision's accumulator).

    """

    vectors: float = 0
    transposed_vectors: float = 0
    mvms: float = 0
    macs: float = 0
    transposed_macs: float = 0
    cell_reads: float = 0
    dac_conversions: float = 0
    read_pulses: float = 0
    adc_conversions: float = 0
    slices: float = 0
    timesteps: float = 0
    integrations: float = 0
    shift_adds: float = 0
    psum_adds: float = 0
    cell_energy_J: float = 0.0
    wire_energy_J: float = 0.0
    update_samples: float = 0
    update_row_pulses: float = 0
    update_col_pulses: float = 0
    update_cell_pulses: float = 0
    half_selected: float = 0
    update_cell_J: float = 0.0
    programmed_cells: float = 0
    verify_rows: float = 0
    program_slots: float = 0
    digital_macs: float = 0

    def __add__(self, other: EventCounts) -> EventCounts:
        return EventCounts(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def as_dict(self) -> dict[str, float]:
        """Plain dict of counts (energies in joules)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _number(v: float) -> Any:
    """A count as an int when it is whole (counted runs), else a float (analytic profiles)."""
    return int(v) if float(v).is_integer() else float(v)


class TileEvents:
    """Per-tile event counters of one layer; counts follow from shapes and plane counts.

    Args:
        tiles: (row tile, column tile, weight rows used, weight columns used) per tile.
        cells_per_row, cells_per_col: cells one weight occupies along a column / a row.

    """

    SHAPE_KINDS = (
        "vectors",
        "mvms",
        "macs",
        "cell_reads",
        "dac_conversions",
        "adc_conversions",
        "slices",
        "timesteps",
        "integrations",
        "shift_adds",
        "psum_adds",
    )

    def __init__(self, tiles: list[tuple[int, int, int, int]], cells_per_row: int, cells_per_col: int):
        unit = []
        for r, _c, rows, cols in tiles:
            cr, cc = rows * cells_per_row, cols * cells_per_col
            unit.append([1, 1, rows * cols, cr * cc, cr, cols, 1, 1, cols, cols, cols if r > 0 else 0])
        # float64 holds every integer count exactly (to 2**53) and the analytic path's mean planes
        self.unit = np.asarray(unit, dtype=np.float64)
        self.counts = np.zeros_like(self.unit)
        self.read_pulses = np.zeros(len(tiles), dtype=np.float64)
        self.cell_energy_J = np.zeros(len(tiles), dtype=np.float64)
        self.wire_energy_J = np.zeros(len(tiles), dtype=np.float64)

    def add(
        self, vectors: float, planes: float, conversions: float | None = None, timesteps: float | None = None
    ) -> None:
        """Count one read of every tile by ``vectors`` input vectors of ``planes`` planes, each
        vector ``conversions`` conversions per line and ``timesteps`` drive timesteps (both
        default: one per plane) (the counted path: whole numbers; the analytic path: an activity
        profile's means).
        """
        conv = planes if conversions is None else conversions
        steps = planes if timesteps is None else timesteps
        mult = np.asarray([1, planes, 1, planes, planes, conv, conv, steps, steps, conv - 1, 1], dtype=np.float64)
        mult *= vectors
        self.counts += self.unit * mult

    def add_measured(
        self, read_pulses: np.ndarray, cell_energy_J: np.ndarray, wire_energy_J: np.ndarray | None = None
    ) -> None:
        """Add the data-dependent counts of one read, per tile (pulses switched, joules in the
        cells and in the wires).
        """
        self.read_pulses += read_pulses
        self.cell_energy_J += cell_energy_J
        if wire_energy_J is not None:
            self.wire_energy_J += wire_energy_J

    def _row(self, k: int) -> EventCounts:
        c = {kind: _number(v) for kind, v in zip(self.SHAPE_KINDS, self.counts[k], strict=True)}
        return EventCounts(**c, read_pulses=_number(self.read_pulses[k]), cell_energy_J=float(self.cell_energy_J[k]),
                           wire_energy_J=float(self.wire_energy_J[k]))  # fmt: skip

    def per_tile(self) -> list[EventCounts]:
        """Counts per tile, in the layer's tile order."""
        return [self._row(k) for k in range(len(self.counts))]

    def total(self) -> EventCounts:
        """Counts summed over the layer's tiles."""
        return sum(self.per_tile(), EventCounts())

    def reset(self) -> None:
        """Zero the counters."""
        self.counts[:] = 0
        self.read_pulses[:] = 0
        self.cell_energy_J[:] = 0.0
        self.wire_energy_J[:] = 0.0


class ArrayOp(Protocol):
    """The array product of a tile stack, for a flat batch of input planes (volts)."""

    def currents(self, v_V: torch.Tensor) -> torch.Tensor:
        """(N, tiles, cols, *spatial) column currents (amperes) for row voltages ``v_V``."""
        ...

    def square_sums(self, v_sq: torch.Tensor) -> torch.Tensor:
        """(N, tiles, 1, *spatial) sum over each tile's rows of V**2 (volts squared)."""
        ...

    @property
    def g_row_S(self) -> torch.Tensor:
        """(row tiles, rows, column tiles) conductance on each input row of each array, both
        cells of every pair (siemens).
        """
        ...

    def row_totals(self, a: torch.Tensor, g_row: torch.Tensor) -> torch.Tensor:
        """(row tiles, k) sum over inputs, output positions and rows of ``a`` x ``g_row[..., k]``.

        ``a`` has the inputs' shape; ``g_row`` is (row tiles, rows, k) (per-row weights).
        """
        ...

    def col_tile_sums(self, per_col: torch.Tensor) -> torch.Tensor:
        """(row tiles, cols) -> (row tiles, column tiles): sums over each array's columns."""
        ...


@dataclass
class PeripheryState:
    """Calibrated periphery of one tile stack (tensors are the owner's buffers).

    Attributes:
        x_range: input full scale (input units); 0 = not calibrated: per-batch max |x|.
        adc_fs: (tiles, cols) ADC full scale (amperes, or volts in voltage mode).
        gain: (tiles, cols) digital scale from ADC units back to output units per input unit.
        gsum_S: (tiles, cols) physical column conductance sums (siemens), voltage mode.
        calibrating: if True, update x_range and adc_fs from this batch (running max).
        first_batch: True on the first calibration batch (replaces instead of max).
        auto_adc: set the ADC full scale from this read's own signals (``periphery.adc.range``
            and ``percentile``), every read: on-chip training, whose weights change every step.
        adc_pattern: (2, tiles, cols) the converters' gain and offset fixed pattern, or None.

    """

    x_range: torch.Tensor
    adc_fs: torch.Tensor
    gain: torch.Tensor
    gsum_S: torch.Tensor
    calibrating: bool = False
    first_batch: bool = False
    auto_adc: bool = False
    adc_pattern: torch.Tensor | None = None


def _running(buf: torch.Tensor, value: torch.Tensor, first: bool) -> None:
    buf.copy_(value if first else torch.maximum(buf, value))


def _input_range(x: torch.Tensor, state: PeripheryState, cfg: Config) -> torch.Tensor:
    """The DAC's full scale for this batch: calibrated, being calibrated, or the batch's max |x|."""
    if state.calibrating:
        _running(state.x_range, percentile_abs(x.reshape(1, -1), cfg.periphery.dac.percentile)[0], state.first_batch)
        return state.x_range
    if float(state.x_range) > 0:
        return state.x_range
    return x.detach().abs().amax().clamp_min(torch.finfo(x.dtype).tiny)


def _set_adc_range(signal: torch.Tensor, state: PeripheryState, cfg: Config) -> None:
    """Calibration of the ADC full scale: the configured percentile of |signal| per column or layer."""
    adc = cfg.periphery.adc
    if adc.percentile >= 100:  # the maximum: one reduction over the signal as it lies, no copy
        if adc.range == "column":
            dims = (0, *range(3, signal.dim()))
            fs = signal.detach().abs().amax(dim=dims)
        else:
            fs = torch.full_like(state.adc_fs, max_abs(signal))
    else:
        flat = signal.detach().movedim(0, -1).reshape(*state.adc_fs.shape, -1)
        if adc.range == "column":
            fs = percentile_abs(flat, adc.percentile)
        else:
            fs = percentile_abs(flat.reshape(1, -1), adc.percentile).expand_as(state.adc_fs)
    # a column that saw no signal (inputs always zero on its rows) takes the busiest column's range
    fs = torch.where(fs > 0, fs, fs.amax()).clamp_min(torch.finfo(signal.dtype).tiny)
    _running(state.adc_fs, fs, state.first_batch or state.auto_adc)


def analog_matmul(
    x: torch.Tensor,
    op: ArrayOp,
    state: PeripheryState,
    cfg: Config,
    gen: torch.Generator | None,
    spatial: int,
    on_read: Callable[[InputPlanes, torch.Tensor, torch.Tensor, torch.Tensor | None], None] | None = None,
    driven: list[torch.Tensor] | None = None,
    count_pulses: bool = True,
) -> torch.Tensor:
    """Run inputs ``x`` (N, ...) through the tile stack as the chip would.

    Args:
        x: inputs (input units), batch first.
        op: the array product of the tile stack.
        state: the stack's periphery state (calibration updates it in place).
        cfg: system config (DAC, ADC, read voltage, read noise).
        gen: generator for read noise.
        spatial: number of spatial dims after (tiles, cols) in the op's output.
        on_read: called as ``on_read(planes, read_pulses, cell_energy_J, wire_energy_J)`` for the
            event counts: the input planes (their count, conversions and timesteps), the non-zero
            row pulses per tile (tiles, 1) and the joules dissipated in the cells and in the
            wires per array (tiles, column groups; wires None when ideal).
        driven: if given, the inputs as the DAC drove them (input units) are appended to it.
        count_pulses: count the non-zero row pulses for ``on_read`` (False: zeros, for callers
            whose cost model prices every drive slot alike).

    Returns:
        (N, cols, *spatial) outputs in output units (weights x inputs), before bias.

    """
    dac, adc = cfg.periphery.dac, cfg.periphery.adc
    x_range = _input_range(x, state, cfg)
    # DAC: pulse planes, in volts
    planes = encode_inputs(x, x_range, dac, cfg.array.v_read_V)
    if driven is not None:
        driven.append(driven_values(planes, x_range, dac, cfg.array.v_read_V))
    v = planes.planes.flatten(0, 1)
    # array: column currents (amperes), read noise in distribution
    v0 = cfg.device.iv_v0_V
    drive = v if v0 == 0 else v0 * torch.sinh(v / v0)  # a cell passes I = G v0 sinh(V / v0): ohmic at v0 = 0
    i = op.currents(drive)
    v_sq = drive * drive
    add_line_noise_(i, op, drive, v_sq, cfg, gen)
    if v0:
        v_sq = v * drive  # the power a cell dissipates per siemens: I V / G
    view = (1, *state.adc_fs.shape) + (1,) * spatial
    wire_J = None
    if on_read is not None:  # cell energy with the bit lines held at 0 V: sum V^2 G t, one pulse per plane
        g_row = op.g_row_S
        solved = op.read_energy(v) if hasattr(op, "read_energy") else None
        if solved is None:
            joules = op.row_totals(v_sq, g_row).double()
        else:  # a wired array: the solved node voltages' quadratic forms (reram.array.energy)
            joules, wire_J = solved[0].double(), solved[1].double() * cfg.array.t_pulse_s
        if count_pulses:
            nonzero = torch.count_nonzero(v, dim=0).unsqueeze(0).to(v.dtype)  # pulsed slots, summed over inputs
            pulses = op.row_totals(nonzero, torch.ones_like(g_row[..., :1]))
        else:
            pulses = torch.zeros(g_row.shape[0], 1, dtype=v.dtype, device=v.device)
    if adc.sensing == "voltage" and v0:  # floating line of sinh cells: sum G sinh((V - V_bl) / v0) = 0
        i.copy_(floating_line_V(i, op, v, state.gsum_S.view(view), v0))
    elif adc.sensing == "voltage":  # floating bit line: V = sum(V G) / sum(G)
        i.div_(state.gsum_S.view(view))
        if on_read is not None:  # sum G (V - V_bl)^2 = sum G V^2 - V_bl^2 sum G, per column
            bl = (i * i).sum(0).flatten(2).sum(-1) if spatial else (i * i).sum(0)
            joules = joules - op.col_tile_sums(bl * state.gsum_S).double()
    weights, samples = planes.weights, [1] * len(planes.weights)
    if planes.slices is not None:  # the neuron integrates the planes' charge, then converts once per slice
        i, weights = integrate(i, planes)
        samples = [sum(planes.repeats[p] for p in group) for group in planes.slices]
    if cfg.device.read_noise_model == "physical" and adc.sample_cap_F > 0:  # kT/C on every sample
        kelvin = getattr(op, "read_K", None) or cfg.device.t_ref_K
        add_sampling_noise_(i, samples, adc, kelvin, cfg.array.t_pulse_s, gen)
    if state.calibrating or state.auto_adc:
        _set_adc_range(i, state, cfg)
    # ADC: integer codes; the step size is folded into the digital scale below
    step = state.adc_fs / adc_levels(adc.bits)
    if adc.inl_lsb or state.adc_pattern is not None:
        distort_(i, state.adc_fs, state.adc_pattern, adc, view)
    if adc.noise_lsb > 0:  # the comparator's input-referred noise, every conversion
        i.addcmul_(gaussian_like(i, gen), step.view(view), value=adc.noise_lsb)
    codes = correct_(to_codes_(i, step.view(view), adc.bits), state.adc_pattern, adc, view)
    if on_read is not None:
        on_read(planes, pulses, joules * cfg.array.t_pulse_s, wire_J)
    return _digital_sum(codes, weights, step * state.gain, x_range, dac, view)


def _digital_sum(
    codes: torch.Tensor, weights: list[float], unit: torch.Tensor, x_range: torch.Tensor, dac: DACConfig, view: tuple
) -> torch.Tensor:
    """Digital side: shift-add the planes' codes, scale to output units, accumulate the tiles' partial sums.

    Args:
        codes: (planes * N, tiles, cols, *spatial) ADC codes.
        weights: the planes' recombination weights.
        unit: (tiles, cols) output units per code per unit input.
        x_range: the DAC's full scale (input units).
        dac: the DAC (bit-serial plane weights count input codes).
        view: shape that broadcasts a (tiles, cols) tensor over the codes of one plane.

    """
    n_planes = len(weights)
    codes = codes.view(n_planes, -1, *codes.shape[1:])
    y = codes[0]
    if n_planes > 1:
        y = y * weights[0]
        for p in range(1, n_planes):
            y.add_(codes[p], alpha=weights[p])
    scale = (unit * (x_range * weights[0] if n_planes == 1 else x_range)).view(view)
    if dac.bit_serial:  # plane weights 2**j count input codes; codes / (2**m - 1) = x / x_range
        scale = scale / (2**dac.magnitude_bits - 1)
    out = y[:, 0] * scale[:, 0]
    for t in range(1, y.shape[1]):  # partial sums of the tiles, accumulated digitally
        out.addcmul_(y[:, t], scale[:, t])
    return out
