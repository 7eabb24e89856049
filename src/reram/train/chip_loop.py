"""Chip-in-the-loop progressive fine-tuning and Monte-Carlo evaluation over programming seeds.

Progressive fine-tuning (Wan et al., Nature 2022: CIFAR-10 83.67 % -> 85.7 %): program layer 1 on
the chip and freeze it; run the training data through the chip's layer 1 and fine-tune layers
2..L in software on what the chip actually produced; program layer 2; and so on. The chip's state
(programmed conductances and their relaxation) stays fixed between steps, as on a real chip; only
read noise changes from read to read.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from reram.config import Config
from reram.nn import analog_layers, calibrate, convert
from reram.train.loops import evaluate, fit


def progressive_finetune(
    model: nn.Module,
    config: Config | str,
    x: torch.Tensor,
    y: torch.Tensor,
    epochs_per_stage: int = 1,
    lr: float = 3e-4,
    batch_size: int = 128,
    seed: int = 0,
    age_s: float = 1.0,
    calibration: torch.Tensor | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> nn.Module:
    """Put ``model`` on the chip one layer at a time, fine-tuning the rest on the chip's outputs.

    Args:
        model: a trained float network (not modified).
        config: the chip.
        x, y: fine-tuning data.
        epochs_per_stage: epochs of fine-tuning after each layer is programmed.
        lr: fine-tuning learning rate (Adam, one-cycle).
        batch_size: fine-tuning batch size.
        seed: programming and shuffling seed.
        age_s: relaxation (seconds at the reference temperature) after programming each layer,
            before its outputs are used.
        calibration: inputs for range calibration (default: the first 1,000 of ``x``).
        progress: called as ``progress(stage, stages)``.

    Returns:
        The converted model with every layer programmed.

    """
    chip = convert(model, config)
    layers = [m for _, m in analog_layers(chip)]
    cal = x[:1000] if calibration is None else calibration
    for m in layers:
        m.digital = True
    device = next(chip.parameters()).device
    for k, layer in enumerate(layers):
        layer.digital = False
        layer.program(seed)
        layer.age(age_s)
        calibrate(chip, cal.to(device).split(500), recalibrate=False)  # only the new layer
        for p in layer.parameters():
            p.requires_grad_(False)
        rest = [p for m in layers[k + 1 :] for p in m.parameters()]
        if rest:
            fit(chip, x, y, epochs_per_stage, lr, batch_size, seed + k, params=rest)
        if progress:
            progress(k + 1, len(layers))
    for p in chip.parameters():
        p.requires_grad_(True)
    chip.eval()
    return chip


def monte_carlo(
    model: nn.Module,
    config: Config | str,
    x: torch.Tensor,
    y: torch.Tensor,
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    ages_s: Sequence[float] = (1.0, 86400.0),
    calibration: torch.Tensor | None = None,
    kelvin: float | None = None,
) -> dict[float, dict[str, Any]]:
    """Accuracy of ``model`` on the chip over programming seeds: {age: {mean, std, runs}} in %.

    A float model is converted per seed; an already converted model is re-programmed per seed
    (its calibration is kept).
    """
    runs: dict[float, list[float]] = {t: [] for t in ages_s}
    converted = bool(analog_layers(model))
    for seed in seeds:
        chip = model if converted else convert(model, config)
        for m in (m for _, m in analog_layers(chip)):
            m.program(seed)
        if not converted:
            cal = x[:1000] if calibration is None else calibration
            calibrate(chip, cal.split(500))
        t_prev = 0.0
        for t in sorted(ages_s):
            for _, m in analog_layers(chip):
                m.age(t - t_prev, kelvin)
            t_prev = t
            runs[t].append(evaluate(chip, x, y))
    return {
        t: {"mean": statistics.fmean(r), "std": statistics.stdev(r) if len(r) > 1 else 0.0, "runs": r}
        for t, r in runs.items()
    }
