"""The chip state's compact storage: the frozen mask as bits, the programmed state as a float16
offset; exact round trips, the programmed state kept through ageing, old state dicts loaded."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

import pytest
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


def test_the_programmed_state_is_held_only_once_the_cells_moved() -> None:
    layer = _layer()
    layer.program()
    assert layer.g_prog_offset.numel() == 0  # right after programming: the present state is it
    g_prog = layer.g_prog_S
    g_prog += 1.0  # a tensor of its own, never the state's buffer
    assert not torch.equal(layer.g_prog_S, g_prog)
    layer.age(60.0)
    assert layer.g_prog_offset.shape == layer.g_cells.shape
    layer.program()
    assert layer.g_prog_offset.numel() == 0


def test_a_state_dict_of_the_former_layout_loads() -> None:
    layer = _layer()
    layer.program()
    layer.age(86400.0)
    old = {k: v.clone() for k, v in layer.state_dict().items()}
    old["g_prog_S"] = old.pop("g_prog_offset").float() * (layer.config.device.g_max_S - layer.config.device.g_min_S)
    old["g_S"] = old.pop("g_cells")
    old["g_prog_S"] += old["g_S"]
    old["frozen"] = layer.frozen.clone()
    del old["frozen_bits"]
    fresh = _layer()
    fresh.load_state_dict(old)
    assert torch.equal(fresh.frozen, layer.frozen) and torch.equal(fresh.g_S, layer.g_S)
    assert torch.allclose(fresh.g_prog_S, layer.g_prog_S, rtol=0, atol=1e-9)


def _pair(preset: str = "neurram", inputs: int = 150, **changes: object) -> tuple[AnalogLinear, AnalogLinear]:
    cfg = reram.override(reram.preset(preset), {"array": {"rows": 64, "cols": 32}, **changes})
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(inputs, 70))
    return reram.convert(model, cfg)[0], reram.convert(model, cfg, state_dtype="float16")[0]


def test_sixteen_bit_storage_holds_each_cell_to_its_eleven_bits() -> None:
    full, half = _pair()
    full.program()
    half.program()  # the same seed: the same write-verify draws, then stored in 16 bits
    assert half.g_cells.dtype == torch.float16 and half.g_cells.element_size() * 2 == full.g_cells.element_size()
    g, h = full.g_S, half.g_S
    assert h.dtype == torch.float32 and torch.equal(half.frozen, full.frozen)
    assert bool(((h - g).abs() <= 2**-11 * g.abs()).all()) and bool((h != g).any())
    x = torch.rand(64, 150)
    with torch.no_grad():
        yf, yh = full(x), half(x)  # the same read-noise draws on conductances 2^-11 apart
    assert float((yf - yh).abs().max()) < 1e-2 * float(yf.abs().max())
    assert half._cache == {} and full._cache  # 16 bits: what the read derived is not kept
    full.set_state_dtype("float16")  # a converted layer switched: the same codes
    assert torch.equal(full.g_cells, half.g_cells) and full.compact


def test_sixteen_bit_storage_keeps_the_ideal_preset_close_to_float() -> None:
    full, half = _pair("ideal")
    x = torch.randn(32, 150)
    with torch.no_grad():
        ref = nn.functional.linear(x, full.weight, full.bias)
        err = float((half(x) - ref).abs().max()) / float(ref.abs().max())
    assert 0 < err < 2e-3


def test_a_state_dict_loads_across_storage_dtypes() -> None:
    full, half = _pair()
    half.program()
    half.age(3600.0)
    full.load_state_dict(half.state_dict())
    assert full.g_cells.dtype == torch.float32 and torch.equal(full.g_S, half.g_S)
    assert torch.allclose(full.g_prog_S, half.g_prog_S, rtol=0, atol=1e-12)
    back = _pair()[1]
    back.load_state_dict(full.state_dict())
    assert torch.equal(back.g_cells, half.g_cells)


def test_a_storage_dtype_outside_the_choices_is_refused() -> None:
    with pytest.raises(ValueError, match="state_dtype = 'bfloat16' is invalid: allowed are 'float32', 'float16'"):
        reram.convert(nn.Sequential(nn.Linear(4, 3)), "ideal", state_dtype="bfloat16")


@pytest.mark.parametrize("compact", [False, True])
def test_blockwise_builds_equal_the_whole_layer_formulas(monkeypatch: pytest.MonkeyPatch, compact: bool) -> None:
    from reram.nn import cell_views

    full, half = _pair(device={"stuck_low_rate": 0.05}, periphery={"adc": {"sensing": "current"}})
    layer = half if compact else full
    layer.config = reram.override(layer.config, {"array": {"r_access_ohm": 2000.0}})
    layer.program()
    layer.set_read_temperature(330.0)
    monkeypatch.setattr(cell_views, "BLOCK_CELLS", 1)  # one array's columns per block: many blocks
    b = layer.branch_S()
    assert torch.equal(layer.gdiff(), b[0] - b[1])
    assert torch.allclose(layer.branch_col_sums(), b.sum((0, 2)), rtol=1e-6, atol=0)
    g = b[0] + b[1]
    assert torch.allclose(layer.g_row(), layer.col_tile_sums(g.flatten(0, 1)).view(*g.shape[:2], -1), rtol=1e-6, atol=0)
    mats = layer.noise_cells()
    want = torch.cat([mats["g_tot"] * 3.0, mats["g_sq"] * 5.0], dim=1)
    assert torch.allclose(mats.stacked(3.0, 5.0, torch.float32), want, rtol=1e-6, atol=0)


@pytest.mark.parametrize("cells", [2 * 64 * 32, 2 * 64 * 5])  # a tile per group; blocks of 5 columns
def test_programming_group_by_group_stores_what_one_whole_result_holds(monkeypatch: pytest.MonkeyPatch,
                                                                       cells: int) -> None:  # fmt: skip
    from reram import device as cell

    prog = importlib.import_module("reram.device.program")
    from reram.nn.layers import _generator

    full, _ = _pair(inputs=151, device={"stuck_low_rate": 0.05})  # 5 tiles of 31 rows: 4 unused rows
    monkeypatch.setattr(prog, "CHUNK_CELLS", cells)
    full.program()
    _, target = full.conductance_targets()
    res = cell.program_tiles(target, full.config.device, _generator(full.config.seed, full.index, 0, target.device),
                             full.stuck_map().main(), max_cells=cells)  # fmt: skip
    used = target > 0
    assert not bool(used.all())
    assert torch.equal(full.g_S, res.g_S.masked_fill(~used, 0.0))
    assert torch.equal(full.frozen, res.stuck | ~used)
    assert full.program_pulses == int(res.pulses.masked_fill(~used, 0).sum())
    assert full.program_failures == int((res.failed & used).sum())


def test_sixteen_bit_storage_ages_reads_hot_and_runs_convolutions() -> None:
    torch.manual_seed(0)
    cfg = reram.override(reram.preset("neurram"), {"array": {"rows": 64, "cols": 32}})
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 36, 10))
    full, half = reram.convert(model, cfg), reram.convert(model, cfg, state_dtype="float16")
    x = torch.rand(16, 3, 6, 6)
    outs = []
    for chip in (full, half):
        chip.program()
        reram.calibrate(chip, [x])
        chip.age(86400.0)
        chip.read_temperature(340.0)
        with torch.no_grad():
            outs.append(chip(x))
    assert half[0].g_cells.dtype == torch.float16 and half[0].g_prog_offset.shape == half[0].g_cells.shape
    g, h = full[0].g_S, half[0].g_S  # the same relaxation draws from cells 2^-11 apart
    assert float((h - g).abs().max()) < 2**-9 * float(g.abs().max())
    assert float((outs[0] - outs[1]).abs().max()) < 0.05 * float(outs[0].abs().max())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_sixteen_bit_storage_on_cuda_holds_what_the_cpu_holds() -> None:
    torch.manual_seed(0)
    cfg = reram.override(reram.preset("ideal"), {"array": {"rows": 64, "cols": 32}})
    model = nn.Sequential(nn.Linear(150, 70))
    cpu = reram.convert(model, cfg, state_dtype="float16")
    gpu = reram.convert(model.cuda(), cfg, state_dtype="float16")
    x = torch.rand(16, 150)
    with torch.no_grad():
        y_cpu, y_gpu = cpu(x), gpu(x.cuda()).cpu()
    assert torch.equal(cpu[0].g_cells, gpu[0].g_cells.cpu()) and torch.equal(cpu[0].frozen, gpu[0].frozen.cpu())
    assert torch.allclose(y_cpu, y_gpu, rtol=1e-3, atol=1e-4)
