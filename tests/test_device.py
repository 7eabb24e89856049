import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reram import device as cell
from reram.config import DeviceConfig, preset

NEURRAM = preset("neurram").device


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_levels_are_even_and_in_window():
    cfg = DeviceConfig(levels=8)
    g = cell.quantize_levels(torch.linspace(0, 50e-6, 1001), cfg)
    vals = torch.unique(g)
    assert len(vals) == 8 and vals.min() >= cfg.g_min_S - 1e-15 and vals.max() <= cfg.g_max_S + 1e-15
    assert torch.allclose(vals.diff(), vals.diff()[0].expand(7), rtol=1e-4)


def test_write_verify_lands_in_band_without_verify_noise():
    cfg = DeviceConfig(program_mode="write_verify", wv_tolerance_S=1e-6, read_noise_rel=0.0)
    target = torch.rand(20000, generator=gen()) * 38e-6 + 1.5e-6
    res = cell.program(target, cfg, gen(1))
    ok = ~res.failed
    assert ok.float().mean() > 0.999
    assert ((res.g_S - target).abs()[ok] <= 1e-6 + 1e-12).all()
    assert 1 < res.iterations <= cfg.wv_max_iterations


def test_write_verify_with_too_few_iterations_reports_failures():
    cfg = DeviceConfig(program_mode="write_verify", wv_max_iterations=1, wv_step_gain=0.3)
    res = cell.program(torch.full((1000,), 30e-6), cfg, gen())
    assert res.failed.float().mean() > 0.9


def test_gaussian_programming_error_follows_configured_sigma():
    cfg = DeviceConfig(program_mode="gaussian", program_sigma_S=1e-6, g_min_S=0.0, g_max_S=100e-6)
    target = torch.full((200000,), 50e-6)
    err = cell.program(target, cfg, gen()).g_S - target
    assert abs(float(err.mean())) < 3 * 1e-6 / math.sqrt(len(err)) * 2
    assert float(err.std()) == pytest.approx(1e-6, rel=0.01)


@pytest.mark.parametrize("t_s", [1.0, 3600.0, 86400.0, 172800.0])
def test_relaxation_spread_matches_the_fitted_sigma(t_s):
    """After write-verify and relaxation, the spread around target is the NeuRRAM sigma(g, t)."""
    g0 = 20e-6
    target = torch.full((100000,), g0)
    res = cell.program(target, NEURRAM, gen())
    g = cell.relax(res.g_S, res.stuck, 0.0, t_s, NEURRAM, gen(2))
    expected = float(cell.relaxation_sigma_S(torch.tensor([g0]), t_s, NEURRAM)[0])
    assert float((g - target).std()) == pytest.approx(expected, rel=0.05)


def test_relaxation_in_steps_equals_one_step_in_distribution():
    target = torch.full((100000,), 10e-6)
    one = cell.relax(target, torch.zeros_like(target, dtype=torch.bool), 0.0, 86400.0, NEURRAM, gen(1))
    g = target
    for a, b in [(0.0, 1.0), (1.0, 3600.0), (3600.0, 86400.0)]:
        g = cell.relax(g, torch.zeros_like(g, dtype=torch.bool), a, b, NEURRAM, gen(int(b)))
    assert float(g.std()) == pytest.approx(float(one.std()), rel=0.05)


def test_published_polynomial_values():
    x = torch.tensor([20e-6])  # x = 0.5
    s1 = 0.348 + 16.030 * 0.5 - 43.853 * 0.25 + 45.393 * 0.125 - 16.815 * 0.0625
    assert float(cell.relaxation_sigma_S(x, 1.0, NEURRAM)[0]) == pytest.approx(s1 * 1e-6, rel=1e-5)


def test_arrhenius_hot_ages_faster_and_reference_is_identity():
    assert cell.equivalent_time_s(100.0, NEURRAM.t_ref_K, NEURRAM) == pytest.approx(100.0)
    hot = cell.equivalent_time_s(100.0, 358.0, NEURRAM)
    expected = 100 * math.exp(1.2 / 8.617333262e-5 * (1 / 300 - 1 / 358))
    assert hot == pytest.approx(expected) and hot > 1e4
    with pytest.raises(ValueError, match="kelvin"):
        cell.equivalent_time_s(1.0, -5.0, NEURRAM)


def test_stuck_rates_and_values():
    cfg = DeviceConfig(stuck_low_rate=0.05, stuck_high_rate=0.02)
    res = cell.program(torch.full((200000,), 20e-6), cfg, gen())
    low = res.g_S == cfg.g_min_S
    high = res.g_S == cfg.g_max_S
    assert float(low.float().mean()) == pytest.approx(0.05, abs=0.003)
    assert float(high.float().mean()) == pytest.approx(0.02, abs=0.002)
    assert bool(res.stuck[low | high].all())


def test_d2d_spread_limits_reachable_window():
    cfg = DeviceConfig(d2d_window_sigma=0.1, program_mode="gaussian", program_sigma_S=0.0)
    res = cell.program(torch.full((50000,), 40e-6), cfg, gen())
    assert float(res.g_S.std() / 40e-6) == pytest.approx(0.1 * 0.5, rel=0.5)  # capped at each cell's g_max
    assert float(res.failed.float().mean()) > 0.3


@settings(max_examples=30, deadline=None)
@given(st.floats(1e-6, 40e-6), st.integers(0, 10_000))
def test_programming_is_deterministic_and_bounded(g, seed):
    t = torch.full((64,), g)
    a = cell.program(t, NEURRAM, gen(seed)).g_S
    b = cell.program(t, NEURRAM, gen(seed)).g_S
    assert torch.equal(a, b)
    assert bool((a >= NEURRAM.g_min_S).all() and (a <= NEURRAM.g_max_S).all())
