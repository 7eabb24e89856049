"""Mapping: split a layer's matrix into core-sized tiles and place the tiles on chips' cores."""

from reram.mapping.placement import MappingError, Placement, TileSite, place
from reram.mapping.tiling import TileGrid, tile_matrix

__all__ = ["MappingError", "Placement", "TileGrid", "TileSite", "place", "tile_matrix"]
