"""Weights -> differential conductance pairs, with a per-tile or per-column scale.

A stack of tiles is a tensor (tiles, rows, cols) of weights in crossbar orientation: rows are
inputs, columns outputs. A weight w becomes G+ - G- with G+ = g_min + u (g_max - g_min) for
w > 0 (G- = g_min), mirrored for w < 0, where u = min(|w| / w_clip, 1) and w_clip is the
``clip_percentile`` of |W| over the tile (or the column). Unused (padding) rows get 0 S: they are
not connected.
"""

from __future__ import annotations

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


def _clip_value(abs_w: torch.Tensor, row_mask: torch.Tensor, cfg: ArrayConfig, col_tile: int) -> torch.Tensor:
    """|W| percentile per tile (or column), as a (tiles, cols) tensor."""
    t, r, c = abs_w.shape
    masked = torch.where(row_mask[:, :, None], abs_w, torch.full_like(abs_w, float("nan")))
    if cfg.scale == "column":
        groups = masked.transpose(1, 2)  # (t, c, r): one group per column
    else:
        n_c = -(-c // col_tile)
        pad = n_c * col_tile - c
        padded = torch.nn.functional.pad(masked, (0, pad), value=float("nan"))
        groups = padded.view(t, r, n_c, col_tile).permute(0, 2, 1, 3).reshape(t, n_c, r * col_tile)
    if cfg.clip_percentile >= 100:
        clip = groups.nan_to_num(0.0).amax(-1)
    else:
        clip = torch.nanquantile(groups.float(), cfg.clip_percentile / 100, dim=-1)
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
    on = dev.g_min_S + u * span
    g_pos = torch.where(w > 0, on, torch.full_like(on, dev.g_min_S))
    g_neg = torch.where(w < 0, on, torch.full_like(on, dev.g_min_S))
    m = row_mask[:, :, None]
    g_pos = torch.where(m, g_pos, torch.zeros_like(g_pos))
    g_neg = torch.where(m, g_neg, torch.zeros_like(g_neg))
    return TileConductances(g_pos_S=g_pos, g_neg_S=g_neg, s_per_weight=span / clip)


def target_conductances(
    w: torch.Tensor, row_mask: torch.Tensor, arr: ArrayConfig, dev: DeviceConfig, col_tile: int
) -> tuple[TileConductances, torch.Tensor]:
    """The targets that programming writes: the pairs of :func:`weights_to_conductances` rounded
    to the device's levels, as one (2, tiles, rows, cols) tensor (siemens; 0 = unused row).

    The one weight-to-conductance mapping of the package: programming, transposed reads and the
    cost model's analytic cell energy all call it.
    """
    tc = weights_to_conductances(w, row_mask, arr, dev, col_tile)
    target = quantize_levels(torch.stack([tc.g_pos_S, tc.g_neg_S]), dev)
    return tc, torch.where(row_mask[None, :, :, None], target, torch.zeros_like(target))
