"""Nested dissection of the crossbar grid: the whole resistor network reduced to its ports.

The crossbar's nodes sit on a grid: a row-line node u(i, j) and a column-line node c(i, j) per
cell, joined by the cell's conductance; row segments join u(i, j)-u(i, j+1), column segments
c(i, j)-c(i+1, j). Only the left ends of the rows (drivers) and the bottom ends of the columns
(sense amplifiers) touch the outside. This module eliminates every other node exactly and
returns the (rows + cols) x (rows + cols) Schur complement on those ports, from which any port
condition (driven, floating or biased rows; virtual-ground or floating columns) is one small
dense solve.

The grid is cut into small rectangular leaves; each leaf is reduced to its four edges (left and
right row nodes, top and bottom column nodes); neighbouring domains are then merged pairwise,
alternating horizontal and vertical merges, eliminating the two edges they share (a vertical
cut crosses only row lines, a horizontal cut only column lines). Every level is one batched
Cholesky, triangular solve and matrix product over all domains of that level; the cost is
dominated by the last merges, O((rows + cols)^3), instead of O(rows * cols^3) for a row-by-row
block elimination. Float64 throughout.
"""

from __future__ import annotations

import math

import torch


def _split(n: int) -> tuple[int, int]:
    """Leaf size (2..8) and number of halvings k with leaf * 2^k >= n, padding as little as possible."""
    best: tuple[int, int, int, int] | None = None
    for k in range(0, max(1, math.ceil(math.log2(max(n, 1)))) + 1):
        leaf = max(2, math.ceil(n / 2**k))
        if leaf > 8:
            continue
        cand = (
            leaf * 2**k,
            abs(leaf - 2),
            leaf,
            k,
        )  # little padding, then the smallest leaves (2 x 2 need no elimination)
        if best is None or cand < best:
            best = cand
    assert best is not None
    return best[2], best[3]


