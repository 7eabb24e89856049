"""Programming: target conductances -> programmed conductances.

Where a cell is programmed: :func:`program` (levels, faults, window spread, then the chosen
programming model; :func:`write_verify` is the iterative pulse-and-verify loop).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch

from reram.config import DeviceConfig
from reram.device.faults import cell_windows, stuck_cells


@dataclass
class ProgramResult:
    """Outcome of programming one set of cells.

    Attributes:
        g_S: programmed conductances (siemens).
        stuck: cells that do not respond (stuck at low or high).
        failed: cells outside the acceptance band when programming ended (stuck cells included).
        iterations: pulse/verify iterations the loop ran (0 for non-iterative modes).
        pulses: programming pulses each cell received (write-verify: one per iteration until it
            verified, ``wv_max_iterations`` for a stuck cell, which never does; the one-shot
            modes: one), what the cost model prices (``reram.cost.programming_cost``).

    """

    g_S: torch.Tensor
    stuck: torch.Tensor
    failed: torch.Tensor
    iterations: int
    pulses: torch.Tensor | None = None


def quantize_levels(g_S: torch.Tensor, cfg: DeviceConfig) -> torch.Tensor:
    """Round target conductances to the device's ``levels`` evenly spaced levels in the window."""
    if cfg.levels == 0:
        return g_S
    step = (cfg.g_max_S - cfg.g_min_S) / (cfg.levels - 1)
    return cfg.g_min_S + torch.round((g_S - cfg.g_min_S) / step).clamp(0, cfg.levels - 1) * step


