"""The default job: train a CNN in float, put it on the chip, and compare float vs analog over time.

Steps: load data -> train float (checkpointed, so a rerun resumes) -> convert -> calibrate ->
program -> for each age: relax, evaluate, measure per-layer output error -> write summary.json,
CSVs, PNG plots and report.html into the output folder (every file written atomically).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

import reram
from reram.config import Config, ConfigError, JobConfig
from reram.config import load_job as _load_job
from reram.data import Dataset, load_dataset
from reram.events import EVENT_KINDS
from reram.report import plots, write_csv, write_html_report, write_json
from reram.report.explain import config_rows, layer_label, simulated
from reram.report.manifest import manifested
from reram.report.writers import write_atomic
from reram.train import evaluate, fit, strip_hwa
from reram.zoo import build

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]


def load_job(path: str | Path | None, quick: bool = False) -> tuple[JobConfig, Config]:
    """A run config file's job and system config (see :func:`reram.config.load_job`)."""
    job, config, _ = _load_job(path, quick)
    return job, config


def load_job_tables(path: str | Path | None, quick: bool = False) -> tuple[JobConfig, Config, dict[str, Any]]:
    """A run config file: its job, its system config and its ``[hwa]`` table (see :func:`reram.config.load_job`)."""
    return _load_job(path, quick)


def check_job(job: JobConfig) -> None:
    """Everything a job names, checked before any work starts: the dataset, the model, the data
    folder (used as given) and the device.

    Raises:
        ConfigError: naming the field, the value and what is allowed.

    """
    from reram.data import DATASETS
    from reram.data.datasets import BUILT_IN
    from reram.zoo import MODELS, SEQUENCE_MODELS

    if job.dataset not in DATASETS:
        raise ConfigError(f"job.dataset = {job.dataset!r} is invalid: allowed is one of {', '.join(DATASETS)}")
    if job.model not in MODELS:
        raise ConfigError(f"job.model = {job.model!r} is invalid: allowed is a zoo model ({', '.join(MODELS)})")
    if job.model in SEQUENCE_MODELS:
        image_models = ", ".join(m for m in MODELS if m not in SEQUENCE_MODELS)
        raise ConfigError(f"job.model = {job.model!r} is a language model (token ids in): the job classifies "
                          f"images or speech; allowed are {image_models} (language models: reram bench transformers, "
                          "reram cost)")  # fmt: skip
    if job.data_dir:
        if job.dataset in BUILT_IN:
            raise ConfigError(f"job.data_dir = {job.data_dir!r} is invalid for the built-in dataset {job.dataset!r}: "
                              "allowed is '' (no folder)")  # fmt: skip
        if not Path(job.data_dir).is_dir():
            raise ConfigError(f"job.data_dir = {job.data_dir!r} is invalid: it is not a folder; allowed is the "
                              f"folder of the {job.dataset} files")  # fmt: skip
    if job.device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"job.device = {job.device!r} is invalid here: torch sees no CUDA device; use 'cpu'")


