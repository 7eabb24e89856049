"""Faults and device-to-device spread: stuck cells and each cell's own conductance window."""

from __future__ import annotations

import torch

from reram.config import DeviceConfig


def cell_windows(
    shape: torch.Size | tuple[int, ...], cfg: DeviceConfig, gen: torch.Generator, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each cell's reachable window [g_lo, g_hi] (siemens) under device-to-device spread.

    Both ends spread log-normally with relative std ``cfg.d2d_window_sigma``; with zero spread
    every cell has the nominal window.
    """
    lo = torch.full(shape, cfg.g_min_S, device=device)
    hi = torch.full(shape, cfg.g_max_S, device=device)
    if cfg.d2d_window_sigma > 0:
        s = cfg.d2d_window_sigma
        lo = lo * torch.exp(s * torch.randn(shape, generator=gen, device=device) - s * s / 2)
        hi = hi * torch.exp(s * torch.randn(shape, generator=gen, device=device) - s * s / 2)
        hi = torch.maximum(hi, lo)
    return lo, hi


def stuck_cells(
    shape: torch.Size | tuple[int, ...], cfg: DeviceConfig, gen: torch.Generator, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Masks of cells stuck at low (g_lo) and stuck at high (g_hi), drawn at the configured rates."""
    u = torch.rand(shape, generator=gen, device=device)
    low = u < cfg.stuck_low_rate
    high = (u >= cfg.stuck_low_rate) & (u < cfg.stuck_low_rate + cfg.stuck_high_rate)
    return low, high
