"""What crosses between chips when a network spans several: every transfer, per input vector.

The layers run in order (a chain). Each layer has a *home* chip: the one holding most of its
tiles (the lowest-numbered on a tie), where its partial sums are reduced, its digital work
(bias, activation, norms, attention products) is done and its output is kept. A layer's input
comes from the previous layer's home (the first layer's from chip 0, where the host's I/O
arrives). Two kinds of transfer follow from the placement alone:

- ``inputs``: every other chip holding tiles of the layer receives the input features of the
  row tiles it holds (once per chip, however many of its tiles read them; for a convolution the
  channels of one output position, not the unfolded window);
- ``partial_sums``: every other chip holding tiles of a column block sends that block's partial
  sums (one per column, at the accumulator's width) to the home chip.

Every transfer leaves one chip and arrives at another, so what leaves a chip arrives at the next
by construction; it takes the fewest ``hops`` of the chips' mesh or ring (``chip.topology``).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from reram.mapping.placement import TileSite
from reram.mapping.tiling import TileGrid


@dataclass(frozen=True)
class Transfer:
    """Bits one layer moves from chip ``src`` to chip ``dst`` per input vector (output position)."""

    layer: str
    kind: str  # "inputs" or "partial_sums"
    src: int
    dst: int
    bits: float


def home_chip(sites: Sequence[TileSite]) -> int:
    """The chip holding most of a layer's tiles (the lowest-numbered on a tie)."""
    counts = Counter(s.chip for s in sites)
    return min(counts, key=lambda c: (-counts[c], c))


def hops(src: int, dst: int, n_chips: int, topology: str = "mesh") -> int:
    """Links between two chips: on a square ``mesh`` of ``n_chips`` (side ceil(sqrt(n)), chips
    numbered row by row in a snake, so that chip k and k + 1 are neighbours), the Manhattan
    distance; on a ``ring``, the shorter way round.
    """
    if topology == "ring":
        d = abs(src - dst)
        return min(d, n_chips - d)
    side = math.isqrt(n_chips - 1) + 1 if n_chips > 1 else 1

    def xy(k: int) -> tuple[int, int]:
        row, col = divmod(k, side)
        return row, col if row % 2 == 0 else side - 1 - col

    (r1, c1), (r2, c2) = xy(src), xy(dst)
    return abs(r1 - r2) + abs(c1 - c2)


def layer_transfers(
    name: str, grid: TileGrid, sites: Sequence[TileSite], source: int, act_bits: int, acc_bits: int
) -> list[Transfer]:
    """The transfers of one layer (see the module docstring), per input vector."""
    home = home_chip(sites)
    rows = {(r, c): n for r, c, n, _ in grid.tiles()}
    cols = {(r, c): n for r, c, _, n in grid.tiles()}
    out: list[Transfer] = []
    needs: dict[int, set[int]] = {}
    blocks: dict[int, set[int]] = {}
    for s in sites:
        needs.setdefault(s.chip, set()).add(s.row_tile)
        blocks.setdefault(s.chip, set()).add(s.col_tile)
    width = {c: cols[(r, c)] for (r, c) in cols}
    feature_rows = {r: rows[(r, c)] for (r, c) in rows}
    for chip in sorted(needs):
        if chip != source:
            features = sum(feature_rows[r] for r in needs[chip]) / grid.kernel
            out.append(Transfer(name, "inputs", source, chip, features * act_bits))
        if chip != home:
            out.append(Transfer(name, "partial_sums", chip, home, sum(width[c] for c in blocks[chip]) * acc_bits))
    return out


def network_transfers(
    layers: Sequence[tuple[str, TileGrid, Sequence[TileSite]]], act_bits: int, acc_bits: int
) -> dict[str, list[Transfer]]:
    """Every analog layer's transfers per input vector, the layers chained in the given order."""
    found: dict[str, list[Transfer]] = {}
    source = 0
    for name, grid, sites in layers:
        found[name] = layer_transfers(name, grid, sites, source, act_bits, acc_bits)
        source = home_chip(sites)
    return found
