"""Faults and what a chip does about them: fault-aware fine-tuning, the programming cost, maintenance."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import reram
from reram.config import preset
from reram.cost import programming_cost, verify_read_J, write_pulse_J
from reram.data import load_digits
from reram.train import evaluate, fault_aware_finetune, fit, realised_weights


def _cfg(rate: float = 0.0, **device: object) -> reram.Config:
    dev = {"stuck_high_rate": rate, "g_min_S": 1e-6, "g_max_S": 40e-6, **device}
    return reram.override(preset("ideal"), {"device": dev, "array": {"rows": 64, "cols": 64}})


@pytest.fixture(scope="module")
def digits() -> tuple[nn.Module, object]:
    data = load_digits()
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    fit(net, data.x_train, data.y_train, epochs=15, lr=1e-2, seed=0)
    return net, data


def test_realised_weights_are_the_weights_on_a_fault_free_ideal_chip() -> None:
    torch.manual_seed(0)
    m = reram.convert(nn.Sequential(nn.Linear(100, 70)), _cfg())  # 2 row tiles x 3 column tiles
    m.program()
    w, fixed = realised_weights(m[0])
    assert not bool(fixed.any())
    assert torch.allclose(w, m[0].weight, atol=1e-6, rtol=0)


def test_fine_tuning_recovers_at_least_half_of_what_5_percent_stuck_high_cells_cost(digits) -> None:  # type: ignore[no-untyped-def]
    net, data = digits

    def chip(rate: float) -> nn.Module:
        c = reram.convert(net, _cfg(rate))
        c.program()
        reram.calibrate(c, data.x_train[:500])
        return c

    clean = evaluate(chip(0.0), data.x_test, data.y_test)
    faulty = chip(0.05)
    broken = evaluate(faulty, data.x_test, data.y_test)
    w_before = {n: realised_weights(m) for n, m in reram.analog_layers(faulty)}
    found = fault_aware_finetune(faulty, data.x_train, data.y_train, epochs=3, lr=3e-3, seed=0)
    tuned = evaluate(faulty, data.x_test, data.y_test)
    assert clean - broken > 5.0  # the faults cost accuracy
    assert tuned - broken >= 0.5 * (clean - broken), (clean, broken, tuned)
    assert found["fixed_weights"] > 0
    for n, m in reram.analog_layers(faulty):  # the same cells stuck, the weights they fix unchanged
        w_after, fixed_after = realised_weights(m)
        w0, fixed0 = w_before[n]
        assert torch.equal(fixed_after, fixed0)
        assert torch.equal(m.weight[fixed0], w0[fixed0])  # held at what the chip realised
        assert not torch.allclose(m.weight[~fixed0], w0[~fixed0])  # the healthy weights moved


def test_fault_aware_finetune_needs_a_programmed_chip(digits) -> None:  # type: ignore[no-untyped-def]
    net, data = digits
    with pytest.raises(ValueError, match="program"):
        fault_aware_finetune(reram.convert(net, _cfg(0.05)), data.x_train, data.y_train)


def test_programming_cost_counts_the_verify_loops_pulses() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(48, 24))
    wv = {"program_mode": "write_verify", "wv_tolerance_S": 0.5e-6, "wv_max_iterations": 40}

    def cost(**dev: object) -> tuple[dict[str, object], reram.Config]:
        cfg = _cfg(**dev)
        m = reram.convert(net, cfg)
        m.program()
        return programming_cost(m), cfg

    exact, _ = cost()
    assert exact["pulses"] == exact["cells"] == 2 * 48 * 24  # one shot per cell
    clean, cfg = cost(**wv)
    assert clean["pulses_per_cell"] > 1.5  # the loop takes a few pulses per cell
    want = clean["pulses"] * (write_pulse_J(cfg) + verify_read_J(cfg))
    assert clean["energy_J"] == pytest.approx(want, rel=1e-12, abs=0)
    stuck, _ = cost(**wv, stuck_high_rate=0.1)
    # a stuck cell never verifies: the loop's limit, for about 10 % of the cells
    extra = stuck["pulses"] - clean["pulses"]
    assert 0.06 * clean["cells"] * 38 < extra < 0.14 * clean["cells"] * 40
    louder, _ = cost(**wv, update={"v_write_V": 2.0, "v_threshold_V": 1.2})
    assert write_pulse_J(_cfg(update={"v_write_V": 2.0, "v_threshold_V": 1.2})) == pytest.approx(
        4 * write_pulse_J(cfg), rel=1e-12, abs=0
    )
    assert louder["energy_J"] > clean["energy_J"]


def test_maintenance_refreshes_before_the_predicted_accuracy_falls_under_the_bound() -> None:
    from reram.experiments.reliability import TEN_YEARS_S, maintenance

    day, year = 86400.0, 365 * 86400.0
    table = []
    for method, curve in (("none", [(1.0, 90.0), (day, 89.5), (year, 88.5), (TEN_YEARS_S, 85.0)]),
                          ("global", [(1.0, 90.0), (day, 90.0), (year, 89.8), (TEN_YEARS_S, 89.5)])):  # fmt: skip
        table += [{"study": "age", "temperature_C": 25.0, "age_s": t, "method": method, "accuracy_pct": a}
                  for t, a in curve]  # fmt: skip
    upkeep = {"program_energy_J": 2e-6, "program_time_s": 0.01, "inference_energy_J": 1e-8, "calibration_reads": 1000}
    rows = {r["method"]: r for r in maintenance(table, upkeep, margin_pct=1.0)}
    assert rows["none"]["refresh_interval_s"] == day  # 88.5 at a year is under 90 - 1: refresh daily
    assert rows["none"]["refreshes_10y"] == 3650
    assert rows["none"]["refresh_energy_J"] == pytest.approx(3650 * 2e-6, rel=1e-12, abs=0)
    assert rows["none"]["min_accuracy_pct"] >= rows["none"]["bound_pct"]
    assert rows["none"]["correction_energy_J"] == 0
    assert rows["global"]["refreshes_10y"] == 0 and rows["global"]["refresh_interval"] == "never"
    assert rows["global"]["correction_energy_J"] == pytest.approx(3650 * 64 * 1e-8, rel=1e-12, abs=0)


def test_read_disturb_composes_and_is_off_without_a_rate() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from reram.config import DeviceConfig
    from reram.device import disturb, disturbed_fraction, read_stress_s

    cfg = DeviceConfig(read_disturb_per_decade=0.05, read_disturb_onset_s=1e-3)
    g = torch.linspace(1e-6, 40e-6, 50, dtype=torch.float64)
    frozen = torch.zeros_like(g, dtype=torch.bool)
    frozen[::7] = True

    @settings(max_examples=40, deadline=None)
    @given(st.floats(0, 1e6), st.floats(0, 1e6))
    def composes(a: float, b: float) -> None:
        once = disturb(g, frozen, 0.0, a + b, cfg)
        twice = disturb(disturb(g, frozen, 0.0, a, cfg), frozen, a, a + b, cfg)
        assert torch.allclose(once, twice, rtol=1e-12, atol=1e-18)
        assert bool((once >= g).all()) and bool((once <= cfg.g_max_S).all())  # toward g_max, within the window

    composes()
    moved = disturb(g, frozen, 0.0, 1e3, cfg)
    assert torch.equal(moved[frozen], g[frozen]) and bool((moved[~frozen][:-1] > g[~frozen][:-1]).all())
    assert disturbed_fraction(0.9e-3, cfg) == 0.0  # before the onset
    assert disturbed_fraction(1.0, cfg) == pytest.approx(0.15, rel=1e-12)  # 3 decades x 5 %
    off = DeviceConfig()
    assert torch.equal(disturb(g, frozen, 0.0, 1e9, off), g)
    # the voltage-time dilemma: a read 0.1 V higher stresses e^2 times as much at v0 = 50 mV
    assert read_stress_s(10, 0.3, 1e-8, cfg) == pytest.approx(read_stress_s(10, 0.2, 1e-8, cfg) * math.e**2, rel=1e-12)
    with pytest.raises(ValueError, match="reads"):
        read_stress_s(-1, 0.2, 1e-8, cfg)


def test_a_billion_reads_move_a_chip_and_programming_resets_it() -> None:
    torch.manual_seed(0)
    cfg = reram.override(_cfg(), {"device": {"read_disturb_per_decade": 0.05}})
    m = reram.convert(nn.Sequential(nn.Linear(48, 24)), cfg)
    m.program()
    x = torch.rand(16, 48)
    with torch.no_grad():
        y0 = m(x)
        g0 = m[0].g_S.clone()
        reram.read_disturb(m, 1e9)
        y1 = m(x)
    assert float(m[0].read_stress_s) == pytest.approx(1e9 * m[0].reads_per_inference() * 0.5 * 10e-9, rel=1e-9)
    assert bool((m[0].g_S >= g0).all()) and not torch.allclose(y1, y0, atol=1e-3)
    m.program()
    assert float(m[0].read_stress_s) == 0.0 and torch.equal(m[0].g_S, g0)
    with pytest.raises(ValueError, match="no analog layer"):
        reram.read_disturb(nn.Linear(3, 2), 10)


def test_endurance_narrows_the_window_of_cells_that_took_their_budget() -> None:
    from reram.config import OnChipJob
    from reram.experiments.endurance import run_endurance

    data = load_digits()
    job = OnChipJob(dataset="digits", epochs=2, batch_size=64, lr=0.1, seeds=1)
    cfg = reram.override(preset("hfo2"), {"device": {"update": {"endurance_narrowing": 0.3}}})
    rows = run_endurance(data, cfg, job, budgets=(0.0, 0.01))
    last = {r["endurance_cycles"]: r for r in rows if r["epoch"] == 2}
    assert last[0.0]["window_left"] == 1.0 and last[0.0]["pulses_per_cell"] is None  # unlimited: not counted
    assert last[0.01]["pulses_per_cell"] > 1.0  # two decades beyond the budget: 0.3 each, fewer for idle cells
    assert 0.4 < last[0.01]["window_left"] < 0.8
    assert last[0.01]["accuracy_pct"] < last[0.0]["accuracy_pct"]
