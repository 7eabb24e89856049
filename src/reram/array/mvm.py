"""Ohm + Kirchhoff: where a column current is summed.

Each cell passes I = V G; each column sums its cells' currents. Read noise, independent Gaussian
of std sigma on every cell, enters in distribution: the column current is exactly
N(V @ G, (V**2) @ sigma**2), so one sample per output replaces a noise tensor per input.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import torch

_POOL: ThreadPoolExecutor | None = None
_CHUNK = 1 << 17


def gaussian_like(ref: torch.Tensor, gen: torch.Generator | None) -> torch.Tensor:
    """Standard normal samples shaped and laid out like ``ref`` (a dense tensor, any strides)."""
    buf = torch.empty(ref.numel(), dtype=ref.dtype, device=ref.device)
    gaussian_(buf, gen)
    if ref.is_contiguous():
        return buf.view(ref.shape)
    return buf.as_strided(ref.shape, ref.stride())


def gaussian_(out: torch.Tensor, gen: torch.Generator | None) -> torch.Tensor:
    """Fill a contiguous ``out`` with standard normal samples, reproducibly for a generator state.

    On CPU, torch draws normals on one thread; large buffers are split into a fixed number of
    chunks (set by the size alone, so results do not depend on the thread count), each with its
    own generator seeded from ``gen``, and filled in parallel.
    """
    n = out.numel()
    if out.device.type != "cpu" or n < 2 * _CHUNK:
        return out.normal_(generator=gen)
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=max(1, torch.get_num_threads()))
    parts = min(16, n // _CHUNK)
    seeds = torch.randint(0, 2**62, (parts,), generator=gen).tolist()
    chunks = out.view(-1).chunk(parts)

    def fill(k: int) -> None:
        chunks[k].normal_(generator=torch.Generator().manual_seed(seeds[k]))

    list(_POOL.map(fill, range(parts)))
    return out


def add_read_noise_(
    i_A: torch.Tensor, v_sq_sum: torch.Tensor, sigma_S: float, gen: torch.Generator | None, cells: int = 2
) -> torch.Tensor:
    """Add read noise to currents ``i_A`` in place, exactly in distribution.

    Args:
        i_A: noiseless output currents (amperes).
        v_sq_sum: sum of V**2 over the cells feeding each output (volts squared), broadcastable.
        sigma_S: read-noise std of one cell (siemens).
        gen: generator for the samples.
        cells: cells per weight (2 for a differential pair).

    """
    if sigma_S > 0:
        i_A.addcmul_(gaussian_like(i_A, gen), (v_sq_sum * (cells * sigma_S**2)).sqrt())
    return i_A


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
    return add_read_noise_(mean, (v_V * v_V).sum(-1, keepdim=True), sigma_S, gen)


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
    return add_read_noise_(mean, (v_V * v_V).sum(-1, keepdim=True), sigma_S, gen)
