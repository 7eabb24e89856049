"""What a sweep point runs.

A job takes (config, options, cache folder) and returns one flat row of metrics (numbers or
short text). Built in:

- "cost": the analytic cost of a zoo model on the chip (``reram.cost.cost_of_model``: energy,
  latency, throughput, TOPS/W, area; no simulation);
- "run": the default job's accuracy on the chip: the float model is trained once per job
  options (cached on disk under the sweep's folder, keyed by their hash, so every worker shares
  it), then put on the chip, programmed, calibrated and evaluated after each age; with the
  cost counted from that run;
- "train": hardware-aware training for each point's chip (the float model fine-tuned with the
  point's noise and levels), optionally chip-in-the-loop fine-tuning;
- "irdrop": accuracy and layer output error with the point's wires, optionally with the IR drop
  in the training loop;
- "reliability": accuracy over years at a temperature under drift corrections.

The jobs that use the default job's model take the [job] keys (``quick = true`` on the quick
job) and their own keys (``OWN``) as options; an unknown key is a named error.

Any ``module:function`` with the same signature is a job too.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reram.config import Config, ConfigError

Job = Callable[[Config, dict[str, Any], Path], dict[str, Any]]


def _cost_metrics(report: Any) -> dict[str, Any]:
    m = report.metrics()
    keys = ("energy_per_inference_J", "latency_s", "throughput_inferences_per_s", "tops_per_w", "area_mm2",
            "edp_J_s", "energy_per_mac_J")  # fmt: skip
    return {k: float(m[k]) for k in keys}


def cost_job(config: Config, options: dict[str, Any], cache: Path) -> dict[str, Any]:
    """The analytic cost of ``options["model"]`` (a zoo name, default "lenet5") on the chip."""
    from reram.cost import cost_of_model
    from reram.zoo import build

    name = options.get("model", "lenet5")
    model, shape = build(name, int(options.get("classes", 10)))
    if "input_shape" in options:
        shape = tuple(int(v) for v in options["input_shape"])
    work, report = cost_of_model(model, config, tuple(shape))
    return {"cores_used": float(work.placement.cores_used), "chips": float(work.placement.n_chips),
            **_cost_metrics(report)}  # fmt: skip


def _options(options: dict[str, Any], own: dict[str, Any], job: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split ``options`` into [job] keys (``quick`` included) and the job's own keys (``own``: their
    defaults); an unknown key is a named error listing what is allowed.
    """
    from reram.config.jobs import JobConfig

    job_keys = {f.name for f in dataclasses.fields(JobConfig)} | {"quick"}
    unknown = sorted(set(options) - job_keys - set(own))
    if unknown:
        extra = ", ".join(sorted(own)) or "nothing else"
        raise ConfigError(f"[options] of job {job!r}: unknown key(s) {unknown}: allowed are the [job] keys "
                          f"({', '.join(sorted(job_keys))}) and {extra}")  # fmt: skip
    return ({k: v for k, v in options.items() if k in job_keys},
            {k: options.get(k, v) for k, v in own.items()})  # fmt: skip


def _job_and_model(options: dict[str, Any], cache: Path) -> tuple[Any, Any, Any]:
    """The [job] of ``options`` (``quick = true``: on the quick job), its data, its trained float
    model (trained once, cached in ``cache`` by the job's hash: every worker loads the same).
    """
    from reram.config.jobs import job_tables
    from reram.data import load_dataset
    from reram.experiments.job import train_cached

    rest = {k: v for k, v in options.items() if k != "quick"}
    job, _, _ = job_tables({"job": rest}, bool(options.get("quick", False)))
    data = load_dataset(job.dataset, job.data_dir or None).subset(job.train_samples or None, job.test_samples or None)
    return job, data, train_cached(job, 0, data, cache, lambda *a: None)


OWN: dict[str, dict[str, Any]] = {
    "run": {},
    "train": {"hwa": {}, "finetune_samples": 0, "finetune_epochs": 1},
    "irdrop": {"finetune_samples": 0, "finetune_epochs": 1, "probe_samples": 256},
    "reliability": {"times_s": [1.0, 3600.0, 86400.0, 30 * 86400.0, 365 * 86400.0, 3650 * 86400.0],
                    "temperature_C": None, "methods": ["none", "global"]},
}  # fmt: skip


def check_options(name: str, options: dict[str, Any]) -> None:
    """Check a built-in job's option keys (before anything runs; values are checked as they are used).

    Raises:
        reram.ConfigError: naming an unknown key and the allowed ones.

    """
    if name in OWN:
        _options(options, OWN[name], name)
    elif name == "cost":
        unknown = sorted(set(options) - {"model", "classes", "input_shape"})
        if unknown:
            raise ConfigError(f"[options] of job 'cost': unknown key(s) {unknown}: allowed are classes, "
                              "input_shape, model")  # fmt: skip


def prepare(name: str, options: dict[str, Any], cache: Path) -> None:
    """Build once, before the points run, what they share: the trained float model of the jobs
    that put the default job's model on the chip (their options checked first).
    """
    check_options(name, options)
    if name in OWN:
        _job_and_model(_options(options, OWN[name], name)[0], cache)


