"""Split a weight matrix (inputs x outputs) into tiles of one array's size.

Rows are split into groups aligned to whole input channels (a conv kernel's k*k rows stay on one
array, so a tile computes a convolution over a channel subset): every group but the last holds
ceil(channels / groups) channels, the last the rest. Columns are split into blocks of the array's
weight columns. Only the last row group can be short, so padding the input at its end lets all
tiles of a layer run as one batched product.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from reram.config import ArrayConfig


@dataclass(frozen=True)
class TileGrid:
    """How one layer's matrix is cut into tiles.

    Attributes:
        in_features: weight rows (inputs; Cin * kernel for convolutions).
        out_features: weight columns (outputs).
        kernel: rows per input channel (k*k for Conv2d, k for Conv1d, 1 for Linear).
        row_groups: (start, stop) weight rows of each row tile.
        col_tile: weight columns per array.
        cells_per_weight_row / cells_per_weight_col: cells one weight takes along rows / columns.

    """

    in_features: int
    out_features: int
    kernel: int
    row_groups: tuple[tuple[int, int], ...]
    col_tile: int
    cells_per_weight_row: int
    cells_per_weight_col: int

    @property
    def n_row(self) -> int:
        """Row tiles."""
        return len(self.row_groups)

    @property
    def n_col(self) -> int:
        """Column tiles."""
        return -(-self.out_features // self.col_tile)

    @property
    def rows_pad(self) -> int:
        """Rows of the largest row tile (all row tiles are padded to it)."""
        return max(b - a for a, b in self.row_groups)

    def tiles(self) -> list[tuple[int, int, int, int]]:
        """(row tile, column tile, weight rows used, weight columns used) of every tile."""
        out = []
        for r, (a, b) in enumerate(self.row_groups):
            for c in range(self.n_col):
                cols = min(self.col_tile, self.out_features - c * self.col_tile)
                out.append((r, c, b - a, cols))
        return out

    def row_mask(self, device: torch.device | None = None) -> torch.Tensor:
        """(row tiles, rows_pad) True where a padded row carries an input."""
        sizes = torch.tensor([b - a for a, b in self.row_groups], device=device)
        return torch.arange(self.rows_pad, device=device)[None, :] < sizes[:, None]

    def pack(self, w: torch.Tensor) -> torch.Tensor:
        """(in_features, out) matrix -> (row tiles, rows_pad, out), zero-padded."""
        out = w.new_zeros(self.n_row, self.rows_pad, w.shape[1])
        for r, (a, b) in enumerate(self.row_groups):
            out[r, : b - a] = w[a:b]
        return out

    def pack_block(self, w: torch.Tensor, tiles: slice, cols: slice) -> torch.Tensor:
        """The block (row tiles ``tiles``, columns ``cols``) of :meth:`pack` of ``w``, alone."""
        groups = self.row_groups[tiles]
        out = w.new_zeros(len(groups), self.rows_pad, len(range(*cols.indices(w.shape[1]))))
        for r, (a, b) in enumerate(groups):
            out[r, : b - a] = w[a:b, cols]
        return out

    def unpack(self, tiles: torch.Tensor) -> torch.Tensor:
        """(row tiles, rows_pad, out) -> (in_features, out), padding dropped."""
        return torch.cat([tiles[r, : b - a] for r, (a, b) in enumerate(self.row_groups)], 0)


def tile_matrix(in_features: int, out_features: int, arr: ArrayConfig, kernel: int = 1) -> TileGrid:
    """Cut an (in_features x out_features) matrix into tiles of the array in ``arr``.

    Raises:
        ValueError: if one input channel's kernel does not fit on one array.

    """
    if in_features % kernel:
        raise ValueError(f"in_features = {in_features} is not a multiple of kernel = {kernel}")
    cap_ch = arr.weight_rows // kernel
    if cap_ch < 1:
        raise ValueError(
            f"a kernel of {kernel} rows does not fit an array of {arr.weight_rows} weight rows "
            f"(array.rows = {arr.rows}, differential = {arr.differential!r}): use larger arrays"
        )
    channels = in_features // kernel
    n_r = -(-channels // cap_ch)
    per = -(-channels // n_r)
    groups = [(r * per * kernel, min((r + 1) * per, channels) * kernel) for r in range(n_r)]
    return TileGrid(
        in_features=in_features,
        out_features=out_features,
        kernel=kernel,
        row_groups=tuple(groups),
        col_tile=arr.weight_cols,
        cells_per_weight_row=2 if arr.differential == "rows" else 1,
        cells_per_weight_col=2 if arr.differential == "columns" else 1,
    )
