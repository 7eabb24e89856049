import dataclasses
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import reram
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
    assert torch.allclose(vals.diff(), vals.diff()[0].expand(7), rtol=1e-4, atol=0)


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
    g = cell.relax(res.g_S, res.g_S, res.stuck, 0.0, t_s, NEURRAM, gen(2))
    expected = float(cell.relaxation_sigma_S(torch.tensor([g0]), t_s, NEURRAM)[0])
    assert float((g - target).std()) == pytest.approx(expected, rel=0.05)


def test_relaxation_in_steps_equals_one_step_in_distribution():
    target = torch.full((100000,), 10e-6)
    none = torch.zeros_like(target, dtype=torch.bool)
    one = cell.relax(target, target, none, 0.0, 86400.0, NEURRAM, gen(1))
    g = target
    for a, b in [(0.0, 1.0), (1.0, 3600.0), (3600.0, 86400.0)]:
        g = cell.relax(g, target, none, a, b, NEURRAM, gen(int(b)))
    assert float(g.std()) == pytest.approx(float(one.std()), rel=0.05)


YEAR_S = 365.25 * 86400


@settings(max_examples=60, deadline=None)
@given(
    st.floats(1e-6, 40e-6),
    st.lists(st.floats(1e-3, 10 * YEAR_S), min_size=1, max_size=6),
    st.floats(233.0, 423.0),
    st.sampled_from(["neurram", "hfox"]),
)
def test_relaxation_spread_grows_stays_bounded_and_ignores_how_an_age_is_split(g, ages, kelvin, name):
    cfg = reram.preset(name).device
    times = sorted(cell.equivalent_time_s(a, kelvin, cfg) for a in ages)
    g0 = torch.tensor([g], dtype=torch.float64)
    sig = [float(cell.relaxation_sigma_S(g0, t, cfg)[0]) for t in times]
    assert all(b >= a for a, b in zip(sig, sig[1:], strict=False))  # non-decreasing in time
    assert max(sig) <= (cfg.g_max_S - cfg.g_min_S) / 12**0.5 + 1e-18  # bounded by the window
    # the walk's variance in steps adds up to the one-step variance (the increments are never clipped)
    var = [s * s for s in [0.0, *sig]]
    assert all(b >= a for a, b in zip(var, var[1:], strict=False))
    f = [cell.relaxed_fraction(t, cfg) for t in [0.0, *times]]
    assert all(0 <= a <= b < 1 for a, b in zip(f, f[1:], strict=False))


def test_relaxation_after_the_fits_keeps_growing_and_acts_before_the_first():
    g0 = torch.tensor([10e-6])
    day = float(cell.relaxation_sigma_S(g0, 86400.0, NEURRAM)[0])
    decade = float(cell.relaxation_sigma_S(g0, 10 * YEAR_S, NEURRAM)[0])
    assert decade >= day  # was 2.97 uS at 10 years against 3.65 uS at 1 day
    assert float(cell.relaxation_sigma_S(g0, 1e-3, NEURRAM)[0]) < float(cell.relaxation_sigma_S(g0, 1.0, NEURRAM)[0])
    none = torch.zeros(20000, dtype=torch.bool)
    target = torch.full((20000,), 10e-6, dtype=torch.float64)
    two = cell.relax(target, target, none, 0.0, 86400.0, NEURRAM, gen(3))
    two = cell.relax(two, target, none, 86400.0, 10 * YEAR_S, NEURRAM, gen(4))
    one = cell.relax(target, target, none, 0.0, 10 * YEAR_S, NEURRAM, gen(5))
    assert float(two.std()) == pytest.approx(float(one.std()), rel=0.04)  # split-invariant at 10 years too


def test_mean_drift_relaxes_toward_the_center_in_any_number_of_steps():
    cfg = dataclasses.replace(NEURRAM, relax_center_S=20e-6, relax_tau_s=10.0, relax_alpha=0.1, relax_times_s=(),
                              relax_poly_uS=())  # fmt: skip
    g0 = torch.tensor([5e-6, 35e-6], dtype=torch.float64)
    none = torch.zeros(2, dtype=torch.bool)
    one = cell.relax(g0, g0, none, 0.0, 1e6, cfg, gen())
    g = g0
    for a, b in [(0.0, 10.0), (10.0, 1e3), (1e3, 1e6)]:
        g = cell.relax(g, g0, none, a, b, cfg, gen())
    f = cell.relaxed_fraction(1e6, cfg)
    assert torch.allclose(one, g0 + f * (20e-6 - g0), atol=0) and torch.allclose(g, one, atol=0)
    assert 0 < f < 1 and float(one[0]) > 5e-6 and float(one[1]) < 35e-6


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


