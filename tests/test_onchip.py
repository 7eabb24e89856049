"""On-chip training: pulse response, pulse coincidence, the three kernels, the optimizer, its cost."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from reram.array import outer
from reram.array.outer import coincidences, count_product, dither_round
from reram.config import ConfigError, UpdateConfig, load_config, override
from reram.cost.training import training_step_cost
from reram.device import update as cellupd
from reram.nn.onchip import OnChipLinear, onchip_events, onchip_layers, reset_onchip_events, to_onchip
from reram.train.onchip import AnalogSGD, OnChipConfig, carry


def _cfg(base: str = "ideal", **update):  # type: ignore[no-untyped-def]
    return override(load_config(base), {"device": {"update": update}})


def _cells(cfg, shape=(50, 40), seed=0):  # type: ignore[no-untyped-def]
    return cellupd.init_cells(shape, cfg.device, torch.Generator().manual_seed(seed))


# ----- the device's pulse response -----
def test_linear_steps_are_constant_and_asymmetric() -> None:
    cfg = _cfg(model="linear", pulses_up=100.0, pulses_down=50.0)
    c = _cells(cfg)
    cellupd.apply_pulses(c, torch.full_like(c.u, 10.0), torch.zeros_like(c.u), cfg.device.update, None)
    assert torch.allclose(c.u, torch.full_like(c.u, 0.6))
    cellupd.apply_pulses(c, torch.zeros_like(c.u), torch.full_like(c.u, 10.0), cfg.device.update, None)
    assert torch.allclose(c.u, torch.full_like(c.u, 0.4))


def test_exponential_matches_the_neurosim_curve_pulse_by_pulse() -> None:
    nl, p_max = 2.0, 40.0
    cfg = _cfg(model="exponential", pulses_up=p_max, pulses_down=p_max, nl_up=nl, nl_down=nl)
    c = _cells(cfg, (1,))
    c.u.zero_()
    ones, zero = torch.ones(1), torch.zeros(1)
    curve = []
    for _ in range(int(p_max)):
        cellupd.apply_pulses(c, ones, zero, cfg.device.update, None)
        curve.append(float(c.u))
    p = torch.arange(1, int(p_max) + 1, dtype=torch.float64)
    expected = (1 - torch.exp(-nl * p / p_max)) / (1 - math.exp(-nl))  # u(P) = B (1 - exp(-nl P / P_max))
    assert torch.allclose(torch.tensor(curve, dtype=torch.float64), expected, atol=1e-5)
    assert curve[-1] == pytest.approx(1.0, abs=1e-5)  # P_max pulses cross the window
    # the same pulses at once land on the same state
    d = _cells(cfg, (1,))
    d.u.zero_()
    cellupd.apply_pulses(d, torch.tensor([p_max]), zero, cfg.device.update, None)
    assert float(d.u) == pytest.approx(curve[-1], abs=1e-5)
    steps_up, _ = cellupd.steps(d, torch.tensor([0.0, 0.5, 0.9]))
    assert bool((steps_up[1:] < steps_up[:-1]).all())  # nonlinear: the step shrinks going up


def test_soft_bounds_step_vanishes_at_the_bound() -> None:
    cfg = _cfg(model="soft_bounds", pulses_up=100.0, pulses_down=100.0)
    c = _cells(cfg, (3,))
    up, down = cellupd.steps(c, torch.tensor([0.0, 0.5, 1.0]))
    assert up.tolist() == pytest.approx([0.01, 0.005, 0.0])
    assert down.tolist() == pytest.approx([0.0, 0.005, 0.01])


@settings(max_examples=30, deadline=None)
@given(
    model=st.sampled_from(["linear", "soft_bounds", "exponential"]),
    n=st.floats(0, 5000),
    frac_up=st.floats(0, 1),
    c2c=st.floats(0, 0.2),
    d2d=st.floats(0, 0.5),
    seed=st.integers(0, 100),
)
def test_bounds_hold(model: str, n: float, frac_up: float, c2c: float, d2d: float, seed: int) -> None:
    cfg = override(_cfg(model=model, nl_up=3.0, nl_down=1.0, c2c_sigma=c2c, d2d_sigma=d2d,
                        endurance_cycles=100.0), {"device": {"d2d_window_sigma": 0.1}})  # fmt: skip
    gen = torch.Generator().manual_seed(seed)
    c = cellupd.init_cells((20, 20), cfg.device, gen)
    for _ in range(3):
        up = torch.rand(c.u.shape, generator=gen) * n * frac_up
        down = torch.rand(c.u.shape, generator=gen) * n * (1 - frac_up)
        cellupd.apply_pulses(c, up, down, cfg.device.update, gen)
        lo, hi = cellupd.window(c, cfg.device.update)
        assert bool((c.u >= lo - 1e-6).all() and (c.u <= hi + 1e-6).all())
        assert bool((lo >= c.lo - 1e-6).all() and (hi <= c.hi + 1e-6).all())


def test_endurance_narrows_the_window_after_the_budget() -> None:
    cfg = _cfg(endurance_cycles=1000.0, endurance_narrowing=0.2)
    c = _cells(cfg, (4,))
    c.pulses.copy_(torch.tensor([10.0, 1000.0, 10000.0, 100000.0]))
    lo, hi = cellupd.window(c, cfg.device.update)
    width = (hi - lo).tolist()
    assert width == pytest.approx([1.0, 1.0, 0.8, 0.6])


def test_cycle_to_cycle_noise_has_its_configured_spread() -> None:
    cfg = _cfg(model="linear", pulses_up=1000.0, pulses_down=1000.0, c2c_sigma=0.01)
    c = _cells(cfg, (20000,))
    n = torch.full_like(c.u, 16.0)
    cellupd.apply_pulses(c, n, torch.zeros_like(n), cfg.device.update, torch.Generator().manual_seed(1))
    assert float(c.u.mean()) == pytest.approx(0.516, abs=5e-4)
    assert float(c.u.std()) == pytest.approx(0.01 * 4, rel=0.03)  # sigma * sqrt(16 pulses)


def test_device_to_device_gains_spread_around_one() -> None:
    cfg = _cfg(d2d_sigma=0.3)
    c = _cells(cfg, (200, 200))
    gain = c.c_up * cfg.device.update.pulses_up
    assert float(gain.mean()) == pytest.approx(1.0, abs=0.01)
    assert float(gain.log().std()) == pytest.approx(0.3, rel=0.03)


def test_write_verify_programming_runs_the_devices_loop_to_its_band() -> None:
    cfg = override(load_config("ideal"), {"device": {"program_mode": "write_verify", "wv_tolerance_S": 0.2e-6}})
    c = _cells(cfg, (40, 30))
    target = torch.rand(c.u.shape, generator=torch.Generator().manual_seed(3))
    cellupd.set_state(c, target, cfg.device, torch.Generator().manual_seed(4))
    span = cfg.device.g_max_S - cfg.device.g_min_S
    err = (c.u - target).abs() * span
    assert float(err.max()) <= 0.2e-6 + 1e-12  # every cell verified inside the band
    assert float(err.mean()) > 0.02e-6  # a residual, not the exact target


def test_stuck_cells_never_move() -> None:
    cfg = override(load_config("ideal"), {"device": {"stuck_low_rate": 0.2, "stuck_high_rate": 0.1}})
    c = _cells(cfg, (100, 100))
    before = c.u.clone()
    cellupd.apply_pulses(c, torch.full_like(c.u, 50.0), torch.zeros_like(c.u), cfg.device.update, None)
    assert torch.equal(c.u[c.stuck], before[c.stuck])
    assert float(c.stuck.float().mean()) == pytest.approx(0.3, abs=0.02)


# ----- pulse coincidence -----
@pytest.mark.parametrize("signed_x", [True, False])
def test_stochastic_coincidences_expect_the_outer_product(signed_x: bool) -> None:
    gen = torch.Generator().manual_seed(0)
    x, d = torch.randn(8, 6, generator=gen), torch.randn(8, 5, generator=gen)
    x = x if signed_x else x.abs()
    want = 3.0 * d.T @ x  # pulses per unit x * d = 3
    trials = 400
    net = sum(((c := coincidences(x, d, 3.0, 31, "stochastic", gen)).n_up - c.n_down) for _ in range(trials)) / trials
    # each cell's count is a sum of Bernoulli coincidences: variance <= mean count
    total = 3.0 * d.abs().T @ x.abs()
    tol = 5 * (total / trials).sqrt() + 1e-6
    assert bool(((net - want).abs() <= tol).all())


@pytest.mark.parametrize("x_offset", [0.5, 0.0])  # signed inputs; non-negative inputs (ReLU outputs, images)
def test_deterministic_and_ideal_coincidences(x_offset: float) -> None:
    gen = torch.Generator().manual_seed(1)
    x, d = torch.rand(16, 7, generator=gen) - x_offset, torch.rand(16, 4, generator=gen) - 0.5
    ideal = coincidences(x, d, 100.0, 31, "ideal")
    assert torch.allclose(ideal.n_up - ideal.n_down, 100.0 * d.T @ x, atol=1e-4)
    assert bool((ideal.n_up >= 0).all() and (ideal.n_down >= 0).all())
    det = [coincidences(x, d, 100.0, 255, "deterministic", gen) for _ in range(200)]
    mean = sum(c.n_up - c.n_down for c in det) / len(det)
    # trains quantised to 255 levels: error within a few per cent of the largest count
    assert float((mean - 100.0 * d.T @ x).abs().max()) < 0.03 * float((100.0 * d.abs().T @ x.abs()).max())
    assert all(torch.allclose(c.n_up * 255, (c.n_up * 255).round(), atol=1e-3) for c in det)  # n_x n_d / slots
    assert all(bool((c.n_up >= 0).all() and (c.n_down >= 0).all()) for c in det)
    assert all(c.cell_pulses == pytest.approx(float(c.n_up.sum() + c.n_down.sum()), rel=1e-5) for c in det)


def test_dither_rounding_is_unbiased() -> None:
    gen = torch.Generator().manual_seed(2)
    t = torch.rand(300, generator=gen) * 3
    mean = sum(dither_round(t, gen) for _ in range(2000)) / 2000
    assert float((mean - t).abs().max()) < 0.05  # binomial std of a mean of 2000 roundings <= 0.011
    k = dither_round(t, gen) - t.floor()
    assert bool(((k == 0) | (k == 1)).all())  # the integer below or above


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 300), st.integers(1, 40), st.integers(1, 40), st.sampled_from([1, 31, 127, 200]), st.booleans())
# m = 1 included: torch 2.13's CPU int8 kernel gives a wrong one-row result, which must not be used
def test_count_product_is_exact(n: int, m: int, k: int, bound: int, signed: bool) -> None:
    """The pulse counts' product (int8 operands and int32 sums where they fit) equals the exact one."""
    gen = torch.Generator().manual_seed(n * 7 + m)
    a = torch.randint(-bound if signed else 0, bound + 1, (n, m), generator=gen).float()
    b = torch.randint(0, bound + 1, (n, k), generator=gen).float()
    want = a.double().T @ b.double()
    got = count_product(a, b, bound)
    assert got.dtype == torch.float32 and torch.equal(got.double(), want)
    assert torch.equal(count_product(a.to(torch.int8) if bound <= 127 else a, b, bound).double(), want)


