"""Fault tolerance a chip can do after programming: spare rows and differential-pair repair.

The verify read finds the cells that did not
take their target (stuck, or out of the acceptance band), then

- **spare rows** (``array.spare_rows`` per array): a weight row with a failed cell is written
  again onto a spare row of the same array (fresh cells, with their own faults: a faulty spare
  is skipped for the next one), as long as spares last;
- **pair repair** (``array.pair_repair``): a stuck cell's differential partner is re-programmed
  so that the pair keeps its difference, G_partner = G_stuck -+ (G+ - G-)_target, within the
  window (a weight needing more than the window allows is clipped).

Both act on the (2, tiles, rows, cols) tensors of ``reram.device.program``'s result, array by
array (a row tile x a column tile of ``col_tile`` columns).
"""

from __future__ import annotations

import torch

from reram.config import Config
from reram.device.program import ProgramResult, program


def spare_rows(target_S: torch.Tensor, res: ProgramResult, cfg: Config, col_tile: int, gen: torch.Generator,
               used: torch.Tensor) -> tuple[ProgramResult, int]:  # fmt: skip
    """Re-write failed weight rows onto spare rows, array by array.

    Args:
        target_S: (2, tiles, rows, cols) targets (siemens).
        res: the first programming's result.
        cfg: the system (``array.spare_rows``, the device).
        col_tile: columns per array.
        gen: generator for the spares' programming and faults.
        used: (2, tiles, rows, cols) cells that hold a weight.

    Returns:
        The result with remapped rows replaced, and the rows remapped.

    """
    spares = cfg.array.spare_rows
    g, stuck, failed = res.g_S.clone(), res.stuck.clone(), res.failed.clone()
    remapped = 0
    for c0 in range(0, target_S.shape[-1], col_tile):
        cs = slice(c0, c0 + col_tile)
        for t in range(target_S.shape[1]):
            bad = ((failed[:, t, :, cs] & used[:, t, :, cs]).any(0).any(-1)).nonzero().flatten().tolist()
            left = spares
            for row in bad:
                while left > 0:
                    left -= 1
                    again = program(target_S[:, t, row : row + 1, cs], cfg.device, gen)
                    if not bool(again.failed.any()):
                        g[:, t, row : row + 1, cs] = again.g_S
                        stuck[:, t, row : row + 1, cs] = again.stuck
                        failed[:, t, row : row + 1, cs] = again.failed
                        remapped += 1
                        break
    return ProgramResult(g, stuck, failed, res.iterations), remapped


def pair_repair(target_S: torch.Tensor, res: ProgramResult, cfg: Config, gen: torch.Generator) -> ProgramResult:
    """Re-program the healthy partner of every stuck cell to keep the pair's target difference."""
    dev = cfg.device
    g, stuck, failed = res.g_S.clone(), res.stuck, res.failed.clone()
    diff = target_S[0] - target_S[1]
    for k, sign in ((1, 1.0), (0, -1.0)):  # partner k of a stuck cell 1 - k
        fix = stuck[1 - k] & ~stuck[k]
        if not bool(fix.any()):
            continue
        want = (g[1 - k] - sign * diff).clamp(dev.g_min_S, dev.g_max_S)  # G- = G+ - d, or G+ = G- + d
        again = program(torch.where(fix, want, target_S[k]), dev, gen)
        g[k] = torch.where(fix & ~again.stuck, again.g_S, g[k])
        failed[k] = torch.where(fix, again.failed, failed[k])
        failed[1 - k] = torch.where(fix & ~again.failed, torch.zeros_like(fix), failed[1 - k])
    return ProgramResult(g, stuck, failed, res.iterations)
