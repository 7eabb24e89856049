"""``reram run`` and ``reram train``: the default job, hardware-aware and on-chip training."""

from __future__ import annotations

import dataclasses
from dataclasses import asdict
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from reram.cli.app import app
from reram.cli.common import CONFIG_RULE, clean_errors, config_file, device, fail, out_dir, progress
from reram.config import ConfigError
from reram.experiments.job import age_label
from reram.report.manifest import manifested


@app.command(epilog=CONFIG_RULE)
def run(
    config: Path | None = typer.Option(
        None, "--config", help='TOML file: a \\[job] table plus chip keys on base = "neurram".'
    ),
    quick: bool = typer.Option(False, "--quick", help="Short variant: 1 epoch on 12,000 images, 2,000 test images."),
    out: Path = typer.Option(
        Path("results/run"), "--out", help="Output folder (summary.json, CSVs, PNGs, report.html)."
    ),
    device_name: str | None = typer.Option(None, "--device", help="cpu, cuda or cuda:N (default: the job's, cpu)."),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Folder of the dataset's files (used as given: a missing file stops the run)."
    ),
) -> None:
    """Train a CNN on Fashion-MNIST in float, put it on the chip (neurram preset), and compare
    float vs analog accuracy 1 s and 1 day after programming. A rerun with the same --out
    resumes from the trained float model.
    """
    from reram.config import load_job
    from reram.config.jobs import replace_checked
    from reram.experiments import run_job
    from reram.experiments.job import check_job

    with clean_errors():
        job, cfg, _ = load_job(config_file(config), quick)
        changes = {k: v for k, v in (("device", device(device_name)), ("data_dir", str(data_dir or ""))) if v}
        job = replace_checked(job, **changes)
        check_job(job)
    out = out_dir(out)
    with progress() as tick, clean_errors():
        summary = run_job(job, cfg, out, tick)
    table = Table(title=f"{job.model} on {job.dataset}, preset {cfg.name!r}")
    table.add_column("condition")
    table.add_column("accuracy (%)", justify="right")
    table.add_row("float", f"{summary['float_accuracy_pct']:.2f}")
    for cond, acc in summary["analog_accuracy_pct"].items():
        table.add_row(cond, f"{acc:.2f}")
    Console().print(table)
    m = summary["mapping"]
    Console().print(
        f"{m['cores_used']} cores on {m['chips']} chip(s), utilization {m['utilization']:.1%}; results in {out}/"
    )


@app.command(epilog=CONFIG_RULE)
def train(
    config: Path | None = typer.Option(None, "--config", help="TOML: \\[job] and \\[hwa] tables plus chip keys."),
    quick: bool = typer.Option(False, "--quick", help="Short variant: 1 epoch on 12,000 images, 2 seeds."),
    out: Path = typer.Option(Path("results/train"), "--out", help="Output folder (hwa_table.csv/json/png, report)."),
    seeds: int | None = typer.Option(None, "--seeds", help="Programming seeds per analog row (default 5; 2 quick)."),
    dataset: str | None = typer.Option(None, "--dataset", help="fashion-mnist, mnist, mnist-subset or digits."),
    model: str | None = typer.Option(None, "--model", help="A zoo model, e.g. fashion_cnn, neurram_mnist_cnn."),
    noise: float | None = typer.Option(
        None,
        "--noise",
        help="Noise-injection level x max|W| (default 0.02 when fine-tuning, NeuRRAM's 0.15 otherwise).",
    ),
    finetune_epochs: int | None = typer.Option(
        None,
        "--finetune-epochs",
        help="Hardware-aware fine-tuning epochs from the float model (default 3; 0 = from scratch).",
    ),
    device_name: str | None = typer.Option(None, "--device", help="cpu, cuda or cuda:N."),
    on_chip: bool = typer.Option(
        False,
        "--on-chip",
        help="Train ON the chip instead: an MLP by pulse updates (forward, transposed and outer-product "
        "kernels), per device preset (linear, TaOx, HfO2) and scheme (plain analog SGD, periodic carry, "
        "mixed precision) beside float SGD; accuracy per epoch, mean +- std over seeds, cost of a step.",
    ),
    epochs: int | None = typer.Option(None, "--epochs", help="--on-chip: epochs (default 10; 2 quick)."),
    lr: float | None = typer.Option(None, "--lr", help="--on-chip: learning rate of every run (default 0.1)."),
    batch_size: int | None = typer.Option(
        None, "--batch-size", help="--on-chip: batch size (default 256; 32 for digits' 1,437 training images)."
    ),
    pulse_mode: str | None = typer.Option(
        None, "--pulse-mode", help="--on-chip: deterministic (default), stochastic or ideal pulse trains."
    ),
) -> None:
    """Hardware-aware training and what each method buys on the chip: float and quantised
    software, analog without and with noise-injection training, and after chip-in-the-loop
    progressive fine-tuning, each at 1 s and 1 day after programming, mean +- std over seeds.
    With --on-chip: training on the chip itself (see that option).
    """
    if on_chip:
        _train_on_chip(quick, out, seeds, dataset, epochs, lr, pulse_mode, batch_size, device_name)
        return

    from reram.config import HWAConfig, load_job
    from reram.config.jobs import replace_checked
    from reram.experiments import run_hwa_table
    from reram.experiments.job import check_job

    with clean_errors():
        job, cfg, hwa_data = load_job(config_file(config), quick)
        changes = {k: v for k, v in (("dataset", dataset), ("model", model), ("device", device(device_name))) if v}
        job = replace_checked(job, **changes)
        check_job(job)
        if finetune_epochs is not None:
            hwa_data["finetune_epochs"] = finetune_epochs
        hwa_data.setdefault("finetune_epochs", 1 if quick else 3)
        if noise is not None:
            hwa_data["noise_level"] = noise
        if hwa_data["finetune_epochs"]:
            hwa_data.setdefault("noise_level", 0.02)
        hwa = replace_checked(HWAConfig(), **hwa_data)
        n_seeds = seeds if seeds is not None else (2 if quick else 5)
        if n_seeds < 1:
            raise ConfigError(f"--seeds = {n_seeds} is invalid: allowed is an integer >= 1")
    out = out_dir(out)
    what = {"job": asdict(job), "hwa": asdict(hwa), "config": cfg.to_dict(), "seeds": n_seeds, "quick": quick}
    with progress() as tick, clean_errors(), manifested(out, "reram train", what):
        summary = run_hwa_table(job, hwa, cfg, out, n_seeds, 1, 3000 if quick else 10000, tick)
    table = Table(title=f"{job.model} on {job.dataset}, preset {cfg.name!r}, {n_seeds} seeds")
    for col in ("condition", "age", "accuracy (%)"):
        table.add_column(col)
    for r in summary["table"]:
        table.add_row(r["condition"], r["age"], f"{r['mean_pct']:.2f} ± {r['std_pct']:.2f}")
    Console().print(table)
    Console().print(f"results in {out}/")


