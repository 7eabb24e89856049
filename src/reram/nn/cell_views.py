"""What the read kernels see of a layer's cells: conductances as read (temperature), each cell's
branch with its access transistor, the per-weight differences (or a wired array's effective
matrix), the noise and energy matrices, all derived from the programmed state and cached until
it changes (``AnalogLayer.cached``). The elementwise ones are built a block of arrays at a time
(``branch_blocks``), so that building them needs no whole-layer temporaries (memory).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from reram import device as cell
from reram.nn import wired

if TYPE_CHECKING:
    from reram.config import Config
    from reram.mapping import TileGrid


BLOCK_CELLS = 1 << 21  # cells decoded and transformed at once by the blockwise builds


class CellViews:
    """Derived views of an analog layer's cells (mixed into :class:`reram.nn.layers.AnalogLayer`)."""

    g_S: torch.Tensor
    g_cells: torch.Tensor
    config: Config
    grid: TileGrid
    read_K: float | None
    _cols: slice | None = None  # the output columns a read sees (``reram.nn.reads``): None = all

    if TYPE_CHECKING:

        def cached(self, name: str, make: Any) -> torch.Tensor:
            """A tensor derived from the conductances (``AnalogLayer.cached``)."""
            ...

        def decode(self, codes: torch.Tensor) -> torch.Tensor:
            """Stored conductances in siemens (``CellState.decode``)."""
            ...

        @property
        def cells_dtype(self) -> torch.dtype:
            """The dtype the conductances are read in (``CellState.cells_dtype``)."""
            ...

    def cell_codes(self) -> torch.Tensor:
        """The stored cells a read sees: all of ``g_cells``, or the columns of a column block."""
        return self.g_cells if self._cols is None else self.g_cells[..., self._cols]

    def read_S(self) -> torch.Tensor:
        """(2, tiles, rows, cols) the cells' conductances as read at ``read_K`` (siemens): their
        temperature coefficient shifts them from the programmed state (``reram.read_temperature``).
        """
        g = self.decode(self.cell_codes())
        if self.read_K is None:
            return g
        return self.cached("read", lambda: self._at_read_K(g))

    def _at_read_K(self, g_S: torch.Tensor) -> torch.Tensor:
        return g_S if self.read_K is None else cell.at_read_temperature(g_S, self.read_K, self.config.device)

    def _with_access(self, g_S: torch.Tensor) -> torch.Tensor | None:
        """Cells ``g_S`` in series with their access transistors (None: none to add, ideal wires off)."""
        arr = self.config.array
        if arr.r_access_ohm == 0 or arr.ir_drop != "off":
            return None
        return g_S / (1 + g_S * arr.r_access_ohm)

    def branch_S(self) -> torch.Tensor:
        """(2, tiles, rows, cols) conductance of each cell's branch (siemens): the cell as read, in
        series with its access transistor, G / (1 + G r_access), with ideal wires; the cells
        themselves when the resistor network is solved (``array.ir_drop`` on: it holds r_access).
        """
        g = self.read_S()
        a = self.config.array
        if a.r_access_ohm == 0 or a.ir_drop != "off":
            return g
        return self.cached("branch", lambda: self._with_access(g))

    def _branch_of(self, g_S: torch.Tensor) -> torch.Tensor:
        """``branch_S`` of some cells ``g_S`` (siemens; a tensor of the caller's own)."""
        g = self._at_read_K(g_S)
        branch = self._with_access(g)
        return g if branch is None else branch

    def branch_blocks(self) -> Iterator[tuple[int, slice, torch.Tensor]]:
        """The branches of ``branch_S`` a block of whole arrays at a time: (row tile, columns,
        (2, rows, columns) siemens), about ``BLOCK_CELLS`` cells each, a tensor of its own.
        """
        codes = self.cell_codes()
        _, t, r, c = codes.shape
        ct = self.grid.col_tile
        width = ct * max(1, BLOCK_CELLS // (2 * r * ct))
        for k in range(t):
            for a in range(0, c, width):
                cols = slice(a, min(a + width, c))
                block = codes[:, k, :, cols]
                g = self.decode(block)
                yield k, cols, self._branch_of(g.clone() if g is block else g)

    def branch_col_sums(self) -> torch.Tensor:
        """(row tiles, cols) sum of the branches over both cells and the rows (siemens)."""
        _, t, _, c = self.cell_codes().shape
        out = torch.empty(t, c, dtype=self.cells_dtype, device=self.g_cells.device)
        for k, cols, b in self.branch_blocks():
            out[k, cols] = b.sum((0, 1))
        return out

    def gdiff(self) -> torch.Tensor:
        """(row tiles, rows, cols) what each weight contributes per volt (siemens): G+ - G- of the
        branches, or, with ``array.ir_drop`` on, the effective matrix of every array's network.
        """
        arr = self.config.array
        if arr.ir_drop == "off" or not arr.has_wires:
            return self.cached("gdiff", self._ideal_gdiff)
        return self.cached("gdiff_ir", self._effective_gdiff)

    def noise_cells(self) -> dict[Any, torch.Tensor]:
        """{"g_sq": G+^2 + G-^2, "g_tot": G+ + G-} of the branches, (row tiles, rows, cols): what
        the physical read noise of each weight position needs (siemens^2, siemens). One dict
        per programmed state: array products keep what they derive from it there (the stacked
        variance matrix, line sums); the two matrices themselves are computed when asked for,
        not kept (memory: two matrices the size of the weights).
        """
        return self.cached("noise_cells", lambda: _CellMatrices(self))  # type: ignore[return-value]

    def _ideal_gdiff(self) -> torch.Tensor:
        """G+ - G- of the branches; for voltage sensing on differential columns, two floating bit
        lines give sum(V G+) / sum(G+) - sum(V G-) / sum(G-), which the core's division by the
        pair's sum(G+) + sum(G-) returns exactly from G+ S / S+ - G- S / S- (S: column sums).
        """
        if not self.floating_columns():
            _, t, r, c = self.cell_codes().shape
            out = torch.empty(t, r, c, dtype=self.cells_dtype, device=self.g_cells.device)
            for k, cols, blk in self.branch_blocks():
                torch.sub(blk[0], blk[1], out=out[k, :, cols])
            return out
        b = self.branch_S()
        s_pos, s_neg = b[0].sum(1, keepdim=True).clamp_min(1e-30), b[1].sum(1, keepdim=True).clamp_min(1e-30)
        total = s_pos + s_neg
        return b[0] * (total / s_pos) - b[1] * (total / s_neg)

    def floating_columns(self) -> bool:
        """Whether each weight's G+ and G- columns are two floating bit lines (voltage sensing on
        differential columns): each settles at its own voltage, in the signal and the energy.
        """
        return self.config.periphery.adc.sensing == "voltage" and self.config.array.differential == "columns"

    def _effective_gdiff(self) -> torch.Tensor:
        return wired.effective_gdiff(self)  # type: ignore[arg-type]

    def wired_energy(self) -> bool:
        """Whether reads count their energy from the solved node voltages (``reram.nn.wired``)."""
        return wired.counts_wire_energy(self)  # type: ignore[arg-type]

    def energy_forms(self) -> torch.Tensor:
        """(2, row tiles, column tiles, rows, rows) cell and wire power forms per V^2 of each array."""
        return self.cached("energy_forms", lambda: wired.energy_forms_of(self))  # type: ignore[arg-type]

    def col_tile_sums(self, per_col: torch.Tensor) -> torch.Tensor:
        """(row tiles, cols) -> (row tiles, column tiles): sums over each array's columns."""
        ct = self.grid.col_tile
        n = -(-per_col.shape[-1] // ct)
        return F.pad(per_col, (0, n * ct - per_col.shape[-1])).view(per_col.shape[0], n, ct).sum(-1)

    def g_row(self) -> torch.Tensor:
        """(row tiles, rows, column tiles) programmed conductance on each weight row of each
        array, both cells of every pair (siemens).
        """

        def make() -> torch.Tensor:
            _, t, r, c = self.cell_codes().shape
            ct = self.grid.col_tile
            out = torch.empty(t, r, -(-c // ct), dtype=self.cells_dtype, device=self.g_cells.device)
            for k, cols, b in self.branch_blocks():  # blocks hold whole arrays' columns
                g = b[0] + b[1]
                pad = -g.shape[-1] % ct
                sums = F.pad(g, (0, pad)).view(r, -1, ct).sum(-1)
                out[k, :, cols.start // ct : cols.start // ct + sums.shape[-1]] = sums
            return out

        return self.cached("g_row", make)


class _CellMatrices(dict):  # type: ignore[type-arg]
    """A dict whose "g_tot" and "g_sq" are computed from the branches on every lookup, so that
    only what is derived from them and stored (``StackOp.variance_sums``) stays in memory; the
    stacked variance matrix and the line sums are built block by block (``stacked``, ``line``).
    """

    def __init__(self, views: CellViews):
        super().__init__()
        self._views = views

    def __missing__(self, key: Any) -> torch.Tensor:
        if key not in ("g_tot", "g_sq"):
            raise KeyError(key)
        b = self._views.branch_S()
        return b[0] + b[1] if key == "g_tot" else b[0] * b[0] + b[1] * b[1]

    def stacked(self, c_tot: float, c_sq: float, dtype: torch.dtype) -> torch.Tensor:
        """(row tiles, 2 rows, cols) [c_tot (G+ + G-); c_sq (G+^2 + G-^2)] in ``dtype``."""
        v = self._views
        _, t, r, c = v.cell_codes().shape
        out = torch.empty(t, 2 * r, c, dtype=dtype, device=v.g_cells.device)
        for k, cols, b in v.branch_blocks():
            out[k, :r, cols] = (b[0] + b[1]).mul_(c_tot)
            out[k, r:, cols] = b.square_().sum(0).mul_(c_sq)
        return out

    def line(self) -> torch.Tensor:
        """(row tiles, cols) sum of G+ + G- over each line's rows (siemens)."""
        return self._views.branch_col_sums()

    def __contains__(self, key: object) -> bool:
        return key in ("g_tot", "g_sq") or super().__contains__(key)