def test_deterministic_counts_equal_with_and_without_the_int8_product() -> None:
    gen = torch.Generator().manual_seed(3)
    x, d = torch.rand(64, 30, generator=gen) - 0.5, torch.rand(64, 9, generator=gen) - 0.5
    runs = []
    for int8 in (True, False):  # the int8 product, then the float fallback
        outer._INT8[x.device.type] = int8
        try:
            runs.append(coincidences(x, d, 50.0, 31, "deterministic", torch.Generator().manual_seed(4)))
        finally:
            outer._INT8.pop(x.device.type)
    assert torch.equal(runs[0].n_up, runs[1].n_up) and torch.equal(runs[0].n_down, runs[1].n_down)


def test_the_int8_product_is_kept_only_where_it_is_faster(monkeypatch: pytest.MonkeyPatch) -> None:
    # AVX2-only CPUs run torch's int8 kernel ~30x slower than float32: the probe must turn it off
    for faster in (False, True):
        monkeypatch.setattr(outer, "_int8_faster", lambda device, gen, f=faster: f)
        outer._INT8.pop("cpu", None)
        try:
            assert outer._int8_ok(torch.device("cpu")) is faster
        finally:
            outer._INT8.pop("cpu", None)


def test_coincidences_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="pulse mode"):
        coincidences(torch.ones(1, 2), torch.ones(1, 2), 1.0, 31, "magic")
    with pytest.raises(ValueError, match="slots"):
        coincidences(torch.ones(1, 2), torch.ones(1, 2), 1.0, 0)


