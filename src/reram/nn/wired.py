"""A layer's arrays with their wires: the effective matrices of the resistor networks and the read
energy's split between cells and wires (``array.ir_drop`` on), for :class:`AnalogLayer`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import torch

from reram.array import lines
from reram.array.circuit import effective_matrix
from reram.array.energy import differential_rows, first_order_forms
from reram.array.energy import energy_forms as solved_forms
from reram.array.network import Wires, wires_of

if TYPE_CHECKING:
    from reram.nn.layers import AnalogLayer

log = logging.getLogger("reram.nn.layers")


def effective_gdiff(layer: AnalogLayer) -> torch.Tensor:
    """(row tiles, rows, cols) the effective matrix of every array's resistor network (siemens,
    or volts per volt x sum G in voltage mode): what each weight contributes per row volt.
    """
    arr, g = layer.config.array, layer.grid
    wires = wires_of(arr)
    method = "first_order" if arr.ir_drop == "approx" else "exact"
    sensing = layer.config.periphery.adc.sensing
    out = layer.g_cells.new_zeros(layer.g_cells.shape[1:], dtype=layer.cells_dtype)
    for r, c, rows, cols in g.tiles():
        cs = slice(c * g.col_tile, c * g.col_tile + cols)
        g_read = layer.read_S()
        gp, gn = g_read[0, r, :rows, cs], g_read[1, r, :rows, cs]
        if arr.differential == "rows":  # G+ and G- rows interleaved, driven with +V and -V
            layout = torch.stack([gp, gn], 1).reshape(2 * rows, cols)
            a = effective_matrix(layout, wires, sensing, method)
            eff = a[0::2] - a[1::2]
        else:  # G+ and G- columns interleaved, subtracted after sensing
            layout = torch.stack([gp, gn], 2).reshape(rows, 2 * cols)
            a = effective_matrix(layout, wires, sensing, method)
            eff = a[:, 0::2] - a[:, 1::2]  # current: amperes per volt; voltage: the two lines' volts per volt
        if sensing == "voltage":  # bit-line volts per volt; the core divides by the pair's sum G
            eff = eff * (gp + gn).sum(0)
        out[r, :rows, cs] = eff.to(out.dtype)
        if method == "first_order" and not layer._warned_first_order:
            ga = layout / (1 + layout * wires.r_access) if wires.r_access > 0 else layout
            warn_out_of_range(layer, lines.first_order_drop(ga, wires.r_row, wires.r_col, wires.r_source,
                                                            wires.r_sense))  # fmt: skip
    return out


def warn_out_of_range(layer: Any, drop: float) -> None:
    """Log once per layer when its arrays' first-order IR drop is beyond the model's range."""
    if drop > lines.FIRST_ORDER_RANGE and not layer._warned_first_order:
        log.warning("layer %d: array.ir_drop = 'approx' out of its range: the wires take up to %.0f %% of a "
                    "cell's drive (first order holds to a few %% below %.0f %%; reads and their energy are "
                    "then wrong): use array.ir_drop = 'exact', or smaller arrays or wires",
                    layer.index, 100 * drop, 100 * lines.FIRST_ORDER_RANGE)  # fmt: skip
        layer._warned_first_order = True


def counts_wire_energy(layer: AnalogLayer) -> bool:
    """Whether reads count their energy from the arrays' power forms (IR drop on with wires:
    the solved node voltages for "exact", current or voltage sensing; first order for "approx",
    as its reads); otherwise from the ideal-wire formula.
    """
    arr = layer.config.array
    return arr.ir_drop != "off" and arr.has_wires


def energy_forms_of(layer: AnalogLayer) -> torch.Tensor:
    """(2, row tiles, column tiles, rows, rows) cell and wire power forms per V^2 of each
    array (siemens; ``reram.array.energy``: solved for exact IR drop, first order for approx),
    over the weight rows' drives.
    """
    arr, g = layer.config.array, layer.grid
    wires, sensing = wires_of(arr), layer.config.periphery.adc.sensing

    def energy_forms(g_S: torch.Tensor, wires: Wires, sensing: str) -> tuple[torch.Tensor, torch.Tensor]:
        return solved_forms(g_S, wires, sensing) if arr.ir_drop == "exact" else first_order_forms(g_S, wires)

    out = torch.zeros(2, g.n_row, g.n_col, g.rows_pad, g.rows_pad, dtype=torch.float64)
    g_read = layer.read_S()
    for r, c, rows, cols in g.tiles():
        cs = slice(c * g.col_tile, c * g.col_tile + cols)
        gp, gn = g_read[0, r, :rows, cs], g_read[1, r, :rows, cs]
        if arr.differential == "rows":  # +V on G+ rows, -V on G- rows
            cell_f, wire_f = energy_forms(torch.stack([gp, gn], 1).reshape(2 * rows, cols), wires, sensing)
            forms = (differential_rows(cell_f), differential_rows(wire_f))
        else:
            forms = energy_forms(torch.stack([gp, gn], 2).reshape(rows, 2 * cols), wires, sensing)
        for k in range(2):
            out[k, r, c, :rows, :rows] = forms[k]
    return out.to(layer.cells_dtype)
