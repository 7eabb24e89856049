"""Current-referred read noise (``device.read_noise_model = "physical"``), the sampling kT/C and
the comparator's noise: exact variances, and the dependences on read voltage, pulse width,
conductance and temperature that the constant model lacks.
"""

from __future__ import annotations

import pytest
import torch

import reram
from reram.array import StackOp, row_grouping
from reram.array.noise import K_B, Q_E, add_line_noise_, noise_bandwidth_Hz
from reram.config import override, preset
from reram.nn.onchip import to_onchip
from reram.train.onchip import AnalogSGD, OnChipConfig


def _physical(**device: float) -> reram.Config:
    return override(preset("hfox"), {"device": {"read_noise_model": "physical", "read_noise_rel": 0.01, **device}})


@pytest.mark.parametrize("kelvin", [None, 400.0])
def test_physical_line_noise_has_the_exact_variance(kelvin: float | None) -> None:
    cfg = _physical()
    g = torch.rand(1, 64, 3, dtype=torch.float64) * 30e-6 + 1e-6  # one cell per position
    cells = {"g_sq": g * g, "g_tot": g}
    op = StackOp(g, row_grouping(1, 64), cells_S=lambda: cells, read_K=kelvin)
    v = (torch.rand(1, 64, dtype=torch.float64) * 0.2).expand(40000, 64).contiguous()
    i = add_line_noise_(op.currents(v), op, v.abs(), v * v, cfg, torch.Generator().manual_seed(3))
    df, t = noise_bandwidth_Hz(cfg.array.t_pulse_s), kelvin or cfg.device.t_ref_K
    var = 0.01**2 * (v[:1] ** 2 @ g[0] ** 2) + 2 * Q_E * df * (v[:1] @ g[0]) + 4 * K_B * t * df * g[0].sum(0)
    assert torch.allclose(i.var(0), var[0], rtol=0.04, atol=0)
    assert torch.allclose(i.mean(0), (v[:1] @ g[0])[0], rtol=1e-3, atol=0)


def _error(cfg: reram.Config, v_read: float, t_pulse: float, bits: int = 14) -> float:
    """The read noise's rms in the outputs: half the rms difference of two reads of the same inputs."""
    torch.manual_seed(0)
    lin = torch.nn.Linear(128, 16)
    c = override(cfg, {"array": {"v_read_V": v_read, "t_pulse_s": t_pulse}, "periphery": {"adc": {"bits": bits}},
                       "device": {"program_mode": "exact", "levels": 0}})  # fmt: skip
    m = reram.convert(torch.nn.Sequential(lin), c)
    x = torch.rand(512, 128)
    reram.calibrate(m, x)
    with torch.no_grad():
        return float((m(x) - m(x)).pow(2).mean().sqrt()) / 2**0.5


def test_read_voltage_and_pulse_width_act_where_physics_says() -> None:
    """Thermal and shot noise do not scale with V: a weak, short read is noisier. The constant
    model's noise scales with V: its error does not move.
    """
    phys = _physical(read_noise_rel=0.001)
    assert _error(phys, 0.01, 1e-9) > 3 * _error(phys, 0.2, 10e-9)
    assert _error(phys, 0.2, 1e-9) > 1.3 * _error(phys, 0.2, 100e-9)
    const = override(phys, {"device": {"read_noise_model": "constant"}})
    assert _error(const, 0.01, 1e-9) == pytest.approx(_error(const, 0.2, 10e-9), rel=0.05)


def test_kt_over_c_and_comparator_noise_act_at_the_converter() -> None:
    base = override(_physical(read_noise_rel=0.0), {"periphery": {"adc": {"sensing": "voltage"}}})
    quiet = _error(base, 0.2, 10e-9)
    assert _error(override(base, {"periphery": {"adc": {"sample_cap_F": 1e-16}}}), 0.2, 10e-9) > 1.5 * quiet
    comparator = override(base, {"periphery": {"adc": {"noise_lsb": 2.0}}})
    assert _error(comparator, 0.2, 10e-9, bits=8) > 1.5 * _error(base, 0.2, 10e-9, bits=8)


def test_physical_noise_runs_on_every_kernel() -> None:
    cfg = _physical()
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.Flatten(), torch.nn.Linear(8 * 6 * 6, 4))
    conv = reram.convert(net, cfg)
    with torch.no_grad():
        a, b = conv(torch.rand(4, 3, 8, 8)), conv(torch.rand(4, 3, 8, 8))
    assert torch.isfinite(a).all() and not torch.equal(a, b)
    from reram.nn.transposed import TransposedRead

    lin = reram.convert(torch.nn.Sequential(torch.nn.Linear(16, 8)), cfg)
    with torch.no_grad():
        lin(torch.rand(2, 16))
        assert torch.isfinite(TransposedRead(lin[0])(torch.rand(3, 8))).all()
    chip = to_onchip(torch.nn.Sequential(torch.nn.Linear(16, 8), torch.nn.ReLU(), torch.nn.Linear(8, 4)),
                     override(preset("hfo2"), {"device": {"read_noise_model": "physical"}}))  # fmt: skip
    opt = AnalogSGD(chip.parameters(), OnChipConfig())
    torch.nn.functional.cross_entropy(chip(torch.rand(5, 16)), torch.randint(0, 4, (5,))).backward()
    opt.step()
