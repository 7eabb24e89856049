"""One read pipeline for every user of the cells: inference layers, transposed reads, on-chip training.

Every preset x every module type builds, programs, runs (forward, backward / update where it
applies) and counts events; the ideal preset equals float; the periphery settings of a preset
act on the on-chip reads as they do on inference.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import reram
from reram.config import available_presets, load_config, override
from reram.nn.onchip import OnChipLinear, onchip_events
from reram.nn.transposed import TransposedRead
from reram.train.onchip import AnalogSGD, OnChipConfig

MODULES = {
    "linear": (lambda: nn.Linear(40, 12), (5, 40)),
    "conv1d": (lambda: nn.Conv1d(3, 6, 3, padding=1), (2, 3, 9)),
    "conv2d": (lambda: nn.Conv2d(3, 5, 3, padding=1), (2, 3, 6, 6)),
}


@pytest.mark.parametrize("name", available_presets())
@pytest.mark.parametrize("kind", sorted(MODULES))
def test_every_preset_runs_every_inference_module(name: str, kind: str) -> None:
    make, shape = MODULES[kind]
    torch.manual_seed(0)
    m = make()
    chip = reram.convert(m, name)
    x = torch.rand(shape, requires_grad=True)
    reram.calibrate(chip, [x.detach()])
    chip.program(seed=1)
    y = chip(x)
    assert y.shape == m(x).shape and torch.isfinite(y).all()
    y.square().sum().backward()
    assert x.grad is not None and chip.weight.grad is not None
    ev = chip.events.total()
    assert ev.mvms > 0 and ev.adc_conversions > 0 and ev.cell_energy_J > 0


@pytest.mark.parametrize("name", available_presets())
def test_every_preset_runs_transposed_reads_and_on_chip_steps(name: str) -> None:
    torch.manual_seed(0)
    cfg = override(load_config(name), {"array": {"scale": "tile", "ir_drop": "off"}})
    lin = reram.convert(nn.Linear(30, 10), cfg)
    lin.program()
    t = TransposedRead(lin)
    out = t(torch.rand(4, 10))
    assert out.shape == (4, 30) and torch.isfinite(out).all() and t.events.total().adc_conversions > 0
    model = nn.Sequential(OnChipLinear(nn.Linear(30, 10), load_config(name)))
    opt = AnalogSGD(model.parameters(), OnChipConfig(lr=0.05))
    before = model[0].weight.detach().clone()
    model(torch.rand(8, 30)).square().sum().backward()
    opt.step()
    ev = onchip_events(model)
    assert ev["vectors"] == 8 and ev["adc_conversions"] > 0 and ev["cell_energy_J"] > 0
    assert not torch.equal(before, model[0].weight.detach())  # the update moved the cells


@settings(max_examples=20, deadline=None)
@given(
    st.integers(1, 300),
    st.integers(1, 70),
    st.sampled_from([4, 8, 16, 64]),
    st.sampled_from(["rows", "columns"]),
    st.sampled_from(["current", "voltage"]),
)
def test_ideal_preset_equals_float_for_any_shape_and_core_size(
    n_in: int, n_out: int, size: int, differential: str, sensing: str
) -> None:
    cfg = override(load_config("ideal"), {"array": {"rows": size, "cols": size, "differential": differential},
                                          "periphery": {"adc": {"sensing": sensing}}})  # fmt: skip
    torch.manual_seed(n_in * 1000 + n_out)
    m = nn.Linear(n_in, n_out).double()
    chip = reram.convert(m, cfg).double()
    x = torch.randn(3, n_in, dtype=torch.float64)
    # two floating bit lines per output (differential columns; an on-chip cell column and its
    # reference) normalise each line by its own conductance: no longer the product (tested below)
    one_line = sensing == "current" or differential == "rows"
    with torch.no_grad():
        ref = m(x)
        tol = 1e-4 * float(ref.abs().max())  # 24-bit converters, partial sums of many arrays
        if one_line:
            assert torch.allclose(chip(x), ref, rtol=0, atol=tol)
        if sensing == "current":
            on = OnChipLinear(m, cfg).double()
            assert torch.allclose(on(x), ref, rtol=0, atol=tol)


def _two_lines(v, g_a, g_b):  # type: ignore[no-untyped-def]
    """Floating bit lines a and b (each sum V G / sum G), their difference."""
    return v @ g_a / g_a.sum(0) - v @ g_b / g_b.sum(0)


def test_voltage_sensing_on_differential_columns_is_two_floating_bit_lines() -> None:
    from reram.array.circuit import Topology, Wires, solve_crossbar

    torch.manual_seed(0)
    cfg = {"base": "ideal", "device": {"g_min_S": 1e-6}, "array": {"differential": "columns", "rows": 16, "cols": 16},
           "periphery": {"adc": {"sensing": "voltage"}}}  # fmt: skip
    m = nn.Linear(12, 3, bias=False).double()
    chip = reram.convert(m, cfg).double()
    chip.program()
    v = torch.rand(5, 12, dtype=torch.float64) * 0.2
    gp, gn = chip.g_S[0, 0, :12], chip.g_S[1, 0, :12]
    want = _two_lines(v, gp, gn)  # (5, 3) volts
    lines = torch.stack([gp, gn], 2).reshape(12, 6)  # G+ and G- columns interleaved
    sol = solve_crossbar(lines, v, Wires(r_row=1e-6, r_col=1e-6), Topology(sensing="voltage"))  # ~ideal wires
    assert torch.allclose(
        sol.sense_V[:, 0::2] - sol.sense_V[:, 1::2], want, atol=1e-5
    )  # the circuit (1e-6 ohm segments, a leak)
    got = chip.gdiff()[0, :12] / chip.gsum_S[0]  # what the core reads per volt, before the ADC
    assert torch.allclose(v @ got, want, atol=1e-12)
    naive = v @ (gp - gn) / (gp + gn).sum(0)  # the former model: one line for the pair
    assert not torch.allclose(naive, want, rtol=0.05)


def test_on_chip_voltage_sensing_reads_a_cell_column_against_its_reference_column() -> None:
    torch.manual_seed(0)
    cfg = override(load_config("ideal"), {"device": {"g_min_S": 1e-6}, "periphery": {"adc": {"sensing": "voltage"}}})
    layer = OnChipLinear(nn.Linear(10, 4), cfg).double()
    v = torch.rand(6, 10, dtype=torch.float64)
    g = layer.conductances_S()[0].double().T  # (in, out)
    g_ref = torch.full_like(g, (cfg.device.g_min_S + cfg.device.g_max_S) / 2)
    stack = layer._stack(transposed=False)
    got = v @ stack.op.gdiff[0] / stack.gsum_S[0]  # per input volt, before the ADC
    assert torch.allclose(got, _two_lines(v, g, g_ref), atol=1e-12)


def test_inference_adc_rounds_its_codes() -> None:
    torch.manual_seed(0)
    cfg = override(load_config("ideal"), {"periphery": {"adc": {"bits": 3}}})
    chip = reram.convert(nn.Linear(16, 6, bias=False), cfg)
    chip.program()
    with torch.no_grad():
        y = chip(torch.rand(200, 16))
    # a 3-bit signed ADC has codes -3..3; one full scale and one weight scale for the layer
    levels = torch.unique(y.round(decimals=5))
    assert 3 <= levels.numel() <= 7


def test_calibration_stores_the_configured_input_and_adc_percentiles() -> None:
    torch.manual_seed(0)
    cfg = override(load_config("ideal"), {"periphery": {"dac": {"percentile": 90.0, "bits": 8},
                                                        "adc": {"percentile": 90.0, "bits": 8}}})  # fmt: skip
    m = nn.Linear(32, 4)
    chip = reram.convert(m, cfg)
    x = torch.rand(512, 32)
    reram.calibrate(chip, [x])
    assert float(chip.x_range) == pytest.approx(float(torch.quantile(x.abs().flatten(), 0.9)), rel=1e-4)
    assert float(chip.x_range) < float(x.max())
    fs = chip.adc_fs
    assert torch.all(fs == fs[0, 0])  # range "layer": one full scale
    assert float(fs[0, 0]) > 0 and float(fs[0, 0]) < float(chip.g_S.sum(2).amax()) * 0.2


@pytest.mark.parametrize(
    "change",
    [
        {"periphery": {"dac": {"bit_serial": True, "bits": 3}, "adc": {"bits": 4}}},
        {"periphery": {"adc": {"sensing": "voltage", "bits": 5}}},
        {"periphery": {"adc": {"range": "column", "bits": 4}}},
        {"periphery": {"adc": {"percentile": 60.0, "bits": 6}}},
        {"array": {"rows": 8, "cols": 8}, "periphery": {"adc": {"bits": 4}}},
    ],
    ids=["bit_serial", "voltage_sensing", "column_range", "adc_percentile", "row_tiles"],
)
def test_the_presets_periphery_changes_the_on_chip_read(change: dict) -> None:
    base = override(load_config("ideal"), {"periphery": {"dac": {"bits": 3}, "adc": {"bits": 4}}})
    if "dac" not in change.get("periphery", {}):
        base = override(load_config("ideal"), {"periphery": {"dac": {"bits": 8}, "adc": {"bits": 4}}})
    torch.manual_seed(0)
    lin = nn.Linear(24, 6)
    x = torch.rand(64, 24) * torch.linspace(0.1, 1, 24)
    with torch.no_grad():
        a = OnChipLinear(lin, base)(x)
        b = OnChipLinear(lin, override(base, change))(x)
    assert not torch.allclose(a, b, atol=1e-6)
    ref = lin(x).detach()
    assert torch.allclose(a, ref, atol=0.3 * float(ref.abs().max()))  # still the product
    if "percentile" in str(change):  # a 60th-percentile full scale clips: the largest outputs saturate
        bias = lin.bias.detach()
        assert float((b - bias).abs().max()) < 0.9 * float((ref - bias).abs().max())
    elif "voltage" in str(change):  # cell and reference on separate floating lines: each column's mean weight drops out
        w = lin.weight.detach()
        ref_v = x @ (w - w.mean(1, keepdim=True)).T + lin.bias.detach()
        assert torch.allclose(b, ref_v, atol=0.3 * float(ref_v.abs().max()))
    else:
        assert torch.allclose(b, ref, atol=0.3 * float(ref.abs().max()))


def test_bit_serial_on_chip_reads_count_one_conversion_per_plane() -> None:
    cfg = override(load_config("ideal"), {"periphery": {"dac": {"bit_serial": True, "bits": 4}}})
    layer = OnChipLinear(nn.Linear(10, 3), cfg)
    with torch.no_grad():
        layer(torch.rand(7, 10))  # non-negative inputs: one phase of 4 planes
    e = layer.events
    assert e.mvms == 7 * 4 and e.adc_conversions == 7 * 4 * 3 and e.dac_conversions == 7 * 4 * 10
