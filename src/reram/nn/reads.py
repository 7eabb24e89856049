"""How an analog layer reads a batch: its inputs in chunks of rows and, for a large layer whose
conductances are held in 16 bits, its outputs in blocks of whole arrays' columns, as a chip
streams its inputs and reads its arrays one after another (issue 19: memory).

Row chunks bound the read's currents (``CHUNK_BYTES``); column blocks bound the matrices a read
derives from the cells (``DERIVED_BYTES``: the weights' differences, the read-noise matrix),
which 16-bit storage builds per forward pass instead of keeping: each block's are built once,
read by every chunk of rows, and dropped. Every output column is converted by its own ADC and every array counts its
own events, so a block read gives the whole read's numbers (tested: outputs and events equal).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from reram.core import PeripheryState, analog_matmul
from reram.periphery.dac import InputPlanes, plane_counts

if TYPE_CHECKING:
    from reram.nn.layers import AnalogLayer

CHUNK_BYTES = 64 * 2**20  # a read's currents held at once (its temporaries: a few times this); larger batches in chunks
DERIVED_BYTES = 32 * 2**20  # a column block's derived matrices held at once (memory)
DERIVED_BYTES_PER_CELL_ROW = 8  # bytes per (row, column) a read derives: float32 differences, bfloat16 G and G^2


def column_blocks(layer: AnalogLayer, state: PeripheryState) -> list[slice]:
    """The output columns read together: all of them, unless the layer holds its cells in 16
    bits and the matrices a read derives from them would pass ``DERIVED_BYTES``; then blocks of
    whole arrays' columns. Not while an ADC range spans the layer (``adc.range = "layer"``
    being calibrated, on-chip ranges), nor with wired arrays (their matrices are per array
    stack) or convolutions.
    """
    g, cfg = layer.grid, layer.config
    whole = [slice(0, g.out_features)]
    if not layer.compact or layer._spatial() or state.auto_adc:
        return whole
    if (state.calibrating and cfg.periphery.adc.range == "layer") or (
        cfg.array.ir_drop != "off" and cfg.array.has_wires
    ):
        return whole
    per_col = DERIVED_BYTES_PER_CELL_ROW * g.n_row * g.rows_pad
    width = g.col_tile * max(1, DERIVED_BYTES // (per_col * g.col_tile))
    if width >= g.out_features:
        return whole
    return [slice(a, min(a + width, g.out_features)) for a in range(0, g.out_features, width)]


def chunk_rows(layer: AnalogLayer, flat: torch.Tensor, positions: int, state: PeripheryState, width: int) -> int:
    """Inputs read at once: all of them, unless the read's intermediates (currents of every
    plane, tile and column of ``width``) would pass ``CHUNK_BYTES``; then in chunks, one after
    another, as a chip streams its inputs. Never while calibrating or with the input range not
    yet calibrated (then the batch's own max |x| sets it: the whole batch), nor on-chip (the ADC
    ranges follow each read).
    """
    rows = flat.shape[0]
    if state.calibrating or state.auto_adc or rows <= 1 or not float(state.x_range) > 0:
        return max(rows, 1)
    planes = plane_counts(layer.config.periphery.dac, 2)[0]
    per_row = planes * layer.grid.n_row * width * (positions / rows) * flat.element_size()
    return max(1, min(rows, int(CHUNK_BYTES // max(per_row, 1.0))))


def _columns_of(state: PeripheryState, cols: slice) -> PeripheryState:
    pattern = None if state.adc_pattern is None else state.adc_pattern[..., cols]
    return PeripheryState(state.x_range, state.adc_fs[:, cols], state.gain[:, cols], state.gsum_S[:, cols],
                          state.calibrating, state.first_batch, state.auto_adc, pattern, state.x_min)  # fmt: skip


def read(layer: AnalogLayer, x: torch.Tensor, state: PeripheryState) -> torch.Tensor:
    """The analog product of ``x`` on ``layer``: column blocks, chunks of rows, events counted."""
    blocks = column_blocks(layer, state)
    out: torch.Tensor | None = None
    for b, cols in enumerate(blocks):
        if len(blocks) > 1:  # this block's matrices only: built on first use, dropped after
            layer._cache.clear()
            layer._cols = cols
        try:
            op, flat, unflat = layer._op(x)
            positions = flat.shape[0] * layer._positions_per_vector(flat)
            if b == 0:
                samples = x.shape[0] if x.dim() > 1 else 1
                layer.positions, layer.input_elements = positions // samples, x.numel() // samples
            block_state = _columns_of(state, cols) if len(blocks) > 1 else state
            width = cols.stop - cols.start
            parts = flat.detach().split(chunk_rows(layer, flat, positions, block_state, width))
            at = 0
            for part in parts:
                n = part.shape[0] * layer._positions_per_vector(part)

                def on_read(p: InputPlanes, pulses: torch.Tensor, joules: torch.Tensor, wire_J: Any, n: int = n,
                            first: bool = b == 0, cols: slice = cols) -> None:  # fmt: skip
                    count(layer, n, p, pulses, joules, wire_J, cols, first)

                y = analog_matmul(part, op, block_state, layer.config, layer._gen(1), layer._spatial(), on_read)
                if len(parts) == 1 and len(blocks) == 1:
                    return unflat(y)
                if out is None:  # the chunks' results written into one output (no list, no concatenation)
                    out = y.new_empty(flat.shape[0], layer.grid.out_features, *y.shape[2:])
                out[at : at + y.shape[0], cols] = y
                at += y.shape[0]
                del y
            del op
        finally:
            layer._cols = None
    assert out is not None
    return unflat(out)


def count(layer: AnalogLayer, vectors: int, planes: InputPlanes, pulses: torch.Tensor, joules: torch.Tensor,
          wire_J: torch.Tensor | None, cols: slice, first: bool) -> None:  # fmt: skip
    """Count one read of the arrays of the columns ``cols`` (each array its own pulses and
    joules); the shape counts of the whole layer once, with its first column block.
    """
    g, ev = layer.grid, layer.events
    if first:
        ev.add(vectors, len(planes.weights), planes.conversions, planes.timesteps)
    arrays = slice(cols.start // g.col_tile, cols.start // g.col_tile + joules.shape[-1])
    p = np.zeros((g.n_row, g.n_col))
    p[:, arrays] = pulses.detach().double().cpu().numpy().round()
    e = np.zeros((g.n_row, g.n_col))
    e[:, arrays] = joules.detach().cpu().numpy()
    w = None
    if wire_J is not None:
        w = np.zeros((g.n_row, g.n_col))
        w[:, arrays] = wire_J.detach().cpu().numpy()
    ev.add_measured(p.reshape(-1) * g.cells_per_weight_row, e.reshape(-1), None if w is None else w.reshape(-1))
