"""Integrated bit planes read in one product: the same signal, noise distribution and events as
reading the planes one by one and integrating them on the neuron.
"""

from __future__ import annotations

import pytest
import torch

from reram import core
from reram.array import StackOp, row_grouping
from reram.array.noise import add_line_noise_
from reram.config import override, preset
from reram.core import PeripheryState
from reram.periphery.dac import encode_inputs
from reram.periphery.neuron import integrate


def _op(rows: int = 48, cols: int = 6, tiles: int = 2, seed: int = 0) -> StackOp:
    g = torch.Generator().manual_seed(seed)
    gp, gn = torch.rand(tiles, rows, cols, generator=g) * 4e-5, torch.rand(tiles, rows, cols, generator=g) * 4e-5
    cells = {"g_sq": gp * gp + gn * gn, "g_tot": gp + gn}
    g_row = (gp + gn).sum(-1, keepdim=True)
    return StackOp(gp - gn, row_grouping(tiles, rows), g_row, None, cells_S=lambda: cells)


def _planes(bits: int, n: int, features: int, split: int = 0):
    cfg = preset("neurram")
    dac = override(cfg, {"periphery": {"dac": {"bits": bits, "split_bits": split}}}).periphery.dac
    x = torch.rand(n, features, generator=torch.Generator().manual_seed(1)) * 2 - 1
    return encode_inputs(x, 1.0, dac, cfg.array.v_read_V)


def _per_plane(planes, op, cfg, gen):
    """The reference: every plane read, noise drawn per plane, integrated on the neuron."""
    v = planes.planes.flatten(0, 1)
    i = op.currents(v)
    add_line_noise_(i, op, v.abs(), v * v, cfg, gen)
    return integrate(i, planes)


@pytest.mark.parametrize(("bits", "split"), [(4, 0), (8, 5)])
def test_one_product_gives_the_integrated_signal(bits: int, split: int) -> None:
    cfg = override(preset("neurram"), {"device": {"read_noise_rel": 0.0, "read_noise_model": "constant"}})
    planes, op = _planes(bits, 16, 96, split), _op()
    fused, var, w_f, samples = core._integrated_currents(planes, op, cfg)
    assert var is None
    ref, w_r = _per_plane(planes, op, cfg, None)
    assert w_f == w_r
    assert samples == [sum(planes.repeats[p] for p in s) for s in planes.slices]
    assert torch.allclose(fused, ref, rtol=1e-5, atol=1e-6 * float(ref.abs().max()))


@pytest.mark.parametrize("model", ["physical", "constant"])
def test_one_product_draws_the_integrated_noise_distribution(model: str) -> None:
    """Per output, the variance of the integrated noise matches plane-by-plane reads (seeded, 4 %)."""
    cfg = override(preset("neurram"), {"device": {"read_noise_rel": 0.05, "read_noise_model": model}})
    planes, op = _planes(8, 1, 96, 5), _op()
    reps = 4000
    planes_many = type(planes)(planes.planes.expand(-1, reps, -1).contiguous(), planes.weights, planes.repeats,
                               planes.slices)  # fmt: skip
    quiet = override(cfg, {"device": {"read_noise_rel": 0.0, "read_noise_model": "constant"}})
    mean, _, _, _ = core._integrated_currents(planes_many, op, quiet)
    signal, var, _, _ = core._integrated_currents(planes_many, op, cfg)
    assert torch.equal(signal, mean)
    fused = signal + torch.randn(signal.shape, generator=torch.Generator().manual_seed(2)) * var.sqrt()
    ref, _ = _per_plane(planes_many, op, cfg, torch.Generator().manual_seed(3))
    n_slices = len(planes.slices)
    var_f = (fused - mean).reshape(n_slices, reps, -1).var(1)
    var_r = (ref - mean).reshape(n_slices, reps, -1).var(1)
    assert torch.allclose(var_f, var_r, rtol=0.12, atol=0)  # per output, 4000 draws: std of a variance ~2 %
    assert abs(float(var_f.mean() / var_r.mean()) - 1) < 0.04


