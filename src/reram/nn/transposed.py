"""Transposed reads on the same programmed conductances (NeuRRAM's transposable array, TNSA).

A programmed :class:`~reram.nn.layers.AnalogLinear` computes y = x W^T with inputs on its rows
and outputs on its columns. NeuRRAM's cores also drive the columns and sense the rows, giving
x' = y W through the very same cells: an RBM's hidden-to-visible pass, or backpropagation's
transposed product. :class:`TransposedRead` does that read through the core's pipeline (DAC
planes on the column inputs, read noise, sensing on the rows, ADC, digital sum of the partial
sums of the column tiles), with its own calibrated periphery. Differential row pairs sense as
G+ - G- per weight row. The weight-to-conductance scale must be one per tile
(``array.scale = "tile"``) and the wires ideal (``array.ir_drop = "off"``): a per-column scale
cannot be undone after the rows sum across columns.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from reram.array import StackOp, row_grouping, transposed_stack
from reram.core import PeripheryState, analog_matmul
from reram.events import TileEvents
from reram.nn.layers import AnalogLinear
from reram.periphery.adc import mismatch
from reram.periphery.dac import InputPlanes


def _transposed_op(layer: AnalogLinear) -> StackOp:
    """Column-driven product of every array: (N, out) -> (N, column tiles, padded inputs) amperes."""
    g = layer.grid
    gt = transposed_stack(layer.gdiff(), g.col_tile)  # (column tiles, col_tile, row tiles * rows)
    # conductance on each driven column line within each row tile, both cells of every pair
    lines = F.pad(layer.g_S.sum((0, 2)), (0, g.n_col * g.col_tile - g.out_features))  # (row tiles, padded out)
    g_col = lines.view(g.n_row, g.n_col, g.col_tile).permute(1, 2, 0).contiguous()

    def cells() -> dict[str, torch.Tensor]:
        return {k: transposed_stack(layer.noise_cells()[k], g.col_tile) for k in ("g_tot", "g_sq")}

    return StackOp(gt, row_grouping(g.n_col, g.col_tile), g_col, g.rows_pad, cells_S=cells, read_K=layer.read_K)


class TransposedRead:
    """x' = y W on a programmed AnalogLinear's cells: (N, out_features) -> (N, in_features).

    Args:
        layer: a programmed :class:`AnalogLinear` (its present conductances are read; program or
            age the layer, then build a new TransposedRead).

    Raises:
        ValueError: per-column scales or IR drop in the layer's config; an unprogrammed layer.

    """

    def __init__(self, layer: AnalogLinear):
        cfg = layer.config
        if cfg.array.scale != "tile":
            raise ValueError(f"array.scale = {cfg.array.scale!r}: transposed reads need one scale per tile ('tile')")
        if cfg.array.ir_drop != "off":
            raise ValueError(f"array.ir_drop = {cfg.array.ir_drop!r}: transposed reads model ideal wires ('off')")
        if not bool(layer.programmed):
            raise ValueError("TransposedRead needs a programmed layer: call layer.program() first")
        self.layer = layer
        g = layer.grid
        with torch.no_grad():
            tc, target = layer.conductance_targets()  # target: (2, row tiles, rows, out)
            self._op = _transposed_op(layer)  # the programmed cells, read as they are now
            v_read = cfg.device.drive_V(cfg.array.v_read_V)

            def per_row(a: torch.Tensor) -> torch.Tensor:  # (row tiles, rows, out) -> (col tiles, padded inputs)
                a = F.pad(a, (0, g.n_col * g.col_tile - g.out_features))
                a = a.view(g.n_row, g.rows_pad, g.n_col, g.col_tile).sum(-1)
                return a.permute(2, 0, 1).reshape(g.n_col, g.n_row * g.rows_pad)

            s = tc.s_per_weight[:, :: g.col_tile]  # (row tiles, col tiles): one scale per tile
            gain = (1.0 / (v_read * s)).T[:, :, None].expand(-1, -1, g.rows_pad).reshape(g.n_col, -1)
            bound = v_read * per_row((target[0] - target[1]).abs())
            gsum = per_row(layer.branch_S().sum(0)).clamp_min(1e-30)
            if cfg.periphery.adc.sensing == "voltage":
                gsum_t = per_row(target.sum(0)).clamp_min(1e-30)
                gain, bound = gain * gsum_t, bound / gsum_t
            fill = bound.amax() if cfg.periphery.adc.range == "layer" else bound
            kw: dict[str, Any] = {"device": layer.weight.device, "dtype": layer.weight.dtype}
            self.x_range = torch.zeros((), **kw)
            self.adc_fs = torch.broadcast_to(fill, gain.shape).clamp_min(1e-30).to(**kw).clone()
            self.gain, self.gsum_S = gain.to(**kw).contiguous(), gsum.to(**kw)
        self._calibrating = False
        self._first = False
        self.adc_pattern = mismatch(tuple(self.adc_fs.shape), cfg.periphery.adc, layer._gen(5), self.adc_fs)
        # events: the arrays read the other way, (column tile, row tile) order, lines swapped
        tiles = [(c, r, cols, rows) for c in range(g.n_col) for r, cc, rows, cols in g.tiles() if cc == c]
        self.events = TileEvents(tiles, g.cells_per_weight_col, g.cells_per_weight_row)

    @torch.no_grad()
    def calibrate(self, batches: list[torch.Tensor]) -> TransposedRead:
        """Set the input and row-ADC full scales from column inputs (N, out_features)."""
        if not batches:
            raise ValueError("calibrate() got no batches: pass at least one input batch")
        self._calibrating, self._first = True, True
        try:
            for b in batches:
                self(b)
        finally:
            self._calibrating = False
        return self

    @torch.no_grad()
    def __call__(self, y: torch.Tensor) -> torch.Tensor:
        """Transposed analog product of column inputs ``y`` (N, out_features), no bias."""
        g = self.layer.grid
        if y.dim() != 2 or y.shape[1] != g.out_features:
            raise ValueError(f"input has shape {tuple(y.shape)}: a transposed read takes (N, {g.out_features})")
        state = PeripheryState(self.x_range, self.adc_fs, self.gain, self.gsum_S, self._calibrating, self._first,
                               adc_pattern=self.adc_pattern)  # fmt: skip
        self._first = False
        out = analog_matmul(y, self._op, state, self.layer.config, self.layer._gen(3), 0, self._count(y.shape[0]))
        return g.unpack(out.view(y.shape[0], g.n_row, g.rows_pad).permute(1, 2, 0)).T

    def _count(self, vectors: int) -> Any:
        def count(planes: InputPlanes, pulses: torch.Tensor, joules: torch.Tensor, wire_J: Any = None) -> None:
            self.events.add(vectors, len(planes.weights), planes.conversions, planes.timesteps)
            n_row, cells = self.layer.grid.n_row, self.layer.grid.cells_per_weight_col
            p = pulses.detach().double().expand(-1, n_row).reshape(-1).cpu().numpy().round()
            self.events.add_measured(p * cells, joules.detach().reshape(-1).cpu().numpy())

        return count
