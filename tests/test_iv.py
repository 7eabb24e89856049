"""Nonlinear cells (``device.iv_v0_V``): I = G v0 sinh(V / v0) in every read, and ``reram fit iv``."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import reram
from reram.array.mvm import StackOp, floating_line_V, row_grouping
from reram.config import override, preset
from reram.fit import FitDataError, fit

IDEAL = preset("ideal")


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), v0=st.floats(0.05, 2.0), rows=st.integers(1, 40))
def test_a_floating_line_of_sinh_cells_settles_where_no_current_leaves_it(seed: int, v0: float, rows: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    gp = torch.rand(1, rows, 3, generator=gen, dtype=torch.float64) * 40e-6
    gm = torch.rand(1, rows, 3, generator=gen, dtype=torch.float64) * 40e-6
    v = (torch.rand(5, rows, generator=gen, dtype=torch.float64) - 0.5) * 0.6  # the G+ row at V, the G- row at -V
    op = StackOp(gp - gm, row_grouping(1, rows), cells_S=lambda: {"g_tot": gp + gm, "g_sq": gp**2 + gm**2})
    i = op.currents(v0 * torch.sinh(v / v0))
    line = floating_line_V(i, op, v, (gp + gm).sum(1), v0)  # (5, 1, 3)
    vc = line[:, 0, None, :]  # (5, 1, cols)
    net = (gp * torch.sinh((v[..., None] - vc) / v0) + gm * torch.sinh((-v[..., None] - vc) / v0)).sum(1)
    scale = ((gp + gm) * torch.cosh(v[..., None].abs() / v0)).sum(1)
    assert (net.abs() / scale).max() < 1e-5  # Kirchhoff: the currents into the line cancel
    ohmic = floating_line_V(op.currents(v), op, v, (gp + gm).sum(1), 1e4)
    assert torch.allclose(ohmic, op.currents(v) / (gp + gm).sum(1), atol=1e-9)  # v0 -> inf: sum GV / sum G


def _chip(config: reram.Config, seed: int = 0) -> tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(seed)
    model = nn.Linear(64, 16)
    x = torch.rand(256, 64)
    chip = reram.convert(model, config)
    chip.program()  # type: ignore[operator]
    reram.calibrate(chip, [x])
    return chip, x


def _error(config: reram.Config) -> float:
    chip, x = _chip(config)
    with torch.no_grad():
        ref = reram.analog_layers(chip)[0][1]._float(x)
        return float((chip(x) - ref).norm() / ref.norm())


@pytest.mark.parametrize("sensing", ["current", "voltage"])
def test_multi_level_inputs_are_bent_more_the_more_nonlinear_the_cells(sensing: str) -> None:
    base = override(IDEAL, {"periphery": {"dac": {"bits": 6}, "adc": {"bits": 12, "sensing": sensing}}})
    errors = [_error(override(base, {"device": {"iv_v0_V": v0}})) for v0 in (0.0, 0.4, 0.1, 0.04)]
    assert errors[0] < 0.02  # ohmic: only the converters' rounding
    assert errors[0] < errors[1] < errors[2] < errors[3]  # the field acts, monotonically


def test_bit_serial_pulses_see_the_nonlinearity_only_as_a_gain_that_calibration_removes() -> None:
    base = override(IDEAL, {"periphery": {"dac": {"bits": 6, "bit_serial": True},
                                          "adc": {"bits": 10, "sensing": "current"}}})  # fmt: skip
    chip, x = _chip(base)
    bent, _ = _chip(override(base, {"device": {"iv_v0_V": 0.05}}))
    with torch.no_grad():
        a, b = chip(x), bent(x)
    assert float((a - b).abs().max() / a.abs().max()) < 1e-3  # a few codes at most flip on rounding


def test_nonlinear_cells_with_a_wired_array_are_refused_by_name() -> None:
    with pytest.raises(reram.ConfigError, match="array.ir_drop"):
        override(IDEAL, {"device": {"iv_v0_V": 0.2}, "array": {"ir_drop": "exact"}})


def _sweeps(path: Path, v0: float, noise: float = 0.0, states: bool = True) -> Path:
    rng = np.random.default_rng(3)
    v = np.linspace(-0.6, 0.6, 25)
    rows = []
    for d in range(3):
        for state, g in (("on", 30e-6 * (1 + 0.02 * d)), ("off", 2e-6 * (1 - 0.03 * d))):
            i = g * v0 * np.sinh(v / v0) * (1 + noise * rng.standard_normal(len(v)))
            rows += [{"sweep": f"{d}{state}", "v_V": a, "i_A": b, **({"state": state} if states else {})}
                     for a, b in zip(v, i, strict=True)]  # fmt: skip
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def test_fit_iv_recovers_the_nonlinearity_and_the_window(tmp_path: Path) -> None:
    exact = fit("iv", _sweeps(tmp_path / "a.csv", 0.3), IDEAL)
    assert exact.params["device.iv_v0_V"] == pytest.approx(0.3, rel=1e-6)
    assert exact.params["device.g_max_S"] == pytest.approx(30e-6 * 1.02, rel=1e-6, abs=0)  # the median on sweep
    assert exact.params["device.g_min_S"] == pytest.approx(2e-6 * 0.97, rel=1e-6, abs=0)
    noisy = fit("iv", _sweeps(tmp_path / "b.csv", 0.3, noise=0.01), IDEAL)
    err = noisy.stderr["device.iv_v0_V"]
    assert 0 < err < 0.01 and abs(noisy.params["device.iv_v0_V"] - 0.3) < 4 * err
    ohmic = fit("iv", _sweeps(tmp_path / "c.csv", 1e4, states=False), IDEAL)
    assert set(ohmic.params) == {"device.iv_v0_V"} and ohmic.params["device.iv_v0_V"] > 20  # ohmic over 0.6 V
    preset_file = tmp_path / "iv.toml"
    from reram.fit import write_preset

    write_preset(exact, preset_file, IDEAL, "iv")
    assert reram.load_config(preset_file).device.iv_v0_V == pytest.approx(0.3, rel=1e-6)


def test_fit_iv_names_a_bad_state_and_a_sweep_at_one_voltage(tmp_path: Path) -> None:
    p = tmp_path / "bad.csv"
    p.write_text("sweep,v_V,i_A,state\na,0.1,1e-6,on\na,0.2,2e-6,on\na,0.3,3e-6,sideways\n")
    with pytest.raises(FitDataError, match="line 4, column 'state'"):
        fit("iv", p, IDEAL)
    p.write_text("sweep,v_V,i_A\na,0.1,1e-6\na,0.1,1e-6\na,0.1,1e-6\n")
    with pytest.raises(FitDataError, match="sweep 'a'"):
        fit("iv", p, IDEAL)
