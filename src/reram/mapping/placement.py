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
    """Assign tiles to cores in layer order, one tile per core, filling chip after chip.

    Raises:
        MappingError: the network needs more than ``chip.max_chips`` chips.

    """
    sites: list[TileSite] = []
    for name, grid in grids.items():
        for r, c, rows, cols in grid.tiles():
            k = len(sites)
            sites.append(
                TileSite(
                    layer=name,
                    row_tile=r,
                    col_tile=c,
                    chip=k // chip.cores,
                    core=k % chip.cores,
                    cell_rows=rows * grid.cells_per_weight_row,
                    cell_cols=cols * grid.cells_per_weight_col,
                )
            )
    need = -(-len(sites) // chip.cores)
    if need > chip.max_chips:
        raise MappingError(
            f"the model needs {len(sites)} cores = {need} chips of {chip.cores} cores, but "
            f"chip.max_chips = {chip.max_chips}: raise chip.max_chips, use larger arrays, or convert fewer layers"
        )
    if need > 1:
        log.info("model spills onto %d chips (%d cores of %d per chip)", need, len(sites), chip.cores)
    return Placement(sites=sites, cores_per_chip=chip.cores, array_cells=array_cells)