def test_a_read_temperature_shifts_conductances_and_narrows_the_window_when_hot():
    cfg = NEURRAM
    g = torch.tensor([cfg.g_min_S, 20e-6, cfg.g_max_S])
    assert torch.equal(cell.at_read_temperature(g, cfg.t_ref_K, cfg), g)
    hot = cell.at_read_temperature(g, 358.0, cfg)
    assert hot[0] > g[0] and hot[2] < g[2]  # low states rise, high states fall: the window narrows
    assert float(hot[2] - hot[0]) < float(g[2] - g[0])
    cold = cell.at_read_temperature(g, 233.0, cfg)
    assert cold[0] < g[0] and cold[2] > g[2]


def test_a_chip_reads_at_a_temperature_apart_from_ageing():
    from torch import nn

    torch.manual_seed(0)
    chip = reram.convert(
        nn.Sequential(nn.Linear(16, 8)),
        {"base": "neurram", "device": {"read_noise_rel": 0.0, "read_noise_model": "constant"}},
    )
    chip.program(seed=0)
    x = torch.rand(4, 16)
    with torch.no_grad():
        y0 = chip(x)
        g0 = chip[0].g_S.clone()
        chip.read_temperature(358.0)
        y_hot = chip(x)
        assert torch.equal(chip[0].g_S, g0)  # reading hot does not age the cells
        chip.read_temperature(None)
        assert torch.equal(chip(x), y0)
    assert not torch.equal(y_hot, y0)
    with pytest.raises(ValueError, match="read temperature"):
        chip.read_temperature(-3.0)


def test_programming_tile_group_by_tile_group_is_programming() -> None:
    from reram.device import program, program_tiles

    dev = reram.override(reram.preset("neurram"), {"device": {"stuck_high_rate": 0.02}}).device
    target = 2e-6 + torch.rand(2, 6, 64, 32, generator=torch.Generator().manual_seed(0)) * 30e-6
    whole = program_tiles(target, dev, torch.Generator().manual_seed(1))
    same = program(target, dev, torch.Generator().manual_seed(1))
    assert torch.equal(whole.g_S, same.g_S)  # a stack that fits: one call, the same draws
    parts = program_tiles(target, dev, torch.Generator().manual_seed(1), max_cells=2 * 64 * 32 * 2)
    assert parts.g_S.shape == target.shape and parts.pulses is not None and parts.pulses.shape == target.shape
    ok = ~parts.failed
    levels = cell.quantize_levels(target, dev)  # the targets on the device's levels
    assert float((parts.g_S - levels)[ok].abs().max()) <= dev.wv_tolerance_S + 3 * dev.read_sigma_S
    assert abs(float(parts.stuck.float().mean()) - 0.02) < 0.01  # the faults drawn group by group
    assert not torch.equal(parts.g_S, whole.g_S)  # groups draw their own noise


def test_write_verify_with_one_window_for_all_cells_equals_the_per_cell_windows():
    """Without device-to-device spread the windows are one value each (no memory per cell), and
    write-verify gives bit for bit what it gives with the same window stored per cell."""
    from reram.device import cell_windows
    from reram.device.program import write_verify

    cfg = preset("neurram").device
    lo, hi = cell_windows((300, 70), cfg, torch.Generator().manual_seed(0), torch.device("cpu"))
    assert lo.stride() == (0, 0) and hi.stride() == (0, 0)
    target = cfg.g_min_S + torch.rand(300, 70, generator=torch.Generator().manual_seed(1)) * (cfg.g_max_S - cfg.g_min_S)
    one = write_verify(target, lo, hi, cfg, torch.Generator().manual_seed(2))
    each = write_verify(target, lo.contiguous(), hi.contiguous(), cfg, torch.Generator().manual_seed(2))
    assert torch.equal(one[0], each[0]) and torch.equal(one[1], each[1]) and one[2] == each[2]
    assert torch.equal(one[3], each[3]) and float(one[3].float().mean()) > 1
