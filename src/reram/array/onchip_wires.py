"""Wire resistance in the arrays of on-chip training: what the reads see, what the updates lose.

Layout (``reram.nn.onchip``): weight (j, i) is K cells (K = 1, or 2 for periodic carry) on input
row i, in K columns of output j, beside a reference column at mid-window conductance; each
output's K + 1 columns sit side by side. The matrix is cut into arrays of ``array.rows`` rows
and as many whole column groups as fit in ``array.cols`` columns. Rows are driven at their first
column; columns sense (forward reads) or are driven (transposed reads, updates) at their last
row; every wire segment has ``array.r_wire_ohm`` and every cell ``array.r_access_ohm`` in series.

- Reads: each array's effective matrix (``reram.array.circuit.effective_matrix``, exact or
  first order) replaces its conductances: weights W_eff = sum_k s_k (A_k - A_ref) / (g_max -
  g_min). A transposed read drives the columns from their sensing end and senses the rows at
  their driving end, every other line end held at 0 V in both directions; by reciprocity (a
  linear resistive network's transfer from port a to port b equals that from b to a) it
  realises the same matrix, transposed (the tests solve both directions).
- Read energy: every array's cell and wire power forms (``reram.array.energy``: solved for
  "exact", first order for "approx"), over the row drives of a forward read and over the
  column drives of a transposed one (the array seen from its columns: the geometry mirrored,
  the line resistances swapped, the same ports), for the reads' Gram matrices.
- Updates (V/2 scheme): a firing row sits at +V/2 from its driver, a firing column at -V/2;
  each cell on a firing row draws G V/2, or G V when its column fires too, and likewise along
  a firing column. With the lines' firing rates of the update (mean field over its slots), the
  first-order sags along both lines (``reram.array.lines.line_sags``) give the voltage a
  selected cell receives, and ``device.update.v_threshold_V`` how much of a full pulse's step
  that voltage makes (``reram.config.UpdateConfig``).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from reram.array import lines
from reram.array.circuit import Wires, effective_matrix
from reram.array.energy import energy_forms, first_order_forms
from reram.array.network import wires_of
from reram.config import Config


def _wires(cfg: Config) -> Wires:
    arr = cfg.array
    return wires_of(arr)


def _tiles(n_in: int, n_out: int, group: int, cfg: Config) -> Iterator[tuple[slice, slice]]:
    """(input rows, outputs) of each array: ``array.rows`` rows, whole groups of ``group`` columns."""
    per_array = max(1, cfg.array.cols // group)
    for r0 in range(0, n_in, cfg.array.rows):
        for c0 in range(0, n_out, per_array):
            yield slice(r0, min(r0 + cfg.array.rows, n_in)), slice(c0, min(c0 + per_array, n_out))


def _layout(cells_S: list[torch.Tensor], g_ref_S: float, rows: slice, outs: slice) -> torch.Tensor:
    """(rows, (K + 1) outs) conductances of one array: per output its K cells, then its reference."""
    parts = [g[outs, rows].T for g in cells_S]
    parts.append(torch.full_like(parts[0], g_ref_S))
    return torch.stack(parts, 2).reshape(parts[0].shape[0], -1)


def effective_differences(cells_S: list[torch.Tensor], cfg: Config, drops: list[float] | None = None
                          ) -> list[torch.Tensor]:  # fmt: skip
    """K (out, in) what one row volt adds to each cell column's current against its reference,
    wires included (siemens): A_k - A_ref of every array's effective matrix (both directions).

    Args:
        cells_S: K (out, in) conductance matrices (siemens), most significant first.
        cfg: the chip (``array.ir_drop`` "approx" = first order, "exact"; wire and access ohms).
        drops: for "approx", each array's largest first-order drop is appended to it
            (``lines.first_order_drop``: the model's range).

    """
    dev = cfg.device
    g_ref = (dev.g_max_S + dev.g_min_S) / 2
    method = "first_order" if cfg.array.ir_drop == "approx" else "exact"
    k = len(cells_S)
    n_out, n_in = cells_S[0].shape
    out = [torch.empty(n_out, n_in, dtype=cells_S[0].dtype, device=cells_S[0].device) for _ in range(k)]
    wires = _wires(cfg)
    for rows, outs in _tiles(n_in, n_out, k + 1, cfg):
        layout = _layout(cells_S, g_ref, rows, outs)
        a = effective_matrix(layout, wires, "current", method)
        if drops is not None and method == "first_order":
            ga = layout / (1 + layout * wires.r_access) if wires.r_access > 0 else layout
            drops.append(lines.first_order_drop(ga, wires.r_row, wires.r_col, wires.r_source, wires.r_sense))
        a = a.to(out[0].dtype).reshape(a.shape[0], -1, k + 1)  # (rows, outs, K + 1), A[i, j, k]
        for c in range(k):
            out[c][outs, rows] = (a[:, :, c] - a[:, :, k]).T
    return out


def read_forms(cells_S: list[torch.Tensor], cfg: Config, transposed: bool, rows: int, cols: int) -> torch.Tensor:
    """The read energy's power forms of every array, laid out for the read's tile stack (siemens).

    Args:
        cells_S: K (out, in) conductance matrices (siemens), most significant first.
        cfg: the chip (``array.ir_drop``: "exact" solves each array, "approx" first order).
        transposed: forms over the column drives (transposed reads) instead of the row drives.
        rows, cols: the stack's rows per array (forward) / driven columns per array (transposed).

    Returns:
        Forward: (2, row tiles, arrays per row tile, rows, rows); transposed: (2, K column
        blocks, row tiles, cols, cols) over the outputs' drives d of phase k: +d on cell k's
        column, -d on the reference column (the read takes G_k - g_ref).

    """
    dev, w = cfg.device, _wires(cfg)
    g_ref = (dev.g_max_S + dev.g_min_S) / 2
    k = len(cells_S)
    n_out, n_in = cells_S[0].shape
    tiles = list(_tiles(n_in, n_out, k + 1, cfg))
    n_t = -(-n_in // cfg.array.rows)  # row tiles; each holds n_b arrays side by side
    n_b = len(tiles) // n_t
    solve = energy_forms if cfg.array.ir_drop == "exact" else first_order_forms
    mirrored = Wires(w.r_col, w.r_row, w.r_sense, w.r_source, w.r_access)  # the array seen from its columns
    if transposed:
        out = torch.zeros(2, k * n_b, n_t, cols, cols, dtype=torch.float64, device=cells_S[0].device)
    else:
        out = torch.zeros(2, n_t, n_b, rows, rows, dtype=torch.float64, device=cells_S[0].device)
    for index, (rs, outs) in enumerate(tiles):
        t, b = divmod(index, n_b)
        g = _layout(cells_S, g_ref, rs, outs).double()
        if not transposed:
            forms = solve(g, w)
            for m in (0, 1):
                out[m, t, b, : g.shape[0], : g.shape[0]] = forms[m]
            continue
        cols_forms = [f.flip(0).flip(1) for f in solve(g.flip(0).flip(1).T, mirrored)]  # over the columns
        n = outs.stop - outs.start
        ref = torch.arange(n, device=g.device) * (k + 1) + k
        for c in range(k):  # phase c: +d on cell c's column of each output, -d on its reference column
            cell = ref - k + c
            for m, f in enumerate(cols_forms):
                out[m, c * n_b + b, t, :n, :n] = (f[cell][:, cell] - f[cell][:, ref] - f[ref][:, cell]
                                                  + f[ref][:, ref])  # fmt: skip
    return out.to(cells_S[0].dtype)


def effective_weights(cells_S: list[torch.Tensor], significance: list[float], cfg: Config) -> torch.Tensor:
    """(out, in) weights that a read of these cells realises, wires included (both directions):
    W_eff = sum_k s_k (A_k - A_ref) / (g_max - g_min), ``significance`` = s_k per cell.
    """
    dev = cfg.device
    diffs = effective_differences(cells_S, cfg)
    return sum(s * d for s, d in zip(significance, diffs, strict=True)) / (dev.g_max_S - dev.g_min_S)  # type: ignore[return-value]


def update_efficiency(
    cells_S: list[torch.Tensor], cell: int, row_rate: torch.Tensor, col_rate: torch.Tensor, cfg: Config
) -> torch.Tensor:
    """(out, in) fraction of a full pulse's step that an update pulse makes on each cell of ``cell``.

    Args:
        cells_S: K (out, in) conductance matrices (siemens).
        cell: the pulsed cell of each weight (its column in each group).
        row_rate: (in,) fraction of the update's slots in which each row fires.
        col_rate: (out,) the same for the columns of ``cell``.
        cfg: the chip (wires, ``device.update`` v_write_V and v_threshold_V).

    """
    dev, arr, upd = cfg.device, cfg.array, cfg.device.update
    g_ref = (dev.g_max_S + dev.g_min_S) / 2
    k = len(cells_S)
    n_out, n_in = cells_S[0].shape
    eff = torch.empty(n_out, n_in, dtype=cells_S[0].dtype, device=cells_S[0].device)
    for rows, outs in _tiles(n_in, n_out, k + 1, cfg):
        g = _layout(cells_S, g_ref, rows, outs).double()
        g_a = g / (1 + g * arr.r_access_ohm)  # through the access device
        fires = torch.zeros(g.shape[1] // (k + 1), k + 1, dtype=g.dtype, device=g.device)
        fires[:, cell] = col_rate[outs].to(g.dtype)
        g_rows = g_a * (1 + fires.reshape(1, -1))  # per V/2 of the row: V across where the column fires
        g_cols = g_a * (1 + row_rate[rows].to(g.dtype)[:, None])
        wires = wires_of(arr)
        rho, kappa = lines.line_sags(g_rows, g_cols, wires.r_row, wires.r_col, wires.r_source, wires.r_sense)
        v_node = upd.v_write_V * (1 - (rho + kappa) / 2)  # each line lost its sag x V/2
        v_cell = v_node * g_a / g  # the access device takes its share
        e = ((v_cell - upd.v_threshold_V) / (upd.v_write_V - upd.v_threshold_V)).clamp_(0, 1)
        eff[outs, rows] = e.reshape(e.shape[0], -1, k + 1)[:, :, cell].T.to(eff.dtype)
    return eff
