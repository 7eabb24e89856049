"""Accuracy against wire resistance: the job's CNN on 64/128/256 arrays with exact IR drop.

For every sensing mode (voltage: the preset's floating bit lines, NeuRRAM; current: virtual-ground
columns), array size and segment resistance the trained float model is put on the chip with
``array.ir_drop = "exact"`` and evaluated twice: as trained (IR drop unknown to training), and
after chip-in-the-loop progressive fine-tuning on the same chip, so the IR drop is in the training
loop (each later layer learns from what the programmed, IR-dropped earlier layers produce).
Results are appended to ``irdrop_sweep.json`` point by point, so an interrupted sweep resumes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from reram.config import Config, override
from reram.data import load_dataset
from reram.experiments.job import JobConfig, Progress, train_cached
from reram.nn import analog_layers, calibrate, convert
from reram.report import plots, write_csv, write_html_report, write_json
from reram.train import evaluate, progressive_finetune


def _point(
    model: torch.nn.Module, cfg: Config, data: Any, dev: torch.device, finetune: int, epochs: int
) -> dict[str, float]:
    x_cal = data.x_train[:1000].to(dev)
    chip = convert(model, cfg).to(dev)
    for _, m in analog_layers(chip):
        m.program(cfg.seed)
    t0 = time.perf_counter()
    for _, m in analog_layers(chip):
        m.gdiff()  # the effective matrices, once per programmed tile
    once = time.perf_counter() - t0
    calibrate(chip, x_cal.split(500))
    tiles = sum(m.grid.n_row * m.grid.n_col for _, m in analog_layers(chip))
    plain = evaluate(chip, data.x_test.to(dev), data.y_test)
    loop = plain
    if finetune:
        tuned = progressive_finetune(
            model, cfg, data.x_train[:finetune].to(dev), data.y_train[:finetune], epochs, seed=cfg.seed,
            calibration=x_cal,
        )  # fmt: skip
        loop = evaluate(tuned, data.x_test.to(dev), data.y_test)
    return {"acc_plain_pct": plain, "acc_in_loop_pct": loop, "tiles": tiles, "effective_s_per_tile": once / tiles}


def run_irdrop_sweep(
    job: JobConfig,
    config: Config,
    out: Path,
    sizes: Sequence[int] = (64, 128, 256),
    sensing: Sequence[str] = ("voltage", "current"),
    resistances_ohm: Sequence[float] = (0.0, 0.5, 1.0, 2.0, 5.0),
    finetune_samples: int = 5000,
    finetune_epochs: int = 1,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Sweep sensing x array size x segment resistance; write JSON, CSV, a plot and an HTML report into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    tick: Progress = progress or (lambda stage, done, total: None)
    data = load_dataset(job.dataset, job.data_dir or None).subset(job.train_samples or None, job.test_samples or None)
    dev = torch.device(job.device)
    model = train_cached(job, config.seed, data, out, tick)
    float_acc = evaluate(model, data.x_test.to(dev), data.y_test)
    path = out / "irdrop_sweep.json"
    done: dict[str, dict[str, Any]] = {}
    if path.exists():
        done = {f"{r['sensing']}-{r['array']}-{r['r_wire_ohm']}": r for r in json.loads(path.read_text())["points"]}
    points = []
    grid = [(s, n, r) for s in sensing for n in sizes for r in resistances_ohm]
    for k, (sense, n, r) in enumerate(grid):
        key = f"{sense}-{n}-{float(r)}"
        if key not in done:
            cfg = override(
                config,
                {"array": {"rows": n, "cols": n, "ir_drop": "exact", "r_wire_ohm": float(r)},
                 "periphery": {"adc": {"sensing": sense}}},
            )  # fmt: skip
            res = _point(model, cfg, data, dev, finetune_samples, finetune_epochs)
            done[key] = {"sensing": sense, "array": n, "r_wire_ohm": float(r), **res}
            write_json(path, {"float_pct": float_acc, "points": [done[x] for x in done]})
        points.append(done[key])
        tick("IR-drop sweep", k + 1, len(grid))
    summary = {"float_pct": float_acc, "preset": config.name, "model": job.model, "dataset": job.dataset,
               "finetune_samples": finetune_samples, "points": points}  # fmt: skip
    write_json(path, summary)
    write_csv(out / "irdrop_sweep.csv", points)
    png = plots.irdrop_accuracy(points, float_acc, out / "irdrop_sweep.png")
    write_html_report(
        out / "irdrop_report.html",
        f"Accuracy vs wire resistance: {job.model} on {job.dataset}, preset {config.name!r}",
        [("Points", points)],
        [png],
    )
    return summary