def test_voltage_mode_energy_of_integrated_planes() -> None:
    """The planes' own line voltages, summed for the energy: exact for matrix products (the
    inputs' Gram matrix, or the products themselves); for convolutions exact up to
    ``ENERGY_SAMPLE`` output positions, beyond estimated from a subset of the images."""
    op = _op(rows=16, cols=64)
    gsum = op.line_conductance_S().unsqueeze(0)
    for n in (4, 512):  # the products, then the Gram matrix (rows < n cols / (n + cols))
        planes = _planes(4, n, 32)
        v = planes.planes.flatten(0, 1)
        exact = ((op.currents(v) / gsum) ** 2).sum(0)
        got = core._line_V_squared(torch.empty(1, 1, 1), planes, op, gsum, True, 0)
        assert torch.allclose(got, exact, rtol=1e-4, atol=0)
    from reram.nn.convert import convert

    torch.manual_seed(0)
    conv = convert(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1)), "neurram")[0]
    conv.program()
    cop = conv._op(torch.zeros(1, 3, 16, 16))[0]
    gs = conv.gsum_S.view(1, *conv.gsum_S.shape, 1, 1)
    for n, rtol in ((16, 1e-5), (64, 0.1)):  # 256 positions per image: all 16, then 16 of 64 images
        x = torch.rand(n, 3, 16, 16, generator=torch.Generator().manual_seed(n)) * 2 - 1
        planes = encode_inputs(x, 1.0, conv.config.periphery.dac, conv.config.array.v_read_V)
        per_plane = cop.currents(planes.planes.flatten(0, 1)) / gs
        exact = (per_plane**2).sum(0).flatten(2).sum(-1)
        got = core._line_V_squared(per_plane[:1], planes, cop, gs, True, 2)
        assert torch.allclose(got, exact, rtol=rtol, atol=0)
        assert abs(float(got.sum() / exact.sum()) - 1) < (1e-5 if n == 16 else 0.03)


def test_a_layer_reads_integrated_planes_once_per_slice(monkeypatch: pytest.MonkeyPatch) -> None:
    """The neurram preset's layer makes one signal product per slice, not one per plane."""
    calls: list[int] = []
    real = StackOp.currents

    def counting(self: StackOp, v: torch.Tensor) -> torch.Tensor:
        calls.append(v.shape[0])
        return real(self, v)

    cfg = override(preset("neurram"), {"periphery": {"adc": {"sensing": "current"}}})
    x = torch.rand(8, 64)
    planes = encode_inputs(x, 1.0, cfg.periphery.dac, cfg.array.v_read_V)
    op = _op(rows=64, tiles=1)
    state = PeripheryState(torch.ones(()), torch.ones(1, 6), torch.ones(1, 6), torch.ones(1, 6))
    monkeypatch.setattr(StackOp, "currents", counting)
    core.analog_matmul(x, op, state, cfg, None, 0)
    assert calls == [len(planes.slices) * 8]


def test_line_and_sampling_noise_drawn_once_have_their_summed_variance() -> None:
    """The read's line noise and the converter's kT/C are one Gaussian draw of the summed
    variance: the outputs' variance over repeated reads matches the two models (seeded, 4 %)."""
    from reram.array.noise import line_variance
    from reram.periphery.adc import sampling_variance

    cfg = override(preset("neurram"), {
        "device": {"read_noise_rel": 0.0},
        "periphery": {"dac": {"bit_serial": False, "accumulate": "digital", "split_bits": 0},
                      "adc": {"sensing": "current", "bits": 20, "sample_cap_F": 5e-11}},
    })  # fmt: skip
    op, reps = _op(rows=64, tiles=1), 4000
    x = (torch.rand(1, 64, generator=torch.Generator().manual_seed(4)) * 2 - 1).expand(reps, -1).contiguous()
    planes = encode_inputs(x[:1], 1.0, cfg.periphery.dac, cfg.array.v_read_V)
    v = planes.planes.flatten(0, 1)
    mean = op.currents(v)[:, 0]
    fs = 4 * mean.abs().amax().expand(1, 6).contiguous()
    state = PeripheryState(torch.ones(()), fs, torch.ones(1, 6) / cfg.array.v_read_V, torch.ones(1, 6))
    y = core.analog_matmul(x, op, state, cfg, torch.Generator().manual_seed(5), 0)
    expect = line_variance(op, v.abs(), v * v, cfg)[:, 0] + sampling_variance(
        [1], 1, cfg.periphery.adc, cfg.device.t_ref_K, cfg.array.t_pulse_s, mean
    )  # fmt: skip
    got = (y * cfg.array.v_read_V).var(0)
    ktc = sampling_variance([1], 1, cfg.periphery.adc, cfg.device.t_ref_K, cfg.array.t_pulse_s, mean)
    assert float(ktc.max()) > 0.2 * float(expect.mean())  # both terms matter here
    assert torch.allclose(got, expect[0], rtol=0.1, atol=0)


