"""Place every tile of a network on a core of a chip; spill onto more chips when needed."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from reram.config import ChipConfig
from reram.mapping.tiling import TileGrid

log = logging.getLogger(__name__)


class MappingError(ValueError):
    """A network does not fit the configured chips."""


@dataclass(frozen=True)
class TileSite:
    """One tile on one core: its layer, position in the layer's grid, and cells used."""

    layer: str
    row_tile: int
    col_tile: int
    chip: int
    core: int
    cell_rows: int
    cell_cols: int


@dataclass
class Placement:
    """Where every tile lives. ``n_chips`` chips of ``cores_per_chip`` cores each."""

    sites: list[TileSite] = field(default_factory=list)
    cores_per_chip: int = 1
    array_cells: int = 1

    @property
    def cores_used(self) -> int:
        """Cores holding a tile (one tile per core)."""
        return len(self.sites)

    @property
    def n_chips(self) -> int:
        """Chips the network occupies."""
        return max((s.chip for s in self.sites), default=-1) + 1

    @property
    def utilization(self) -> float:
        """Fraction of the used cores' cells that hold a weight."""
        if not self.sites:
            return 0.0
        return sum(s.cell_rows * s.cell_cols for s in self.sites) / (len(self.sites) * self.array_cells)

    def layer_sites(self, layer: str) -> list[TileSite]:
        """The tiles of one layer, in (row tile, column tile) order."""
        return [s for s in self.sites if s.layer == layer]


def place(grids: dict[str, TileGrid], chip: ChipConfig, array_cells: int) -> Placement:
    """Assign tiles to cores, one tile per core, as ``chip.partition`` says.

    - "pipeline": in layer order, filling chip after chip (a chip is a pipeline stage; a layer
      is split over two chips only where the first fills up);
    - "tensor": on as many chips as the network needs, every layer's column blocks (all the row
      tiles of a block of output columns) dealt out in turn over all of them (tensor parallel
      by output columns: each chip holds a share of every matrix and sums its blocks itself).

    On more than one chip a layer's tiles go out column block by column block, so that the row
    tiles whose partial sums add up sit together; on one chip they go in grid order.

    Raises:
        MappingError: the network needs more than ``chip.max_chips`` chips.

    """
    total = sum(len(g.tiles()) for g in grids.values())
    need = -(-total // chip.cores)
    if need > chip.max_chips:
        raise MappingError(
            f"the model needs {total} cores = {need} chips of {chip.cores} cores, but "
            f"chip.max_chips = {chip.max_chips}: raise chip.max_chips, use larger arrays, or convert fewer layers"
        )
    sites: list[TileSite] = []
    used = [0] * max(need, 1)
    k = turn = 0  # pipeline: tiles placed so far; tensor: the chip the next column block goes to
    for name, grid in grids.items():
        tiles = grid.tiles()
        if need > 1:
            tiles = sorted(tiles, key=lambda t: (t[1], t[0]))  # column block by column block
        mine: list[TileSite] = []
        block = -1
        for r, c, rows, cols in tiles:
            if chip.partition == "pipeline" or need <= 1:
                where, core = k // chip.cores, k % chip.cores
            else:
                if c != block:  # a new column block: the next chip with a free core
                    block = c
                    while used[turn % need] >= chip.cores:
                        turn += 1
                    block_chip, turn = turn % need, turn + 1
                where = block_chip
                while used[where] >= chip.cores:  # this chip is full: the block continues on the next
                    where = (where + 1) % need
                core = used[where]
            used[where] = max(used[where], core + 1)
            k += 1
            cells = (rows * grid.cells_per_weight_row, cols * grid.cells_per_weight_col)
            mine.append(TileSite(name, r, c, where, core, *cells))
        sites += sorted(mine, key=lambda s: (s.row_tile, s.col_tile))  # in grid order, as the layer's events
    if need > 1:
        log.info("model spills onto %d chips (%d cores of %d per chip, %s partition)", need, total, chip.cores,
                 chip.partition)  # fmt: skip
    return Placement(sites=sites, cores_per_chip=chip.cores, array_cells=array_cells)
