"""The arrays of an on-chip-trained layer as tile stacks, for the shared read pipeline.

Layout (as in ``reram.array.onchip_wires``): weight (j, i) is K cells (K = 1, or 2 for periodic
carry) on input row i, in K columns of output j, beside a reference column at mid-window
conductance g_ref; the matrix is cut into arrays of ``array.rows`` rows and as many whole
output groups (K + 1 columns) as fit in ``array.cols`` columns. Each cell column's current is
taken against its output's reference column (G_k - g_ref), converted by its own ADC and weighted
digitally by the cell's significance, so a read honours every periphery setting an inference
layer does (bit-serial or multi-level inputs, sensing mode, ADC bits, range and percentile).

- forward (rows driven, columns sensed): one stack of row tiles whose columns are the K cell
  columns of every output (K blocks of ``out``);
- transposed (columns driven, rows sensed): for each cell k and each block of outputs of one
  array width, the rows' currents; the K cells are driven in K phases and combined digitally.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from reram.array.mvm import StackOp, repeated_grouping, row_grouping, transposed_stack
from reram.config import Config


@dataclass
class ReadStack:
    """One direction of an on-chip layer's reads.

    Attributes:
        op: the array product (tiles, rows, cols).
        gain: (tiles, cols) output units per ADC unit per input unit (significance included).
        gsum_S: (tiles, cols) conductance on each sensed line (siemens; voltage sensing).
        outputs: outputs per block of columns (the read's result width).
        blocks: blocks of columns to add digitally (K forward, 1 transposed).

    """

    op: StackOp
    gain: torch.Tensor
    gsum_S: torch.Tensor
    outputs: int
    blocks: int


def grid_of(n_in: int, n_out: int, cells: int, cfg: Config) -> tuple[int, int, int]:
    """(row tiles, rows per tile, outputs per array) of the layout."""
    rows = min(cfg.array.rows, n_in)
    return -(-n_in // rows), rows, max(1, cfg.array.cols // (cells + 1))


def _pack(m: torch.Tensor, tiles: int, rows: int) -> torch.Tensor:
    """(in, cols) -> (tiles, rows, cols), zero rows at the end."""
    pad = tiles * rows - m.shape[0]
    if pad:
        m = torch.cat([m, m.new_zeros(pad, m.shape[1])])
    return m.view(tiles, rows, m.shape[1])


def forward_stack(
    cells_S: list[torch.Tensor], diffs_S: list[torch.Tensor], significance: list[float], cfg: Config
) -> ReadStack:
    """The forward reads' stack.

    Args:
        cells_S: K (out, in) cell conductances (siemens), most significant first.
        diffs_S: K (out, in) what one row volt adds to each cell column's current against its
            reference (siemens): G_k - g_ref, or the wired arrays' effective difference.
        significance: weight per unit normalised conductance of each cell.
        cfg: the chip.

    """
    dev, v_read = cfg.device, cfg.array.v_read_V
    span, g_ref = dev.g_max_S - dev.g_min_S, (dev.g_max_S + dev.g_min_S) / 2
    n_out, n_in = cells_S[0].shape
    t, r, _ = grid_of(n_in, n_out, len(cells_S), cfg)
    gdiff = torch.cat([_pack(d.T, t, r) for d in diffs_S], -1)  # (t, r, K out)
    gain = torch.cat([torch.full((t, n_out), s / (v_read * span)) for s in significance], -1).to(gdiff)
    rows_used = _pack(torch.ones(n_in, 1, dtype=gdiff.dtype, device=gdiff.device), t, r).sum(1)  # (t, 1)
    gsum = torch.cat([_pack(g.T, t, r).sum(1) for g in cells_S], -1) + rows_used * g_ref
    g_row = sum(_pack(g.sum(0, keepdim=True).T, t, r) for g in cells_S) + n_out * g_ref  # (t, r, 1)
    g_row = g_row * _pack(torch.ones(n_in, 1, dtype=gdiff.dtype, device=gdiff.device), t, r)  # padded rows: none
    return _stack(StackOp(gdiff, row_grouping(t, r), g_row), gain, gsum, n_out, len(cells_S), cfg)


def transposed_stack_of(
    cells_S: list[torch.Tensor], diffs_S: list[torch.Tensor], significance: list[float], cfg: Config
) -> ReadStack:
    """The transposed reads' stack (arguments as :func:`forward_stack`)."""
    dev, v_read = cfg.device, cfg.array.v_read_V
    span, g_ref = dev.g_max_S - dev.g_min_S, (dev.g_max_S + dev.g_min_S) / 2
    n_out, n_in = cells_S[0].shape
    t, r, ct = grid_of(n_in, n_out, len(cells_S), cfg)
    n_col = -(-n_out // ct)
    gt = torch.cat([transposed_stack(_pack(d.T, t, r), ct) for d in diffs_S])  # (K n_col, ct, t r)
    gain = torch.cat([torch.full((n_col, t * r), s / (v_read * span)) for s in significance]).to(gt)
    outs = torch.ones(1, 1, n_out, dtype=gt.dtype, device=gt.device)
    per_block = transposed_stack(outs.expand(t, r, n_out), ct).sum(1)  # (n_col, t r): outputs in each array
    gsum = torch.cat([transposed_stack(_pack(g.T, t, r), ct).sum(1) for g in cells_S]) + per_block * g_ref
    lines = [g.sum(1) + n_in * g_ref for g in cells_S]  # (out,) conductance on each driven column line
    g_col = torch.cat([torch.nn.functional.pad(x, (0, n_col * ct - n_out)).view(n_col, ct, 1) for x in lines])
    group = repeated_grouping(row_grouping(n_col, ct), len(cells_S))
    return _stack(StackOp(gt, group, g_col), gain, gsum, n_in, 1, cfg)


def _stack(op: StackOp, gain: torch.Tensor, gsum: torch.Tensor, outputs: int, blocks: int, cfg: Config) -> ReadStack:
    """The stack with its digital gain; voltage sensing reads sum(V G) / sum(G) per sensed line,
    which the gain multiplies back by the line's conductance (the cells' present state).
    """
    if cfg.periphery.adc.sensing == "voltage":
        gain = gain * gsum
    return ReadStack(op, gain, gsum.clamp_min(1e-30), outputs, blocks)
