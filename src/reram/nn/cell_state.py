"""How an analog layer stores its chip state compactly: the frozen-cell mask as bits, and the
conductances as programmed as a float16 offset from the present ones.

The forward pass reads neither: the mask acts when cells age or are disturbed (stuck and unused
cells stay), the programmed state is relaxation's origin. So they are kept small, for models of
hundreds of millions of weights (issue 19):

- ``frozen_bits`` (uint8): the (2, tiles, rows, cols) mask, 8 cells per byte (1/8 of a bool).
- ``g_prog_offset`` (float16): (g_prog - g) / (g_max - g_min), the programmed state's offset
  from the present one in units of the device's window. It is exactly 0 right after programming;
  after ageing it is the relaxation's displacement, held to float16's 11 bits: each ageing step
  rounds it to ~2^-11 of itself (after 1 s, 1 day and 10 years on ``neurram``: 0.006 uS at most,
  against a 1 uS write-verify tolerance). Half the bytes of a float32 copy.
"""

from __future__ import annotations

from typing import Any

import torch

_BITS = 1 << torch.arange(8, dtype=torch.uint8)


def pack_bits(mask: torch.Tensor) -> torch.Tensor:
    """A bool tensor as flat uint8 bytes, 8 elements per byte (little-endian within the byte)."""
    flat = mask.reshape(-1)
    pad = -flat.numel() % 8
    if pad:
        flat = torch.cat([flat, flat.new_zeros(pad)])
    return (flat.view(-1, 8).to(torch.uint8) * _BITS.to(mask.device)).sum(-1, dtype=torch.uint8)


def unpack_bits(bits: torch.Tensor, shape: torch.Size | tuple[int, ...]) -> torch.Tensor:
    """The bool tensor of ``shape`` that :func:`pack_bits` stored in ``bits``."""
    n = 1
    for s in shape:
        n *= s
    flat = (bits[:, None] & _BITS.to(bits.device)).ne(0).reshape(-1)
    return flat[:n].view(shape)


class CellState:
    """The compact chip state of an analog layer (mixed into :class:`reram.nn.layers.AnalogLayer`)."""

    g_S: torch.Tensor
    frozen_bits: torch.Tensor
    g_prog_offset: torch.Tensor
    config: Any

    @staticmethod
    def state_buffers(shape: tuple[int, ...], device: torch.device) -> dict[str, torch.Tensor]:
        """The compact buffers for cells of ``shape``: every cell frozen, nothing programmed."""
        n = 1
        for s in shape:
            n *= s
        return {"frozen_bits": torch.full((-(-n // 8),), 255, dtype=torch.uint8, device=device),
                "g_prog_offset": torch.zeros(shape, dtype=torch.float16, device=device)}  # fmt: skip

    def _window_S(self) -> float:
        dev = self.config.device
        return float(dev.g_max_S - dev.g_min_S)

    @property
    def frozen(self) -> torch.Tensor:
        """(2, tiles, rows, cols) bool: cells that do not change (stuck, or holding no weight)."""
        return unpack_bits(self.frozen_bits, self.g_S.shape)

    @property
    def g_prog_S(self) -> torch.Tensor:
        """(2, tiles, rows, cols) the conductances as programmed (siemens): relaxation's origin."""
        return torch.addcmul(self.g_S, self.g_prog_offset.to(self.g_S.dtype), self.g_S.new_tensor(self._window_S()))

    def write_cells(self, g_S: torch.Tensor, frozen: torch.Tensor) -> None:
        """Programming: the cells now hold ``g_S`` (siemens), their programmed state; ``frozen``
        the cells that will not change.
        """
        self.g_S.copy_(g_S)
        self.g_prog_offset.zero_()
        self.frozen_bits.copy_(pack_bits(frozen))

    def move_cells(self, g_S: torch.Tensor, g_prog_S: torch.Tensor | None = None) -> None:
        """The cells moved to ``g_S`` (siemens; ageing, disturb); their programmed state stays
        (``g_prog_S``, when the caller holds it already).
        """
        prog = self.g_prog_S if g_prog_S is None else g_prog_S
        self.g_S.copy_(g_S)
        self.g_prog_offset.copy_(prog.sub_(self.g_S).div_(self._window_S()))

    def upgrade_state_dict(self, state_dict: dict[str, Any], prefix: str) -> None:
        """Convert a state dict saved with the float32 programmed state and the bool mask."""
        g_key, prog_key, mask_key = prefix + "g_S", prefix + "g_prog_S", prefix + "frozen"
        if prog_key in state_dict and g_key in state_dict:
            g = state_dict[g_key]
            state_dict[prefix + "g_prog_offset"] = ((state_dict.pop(prog_key) - g) / self._window_S()).half()
        if mask_key in state_dict:
            state_dict[prefix + "frozen_bits"] = pack_bits(state_dict.pop(mask_key))
