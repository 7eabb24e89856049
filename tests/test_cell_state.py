"""The chip state's compact storage: the frozen mask as bits, the programmed state as a float16
offset; exact round trips, the programmed state kept through ageing, old state dicts loaded."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import reram
from reram.nn.cell_state import pack_bits, unpack_bits

if TYPE_CHECKING:
    from reram.nn.layers import AnalogLinear


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 9), min_size=1, max_size=4), st.integers(0, 10**6))
def test_bits_round_trip(shape: list[int], seed: int) -> None:
    mask = torch.rand(shape, generator=torch.Generator().manual_seed(seed)) < 0.3
    bits = pack_bits(mask)
    assert bits.dtype == torch.uint8 and bits.numel() == -(-mask.numel() // 8)
    assert torch.equal(unpack_bits(bits, mask.shape), mask)


def _layer() -> AnalogLinear:
    torch.manual_seed(0)
    cfg = reram.override(
        reram.preset("neurram"), {"array": {"rows": 64, "cols": 32}, "device": {"stuck_low_rate": 0.02}}
    )
    return reram.convert(nn.Sequential(nn.Linear(70, 20)), cfg)[0]


def test_programmed_state_survives_ageing_in_sixteen_bits() -> None:
    layer = _layer()
    layer.program()
    programmed, frozen = layer.g_S.clone(), layer.frozen.clone()
    assert torch.equal(layer.g_prog_S, programmed) and bool(frozen.any())  # exact right after programming
    for seconds in (1.0, 86400.0, 3.15e8):
        layer.age(seconds)
    dev = layer.config.device
    window = dev.g_max_S - dev.g_min_S
    moved = float((layer.g_S - programmed).abs().max())
    assert moved > 0.01 * window  # the cells relaxed
    # their origin is kept, to float16's 11 bits of the offset per ageing step (3 steps)
    assert float((layer.g_prog_S - programmed).abs().max()) < 3 * 2**-11 * moved
    assert torch.equal(layer.frozen, frozen) and torch.equal(layer.g_S[frozen], programmed[frozen])
    # buffers: 1 bit per cell for the mask, 2 bytes per cell for the programmed state
    assert layer.frozen_bits.numel() == -(-layer.g_S.numel() // 8) and layer.g_prog_offset.dtype == torch.float16


def test_a_state_dict_of_the_former_layout_loads() -> None:
    layer = _layer()
    layer.program()
    layer.age(86400.0)
    old = {k: v.clone() for k, v in layer.state_dict().items()}
    old["g_prog_S"] = old.pop("g_prog_offset").float() * (layer.config.device.g_max_S - layer.config.device.g_min_S)
    old["g_prog_S"] += old["g_S"]
    old["frozen"] = layer.frozen.clone()
    del old["frozen_bits"]
    fresh = _layer()
    fresh.load_state_dict(old)
    assert torch.equal(fresh.frozen, layer.frozen) and torch.equal(fresh.g_S, layer.g_S)
    assert torch.allclose(fresh.g_prog_S, layer.g_prog_S, rtol=0, atol=1e-9)
