"""Sweeps on Dask: the spec is checked before anything runs; points run on a LocalCluster of two
worker processes; the Parquet table has one row per point, resumes, records failures, and
survives a worker killed mid-sweep.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

import reram
from reram.sweep import load_spec, parse_spec

pytest.importorskip("distributed")
pytest.importorskip("pyarrow")

SPEC = {"job": "cost", "base": "neurram", "seeds": 2, "options": {"model": "lenet5"},
        "axes": {"periphery.adc.bits": [4, 6], "array.rows": {"start": 128, "stop": 256, "step": 128}}}  # fmt: skip


def test_a_spec_expands_its_axes_and_seeds_with_one_key_per_config() -> None:
    spec = parse_spec(SPEC)
    points = spec.points()
    assert len(points) == 8 and len({p.key for p in points}) == 8
    assert {p.values["array.rows"] for p in points} == {128, 256}
    assert {p.config.seed for p in points} == {0, 1}
    assert parse_spec(SPEC).points()[3].key == points[3].key  # stable across parses
    zipped = parse_spec({**SPEC, "mode": "zip", "seeds": 1, "axes": {"periphery.adc.bits": [4, 6],
                                                                       "array.rows": [128, 256]}})  # fmt: skip
    assert [p.values for p in zipped.points()] == [{"periphery.adc.bits": 4, "array.rows": 128},
                                                   {"periphery.adc.bits": 6, "array.rows": 256}]  # fmt: skip
    rand = parse_spec({**SPEC, "axes": {"array.r_wire_ohm": {"low": 0.0, "high": 5.0, "samples": 3, "seed": 4}}})
    assert len({p.values["array.r_wire_ohm"] for p in rand.points()}) == 3


@pytest.mark.parametrize(
    ("axes", "msg"),
    [
        ({"periphery.adc.bitz": [4]}, "unknown key 'bitz' in 'periphery.adc'"),
        ({"arry.rows": [4]}, "unknown key 'arry'"),
        ({"periphery.adc": [4]}, "is a table"),
        ({"periphery.adc.bits": [4, 99]}, "periphery.adc.bits"),  # out of range: the point names the field
        ({"periphery.adc.bits": []}, "empty list"),
    ],
)
def test_a_bad_axis_is_named_before_anything_runs(axes: dict[str, object], msg: str) -> None:
    with pytest.raises(reram.ConfigError, match=msg):
        parse_spec({**SPEC, "axes": axes})


def test_an_unknown_spec_key_or_job_is_named(tmp_path: Path) -> None:
    with pytest.raises(reram.ConfigError, match="unknown key"):
        parse_spec({**SPEC, "sedes": 3})
    from reram.sweep import resolve_job

    with pytest.raises(reram.ConfigError, match="job = 'nope'"):
        resolve_job("nope")


JOB_MODULE = '''
import os
from pathlib import Path

from reram.sweep.jobs import cost_job


def flaky(config, options, cache):
    """Fails for one ADC resolution; kills its worker process the first time it meets another."""
    bits = config.periphery.adc.bits
    if bits == 5:
        raise RuntimeError("this point fails on purpose")
    marker = Path(options["marker"])
    if bits == 6 and not marker.exists():
        marker.write_text("killed once")
        os._exit(1)  # as kill -9: the worker dies with its task in flight
    return cost_job(config, {"model": "lenet5"}, cache)
'''


def test_a_sweep_on_two_workers_records_failures_survives_a_killed_worker_and_resumes(tmp_path: Path,
                                                                                      monkeypatch) -> None:  # type: ignore[no-untyped-def]  # fmt: skip
    from reram.sweep import read_results, run_sweep

    (tmp_path / "sweepjobs.py").write_text(textwrap.dedent(JOB_MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))  # the worker processes import the job too
    spec_file = tmp_path / "spec.toml"
    spec_file.write_text(
        textwrap.dedent(f"""
        job = "sweepjobs:flaky"
        base = "neurram"
        seeds = 2
        [options]
        marker = "{tmp_path / "killed"}"
        [axes]
        "periphery.adc.bits" = [4, 5, 6]
    """)
    )
    spec = load_spec(spec_file)
    out = tmp_path / "out"
    stats = run_sweep(spec, out, workers=2, batch=2)
    assert (tmp_path / "killed").exists()  # a worker died mid-sweep
    df = read_results(out)
    assert len(df) == 6 and df["key"].is_unique  # every point once: the killed one ran again elsewhere
    assert stats == {"points": 6, "skipped": 0, "ran": 6, "failed": 2}
    failed = df[df["status"] == "failed"]
    assert set(failed["axis:periphery.adc.bits"]) == {5} and failed["error"].str.contains("on purpose").all()
    ok = df[df["status"] == "ok"]
    assert (ok["energy_per_inference_J"] > 0).all() and set(ok["version"]) == {reram.__version__}
    again = run_sweep(spec, out, workers=2)  # nothing left to do: no cluster, no new rows
    assert again == {"points": 6, "skipped": 6, "ran": 0, "failed": 0}
    assert len(read_results(out)) == 6
    # a lost batch (as if the client died before writing it) is run again, and only it
    parts = sorted((out / "results").glob("part-*.parquet"))
    parts[0].unlink()
    redo = run_sweep(spec, out, workers=2)
    assert redo["ran"] == 2 and len(read_results(out)) == 6 and read_results(out)["key"].is_unique


def test_cli_sweep_names_a_bad_spec(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from reram.cli import app

    spec = tmp_path / "bad.toml"
    spec.write_text('job = "cost"\n[axes]\n"array.rowz" = [64]\n')
    r = CliRunner().invoke(app, ["sweep", str(spec), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "array.rowz" in r.output


def test_the_pareto_front_holds_exactly_the_non_dominated_points() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from reram.sweep.report import pareto_mask

    @settings(max_examples=50, deadline=None)
    @given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5), st.integers(0, 5)), min_size=1, max_size=12))
    def check(rows: list[tuple[int, int, int]]) -> None:
        v = np.array(rows, dtype=float)
        senses = ["max", "min", "min"]
        mask = pareto_mask(v, senses)
        assert mask.any()  # someone is always on the front
        for i in range(len(v)):
            beaten = any(
                v[j, 0] >= v[i, 0] and v[j, 1] <= v[i, 1] and v[j, 2] <= v[i, 2] and
                (v[j, 0] > v[i, 0] or v[j, 1] < v[i, 1] or v[j, 2] < v[i, 2]) for j in range(len(v)))  # fmt: skip
            assert mask[i] == (not beaten)

    check()


def test_the_report_of_a_sweep(tmp_path: Path) -> None:
    from reram.sweep import run_sweep
    from reram.sweep.report import write_sweep_report

    run_sweep(parse_spec({**SPEC, "seeds": 1}), tmp_path / "out", workers=1)
    page = write_sweep_report(tmp_path / "out")
    assert page.stat().st_size > 0
    for f in ("sweep_pareto.csv", "sweep_points.csv", "sweep_periphery_adc_bits.png", "sweep_array_rows.png"):
        assert (tmp_path / "out" / "report" / f).exists(), f
    with pytest.raises(ValueError, match="no finished points"):
        write_sweep_report(tmp_path / "empty")


def test_a_slurm_cluster_is_one_single_threaded_worker_per_job() -> None:
    pytest.importorskip("dask_jobqueue")
    from reram.sweep.clusters import slurm_cluster

    cluster = slurm_cluster(3, queue="gpu-short", account="lab", memory="6GB", walltime="00:30:00", submit=False)
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    for want in ("#SBATCH -p gpu-short", "#SBATCH -A lab", "#SBATCH --mem=6G", "#SBATCH -t 00:30:00",
                 "OMP_NUM_THREADS=1", "--nthreads 1"):  # fmt: skip
        assert want in script, (want, script)
    with pytest.raises(ValueError, match="slurm-jobs"):
        slurm_cluster(0, submit=False)


def test_explore_searches_the_axes_resumes_and_is_compared_with_the_grid(tmp_path: Path) -> None:
    pytest.importorskip("optuna")
    from reram.sweep import run_sweep
    from reram.sweep.explore import front_share, run_explore

    spec = parse_spec({**SPEC, "seeds": 1, "axes": {"periphery.adc.bits": [3, 4, 6, 8], "array.rows": [128, 256]}})
    run_sweep(spec, tmp_path / "grid", workers=1)
    study = run_explore(spec, tmp_path / "ex", trials=6, batch=3, workers=1)
    assert len(study.trials) == 6 and study.best_trials
    assert len(run_explore(spec, tmp_path / "ex", trials=8, batch=4, workers=1).trials) == 8  # continued
    objectives = {"energy_per_inference_J": "minimize", "area_mm2": "minimize"}
    share = front_share(tmp_path / "ex", tmp_path / "grid", objectives)
    assert share["grid_front"] >= 1 and 0.0 <= share["share"] <= 1.0
    with pytest.raises(reram.ConfigError, match="directions"):
        run_explore(spec, tmp_path / "bad", trials=1, objectives={"area_mm2": "smaller"})


def test_a_batch_keeps_every_rows_columns_when_a_failed_row_comes_first(tmp_path: Path) -> None:
    from reram.sweep.runner import _write_batch, read_results

    _write_batch(tmp_path, [{"key": "a", "status": "failed", "error": "boom"},
                            {"key": "b", "status": "ok", "error": "", "energy_per_inference_J": 1e-6}])  # fmt: skip
    df = read_results(tmp_path).set_index("key")
    assert df.loc["b", "energy_per_inference_J"] == 1e-6 and df.loc["a", "error"] == "boom"


TINY = {"dataset": "mnist-subset", "model": "mlp", "epochs": 1, "train_samples": 600, "test_samples": 200,
        "calibration_samples": 200, "ages_s": [1.0]}  # fmt: skip


def test_the_built_in_jobs_run_on_the_chip_and_report_accuracy_and_cost(tmp_path: Path) -> None:
    from reram.config import load_config, override
    from reram.sweep.jobs import JOBS, prepare

    config = load_config("neurram")
    prepare("train", TINY, tmp_path)
    assert list(tmp_path.glob("float_model_*.pt"))  # the shared float model, trained once
    train = JOBS["train"](config, {**TINY, "hwa": {"noise_level": 0.1}}, tmp_path)
    assert {"accuracy_no_hwa_pct", "accuracy_hwa_pct", "energy_per_inference_J"} <= set(train)
    assert train["accuracy_pct"] == train["accuracy_hwa_pct"] and 0 < train["accuracy_pct"] <= 100
    assert len(list(tmp_path.glob("hwa-*_model_*.pt"))) == 1
    wired = override(config, {"array": {"ir_drop": "exact", "r_wire_ohm": 20.0}})
    plain, dropped = (JOBS["irdrop"](c, TINY, tmp_path) for c in (config, wired))
    assert dropped["layer_error_mean"] > plain["layer_error_mean"] > 0  # the wires act on the numbers
    rel = JOBS["reliability"](config, {**TINY, "times_s": [1.0, 3e8], "temperature_C": 125,
                                       "methods": ["none", "global"]}, tmp_path)  # fmt: skip
    assert {"accuracy_pct_1_s_none", "accuracy_pct_1_s_global", "accuracy_loss_pts"} <= set(rel)
    assert rel["temperature_C"] == pytest.approx(125.0)


@pytest.mark.parametrize(
    ("options", "msg"),
    [
        ({"temperatur_C": 25}, "unknown key.*temperatur_C"),
        ({"methods": ["sometimes"]}, "options.methods"),
        ({"times_s": [10.0, 1.0]}, "options.times_s"),
        ({"temperature_C": -300}, "options.temperature_C"),
    ],
)
def test_a_bad_job_option_is_named(tmp_path: Path, options: dict[str, object], msg: str) -> None:
    from reram.config import load_config
    from reram.sweep.jobs import JOBS, prepare

    with pytest.raises(reram.ConfigError, match=msg):
        prepare("reliability", {**TINY, **options}, tmp_path)
        JOBS["reliability"](load_config("neurram"), {**TINY, **options}, tmp_path)


def test_an_axis_over_a_job_option_makes_points_with_their_own_options() -> None:
    spec = parse_spec({"job": "train", "base": "neurram", "options": {**TINY, "hwa": {"bias_noise": False}},
                       "axes": {"options.hwa.noise_level": [0.0, 0.1], "periphery.adc.bits": [6]}})  # fmt: skip
    points = spec.points()
    assert len({p.key for p in points}) == 2
    assert [p.job_options(spec.options)["hwa"] for p in points] == [
        {"bias_noise": False, "noise_level": 0.0}, {"bias_noise": False, "noise_level": 0.1}]  # fmt: skip
    assert spec.options["hwa"] == {"bias_noise": False}  # the spec's own options are left as they were
    assert len(spec.option_sets()) == 2
    with pytest.raises(reram.ConfigError, match="name the option"):
        parse_spec({**SPEC, "axes": {"options.": [1]}})


@pytest.mark.parametrize("path", sorted((Path(__file__).parents[1] / "examples" / "sweeps").glob("*.toml")),
                         ids=lambda p: p.name)  # fmt: skip
def test_every_example_spec_parses_and_its_options_are_known(path: Path) -> None:
    from reram.sweep.jobs import check_options

    spec = load_spec(path)
    assert spec.points()
    for opts in spec.option_sets():
        check_options(spec.job, opts)
