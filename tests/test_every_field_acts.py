"""Every configured field acts: perturbing any numeric field of the system config changes what the
simulation computes (inference outputs after programming and ageing, the cost of inference, an
on-chip training step), in at least one of the operating modes that field belongs to.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from typing import Any

import pytest
import torch
from torch import nn

import reram
from reram.config import Config, load_config, override
from reram.cost import cost_of_model
from reram.cost.baselines import compare
from reram.nn.onchip import to_onchip
from reram.train.onchip import AnalogSGD, OnChipConfig

# operating modes: each field must act in at least one
BASES: dict[str, dict[str, Any]] = {
    "neurram": {"base": "neurram", "device": {"stuck_low_rate": 0.02, "stuck_high_rate": 0.02,
                                              "d2d_window_sigma": 0.05, "read_disturb_per_decade": 0.02,
                                              "read_disturb_v_ref_V": 0.25},
                "cost": {"digital_sram_kB": 0.5}},  # the model's 480 weights: at the SRAM's size
    "gaussian": {"base": "hfox", "device": {"program_mode": "gaussian"},
                 "array": {"ir_drop": "approx", "r_wire_ohm": 2.0, "r_access_ohm": 500.0}},
    "exact": {"base": "neurram", "device": {"program_mode": "exact", "d2d_window_sigma": 0.1},
              "array": {"r_access_ohm": 2000.0, "rows": 16, "cols": 16},
              "periphery": {"dac": {"bit_serial": False, "accumulate": "digital", "split_bits": 0},
                            "adc": {"sensing": "current", "percentile": 90.0}}},
    "multichip": {"base": "neurram", "chip": {"cores": 1, "max_chips": 8, "link_pJ_per_bit": 2.0},
                  "array": {"rows": 16, "cols": 16}},  # every tile on a chip of its own: the links act
    "training": {"base": "hfo2", "device": {"update": {"d2d_sigma": 0.1, "endurance_cycles": 0.05,
                                                               "endurance_narrowing": 0.8}},
                 "array": {"ir_drop": "approx", "r_wire_ohm": 0.5}},
}  # fmt: skip


def _numeric_leaves(cls: type, prefix: str = "") -> list[tuple[str, Any]]:
    out = []
    types = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        t, path = types[f.name], f"{prefix}{f.name}"
        if dataclasses.is_dataclass(t):
            out += _numeric_leaves(t, path + ".")  # type: ignore[arg-type]
        elif "range" in f.metadata and "tuple" not in str(t):
            out.append((path, f))
    return out


FIELDS = _numeric_leaves(Config)


def _get(cfg: Config, path: str) -> Any:
    obj: Any = cfg
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def _nest(path: str, value: Any) -> dict[str, Any]:
    out: Any = value
    for part in reversed(path.split(".")):
        out = {part: out}
    return out


def _perturbed(cfg: Config, path: str, f: dataclasses.Field) -> list[Config]:  # type: ignore[type-arg]
    """Up to three valid configs with the field moved up or down (a limit may act one way only)."""
    lo, hi, _ = f.metadata["range"]
    v = _get(cfg, path)
    if v is None:  # an optional field that falls back to another: give it values of its own
        return [override(cfg, _nest(path, float(c))) for c in (lo + 1e-3 * (hi - lo), lo + 1e-2 * (hi - lo))]
    is_int = isinstance(v, int) and not isinstance(v, bool)
    out = []
    ints = [v * 2, max(lo, v // 5), max(lo, v // 25), v - 1, v + 1]
    for cand in ints if is_int else [v * 1.3, v * 0.95, v * 0.2, v + 0.1 * (hi - lo)]:
        cand = int(cand) if is_int else float(cand)
        if cand == v or not lo <= cand <= hi or (isinstance(cand, float) and not math.isfinite(cand)):
            continue
        try:
            out.append(override(cfg, _nest(path, cand)))
        except reram.ConfigError:
            continue
    return out[:3]


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(24, 16), nn.ReLU(), nn.Linear(16, 6))


X = torch.rand(32, 24, generator=torch.Generator().manual_seed(1)) - 0.2


def _signature(cfg: Config, training: bool) -> list[torch.Tensor]:
    out: list[torch.Tensor] = []
    model = _model()
    if not training:
        chip = reram.convert(model, cfg)
        chip.program()
        reram.calibrate(chip, [X])
        chip.age(86400.0, 330.0)
        with torch.no_grad():
            out.append(chip(X))
            chip.read_temperature(340.0)  # read hot: the conductances' temperature coefficients
            out.append(chip(X))
            reram.read_disturb(chip, 1e9)  # a billion inferences' reads
            out.append(chip(X))
        ev = reram.events(chip)
        out.append(torch.tensor([sum(e.cell_energy_J for e in ev.values())], dtype=torch.float64))
        work, rep = cost_of_model(model, cfg, (24,))
        base = compare(work, rep)
        figures = [rep.total_energy_J, rep.total_latency_s, sum(rep.area_m2.values())]
        figures += [b[k] for b in base.values() for k in ("energy_J", "latency_s")]
        out.append(torch.tensor(figures, dtype=torch.float64))
    else:
        chip = to_onchip(model, cfg)
        opt = AnalogSGD(chip.parameters(), OnChipConfig(lr=0.3))
        for _ in range(4):
            nn.functional.mse_loss(chip(X), torch.zeros(32, 6)).backward()
            opt.step()
        with torch.no_grad():
            out.append(chip(X))
        e = reram.nn.onchip.onchip_events(chip)
        out.append(torch.tensor([e["update_cell_J"], e["cell_energy_J"]], dtype=torch.float64))
        from reram.cost.training import training_step_cost

        c = training_step_cost([(24, 16), (16, 6)], cfg, e)
        out.append(torch.tensor([c["analog_J"], c["analog_latency_s"]], dtype=torch.float64))
    return out


_BASE_SIGS: dict[str, list[torch.Tensor]] = {}


def _changes(base: str, path: str, f: dataclasses.Field) -> bool | None:  # type: ignore[type-arg]
    cfg = load_config(BASES[base])
    training = base == "training"
    if base not in _BASE_SIGS:
        _BASE_SIGS[base] = _signature(cfg, training)
    for new in _perturbed(cfg, path, f):
        try:
            sig = _signature(new, training)
        except (reram.MappingError, ValueError):
            return True  # the change decides whether the model maps at all: it acts
        if any(not torch.equal(a, b) for a, b in zip(_BASE_SIGS[base], sig, strict=True)):
            return True
    return False


# fields that act only where another setting turns them on are listed with the mode that does
NOT_APPLICABLE: dict[str, str] = {
    "chip.max_chips": "a limit: it acts when a model needs more chips (test_max_chips_is_a_limit_that_acts)",
}


def test_max_chips_is_a_limit_that_acts() -> None:
    cfg = load_config({"base": "neurram", "chip": {"cores": 1, "max_chips": 1}})
    with pytest.raises(reram.MappingError, match="max_chips"):
        reram.convert(nn.Linear(600, 300), cfg)
    assert reram.placement(reram.convert(nn.Linear(600, 300), override(cfg, {"chip": {"max_chips": 20}}))).n_chips > 1


@pytest.mark.parametrize("path", [p for p, _ in FIELDS])
def test_every_numeric_field_acts_on_the_simulation_or_its_cost(path: str) -> None:
    if path in NOT_APPLICABLE:
        pytest.skip(NOT_APPLICABLE[path])
    f = dict(FIELDS)[path]
    tried = []
    for base in BASES:  # the first mode in which it acts is enough
        tried.append(base)
        if _changes(base, path, f):
            return
    raise AssertionError(f"{path} changed nothing in any mode ({', '.join(tried)})")


def test_device_to_device_windows_act_under_exact_programming() -> None:
    from reram import device as cell

    cfg = load_config({"base": "ideal", "device": {"g_min_S": 1e-6, "d2d_window_sigma": 0.1}}).device
    target = torch.full((20000,), 40e-6)
    res = cell.program(target, cfg, torch.Generator().manual_seed(0))
    short = res.g_S < target  # cells whose own window ends below the target
    assert 0.3 < float(short.float().mean()) < 0.7 and bool(torch.equal(res.failed, short))


def test_access_resistance_acts_with_ideal_wires() -> None:
    torch.manual_seed(0)
    lin = nn.Linear(8, 3, bias=False)
    x = torch.rand(4, 8)
    base = {"base": "ideal", "periphery": {"adc": {"bits": 24}}}
    plain = reram.convert(lin, base)
    series = reram.convert(lin, {**base, "array": {"r_access_ohm": 5000.0}})
    for m in (plain, series):
        m.program()
    with torch.no_grad():
        a, b = plain(x), series(x)
    g = plain.g_S
    want = (g / (1 + g * 5000.0))[0] - (g / (1 + g * 5000.0))[1]  # each branch G / (1 + G r)
    assert torch.allclose(series.gdiff(), want, atol=0) and not torch.allclose(a, b)
    assert float(b.abs().sum()) < float(a.abs().sum())  # the access transistor takes part of the read voltage


def test_ages_below_the_first_fit_time_act() -> None:
    lin = nn.Linear(32, 8)
    spreads = []
    for t in (1e-3, 1.0):
        chip = reram.convert(lin, {"base": "neurram", "device": {"program_mode": "exact"}})
        chip.program(seed=1)
        before = chip.g_S.clone()
        chip.age(t)
        spreads.append(float((chip.g_S - before).std()))
    assert 0 < spreads[0] < spreads[1]


def test_on_chip_reads_see_the_access_transistor_with_ideal_wires() -> None:
    from reram.nn.onchip import OnChipLinear

    torch.manual_seed(0)
    lin = nn.Linear(12, 4, bias=False)
    x = torch.rand(8, 12)
    base = {"base": "ideal", "periphery": {"adc": {"bits": 16}, "dac": {"bits": 16}}}
    with torch.no_grad():
        plain = OnChipLinear(lin, load_config(base))(x)
        series = OnChipLinear(lin, load_config({**base, "array": {"r_access_ohm": 5000.0}}))(x)
    assert not torch.allclose(plain, series) and float(series.abs().sum()) < float(plain.abs().sum())


def test_on_chip_wired_voltage_sensing_is_rejected_by_name() -> None:
    from reram.nn.onchip import OnChipLinear

    cfg = load_config({"base": "ideal", "array": {"ir_drop": "exact", "r_wire_ohm": 1.0},
                       "periphery": {"adc": {"sensing": "voltage"}}})  # fmt: skip
    with pytest.raises(ValueError, match="not modelled for on-chip"):
        OnChipLinear(nn.Linear(4, 2), cfg)