# ----- the layer and the optimizer -----
def _ideal_layer(cfg=None, w_max: float = 1.0):  # type: ignore[no-untyped-def]
    cfg = cfg or _cfg(model="linear", pulses_up=1e6, pulses_down=1e6)
    torch.manual_seed(0)
    lin = nn.Linear(6, 4)
    return OnChipLinear(lin, cfg, range_factor=w_max / float(lin.weight.detach().abs().max()))


def test_ideal_device_update_is_the_outer_product_times_lr() -> None:
    layer = _ideal_layer()
    assert torch.allclose(layer.weight, layer.device_weight())
    x = torch.randn(32, 6)
    layer(x).square().sum().backward()
    xq, dq = layer.recorded
    before = layer.weight.detach().clone()
    layer.pulse_update(0.01, 31, "ideal")
    assert torch.allclose(layer.weight.detach() - before, -0.01 * dq.T @ xq, atol=1e-5)
    assert torch.allclose(layer.weight.detach(), layer.device_weight())


def test_ideal_preset_forward_and_transposed_reads_are_the_float_products() -> None:
    layer = _ideal_layer()
    x = torch.randn(16, 6, requires_grad=True)
    y = layer(x)
    ref = x @ layer.weight.T + layer.bias
    assert torch.allclose(y, ref, rtol=1e-4, atol=1e-5)
    g = torch.randn(16, 4)
    y.backward(g)
    assert torch.allclose(x.grad, g @ layer.weight, rtol=1e-4, atol=1e-5)  # the transposed read


