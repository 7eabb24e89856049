"""``reram train --on-chip``: an MLP trained on the chip, per device model and scheme, beside float SGD.

Every run trains the same MLP from the same initial weights (per seed) with the same learning
rate (cosine-annealed to zero over the run), batch size and data order; the float run uses
``torch.optim.SGD``, the chip runs :class:`reram.train.onchip.AnalogSGD` on
:func:`reram.nn.onchip.to_onchip`. Each run's curve
(test accuracy after every epoch) is written to ``runs/`` as soon as it ends, so an interrupted
sweep resumes; the table gives the final accuracy as mean +- std over seeds, and the cost of
one training step (three kernels; the run's event counts averaged over its steps) beside the
digital baselines.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from reram.config import OnChipConfig, OnChipJob, load_config
from reram.config.jobs import scheme_config
from reram.cost.training import training_step_cost
from reram.data import load_dataset
from reram.nn.onchip import onchip_events, reset_onchip_events, to_onchip
from reram.report import plots, write_csv, write_html_report, write_json
from reram.train import evaluate
from reram.train.onchip import AnalogSGD
from reram.zoo import build, mlp

Progress = Callable[[str, int, int], None]


def _train(model: nn.Module, opt: torch.optim.Optimizer, data: Any, job: OnChipJob, seed: int,
           tick: Callable[[], None]) -> tuple[list[float], dict[str, float]]:  # fmt: skip
    """Train; return the test accuracy after each epoch and the mean event counts of one step."""
    gen = torch.Generator().manual_seed(seed)
    x, y, n = data.x_train, data.y_train, len(data.y_train)
    steps = job.epochs * -(-n // job.batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)  # works on AnalogSGD like on SGD
    curve: list[float] = []
    counted: dict[str, float] = {}
    for _ in range(job.epochs):
        reset_onchip_events(model)  # count the training steps only, not the evaluation reads
        model.train()
        perm = torch.randperm(n, generator=gen)
        for b in range(0, n, job.batch_size):
            idx = perm[b : b + job.batch_size]
            opt.zero_grad(set_to_none=True)
            nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
            sched.step()
        for k, v in onchip_events(model).items():
            counted[k] = counted.get(k, 0.0) + v / steps
        curve.append(evaluate(model, data.x_test, data.y_test))
        tick()
    return curve, counted


def _onchip_config(scheme: str, job: OnChipJob) -> OnChipConfig:
    return scheme_config(scheme, job.lr, job.pulse_mode)


def _model(job: OnChipJob, seed: int, classes: int, in_features: int) -> nn.Module:
    torch.manual_seed(seed)
    if job.model == "mlp":  # sized to the data (28x28 images, 8x8 digits, ...)
        return mlp(classes, in_features)
    return build(job.model, classes)[0]


def run_onchip_table(job: OnChipJob, out: Path, progress: Progress | None = None) -> dict[str, Any]:
    """Train every run of ``job`` (resuming from ``out/runs``); write the table, curves, costs and report."""
    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    (out / "runs").mkdir(exist_ok=True)
    tick_stage: Progress = progress or (lambda stage, done, total: None)
    data = load_dataset(job.dataset, job.data_dir or None).subset(job.train_samples or None, job.test_samples or None)
    classes = int(data.y_train.max()) + 1
    seeds = list(range(job.seeds))
    plan = [("float SGD", "-", "float", s) for s in seeds]
    plan += [(lab, p, sch, s) for lab, p, sch in job.runs for s in seeds]
    total = len(plan) * job.epochs
    in_features = int(data.x_train[0].numel())
    probe = _model(job, 0, classes, in_features)
    shapes = [(m.in_features, m.out_features) for m in probe.modules() if isinstance(m, nn.Linear)]
    done = 0
    curves: dict[tuple[str, str], list[list[float]]] = {}
    events: dict[tuple[str, str], list[dict[str, float]]] = {}
    for label, preset_name, scheme, seed in plan:
        key = f"{label}-{preset_name}-{scheme}-{job.pulse_mode}-s{seed}".replace(" ", "_").replace(":", "_")
        path = out / "runs" / f"{key}.json"
        if path.exists():
            rec = json.loads(path.read_text())
            done += job.epochs
        else:
            model = _model(job, seed, classes, in_features)

            def tick(stage: str = f"{label} {scheme}") -> None:
                nonlocal done
                done += 1
                tick_stage(stage, done, total)

            if scheme == "float":
                curve, _ = _train(model, torch.optim.SGD(model.parameters(), lr=job.lr), data, job, seed, tick)
                rec = {"curve": curve}
            else:
                cfg = dataclasses.replace(load_config(preset_name), seed=seed)
                oc = _onchip_config(scheme, job)
                chip = to_onchip(model, cfg, oc.range_factor, oc.cells_per_weight, oc.carry_base)
                curve, per_step = _train(chip, AnalogSGD(chip.parameters(), oc), data, job, seed, tick)
                rec = {"curve": curve, "events_per_step": per_step}
            write_json(path, rec)
        curves.setdefault((label, scheme), []).append(rec["curve"])
        if "events_per_step" in rec:
            events.setdefault((label, scheme), []).append(rec["events_per_step"])
    costs: dict[tuple[str, str], dict[str, Any]] = {}
    presets = {(lab, sch): p for lab, p, sch in job.runs}
    for run, per_seed in events.items():  # the seeds' mean counts, priced afresh: cost-model changes apply on resume
        mean_events = {k: statistics.fmean(e[k] for e in per_seed) for k in per_seed[0]}
        costs[run] = training_step_cost(shapes, load_config(presets[run]), mean_events, OnChipConfig().slots)
    float_final = statistics.fmean(c[-1] for c in curves[("float SGD", "float")])
    rows = []
    for (label, scheme), cs in curves.items():
        finals = [c[-1] for c in cs]
        mean = statistics.fmean(finals)
        row = {"device": label, "scheme": scheme if scheme != "float" else "-",
               "final_mean_pct": mean, "final_std_pct": statistics.stdev(finals) if len(finals) > 1 else 0.0,
               "vs_float_pts": mean - float_final, "seeds": len(finals),
               "runs": " ".join(f"{f:.2f}" for f in finals)}  # fmt: skip
        if (label, scheme) in costs:
            c = costs[(label, scheme)]
            row.update({"step_energy_uJ": c["analog_J"] * 1e6, "step_latency_us": c["analog_latency_s"] * 1e6,
                        "vs_digital_sram_energy": c["energy_gain_vs_sram"],
                        "vs_digital_reram_energy": c["energy_gain_vs_reram"],
                        "vs_digital_sram_latency": c["latency_gain"],
                        "vs_digital_reram_latency": c["latency_gain_vs_reram"]})  # fmt: skip
        rows.append(row)
    mean_curves = {f"{lab} {sch}" if sch != "float" else lab: [statistics.fmean(e) for e in zip(*cs, strict=True)]
                   for (lab, sch), cs in curves.items()}  # fmt: skip
    summary = {"job": dataclasses.asdict(job), "table": rows, "curves": mean_curves,
               "costs": {f"{k[0]} {k[1]}": v for k, v in costs.items()},
               "wall_time_s": time.perf_counter() - t0}  # fmt: skip
    write_json(out / "onchip_table.json", summary)
    write_csv(out / "onchip_table.csv", rows)
    png = plots.training_curves(mean_curves, out / "onchip_curves.png")
    write_html_report(out / "onchip_report.html", f"On-chip training: {job.model} on {job.dataset}",
                      [("Final test accuracy (%) and cost of one training step", rows)], [png])  # fmt: skip
    return summary
