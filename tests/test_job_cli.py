import json

import pytest
import torch
from typer.testing import CliRunner

import reram
from reram.cli import app
from reram.experiments import JobConfig, run_job

runner = CliRunner()


def test_presets_command_lists_and_shows():
    r = runner.invoke(app, ["presets", "--json"])
    assert r.exit_code == 0 and set(json.loads(r.stdout)) >= {"ideal", "neurram", "hfox"}
    r = runner.invoke(app, ["presets", "--show", "neurram"])
    assert r.exit_code == 0 and "g_max_S" in r.stdout
    r = runner.invoke(app, ["presets", "--show", "nope"])
    assert r.exit_code == 2 and "allowed" in r.output


def test_run_rejects_bad_job_keys(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[job]\nepochz = 3\n")
    r = runner.invoke(app, ["run", "--config", str(cfg), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "job.epochz" in r.output


def test_small_job_writes_every_result_and_resumes(tmp_path):
    job = JobConfig(dataset="mnist-subset", epochs=1, train_samples=600, test_samples=200, calibration_samples=200)
    summary = run_job(job, reram.preset("neurram"), tmp_path)
    for f in ("summary.json", "accuracy.csv", "layer_error.csv", "events.csv", "accuracy.png",
              "conductance_hist.png", "layer_error.png", "report.html"):  # fmt: skip
        assert (tmp_path / f).stat().st_size > 0, f
    assert set(summary["analog_accuracy_pct"]) == {"analog 1 s", "analog 1 day"}
    assert summary["events"]["0"]["adc_conversions"] > 0
    again = run_job(job, reram.preset("neurram"), tmp_path)  # resumes from the float checkpoint
    assert again["float_accuracy_pct"] == summary["float_accuracy_pct"]
    assert again["analog_accuracy_pct"] == summary["analog_accuracy_pct"]  # seeded: reproducible


@pytest.mark.slow
def test_quick_default_job_end_to_end(tmp_path):
    r = runner.invoke(app, ["run", "--quick", "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["float_accuracy_pct"] > 70 and s["analog_accuracy_pct"]["analog 1 s"] > 60


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu_under_ideal():
    from reram.zoo import lenet5

    m = lenet5().eval()
    x = torch.rand(8, 1, 28, 28)
    with torch.no_grad():
        y_cpu = reram.convert(m, "ideal")(x)
        y_gpu = reram.convert(m.cuda(), "ideal")(x.cuda()).cpu()
    assert torch.allclose(y_cpu, y_gpu, rtol=1e-3, atol=1e-4)


def test_a_one_seed_hwa_table_writes_its_files(tmp_path):
    from reram.experiments import run_hwa_table
    from reram.train import HWAConfig

    job = JobConfig(dataset="mnist-subset", epochs=1, train_samples=200, test_samples=100, calibration_samples=50)
    s = run_hwa_table(job, HWAConfig(noise_level=0.1), reram.preset("neurram"), tmp_path, seeds=1, finetune_samples=100)
    assert {r["condition"] for r in s["table"]} >= {"float software", "analog, no HWA", "analog, chip-in-the-loop"}
    assert (tmp_path / "hwa_table.json").stat().st_size > 0


@pytest.mark.slow
def test_hwa_table_job_writes_every_row(tmp_path):
    from reram.experiments import run_hwa_table
    from reram.train import HWAConfig

    job = JobConfig(dataset="mnist-subset", epochs=1, train_samples=600, test_samples=200, calibration_samples=200)
    s = run_hwa_table(job, HWAConfig(noise_level=0.1), reram.preset("neurram"), tmp_path, seeds=2, finetune_samples=300)
    conds = [(r["condition"], r["age"]) for r in s["table"]]
    assert ("float software", "software") in conds and ("quantised software", "software") in conds
    for c in ("analog, no HWA", "analog, noise injection", "analog, chip-in-the-loop"):
        assert (c, "1 s") in conds and (c, "1 day") in conds
    assert all(r["seeds"] == 2 for r in s["table"] if r["condition"].startswith("analog"))
    for f in ("hwa_table.csv", "hwa_table.json", "hwa_table.png", "hwa_report.html"):
        assert (tmp_path / f).stat().st_size > 0


def test_irdrop_command_explains_and_names_bad_input(tmp_path):
    r = runner.invoke(app, ["irdrop", "--help"])
    assert r.exit_code == 0 and "wire resistance" in r.output
    r = runner.invoke(app, ["irdrop", "--sizes", "64,big", "--out", str(tmp_path)])
    assert r.exit_code == 2 and "--sizes" in r.output


def test_train_on_chip_on_digits_writes_table_curves_and_resumes(tmp_path):
    # digits: batch 32 by default
    args = ["train", "--on-chip", "--dataset", "digits", "--epochs", "2", "--seeds", "1", "--lr", "0.1",
            "--out", str(tmp_path)]  # fmt: skip
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    out = tmp_path / "onchip"
    for name in ("onchip_table.json", "onchip_table.csv", "onchip_curves.png", "onchip_report.html"):
        assert (out / name).exists(), name
    summary = json.loads((out / "onchip_table.json").read_text())
    rows = {(row["device"], row["scheme"]): row for row in summary["table"]}
    assert {("float SGD", "-"), ("linear", "sgd"), ("HfO2", "carry"), ("TaOx", "mixed")} <= set(rows)
    assert rows[("float SGD", "-")]["final_mean_pct"] > 60  # 8x8 digits learn in two epochs
    assert rows[("linear", "sgd")]["step_energy_uJ"] > 0
    assert all(len(c) == 2 for c in summary["curves"].values())
    assert summary["job"]["batch_size"] == 32
    stamp = {p.name: p.stat().st_mtime_ns for p in (out / "runs").iterdir()}
    assert runner.invoke(app, args).exit_code == 0  # resumes: no run is trained again
    assert stamp == {p.name: p.stat().st_mtime_ns for p in (out / "runs").iterdir()}
    r = runner.invoke(app, ["train", "--on-chip", "--pulse-mode", "magic", "--out", str(tmp_path)])
    assert r.exit_code != 0 and "onchip.pulse_mode" in r.output