@pytest.mark.parametrize("cells", [1, 2])
def test_read_energy_is_the_sum_of_v_squared_g_t(cells: int) -> None:
    layer = _ideal_layer()
    layer.set_cells_per_weight(cells)
    with torch.no_grad():
        layer.cells[-1].u[:, :3] = 0.1  # low conductances where the drive is strong
        layer.cells[-1].u[:, 3:] = 0.9
        layer.sync()
    x = torch.rand(16, 6) * torch.tensor([1.0, 1.0, 1.0, 0.05, 0.05, 0.05])
    layer(x)
    arr = layer.config.array
    v = x / x.abs().max() * arr.v_read_V  # 8-bit DAC: the drive is x quantised, close to x
    dev = layer.config.device
    g_ref = (dev.g_min_S + dev.g_max_S) / 2  # each output's reference column is read too
    want = sum(float((v.square() @ g.T).sum()) for g in layer.conductances_S()) * arr.t_pulse_s
    want += float(v.square().sum()) * layer.out_features * g_ref * arr.t_pulse_s
    assert layer.events.cell_energy_J == pytest.approx(want, rel=0.02, abs=0)  # joules are ~1e-13: no abs slack


def test_reads_quantise_and_add_noise() -> None:
    cfg = override(_cfg(), {"periphery": {"dac": {"bits": 3}, "adc": {"bits": 4}}})
    layer = _ideal_layer(cfg)
    with torch.no_grad():
        y = layer(torch.randn(64, 6)) - layer.bias
    levels = torch.unique(y.round(decimals=5)).numel()
    assert levels <= 2 * 15 + 1
    noisy = override(load_config("ideal"), {"device": {"read_noise_rel": 0.05}})
    layer = _ideal_layer(noisy)
    x = torch.randn(64, 6)
    with torch.no_grad():
        assert not torch.allclose(layer(x), layer(x))


