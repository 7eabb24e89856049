"""Programming an analog layer: its weights mapped to target conductances, written into its
cells by the device's programming model, a block of arrays at a time, and its periphery set
from the targets (digital gain, ADC full scales before calibration).

Where a cell is programmed: :func:`reram.device.program` (write-verify, windows, stuck cells);
this module feeds it the layer's blocks (``reram.array.target_blocks``) and stores what comes
back (``CellState.store_programmed``), so that a layer of any size is programmed with only one
block's temporaries (issue 19). Row and column repairs read the whole layer's result and get it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import torch

from reram import device as cell
from reram.array import repair

if TYPE_CHECKING:
    from reram.nn.layers import AnalogLayer


def _within(outer: slice, inner: slice) -> slice:
    return slice(outer.start + inner.start, outer.start + inner.stop)


def program_layer(layer: AnalogLayer) -> None:
    """Write ``layer``'s present weights into its cells and set its uncalibrated periphery.

    Fills: the cells and frozen mask, ``gain`` (ADC units back to output units), ``gsum_S``,
    ``adc_fs`` (the bound of each column's signal, unless calibrated) and the programming counts
    (``program_pulses``, ``program_failures``, ``program_iterations``, ``programmed_cells``).
    """
    cfg, grid = layer.config, layer.grid
    rows = grid.row_mask(layer.weight.device)
    used = rows[None, :, :, None].expand_as(layer.g_cells)
    t, c = layer.g_cells.shape[1], layer.g_cells.shape[3]
    s_per_weight, gsum_target, bound = (layer.gain.new_empty(t, c) for _ in range(3))
    stuck = layer.stuck_map()
    main = None if stuck is None else stuck.main()
    arr, ct, gen = cfg.array, grid.col_tile, layer._gen(0)

    def note(tiles: slice, cols: slice, spw: torch.Tensor, target: torch.Tensor) -> None:
        s_per_weight[tiles, cols] = spw
        gsum_target[tiles, cols] = target.sum((0, 2))
        bound[tiles, cols] = torch.stack([(tk[0] - tk[1]).abs_().sum(0) for tk in target.unbind(1)])

    def groups() -> Iterator[tuple[tuple[slice, slice], Any]]:
        if arr.spare_rows or arr.spare_cols or arr.pair_repair:  # repairs read the whole layer's result
            tc, target = layer.conductance_targets()
            note(slice(0, t), slice(0, c), tc.s_per_weight, target)
            del tc
            res = cell.program_tiles(target, cfg.device, gen, main)
            if arr.spare_rows:  # the verify read found failed rows: write them onto spares
                res, layer.remapped_rows = repair.spare_rows(target, res, cfg, ct, layer._gen(5), used, stuck)
            if arr.spare_cols:  # then failed columns onto spare columns
                res, layer.remapped_cols = repair.spare_cols(target, res, cfg, ct, layer._gen(8), used, stuck)
            if arr.pair_repair:
                res = repair.pair_repair(target, res, cfg, layer._gen(6))
            yield (slice(0, t), slice(0, c)), res
            return
        for tiles, cols, spw, target in layer.target_blocks():  # a block mapped, programmed, stored
            note(tiles, cols, spw, target)
            part = None if main is None else (main[0][:, tiles, :, cols], main[1][:, tiles, :, cols])
            for (gt, gc), res in cell.program_groups(target, cfg.device, gen, part):
                yield (_within(tiles, gt), _within(cols, gc)), res

    layer.program_pulses, layer.program_failures, layer.program_iterations = layer.store_programmed(groups(), used)
    layer.programmed_cells = int(rows.sum()) * 2 * c  # the mask's sum (not materialised)
    v_read = cfg.device.drive_V(cfg.array.v_read_V)  # a full-scale pulse's I / G
    gain = 1.0 / (v_read * s_per_weight)
    bound.mul_(v_read)
    if cfg.periphery.adc.sensing == "voltage":
        gain = gain * gsum_target
        bound = bound / gsum_target.clamp_min(1e-30)
    layer.gain.copy_(gain)
    layer.gsum_S.copy_(layer.branch_col_sums().clamp_min(1e-30))
    if not bool(layer.calibrated):
        fill = bound.amax() if cfg.periphery.adc.range == "layer" else bound
        layer.adc_fs.copy_(torch.broadcast_to(fill, layer.adc_fs.shape).clamp_min(1e-30))
