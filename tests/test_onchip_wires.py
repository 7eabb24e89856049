"""Wire resistance in on-chip training: reciprocal reads, first order against exact, update drops."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from reram.array.circuit import Wires, effective_matrix
from reram.array.onchip_wires import effective_weights, update_efficiency
from reram.config import ConfigError, load_config, override
from reram.nn.onchip import OnChipLinear


def _cfg(method: str = "exact", r: float = 5.0, rows: int = 16, cols: int = 16, **update: float):  # type: ignore[no-untyped-def]
    return override(load_config("hfo2"), {"array": {"ir_drop": method, "r_wire_ohm": r, "rows": rows, "cols": cols},
                                          "device": {"update": update}})  # fmt: skip


def _cells(cfg, shape=(6, 20), seed=0):  # type: ignore[no-untyped-def]
    dev = cfg.device
    gen = torch.Generator().manual_seed(seed)
    return dev.g_min_S + torch.rand(shape, generator=gen, dtype=torch.float64) * (dev.g_max_S - dev.g_min_S)


def test_transposed_read_realises_the_same_matrix_by_reciprocity() -> None:
    cfg = _cfg(rows=32, cols=32)
    g = _cells(cfg, (5, 12))  # one array: 12 rows, 5 x (cell, reference) columns
    g_ref = (cfg.device.g_max_S + cfg.device.g_min_S) / 2
    layout = torch.stack([g.T, torch.full_like(g.T, g_ref)], 2).reshape(12, 10)
    wires = Wires(r_row=5.0, r_col=5.0)
    forward = effective_matrix(layout, wires)
    # columns driven at their far (sensing) end, rows sensed at their driver end: flip and transpose
    transposed = effective_matrix(layout.T.flip(0, 1).contiguous(), wires).flip(0, 1).T
    assert torch.allclose(forward, transposed, rtol=1e-9, atol=1e-18)
    w = effective_weights([g], [1.0], cfg)
    span = cfg.device.g_max_S - cfg.device.g_min_S
    assert torch.allclose(w, ((forward[:, 0::2] - forward[:, 1::2]) / span).T, atol=1e-9)


def test_first_order_reads_agree_with_exact_to_second_order() -> None:
    ideal_cfg = _cfg(r=0.0)
    for r in (0.5, 5.0):
        g = _cells(ideal_cfg)
        ideal = effective_weights([g], [1.0], ideal_cfg)
        exact = effective_weights([g], [1.0], _cfg("exact", r))
        approx = effective_weights([g], [1.0], _cfg("approx", r))
        drop = float((exact - ideal).abs().max())
        assert drop > 0
        assert float((approx - exact).abs().max()) < 0.2 * drop  # the residual is second order
    dev = ideal_cfg.device
    want = (g - (dev.g_max_S + dev.g_min_S) / 2) / (dev.g_max_S - dev.g_min_S)  # ideal wires: u - 1/2
    assert torch.allclose(effective_weights([g], [1.0], ideal_cfg), want, atol=1e-9)


def test_update_pulses_lose_voltage_away_from_the_drivers() -> None:
    cfg = _cfg(r=5.0, rows=64, cols=64)
    g = torch.full((8, 32), 40e-6, dtype=torch.float64)  # uniform cells and firing rates
    e = update_efficiency([g], 0, torch.full((32,), 0.5), torch.full((8,), 0.5), cfg)
    assert bool(((e > 0) & (e < 1)).all())
    assert bool((e.diff(dim=0) < 0).all())  # outputs farther along the rows from the row drivers
    assert bool((e.diff(dim=1) > 0).all())  # inputs nearer the column drivers at the last row
    assert torch.equal(update_efficiency([g], 0, torch.full((32,), 0.5), torch.full((8,), 0.5), _cfg(r=0.0)),
                       torch.ones(8, 32, dtype=torch.float64))  # fmt: skip
    busier = update_efficiency([g], 0, torch.full((32,), 1.0), torch.full((8,), 1.0), cfg)
    assert bool((busier < e).all())  # more lines firing: more current, more drop
    weak = update_efficiency([g], 0, torch.full((32,), 1.0), torch.full((8,), 1.0), _cfg(r=200.0, rows=64, cols=64))
    assert float(weak.min()) == 0.0  # below the threshold: no switching at all


def test_wired_layer_reads_and_updates_through_the_wires() -> None:
    torch.manual_seed(0)
    lin = nn.Linear(32, 8)
    plain = OnChipLinear(lin, _cfg(r=0.0, rows=64, cols=64, c2c_sigma=0.0))
    wired = OnChipLinear(lin, _cfg("approx", r=5.0, rows=64, cols=64, c2c_sigma=0.0))
    for layer in (plain, wired):
        with torch.no_grad():
            layer.cells[0].u.fill_(0.5)
            layer.cells[0].u[:, ::2] = 0.9
            layer.sync()
    x = torch.rand(64, 32)
    with torch.no_grad():
        y_plain, y_wired = plain(x) - plain.bias, wired(x) - wired.bias
    assert not torch.allclose(y_plain, y_wired, rtol=1e-3)  # the wires change what is read
    assert float(y_wired.abs().sum()) < float(y_plain.abs().sum())  # and shrink it
    plain(x).sum().backward()
    wired.recorded = plain.recorded  # the same update on both
    moved = []
    for layer in (plain, wired):
        before = layer.cells[0].u.clone()
        layer.pulse_update(1e-3, 31, "ideal")
        moved.append((layer.cells[0].u - before).abs())
    ratio = moved[1] / moved[0].clamp_min(1e-12)
    assert 0.3 < float(ratio.mean()) < 1.0  # update pulses arrive weaker
    assert float(ratio[-1].mean()) < float(ratio[0].mean())  # the last outputs, far along the rows, weakest


def test_threshold_must_lie_between_half_and_full_write_voltage() -> None:
    with pytest.raises(ConfigError, match="device.update.v_threshold_V"):
        _cfg(v_threshold_V=0.2)
    with pytest.raises(ConfigError, match="device.update.v_threshold_V"):
        _cfg(v_threshold_V=1.0)


def _read_energies(method: str, r: float, x: torch.Tensor, gy: torch.Tensor) -> list[tuple[float, float]]:
    """(cells, wires) joules of one forward and one transposed read of the same on-chip layer."""
    torch.manual_seed(0)
    layer = OnChipLinear(nn.Linear(20, 6), _cfg(method, r, rows=16, cols=8, c2c_sigma=0.0))
    out = []
    y = layer(x.requires_grad_(True))
    e = layer.events
    out.append((e.cell_energy_J, e.wire_energy_J))
    y.backward(gy)
    out.append((e.cell_energy_J - out[0][0], e.wire_energy_J - out[0][1]))
    return out


def test_wired_forward_read_energy_is_what_the_solved_arrays_dissipate() -> None:
    """A forward read's counted cell and wire joules equal, array by array, sum G V_cell^2 and the
    drivers' V I less that, from the node voltages of the solved network for the drives applied."""
    from reram.array.circuit import solve_crossbar
    from reram.array.network import wires_of
    from reram.array.onchip_wires import _layout, _tiles
    from reram.periphery.dac import encode_inputs

    torch.manual_seed(0)
    cfg = _cfg("exact", 5.0, rows=16, cols=8, c2c_sigma=0.0)
    layer = OnChipLinear(nn.Linear(20, 6), cfg)
    x = torch.rand(5, 20)
    with torch.no_grad():
        layer(x)
    v = encode_inputs(x, x.abs().max(), cfg.periphery.dac, cfg.array.v_read_V).planes.flatten(0, 1).double()
    g_ref = (cfg.device.g_max_S + cfg.device.g_min_S) / 2
    cells = total = 0.0
    for rows, outs in _tiles(20, 6, 2, cfg):
        g = _layout(layer.conductances_S(), g_ref, rows, outs).double()
        sol = solve_crossbar(g, v[:, rows], wires_of(cfg.array), node_voltages=True)
        assert sol.row_V is not None and sol.col_V is not None
        d = sol.row_V - sol.col_V
        cells += float((g * d * d).sum())
        total += float((v[:, rows] * (g * d).sum(-1)).sum())  # each driver's V times its row's cells' current
    t = cfg.array.t_pulse_s
    assert layer.events.cell_energy_J == pytest.approx(cells * t, rel=1e-6, abs=0)
    assert layer.events.wire_energy_J == pytest.approx((total - cells) * t, rel=1e-6, abs=0)