def _take(k: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    """Symmetric reordering k[..., order, order] (one gather per dimension)."""
    return k.index_select(-1, order).index_select(-2, order)


def _schur(k: torch.Tensor, n_elim: int) -> torch.Tensor:
    """Batched Schur complement of the SPD matrices ``k`` (..., n, n) eliminating the first ``n_elim``."""
    low = torch.linalg.cholesky(k[..., :n_elim, :n_elim])
    x = torch.linalg.solve_triangular(low, k[..., :n_elim, n_elim:], upper=False)
    return k[..., n_elim:, n_elim:] - x.transpose(-1, -2) @ x


Edges = dict[str, torch.Tensor]


def _leaves(g: torch.Tensor, h: int, w: int, a: float, b: float) -> tuple[torch.Tensor, Edges]:
    """Reduce every h x w leaf to its edges L, R (row nodes), T, B (column nodes).

    Returns (nr, nc, 2h + 2w, 2h + 2w) matrices and the positions of each edge in them.
    """
    rows, cols = g.shape
    nr, nc = rows // h, cols // w
    hw = h * w
    gl = g.reshape(nr, h, nc, w).permute(0, 2, 1, 3).reshape(nr, nc, hw)
    dev, dt = g.device, g.dtype
    # one leaf's line Laplacian (row segments a, column segments b); nodes u(i, j) = i w + j, c = hw + u
    base = torch.zeros(2 * hw, 2 * hw, dtype=dt, device=dev)
    uid = torch.arange(hw, device=dev).reshape(h, w)
    cid = uid + hw
    for p, q, cond in ((uid[:, :-1], uid[:, 1:], a), (cid[:-1, :], cid[1:, :], b)):
        p, q = p.reshape(-1), q.reshape(-1)
        base[p, p] += cond
        base[q, q] += cond
        base[p, q] -= cond
        base[q, p] -= cond
    keep = torch.cat([uid[:, 0], uid[:, -1], cid[0, :], cid[-1, :]])
    mask = torch.ones(2 * hw, dtype=torch.bool, device=dev)
    mask[keep] = False
    order = torch.cat([torch.arange(2 * hw, device=dev)[mask], keep])  # interior first, then the edges
    n, n_elim = 2 * hw, 2 * hw - len(keep)
    where = torch.empty(n, dtype=torch.long, device=dev)
    where[order] = torch.arange(n, device=dev)
    k = base[order[:, None], order[None, :]].expand(nr * nc, n, n).clone()
    pu, pc = where[uid.reshape(-1)], where[cid.reshape(-1)]
    flat = torch.cat([pu * n + pu, pc * n + pc, pu * n + pc, pc * n + pu])
    cells = gl.reshape(nr * nc, hw)
    k.view(nr * nc, n * n).index_add_(1, flat, torch.cat([cells, cells, -cells, -cells], 1))
    k = k.reshape(nr, nc, n, n)
    if n_elim:
        k = _schur(k, n_elim)
    edges = {
        "L": torch.arange(0, h), "R": torch.arange(h, 2 * h),
        "T": torch.arange(2 * h, 2 * h + w), "B": torch.arange(2 * h + w, 2 * h + 2 * w),
    }  # fmt: skip
    return k, {key: v.to(dev) for key, v in edges.items()}


def _merge(k: torch.Tensor, edges: Edges, cond: float, horizontal: bool) -> tuple[torch.Tensor, Edges]:
    """Merge neighbouring domains pairwise along columns (``horizontal``) or rows.

    Domain 1's shared edge (R1 or B1) joins domain 2's (L2 or T2) through one segment of
    conductance ``cond`` each; both are eliminated in two steps, each domain's own block first,
    so no product runs over the zero coupling between the two domains' other edges.
    """
    e1, e2 = ("R", "L") if horizontal else ("B", "T")
    o1 = [x for x in "LRTB" if x != e1]
    o2 = [x for x in "LRTB" if x != e2]
    d1, d2 = (k[:, 0::2], k[:, 1::2]) if horizontal else (k[0::2], k[1::2])
    p = _take(d1, torch.cat([edges[e1]] + [edges[x] for x in o1]))
    q = _take(d2, torch.cat([edges[e2]] + [edges[x] for x in o2]))
    m = len(edges[e1])
    eye = torch.eye(m, dtype=k.dtype, device=k.device)
    # eliminate domain 1's edge: M = P_ee + cond I
    lm = torch.linalg.cholesky(p[..., :m, :m] + cond * eye)
    y = torch.linalg.solve_triangular(lm, p[..., :m, m:], upper=False)  # L_M^-1 P_eo
    z = torch.linalg.solve_triangular(lm.transpose(-1, -2), y, upper=True)  # M^-1 P_eo
    m_inv = torch.cholesky_inverse(lm)
    # then domain 2's edge, which now sees cond I - cond^2 M^-1 and couples to domain 1 via cond Z
    ln = torch.linalg.cholesky(q[..., :m, :m] + cond * eye - cond * cond * m_inv)
    u = torch.linalg.solve_triangular(ln, cond * z, upper=False)
    v = torch.linalg.solve_triangular(ln, q[..., :m, m:], upper=False)
    s11 = p[..., m:, m:] - y.transpose(-1, -2) @ y - u.transpose(-1, -2) @ u
    s12 = -u.transpose(-1, -2) @ v
    s22 = q[..., m:, m:] - v.transpose(-1, -2) @ v
    out = torch.cat([torch.cat([s11, s12], -1), torch.cat([s12.transpose(-1, -2), s22], -1)], -2)
    # positions of the new domain's edges in [o1..., o2...]
    pos: dict[str, list[torch.Tensor]] = {x: [] for x in "LRTB"}
    at = 0
    for names, first in ((o1, True), (o2, False)):
        for x in names:
            n = len(edges[x])
            idx = torch.arange(at, at + n, device=k.device)
            at += n
            if horizontal and x in "TB" or not horizontal and x in "LR":
                pos[x].append(idx)  # both halves' top/bottom (or left/right) edges
            elif x == ("L" if horizontal else "T") and first or x == ("R" if horizontal else "B") and not first:
                pos[x].append(idx)
    return out, {x: torch.cat(v) for x, v in pos.items()}


def port_schur(g: torch.Tensor, r_row: float, r_col: float) -> tuple[torch.Tensor, int, int]:
    """Schur complement of the crossbar grid on its ports (float64).

    Args:
        g: (..., rows, cols) cell conductances in series with their access devices (siemens);
            leading dimensions are independent arrays.
        r_row, r_col: row and column segment resistances (ohms, > 0).

    Returns:
        (S, rows, cols): S is (..., rows + cols, rows + cols) over [left row ends u(i, 0) for
        every row; bottom column ends c(rows - 1, j) for every column], siemens, with no driver
        or sense resistance attached (add them on the diagonal).

    """
    *lead, rows, cols = g.shape
    g = g.reshape(-1, rows, cols).to(torch.float64)
    hl, kr = _split(rows)
    wl, kc = _split(cols)
    pr, pc = hl * 2**kr - rows, wl * 2**kc - cols
    # padding is exact: zero-conductance rows above (driven at 0 V) and columns to the right
    # (open-ended row segments) carry no current
    gp = torch.nn.functional.pad(g, (0, pc, pr, 0))
    outs = []
    for gi in gp:
        k, edges = _leaves(gi, hl, wl, 1.0 / r_row, 1.0 / r_col)
        h, w = hl, wl
        while k.shape[0] > 1 or k.shape[1] > 1:
            horizontal = k.shape[1] > 1 and (w <= h or k.shape[0] == 1)
            k, edges = _merge(k, edges, 1.0 / r_row if horizontal else 1.0 / r_col, horizontal)
            h, w = (h, 2 * w) if horizontal else (2 * h, w)
        # open ends (right ends of rows, top ends of columns) are eliminated last; the padded
        # lines' ports are isolated (zero rows and columns of S) and dropped
        order = torch.cat([edges["R"], edges["T"], edges["L"][pr:], edges["B"][:cols]])
        outs.append(_schur(_take(k[0, 0], order), h + w))
    return torch.stack(outs).reshape(*lead, rows + cols, rows + cols), rows, cols