def age_label(t: float) -> str:
    for unit, s in (("day", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if t >= s:
            v = t / s
            return f"{v:g} {unit}" + ("s" if unit == "day" and v != 1 else "")
    return f"{t:g} s"


@torch.no_grad()
def layer_output_errors(model: nn.Module, x: torch.Tensor) -> dict[str, float]:
    """Relative RMS error of every analog layer's output against the float product on the same input."""
    found: dict[str, float] = {}
    hooks = []
    for name, m in reram.analog_layers(model):

        def hook(mod: Any, inp: tuple[torch.Tensor, ...], out: torch.Tensor, name: str = name) -> None:
            ref = mod._float(inp[0])
            found[name] = float((out - ref).norm() / ref.norm().clamp_min(1e-30))

        hooks.append(m.register_forward_hook(hook))
    try:
        model(x)
    finally:
        for h in hooks:
            h.remove()
    return found


def _conductances_uS(model: nn.Module, which: str) -> np.ndarray:
    parts = []
    for _, m in reram.analog_layers(model):
        g = m.target_conductances() if which == "target" else m.g_S
        used = m.grid.row_mask(g.device)[None, :, :, None].expand_as(g)
        parts.append((g[used] * 1e6).detach().cpu().numpy().ravel())
    return np.concatenate(parts)


def train_cached(
    job: JobConfig,
    seed: int,
    data: Dataset,
    out: Path,
    tick: Progress,
    prepare: Callable[[nn.Module], Callable[[int], None]] | None = None,
    tag: str = "float",
    init: nn.Module | None = None,
    epochs: int | None = None,
    lr: float | None = None,
) -> nn.Module:
    """Train the job's model (checkpointed in ``out``, so a rerun resumes) and return it.

    ``prepare(model)`` may add training-time transforms (hardware-aware training) and return a
    per-epoch callback; they are stripped after training and the checkpoint holds plain weights.
    ``init`` starts from a trained model's weights (fine-tuning) for ``epochs`` at ``lr``.
    """
    torch.manual_seed(seed)
    model, _ = build(job.model, data.classes)
    model.to(torch.device(job.device))
    if init is not None:
        model.load_state_dict(init.state_dict())
    epochs, lr = epochs or job.epochs, lr or job.lr
    spec = [dataclasses.asdict(job), seed, tag] + ([init is not None, epochs, lr] if init is not None else [])
    key = hashlib.sha256(json.dumps(spec, default=str).encode()).hexdigest()[:16]
    ckpt = out / f"{tag}_model_{key}.pt"
    if ckpt.exists():
        model.load_state_dict(torch.load(ckpt, map_location=job.device))
        log.info("resumed %s model from %s", tag, ckpt)
        tick(f"train {tag}", 1, 1)
        return model
    on_epoch = prepare(model) if prepare else None
    fit(model, data.x_train, data.y_train, epochs, lr, job.batch_size, seed,
        lambda d, t: tick(f"train {tag}", d, t), on_epoch)  # fmt: skip
    if prepare:
        strip_hwa(model)
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    write_atomic(ckpt, buf.getvalue())
    return model


def _job_cost(
    analog: nn.Module, model: nn.Module, config: Config, shape: Any, out: Path, job: JobConfig
) -> dict[str, Any]:
    """Price what the job's analog evaluation did, and check the analytic path against it."""
    from reram.cost import cost_of_model, cost_of_run, profile_of
    from reram.experiments.cost_job import write_cost

    work, report = cost_of_run(analog, tuple(shape))
    summary = write_cost(out, work, report, f"Cost of {job.model} on {config.name} (counted from the run)")
    e = report.total_energy_J
    analytic = {}
    from reram.cost.activity import estimate_profile

    estimated = estimate_profile(model, config, tuple(shape))
    for name, prof in (("default_profile", None), ("estimated_profile", estimated),
                       ("measured_profile", profile_of(work, analog))):  # fmt: skip
        _, rep = cost_of_model(model, config, tuple(shape), prof)
        analytic[name] = {"energy_rel_diff": rep.total_energy_J / e - 1,
                          "latency_rel_diff": rep.total_latency_s / report.total_latency_s - 1}  # fmt: skip
    summary["analytic_vs_counted"] = analytic
    return summary


def run_job(job: JobConfig, config: Config, out: Path, progress: Progress | None = None) -> dict[str, Any]:
    """Run the default job and write its results into ``out``; returns the summary dict."""
    t_start = time.perf_counter()
    check_job(job)
    with manifested(out, "reram run", {"job": dataclasses.asdict(job), "config": config.to_dict()}):
        return _run_job(job, config, out, progress, t_start)


def _run_job(job: JobConfig, config: Config, out: Path, progress: Progress | None, t_start: float) -> dict[str, Any]:
    tick: Progress = progress or (lambda stage, done, total: None)
    dev = torch.device(job.device)
    data = load_dataset(job.dataset, job.data_dir or None).subset(job.train_samples or None, job.test_samples or None)
    model = train_cached(job, config.seed, data, out, tick)
    float_acc = evaluate(model, data.x_test, data.y_test)
    tick("float eval", 1, 1)

    # 2. on the chip
    analog = reram.convert(model, config)
    cal = data.x_train[: job.calibration_samples].to(dev)
    analog.program()  # type: ignore[operator]
    reram.calibrate(analog, cal.split(500))
    reram.reset_events(analog)
    target_uS = _conductances_uS(analog, "target")
    labels = {n: layer_label(n, m) for n, m in reram.analog_layers(analog)}
    snapshots: dict[str, np.ndarray] = {}
    acc_rows: list[dict[str, Any]] = [{"condition": "float", "age_s": 0.0, "accuracy_pct": float_acc}]
    err_rows: list[dict[str, Any]] = []
    probe = data.x_test[:256].to(dev)
    t_prev = 0.0
    for k, t in enumerate(job.ages_s):
        analog.age(t - t_prev, job.temperature_K)  # type: ignore[operator]
        t_prev = t
        label = f"analog {age_label(t)}"
        acc = evaluate(analog, data.x_test, data.y_test)
        acc_rows.append({"condition": label, "age_s": t, "accuracy_pct": acc})
        for layer, e in layer_output_errors(analog, probe).items():
            err_rows.append({"condition": label, "layer": labels[layer], "rel_rms_error": e})
        snapshots[label] = _conductances_uS(analog, "programmed")
        tick("analog eval", k + 1, len(job.ages_s))

    # 3. results
    place = reram.placement(analog)
    events = {n: {k: getattr(c, k) for k in EVENT_KINDS} for n, c in reram.events(analog).items()}
    digital = [r.as_dict() for r in reram.digital_modules(analog)]
    place_row: dict[str, Any] = {
        "cores_used": place.cores_used,
        "chips": place.n_chips,
        "utilization": place.utilization,
    }
    failures = sum(m.program_failures for _, m in reram.analog_layers(analog))
    cost = _job_cost(analog, model, config, data.x_test.shape[1:], out, job)
    summary = {
        "job": dataclasses.asdict(job),
        "config": config.to_dict(),
        "float_accuracy_pct": float_acc,
        "analog_accuracy_pct": {r["condition"]: r["accuracy_pct"] for r in acc_rows[1:]},
        "accuracy_drop_pts": {r["condition"]: float_acc - r["accuracy_pct"] for r in acc_rows[1:]},
        "layer_rel_rms_error": err_rows,
        "mapping": place_row,
        "program_failures": failures,
        "digital_modules": digital,
        "events": events,
        "cost": cost,
        "wall_time_s": time.perf_counter() - t_start,
    }
    write_csv(out / "accuracy.csv", acc_rows)
    write_csv(out / "layer_error.csv", err_rows)
    write_csv(out / "events.csv", [{"layer": n, "layer_type": labels[n], **c} for n, c in events.items()])
    pngs = [
        plots.accuracy_bars(acc_rows, out / "accuracy.png"),
        plots.conductance_histogram(target_uS, snapshots, out / "conductance_hist.png"),
        plots.layer_errors(err_rows, out / "layer_error.png"),
    ]
    write_json(out / "summary.json", summary)
    write_html_report(
        out / "report.html",
        f"reram run: {job.model} on {job.dataset}, preset {config.name!r}",
        _report_sections(summary, acc_rows, err_rows, {labels[n]: c for n, c in events.items()}, config, job),
        [*pngs, out / "cost_layers.png", out / "cost_components.png"],
        intro=_report_intro(summary, config, job),
    )
    return summary


def _report_intro(summary: dict[str, Any], config: Config, job: JobConfig) -> list[str]:
    """The report's opening: what ran, what was simulated, what to look for."""
    ages = ", ".join(age_label(t) for t in job.ages_s)
    failed = summary["program_failures"]
    digital = ", ".join(f"{d['name']} ({d['type']})" for d in summary["digital_modules"])
    diff = {k: v["energy_rel_diff"] for k, v in summary["cost"]["analytic_vs_counted"].items()}
    return [
        f"A {job.model} network trained in float on {job.dataset} ({job.epochs} epochs), converted onto the "
        f"chip, programmed once, calibrated on {job.calibration_samples} training images and evaluated {ages} "
        f"after programming at {job.temperature_K:g} K.",
        "Simulated: " + "; ".join(simulated(config)) + ".",
        f"Programming: {failed} cell(s) stayed outside their write-verify band after the iteration limit."
        if failed
        else "Programming: every cell reached its write-verify band.",
        f"Digital (not on cores): {digital}; see the table." if digital else "Every weight matrix ran on cores.",
        "Energy is given twice: counted (the events and cell joules of this very run) and analytic (the mapping "
        "alone, with an activity: assumed, half the row slots pulsed and the first layer's inputs signed; or "
        "estimated from the float model on generated image-like inputs; or measured in this run). The analytic "
        f"figure differs from the counted one by {diff['default_profile']:+.1%} (assumed), "
        f"{diff['estimated_profile']:+.1%} (estimated) and {diff['measured_profile']:+.1%} (measured): the "
        "difference is the activity, not the model.",
    ]


def _report_sections(summary: dict[str, Any], acc_rows: list[dict[str, Any]], err_rows: list[dict[str, Any]],
                     events: dict[str, Any], config: Config, job: JobConfig) -> list[tuple[Any, ...]]:  # fmt: skip
    acc = [{"condition": r["condition"], "after programming": age_label(r["age_s"]) if r["age_s"] else "-",
            "accuracy (%)": round(r["accuracy_pct"], 2)} for r in acc_rows]  # fmt: skip
    err = [{**r, "rel_rms_error": round(r["rel_rms_error"], 4)} for r in err_rows]
    cost = [{"metric": k, "value": v} for k, v in summary["cost"]["metrics"].items()]
    return [
        ("Accuracy", acc, "Test accuracy of the float model and of the chip at each age."),
        (
            "Per-layer output error",
            err,
            "Relative RMS error of each analog layer's output against the float "
            "product on the same input (256 test images).",
        ),  # fmt: skip
        ("Mapping", [summary["mapping"]], "Cores holding a tile, chips, and the share of their cells in use."),
        ("Modules left digital", summary["digital_modules"], "Weight-holding modules that run on the digital side."),
        ("Events per layer", [{"layer": n, **c} for n, c in events.items()], "Counted over the whole evaluation."),
        ("Cost per inference (counted)", cost, "From this run's events; the cost report has the breakdowns."),
        ("Configuration", config_rows(config), f"Preset {config.name!r} with the job's overrides, in units."),
        ("Job", config_rows(job), None),
    ]


__all__ = ["JobConfig", "layer_output_errors", "load_job", "run_job", "train_cached"]
