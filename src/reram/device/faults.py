"""Faults and device-to-device spread: stuck cells and each cell's own conductance window.

Stuck cells come at the rates ``device.stuck_low_rate`` / ``stuck_high_rate`` in the pattern
``device.stuck_pattern``: independent cells ("cells"), whole physical rows (a broken word or
source line: "rows"), whole physical columns (a broken bit line: "columns") or whole arrays (a
dead core: "arrays"); the rates are then the fractions of such lines or arrays. A layer draws its
arrays' map once, spare lines included (:func:`stuck_map`), so that a spare row crossing a broken
column is stuck there too, and a dead array's spares are dead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from reram.config import DeviceConfig


def cell_windows(
    shape: torch.Size | tuple[int, ...], cfg: DeviceConfig, gen: torch.Generator, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each cell's reachable window [g_lo, g_hi] (siemens) under device-to-device spread.

    Both ends spread log-normally with relative std ``cfg.d2d_window_sigma``; with zero spread
    every cell has the nominal window (read-only views of one value each, no memory per cell).
    """
    if cfg.d2d_window_sigma == 0:
        return (torch.tensor(cfg.g_min_S, device=device).expand(shape),
                torch.tensor(cfg.g_max_S, device=device).expand(shape))  # fmt: skip
    s = cfg.d2d_window_sigma
    lo = cfg.g_min_S * torch.exp(s * torch.randn(shape, generator=gen, device=device) - s * s / 2)
    hi = cfg.g_max_S * torch.exp(s * torch.randn(shape, generator=gen, device=device) - s * s / 2)
    return lo, torch.maximum(hi, lo)


def stuck_cells(
    shape: torch.Size | tuple[int, ...], cfg: DeviceConfig, gen: torch.Generator, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Masks of cells stuck at low (g_lo) and stuck at high (g_hi), drawn at the configured rates.

    Clustered patterns need to know the lines: ``shape`` is then one array's (columns, rows) of
    cells (an on-chip layer's (outputs, inputs)); a layer's tiled arrays use :func:`stuck_map`.
    """
    draw = tuple(shape)
    if cfg.stuck_pattern != "cells":
        if len(draw) != 2:
            raise ValueError(f"device.stuck_pattern = {cfg.stuck_pattern!r} needs an array's (columns, rows) "
                             f"of cells, not shape {draw}: use reram.device.faults.stuck_map")  # fmt: skip
        draw = {"rows": (1, draw[1]), "columns": (draw[0], 1), "arrays": (1, 1)}[cfg.stuck_pattern]
    u = torch.rand(draw, generator=gen, device=device).expand(tuple(shape))
    low = u < cfg.stuck_low_rate
    high = (u >= cfg.stuck_low_rate) & (u < cfg.stuck_low_rate + cfg.stuck_high_rate)
    return low, high


@dataclass(frozen=True)
class ArrayLayout:
    """Where a layer's weights sit: ``tiles`` row tiles of ``rows`` weight rows, column tiles of
    ``col_tile`` weight columns (``cols`` in all), each array with its spare weight rows and
    columns; ``differential`` says which cells of a pair share a physical line.
    """

    tiles: int
    rows: int
    cols: int
    col_tile: int
    differential: str = "rows"
    spare_rows: int = 0
    spare_cols: int = 0

    @property
    def n_col(self) -> int:
        """Column tiles."""
        return -(-self.cols // self.col_tile)


@dataclass
class StuckMap:
    """Stuck-at-low and stuck-at-high masks of every cell of a layer's arrays, spares included:
    (2 cells of a pair, row tiles, rows + spare rows, column tiles, col_tile + spare columns).
    """

    low: torch.Tensor
    high: torch.Tensor
    layout: ArrayLayout

    def main(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The weight cells' masks, (2, tiles, rows, cols) as ``reram.device.program`` takes them."""
        lay = self.layout

        def cut(m: torch.Tensor) -> torch.Tensor:
            core = m[:, :, : lay.rows, :, : lay.col_tile]
            return core.reshape(2, lay.tiles, lay.rows, -1)[..., : lay.cols]

        return cut(self.low), cut(self.high)

    def spare_row(self, tile: int, col_tile: int, i: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Masks (2, 1, 1, width) of spare row ``i`` of array (tile, col_tile)."""
        r = self.layout.rows + i
        return (self.low[:, tile, r, col_tile, :width].reshape(2, 1, 1, width),
                self.high[:, tile, r, col_tile, :width].reshape(2, 1, 1, width))  # fmt: skip

    def spare_col(self, tile: int, col_tile: int, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Masks (2, 1, rows, 1) of spare column ``i`` of array (tile, col_tile), over the weight rows."""
        c, rows = self.layout.col_tile + i, self.layout.rows
        return (self.low[:, tile, :rows, col_tile, c].reshape(2, 1, rows, 1),
                self.high[:, tile, :rows, col_tile, c].reshape(2, 1, rows, 1))  # fmt: skip


def _draw_shape(pattern: str, differential: str, full: tuple[int, int, int, int, int]) -> tuple[int, ...]:
    """The shape of one uniform draw per faulty unit, broadcast over the cells it covers."""
    k, t, r, n, c = full
    pair_on_rows = differential == "rows"  # G+ and G- on two rows: a column holds both, a row one
    if pattern == "rows":
        return (k if pair_on_rows else 1, t, r, n, 1)
    if pattern == "columns":
        return (1 if pair_on_rows else k, t, 1, n, c)
    if pattern == "arrays":
        return (1, t, 1, n, 1)
    return full


def stuck_map(
    layout: ArrayLayout, cfg: DeviceConfig, gens: Callable[[int], torch.Generator], device: torch.device
) -> StuckMap:
    """Draw the stuck cells of a layer's arrays in ``cfg.stuck_pattern`` (see the module docstring).

    The weight cells, the spare rows, the spare columns and their corner are drawn from four
    generators (``gens(0)`` ... ``gens(3)``), so that adding spares leaves the weight cells'
    faults as they were; a line failing whole runs through the spares it crosses.
    """
    full = (2, layout.tiles, layout.rows + layout.spare_rows, layout.n_col, layout.col_tile + layout.spare_cols)
    unit = _draw_shape(cfg.stuck_pattern, layout.differential, full)
    per_row, per_col = unit[2] > 1, unit[4] > 1  # does a draw cover one row / one column?
    row_parts, col_parts = (layout.rows, layout.spare_rows), (layout.col_tile, layout.spare_cols)
    draws: dict[tuple[int, int], torch.Tensor] = {}
    blocks: dict[tuple[int, int], torch.Tensor] = {}
    for i, rows in enumerate(row_parts):
        for j, cols in enumerate(col_parts):
            if not rows or not cols:
                continue
            src = (i if per_row else 0, j if per_col else 0)  # a line failing whole: the same draw across
            if src not in draws:
                shape = (unit[0], unit[1], row_parts[src[0]] if per_row else 1, unit[3],
                         col_parts[src[1]] if per_col else 1)  # fmt: skip
                draws[src] = torch.rand(shape, generator=gens(2 * src[0] + src[1]), device=device)
            blocks[(i, j)] = draws[src].expand(2, layout.tiles, rows, layout.n_col, cols)
    u = torch.cat([torch.cat([blocks[(i, j)] for j in range(2) if (i, j) in blocks], -1)
                   for i in range(2) if (i, 0) in blocks], 2)  # fmt: skip
    low = u < cfg.stuck_low_rate
    high = (u >= cfg.stuck_low_rate) & (u < cfg.stuck_low_rate + cfg.stuck_high_rate)
    return StuckMap(low, high, layout)