def _cellwise(a: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """A per-cell tensor flattened, or, for one value broadcast to every cell (a 0-stride view,
    as :func:`reram.device.faults.cell_windows` gives without spread), that one value.
    """
    if a.numel() == 1 or all(st == 0 for st in a.stride()):
        return a[(0,) * a.dim()].reshape(1).to(dtype)
    return a.reshape(-1).to(dtype)


def write_verify(
    target_S: torch.Tensor,
    g_lo: torch.Tensor,
    g_hi: torch.Tensor,
    cfg: DeviceConfig,
    gen: torch.Generator | None,
) -> tuple[torch.Tensor, torch.Tensor, int, torch.Tensor]:
    """Iterative write-verify on all cells at once.

    Cells start RESET at their window's low end. Each iteration reads every active cell with
    read noise; a cell whose verify read lies within +-``wv_tolerance_S`` of its target is done;
    every other cell gets one SET or RESET pulse whose conductance change is a log-normally
    spread fraction ``wv_step_gain`` of the verified error plus cycle-to-cycle noise, bounded by
    the cell's own window. Cells not done after ``wv_max_iterations`` are failures. Each
    iteration works on the cells still active only (gathered once per iteration), so its cost
    falls as cells verify.

    Returns:
        (conductances in siemens, failed mask, iterations run, pulses each cell received).

    """
    shape = target_S.shape
    dtype = torch.promote_types(torch.promote_types(target_S.dtype, g_lo.dtype), g_hi.dtype)
    g_a, t_a = (a.reshape(-1).to(dtype) for a in (g_lo.expand(shape), target_S))
    lo_a, hi_a = (_cellwise(a, dtype) for a in (g_lo, g_hi))
    uniform = lo_a.numel() == 1 and hi_a.numel() == 1  # one window for all cells: nothing to compact
    g_a = g_a.clone()
    g = torch.empty_like(g_a)  # every cell written when it verifies, or at the end
    pulses = torch.zeros_like(g, dtype=torch.int32)
    idx = torch.arange(g.numel(), device=g.device)  # the cells still being programmed
    sigma_read = cfg.read_sigma_S
    it = 0
    for it in range(1, cfg.wv_max_iterations + 1):  # noqa: B007 - ``it`` is returned
        read = g_a + sigma_read * torch.randn(g_a.shape, generator=gen, device=g.device) if sigma_read else g_a
        err = t_a - read
        active = err.abs() > cfg.wv_tolerance_S
        if not bool(active.any()):
            g[idx] = g_a
            idx, g_a = idx[:0], g_a[:0]
            break
        g[idx] = g_a  # cells verified now keep their conductance; the others go on, compacted
        keep = active.nonzero().squeeze(1)
        idx, g_a, t_a, err = (a.index_select(0, keep) for a in (idx, g_a, t_a, err))
        if not uniform:
            lo_a, hi_a = lo_a.index_select(0, keep), hi_a.index_select(0, keep)
        pulses[idx] += 1
        spread = torch.exp(cfg.wv_step_spread * torch.randn(g_a.shape, generator=gen, device=g.device))
        step = cfg.wv_step_gain * err * spread
        step = step + cfg.wv_c2c_sigma_S * torch.randn(g_a.shape, generator=gen, device=g.device)
        g_a = torch.minimum(torch.maximum(g_a + step, lo_a), hi_a)
    g[idx] = g_a
    not_done = torch.zeros_like(g, dtype=torch.bool)
    not_done[idx] = True
    g = g.view(shape)
    failed = (g - target_S).abs() > cfg.wv_tolerance_S + 3 * sigma_read
    return g, failed | not_done.view(shape), it, pulses.view(shape)


def program(
    target_S: torch.Tensor,
    cfg: DeviceConfig,
    gen: torch.Generator,
    stuck: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> ProgramResult:
    """Program cells to ``target_S`` (siemens) with the device's non-idealities.

    Order: quantise the target to the device levels, draw each cell's window (device-to-device
    spread) and its stuck-at faults, run the programming model, then force stuck cells to their
    stuck value.

    Args:
        target_S: target conductances (siemens).
        cfg: the device.
        gen: generator of the windows, faults and programming noise.
        stuck: the cells' (stuck-low, stuck-high) masks when known (a layer's map drawn in
            ``device.stuck_pattern``, ``reram.device.faults.stuck_map``); None: drawn here, cell
            by cell at the device's rates.

    """
    target = quantize_levels(target_S, cfg)
    lo, hi = cell_windows(target.shape, cfg, gen, target.device)
    stuck_lo, stuck_hi = stuck if stuck is not None else stuck_cells(target.shape, cfg, gen, target.device)
    iterations = 0
    if cfg.program_mode == "exact":  # the target exactly, as far as each cell's own window reaches
        g = torch.minimum(torch.maximum(target, lo), hi)
        failed = (target < lo) | (target > hi)
    elif cfg.program_mode == "gaussian":
        noise = cfg.program_sigma_S * torch.randn(target.shape, generator=gen, device=target.device)
        g = torch.minimum(torch.maximum(target + noise, lo), hi)
        failed = (target < lo) | (target > hi)
    else:
        g, failed, iterations, pulses = write_verify(target, lo, hi, cfg, gen)
    g = torch.where(stuck_lo, lo, torch.where(stuck_hi, hi, g))
    bad = stuck_lo | stuck_hi
    if cfg.program_mode == "write_verify":
        pulses = torch.where(bad, torch.full_like(pulses, cfg.wv_max_iterations), pulses)
    else:
        pulses = torch.ones(target.shape, dtype=torch.int32, device=target.device)
    return ProgramResult(g_S=g, stuck=bad, failed=failed | bad, iterations=iterations, pulses=pulses)


CHUNK_CELLS = 1 << 20  # cells programmed at once (memory): a larger stack goes group by group


def program_groups(
    target_S: torch.Tensor,
    cfg: DeviceConfig,
    gen: torch.Generator,
    stuck: tuple[torch.Tensor, torch.Tensor] | None = None,
    max_cells: int | None = None,
) -> Iterator[tuple[tuple[slice, slice], ProgramResult]]:
    """:func:`program` on a (2, tiles, rows, cols) stack, a group of cells at a time when it
    holds more than ``max_cells`` cells (default ``CHUNK_CELLS``; as a chip programs array after
    array): yields ((tiles, columns) of the group, its result), so that the write-verify's
    temporaries stay the size of a group and a caller can store each group as it comes. Groups
    are whole tiles, or, where one tile holds more, blocks of its columns. A stack that fits is
    one group (the same draws as :func:`program`); a larger one draws group after group from the
    same generator.
    """
    _, tiles, rows, cols = target_S.shape
    limit = CHUNK_CELLS if max_cells is None else max_cells
    per_tile = max(1, target_S[:, :1].numel())
    if per_tile <= limit:
        step = limit // per_tile
        groups = [(slice(a, min(a + step, tiles)), slice(0, cols)) for a in range(0, tiles, step)]
    else:
        width = max(1, limit // max(1, 2 * rows))
        blocks = [(k, a) for k in range(tiles) for a in range(0, cols, width)]
        groups = [(slice(k, k + 1), slice(a, min(a + width, cols))) for k, a in blocks]
    for at in groups:
        part = None if stuck is None else (stuck[0][:, at[0], :, at[1]], stuck[1][:, at[0], :, at[1]])
        yield at, program(target_S[:, at[0], :, at[1]], cfg, gen, part)


def program_tiles(
    target_S: torch.Tensor,
    cfg: DeviceConfig,
    gen: torch.Generator,
    stuck: tuple[torch.Tensor, torch.Tensor] | None = None,
    max_cells: int | None = None,
) -> ProgramResult:
    """:func:`program_groups` gathered into one result for the whole stack."""
    out: ProgramResult | None = None
    for (tiles, cols), res in program_groups(target_S, cfg, gen, stuck, max_cells):
        if tiles == slice(0, target_S.shape[1]) and cols == slice(0, target_S.shape[3]):
            return res
        if out is None:  # each group written into the whole stack's result (no list, no concatenation)
            out = ProgramResult(
                g_S=target_S.new_empty(target_S.shape, dtype=res.g_S.dtype),
                stuck=torch.empty(target_S.shape, dtype=torch.bool, device=target_S.device),
                failed=torch.empty(target_S.shape, dtype=torch.bool, device=target_S.device),
                iterations=0,
                pulses=None
                if res.pulses is None
                else torch.empty(target_S.shape, dtype=res.pulses.dtype, device=target_S.device),  # fmt: skip
            )
        out.g_S[:, tiles, :, cols] = res.g_S
        out.stuck[:, tiles, :, cols] = res.stuck
        out.failed[:, tiles, :, cols] = res.failed
        if out.pulses is not None and res.pulses is not None:
            out.pulses[:, tiles, :, cols] = res.pulses
        out.iterations = max(out.iterations, res.iterations)
    assert out is not None
    return out
