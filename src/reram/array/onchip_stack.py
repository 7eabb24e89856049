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

The cells change at every update, so the stacks are rebuilt then: views of the cells' matrices
where the layer fits one array, and the parts that do not depend on the cells (gains, layout)
computed once per :class:`Layout`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from reram.array.mvm import StackOp, repeated_grouping, row_grouping, transposed_stack
from reram.config import Config
from reram.periphery.adc import mismatch


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
    pattern: torch.Tensor | None = None


class Layout:
    """Where an (out, in) layer of K cells per weight sits on arrays, and what does not change
    with the cells: row tiles (t of r rows), outputs per array (ct), the digital gains.
    """

    def __init__(self, n_in: int, n_out: int, significance: list[float], cfg: Config, like: torch.Tensor,
                 gen: torch.Generator | None = None):  # fmt: skip
        dev, arr = cfg.device, cfg.array
        k = len(significance)
        self.n_in, self.n_out, self.k, self.cfg = n_in, n_out, k, cfg
        self.r = min(arr.rows, n_in)
        self.t = -(-n_in // self.r)
        self.ct = min(max(1, arr.cols // (k + 1)), n_out)
        self.n_col = -(-n_out // self.ct)
        self.span, self.g_ref = dev.g_max_S - dev.g_min_S, (dev.g_max_S + dev.g_min_S) / 2
        unit = [s / (dev.drive_V(arr.v_read_V) * self.span) for s in significance]
        kw: dict[str, Any] = {"dtype": like.dtype, "device": like.device}
        self.gain_f = torch.cat([torch.full((self.t, n_out), u, **kw) for u in unit], -1)
        self.gain_t = torch.cat([torch.full((self.n_col, self.t * self.r), u, **kw) for u in unit])
        self.rows_used = self.pack(torch.ones(n_in, 1, **kw)).sum(1)  # (t, 1)
        self.voltage = cfg.periphery.adc.sensing == "voltage"
        adc = cfg.periphery.adc  # each direction's converters and their fixed pattern
        self.pattern_f = mismatch(tuple(self.gain_f.shape), adc, gen, like) if gen is not None else None
        self.pattern_t = mismatch(tuple(self.gain_t.shape), adc, gen, like) if gen is not None else None

    def pack(self, m: torch.Tensor) -> torch.Tensor:
        """(in, cols) -> (t, r, cols): zero rows at the end; a view when the layer fits one tile."""
        pad = self.t * self.r - m.shape[0]
        if pad:
            m = torch.cat([m, m.new_zeros(pad, m.shape[1])])
        return m.reshape(self.t, self.r, m.shape[1])


def floating_differences(layout: Layout, cells_S: list[torch.Tensor]) -> list[torch.Tensor]:
    """Voltage sensing of a forward read: each cell column and its reference column are separate
    floating bit lines, V_k = sum V G_k / sum G_k and V_ref = sum V g_ref / (rows g_ref) = mean V;
    V_k - V_ref = sum_i V_i (G_ki - mean_i G_k) / sum G_k. Returns K (out, in) G_k minus its
    column's mean over the rows of its array (siemens): the core's division by sum G_k gives
    V_k - V_ref exactly. The reference is in effect the column's own mean, not g_ref.
    """
    lo, out = layout, []
    for g in cells_S:
        mean = lo.pack(g.T).sum(1) / lo.rows_used  # (t, out)
        out.append(g - mean.repeat_interleave(lo.r, 0)[: lo.n_in].T)
    return out


NoiseCells = Callable[[], tuple[list[torch.Tensor], list[torch.Tensor]]]


def _forward_pack(lo: Layout, mats: list[torch.Tensor]) -> torch.Tensor:
    """K (out, in) matrices -> (t, r, K out): the forward stack's layout."""
    return lo.pack(mats[0].T if lo.k == 1 else torch.cat([d.T for d in mats], -1))


def _transposed_pack(lo: Layout, mats: list[torch.Tensor]) -> torch.Tensor:
    """K (out, in) matrices -> (K n_col, ct, t r): the transposed stack's layout."""
    if lo.t * lo.r == lo.n_in and lo.n_col == 1:  # one array width: each cell array is one tile
        return mats[0].unsqueeze(0) if lo.k == 1 else torch.stack(mats)
    return torch.cat([transposed_stack(lo.pack(d.T), lo.ct) for d in mats])


def _noise(noise_cells: NoiseCells | None, pack: Callable[[list[torch.Tensor]], torch.Tensor]) -> Any:
    if noise_cells is None:
        return None

    def make() -> dict[str, torch.Tensor]:
        g_sq, g_tot = noise_cells()
        return {"g_sq": pack(g_sq), "g_tot": pack(g_tot)}

    return make


def forward_stack(
    layout: Layout, cells_S: list[torch.Tensor], diffs_S: list[torch.Tensor], rows_S: list[torch.Tensor],
    noise_cells: NoiseCells | None = None, energy: Callable[[], torch.Tensor] | None = None,
) -> ReadStack:  # fmt: skip
    """The forward reads' stack.

    Args:
        layout: the layer's layout.
        cells_S: K (out, in) cell conductances (siemens), most significant first.
        diffs_S: K (out, in) what one row volt adds to each cell column's current against its
            reference (siemens): G_k - g_ref, or the wired arrays' effective difference.
        rows_S: K (in,) conductance of each cell array along each input row (siemens).
        noise_cells: for the physical read noise, returns K (out, in) G^2 and G of each cell
            position, its reference cell included (siemens^2, siemens).
        energy: for wired arrays, returns the cell and wire power forms of every array laid
            out for this stack (``reram.array.onchip_wires.read_forms``); None: ideal wires.

    """
    lo = layout
    gdiff = _forward_pack(lo, diffs_S)  # (t, r, K out)
    g_line = torch.stack(rows_S).sum(0) + lo.n_out * lo.g_ref  # each row crosses K cells and a reference per output
    g_row = lo.pack(g_line.unsqueeze(1))  # (t, r, 1); padded rows: 0
    gain, gsum = lo.gain_f, lo.gain_f
    if lo.voltage:  # conductance on each sensed cell column (its own floating line, apart from the reference)
        gsum = torch.cat([lo.pack(g.T).sum(1) for g in cells_S], -1)
        gain = gain * gsum
    op = StackOp(gdiff, row_grouping(lo.t, lo.r), g_row, cells_S=_noise(noise_cells, lambda m: _forward_pack(lo, m)),
                 energy_S=energy)  # fmt: skip
    return ReadStack(op, gain, gsum.clamp_min(1e-30), lo.n_out, lo.k, lo.pattern_f)


def transposed_stack_of(
    layout: Layout, cells_S: list[torch.Tensor], diffs_S: list[torch.Tensor], cols_S: list[torch.Tensor],
    noise_cells: NoiseCells | None = None, energy: Callable[[], torch.Tensor] | None = None,
) -> ReadStack:  # fmt: skip
    """The transposed reads' stack (arguments as :func:`forward_stack`; ``cols_S``: K (out,)
    conductance of each cell array along each output column).
    """
    lo = layout
    gt = _transposed_pack(lo, diffs_S)  # (K n_col, ct, t r)
    pad = lo.n_col * lo.ct - lo.n_out
    lines = [c + lo.n_in * lo.g_ref for c in cols_S]  # each driven column: its cells and the reference
    g_col = torch.cat([F.pad(x, (0, pad)).view(lo.n_col, lo.ct, 1) for x in lines])
    gain, gsum = lo.gain_t, lo.gain_t
    if lo.voltage:  # conductance on each sensed row within each array: its cells plus the references
        outs = torch.ones(1, 1, lo.n_out, dtype=gt.dtype, device=gt.device)
        per_block = transposed_stack(outs.expand(lo.t, lo.r, lo.n_out), lo.ct).sum(1)  # (n_col, t r)
        gsum = torch.cat([transposed_stack(lo.pack(g.T), lo.ct).sum(1) for g in cells_S]) + per_block * lo.g_ref
        gain = gain * gsum
    group = repeated_grouping(row_grouping(lo.n_col, lo.ct), lo.k)
    op = StackOp(gt, group, g_col, cells_S=_noise(noise_cells, lambda m: _transposed_pack(lo, m)), energy_S=energy)
    return ReadStack(op, gain, gsum.clamp_min(1e-30), lo.n_in, 1, lo.pattern_t)
