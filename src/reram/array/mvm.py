"""Ohm + Kirchhoff: where a column current is summed.

Each cell passes I = V G; each column sums its cells' currents. Read noise, independent Gaussian
of std sigma on every cell, enters in distribution: the column current is exactly
N(V @ G, (V**2) @ sigma**2), so one sample per output replaces a noise tensor per input.
"""

from __future__ import annotations

import torch

from reram.config import DeviceConfig


def read_noise_sigma_S(dev: DeviceConfig) -> float:
    """Read-noise std of one cell per read (siemens)."""
    return dev.read_noise_rel * dev.g_max_S


def _noisy(
    mean: torch.Tensor, v_sq_sum: torch.Tensor, sigma_S: float, cells: int, gen: torch.Generator | None
) -> torch.Tensor:
    if sigma_S <= 0:
        return mean
    std = (v_sq_sum * (cells * sigma_S**2)).sqrt()
    return mean + std * torch.randn(mean.shape, generator=gen, device=mean.device, dtype=mean.dtype)


def column_currents(
    v_V: torch.Tensor,
    g_pos_S: torch.Tensor,
    g_neg_S: torch.Tensor,
    sigma_S: float = 0.0,
    gen: torch.Generator | None = None,
) -> torch.Tensor:
    """Forward MVM of a tile stack: inputs on rows, currents out of columns.

    Args:
        v_V: (tiles, batch, rows) row voltages (volts); the pair's rows get +V and -V.
        g_pos_S, g_neg_S: (tiles, rows, cols) conductances (siemens).
        sigma_S: read-noise std per cell (siemens).
        gen: generator for the read noise.

    Returns:
        (tiles, batch, cols) column currents (amperes).

    """
    mean = torch.bmm(v_V, g_pos_S - g_neg_S)
    return _noisy(mean, (v_V * v_V).sum(-1, keepdim=True), sigma_S, 2, gen)


def row_currents(
    v_V: torch.Tensor,
    g_pos_S: torch.Tensor,
    g_neg_S: torch.Tensor,
    sigma_S: float = 0.0,
    gen: torch.Generator | None = None,
) -> torch.Tensor:
    """Transposed MVM (TNSA): drive the columns, sense the rows: I = V @ G^T.

    Args:
        v_V: (tiles, batch, cols) column voltages (volts).
        g_pos_S, g_neg_S: (tiles, rows, cols) conductances (siemens).
        sigma_S: read-noise std per cell (siemens).
        gen: generator for the read noise.

    Returns:
        (tiles, batch, rows) currents into the rows (amperes), G+ row minus G- row.

    """
    mean = torch.bmm(v_V, (g_pos_S - g_neg_S).transpose(1, 2))
    return _noisy(mean, (v_V * v_V).sum(-1, keepdim=True), sigma_S, 2, gen)
