"""The crossbar as a resistor network: exact IR drop by a block-tridiagonal solve.

Topology (1T1R with driven rows and virtual-ground columns; badcrossbar's convention): row i is
driven at its left end by ``v_in[i]`` through ``r_source`` and one row segment; its nodes
(i, 0..C-1) are joined by row segments ``r_row``. Column j's nodes (0..R-1, j) are joined by
column segments ``r_col``; below the last row one more segment and ``r_sense`` lead to the sense
amplifier's virtual ground. Cell (i, j) joins row node (i, j) to column node (i, j) with its
conductance in series with the access transistor's on-resistance ``r_access``.

Eliminating each row line (a tridiagonal system given its column voltages) leaves one C x C
block per row, coupled only to the neighbouring rows: a block-tridiagonal system in the column
voltages, solved by block Gaussian elimination (R dense C x C steps; float64). The output
currents are linear in the inputs, I = A(G, r) V: :func:`effective_matrix` returns A (computed
once per programmed tile and reused for every input).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Wires:
    """Parasitic resistances (ohms).

    Attributes:
        r_row: row (word-line) segment between neighbouring cells, and from the driver to the
            first cell.
        r_col: column (bit-line) segment between neighbouring cells, and from the last cell
            towards the sense amplifier.
        r_source: driver output resistance, in series with each row's first segment.
        r_sense: sense amplifier input resistance, in series with each column's last segment.
        r_access: access-transistor on-resistance in series with every cell (1T1R).

    """

    r_row: float = 1.0
    r_col: float = 1.0
    r_source: float = 0.0
    r_sense: float = 0.0
    r_access: float = 0.0

    def __post_init__(self) -> None:
        for name in ("r_row", "r_col", "r_source", "r_sense", "r_access"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise ValueError(f"{name} = {v!r} is invalid: allowed is a finite resistance >= 0 ohms")
        if self.r_row == 0 and self.r_source > 0 or self.r_col == 0 and self.r_sense > 0:
            raise ValueError(
                f"r_source = {self.r_source!r} / r_sense = {self.r_sense!r} with zero segment resistance is not "
                "supported: give r_row / r_col > 0 (fold the series resistance into the first / last segment)"
            )


def _check(g_S: torch.Tensor, v_V: torch.Tensor | None) -> None:
    if g_S.dim() != 2 or min(g_S.shape) < 1:
        raise ValueError(f"g_S has shape {tuple(g_S.shape)}: allowed is (rows, cols) conductances in siemens")
    if not bool(torch.isfinite(g_S).all()) or bool((g_S < 0).any()):
        raise ValueError("g_S holds negative, NaN or infinite conductances: allowed are finite values >= 0 S")
    if v_V is not None:
        if v_V.dim() != 2 or v_V.shape[1] != g_S.shape[0]:
            raise ValueError(
                f"v_in_V has shape {tuple(v_V.shape)}: allowed is (batch, {g_S.shape[0]}) row voltages in volts"
            )
        if not bool(torch.isfinite(v_V).all()):
            raise ValueError("v_in_V holds NaN or infinite voltages: allowed are finite volts")


def _cells(g_S: torch.Tensor, w: Wires) -> torch.Tensor:
    g = g_S.to(torch.float64)
    if w.r_access > 0:
        g = g / (1.0 + g * w.r_access)
    return g


def _row_diag(g: torch.Tensor, a: float, a0: float) -> torch.Tensor:
    """(R, C) diagonals of the row-line matrices: segment conductances a (a0 to the source) plus cells."""
    d = g + 2 * a
    d[:, 0] += a0 - a
    d[:, -1] -= a
    return d


def _row_inverse(g: torch.Tensor, a: float, a0: float) -> torch.Tensor:
    """(R, C, C) inverses of the row-line matrices T_i = path Laplacian (a) + diag(g_i), with the
    first node tied to its source through a0.

    Closed form for a symmetric tridiagonal matrix with off-diagonal -a (Usmani 1994):
    (T^-1)_jk = a^(k-j) theta_(j-1) phi_(k+1) / theta_C for j <= k, with the leading and trailing
    principal minors theta and phi, evaluated in log space (they grow like d^C).
    """
    r, c = g.shape
    d = _row_diag(g, a, a0)
    a2 = a * a
    # ratios rho_j = theta_j / theta_(j-1) and sigma_k = phi_k / phi_(k+1): positive (diagonally dominant)
    rho = torch.empty_like(d)
    sig = torch.empty_like(d)
    rho[:, 0] = d[:, 0]
    for j in range(1, c):
        rho[:, j] = d[:, j] - a2 / rho[:, j - 1]
    sig[:, c - 1] = d[:, c - 1]
    for k in range(c - 2, -1, -1):
        sig[:, k] = d[:, k] - a2 / sig[:, k + 1]
    log_theta = torch.cat([torch.zeros(r, 1, dtype=d.dtype, device=d.device), rho.log().cumsum(1)], 1)  # theta_0..C
    log_phi = torch.cat([sig.log().flip(1).cumsum(1).flip(1), torch.zeros(r, 1, dtype=d.dtype, device=d.device)], 1)
    idx = torch.arange(c, device=d.device, dtype=d.dtype)
    upper = (
        (idx[None, :] - idx[:, None])[None] * math.log(a)
        + log_theta[:, :c, None]  # theta_(j-1), j = 0..C-1 (1-based j-1 = 0-based j)
        + log_phi[:, None, 1:]  # phi_(k+1)
        - log_theta[:, c, None, None]
    )
    tri = torch.triu(torch.ones(c, c, dtype=torch.bool, device=d.device))
    out = torch.where(tri, upper, upper.transpose(1, 2)).exp_()
    return out


def _forward(
    g: torch.Tensor, tinv: torch.Tensor, w: Wires, rhs: torch.Tensor, keep: bool
) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
    """Block elimination down the rows. ``rhs`` is (R, C, K): one right-hand side per row block.

    Returns the last block's solution (C, K) of the column-node voltages and, if ``keep``, the
    inverted Schur complements and eliminated right-hand sides needed for back substitution.
    """
    r, c = g.shape
    b, b_last = 1.0 / w.r_col, 1.0 / (w.r_col + w.r_sense)
    s_inv_prev: torch.Tensor | None = None
    y_prev: torch.Tensor | None = None
    factors: list[torch.Tensor] = []
    ys: list[torch.Tensor] = []
    for i in range(r):
        c_i = (b if i > 0 else 0.0) + (b if i < r - 1 else b_last)
        m = torch.diag(g[i] + c_i) - g[i][:, None] * tinv[i] * g[i][None, :]  # c I + D - D T^-1 D
        y = rhs[i]
        if s_inv_prev is not None and y_prev is not None:
            m = m - (b * b) * s_inv_prev
            y = y + b * (s_inv_prev @ y_prev)
        s_inv = torch.linalg.inv(m)
        if keep:
            factors.append(s_inv)
            ys.append(y)
        s_inv_prev, y_prev = s_inv, y
    assert s_inv_prev is not None and y_prev is not None
    return s_inv_prev @ y_prev, factors, ys


@dataclass
class CircuitSolution:
    """Output currents and, optionally, every node voltage of a batch of inputs.

    Attributes:
        currents_A: (batch, cols) currents into the sense amplifiers (amperes).
        row_V: (batch, rows, cols) row-line node voltages, or None.
        col_V: (batch, rows, cols) column-line node voltages, or None.

    """

    currents_A: torch.Tensor
    row_V: torch.Tensor | None = None
    col_V: torch.Tensor | None = None


def solve_crossbar(
    g_S: torch.Tensor, v_in_V: torch.Tensor, wires: Wires | None = None, node_voltages: bool = False
) -> CircuitSolution:
    """Exact output currents of a 1T1R crossbar with wire resistance (float64).

    Args:
        g_S: (rows, cols) cell conductances (siemens).
        v_in_V: (batch, rows) voltages applied to the rows (volts).
        wires: parasitic resistances (default 1 ohm segments).
        node_voltages: also return every row and column node voltage.

    Raises:
        ValueError: bad shapes, negative resistances or conductances, NaN.

    """
    w = wires or Wires()
    _check(g_S, v_in_V)
    g = _cells(g_S, w)
    v = v_in_V.to(torch.float64).to(g.device)
    if w.r_row == 0 and w.r_source == 0:
        if w.r_col == 0 and w.r_sense == 0:  # ideal wires: Ohm and Kirchhoff
            u = v[:, :, None].expand(-1, -1, g.shape[1])
            return CircuitSolution(v @ g, u.clone() if node_voltages else None,
                                   torch.zeros_like(u) if node_voltages else None)  # fmt: skip
        return _solve_columns_only(g, v, w, node_voltages)
    if w.r_col == 0 and w.r_sense == 0:
        return _solve_rows_only(g, v, w, node_voltages)
    a, a0 = 1.0 / w.r_row, 1.0 / (w.r_row + w.r_source)
    tinv = _row_inverse(g, a, a0)
    h = a0 * g * tinv[:, :, 0]  # (R, C): D_i T_i^{-1} e_0 a0
    rhs = (h[:, :, None] * v.T[:, None, :]).contiguous()  # (R, C, B)
    w_last, factors, ys = _forward(g, tinv, w, rhs, keep=node_voltages)
    if not node_voltages:
        return CircuitSolution((w_last / (w.r_col + w.r_sense)).T)
    b = 1.0 / w.r_col
    col = [w_last]
    for i in range(g.shape[0] - 2, -1, -1):
        col.append(factors[i] @ (ys[i] + b * col[-1]))
    col_v = torch.stack(col[::-1])  # (R, C, B)
    row_v = tinv @ (a0 * v.T[:, None, :] * torch.eye(g.shape[1], 1, dtype=g.dtype, device=g.device)[None]
                    + g[:, :, None] * col_v)  # fmt: skip
    return CircuitSolution((w_last / (w.r_col + w.r_sense)).T, row_v.permute(2, 0, 1), col_v.permute(2, 0, 1))


def _tridiag_solve(diag: torch.Tensor, off: float, rhs: torch.Tensor) -> torch.Tensor:
    """Batched tridiagonal solve with constant off-diagonal ``-off``: diag (..., n), rhs (..., n, k)."""
    n = diag.shape[-1]
    cp = torch.zeros_like(diag)
    dp = torch.zeros_like(rhs)
    cp[..., 0] = -off / diag[..., 0]
    dp[..., 0, :] = rhs[..., 0, :] / diag[..., 0, None]
    for i in range(1, n):
        den = diag[..., i] + off * cp[..., i - 1]
        cp[..., i] = -off / den
        dp[..., i, :] = (rhs[..., i, :] + off * dp[..., i - 1, :]) / den[..., None]
    x = torch.zeros_like(rhs)
    x[..., n - 1, :] = dp[..., n - 1, :]
    for i in range(n - 2, -1, -1):
        x[..., i, :] = dp[..., i, :] - cp[..., i, None] * x[..., i + 1, :]
    return x


def _solve_rows_only(g: torch.Tensor, v: torch.Tensor, w: Wires, nodes: bool) -> CircuitSolution:
    """Column lines at 0 V: each row line is an independent tridiagonal system."""
    a, a0 = 1.0 / w.r_row, 1.0 / (w.r_row + w.r_source)
    diag = _row_diag(g, a, a0)
    rhs = torch.zeros(g.shape[0], g.shape[1], v.shape[0], dtype=g.dtype, device=g.device)
    rhs[:, 0, :] = a0 * v.T
    u = _tridiag_solve(diag, a, rhs)  # (R, C, B)
    cur = (g[:, :, None] * u).sum(0).T
    return CircuitSolution(
        cur, u.permute(2, 0, 1) if nodes else None, torch.zeros_like(u.permute(2, 0, 1)) if nodes else None
    )


def _solve_columns_only(g: torch.Tensor, v: torch.Tensor, w: Wires, nodes: bool) -> CircuitSolution:
    """Row lines at their source voltage: each column line is an independent tridiagonal system."""
    b, b_last = 1.0 / w.r_col, 1.0 / (w.r_col + w.r_sense)
    gt = g.T  # (C, R)
    diag = gt + 2 * b
    diag[:, 0] -= b
    diag[:, -1] += b_last - b
    rhs = (gt[:, :, None] * v.T[None, :, :]).contiguous()  # (C, R, B)
    col = _tridiag_solve(diag, b, rhs)  # (C, R, B)
    cur = (b_last * col[:, -1, :]).T
    if not nodes:
        return CircuitSolution(cur)
    u = v[:, :, None].expand(-1, -1, g.shape[1]).clone()
    return CircuitSolution(cur, u, col.permute(2, 1, 0))


def effective_matrix(g_S: torch.Tensor, wires: Wires | None = None) -> torch.Tensor:
    """(rows, cols) matrix A with I = V @ A exactly for this array and wiring (siemens).

    Compute once per programmed tile; every input then costs one ideal matrix product.
    """
    r = g_S.shape[0]
    eye = torch.eye(r, dtype=torch.float64, device=g_S.device)
    return solve_crossbar(g_S, eye, wires).currents_A


def kcl_residual(g_S: torch.Tensor, v_in_V: torch.Tensor, sol: CircuitSolution, wires: Wires) -> torch.Tensor:
    """Largest current imbalance (amperes) over all nodes of every input: Kirchhoff's check."""
    if sol.row_V is None or sol.col_V is None:
        raise ValueError("kcl_residual() needs node voltages: solve with node_voltages=True")
    g = _cells(g_S, wires)
    u, c = sol.row_V, sol.col_V
    v = v_in_V.to(torch.float64)
    cell = g * (u - c)
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
