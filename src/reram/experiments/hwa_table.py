"""What each hardware-aware method buys: the accuracy table of ``reram train``.

Rows: float software; quantised software (the noise-trained model with weights on the device
levels and inputs on the DAC bits, in software); analog without hardware-aware training; analog
with noise-injection training; analog after chip-in-the-loop progressive fine-tuning. Each analog
row is the mean +- std over programming seeds, at every age of the job (default 1 s and 1 day).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from reram.config import Config
from reram.data import load_dataset
from reram.experiments.job import JobConfig, Progress, age_label, train_cached
from reram.nn import age
from reram.report import plots, write_csv, write_html_report, write_json
from reram.train import HWAConfig, evaluate, monte_carlo, prepare_hwa, progressive_finetune, set_noise_epoch


def _quantised_software(
    model: nn.Module, hwa: HWAConfig, config: Config, x_cal: torch.Tensor, x: torch.Tensor, y: torch.Tensor
) -> float:
    m = copy.deepcopy(model)
    prepare_hwa(m, dataclasses.replace(hwa, noise_level=0.0, ramp_epochs=0), config)
    m.train()
    with torch.no_grad():
        for xb in x_cal.split(500):
            m(xb)
    return evaluate(m, x, y)


def run_hwa_table(
    job: JobConfig,
    hwa: HWAConfig,
    config: Config,
    out: Path,
    seeds: int = 5,
    finetune_epochs: int = 1,
    finetune_samples: int = 10000,
    progress: Progress | None = None,
    uncorrected: bool = True,
) -> dict[str, Any]:
    """Train float and noise-injected models, measure every method on the chip, write the table.

    ``uncorrected=False`` skips the two analog rows before chip-in-the-loop fine-tuning (no HWA,
    noise injection only): the benchmark suite shows only the final analog result.

    Writes ``hwa_table.json``, ``hwa_table.csv``, ``hwa_table.png`` and ``hwa_report.html`` into
    ``out``; trained models are checkpointed there, so a rerun resumes.
    """
    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    tick: Progress = progress or (lambda stage, done, total: None)
    data = load_dataset(job.dataset, job.data_dir or None).subset(job.train_samples or None, job.test_samples or None)
    dev = torch.device(job.device)
    x_test, y_test = data.x_test.to(dev), data.y_test
    x_cal = data.x_train[: job.calibration_samples].to(dev)
    seed_list = [config.seed + k for k in range(seeds)]

    def prepare(m: nn.Module):  # type: ignore[no-untyped-def]
        prepare_hwa(m, hwa, config)
        return lambda epoch: set_noise_epoch(m, epoch)

    float_model = train_cached(job, config.seed, data, out, tick)
    tag = "hwa-" + hashlib.sha256(repr(dataclasses.astuple(hwa)).encode()).hexdigest()[:8]
    if hwa.finetune_epochs:  # hardware-aware fine-tuning of the float model
        hwa_model = train_cached(job, config.seed, data, out, tick, prepare=prepare, tag=tag,
                                 init=float_model, epochs=hwa.finetune_epochs, lr=hwa.finetune_lr)  # fmt: skip
    else:
        hwa_model = train_cached(job, config.seed, data, out, tick, prepare=prepare, tag=tag)
    rows: list[dict[str, Any]] = []

    def add(condition: str, t: float | None, accs: list[float]) -> None:
        mean = sum(accs) / len(accs)
        std = (sum((a - mean) ** 2 for a in accs) / (len(accs) - 1)) ** 0.5 if len(accs) > 1 else 0.0
        label = "software" if t is None else age_label(t)
        rows.append({"condition": condition, "age": label, "age_s": t or 0.0, "mean_pct": mean, "std_pct": std,
                     "seeds": len(accs), "runs": " ".join(f"{a:.2f}" for a in accs)})  # fmt: skip

    add("float software", None, [evaluate(float_model, x_test, y_test)])
    add("quantised software", None, [_quantised_software(hwa_model, hwa, config, x_cal, x_test, y_test)])
    tick("evaluate", 1, 4)
    uncorrected_rows = (("analog, no HWA", float_model), ("analog, noise injection", hwa_model))
    for name, model in uncorrected_rows if uncorrected else ():
        mc = monte_carlo(model, config, x_test, y_test, seed_list, job.ages_s, x_cal, job.temperature_K)
        for t in job.ages_s:
            add(name, t, mc[t]["runs"])
        tick("evaluate", 2 if "no HWA" in name else 3, 4)
    ft_runs: dict[float, list[float]] = {t: [] for t in job.ages_s}
    x_ft, y_ft = data.x_train[:finetune_samples].to(dev), data.y_train[:finetune_samples]
    ages = sorted(job.ages_s)
    for s in seed_list:
        chip = progressive_finetune(hwa_model, config, x_ft, y_ft, finetune_epochs, lr=job.lr / 10,
                                    batch_size=job.batch_size, seed=s, age_s=ages[0], calibration=x_cal)  # fmt: skip
        t_prev = ages[0]
        for t in ages:
            age(chip, t - t_prev, job.temperature_K)
            t_prev = t
            ft_runs[t].append(evaluate(chip, x_test, y_test))
    for t in job.ages_s:
        add("analog, chip-in-the-loop", t, ft_runs[t])
    tick("evaluate", 4, 4)

    summary = {
        "job": dataclasses.asdict(job),
        "hwa": dataclasses.asdict(hwa),
        "config": config.to_dict(),
        "seeds": seed_list,
        "table": rows,
        "wall_time_s": time.perf_counter() - t0,
    }
    write_csv(out / "hwa_table.csv", rows)
    write_json(out / "hwa_table.json", summary)
    png = plots.accuracy_table(rows, out / "hwa_table.png")
    write_html_report(out / "hwa_report.html", f"Hardware-aware training: {job.model} on {job.dataset}",
                      [("Accuracy (%)", rows)], [png])  # fmt: skip
    return summary