def _programmed(model: Any, config: Config, data: Any, job: Any) -> Any:
    import reram

    chip = reram.convert(model, config).to(job.device)
    chip.program()  # type: ignore[operator]
    reram.calibrate(chip, data.x_train[: job.calibration_samples].to(job.device).split(500))
    return chip


def _counted(chip: Any, data: Any) -> tuple[float, dict[str, Any]]:
    """The test accuracy (%) of ``chip`` and the cost of that evaluation, counted from its events."""
    import reram
    from reram.cost import cost_of_run
    from reram.train import evaluate

    reram.reset_events(chip)
    acc = evaluate(chip, data.x_test, data.y_test)
    _, report = cost_of_run(chip, tuple(data.x_test.shape[1:]))
    return acc, _cost_metrics(report)


def _label(t: float) -> str:
    from reram.experiments.job import age_label

    return age_label(t).replace(" ", "_")


def run_job(config: Config, options: dict[str, Any], cache: Path) -> dict[str, Any]:
    """The default job's accuracy at each age and its counted cost (``options``: [job] keys)."""
    import reram
    from reram.train import evaluate

    job_opts, _ = _options(options, OWN["run"], "run")
    job, data, model = _job_and_model(job_opts, cache)
    chip = _programmed(model, config, data, job)
    row: dict[str, Any] = {"float_accuracy_pct": evaluate(model, data.x_test, data.y_test)}
    t_prev = 0.0
    for t in job.ages_s:
        reram.age(chip, t - t_prev, job.temperature_K)
        t_prev = t
        if t == job.ages_s[0]:
            acc, cost = _counted(chip, data)
            row.update(cost)
        else:
            acc = evaluate(chip, data.x_test, data.y_test)
        row[f"accuracy_pct_{_label(t)}"] = acc
    row["accuracy_pct"] = row[f"accuracy_pct_{_label(job.ages_s[0])}"]
    return row


def train_job(config: Config, options: dict[str, Any], cache: Path) -> dict[str, Any]:
    """Hardware-aware training for the point's chip: the shared float model fine-tuned with the
    point's noise, levels and DAC bits (``options.hwa``: [hwa] keys; ``finetune_epochs`` of it
    default 1), then on the chip at the job's first age; with ``finetune_samples > 0`` also after
    chip-in-the-loop progressive fine-tuning. The HWA model is cached by config and options.

    Row: float, no-HWA, HWA (``accuracy_pct``) and chip-in-the-loop accuracies (%), the counted cost.
    """
    import hashlib
    import json

    import reram
    from reram.config.jobs import HWAConfig, _from_dict
    from reram.experiments.job import train_cached
    from reram.train import evaluate, prepare_hwa, progressive_finetune, set_noise_epoch

    job_opts, own = _options(options, OWN["train"], "train")
    job, data, model = _job_and_model(job_opts, cache)
    hwa = _from_dict(HWAConfig, {"finetune_epochs": 1, **own["hwa"]}, HWAConfig(), "options.hwa")

    def prepare_model(m: Any) -> Any:
        prepare_hwa(m, hwa, config)
        return lambda epoch: set_noise_epoch(m, epoch)

    tag = "hwa-" + hashlib.sha256(json.dumps([dataclasses.asdict(hwa), config.to_dict()], sort_keys=True,
                                             default=str).encode()).hexdigest()[:12]  # fmt: skip
    hwa_model = train_cached(job, config.seed, data, cache, lambda *a: None, prepare=prepare_model, tag=tag,
                             init=model, epochs=hwa.finetune_epochs, lr=hwa.finetune_lr)  # fmt: skip
    t0 = job.ages_s[0]
    row: dict[str, Any] = {"float_accuracy_pct": evaluate(model, data.x_test, data.y_test)}
    chip = reram.age(_programmed(model, config, data, job), t0, job.temperature_K)
    row["accuracy_no_hwa_pct"] = evaluate(chip, data.x_test, data.y_test)
    chip = reram.age(_programmed(hwa_model, config, data, job), t0, job.temperature_K)
    row["accuracy_hwa_pct"], cost = _counted(chip, data)
    row.update(cost)
    row["accuracy_pct"] = row["accuracy_hwa_pct"]
    if own["finetune_samples"]:
        n = int(own["finetune_samples"])
        tuned = progressive_finetune(hwa_model, config, data.x_train[:n], data.y_train[:n], int(own["finetune_epochs"]),
                                     lr=job.lr / 10, batch_size=job.batch_size, seed=config.seed, age_s=t0,
                                     calibration=data.x_train[: job.calibration_samples])  # fmt: skip
        row["accuracy_in_loop_pct"] = evaluate(tuned, data.x_test, data.y_test)
        row["accuracy_pct"] = row["accuracy_in_loop_pct"]
    return row


