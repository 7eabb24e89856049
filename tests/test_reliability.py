"""Reliability: retention error rates of multi-level cells, drift compensation, the study."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import reram
from reram.config import DeviceConfig, preset
from reram.device import bit_error_rate, level_error_rate, level_errors

NEURRAM = preset("neurram").device


@pytest.mark.parametrize("bits", [2, 3])
def test_retention_errors_grow_with_time_and_temperature(bits: int) -> None:
    times = [1.0, 60.0, 3600.0, 86400.0, 3.15e7, 3.15e8]
    for kelvin in (298.15, 358.15, 398.15):
        ber = [bit_error_rate(NEURRAM, bits, t, kelvin) for t in times]
        assert all(a <= b for a, b in zip(ber, ber[1:], strict=False)), (kelvin, ber)
    at_day = [level_error_rate(NEURRAM, bits, 86400.0, k) for k in (298.15, 358.15, 398.15)]
    assert at_day[0] < at_day[1] < at_day[2]
    assert bit_error_rate(NEURRAM, 3, 86400.0) > bit_error_rate(NEURRAM, 2, 86400.0)  # closer levels


def test_no_relaxation_no_retention_errors() -> None:
    still = DeviceConfig(g_min_S=1e-6, g_max_S=40e-6)
    assert float(level_errors(still, 3, 3.15e8, 398.15).abs().max()) == 0.0
    with pytest.raises(ValueError, match="bits = 0"):
        level_errors(still, 0, 1.0)


def test_retention_errors_match_a_sampled_relaxation() -> None:
    """The closed form against cells relaxed by ``reram.device.relax`` and read by thresholds."""
    from reram.device import equivalent_time_s, relax

    bits, t = 2, 86400.0
    n = 2**bits
    step = (NEURRAM.g_max_S - NEURRAM.g_min_S) / (n - 1)
    g0 = (NEURRAM.g_min_S + step * torch.arange(n, dtype=torch.float64)).repeat(50000)
    # the total spread at t: the programming band and the walk (relax's walk starts from the band)
    sigma0 = reram.device.relaxation_sigma_S(g0, 1e-30, NEURRAM)  # ~0 at t -> 0
    assert float(sigma0.max()) < 1e-7
    t_eq = equivalent_time_s(t, NEURRAM.t_ref_K, NEURRAM)
    band = torch.sqrt(torch.tensor(NEURRAM.wv_tolerance_S**2 / 3 + NEURRAM.read_sigma_S**2, dtype=torch.float64))
    gen = torch.Generator().manual_seed(0)
    g_prog = g0 + band * torch.randn(g0.shape, generator=gen, dtype=torch.float64)
    g = relax(g_prog, g0, torch.zeros_like(g0, dtype=torch.bool), 0.0, t_eq, NEURRAM, gen)
    read = ((g - NEURRAM.g_min_S) / step).round().clamp(0, n - 1)
    sampled = float((read != torch.arange(n).repeat(50000)).double().mean())
    assert sampled == pytest.approx(level_error_rate(NEURRAM, bits, t), rel=0.1)


def _drifting(spread: bool) -> reram.Config:
    dev: dict[str, object] = {"relax_alpha": 0.05, "relax_center_S": 5e-6, "relax_tau_s": 10.0}
    if not spread:
        dev["relax_poly_uS"] = [[0.0] * 5] * 3
    return reram.override(preset("neurram"), {"device": dev})


@pytest.mark.parametrize("per_column", [False, True])
def test_drift_compensation_restores_a_drifted_layer(per_column: bool) -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    x = torch.rand(256, 64)
    m = reram.convert(net, _drifting(spread=False))
    m.program()
    reram.calibrate(m, x)
    reram.store_drift_reference(m, inputs=x[:64] if per_column else None)
    ref0, ref2 = m[0].drift_reference, m[2].drift_reference
    assert ref0 is not None and ref2 is not None and ref2[0].shape == (64, 32)
    assert torch.equal(ref0[0], x[:64]) == per_column  # data-like known inputs, or seeded ones
    with torch.no_grad():
        fresh = m[0](x)
        m.age(3.15e7)  # the mean drifts half way to 5 uS: outputs shrink
        aged = m[0](x)
        reram.compensate_drift(m, per_column=per_column)
        fixed = m[0](x)

    def err(y: torch.Tensor) -> float:
        return float((y - fresh).pow(2).mean().sqrt() / fresh.pow(2).mean().sqrt())

    assert err(aged) > 0.2 and err(fixed) < 0.25 * err(aged)
    assert bool(m[0].compensated) and float(m[0].out_scale.min()) > 1.2


def test_compensation_does_not_move_a_fresh_chip() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    m = reram.convert(net, _drifting(spread=True))
    m.program()
    reram.calibrate(m, torch.rand(256, 64))
    reram.store_drift_reference(m)
    m.age(1.0)
    reram.compensate_drift(m)
    assert torch.allclose(m[0].out_scale, torch.ones_like(m[0].out_scale), atol=0.03)
    with pytest.raises(ValueError, match="store_drift_reference"):
        reram.compensate_drift(reram.convert(net, "neurram"))


def test_a_small_study_writes_its_files_resumes_and_ages_as_physics_says(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    from reram.config import JobConfig, OnChipJob
    from reram.experiments.faults import METHODS, FaultCondition
    from reram.experiments.reliability import run_reliability

    job = JobConfig(dataset="mnist-subset", epochs=2, train_samples=1500, test_samples=400, calibration_samples=300)
    times = (1.0, 86400.0, 3650 * 86400.0)
    faults = [FaultCondition(0.0), FaultCondition(0.05, "high")]
    wear = OnChipJob(dataset="digits", epochs=1, batch_size=64, lr=0.1, seeds=1)
    kw = {"seeds": 2, "times_s": times, "temperatures_c": (25.0, 125.0), "faults": faults, "fault_seeds": 1,
          "endurance_job": wear}  # fmt: skip
    summary = run_reliability(job, preset("neurram"), tmp_path, **kw)
    for f in ("reliability.json", "reliability.csv", "retention_ber.csv", "reliability_heatmap.png",
              "reliability_curves.png", "reliability_report.html", "faults.json", "faults.csv",
              "maintenance.csv", "endurance.csv", "endurance.json"):  # fmt: skip
        assert (tmp_path / f).stat().st_size > 0, f
    age = {(r["temperature_C"], r["age_s"], r["method"]): r["accuracy_pct"] for r in summary["table"]
           if r["study"] == "age"}  # fmt: skip
    # on average (over seeds), non-increasing in time and in temperature, as programmed
    assert age[(25.0, 1.0, "none")] >= age[(25.0, 3650 * 86400.0, "none")]
    assert age[(25.0, 3650 * 86400.0, "none")] >= age[(125.0, 3650 * 86400.0, "none")]
    # compensation does not lower the accuracy of a fresh chip beyond two of the 400 test images
    # (read with the same noise draws; the 1 s relaxation is random, not a scale to correct)
    for m in ("global", "column"):
        assert age[(25.0, 1.0, m)] >= age[(25.0, 1.0, "none")] - 2 * 100 / 400
    kinds = {r["study"] for r in summary["table"]}
    assert kinds == {"age", "read voltage", "read temperature", "read disturb"}  # neurram: an (assumed) disturb
    disturbed = sorted((r["inferences"], r["accuracy_pct"]) for r in summary["read_disturb"])
    assert [n for n, _ in disturbed] == [0.0, 1e3, 1e5, 1e7, 1e9]
    assert {r["endurance_cycles"] for r in summary["endurance"]} == {0.0, 10.0, 1.0, 0.1}
    faulty = {r["method"]: r for r in summary["faults"] if r["rate_pct"] == 5.0}
    assert set(faulty) == set(METHODS)
    assert (
        faulty["spare rows"]["area_ratio"] > 1.0 == faulty["none"]["area_ratio"] == faulty["pair repair"]["area_ratio"]
    )
    assert faulty["fine-tuning"]["program_energy_J"] > faulty["none"]["program_energy_J"]  # programmed twice
    assert faulty["none"]["flagged_cells"] > 0.5 * faulty["none"]["stuck_cells"] > 0  # the verify read finds them
    plan = {(r["temperature_C"], r["method"]): r for r in summary["maintenance"]}
    assert set(plan) == {(t, m) for t in (25.0, 125.0) for m in ("none", "global", "column", "recalibrated")}
    for r in plan.values():
        assert r["refresh_energy_J"] == pytest.approx(r["refreshes_10y"] * summary["upkeep_costs"]["program_energy_J"],
                                                      rel=1e-12, abs=0)  # fmt: skip
    before = json.loads((tmp_path / "reliability.json").read_text())["points"]
    again = run_reliability(job, preset("neurram"), tmp_path, **kw)  # resumes: nothing recomputed
    assert [p["accuracy_pct"] for p in again["points"]] == [p["accuracy_pct"] for p in before]


@pytest.mark.parametrize(
    ("args", "msg"), [(["--seeds", "0"], "--seeds = 0"), (["--test-samples", "-1"], "--test-samples")]
)
def test_cli_reliability_bad_input_is_named(args: list[str], msg: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from reram.cli import app

    r = CliRunner().invoke(app, ["reliability", *args, "--out", str(tmp_path)])
    assert r.exit_code == 2 and msg in r.output


def _faulty(spares: int = 0, pair: bool = False, rate: float = 0.003) -> reram.Config:
    return reram.override(preset("ideal"), {
        "device": {"stuck_low_rate": rate, "stuck_high_rate": rate, "g_min_S": 1e-6, "g_max_S": 40e-6},
        "array": {"rows": 64, "cols": 32, "spare_rows": spares, "pair_repair": pair}})  # fmt: skip


def _outputs(cfg: reram.Config) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    lin = nn.Sequential(nn.Linear(48, 24))
    x = torch.rand(64, 48)
    m = reram.convert(lin, cfg)
    m.program()
    with torch.no_grad():
        return m(x), lin(x)


def test_spare_rows_restore_the_ideal_output_when_they_suffice() -> None:
    clean, ref = _outputs(_faulty(rate=0.0))
    broken, _ = _outputs(_faulty())
    fixed, _ = _outputs(_faulty(spares=32))  # more spares than faulty rows (and faulty spares)
    few, _ = _outputs(_faulty(spares=1))
    assert torch.allclose(clean, ref, atol=1e-4)
    assert not torch.allclose(broken, clean, atol=1e-3)
    assert torch.equal(fixed, clean)
    err = [float((y - clean).abs().mean()) for y in (broken, few, fixed)]
    assert err[0] > err[1] > err[2] == 0.0


def test_pair_repair_keeps_the_differences_of_pairs_with_one_stuck_cell() -> None:
    clean, _ = _outputs(_faulty(rate=0.0))
    broken, _ = _outputs(_faulty())
    paired, _ = _outputs(_faulty(pair=True))
    # a stuck cell on the side its weight needs larger (stuck low on the positive side, high on
    # the negative) cannot be matched by its partner within the window: about half are repaired
    assert float((paired - clean).abs().mean()) < 0.7 * float((broken - clean).abs().mean())


@pytest.mark.parametrize(("pattern", "differential"), [("cells", "rows"), ("rows", "rows"), ("columns", "columns")])
def test_pair_repair_restores_every_pair_whose_partner_can_reach_it(pattern: str, differential: str) -> None:
    cfg = reram.override(
        _faulty(rate=0.02, pair=True), {"device": {"stuck_pattern": pattern}, "array": {"differential": differential}}
    )
    m = reram.convert(nn.Sequential(nn.Linear(48, 24)), cfg)
    layer = m[0]
    layer.program()
    dev = cfg.device
    target = layer.target_conductances()
    g, stuck = layer.g_S, layer.frozen & (target > 0)
    d_want = target[0] - target[1]
    one = stuck[0] ^ stuck[1]
    partner = torch.where(stuck[0], g[0] - d_want, g[1] + d_want)  # the partner's conductance it needs
    reach = one & (partner >= dev.g_min_S) & (partner <= dev.g_max_S)
    assert int(one.sum()) > 10 and int(reach.sum()) > 3
    assert torch.allclose((g[0] - g[1])[reach], d_want[reach], atol=1e-10, rtol=0)  # float32 of 40 uS
    out = one & ~reach  # out of reach: the partner sits at the window's edge
    edge = torch.where(stuck[0], g[1], g[0])[out]
    assert bool(((edge == dev.g_min_S) | (edge == dev.g_max_S)).all())


def test_a_broken_column_takes_both_cells_of_its_pairs_when_they_share_it() -> None:
    cfg = reram.override(_faulty(rate=0.1), {"device": {"stuck_pattern": "columns"}, "array": {"differential": "rows"}})
    m = reram.convert(nn.Sequential(nn.Linear(48, 24)), cfg)
    m[0].program()
    stuck = m[0].frozen & (m[0].target_conductances() > 0)
    assert bool(stuck.any()) and torch.equal(stuck[0], stuck[1])  # G+ and G- on one bit line
    cols = stuck[0].any(1, keepdim=True)  # (row tiles = arrays, 1, columns)
    assert torch.equal(stuck[0], cols.expand_as(stuck[0]))  # a broken column fails whole, in its own array


def test_spare_columns_repair_broken_columns_and_spare_rows_cannot() -> None:
    def cfg(**array: int) -> reram.Config:
        return reram.override(_faulty(rate=0.05), {"device": {"stuck_pattern": "columns"}, "array": array})

    clean, _ = _outputs(_faulty(rate=0.0))
    broken, _ = _outputs(cfg())
    assert not torch.allclose(broken, clean, atol=1e-3)
    fixed, _ = _outputs(cfg(spare_cols=16))  # more spare columns than broken ones (and broken spares)
    assert torch.equal(fixed, clean)
    m = reram.convert(nn.Sequential(nn.Linear(48, 24)), cfg(spare_rows=16))
    m[0].program()
    assert m[0].remapped_rows == 0  # every spare row crosses the broken columns: none verifies
    # a clustered fault leaves the other cells as they were: the weight cells' map does not
    # depend on how many spares the arrays have
    a = reram.convert(nn.Sequential(nn.Linear(48, 24)), cfg())[0].stuck_map()
    b = reram.convert(nn.Sequential(nn.Linear(48, 24)), cfg(spare_cols=3, spare_rows=2))[0].stuck_map()
    assert a is not None and b is not None and torch.equal(a.main()[1], b.main()[1])


def test_a_dead_array_is_stuck_whole_and_its_spares_with_it() -> None:
    cfg = reram.override(
        _faulty(rate=0.5), {"device": {"stuck_pattern": "arrays"}, "array": {"spare_rows": 4, "spare_cols": 4}}
    )
    m = reram.convert(nn.Sequential(nn.Linear(48, 24)), cfg)
    smap = m[0].stuck_map()
    assert smap is not None
    cells = (smap.low | smap.high).permute(0, 1, 3, 2, 4).flatten(3)  # (2, row tiles, column tiles, cells)
    dead, alive = cells.all(-1), ~cells.any(-1)
    assert bool((dead | alive).all()) and bool(dead.any())