@pytest.mark.parametrize("model", ["constant", "physical"])
def test_magnitude_planes_read_with_the_line_variance_of_their_drive(model: str) -> None:
    """Multi-level inputs in sign phases (magnitude planes, V >= 0): the read's noise has the
    variance of :func:`line_variance` for |V| = V and V^2 of its drive (which it shares with the
    energy count), in each of the two phases of signed inputs (seeded, 10 %)."""
    from reram.array.noise import line_variance

    cfg = override(preset("neurram"), {
        "device": {"read_noise_model": model, "read_noise_rel": 0.05},
        "periphery": {"dac": {"bit_serial": False, "accumulate": "digital", "split_bits": 0, "sign": "phases"},
                      "adc": {"sensing": "current", "bits": 20, "sample_cap_F": 0.0}},
    })  # fmt: skip
    op, reps = _op(rows=64, tiles=1), 4000
    x = (torch.rand(1, 64, generator=torch.Generator().manual_seed(4)) * 2 - 1).expand(reps, -1).contiguous()
    v = encode_inputs(x[:1], 1.0, cfg.periphery.dac, cfg.array.v_read_V).planes.flatten(0, 1)
    assert v.shape[0] == 2 and float(v.min()) >= 0  # two phases of magnitudes
    fs = 4 * op.currents(v)[:, 0].abs().amax().expand(1, 6).contiguous()
    state = PeripheryState(torch.ones(()), fs, torch.ones(1, 6) / cfg.array.v_read_V, torch.ones(1, 6))
    y = core.analog_matmul(x, op, state, cfg, torch.Generator().manual_seed(5), 0, lambda *a: None)
    var = line_variance(op, v, v * v, cfg)
    assert var is not None
    expect = var[0, 0] + var[1, 0]  # the two phases' conversions, subtracted digitally
    assert torch.allclose((y * cfg.array.v_read_V).var(0), expect, rtol=0.1, atol=0)


@pytest.mark.parametrize("exact", [True, False])
@pytest.mark.parametrize("kind", ["linear", "conv1d", "conv2d"])
def test_stacked_variance_product_equals_its_two_terms(kind: str, exact: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """One product of the stacked G and G^2 terms equals the two products (padding rows zero):
    to float32 rounding with ``RERAM_VARIANCE_DTYPE=float32``, within 1 % where the variance
    runs in bfloat16 (its documented error, ~2^-8)."""
    from reram.array.mvm import variance_dtype
    from reram.nn.convert import convert

    if exact:
        monkeypatch.setenv("RERAM_VARIANCE_DTYPE", "float32")
    variance_dtype.cache_clear()
    rtol = 1e-5 if exact or variance_dtype(torch.device("cpu")) == torch.float32 or kind != "linear" else 1e-2

    torch.manual_seed(0)
    mod, x = {
        "linear": (torch.nn.Linear(301, 20), torch.randn(5, 301)),
        "conv1d": (torch.nn.Conv1d(71, 6, 3), torch.randn(5, 71, 12)),
        "conv2d": (torch.nn.Conv2d(31, 6, 3), torch.randn(5, 31, 9, 9)),
    }[kind]
    layer = convert(torch.nn.Sequential(mod), "neurram")[0]
    layer.program()
    op = layer._op(x)[0]
    flat = x
    assert layer.grid.n_row > 1 and layer.grid.n_row * layer.grid.rows_pad > layer.grid.in_features
    want = op.cell_sums(flat.abs(), "g_tot") * 3.0 + op.cell_sums(flat * flat, "g_sq") * 5.0
    for got in (op.variance_sums(flat, None, 3.0, 5.0), op.variance_sums(flat.abs(), flat * flat, 3.0, 5.0)):
        assert torch.allclose(got, want, rtol=rtol, atol=0)
    # a (tiles, cols) bias (the lines' thermal variance) is added to every output inside the product
    bias = torch.rand(layer.grid.n_row, 6 if kind != "linear" else 20) * float(want.abs().mean())
    view = bias.view(1, *bias.shape, *([1] * (want.dim() - 3)))
    assert torch.allclose(op.variance_sums(flat, None, 3.0, 5.0, bias=bias), want + view, rtol=rtol, atol=0)
    variance_dtype.cache_clear()