def irdrop_job(config: Config, options: dict[str, Any], cache: Path) -> dict[str, Any]:
    """Accuracy and per-layer output error with the point's wires (set ``array.ir_drop`` and
    ``array.r_wire_ohm`` as axes): as trained, and with ``finetune_samples > 0`` after
    chip-in-the-loop progressive fine-tuning on the same chip (the IR drop in the training loop).

    Row: ``accuracy_pct``, ``accuracy_in_loop_pct``, the mean and worst layer's relative RMS output
    error against the float product on ``probe_samples`` test images, tiles, the counted cost.
    """
    import torch

    import reram
    from reram.experiments.job import layer_output_errors
    from reram.train import evaluate, progressive_finetune

    job_opts, own = _options(options, OWN["irdrop"], "irdrop")
    job, data, model = _job_and_model(job_opts, cache)
    chip = _programmed(model, config, data, job)
    with torch.no_grad():
        errors = list(layer_output_errors(chip, data.x_test[: int(own["probe_samples"])]).values())
    acc, cost = _counted(chip, data)
    row: dict[str, Any] = {
        "float_accuracy_pct": evaluate(model, data.x_test, data.y_test),
        "accuracy_pct": acc,
        "layer_error_mean": sum(errors) / len(errors),
        "layer_error_max": max(errors),
        "tiles": float(sum(m.grid.n_row * m.grid.n_col for _, m in reram.analog_layers(chip))),
        **cost,
    }
    if own["finetune_samples"]:
        n = int(own["finetune_samples"])
        tuned = progressive_finetune(model, config, data.x_train[:n], data.y_train[:n], int(own["finetune_epochs"]),
                                     seed=config.seed, calibration=data.x_train[: job.calibration_samples])  # fmt: skip
        row["accuracy_in_loop_pct"] = evaluate(tuned, data.x_test, data.y_test)
    return row


def reliability_job(config: Config, options: dict[str, Any], cache: Path) -> dict[str, Any]:
    """Accuracy over a chip's life: programmed once, aged through ``times_s`` (seconds after
    programming) at ``temperature_C`` (default: the job's temperature), read at each time under
    every drift correction of ``methods`` (``reram.experiments.reliability.METHODS``).

    Row: ``accuracy_pct_<time>_<method>`` for each, ``accuracy_pct`` (the last time, last method),
    ``accuracy_loss_pts`` (first time minus last, last method), the counted cost at the first time.
    """
    import reram
    from reram.experiments.reliability import METHODS, REFERENCE_READS, evaluate_methods
    from reram.train import evaluate

    job_opts, own = _options(options, OWN["reliability"], "reliability")
    times = [float(t) for t in own["times_s"]]
    if not times or times != sorted(set(times)) or times[0] <= 0:
        raise ConfigError(f"options.times_s = {own['times_s']!r}: allowed is a list of increasing times > 0 s")
    methods = list(own["methods"])
    bad = [m for m in methods if m not in METHODS]
    if bad or not methods:
        raise ConfigError(f"options.methods = {methods!r}: allowed are one or more of {', '.join(METHODS)}")
    job, data, model = _job_and_model(job_opts, cache)
    celsius = own["temperature_C"]
    kelvin = job.temperature_K if celsius is None else float(celsius) + 273.15
    if not 1.0 <= kelvin <= 1000.0:
        raise ConfigError(f"options.temperature_C = {celsius!r}: allowed is -272 to 726 degrees C")
    chip = _programmed(model, config, data, job)
    x_cal = data.x_train[: job.calibration_samples]
    reram.store_drift_reference(chip, inputs=x_cal[: REFERENCE_READS["global"]])  # known, data-like inputs
    row: dict[str, Any] = {"float_accuracy_pct": evaluate(model, data.x_test, data.y_test),
                           "temperature_C": kelvin - 273.15}  # fmt: skip
    t_prev = 0.0
    for t in times:
        reram.age(chip, t - t_prev, kelvin)
        t_prev = t
        if t == times[0]:
            row.update(_counted(chip, data)[1])
        for method, acc in evaluate_methods(chip, data, x_cal, methods).items():
            row[f"accuracy_pct_{_label(t)}_{method}"] = acc
    last = methods[-1]
    row["accuracy_pct"] = row[f"accuracy_pct_{_label(times[-1])}_{last}"]
    row["accuracy_loss_pts"] = row[f"accuracy_pct_{_label(times[0])}_{last}"] - row["accuracy_pct"]
    return row


JOBS: dict[str, Job] = {"cost": cost_job, "run": run_job, "train": train_job, "irdrop": irdrop_job,
                        "reliability": reliability_job}  # fmt: skip


def resolve_job(name: str) -> Job:
    """A built-in job or ``module:function``.

    Raises:
        reram.ConfigError: for an unknown name or a function that cannot be imported.

    """
    if name in JOBS:
        return JOBS[name]
    if ":" in name:
        module, func = name.split(":", 1)
        try:
            return getattr(importlib.import_module(module), func)  # type: ignore[no-any-return]
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"job = {name!r} cannot be imported: {exc}") from None
    raise ConfigError(f"job = {name!r} is unknown: allowed is one of {', '.join(JOBS)} or 'module:function'")