def _train_on_chip(quick: bool, out: Path, seeds: int | None, dataset: str | None, epochs: int | None,
                   lr: float | None, pulse_mode: str | None, batch_size: int | None,
                   device_name: str | None) -> None:  # fmt: skip
    from reram.config import OnChipJob
    from reram.config.jobs import replace_checked
    from reram.experiments.onchip_table import run_onchip_table

    if device(device_name) not in (None, "cpu"):
        fail(f"--device = {device_name!r}: train --on-chip runs on the CPU")
    base = OnChipJob.quick() if quick else OnChipJob()
    if batch_size is None and dataset == "digits":
        batch_size = 32  # 256 would leave six steps an epoch
    changes = {k: v for k, v in (("seeds", seeds), ("dataset", dataset), ("epochs", epochs), ("lr", lr),
                                 ("pulse_mode", pulse_mode), ("batch_size", batch_size)) if v is not None}  # fmt: skip
    with clean_errors():
        job = replace_checked(base, **changes)
        from reram.data import DATASETS

        if job.dataset not in DATASETS:
            raise ConfigError(f"--dataset = {job.dataset!r} is unknown: allowed is one of {', '.join(DATASETS)}")
    out = out_dir(out / "onchip")
    with progress() as tick, clean_errors(), manifested(out, "reram train --on-chip", asdict(job)):
        summary = run_onchip_table(job, out, tick)
    t = Table(title=f"On-chip training: {job.model} on {job.dataset}, {job.seeds} seeds, {job.pulse_mode} pulses")
    for col in ("device", "scheme", "accuracy (%)", "vs float (pts)", "step energy (µJ)", "vs digital SRAM"):
        t.add_column(col, justify="right")
    for r in summary["table"]:
        t.add_row(r["device"], r["scheme"], f"{r['final_mean_pct']:.2f} ± {r['final_std_pct']:.2f}",
                  f"{r['vs_float_pts']:+.2f}", f"{r['step_energy_uJ']:.3g}" if "step_energy_uJ" in r else "-",
                  f"{r['vs_digital_sram_energy']:.0f}x" if "vs_digital_sram_energy" in r else "-")  # fmt: skip
    Console().print(t)
    Console().print(f"results in {out}/")


