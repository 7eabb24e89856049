"""What a sweep point runs.

A job takes (config, options, cache folder) and returns one flat row of metrics (numbers or
short text). Built in:

- "cost": the analytic cost of a zoo model on the chip (``reram.cost.cost_of_model``: energy,
  latency, throughput, TOPS/W, area; no simulation);
- "run": the default job's accuracy on the chip: the float model is trained once per job
  options (cached on disk under the sweep's folder, keyed by their hash, so every worker shares
  it), then put on the chip, programmed, calibrated and evaluated after each age; with the
  cost counted from that run.

Any ``module:function`` with the same signature is a job too.
"""

from __future__ import annotations

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


def prepare(name: str, options: dict[str, Any], cache: Path) -> None:
    """Build once, before the points run, what they share: the "run" job's trained model."""
    if name == "run":
        _job_and_model(options, cache)


def run_job(config: Config, options: dict[str, Any], cache: Path) -> dict[str, Any]:
    """The default job's accuracy at each age and its counted cost (``options``: [job] keys)."""
    import torch

    import reram
    from reram.cost import cost_of_run
    from reram.experiments.job import age_label
    from reram.train import evaluate

    job, data, model = _job_and_model(options, cache)
    chip = reram.convert(model, config)
    chip.program()  # type: ignore[operator]
    reram.calibrate(chip, data.x_train[: job.calibration_samples].split(500))
    row: dict[str, Any] = {"float_accuracy_pct": evaluate(model, data.x_test, data.y_test)}
    t_prev = 0.0
    for t in job.ages_s:
        reram.age(chip, t - t_prev, job.temperature_K)
        t_prev = t
        if t == job.ages_s[0]:
            reram.reset_events(chip)
        row[f"accuracy_pct_{age_label(t).replace(' ', '_')}"] = evaluate(chip, data.x_test, data.y_test)
        if t == job.ages_s[0]:
            with torch.no_grad():
                _, report = cost_of_run(chip, tuple(data.x_test.shape[1:]))
            row.update(_cost_metrics(report))
    row["accuracy_pct"] = row[f"accuracy_pct_{age_label(job.ages_s[0]).replace(' ', '_')}"]
    return row


JOBS: dict[str, Job] = {"cost": cost_job, "run": run_job}


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
