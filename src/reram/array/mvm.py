"""Ohm + Kirchhoff: where a column (or, transposed, a row) current is summed, and the read noise.

Each cell passes I = V G; each column sums its cells' currents (:meth:`StackOp.currents`). Read
noise, independent Gaussian on every cell, enters in distribution: the column current is exactly
N(V @ G, (V**2) @ sigma**2), so its variance is one more product (:meth:`StackOp.variance_sums`;
the noise models: ``reram.array.noise``) and one sample per output, drawn with the converter's
own noise in ``reram.core``, replaces a noise tensor per input. A floating bit line of nonlinear cells
(I = G v0 sinh(V / v0)) settles where its cells' currents cancel (:func:`floating_line_V`).

A :class:`StackOp` is what :func:`reram.core.analog_matmul` drives: a stack of arrays (tiles),
each a dense (rows, cols) matrix of what one volt on a row adds to a column's current (siemens),
and how a flat input vector is split over the tiles' rows. Inference layers (forward reads),
transposed reads (columns driven, rows sensed) and on-chip training (K cells of set
significance against a reference column) all build one and read it through the same pipeline:
DAC (``reram.periphery.dac``) -> currents and read noise (here) -> sensing and ADC
(``reram.periphery.adc``) -> digital partial sums (``reram.core``).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F


@functools.lru_cache(maxsize=8)
def variance_dtype(device: torch.device) -> torch.dtype:
    """The dtype the read noise's variance product runs in on ``device``: bfloat16 where the
    hardware multiplies it natively (CUDA with bf16, CPUs with AVX512-BF16 or AMX: about 2.5x
    the float32 rate here), else float32. The variance then carries a relative error of at most
    ~2^-8 (the noise's std 2^-9), far inside what the noise model itself knows; the signal path is
    always float32. ``RERAM_VARIANCE_DTYPE=float32`` forces float32 everywhere.
    """
    if os.environ.get("RERAM_VARIANCE_DTYPE", "").lower() == "float32":
        return torch.float32
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
    if device.type != "cpu":
        return torch.float32
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="ignore") as f:
            flags = next((line for line in f if line.startswith("flags")), "").split()
    except OSError:
        return torch.float32
    return torch.bfloat16 if {"avx512_bf16", "amx_bf16"} & set(flags) else torch.float32


def _bmm(a: torch.Tensor, m: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    # (tiles, N, rows) @ (tiles, rows, cols), plus a (tiles, cols) bias on every row when given
    if bias is None:
        return torch.bmm(a, m)
    return torch.baddbmm(bias.to(m.dtype).unsqueeze(1), a, m)


def floating_line_V(i_A: torch.Tensor, op: Any, v_V: torch.Tensor, gsum_S: torch.Tensor, v0_V: float) -> torch.Tensor:
    """The voltage a floating bit line settles at among cells of I = G v0 sinh(V / v0) (volts).

    No current leaves the line: sum G sinh((V - V_bl) / v0) = 0. With sinh(a - b) = sinh a
    cosh b - cosh a sinh b this is tanh(V_bl / v0) = sum G sinh(V / v0) / sum G cosh(V / v0),
    two array products; a differential pair's second cell, driven at -V, enters the first sum
    with its sign (sinh is odd) and the second without (cosh is even). At v0 -> inf it is
    sum G V / sum G, the ohmic line.

    Args:
        i_A: (N, tiles, cols, ...) sum of (G+ - G-) v0 sinh(V / v0) over each line's cells
            (amperes; read noise included).
        op: the array product (``cell_sums`` of the cells' total G).
        v_V: the row voltages (N, features).
        gsum_S: every cell's G on each line (siemens), broadcastable to ``i_A``.
        v0_V: the cells' nonlinearity (volts).

    """
    cosh = op.cell_sums(torch.cosh(v_V / v0_V) - 1.0, "g_tot") + gsum_S
    ratio = (i_A / (v0_V * cosh)).clamp(-1.0 + 1e-6, 1.0 - 1e-6)  # |sinh| < cosh: read noise may push past
    return v0_V * torch.atanh(ratio)


Grouping = Callable[[torch.Tensor], torch.Tensor]


def row_grouping(tiles: int, rows: int) -> Grouping:
    """(N, features) -> (tiles, N, rows): features cut into ``tiles`` consecutive blocks of
    ``rows`` (the last zero-padded), the inputs of each tile's rows.
    """

    def group(v: torch.Tensor) -> torch.Tensor:
        pad = tiles * rows - v.shape[-1]
        if pad:
            v = F.pad(v, (0, pad))
        return v.reshape(v.shape[0], tiles, rows).transpose(0, 1)

    group.tiles_rows = (tiles, rows)  # type: ignore[attr-defined]
    return group


def repeated_grouping(group: Grouping, times: int) -> Grouping:
    """``group`` applied once and repeated ``times`` along the tiles (the same inputs drive
    ``times`` stacks of arrays, e.g. the K cells of a weight in K phases).
    """
    if times == 1:
        return group
    return lambda v: group(v).repeat(times, 1, 1)


class StackOp:
    """The array product of a stack of tiles driven on their rows.

    Args:
        gdiff_S: (tiles, rows, cols) column current per row volt of each tile (siemens): G+ - G-
            of a differential pair, G_k - G_ref of an on-chip cell, or a wired array's effective
            matrix.
        group: (N, features) inputs -> (tiles, N, rows), the volts on each tile's rows.
        g_row_S: (tiles, rows, k) conductance on each driven row line, summed over each of k
            groups of columns (siemens): the cell energy of a read is sum V^2 G t per line.
        col_groups: columns per group of ``g_row_S`` (the array width); None = one group.
        cells_S: for the physical read noise, a function returning {"g_sq": sum over the cells
            of each weight position of G^2 (S^2), "g_tot": of G (S)}, each shaped as ``gdiff_S``;
            matrices derived from them are kept in that dict.
        read_K: the read temperature (kelvin; None = the device's t_ref_K), for thermal noise.
        energy_S: for a wired array, a function returning (2, tiles, column groups, rows, rows)
            the cell and wire power forms per V^2 (siemens; ``reram.array.energy``).
        line_pairs: for two floating bit lines per output (voltage sensing on differential
            columns), a function returning each line's product and conductance (tiles, cols):
            the energy of a floating line depends on its own voltage.

    """

    def __init__(
        self,
        gdiff_S: torch.Tensor,
        group: Grouping,
        g_row_S: torch.Tensor | None = None,
        col_groups: int | None = None,
        cells_S: Callable[[], dict[Any, torch.Tensor]] | None = None,
        read_K: float | None = None,
        energy_S: Callable[[], torch.Tensor] | None = None,
        line_pairs: Callable[[], list[tuple[StackOp, torch.Tensor]]] | None = None,
    ):
        self.gdiff = gdiff_S
        self.group = group
        self._g_row = g_row_S
        self._col_groups = col_groups
        self._cells = cells_S
        self._cell_mats: dict[Any, torch.Tensor] | None = None  # the owner's (derived matrices kept there)
        self.read_K = read_K
        self._energy = energy_S
        self._pairs = line_pairs

    def floating_pairs(self) -> list[tuple[StackOp, torch.Tensor]] | None:
        """Each output's two floating lines (their products and conductances), or None."""
        return None if self._pairs is None else self._pairs()

    def _product(self, v: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        if m.shape[0] == 1 and v.shape[-1] == m.shape[1]:
            return (v @ m[0]).unsqueeze(1)
        return torch.bmm(self.group(v), m).transpose(0, 1)

    def currents(self, v_V: torch.Tensor) -> torch.Tensor:
        """(N, tiles, cols) column currents (amperes) for flat row voltages ``v_V`` (N, features)."""
        return self._product(v_V, self.gdiff)

    def _cells_dict(self) -> dict[Any, torch.Tensor]:
        if self._cell_mats is None:
            if self._cells is None:
                raise ValueError("this array product was built without its cells: the physical read noise needs them")
            self._cell_mats = self._cells()
        return self._cell_mats

    def cell_matrix(self, kind: str) -> torch.Tensor:
        """(tiles, rows, cols) per-position sums over the cells of G^2 ("g_sq") or G ("g_tot")."""
        return self._cells_dict()[kind]

    def cell_sums(self, a: torch.Tensor, kind: str) -> torch.Tensor:
        """(N, tiles, cols) sum over each tile's rows of ``a`` (N, features) x the cells' G^2 or G."""
        return self._product(a, self.cell_matrix(kind))

    def output_square_sums(self, v_V: torch.Tensor) -> torch.Tensor:
        """(tiles, cols) sum over the inputs ``v_V`` (N, features) of each noiseless output
        current squared (A^2). With rows <= N cols / (N + cols), from the inputs' Gram matrix
        per tile: sum_n (v_n . g)^2 = g^T (sum_n v_n v_n^T) g, fewer operations than the products.
        """
        t, r, c = self.gdiff.shape
        n = v_V.shape[0]
        if r * (n + c) >= n * c:
            i = self.currents(v_V)
            return (i * i).sum(0)
        gv = self.group(v_V)  # (tiles, N, rows)
        gram = torch.bmm(gv.transpose(1, 2), gv)  # (tiles, rows, rows)
        return (torch.bmm(gram, self.gdiff) * self.gdiff).sum(1)

    @property
    def solves_energy(self) -> bool:
        """Whether reads count their energy from a wired array's solved forms (quadratic in V)."""
        return self._energy is not None

    def variance_sums(
        self, a: torch.Tensor, b: torch.Tensor | None, c_tot: float, c_sq: float, bias: torch.Tensor | None = None
    ) -> torch.Tensor:
        """(N, tiles, cols) sum over each tile's rows of c_tot ``a`` G + c_sq ``b`` G^2, as one
        product (the two cell matrices stacked along the rows, scaled once per programmed state).

        Args:
            a, b: (N, features) inputs of the G and G^2 terms; ``b`` None: ``a`` is the drive V
                and the terms are |V| and V^2.
            c_tot, c_sq: the terms' coefficients.
            bias: (tiles, cols) added to every output inside the product (the lines' thermal
                variance: no pass of its own), or None.

        """
        mats = self._cells_dict()
        dtype = variance_dtype(a.device) if a.dtype == torch.float32 else a.dtype
        key = ("variance", c_tot, c_sq, dtype)
        if key not in mats:  # kept in the owner's dict: rebuilt when the cells change
            stacked = getattr(mats, "stacked", None)  # built block by block by the owner (memory)
            mats[key] = (
                stacked(c_tot, c_sq, dtype)
                if stacked is not None
                else torch.cat([mats["g_tot"] * c_tot, mats["g_sq"] * c_sq], dim=1).to(dtype)
            )
        t, r = self.gdiff.shape[:2]
        if getattr(self.group, "tiles_rows", None) != (t, r):  # inputs repeated over tiles: the general way
            terms = (a.abs(), a * a) if b is None else (a, b)
            both = torch.cat([self.group(terms[0]), self.group(terms[1])], dim=-1).to(dtype)
            return _bmm(both, mats[key], bias).to(a.dtype).transpose(0, 1)
        n, f = a.shape
        pad = t * r - f  # the last tile's unused rows: zero

        def tiles_of(x: torch.Tensor) -> torch.Tensor:
            return (F.pad(x, (0, pad)) if pad else x).view(n, t, r).transpose(0, 1)

        both = a.new_empty(t, n, 2 * r, dtype=dtype)
        first, second = both[..., :r], both[..., r:]
        first.copy_(tiles_of(a))  # every tile's inputs, written once into the stacked operand
        if b is None:  # |V| and V^2 of the drive, in place
            second.copy_(first)
            first.abs_()
            second.mul_(second)
        else:
            second.copy_(tiles_of(b))
        return _bmm(both, mats[key], bias).to(a.dtype).transpose(0, 1)

    def read_energy(self, v_V: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        """(cells, wires) power x time^-1 of the reads ``v_V`` per array (tiles, column groups):
        sum over inputs of v^T M v with each array's solved forms (watts); None without forms.
        """
        if self._energy is None:
            return None
        forms = self._energy().to(v_V.dtype)  # (2, tiles, groups, rows, rows)
        v = self.group(v_V)  # (tiles, N, rows)
        gram = torch.bmm(v.transpose(1, 2), v)  # sum_n v v^T per tile: sum_n v^T M v = sum(M * gram)
        both = (forms * gram[None, :, None]).sum((-1, -2))  # (2, tiles, groups)
        return both[0], both[1]

    def line_conductance_S(self) -> torch.Tensor:
        """(tiles, cols) conductance of every cell on each sensed line (siemens)."""
        mats = self._cells_dict()
        if "line" not in mats:
            line = getattr(mats, "line", None)
            mats["line"] = line() if line is not None else mats["g_tot"].sum(1)
        return mats["line"]

    def square_sums(self, v_sq: torch.Tensor) -> torch.Tensor:
        """(N, tiles, 1) sum over each tile's rows of V**2 (volts squared)."""
        return self.group(v_sq).sum(-1).T.unsqueeze(-1)

    @property
    def g_row_S(self) -> torch.Tensor:
        """(tiles, rows, k) conductance on each row line per column group (siemens)."""
        if self._g_row is None:
            raise ValueError("this array product was built without its row conductances: no cell energy to count")
        return self._g_row

    def row_totals(self, a: torch.Tensor, g_row: torch.Tensor) -> torch.Tensor:
        """(tiles, k) sum over inputs and rows of ``a`` (N, features) x ``g_row`` (tiles, rows, k)."""
        s = self.group(a.sum(0, keepdim=True))[:, 0]  # (tiles, rows)
        return (s.unsqueeze(-1) * g_row).sum(1)

    def col_tile_sums(self, per_col: torch.Tensor) -> torch.Tensor:
        """(tiles, cols) -> (tiles, k): sums over each group of columns."""
        if self._col_groups is None:
            return per_col.sum(-1, keepdim=True)
        width = self._col_groups
        n = -(-per_col.shape[-1] // width)
        return F.pad(per_col, (0, n * width - per_col.shape[-1])).view(per_col.shape[0], n, width).sum(-1)


def transposed_stack(gdiff_S: torch.Tensor, col_tile: int) -> torch.Tensor:
    """The arrays of a row-driven stack read the other way (columns driven, rows sensed).

    Args:
        gdiff_S: (row tiles, rows, out) forward stack; columns in blocks of ``col_tile`` per array.
        col_tile: weight columns per array.

    Returns:
        (column tiles, col_tile, row tiles * rows): per array of a column block, each row's current
        per column volt (siemens); padded columns are zero.

    """
    t, r, out = gdiff_S.shape
    n_col = -(-out // col_tile)
    gd = F.pad(gdiff_S, (0, n_col * col_tile - out))
    return gd.view(t, r, n_col, col_tile).permute(2, 3, 0, 1).reshape(n_col, col_tile, t * r)
