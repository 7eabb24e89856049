"""Gaussian samples for the simulator's noise (read noise, cycle-to-cycle update noise), fast on CPU.

torch draws normal samples on one CPU thread; :func:`gaussian_` splits a large buffer into a
fixed number of chunks, each with its own generator seeded from the caller's, and fills them in
parallel, so a seeded run gives the same samples whatever the thread count.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import torch

_POOL: ThreadPoolExecutor | None = None
_CHUNK = 1 << 17  # samples per chunk; buffers of two chunks or more are split


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
