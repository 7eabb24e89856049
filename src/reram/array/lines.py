"""Line-by-line crossbar solvers: every node voltage, and a fast alternating-line approximation.

Same network and conventions as :mod:`reram.array.circuit` (rows driven at their left ends through
``a0``, columns into virtual ground at their bottom ends through ``b_last``, segments ``a`` along
rows and ``b`` along columns; all conductances in siemens, float64).

* :func:`node_solve`: exact, by block-tridiagonal elimination down the rows. Each row line is a
  tridiagonal system given its column voltages, eliminated in closed form; what remains couples
  each row's column nodes only to the neighbouring rows (R dense C x C steps). Conductances may
  differ per input (a nonlinear cell's chord conductance at that input's voltages).
* :func:`line_sweep`: approximate, by alternating tridiagonal solves: every row line with the
  column lines held at their present voltages, then every column line with the row lines held.
  Exact when either line resistance is zero; the error grows with g r N^2 (stated in tests and
  the benchmark).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch


def row_diag(g: torch.Tensor, a: float, a0: float) -> torch.Tensor:
    """(..., C) diagonals of the row-line matrices: segment conductances a (a0 to the source) plus cells."""
    d = g + 2 * a
    d[..., 0] += a0 - a
    d[..., -1] -= a
    return d


def col_diag(g: torch.Tensor, b: float, b_last: float) -> torch.Tensor:
    """(..., R, C) diagonals of the column-line matrices (along R): segments b, b_last to the sense node."""
    d = g + 2 * b
    d[..., 0, :] -= b
    d[..., -1, :] += b_last - b
    return d


def row_inverse(g: torch.Tensor, a: float, a0: float) -> torch.Tensor:
    """(N, C, C) inverses of N row-line matrices T = path Laplacian (a) + diag(g), first node tied
    to its source through a0, for g of shape (N, C).

    Closed form for a symmetric tridiagonal matrix with off-diagonal -a (Usmani 1994):
    (T^-1)_jk = a^(k-j) theta_(j-1) phi_(k+1) / theta_C for j <= k, with the leading and trailing
    principal minors theta and phi, evaluated in log space (they grow like d^C).
    """
    r, c = g.shape
    d = row_diag(g, a, a0)
    a2 = a * a
    rho = torch.empty_like(d)  # theta_j / theta_(j-1), positive (diagonally dominant)
    sig = torch.empty_like(d)  # phi_k / phi_(k+1)
    rho[:, 0] = d[:, 0]
    for j in range(1, c):
        rho[:, j] = d[:, j] - a2 / rho[:, j - 1]
    sig[:, c - 1] = d[:, c - 1]
    for k in range(c - 2, -1, -1):
        sig[:, k] = d[:, k] - a2 / sig[:, k + 1]
    zero = torch.zeros(r, 1, dtype=d.dtype, device=d.device)
    log_theta = torch.cat([zero, rho.log().cumsum(1)], 1)  # theta_0..C
    log_phi = torch.cat([sig.log().flip(1).cumsum(1).flip(1), zero], 1)
    idx = torch.arange(c, device=d.device, dtype=d.dtype)
    upper = (
        (idx[None, :] - idx[:, None])[None] * math.log(a)
        + log_theta[:, :c, None]  # theta_(j-1)
        + log_phi[:, None, 1:]  # phi_(k+1)
        - log_theta[:, c, None, None]
    )
    tri = torch.triu(torch.ones(c, c, dtype=torch.bool, device=d.device))
    return torch.where(tri, upper, upper.transpose(1, 2)).exp_()


def node_solve(
    g: torch.Tensor, v: torch.Tensor, a: float, a0: float, b: float, b_last: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Every node voltage by block-tridiagonal elimination (both line resistances > 0).

    Args:
        g: (G, R, C) cell conductances; G = 1 (shared by every input) or G = batch (per input).
        v: (batch, R) source voltages (volts).

    Returns:
        (row_V, col_V), each (batch, R, C) volts.

    """
    ng, r, c = g.shape
    tinv = row_inverse(g.reshape(ng * r, c), a, a0).view(ng, r, c, c)
    h = a0 * g * tinv[..., 0]  # (G, R, C): D T^-1 e_0 a0
    src = v.T[None] if ng == 1 else v[:, :, None]  # (G, R, K)
    rhs = h[..., None] * src[:, :, None, :]  # (G, R, C, K)
    s_inv: torch.Tensor | None = None
    factors: list[torch.Tensor] = []
    ys: list[torch.Tensor] = []
    for i in range(r):
        gi = g[:, i]
        c_i = (b if i > 0 else 0.0) + (b if i < r - 1 else b_last)
        m = torch.diag_embed(gi + c_i) - gi[:, :, None] * tinv[:, i] * gi[:, None, :]  # c I + D - D T^-1 D
        y = rhs[:, i]
        if s_inv is not None:
            m = m - (b * b) * s_inv
            y = y + b * (s_inv @ ys[-1])
        s_inv = torch.linalg.inv(m)
        factors.append(s_inv)
        ys.append(y)
    col = [factors[-1] @ ys[-1]]
    for i in range(r - 2, -1, -1):
        col.append(factors[i] @ (ys[i] + b * col[-1]))
    col_v = torch.stack(col[::-1], 1)  # (G, R, C, K)
    e0 = torch.zeros(c, 1, dtype=g.dtype, device=g.device)
    e0[0] = a0
    row_v = tinv @ (e0 * src[:, :, None, :] + g[..., None] * col_v)
    if ng == 1:
        return row_v[0].permute(2, 0, 1), col_v[0].permute(2, 0, 1)
    return row_v[..., 0], col_v[..., 0]


