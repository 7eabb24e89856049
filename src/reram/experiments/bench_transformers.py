"""Transformers on the chip: ``reram bench transformers`` (in the style of the NeuRRAM suite).

Two tasks, trained here with no download:

- **ViT on Fashion-MNIST** (``reram.zoo.vit_tiny``: 7x7 patches, 2 pre-norm encoder layers of
  ``nn.TransformerEncoderLayer``, 64 wide, 4 heads): test accuracy.
- **Character-level GPT on the King James Bible** (``reram.zoo.char_gpt``: 4 GPT-2 blocks, 128
  wide, 64 characters of context; the text from Debian's ``bible-kjv``, public domain, see
  :mod:`reram.data.text`): perplexity per character on held-out text (the last 5 %).

Columns: float software; analog on the chip as trained (no hardware-aware training); analog
after hardware-aware fine-tuning (noise injection and the chip's weight levels and DAC bits,
``reram.train.prepare_hwa``). Analog figures are the mean +- std over programming seeds, 1 s
after programming; every weight matrix (projections, MLPs, patch embedding, heads) on cores, the
attention products, norms and embeddings digital. The energy per inference (per token for the
GPT) is counted from the analog run. Trained models are checkpointed in ``out``, so a rerun resumes.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import io
import json
import math
import statistics
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

import reram
from reram.config import Config, load_config
from reram.cost import cost_of_run
from reram.data import load_dataset, load_text
from reram.experiments.job import JobConfig, Progress, train_cached
from reram.report import plots, write_csv, write_html_report, write_json
from reram.report.writers import write_atomic
from reram.train import HWAConfig, evaluate, prepare_hwa, set_noise_epoch, strip_hwa
from reram.zoo import build

TASKS = ("vit", "gpt")


@dataclasses.dataclass(frozen=True)
class GPTSettings:
    """The language-model task's sizes (steps of ``batch`` sequences of ``context`` characters)."""

    steps: int = 3000
    hwa_steps: int = 600
    batch: int = 32
    context: int = 64
    lr: float = 2e-3
    eval_sequences: int = 256
    calibration_sequences: int = 32
    seeds: int = 3

    @classmethod
    def quick(cls) -> GPTSettings:
        """A few minutes on 2 cores."""
        return cls(steps=500, hwa_steps=100, eval_sequences=64, calibration_sequences=16, seeds=2)


