"""Where a read's energy goes in a wired array: the cells, and the wires, drivers, sense inputs and
access transistors, from the solved node voltages.

Node voltages are linear in the row drive v, so every dissipation of a read is a quadratic form
in v. For each unit drive e_k the exact solver (``circuit.solve_crossbar``; current sensing into
virtual grounds, or voltage sensing on floating bit lines) gives the voltage d_k across every
cell branch (row node minus column node). Then

    cell energy / t  = v^T M_cell v,   M_cell = sum over cells of G_cell (G_b / G_cell)^2 d d^T
    total / t        = v^T Y v,         Y[j, k] = sum_c G_b[k, c] d_j[k, c]  (each driver's current
                                        is what its row's cells pass, by Kirchhoff)

and the wires' share (segments, driver and sense resistances, access transistors) is the
difference. On floating bit lines the drivers' currents circulate through the cells between
rows (a line settles where its cells' currents cancel), so the same forms hold.
G_b is a branch's conductance, the cell in series with its access transistor.
Computed once per programmed tile (rows solves); each read then costs one (rows x rows) form.
"""

from __future__ import annotations

import torch

from reram.array.circuit import solve_crossbar
from reram.array.network import Topology, Wires


def energy_forms(g_S: torch.Tensor, wires: Wires, sensing: str = "current") -> tuple[torch.Tensor, torch.Tensor]:
    """(M_cell, M_wire) of one array, (rows, rows) float64 (siemens): cell and wire power per V^2.

    Args:
        g_S: (rows, cols) cell conductances (siemens), as the array is wired (differential pairs
            already laid out as physical rows or columns).
        wires: the array's parasitic resistances.
        sensing: "current" (columns into virtual grounds) or "voltage" (floating bit lines).

    """
    g = g_S.to(torch.float64)
    rows = g.shape[0]
    eye = torch.eye(rows, dtype=torch.float64, device=g.device)
    sol = solve_crossbar(g, eye, wires, Topology(sensing=sensing), node_voltages=True)
    assert sol.row_V is not None and sol.col_V is not None
    d = (sol.row_V - sol.col_V).reshape(rows, -1)  # (unit drive, cell): volts across each branch
    g_b = g / (1.0 + g * wires.r_access) if wires.r_access > 0 else g
    share = (g_b / g.clamp_min(1e-300)) ** 2 * g  # G_cell (V_cell / d)^2: the cell's part of the branch
    m_cell = (d * share.reshape(1, -1)) @ d.T
    y = (d.view(rows, rows, -1) * g_b.unsqueeze(0)).sum(-1)  # driver k's current for unit drive j
    y = (y + y.T) / 2
    return m_cell, y - m_cell


def differential_rows(m: torch.Tensor) -> torch.Tensor:
    """A form over interleaved (+V, -V) physical rows as a form over the weight rows' drives."""
    return m[0::2, 0::2] - m[0::2, 1::2] - m[1::2, 0::2] + m[1::2, 1::2]


def first_order_forms(g_S: torch.Tensor, wires: Wires) -> tuple[torch.Tensor, torch.Tensor]:
    """(M_cell, M_wire) of one array to first order in the wire resistances, (rows, rows) float64
    (siemens): what ``array.ir_drop = "approx"`` reads see (``lines.first_order``), current sensing.

    With the ideal-wire currents I = G_b V (G_b: cell and access transistor in series), the
    segments, driver and sense resistances dissipate W = sum r J^2: per row V_i^2 (r_source S_i0^2
    + r_row sum_c S_ic^2), S_ic = sum_(c' >= c) G_b,ic' (the row current past column c), and per
    column the form G_b G_b^T (r_col (R - max(j, k)) + r_sense). The drops those currents cause
    lower each branch's power by 2 I delta to first order (sum I delta = W), the drivers' power
    by W; a cell keeps its share G_b / G of its branch. Exact to first order (O(r^2) relative to
    the exact forms, ``tests/test_circuit.py``); beyond a few per cent of drop use the exact forms.
    """
    g = g_S.to(torch.float64)
    rows = g.shape[0]
    g_b = g / (1.0 + g * wires.r_access) if wires.r_access > 0 else g
    w = g_b / g.clamp_min(1e-300)  # a cell's share of its branch's power
    tail = g_b.flip(-1).cumsum(-1).flip(-1)  # S_ic: current per volt past column c on row i
    seg_r = torch.full((g.shape[1],), wires.r_row, dtype=g.dtype, device=g.device)
    seg_r[0] += wires.r_source  # the first segment carries the driver's resistance too
    idx = torch.arange(rows, dtype=g.dtype, device=g.device)
    col_r = wires.r_col * (rows - torch.maximum(idx[:, None], idx[None, :])) + wires.r_sense  # (rows, rows)
    w_seg = torch.diag((tail * tail * seg_r).sum(-1)) + (g_b @ g_b.T) * col_r
    # the w-weighted first-order loss of the cells: rows (diagonal) and columns (symmetrised)
    drop_row = (tail * seg_r).cumsum(-1)  # sum_(c' <= c) r'_c' S_ic': row sag per volt at each cell
    lost_rows = torch.diag((w * g_b * drop_row).sum(-1))
    lost_cols = ((w * g_b) @ g_b.T) * col_r
    lost_cols = (lost_cols + lost_cols.T) / 2
    m_cell = torch.diag((w * g_b).sum(-1)) - 2 * (lost_rows + lost_cols)
    m_total = torch.diag(g_b.sum(-1)) - w_seg
    return m_cell, m_total - m_cell
