"""Weights -> differential conductance pairs, with a per-tile or per-column scale.

A stack of tiles is a tensor (tiles, rows, cols) of weights in crossbar orientation: rows are
inputs, columns outputs. A weight w becomes G+ - G- with G+ = g_min + u (g_max - g_min) for
w > 0 (G- = g_min), mirrored for w < 0, where u = min(|w| / w_clip, 1) and w_clip is the
``clip_percentile`` of |W| over the tile (or the column). Unused (padding) rows get 0 S: they are
not connected.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch

from reram.config import ArrayConfig, DeviceConfig
from reram.device import quantize_levels


@dataclass
class TileConductances:
    """Target conductances of a tile stack.

    Attributes:
        g_pos_S, g_neg_S: (tiles, rows, cols) target conductances of the pair (siemens).
        s_per_weight: (tiles, cols) conductance difference per unit weight (siemens).

    """

    g_pos_S: torch.Tensor
    g_neg_S: torch.Tensor
    s_per_weight: torch.Tensor


def upper_quantile(values: torch.Tensor, valid: torch.Tensor, q: float) -> torch.Tensor:
    """The q-quantile (0.5 <= q <= 1, linear interpolation, as ``torch.nanquantile``) along the
    last axis over the ``valid`` entries, from the top (1 - q) share alone (one ``topk``, several
    times faster than sorting every group). A group with no valid entry gives -inf.
    """
    n = valid.sum(-1)
    pos = q * (n - 1).clamp_min(0).to(torch.float64)
    lo = pos.floor()
    frac = (pos - lo).to(values.dtype)
    k = int((n - lo.long()).max().clamp_min(1)) if n.numel() else 1
    masked = values if bool(valid.all()) else torch.where(valid, values, torch.full_like(values, -torch.inf))
    top = masked.topk(min(k, values.shape[-1]), dim=-1).values
    i_lo = (n - 1 - lo.long()).clamp(0, top.shape[-1] - 1).unsqueeze(-1)  # the lo-th smallest, counted from the top
    v_lo = top.gather(-1, i_lo).squeeze(-1)
    v_hi = top.gather(-1, (i_lo - 1).clamp_min(0)).squeeze(-1)
    return torch.where(frac > 0, v_lo + frac * (v_hi - v_lo), v_lo)


def _clip_value(abs_w: torch.Tensor, row_mask: torch.Tensor, cfg: ArrayConfig, col_tile: int) -> torch.Tensor:
    """|W| percentile per tile (or column), as a (tiles, cols) tensor."""
    t, r, c = abs_w.shape
    valid = row_mask[:, :, None].expand(t, r, c)
    if cfg.scale == "column":
        groups, ok = abs_w.transpose(1, 2), valid.transpose(1, 2)  # (t, c, r): one group per column
    else:
        n_c = -(-c // col_tile)
        pad = n_c * col_tile - c

        def grouped(a: torch.Tensor) -> torch.Tensor:
            a = torch.nn.functional.pad(a, (0, pad))
            return a.view(t, r, n_c, col_tile).permute(0, 2, 1, 3).reshape(t, n_c, r * col_tile)

        groups, ok = grouped(abs_w), grouped(valid.to(abs_w.dtype)) > 0
    if cfg.clip_percentile >= 100:
        clip = torch.where(ok, groups, torch.zeros_like(groups)).amax(-1)
    else:
        clip = upper_quantile(groups.float(), ok, cfg.clip_percentile / 100).to(abs_w.dtype)
    clip = torch.where(torch.isfinite(clip) & (clip > 0), clip, torch.ones_like(clip))
    if cfg.scale == "tile":
        clip = clip.repeat_interleave(col_tile, dim=1)[:, :c]
    return clip


def weights_to_conductances(
    w: torch.Tensor, row_mask: torch.Tensor, arr: ArrayConfig, dev: DeviceConfig, col_tile: int
) -> TileConductances:
    """Map a (tiles, rows, cols) weight stack to target conductance pairs.

    Args:
        w: weights, crossbar orientation (inputs on rows).
        row_mask: (tiles, rows) True where a row carries an input (False = padding).
        arr: array config (scale, clip percentile).
        dev: device config (conductance window).
        col_tile: weight columns per physical array (for the per-tile scale).

    """
    w = w.detach()
    clip = _clip_value(w.abs(), row_mask, arr, col_tile)  # (t, c)
    span = dev.g_max_S - dev.g_min_S
    u = (w.abs() / clip[:, None, :]).clamp(max=1.0)
    on = u * span  # above g_min
    g_pos = torch.addcmul(torch.full_like(on, dev.g_min_S), on, (w > 0).to(on.dtype))
    g_neg = torch.addcmul(torch.full_like(on, dev.g_min_S), on, (w < 0).to(on.dtype))
    if not bool(row_mask.all()):  # padding rows are not connected
        m = row_mask[:, :, None].to(on.dtype)
        g_pos, g_neg = g_pos * m, g_neg * m
    return TileConductances(g_pos_S=g_pos, g_neg_S=g_neg, s_per_weight=span / clip)


BLOCK_WEIGHTS = 1 << 21  # weights mapped at once by target_conductances (memory)

WeightBlock = Callable[[slice, slice], torch.Tensor]


def target_blocks(
    weights: WeightBlock, shape: tuple[int, int, int], row_mask: torch.Tensor, arr: ArrayConfig,
    dev: DeviceConfig, col_tile: int,
) -> Iterator[tuple[slice, slice, torch.Tensor, torch.Tensor]]:  # fmt: skip
    """:func:`target_conductances` a block of whole arrays at a time: the whole stack when it
    holds at most ``BLOCK_WEIGHTS`` weights, else one row tile and a multiple of ``col_tile``
    columns per block (each block's scale groups are whole: a tile's columns, or one column), so
    that the mapping's temporaries stay the size of a block.

    Args:
        weights: ``weights(tiles, cols)`` -> the (tiles, rows, cols) weight stack's block.
        shape: the weight stack's (tiles, rows, cols).
        row_mask, arr, dev, col_tile: as :func:`weights_to_conductances`.

    Yields:
        (tiles, cols, (tiles, cols) siemens per unit weight, (2, tiles, rows, cols) targets).

    """
    t, r, c = shape
    if t * r * c <= BLOCK_WEIGHTS:
        blocks = [(slice(0, t), slice(0, c))]
    else:
        width = col_tile * max(1, BLOCK_WEIGHTS // max(1, r * col_tile))
        blocks = [(slice(k, k + 1), slice(a, min(a + width, c))) for k in range(t) for a in range(0, c, width)]
    for tiles, cols in blocks:
        mask = row_mask[tiles]
        tc = weights_to_conductances(weights(tiles, cols).detach(), mask, arr, dev, col_tile)
        spw, pairs = tc.s_per_weight, torch.stack([tc.g_pos_S, tc.g_neg_S])
        del tc
        target = quantize_levels(pairs, dev)
        del pairs
        if not bool(mask.all()):
            target.mul_(mask[None, :, :, None].to(target.dtype))
        yield tiles, cols, spw, target


def target_conductances(
    w: torch.Tensor, row_mask: torch.Tensor, arr: ArrayConfig, dev: DeviceConfig, col_tile: int
) -> tuple[TileConductances, torch.Tensor]:
    """The targets that programming writes: the pairs of :func:`weights_to_conductances` rounded
    to the device's levels, as one (2, tiles, rows, cols) tensor (siemens; 0 = unused row).

    The one weight-to-conductance mapping of the package: programming, transposed reads and the
    cost model's analytic cell energy all call it (block by block: :func:`target_blocks`); the
    returned pairs are the target's two halves.
    """
    t, r, c = w.shape
    target = w.new_empty(2, t, r, c)
    s_per_weight = w.new_empty(t, c)
    for tiles, cols, spw, block in target_blocks(lambda a, b: w[a, :, b], (t, r, c), row_mask, arr, dev, col_tile):
        target[:, tiles, :, cols] = block
        s_per_weight[tiles, cols] = spw
    return TileConductances(g_pos_S=target[0], g_neg_S=target[1], s_per_weight=s_per_weight), target
