"""Fault tolerance a chip can do after programming: spare rows and columns, differential-pair repair.

The verify read finds the cells that did not
take their target (stuck, or out of the acceptance band), then

- **spare rows** (``array.spare_rows`` per array): a weight row with a failed cell is written
  again onto a spare row of the same array (fresh cells, with their own faults: a faulty spare
  is skipped for the next one), as long as spares last;
- **spare columns** (``array.spare_cols``, redundant columns): the same for a weight column;
- **pair repair** (``array.pair_repair``): a stuck cell's differential partner is re-programmed
  so that the pair keeps its difference, G_partner = G_stuck -+ (G+ - G-)_target, within the
  window (a weight needing more than the window allows is clipped).

Both act on the (2, tiles, rows, cols) tensors of ``reram.device.program``'s result, array by
array (a row tile x a column tile of ``col_tile`` columns).
"""

from __future__ import annotations

import torch

from reram.config import Config
from reram.device.faults import StuckMap
from reram.device.program import ProgramResult, program


def spare_rows(target_S: torch.Tensor, res: ProgramResult, cfg: Config, col_tile: int, gen: torch.Generator,
               used: torch.Tensor, stuck: StuckMap | None = None) -> tuple[ProgramResult, int]:  # fmt: skip
    """Re-write failed weight rows onto spare rows, array by array.

    Args:
        target_S: (2, tiles, rows, cols) targets (siemens).
        res: the first programming's result.
        cfg: the system (``array.spare_rows``, the device).
        col_tile: columns per array.
        gen: generator for the spares' programming.
        used: (2, tiles, rows, cols) cells that hold a weight.
        stuck: the layer's stuck map, spares included (a spare crossing a broken column is stuck
            there); None: no stuck cells.

    Returns:
        The result with remapped rows replaced, and the rows remapped.

    """
    return _spare_lines(target_S, res, cfg, col_tile, gen, used, stuck, rows=True)


def spare_cols(target_S: torch.Tensor, res: ProgramResult, cfg: Config, col_tile: int, gen: torch.Generator,
               used: torch.Tensor, stuck: StuckMap | None = None) -> tuple[ProgramResult, int]:  # fmt: skip
    """Re-write failed weight columns onto spare columns (``array.spare_cols``), array by array;
    arguments as :func:`spare_rows`. A spare column spans the array's weight rows (a row moved to
    a spare row is taken at its original position).
    """
    return _spare_lines(target_S, res, cfg, col_tile, gen, used, stuck, rows=False)


def _spare_lines(target_S: torch.Tensor, res: ProgramResult, cfg: Config, col_tile: int, gen: torch.Generator,
                 used: torch.Tensor, stuck: StuckMap | None, rows: bool) -> tuple[ProgramResult, int]:  # fmt: skip
    spares = cfg.array.spare_rows if rows else cfg.array.spare_cols
    g, is_stuck, failed = res.g_S.clone(), res.stuck.clone(), res.failed.clone()
    pulses = None if res.pulses is None else res.pulses.clone()
    remapped = 0
    for j, c0 in enumerate(range(0, target_S.shape[-1], col_tile)):
        cs = slice(c0, c0 + col_tile)
        width = target_S[..., cs].shape[-1]
        for t in range(target_S.shape[1]):
            bad_cells = failed[:, t, :, cs] & used[:, t, :, cs]  # (2, rows, width)
            lines = bad_cells.any(0).any(-1) if rows else bad_cells.any(0).any(0)
            nxt = 0
            for line in lines.nonzero().flatten().tolist():
                at = (
                    (slice(None), slice(t, t + 1), slice(line, line + 1), cs)
                    if rows
                    else (slice(None), slice(t, t + 1), slice(None), slice(c0 + line, c0 + line + 1))
                )
                while nxt < spares:
                    i, nxt = nxt, nxt + 1
                    masks = None
                    if stuck is not None:
                        masks = stuck.spare_row(t, j, i, width) if rows else stuck.spare_col(t, j, i)
                    again = program(target_S[at], cfg.device, gen, masks)
                    if pulses is not None and again.pulses is not None:  # the spare's programming adds up
                        pulses[at] += again.pulses
                    if not bool((again.failed & used[at]).any()):
                        g[at], is_stuck[at], failed[at] = again.g_S, again.stuck, again.failed
                        remapped += 1
                        break
    return ProgramResult(g, is_stuck, failed, res.iterations, pulses), remapped


def pair_repair(target_S: torch.Tensor, res: ProgramResult, cfg: Config, gen: torch.Generator) -> ProgramResult:
    """Re-program the healthy partner of every stuck cell to keep the pair's target difference."""
    dev = cfg.device
    g, stuck, failed = res.g_S.clone(), res.stuck, res.failed.clone()
    pulses = None if res.pulses is None else res.pulses.clone()
    diff = target_S[0] - target_S[1]
    healthy = (torch.zeros_like(stuck[0]), torch.zeros_like(stuck[0]))  # the partners re-programmed are not stuck
    for k, sign in ((1, 1.0), (0, -1.0)):  # partner k of a stuck cell 1 - k
        fix = stuck[1 - k] & ~stuck[k]
        if not bool(fix.any()):
            continue
        want = (g[1 - k] - sign * diff).clamp(dev.g_min_S, dev.g_max_S)  # G- = G+ - d, or G+ = G- + d
        again = program(torch.where(fix, want, target_S[k]), dev, gen, healthy)
        g[k] = torch.where(fix, again.g_S, g[k])
        if pulses is not None and again.pulses is not None:
            pulses[k] += torch.where(fix, again.pulses, torch.zeros_like(again.pulses))
        failed[k] = torch.where(fix, again.failed, failed[k])
        failed[1 - k] = torch.where(fix & ~again.failed, torch.zeros_like(fix), failed[1 - k])
    return ProgramResult(g, stuck, failed, res.iterations, pulses)
