"""One event vocabulary for every kernel: what the chip did, counted per tile.

:class:`EventCounts` names the events (reads forward and transposed, update pulses, programming,
digital work) with energies in joules; :class:`TileEvents` accumulates them per tile of one layer
from shapes and plane counts (the counted run) or from an activity profile's means (the analytic
cost path, ``reram.cost.workload``), the same formulas either way.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np

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

MEASURED_KINDS = ("read_pulses", "cell_energy_J", "wire_energy_J")  # counted from the drives, not the shapes


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

    SHAPE_KINDS = tuple(k for k in EVENT_KINDS if k not in MEASURED_KINDS)  # counted from the shapes

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