def _stats(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def _seeded(config: Config, seed: int) -> Config:
    return dataclasses.replace(config, seed=seed)


def _vit(config: Config, out: Path, quick: bool, tick: Progress, hwa: HWAConfig) -> dict[str, Any]:
    base = JobConfig.quick() if quick else JobConfig()
    job = dataclasses.replace(base, model="vit_tiny", epochs=3 if quick else 15, lr=2e-3, ages_s=(1.0,),
                              calibration_samples=1000)  # fmt: skip
    data = load_dataset(job.dataset, job.data_dir or None).subset(job.train_samples or None, job.test_samples or None)
    model = train_cached(job, config.seed, data, out, tick)

    def prepare(m: nn.Module):  # type: ignore[no-untyped-def]
        prepare_hwa(m, hwa, config)
        return lambda epoch: set_noise_epoch(m, epoch)

    tag = "hwa-" + hashlib.sha256(repr(dataclasses.astuple(hwa)).encode()).hexdigest()[:8]
    hwa_model = train_cached(job, config.seed, data, out, tick, prepare=prepare, tag=tag, init=model,
                             epochs=hwa.finetune_epochs, lr=hwa.finetune_lr)  # fmt: skip
    x_cal = data.x_train[: job.calibration_samples]
    seeds = [config.seed + k for k in range(2 if quick else 3)]
    row: dict[str, Any] = {"task": "Fashion-MNIST, ViT (2 layers, 64 wide)", "metric": "accuracy (%)",
                           "float_software": evaluate(model, data.x_test, data.y_test)}  # fmt: skip
    energy = 0.0
    for col, m in (("analog", model), ("analog_hwa", hwa_model)):
        accs = []
        for k, s in enumerate(seeds):
            chip = _chip(m, _seeded(config, s), x_cal.split(500))
            accs.append(evaluate(chip, data.x_test, data.y_test))
            if col == "analog_hwa" and k == 0:
                reram.reset_events(chip)
                with torch.no_grad():
                    chip(data.x_test[:200])
                energy = cost_of_run(chip, tuple(data.x_test.shape[1:]))[1].metrics()["energy_per_inference_J"]
        row[col], row[f"{col}_std"] = _stats(accs)
        tick("ViT", 2 if col == "analog" else 3, 3)
    row.update({"energy_per_inference_J": energy, "unit": "image", "seeds": len(seeds),
                "weights": sum(p.numel() for p in model.parameters() if p.dim() >= 2)})  # fmt: skip
    return row


def _chip(model: nn.Module, config: Config, calibration: Any) -> nn.Module:
    chip = reram.convert(model, config)
    chip.program()  # type: ignore[operator]
    reram.calibrate(chip, calibration)
    return reram.age(chip, 1.0)


def _perplexity(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """exp(mean cross-entropy per character) over (x, y) sequences, 16 at a time."""
    model.eval()
    total = 0.0
    with torch.no_grad():
        for xb, yb in zip(x.split(16), y.split(16), strict=True):
            logits = model(xb)
            total += float(nn.functional.cross_entropy(logits.flatten(0, 1), yb.flatten(), reduction="sum"))
    return math.exp(total / y.numel())


def _train_lm(model: nn.Module, corpus: Any, steps: int, lr: float, s: GPTSettings, seed: int,
              tick: Progress, stage: str, on_step: Any = None) -> list[float]:  # fmt: skip
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    model.train()
    losses = []
    for k in range(steps):
        if on_step is not None:
            on_step(k)
        x, y = corpus.batches("train", s.context, s.batch, gen)
        loss = nn.functional.cross_entropy(model(x).flatten(0, 1), y.flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        if k % 20 == 0 or k == steps - 1:
            tick(stage, k + 1, steps)
    model.eval()
    return losses


def _cached_lm(path: Path, make: Any) -> nn.Module:
    if path.exists():
        return torch.load(path, weights_only=False)  # type: ignore[no-any-return]
    model = make()
    buf = io.BytesIO()
    torch.save(model, buf)
    write_atomic(path, buf.getvalue())
    return model  # type: ignore[no-any-return]


def _gpt(config: Config, out: Path, quick: bool, tick: Progress, hwa: HWAConfig) -> dict[str, Any]:
    s = GPTSettings.quick() if quick else GPTSettings()
    corpus = load_text()
    key = hashlib.sha256(json.dumps([dataclasses.asdict(s), corpus.vocab, config.seed]).encode()).hexdigest()[:12]
    out.mkdir(parents=True, exist_ok=True)

    def train_float() -> nn.Module:
        torch.manual_seed(config.seed)
        m, _ = build("char_gpt", corpus.vocab_size)
        _train_lm(m, corpus, s.steps, s.lr, s, config.seed, tick, "GPT float")
        return m

    model = _cached_lm(out / f"gpt_float_{key}.pt", train_float)

    def train_hwa() -> nn.Module:
        m = copy.deepcopy(model)
        prepare_hwa(m, hwa, config)
        _train_lm(m, corpus, s.hwa_steps, hwa.finetune_lr, s, config.seed + 1, tick, "GPT hardware-aware")
        return strip_hwa(m)

    hkey = hashlib.sha256(repr(dataclasses.astuple(hwa)).encode()).hexdigest()[:8]
    hwa_model = _cached_lm(out / f"gpt_hwa_{key}_{hkey}.pt", train_hwa)
    eval_gen = torch.Generator().manual_seed(1234)
    x_test, y_test = corpus.batches("test", s.context, s.eval_sequences, eval_gen)
    x_cal, _ = corpus.batches("train", s.context, s.calibration_sequences, torch.Generator().manual_seed(99))
    seeds = [config.seed + k for k in range(s.seeds)]
    row: dict[str, Any] = {"task": "King James Bible, char GPT (4 blocks, 128 wide)",
                           "metric": "perplexity per character",
                           "float_software": _perplexity(model, x_test, y_test)}  # fmt: skip
    energy = 0.0
    for col, m in (("analog", model), ("analog_hwa", hwa_model)):
        ppl = []
        for k, seed in enumerate(seeds):
            chip = _chip(m, _seeded(config, seed), x_cal.split(16))
            ppl.append(_perplexity(chip, x_test, y_test))
            if col == "analog_hwa" and k == 0:
                reram.reset_events(chip)
                with torch.no_grad():
                    chip(x_test[:8])
                per_seq = cost_of_run(chip, (s.context,))[1].metrics()["energy_per_inference_J"]
                energy = per_seq / s.context
        row[col], row[f"{col}_std"] = _stats(ppl)
        tick("GPT analog", 1 if col == "analog" else 2, 2)
    row.update({"energy_per_inference_J": energy, "unit": "token (prefill of 64)", "seeds": len(seeds),
                "weights": sum(p.numel() for n, p in model.named_parameters() if p.dim() >= 2 and "tok" not in n
                               and "pos" not in n)})  # fmt: skip
    return row


def run_transformer_bench(
    out: Path, quick: bool = False, progress: Progress | None = None, tasks: tuple[str, ...] = TASKS
) -> dict[str, Any]:
    """Run the suite (or the ``tasks`` named, from ``TASKS``) on the ``neurram`` preset; write
    ``bench_transformers.json``/``.csv``, a figure and ``bench_report.html`` into ``out``.
    """
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        raise ValueError(f"tasks = {unknown!r} are unknown: allowed are {', '.join(TASKS)}")
    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    tick: Progress = progress or (lambda stage, done, total: None)
    config = load_config("neurram")
    hwa = HWAConfig(noise_level=0.02, finetune_epochs=1 if quick else 3)
    rows: list[dict[str, Any]] = []
    if "vit" in tasks:
        rows.append(_vit(config, out / "vit", quick, tick, hwa))
    if "gpt" in tasks:
        rows.append(_gpt(config, out / "gpt", quick, tick, dataclasses.replace(hwa, finetune_lr=5e-4)))
    summary = {"rows": rows, "quick": quick, "preset": config.name, "wall_time_s": time.perf_counter() - t0}
    write_json(out / "bench_transformers.json", summary)
    write_csv(out / "bench_transformers.csv", rows)
    png = plots.bench_panels(rows, {"float_software": "float", "analog": "analog", "analog_hwa": "analog + HWA"},
                             out / "bench_transformers.png")  # fmt: skip
    intro = ("Float software vs analog on the neurram preset, without and with hardware-aware fine-tuning (mean "
             "+- std over programming seeds, 1 s after programming). Accuracy in %, perplexity per character "
             "(lower is better); energy counted from the run.")  # fmt: skip
    write_html_report(out / "bench_report.html", "Transformers on the chip (neurram preset)", [("Tasks", rows)],
                      [png], intro=[intro])  # fmt: skip
    return summary