def test_wired_reads_split_their_energy_between_cells_and_wires_both_ways() -> None:
    """Forward and transposed reads: with vanishing wires the ideal-wire energy and no wire share;
    the wires' share rises with their resistance; first order ("approx") agrees with the solved
    forms to first order."""
    gen = torch.Generator().manual_seed(1)
    x, gy = torch.rand(4, 20, generator=gen), torch.randn(4, 6, generator=gen)
    ideal = _read_energies("exact", 0.0, x, gy)
    tiny = _read_energies("exact", 1e-4, x, gy)
    mid, high = _read_energies("exact", 2.0, x, gy), _read_energies("exact", 20.0, x, gy)
    approx = _read_energies("approx", 2.0, x, gy)
    for k in (0, 1):  # forward, transposed
        assert ideal[k][1] == 0 and tiny[k][0] == pytest.approx(ideal[k][0], rel=1e-5, abs=0)
        assert 0 < tiny[k][1] < 1e-5 * tiny[k][0] and tiny[k][1] < mid[k][1] < high[k][1]
        assert high[k][0] < mid[k][0] < tiny[k][0]
        assert approx[k][0] == pytest.approx(mid[k][0], rel=2e-3, abs=0)
        assert approx[k][1] == pytest.approx(mid[k][1], rel=0.1, abs=0)