def test_analog_sgd_trains_and_keeps_weight_equal_to_the_cells() -> None:
    torch.manual_seed(0)
    x = torch.randn(256, 10)
    y = (x[:, :3].sum(1) > 0).long()
    model = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 2))
    chip = to_onchip(model, "marinella2018")
    opt = AnalogSGD(chip.parameters(), OnChipConfig(lr=0.2, pulse_mode="stochastic"))
    bias0 = chip[0].bias.detach().clone()
    losses = []
    for _ in range(60):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(chip(x), y)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.6 * losses[0]
    assert not torch.equal(chip[0].bias, bias0)  # digital SGD on the biases
    for m in onchip_layers(chip):
        assert torch.allclose(m.weight, m.device_weight())
    ev = onchip_events(chip)
    assert ev["macs"] == 60 * 256 * (10 * 16 + 16 * 2)
    assert ev["transposed_macs"] == 60 * 256 * 16 * 2  # the first layer's input needs no gradient
    assert ev["update_cell_pulses"] > 0 and ev["update_row_pulses"] > 0 and ev["half_selected"] > 0


@pytest.mark.parametrize("mode", ["deterministic", "stochastic"])
def test_update_energy_weighs_pulses_by_each_cells_conductance(mode: str) -> None:
    layer = _ideal_layer()  # linear device, 1e6 pulses across the window: the state barely moves
    x = torch.rand(32, 6)
    for u_cells in (0.3, None):
        with torch.no_grad():
            if u_cells is not None:
                layer.cells[0].u.fill_(u_cells)
            else:  # conductance high on the rows that the inputs drive hard
                layer.cells[0].u.copy_(torch.tensor([0.9, 0.9, 0.9, 0.1, 0.1, 0.1]).expand(4, 6))
            layer.sync()
        layer.events = type(layer.events)()
        layer(x * torch.tensor([1.0, 1.0, 1.0, 0.1, 0.1, 0.1])).square().sum().backward()
        layer.pulse_update(1e-5, 31, mode)
        e, dev, upd = layer.events, layer.config.device, layer.config.device.update
        g = dev.g_min_S + (dev.g_max_S - dev.g_min_S) * (0.3 if u_cells is not None else 0.5)
        at_one_g = (
            (e.update_cell_pulses * upd.v_write_V**2 + e.half_selected * (upd.v_write_V / 2) ** 2) * g * upd.t_write_s
        )
        assert e.update_cell_pulses > 0
        if u_cells is not None:  # one conductance everywhere: the counts times it
            assert e.update_cell_J == pytest.approx(at_one_g, rel=1e-4, abs=0)
        else:  # pulses land where the conductance is high: more than at the mean conductance
            assert e.update_cell_J > 1.3 * at_one_g


def test_any_torch_optimizer_works_by_rewriting_the_cells() -> None:
    layer = _ideal_layer()
    opt = torch.optim.Adam([layer.weight], lr=0.01)
    layer(torch.randn(8, 6)).sum().backward()
    opt.step()
    stepped = layer.weight.detach().clone()
    layer(torch.randn(2, 6))  # the next read writes the new weights into the cells
    assert torch.allclose(layer.device_weight(), stepped, atol=1e-6)


def test_mixed_precision_keeps_the_remainder_digitally() -> None:
    cfg = _cfg(model="linear", pulses_up=100.0, pulses_down=100.0)
    layer = _ideal_layer(cfg)
    opt = AnalogSGD([layer.weight], OnChipConfig(scheme="mixed", lr=0.002))
    before = layer.weight.detach().clone()
    layer(torch.randn(32, 6)).square().sum().backward()
    wanted = -0.002 * layer.weight.grad.clone()
    layer.events = type(layer.events)()
    opt.step()
    applied = layer.weight.detach() - before
    assert torch.allclose(applied + layer.accumulator, wanted, atol=1e-5)
    dw = 2 * layer.w_max / 100
    assert bool((layer.accumulator.abs() < dw + 1e-6).all())
    assert torch.allclose(applied / dw, (applied / dw).round(), atol=1e-3)  # whole pulses
    n = (applied / dw).round()  # programmed row by row: per input row the largest SET and RESET counts
    row_slots = n.clamp_min(0).amax(0) + (-n).clamp_min(0).amax(0)
    assert layer.events.program_slots == pytest.approx(float(row_slots.sum()))
    assert layer.events.update_cell_pulses == pytest.approx(float(n.abs().sum()))
    assert layer.events.update_samples == 0  # no coincidence trains


