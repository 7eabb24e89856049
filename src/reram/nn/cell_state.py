"""How an analog layer stores its chip state compactly: the conductances in float32 siemens or,
for large models, float16 window units; the frozen-cell mask as bits; the conductances as
programmed as a float16 offset from the present ones, held only once the cells have moved.

Buffers (issue 19: models of hundreds of millions of weights):

- ``g_cells``: the (2, tiles, rows, cols) present conductances. ``state_dtype = "float32"``
  (default): siemens, exact. ``"float16"``: g / (g_max - g_min), 11 significant bits, so each
  cell is held to within 2^-11 of its own conductance (on ``neurram``: <= 0.02 uS at 40 uS,
  against a 1 uS write-verify tolerance and a few % read noise): 4 bytes per weight instead of 8,
  and the matrices the reads derive from the cells are built per read, one block of cells at a
  time, instead of kept (``AnalogLayer.cached``). ``g_S`` decodes them (float32 siemens).
- ``frozen_bits`` (uint8): the mask of cells that do not change, 8 cells per byte.
- ``g_prog_offset`` (float16): (g_prog - g) / (g_max - g_min), the programmed state's offset
  from the present one in units of the window; empty while the cells are as programmed (right
  after programming: the forward pass never reads it), allocated at the first ageing or disturb.
  Each ageing step rounds it to ~2^-11 of itself (after 1 s, 1 day and 10 years on ``neurram``:
  0.006 uS at most).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

_BITS = 1 << torch.arange(8, dtype=torch.uint8)
STATE_DTYPES = {"float32": torch.float32, "float16": torch.float16}


def pack_bits(mask: torch.Tensor, chunk: int = 1 << 23) -> torch.Tensor:
    """A bool tensor as flat uint8 bytes, 8 elements per byte (little-endian within the byte),
    ``chunk`` elements at a time (memory).
    """
    flat = mask.reshape(-1)
    pad = -flat.numel() % 8
    if pad:
        flat = torch.cat([flat, flat.new_zeros(pad)])
    out = torch.empty(flat.numel() // 8, dtype=torch.uint8, device=mask.device)
    bits = _BITS.to(mask.device)
    for a in range(0, flat.numel(), chunk):
        part = flat[a : a + chunk].view(-1, 8).to(torch.uint8).mul_(bits)
        torch.sum(part, -1, dtype=torch.uint8, out=out[a // 8 : (a + part.numel()) // 8])
    return out


def unpack_bits(bits: torch.Tensor, shape: torch.Size | tuple[int, ...]) -> torch.Tensor:
    """The bool tensor of ``shape`` that :func:`pack_bits` stored in ``bits``."""
    n = 1
    for s in shape:
        n *= s
    flat = (bits[:, None] & _BITS.to(bits.device)).ne(0).reshape(-1)
    return flat[:n].view(shape)


def check_state_dtype(state_dtype: str) -> torch.dtype:
    """The storage dtype of ``state_dtype``, or a ValueError naming what is allowed."""
    if state_dtype not in STATE_DTYPES:
        raise ValueError(f"state_dtype = {state_dtype!r} is invalid: allowed are {', '.join(map(repr, STATE_DTYPES))}")
    return STATE_DTYPES[state_dtype]


class CellState:
    """The compact chip state of an analog layer (mixed into :class:`reram.nn.layers.AnalogLayer`)."""

    g_cells: torch.Tensor
    frozen_bits: torch.Tensor
    g_prog_offset: torch.Tensor
    config: Any

    @staticmethod
    def state_buffers(shape: tuple[int, ...], device: torch.device, dtype: torch.dtype) -> dict[str, torch.Tensor]:
        """The compact buffers for cells of ``shape``: every cell frozen, nothing programmed."""
        n = 1
        for s in shape:
            n *= s
        return {"g_cells": torch.zeros(shape, dtype=dtype, device=device),
                "frozen_bits": torch.full((-(-n // 8),), 255, dtype=torch.uint8, device=device),
                "g_prog_offset": torch.zeros(0, dtype=torch.float16, device=device)}  # fmt: skip

    def _window_S(self) -> float:
        dev = self.config.device
        return float(dev.g_max_S - dev.g_min_S)

    @property
    def state_dtype(self) -> str:
        """How the conductances are stored: "float32" (siemens) or "float16" (window units)."""
        return "float16" if self.g_cells.dtype == torch.float16 else "float32"

    def set_state_dtype(self, state_dtype: str) -> None:
        """Store the conductances as ``state_dtype`` ("float32" or "float16"), converting them."""
        dtype = check_state_dtype(state_dtype)
        if dtype != self.g_cells.dtype:
            g = self.g_S
            self.g_cells = torch.empty(g.shape, dtype=dtype, device=g.device)
            self._encode_into(self.g_cells, g)

    @property
    def compact(self) -> bool:
        """Whether the conductances are held in 16 bits (derived matrices built per read)."""
        return self.g_cells.dtype == torch.float16

    @property
    def cells_dtype(self) -> torch.dtype:
        """The dtype the conductances are read in (``g_S``)."""
        return torch.float32 if self.compact else self.g_cells.dtype

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Stored conductances (a slice of ``g_cells``) in siemens: the buffer itself in float32."""
        if codes.dtype != torch.float16:
            return codes
        return codes.to(torch.float32).mul_(self._window_S())

    def _encode_into(self, out: torch.Tensor, g_S: torch.Tensor) -> None:
        if out.dtype == torch.float16:
            out.copy_(g_S / self._window_S())
        else:
            out.copy_(g_S)

    @property
    def g_S(self) -> torch.Tensor:
        """(2, tiles, rows, cols) the present conductances (siemens). In float32 storage the
        buffer itself; in float16 a decoded copy (write through ``store_programmed``/``move_cells``).
        """
        return self.decode(self.g_cells)

    @property
    def frozen(self) -> torch.Tensor:
        """(2, tiles, rows, cols) bool: cells that do not change (stuck, or holding no weight)."""
        return unpack_bits(self.frozen_bits, self.g_cells.shape)

    @property
    def g_prog_S(self) -> torch.Tensor:
        """(2, tiles, rows, cols) the conductances as programmed (siemens): relaxation's origin.
        A tensor of its own (never the state's buffer).
        """
        if self.g_prog_offset.numel() == 0:
            return self.g_S.clone() if not self.compact else self.g_S
        g = self.g_S
        return torch.addcmul(g, self.g_prog_offset.to(g.dtype), g.new_tensor(self._window_S()))

    def store_programmed(
        self, groups: Iterable[tuple[tuple[slice, slice], Any]], used: torch.Tensor
    ) -> tuple[int, int, int]:
        """Programming, a group of cells at a time: each group's ((tiles, columns), ``reram.device.
        ProgramResult``) becomes the cells' present and programmed state; cells not ``used``
        (the (2, tiles, rows, cols) mask of cells holding a weight) are unconnected: 0 S, frozen.

        Returns:
            (pulses applied to used cells, used cells that failed to verify, write-verify
            iterations of the longest group).

        """
        frozen = torch.empty(self.g_cells.shape, dtype=torch.bool, device=self.g_cells.device)
        pulses = failed = iterations = 0
        for (tiles, cols), res in groups:
            unused = ~used[:, tiles, :, cols]  # the result's tensors are the caller's own: masked in place
            if res.pulses is not None:
                pulses += int(res.pulses.masked_fill_(unused, 0).sum())
            failed += int(res.failed.logical_and_(~unused).sum())
            iterations = max(iterations, res.iterations)
            self._encode_into(self.g_cells[:, tiles, :, cols], res.g_S.masked_fill_(unused, 0.0))
            frozen[:, tiles, :, cols] = res.stuck.logical_or_(unused)
            del res
        self.g_prog_offset = self.g_prog_offset.new_zeros(0)
        self.frozen_bits.copy_(pack_bits(frozen))
        return pulses, failed, iterations

    def move_cells(self, g_S: torch.Tensor, g_prog_S: torch.Tensor | None = None) -> None:
        """The cells moved to ``g_S`` (siemens; ageing, disturb); their programmed state stays
        (``g_prog_S``, when the caller holds it already).
        """
        prog = self.g_prog_S if g_prog_S is None else g_prog_S
        self._encode_into(self.g_cells, g_S)
        if self.g_prog_offset.shape != self.g_cells.shape:
            self.g_prog_offset = torch.empty(self.g_cells.shape, dtype=torch.float16, device=self.g_cells.device)
        self.g_prog_offset.copy_(prog.sub(self.g_S).div_(self._window_S()))

    def upgrade_state_dict(self, state_dict: dict[str, Any], prefix: str) -> None:
        """Bring a saved state to this layer's layout: the former float32 ``g_S`` and
        ``g_prog_S`` and bool ``frozen``; conductances saved in the other storage dtype; the
        programmed state's offset present or not.
        """
        g_key, prog_key, mask_key = prefix + "g_S", prefix + "g_prog_S", prefix + "frozen"
        cells_key, off_key = prefix + "g_cells", prefix + "g_prog_offset"
        if g_key in state_dict:  # the former layout: siemens in float32
            state_dict[cells_key] = state_dict.pop(g_key)
        if cells_key in state_dict:
            saved = state_dict[cells_key]
            g = self.decode(saved) if saved.dtype == torch.float16 else saved
            if prog_key in state_dict:
                state_dict[off_key] = ((state_dict.pop(prog_key) - g) / self._window_S()).half()
            if saved.dtype != self.g_cells.dtype:
                out = torch.empty(saved.shape, dtype=self.g_cells.dtype, device=saved.device)
                self._encode_into(out, g)
                state_dict[cells_key] = out
        if mask_key in state_dict:
            state_dict[prefix + "frozen_bits"] = pack_bits(state_dict.pop(mask_key))
        if off_key not in state_dict:
            state_dict[off_key] = self.g_prog_offset.new_zeros(0)
        if state_dict[off_key].shape != self.g_prog_offset.shape:
            self.g_prog_offset = torch.empty(state_dict[off_key].shape, dtype=torch.float16, device=self.g_cells.device)