def tridiag_solve(diag: torch.Tensor, off: float, rhs: torch.Tensor) -> torch.Tensor:
    """Batched tridiagonal solve (Thomas) with constant off-diagonal ``-off``: diag (..., n), rhs (..., n)."""
    n = diag.shape[-1]
    cp = torch.empty_like(diag)
    dp = torch.empty_like(rhs)
    cp[..., 0] = -off / diag[..., 0]
    dp[..., 0] = rhs[..., 0] / diag[..., 0]
    for i in range(1, n):
        den = diag[..., i] + off * cp[..., i - 1]
        cp[..., i] = -off / den
        dp[..., i] = (rhs[..., i] + off * dp[..., i - 1]) / den
    x = torch.empty_like(dp)
    x[..., n - 1] = dp[..., n - 1]
    for i in range(n - 2, -1, -1):
        x[..., i] = dp[..., i] - cp[..., i] * x[..., i + 1]
    return x


def line_sweep(
    g_of: Callable[[torch.Tensor], torch.Tensor],
    v: torch.Tensor,
    shape: tuple[int, int],
    a: float,
    a0: float,
    b: float,
    b_last: float,
    sweeps: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Alternating row-line / column-line solves (block Gauss-Seidel on the two line sets).

    Args:
        g_of: callable ``g_of(cell_V) -> (batch, R, C)`` conductances (siemens) at the cells'
            voltages (a chord conductance for nonlinear cells).
        v: (batch, R) source voltages (volts).
        shape: (R, C).
        sweeps: number of row-then-column passes (each refreshes the cells' conductances).
        a, b: segment conductances; 0 means ideal lines of that kind (no drop along them).

    Returns:
        (row_V, col_V), each (batch, R, C) volts.

    """
    r, c = shape
    u = v[:, :, None].expand(v.shape[0], r, c).clone()
    col = torch.zeros_like(u)
    for _ in range(sweeps):
        g = g_of(u - col)
        if a > 0:
            rhs = g * col
            rhs[..., 0] += a0 * v
            u = tridiag_solve(row_diag(g, a, a0), a, rhs)
        g = g_of(u - col)
        if b > 0:
            col = tridiag_solve(col_diag(g, b, b_last).transpose(1, 2), b, (g * u).transpose(1, 2)).transpose(1, 2)
    return u, col


def first_order(g: torch.Tensor, r_row: float, r_col: float, r_source: float, r_sense: float) -> torch.Tensor:
    """First-order effective matrix g (1 - rho - kappa) of a driven, current-sensed array (siemens).

    One Jacobi step from the ideal currents: a row line sags by the ideal currents through its
    segments, rho_ij v_i with rho_ij = r_source sum_m g_im + r_row sum_(k <= j) sum_(m >= k) g_im;
    the cells of column j then see the column line raised by r_sense plus r_col times the current
    below each node, which sums to kappa_mj v_m with kappa_mj = sum_i g_ij (r_sense +
    r_col (R - max(i, m))). Both factors are input-independent, so the correction is a matrix:
    O(R C) cumulative sums, differentiable. Error is second order in the drop (tests state it).
    """
    rho, kappa = line_sags(g, g, r_row, r_col, r_source, r_sense)
    return g * (1.0 - rho - kappa)


FIRST_ORDER_RANGE = 0.2  # largest drop (share of a cell's drive) where first order is within a few per cent


def first_order_drop(g: torch.Tensor, r_row: float, r_col: float, r_source: float, r_sense: float) -> float:
    """The largest share of a cell's drive that the first-order model's lines take away
    (max rho + kappa over the array; ``first_order`` is g (1 - rho - kappa)). Its error is
    second order in this share: beyond ``FIRST_ORDER_RANGE`` (0.2, errors ~4 % and growing)
    the exact solve is the model to use; at 1 the effective conductances change sign.
    """
    if g.numel() == 0:
        return 0.0
    rho, kappa = line_sags(g, g, r_row, r_col, r_source, r_sense)
    return float((rho + kappa).max())


def line_sags(
    g_row: torch.Tensor, g_col: torch.Tensor, r_row: float, r_col: float, r_source: float, r_sense: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """(R, C) first-order voltage lost along the row line and along the column line at each cell.

    Rows are driven at their first column, columns held (sensed or driven) at their last row.
    Cell (m, k) draws g_row[m, k] amperes per volt of its row's drive from the row line and
    g_col[m, k] per volt of its column's drive from the column line (the same conductance for a
    read; in an update each weighted by how often the crossing line fires). Returns rho (row
    sag) and kappa (column rise) per volt: rho_ij = r_source sum_m g_row_im + r_row sum_(k <= j)
    sum_(m >= k) g_row_im, kappa_ij = sum_m g_col_mj (r_sense + r_col (R - max(i, m))).
    """
    rows = g_row.shape[-2]
    total = g_row.sum(-1, keepdim=True)
    tail = (total - g_row.cumsum(-1)).add_(g_row)  # sum_(m >= k) g_im
    rho = r_source * total + r_row * tail.cumsum(-1)
    i = torch.arange(rows, dtype=g_col.dtype, device=g_col.device)[:, None]
    head = g_col.cumsum(-2)  # sum_(i <= m) g_ij
    weighted = g_col * (rows - i)
    below = weighted.sum(-2, keepdim=True) - weighted.cumsum(-2)  # sum_(i > m) g_ij (R - i)
    kappa = r_sense * head[..., -1:, :] + r_col * ((rows - i) * head + below)
    return rho, kappa