def test_periodic_carry_moves_the_less_significant_cell_and_keeps_the_weight() -> None:
    cfg = _cfg(model="linear", pulses_up=1000.0, pulses_down=1000.0)
    layer = _ideal_layer(cfg)
    opt = AnalogSGD([layer.weight, layer.bias], OnChipConfig(scheme="carry", lr=0.05, carry_every=1000))
    assert len(layer.cells) == 2
    for _ in range(20):
        opt.zero_grad()
        layer(torch.randn(32, 6)).square().sum().backward()
        opt.step()
    msd0 = layer.cells[0].u.clone()
    w = layer.weight.detach().clone()
    assert float((layer.cells[1].u - 0.5).abs().max()) > 0.01  # updates went to the less significant cell
    assert torch.equal(msd0, layer.cells[0].u)
    carry(layer, "pulses")
    one_msd_pulse = layer.significance(0) / 1000
    assert torch.allclose(layer.weight.detach(), w, atol=one_msd_pulse)
    assert float((layer.cells[1].u - 0.5).abs().max()) < 0.5 / layer.base / 1000 * layer.base + 1e-6


def test_a_deep_copy_trains_its_own_cells() -> None:
    import copy

    chip = to_onchip(nn.Sequential(nn.Linear(4, 3)), "hfo2")
    twin = copy.deepcopy(chip)
    opt = AnalogSGD(twin.parameters(), OnChipConfig(scheme="carry"))
    assert len(twin[0].cells) == 2 and len(chip[0].cells) == 1
    twin(torch.randn(5, 4)).sum().backward()
    opt.step()
    assert not torch.equal(chip[0].weight, twin[0].weight)
    assert torch.allclose(chip[0].weight, chip[0].device_weight())


def test_on_chip_config_names_bad_values() -> None:
    with pytest.raises(ConfigError, match="onchip.scheme"):
        OnChipConfig(scheme="adam")
    with pytest.raises(ConfigError, match="onchip.pulse_mode"):
        OnChipConfig(pulse_mode="magic")
    with pytest.raises(ConfigError, match="device.update.pulses_up"):
        UpdateConfig(pulses_up=0.5)
    with pytest.raises(ConfigError, match="device.update.model"):
        load_config({"device": {"update": {"model": "quadratic"}}})
    with pytest.raises(ValueError, match="no nn.Linear"):
        to_onchip(nn.Sequential(nn.ReLU()))


def test_seeded_runs_are_reproducible() -> None:
    def run() -> torch.Tensor:
        torch.manual_seed(0)
        chip = to_onchip(nn.Sequential(nn.Linear(5, 3)), "hfo2")
        opt = AnalogSGD(chip.parameters(), OnChipConfig(pulse_mode="stochastic"))
        x = torch.randn(16, 5)
        for _ in range(5):
            opt.zero_grad()
            chip(x).square().sum().backward()
            opt.step()
        return chip[0].weight.detach().clone()

    assert torch.equal(run(), run())