@app.command(epilog=CONFIG_RULE)
def reliability(
    config: Path | None = typer.Option(None, "--config", help="TOML: \\[job] table plus chip keys (neurram)."),
    quick: bool = typer.Option(
        False, "--quick", help="Short variant: 2 seeds, the quick job's training, 6 of the 8 times, fewer faults."
    ),
    seeds: int | None = typer.Option(None, "--seeds", help="Programming seeds (default 3; quick 2)."),
    test_samples: int | None = typer.Option(
        None, "--test-samples", help="Test images per point (default 2,000; quick 500; 0: all)."
    ),
    out: Path = typer.Option(Path("results/reliability"), "--out", help="Output folder (JSON, CSV, PNGs, report)."),
    faults: bool = typer.Option(
        True,
        "--faults/--no-faults",
        help="Also the faults x fault-tolerance table (quick: 5 % stuck-high cells, "
        "rows and columns at 5 %, one seed).",
    ),
    endurance: bool = typer.Option(
        True,
        "--endurance/--no-endurance",
        help="Also the endurance table: an MLP trained on chip (hfo2, 8x8 digits) per budget of update "
        "pulses before the window narrows.",
    ),
    refresh_margin: float = typer.Option(
        1.0,
        "--refresh-margin",
        help="Refresh policy: re-program before the accuracy falls this many "
        "points under its value 1 s after programming.",
    ),
) -> None:
    """Accuracy over time after programming (1 s to 10 years) x temperature (25, 55, 85, 125 °C),
    as programmed and with global and per-column drift compensation and ADC re-calibration;
    the read voltage ±10 %; reads at a temperature apart from ageing; a refresh policy and the
    energy of 10 years of refreshes and corrections; multi-level retention bit error rates;
    accuracy under stuck cells (random 0-10 %, whole rows, columns, a dead core) with spare
    rows, spare columns, pair repair and fault-aware fine-tuning, with their area and energy.
    Mean ± std over programming seeds; heat map, curves, JSON/CSV, HTML report. Resumes from
    the points already in OUT.
    """
    from reram.config import OnChipJob, load_job
    from reram.experiments.faults import full_conditions, quick_conditions
    from reram.experiments.job import check_job
    from reram.experiments.reliability import QUICK_TIMES_S, TIMES_S, run_reliability

    with clean_errors():
        job, cfg, _ = load_job(config_file(config), quick)
        check_job(job)
    per_point = test_samples if test_samples is not None else (500 if quick else 2000)
    if per_point < 0:
        fail(f"--test-samples = {per_point} is invalid: allowed is an integer >= 0 (0: the whole test set)")
    if per_point:  # each of the grid's points evaluates this many test images
        job = dataclasses.replace(job, test_samples=min(job.test_samples or per_point, per_point))
    n = seeds if seeds is not None else (2 if quick else 3)
    if not 1 <= n <= 100:
        fail(f"--seeds = {n} is invalid: allowed is an integer in [1, 100]")
    if not 0 < refresh_margin <= 100:
        fail(f"--refresh-margin = {refresh_margin} is invalid: allowed is a number of accuracy points in (0, 100]")
    out = out_dir(out)
    conditions = (quick_conditions() if quick else full_conditions()) if faults else []
    wear = (
        OnChipJob(dataset="digits", epochs=4 if quick else 12, batch_size=64, lr=0.1, seeds=1 if quick else n)
        if endurance
        else None
    )
    what = {"job": asdict(job), "config": cfg.to_dict(), "seeds": n, "faults": [asdict(c) for c in conditions],
            "refresh_margin": refresh_margin, "endurance_job": asdict(wear) if wear else None}  # fmt: skip
    with progress() as tick, clean_errors(), manifested(out, "reram reliability", what):
        summary = run_reliability(job, cfg, out, seeds=n, progress=tick, faults=conditions,
                                  times_s=QUICK_TIMES_S if quick else TIMES_S,
                                  fault_seeds=1 if quick else n, refresh_margin_pct=refresh_margin,
                                  endurance_job=wear)  # fmt: skip
    t = Table(title=f"{job.model} on {job.dataset}, preset {cfg.name!r}, float {summary['float_pct']:.2f} %")
    for col in ("temperature", *(age_label(a) for a in (1.0, 86400.0, 365 * 86400.0, 3650 * 86400.0))):
        t.add_column(col, justify="right")
    rows = [r for r in summary["table"] if r["study"] == "age"]
    for t_c in sorted({r["temperature_C"] for r in rows}):
        cells = []
        for a in (1.0, 86400.0, 365 * 86400.0, 3650 * 86400.0):
            by = {r["method"]: r for r in rows if r["temperature_C"] == t_c and r["age_s"] == a}
            none, best = by.get("none"), max(by.values(), key=lambda r: r["accuracy_pct"], default=None)
            cells.append(f"{none['accuracy_pct']:.1f} → {best['accuracy_pct']:.1f} ({best['method']})"
                         if none and best else "–")  # fmt: skip
        t.add_row(f"{t_c:g} °C", *cells)
    Console().print(t)
    if summary["faults"]:
        ft = Table(title="faults x fault tolerance: accuracy % (recovered share of the loss; core area ratio)")
        methods = list(dict.fromkeys(r["method"] for r in summary["faults"]))
        for col in ("faults", *methods):
            ft.add_column(col, justify="right")
        conds = list(dict.fromkeys((r["pattern"], r["kind"], r["rate_pct"]) for r in summary["faults"]))
        for cond in conds:
            by = {r["method"]: r for r in summary["faults"] if (r["pattern"], r["kind"], r["rate_pct"]) == cond}
            cells = []
            for m in methods:
                r = by.get(m)
                rec = "" if r is None or r["recovered_pct_of_loss"] is None else f" ({r['recovered_pct_of_loss']:.0f} %"
                cells.append("–" if r is None else f"{r['accuracy_pct']:.1f}{rec}{'; ' if rec else ' ('}"
                             f"{r['area_ratio']:.2f}×)")  # fmt: skip
            ft.add_row(f"{cond[2]:g} % {cond[1]} {cond[0]}", *cells)
        Console().print(ft)
    Console().print(f"as programmed → best correction; results in {out}/")
