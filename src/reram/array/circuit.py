"""The crossbar as a resistor network: IR drop and sneak paths, exact or approximate.

Network (badcrossbar's convention): row i is driven at its left end through ``r_source`` and one
row segment; its nodes (i, 0..C-1) are joined by row segments ``r_row``. Column j's nodes
(0..R-1, j) are joined by column segments ``r_col``; below the last row one more segment and
``r_sense`` lead to the sense amplifier. Cell (i, j) joins row node (i, j) to column node (i, j)
with its conductance, in series with an access transistor's on-resistance ``r_access`` (1T1R;
0 for a passive 1R array).

:class:`Topology` says how the lines meet the periphery: current sensing (columns held at virtual
ground) or voltage sensing (NeuRRAM: floating bit lines, output the bit-line voltage); rows with
no input driven at 0 V, floating (passive arrays: sneak paths through them) or biased.

Exact solves (float64) reduce the whole grid to its ports by nested dissection
(:mod:`reram.array.dissection`), then apply the port conditions in one small dense solve. For
linear cells and driven rows the outputs are linear in the inputs, I = V A(G, r):
:func:`effective_matrix` returns A once per programmed tile; every input then costs one ideal
product. Node voltages and nonlinear cells (I = G v0 sinh(V / v0), chord-conductance iteration)
use the row-by-row solver of :mod:`reram.array.lines`; :func:`approx_crossbar` is the fast
alternating-line approximation.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from reram.array import lines
from reram.array.dissection import port_schur
from reram.array.network import CircuitSolution, Topology, Wires, _cells, _check

__all__ = [
    "CircuitSolution",
    "Topology",
    "Wires",
    "approx_crossbar",
    "cell_current",
    "effective_matrix",
    "kcl_residual",
    "solve_crossbar",
]


def cell_current(g: torch.Tensor, v_cell_V: torch.Tensor, v0_V: float | None) -> torch.Tensor:
    """Cell current (amperes): G V for a linear cell, G v0 sinh(V / v0) for a nonlinear one."""
    if v0_V is None:
        return g * v_cell_V
    return g * v0_V * torch.sinh(v_cell_V / v0_V)


def _chord(g: torch.Tensor, v_cell_V: torch.Tensor, v0_V: float | None) -> torch.Tensor:
    """Chord conductance I(V) / V of every cell at its voltage (siemens)."""
    if v0_V is None:
        return g.expand_as(v_cell_V)
    x = v_cell_V / v0_V
    small = x.abs() < 1e-6
    return g * torch.where(small, 1.0 + x * x / 6, torch.sinh(x) / torch.where(small, torch.ones_like(x), x))


def _check_v0(v0_V: float | None) -> None:
    if v0_V is not None and not (math.isfinite(v0_V) and v0_V > 0):
        raise ValueError(f"v0_V = {v0_V!r} is invalid: allowed is None (linear cells) or a voltage > 0")


def _conductances(w: Wires) -> tuple[float, float, float, float]:
    """(a, a0, b, b_last): segment conductances; 0 marks an ideal line kind."""
    a = 1.0 / w.r_row if w.r_row > 0 else 0.0
    b = 1.0 / w.r_col if w.r_col > 0 else 0.0
    a0 = 1.0 / (w.r_row + w.r_source) if w.r_row > 0 else 0.0
    b_last = 1.0 / (w.r_col + w.r_sense) if w.r_col > 0 else 0.0
    return a, a0, b, b_last


def _linear_nodes(g: torch.Tensor, v: torch.Tensor, w: Wires) -> tuple[torch.Tensor, torch.Tensor]:
    """Every node voltage of the driven, current-sensed array; g (G, R, C) shared or per input."""
    a, a0, b, b_last = _conductances(w)
    if a > 0 and b > 0:
        return lines.node_solve(g, v, a, a0, b, b_last)
    # with one kind of line ideal, one row pass then one column pass is exact
    return lines.line_sweep(lambda _: g, v, (g.shape[1], g.shape[2]), a, a0, b, b_last, 1)


def solve_crossbar(
    g_S: torch.Tensor,
    v_in_V: torch.Tensor,
    wires: Wires | None = None,
    topology: Topology | None = None,
    node_voltages: bool = False,
    v0_V: float | None = None,
    selected: torch.Tensor | None = None,
    tol: float = 1e-12,
    max_iter: int = 200,
) -> CircuitSolution:
    """Exact outputs of a crossbar with wire resistance (float64).

    Args:
        g_S: (rows, cols) cell conductances (siemens; the small-signal G of nonlinear cells).
        v_in_V: (batch, rows) voltages applied to the rows (volts).
        wires: parasitic resistances (default 1 ohm segments).
        topology: sensing and unselected rows (default: current sensing, every row driven).
        node_voltages: also return every row and column node voltage (driven rows; current or
            voltage sensing).
        v0_V: nonlinear cells, I = G v0 sinh(V / v0) (volts; None: linear). Solved per input by
            chord-conductance iteration (current sensing, driven rows).
        selected: (batch, rows) bool, which rows are driven with their input; default: rows
            with a nonzero input.
        tol, max_iter: convergence of the nonlinear iteration (relative change of the outputs).

    Raises:
        ValueError: bad shapes, negative resistances or conductances, NaN, unsupported mixes.

    """
    w, topo = wires or Wires(), topology or Topology()
    _check(g_S, v_in_V)
    _check_v0(v0_V)
    g = _cells(g_S, w)
    v = v_in_V.to(torch.float64).to(g.device)
    floating = topo.sensing == "voltage" and topo.unselected_rows == "driven"
    if (v0_V is not None and not topo.default) or (node_voltages and not (topo.default or floating)):
        raise ValueError(
            f"v0_V needs current sensing with driven rows, node_voltages driven rows, not {topo}: "
            "use the port solve (linear cells)"
        )
    if v0_V is not None:
        return _nonlinear(g, v, w, v0_V, tol, max_iter, node_voltages)
    if node_voltages and floating:
        return _floating_nodes(g, v, w, topo)
    if node_voltages:
        u, c = _linear_nodes(g[None], v, w)
        return CircuitSolution(_sense_current(g, v, u, c, w), u, c)
    if topo.default:
        return CircuitSolution(v @ _effective(g, w, topo))
    return _port_solve(g, v, w, topo, selected)


def _floating_nodes(g: torch.Tensor, v: torch.Tensor, w: Wires, topo: Topology) -> CircuitSolution:
    """Every node voltage with floating bit lines (voltage sensing, driven rows): each column's
    last node reaches ground only through its last segment, r_sense and the sense input's
    leakage ``topo.leak_S``; the sensed voltage is what is left after the segment and r_sense.
    """
    _needs_both(w, topo)
    a, a0, b, _ = _conductances(w)
    r_out = w.r_col + w.r_sense
    g_port = 1.0 / (r_out + 1.0 / topo.leak_S)
    u, c = lines.node_solve(g[None], v, a, a0, b, g_port)
    i_port = c[:, -1] * g_port
    return CircuitSolution(i_port, u, c, sense_V=c[:, -1] - i_port * r_out)


def _sense_current(g: torch.Tensor, v: torch.Tensor, u: torch.Tensor, c: torch.Tensor, w: Wires) -> torch.Tensor:
    """Column outputs from node voltages: through the last segment, or all cell currents when columns are ideal."""
    if w.r_col > 0:
        return c[:, -1] / (w.r_col + w.r_sense)
    return (g * (u - c)).sum(1)


def _effective(g: torch.Tensor, w: Wires, topo: Topology) -> torch.Tensor:
    r, c = g.shape
    if topo.sensing == "current" and (w.r_row == 0 or w.r_col == 0):
        eye = torch.eye(r, dtype=torch.float64, device=g.device)
        u, col = _linear_nodes(g[None], eye, w)
        return _sense_current(g, eye, u, col, w)
    _needs_both(w, topo)
    s, a0, g_port, gain = _ports(g, w, topo)
    s.diagonal()[:r] += a0
    s.diagonal()[r:] += g_port
    low = torch.linalg.cholesky(s)
    rhs = torch.zeros(r + c, r, dtype=s.dtype, device=s.device)
    rhs[:r].fill_diagonal_(a0)
    x = torch.cholesky_solve(rhs, low)  # port voltages per volt on each row
    return gain * x[r:].T


def _needs_both(w: Wires, topo: Topology) -> None:
    if w.r_row == 0 or w.r_col == 0:
        raise ValueError(
            f"topology {topo} needs r_row > 0 and r_col > 0 (got {w.r_row}, {w.r_col} ohms): "
            "give the segments their resistance"
        )


def _ports(g: torch.Tensor, w: Wires, topo: Topology) -> tuple[torch.Tensor, float, float, float]:
    """Port Schur complement, driver conductance, sense-port conductance and output gain.

    Gain turns the bottom column voltage into the output: current through the last segment and
    r_sense (amperes), or the voltage left at the sense amplifier's input (volts).
    """
    s, _, _ = port_schur(g, w.r_row, w.r_col)
    a0 = 1.0 / (w.r_row + w.r_source)
    r_out = w.r_col + w.r_sense
    if topo.sensing == "current":
        return s, a0, 1.0 / r_out, 1.0 / r_out
    g_port = 1.0 / (r_out + 1.0 / topo.leak_S)
    return s, a0, g_port, 1.0 - g_port * r_out


def _port_solve(
    g: torch.Tensor, v: torch.Tensor, w: Wires, topo: Topology, selected: torch.Tensor | None
) -> CircuitSolution:
    """Per-input port conditions (floating or biased unselected rows), grouped by selection pattern."""
    _needs_both(w, topo)
    r, c = g.shape
    if selected is None:
        sel = v != 0
    else:
        if selected.shape != v.shape or selected.dtype != torch.bool:
            raise ValueError(
                f"selected has shape {tuple(selected.shape)} / {selected.dtype}: allowed is bool {tuple(v.shape)}"
            )
        sel = selected.to(v.device)
    if topo.unselected_rows == "driven":
        sel = torch.ones_like(sel)
    s, a0, g_port, gain = _ports(g, w, topo)
    s.diagonal()[r:] += g_port
    out = torch.empty(v.shape[0], c, dtype=torch.float64, device=g.device)
    patterns, which = torch.unique(sel, dim=0, return_inverse=True)
    for k, pat in enumerate(patterns):
        idx = (which == k).nonzero().squeeze(1)
        m = s.clone()
        driven = pat | (topo.unselected_rows == "biased")
        m.diagonal()[:r] += torch.where(driven, s.new_tensor(a0), s.new_tensor(topo.leak_S))
        src = torch.where(pat, v[idx], v.new_tensor(topo.bias_V if topo.unselected_rows == "biased" else 0.0))
        rhs = torch.zeros(r + c, len(idx), dtype=s.dtype, device=s.device)
        rhs[:r] = (a0 * src * driven).T
        out[idx] = gain * torch.linalg.solve(m, rhs)[r:].T
    if topo.sensing == "current":
        return CircuitSolution(out)
    return CircuitSolution(out * g_port / gain, sense_V=out)


def _nonlinear(
    g: torch.Tensor, v: torch.Tensor, w: Wires, v0_V: float, tol: float, max_iter: int, nodes: bool
) -> CircuitSolution:
    """Chord-conductance (Picard) iteration: solve the linear network with each cell's I(V)/V at
    the previous voltages until the outputs stop changing.
    """
    u = v[:, :, None].expand(-1, -1, g.shape[1]).clone()
    col = torch.zeros_like(u)
    prev = None
    for _ in range(max_iter):
        gc = _chord(g, u - col, v0_V)
        u, col = _linear_nodes(gc, v, w)
        out = _sense_current(gc, v, u, col, w)
        if prev is not None and float((out - prev).abs().max()) <= tol * max(float(out.abs().max()), 1e-300):
            return CircuitSolution(out, u if nodes else None, col if nodes else None)
        prev = out
    raise ValueError(
        f"nonlinear solve did not converge in max_iter = {max_iter} iterations (v0_V = {v0_V}): "
        "allowed are milder nonlinearity (larger v0_V), smaller voltages or more iterations"
    )


def effective_matrix(
    g_S: torch.Tensor, wires: Wires | None = None, sensing: str = "current", method: str = "exact"
) -> torch.Tensor:
    """(rows, cols) matrix A with outputs = V @ A for this array and wiring, every row driven.

    Current sensing: A in siemens (amperes per volt). Voltage sensing (floating bit lines): A is
    the dimensionless transfer from row voltages to bit-line voltages. Compute once per
    programmed tile; every input then costs one ideal matrix product.

    Args:
        g_S: (rows, cols) conductances (siemens). wires: parasitic resistances.
        sensing: "current" or "voltage".
        method: "exact" (nested dissection, float64) or "first_order" (closed-form first-order
            correction, current sensing: O(rows cols), differentiable, in g_S's dtype; error second
            order in the drop).

    """
    w, topo = wires or Wires(), Topology(sensing=sensing)
    _check(g_S, None)
    if method not in ("exact", "first_order"):
        raise ValueError(f"method = {method!r} is invalid: allowed are 'exact', 'first_order'")
    if method == "first_order":
        if sensing != "current":
            raise ValueError("method = 'first_order' is for current sensing: use method = 'exact' for voltage sensing")
        ga = g_S / (1.0 + g_S * w.r_access) if w.r_access > 0 else g_S
        return lines.first_order(ga, w.r_row, w.r_col, w.r_source, w.r_sense)
    g = _cells(g_S, w)
    if topo.sensing == "current" and w.r_row == 0 and w.r_col == 0:
        return g
    return _effective(g, w, topo)


def approx_crossbar(
    g_S: torch.Tensor,
    v_in_V: torch.Tensor,
    wires: Wires | None = None,
    sweeps: int = 2,
    v0_V: float | None = None,
) -> CircuitSolution:
    """Fast approximate outputs and node voltages: alternating row-line and column-line solves.

    Each sweep solves every row line exactly with the column lines held at their present
    voltages, then every column line with the row lines held (cells at their chord conductance
    for nonlinear cells). Exact when r_row or r_col is zero (linear cells); otherwise the error
    against :func:`solve_crossbar` falls with each sweep when g r N^2 is small and is stated in
    the tests (current sensing, driven rows).

    Args:
        g_S: (rows, cols) conductances (siemens). v_in_V: (batch, rows) volts.
        wires: parasitic resistances. sweeps: row-then-column passes (>= 1).
        v0_V: nonlinear cells, I = G v0 sinh(V / v0) (volts; None: linear).

    """
    w = wires or Wires()
    _check(g_S, v_in_V)
    _check_v0(v0_V)
    if isinstance(sweeps, bool) or not isinstance(sweeps, int) or sweeps < 1:
        raise ValueError(f"sweeps = {sweeps!r} is invalid: allowed is an integer >= 1")
    g = _cells(g_S, w)
    v = v_in_V.to(torch.float64).to(g.device)
    a, a0, b, b_last = _conductances(w)
    gfun: Callable[[torch.Tensor], torch.Tensor] = lambda vc: _chord(g, vc, v0_V)  # noqa: E731
    u, col = lines.line_sweep(gfun, v, (g.shape[0], g.shape[1]), a, a0, b, b_last, sweeps)
    if w.r_col > 0:
        return CircuitSolution(col[:, -1] * b_last, u, col)
    return CircuitSolution(cell_current(g, u - col, v0_V).sum(1), u, col)


def kcl_residual(
    g_S: torch.Tensor, v_in_V: torch.Tensor, sol: CircuitSolution, wires: Wires, v0_V: float | None = None
) -> torch.Tensor:
    """Largest current imbalance (amperes) over all nodes of every input: Kirchhoff's check."""
    if sol.row_V is None or sol.col_V is None:
        raise ValueError("kcl_residual() needs node voltages: solve with node_voltages=True")
    g = _cells(g_S, wires)
    u, c = sol.row_V, sol.col_V
    v = v_in_V.to(torch.float64)
    cell = cell_current(g, u - c, v0_V)
    res_u = -cell.clone()
    if wires.r_row > 0:
        a, a0 = 1.0 / wires.r_row, 1.0 / (wires.r_row + wires.r_source)
        flow = a * (u[:, :, 1:] - u[:, :, :-1])
        res_u[:, :, :-1] += flow
        res_u[:, :, 1:] -= flow
        res_u[:, :, 0] += a0 * (v - u[:, :, 0])
    res_c = cell.clone()
    if wires.r_col > 0:
        b = 1.0 / wires.r_col
        flow = b * (c[:, 1:] - c[:, :-1])
        res_c[:, :-1] += flow
        res_c[:, 1:] -= flow
        res_c[:, -1] -= c[:, -1] / (wires.r_col + wires.r_sense)
    parts = [res_c.abs().amax()] if wires.r_col > 0 else []
    if wires.r_row > 0:
        parts.append(res_u.abs().amax())
    return torch.stack(parts).amax() if parts else torch.zeros((), dtype=torch.float64)