# ----- cost -----
def test_training_step_cost_is_counted_and_beats_digital() -> None:
    torch.manual_seed(0)
    cfg = load_config("marinella2018")
    chip = to_onchip(nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10)), cfg)
    opt = AnalogSGD(chip.parameters(), OnChipConfig())
    reset_onchip_events(chip)
    opt.zero_grad()
    nn.functional.cross_entropy(chip(torch.rand(64, 784)), torch.randint(0, 10, (64,))).backward()
    opt.step()
    ev = onchip_events(chip)
    cost = training_step_cost([(m.in_features, m.out_features) for m in onchip_layers(chip)], cfg, ev)
    assert cost["macs"] == 2 * 64 * (784 * 256 + 256 * 10) + 64 * 256 * 10
    assert all(v >= 0 and math.isfinite(v) for v in cost["components_J"].values())
    assert cost["analog_J"] == pytest.approx(sum(cost["components_J"].values()), abs=0)
    assert cost["energy_gain_vs_sram"] > 1 and cost["energy_gain_vs_reram"] > cost["energy_gain_vs_sram"]
    assert 0.1 < cost["fJ_per_mac"] < 1000


def test_step_latency_adds_trains_row_programming_and_digital_sums() -> None:
    cfg = load_config("taox")
    upd, cc = cfg.device.update, cfg.cost
    zero = {k: 0.0 for k in onchip_events(to_onchip(nn.Sequential(nn.Linear(2, 2)), cfg))}
    parts = {"update_samples": (64, 64 * 31 * upd.t_write_s), "program_slots": (500, 500 * upd.t_write_s),
             "verify_rows": (7, 7 * 10 * upd.t_write_s),
             "digital_macs": (1e6, 1e6 / (cc.digital_mac_units * cc.clock_Hz))}  # fmt: skip
    for key, (count, chip_latency_s) in parts.items():
        cost = training_step_cost([(2, 2)], cfg, {**zero, key: count})
        assert cost["analog_latency_s"] == pytest.approx(chip_latency_s)  # the modelled chip, not this machine


@pytest.mark.parametrize("name", ["marinella2018", "taox", "hfo2"])
def test_training_presets_load_and_train_one_step(name: str) -> None:
    cfg = load_config(name)
    chip = to_onchip(nn.Sequential(nn.Linear(4, 3)), cfg)
    opt = AnalogSGD(chip.parameters(), OnChipConfig(scheme="carry"))
    chip(torch.randn(8, 4)).sum().backward()
    opt.step()
    assert torch.isfinite(chip[0].weight).all()


def test_carry_by_write_verify_keeps_the_weight_within_the_programming_error() -> None:
    cfg = override(_cfg(model="exponential", pulses_up=40.0, pulses_down=40.0, nl_up=2.0, nl_down=0.6),
                   {"device": {"program_mode": "gaussian", "program_sigma_S": 0.01e-6}})  # fmt: skip
    layer = _ideal_layer(cfg)
    layer.set_cells_per_weight(2, 8.0)
    layer.cells[1].u.uniform_(0.2, 0.8)
    layer.sync()
    w = layer.weight.detach().clone()
    layer.events = type(layer.events)()
    carry(layer, "verify")
    assert layer.events.verify_rows == 2 * 6  # both cells of every row written (all moved)
    assert layer.events.vectors == 2 * 6  # both cell arrays read row by row first
    span = cfg.device.g_max_S - cfg.device.g_min_S
    tol = 5 * 0.01e-6 / span * layer.significance(0) + 5 * 0.01e-6 / span * layer.significance(1)
    assert torch.allclose(layer.weight.detach(), w, atol=tol)
    with pytest.raises(ValueError, match="write"):
        carry(layer, "magic")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_training_step_matches_cpu_without_noise() -> None:
    cfg = _cfg(model="exponential", pulses_up=100.0, pulses_down=80.0, nl_up=1.0, nl_down=0.5)
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))
    x, y = torch.randn(16, 6), torch.randint(0, 3, (16,))
    weights = []
    for dev in ("cpu", "cuda"):
        chip = to_onchip(net, cfg).to(dev)
        opt = AnalogSGD(chip.parameters(), OnChipConfig(pulse_mode="ideal", lr=0.05))
        for _ in range(3):
            opt.zero_grad()
            nn.functional.cross_entropy(chip(x.to(dev)), y.to(dev)).backward()
            opt.step()
        assert chip[0].cells[0].u.device.type == dev
        weights.append(chip[2].weight.detach().cpu())
    assert torch.allclose(weights[0], weights[1], atol=1e-4)
