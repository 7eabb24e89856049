"""The ``reram`` command."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from reram.config import ConfigError, available_presets, preset

app = typer.Typer(
    help="Simulate ReRAM compute-in-memory chips running PyTorch networks: accuracy and events in one run.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True)


def _fail(msg: str) -> None:
    console.print(f"[red]error:[/red] {msg}")
    raise typer.Exit(2)


@contextmanager
def _progress() -> Iterator[Callable[[str, int, int], None]]:
    """A rich progress display; yields ``tick(stage, done, total)``, one bar per stage."""
    columns = (TextColumn("{task.description:<12}"), BarColumn(), TextColumn("{task.completed}/{task.total}"))
    with Progress(*columns, TimeElapsedColumn(), console=console) as bar:
        tasks: dict[str, Any] = {}

        def tick(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield tick


@app.command()
def run(
    config: Path | None = typer.Option(
        None, "--config", help='TOML file: a \\[job] table plus chip keys (base = "neurram").'
    ),
    quick: bool = typer.Option(False, "--quick", help="Short variant: 1 epoch on 12,000 images, 2,000 test images."),
    out: Path = typer.Option(
        Path("results/run"), "--out", help="Output folder (summary.json, CSVs, PNGs, report.html)."
    ),
    device: str | None = typer.Option(None, "--device", help="cpu or cuda (default: the job's, cpu)."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Folder of the dataset's IDX files."),
) -> None:
    """Train a CNN on Fashion-MNIST in float, put it on the chip (neurram preset), and compare
    float vs analog accuracy 1 s and 1 day after programming. A rerun with the same --out
    resumes from the trained float model.
    """
    import dataclasses

    from reram.data import DatasetMissing
    from reram.experiments import load_job, run_job

    logging.basicConfig(level=logging.WARNING)
    try:
        job, cfg = load_job(config, quick)
        changes = {k: v for k, v in (("device", device), ("data_dir", str(data_dir) if data_dir else None)) if v}
        job = dataclasses.replace(job, **changes)  # type: ignore[arg-type]
    except ConfigError as exc:
        _fail(str(exc))
    with _progress() as tick:
        try:
            summary = run_job(job, cfg, out, tick)
        except (ConfigError, DatasetMissing) as exc:
            _fail(str(exc))
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


@app.command()
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
    device: str | None = typer.Option(None, "--device", help="cpu or cuda."),
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
    import dataclasses

    if on_chip:
        _train_on_chip(quick, out, seeds, dataset, epochs, lr, pulse_mode, batch_size)
        return

    from reram.data import DatasetMissing
    from reram.experiments import run_hwa_table
    from reram.experiments.job import load_job_tables
    from reram.train import HWAConfig

    logging.basicConfig(level=logging.WARNING)
    try:
        job, cfg, hwa_data = load_job_tables(config, quick)
        changes = {k: v for k, v in (("dataset", dataset), ("model", model), ("device", device)) if v}
        job = dataclasses.replace(job, **changes)  # type: ignore[arg-type]
        if finetune_epochs is not None:
            hwa_data["finetune_epochs"] = finetune_epochs
        hwa_data.setdefault("finetune_epochs", 1 if quick else 3)
        if noise is not None:
            hwa_data["noise_level"] = noise
        if hwa_data["finetune_epochs"]:
            hwa_data.setdefault("noise_level", 0.02)
        fields = {f.name for f in dataclasses.fields(HWAConfig)}
        for key in hwa_data:
            if key not in fields:
                raise ConfigError(f"unknown key 'hwa.{key}': allowed keys are {', '.join(sorted(fields))}")
        hwa = HWAConfig(**hwa_data)
        n_seeds = seeds if seeds is not None else (2 if quick else 5)
        if n_seeds < 1:
            raise ConfigError(f"--seeds = {n_seeds} is invalid: allowed is an integer >= 1")
    except ConfigError as exc:
        _fail(str(exc))
    with _progress() as tick:
        try:
            summary = run_hwa_table(job, hwa, cfg, out, n_seeds, 1, 3000 if quick else 10000, tick)
        except (ConfigError, DatasetMissing) as exc:
            _fail(str(exc))
    table = Table(title=f"{job.model} on {job.dataset}, preset {cfg.name!r}, {n_seeds} seeds")
    for col in ("condition", "age", "accuracy (%)"):
        table.add_column(col)
    for r in summary["table"]:
        table.add_row(r["condition"], r["age"], f"{r['mean_pct']:.2f} ± {r['std_pct']:.2f}")
    Console().print(table)
    Console().print(f"results in {out}/")


def _train_on_chip(quick: bool, out: Path, seeds: int | None, dataset: str | None, epochs: int | None,
                   lr: float | None, pulse_mode: str | None, batch_size: int | None) -> None:  # fmt: skip
    import dataclasses

    from reram.data import DatasetMissing
    from reram.experiments.onchip_table import OnChipJob, run_onchip_table

    logging.basicConfig(level=logging.WARNING)
    base = OnChipJob.quick() if quick else OnChipJob()
    if batch_size is None and dataset == "digits":
        batch_size = 32  # 256 would leave six steps an epoch
    changes = {k: v for k, v in (("seeds", seeds), ("dataset", dataset), ("epochs", epochs), ("lr", lr),
                                 ("pulse_mode", pulse_mode), ("batch_size", batch_size)) if v is not None}  # fmt: skip
    try:
        job = dataclasses.replace(base, **changes)  # type: ignore[arg-type]
        with _progress() as tick:
            summary = run_onchip_table(job, out / "onchip", tick)
    except (ConfigError, DatasetMissing, ValueError) as exc:
        _fail(str(exc))
    t = Table(title=f"On-chip training: {job.model} on {job.dataset}, {job.seeds} seeds, {job.pulse_mode} pulses")
    for col in ("device", "scheme", "accuracy (%)", "vs float (pts)", "step energy (µJ)", "vs digital SRAM"):
        t.add_column(col, justify="right")
    for r in summary["table"]:
        t.add_row(r["device"], r["scheme"], f"{r['final_mean_pct']:.2f} ± {r['final_std_pct']:.2f}",
                  f"{r['vs_float_pts']:+.2f}", f"{r['step_energy_uJ']:.3g}" if "step_energy_uJ" in r else "-",
                  f"{r['vs_digital_sram_energy']:.0f}x" if "vs_digital_sram_energy" in r else "-")  # fmt: skip
    Console().print(t)
    Console().print(f"results in {out / 'onchip'}/")


def _shape(text: str | None) -> tuple[int, ...] | None:
    if not text:
        return None
    try:
        dims = tuple(int(t) for t in text.split(","))
    except ValueError:
        dims = ()
    if not dims or min(dims) < 1:
        raise ConfigError(
            f"--input-shape = {text!r} is invalid: allowed is positive integers separated by commas, e.g. 3,32,32"
        )
    return dims


@app.command()
def cost(
    model: str = typer.Argument(
        ..., help="A zoo model (fashion_cnn, neurram_mnist_cnn, resnet50, ...) or module:factory."
    ),
    preset_name: str = typer.Option("neurram", "--preset", help="Chip preset (see `reram presets`)."),
    config: Path | None = typer.Option(None, "--config", help="TOML chip config (overrides --preset)."),
    input_shape: str | None = typer.Option(None, "--input-shape", help="One sample's shape, e.g. 3,32,32."),
    as_json: bool = typer.Option(False, "--json", help="Print the whole result as one JSON object."),
    out: Path = typer.Option(Path("results/cost"), "--out", help="Output folder (cost.json, CSVs, PNGs, report)."),
) -> None:
    """Energy, latency and area of MODEL on a chip, from its mapping alone: energy per
    inference, latency, throughput, TOPS, TOPS/W, TOPS/mm², EDP; per-layer and per-component
    breakdowns; digital SRAM and digital-ReRAM baselines on the same network and node; the
    full-array peak. Component values and their sources: reram/cost/nodes/*.toml.
    """
    from reram.config import load_config
    from reram.experiments.cost_job import run_cost
    from reram.mapping import MappingError

    logging.basicConfig(level=logging.WARNING)
    try:
        cfg = load_config(config if config else preset_name)
        summary = run_cost(model, cfg, out, _shape(input_shape))
    except (ConfigError, MappingError, ValueError) as exc:
        _fail(str(exc))
    if as_json:
        print(json.dumps(summary, indent=2, default=float))
        return
    m = summary["metrics"]
    where = f"{summary['cores_used']} cores, {summary['chips']} chip(s)"
    t = Table(title=f"{model} on {cfg.name} ({cfg.chip.node_nm} nm), {where}")
    for col in ("layer", "energy (nJ)", "latency (µs)", "ADC share"):
        t.add_column(col, justify="right")
    for r in summary["layers"]:
        t.add_row(r["layer"], f"{r['energy_J'] * 1e9:.3g}", f"{r['latency_s'] * 1e6:.3g}",
                  f"{r['adc'] / r['energy_J']:.0%}" if r["energy_J"] else "-")  # fmt: skip
    Console().print(t)
    c = Table(title="energy by component")
    c.add_column("component")
    c.add_column("nJ / inference", justify="right")
    for k, v in summary["components_J"].items():
        if v:
            c.add_row(k, f"{v * 1e9:.4g}")
    Console().print(c)
    sram, dig = summary["baselines"]["digital_sram"], summary["baselines"]["digital_reram"]
    p = summary["peak_full_array"]
    Console().print(
        f"energy {m['energy_per_inference_J'] * 1e6:.4g} µJ, latency {m['latency_s'] * 1e6:.4g} µs, "
        f"{m['throughput_inferences_per_s']:.4g} inferences/s, {m['tops']:.3g} TOPS, {m['tops_per_w']:.3g} TOPS/W, "
        f"{m['tops_per_mm2']:.3g} TOPS/mm², EDP {m['edp_J_s']:.3g} J·s, area {m['area_mm2']:.3g} mm²\n"
        f"vs digital SRAM: {sram['energy_ratio']:.3g}× energy, {sram['latency_ratio']:.3g}× latency; "
        f"vs digital ReRAM: {dig['energy_ratio']:.3g}× energy, {dig['latency_ratio']:.3g}× latency\n"
        f"full-array peak: {p['energy_per_mac_J'] * 1e15:.3g} fJ/MAC, {p['tops_per_w']:.3g} TOPS/W; results in {out}/"
    )


@app.command()
def irdrop(
    config: Path | None = typer.Option(None, "--config", help="TOML: \\[job] table plus chip keys (neurram)."),
    quick: bool = typer.Option(False, "--quick", help="Short variant: 64 and 256 arrays, 0/2/5 ohm, 2,000 images."),
    sizes: str | None = typer.Option(None, "--sizes", help="Array sizes, e.g. 64,128,256."),
    resistances: str | None = typer.Option(None, "--resistances", help="Segment ohms, e.g. 0,0.5,1,2,5."),
    finetune_samples: int | None = typer.Option(None, "--finetune-samples", help="Chip-in-the-loop images (0: off)."),
    out: Path = typer.Option(
        Path("results/irdrop"), "--out", help="Output folder (irdrop_sweep.json/csv/png, report)."
    ),
) -> None:
    """Accuracy against wire resistance with exact IR drop: the job's CNN on square arrays of
    each size, voltage (the preset's) and current sensing, segment resistance swept, as trained
    and with the IR drop in the training loop (chip-in-the-loop fine-tuning). Resumes from the
    points already in OUT.
    """
    from reram.data import DatasetMissing
    from reram.experiments.irdrop_sweep import run_irdrop_sweep
    from reram.experiments.job import load_job_tables

    logging.basicConfig(level=logging.WARNING)
    try:
        job, cfg, _ = load_job_tables(config, quick)
        n = [int(x) for x in sizes.split(",")] if sizes else ([64, 256] if quick else [64, 128, 256])
        r = [float(x) for x in resistances.split(",")] if resistances else ([0, 2, 5] if quick else [0, 0.5, 1, 2, 5])
    except ValueError as exc:
        _fail(f"--sizes / --resistances: {exc}: allowed are comma-separated numbers")
    except ConfigError as exc:
        _fail(str(exc))
    ft = finetune_samples if finetune_samples is not None else (2000 if quick else 5000)
    with _progress() as tick:
        try:
            summary = run_irdrop_sweep(
                job, cfg, out, sizes=n, resistances_ohm=r, finetune_samples=ft, finetune_epochs=1, progress=tick
            )
        except (ConfigError, DatasetMissing, ValueError) as exc:
            _fail(str(exc))
    t = Table(title=f"{job.model} on {job.dataset}, preset {cfg.name!r}, float {summary['float_pct']:.2f} %")
    for col in ("sensing", "array", "r wire (ohm)", "as trained (%)", "IR drop in loop (%)", "one-time s/tile"):
        t.add_column(col, justify="right")
    for p in summary["points"]:
        t.add_row(p["sensing"], f"{p['array']}", f"{p['r_wire_ohm']:g}", f"{p['acc_plain_pct']:.2f}",
                  f"{p['acc_in_loop_pct']:.2f}",
                  f"{p['effective_s_per_tile']:.3f}")  # fmt: skip
    Console().print(t)
    Console().print(f"results in {out}/")


@app.command()
def bench(
    suite: str = typer.Argument(..., help="Benchmark suite: neurram."),
    quick: bool = typer.Option(False, "--quick", help="Short variant (under 10 minutes on 2 cores)."),
    as_json: bool = typer.Option(False, "--json", help="Print the whole result as one JSON object."),
    cifar_dir: str | None = typer.Option(None, "--cifar-dir", help="cifar-10-batches-py folder (CIFAR-10 row)."),
    tasks: str = typer.Option("mnist,fashion,cifar10,kws,rbm", "--tasks", help="Comma-separated rows to run."),
    out: Path = typer.Option(Path("results/bench"), "--out", help="Output folder (JSON, CSV, figures, report)."),
) -> None:
    """A benchmark suite. ``neurram``: NeuRRAM's tasks (MNIST CNN, Fashion-MNIST CNN, ResNet-20 on
    CIFAR-10 when --cifar-dir or RERAM_CIFAR10 is given, RBM image recovery on the transposable
    array): float software, 4-bit software, analog on the neurram preset with hardware-aware
    training, and the published chip result. Resumes from what OUT already holds.
    """
    from reram.data import DatasetMissing
    from reram.experiments.bench_neurram import run_neurram_bench

    logging.basicConfig(level=logging.WARNING)
    if suite != "neurram":
        _fail(f"suite = {suite!r} is unknown: allowed is 'neurram'")
    with _progress() as tick:
        try:
            names = tuple(t.strip() for t in tasks.split(",") if t.strip())
            summary = run_neurram_bench(out / suite, quick, cifar_dir, tick, names)
        except (ConfigError, DatasetMissing, ValueError) as exc:
            _fail(str(exc))
    if as_json:
        print(json.dumps(summary, indent=2, default=float))
        return
    t = Table(title=f"NeuRRAM suite{' (quick)' if quick else ''}: neurram preset")
    for col in ("task", "metric", "float software", "4-bit software", "analog", "published chip"):
        t.add_column(col, justify="right")
    for r in summary["rows"]:
        t.add_row(r["task"], r["metric"], f"{r['float_software']:.2f}", f"{r['software_4bit']:.2f}",
                  f"{r['analog']:.2f} ± {r['analog_std']:.2f}", r["published_chip"])  # fmt: skip
    Console().print(t)
    for s in summary["skipped"]:
        Console().print(f"skipped {s['task']}: {s['reason']}")
    Console().print(f"results in {out / suite}/")


@app.command()
def presets(
    as_json: bool = typer.Option(False, "--json", help="Print every preset as one JSON object."),
    show: str | None = typer.Option(None, "--show", help="Print one preset as TOML."),
) -> None:
    """List the named configurations (devices and chips from the literature)."""
    try:
        if show:
            print(preset(show).to_toml())
            return
    except ConfigError as exc:
        _fail(str(exc))
    configs = {name: preset(name) for name in available_presets()}
    if as_json:
        print(json.dumps({n: c.to_dict() for n, c in configs.items()}, indent=2))
        return
    table = Table(title="reram presets")
    for col in ("name", "window (µS)", "levels", "programming", "array", "DAC bits", "ADC bits", "sensing", "cores"):
        table.add_column(col)
    for n, c in configs.items():
        d, a, p = c.device, c.array, c.periphery
        table.add_row(
            n, f"{d.g_min_S * 1e6:g}–{d.g_max_S * 1e6:g}", str(d.levels or "∞"), d.program_mode,
            f"{a.rows}×{a.cols} ({a.differential})", f"{p.dac.bits}{' serial' if p.dac.bit_serial else ''}",
            str(p.adc.bits), p.adc.sensing, str(c.chip.cores),
        )  # fmt: skip
    Console().print(table)


if __name__ == "__main__":  # pragma: no cover
    app()
