"""Endurance in on-chip training, and read disturb in inference.

Endurance: an MLP is trained on the chip (``reram.nn.onchip``, ``AnalogSGD``) with the update
pulses each cell takes counted; beyond ``device.update.endurance_cycles`` pulses its window
narrows by ``endurance_narrowing`` per decade (``reram.device.update.window``). The study trains
the same network from the same start with several endurance budgets (unlimited first) and
reports the test accuracy after every epoch (the training budget), the pulses per cell and the
share of the window the cells have left. The narrowing depends on the pulses taken over the
budget alone, so a short training of ~10 pulses per cell against budgets of 10, 1 and 0.1 pulses
stands for a long one of 10^7 pulses per cell against budgets of 10^7, 10^6 and 10^5 cycles.

Read disturb: a programmed inference chip is read 10^3 ... 10^9 more times (inferences,
``reram.read_disturb``: each cell's reads per inference times a pulse duty of 0.5) and evaluated
after each; the device's read-disturb model (``reram.device.disturb``) says how far a cell moves.
"""

from __future__ import annotations

import copy
import dataclasses
import statistics
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

import reram
from reram.config import Config, OnChipJob, override
from reram.data import Dataset
from reram.device.update import window
from reram.experiments.onchip_table import _model, _onchip_config, _train
from reram.nn.onchip import to_onchip
from reram.train import evaluate
from reram.train.onchip import AnalogSGD

BUDGETS = (0.0, 10.0, 1.0, 0.1)  # update pulses per cell before the window narrows (0: unlimited)
READS = (0.0, 1e3, 1e5, 1e7, 1e9)  # inferences after programming


def _window_left(chip: nn.Module, cfg: Config) -> tuple[float | None, float]:
    """(mean update pulses per cell, None where not counted: no budget; mean share of the
    window left) over the chip's cells.
    """
    pulses, left = [], []
    for m in chip.modules():
        for cells in getattr(m, "cells", []):
            lo, hi = window(cells, cfg.device.update)
            width = (cells.hi - cells.lo).clamp_min(1e-12)
            left.append(float(((hi - lo) / width).mean()))
            pulses.append(float(cells.pulses.float().mean()))
    counted = cfg.device.update.endurance_cycles > 0 and pulses
    return (statistics.fmean(pulses) if counted else None, statistics.fmean(left) if left else 1.0)


def run_endurance(
    data: Dataset,
    config: Config,
    job: OnChipJob,
    scheme: str = "sgd",
    budgets: Sequence[float] = BUDGETS,
    tick: Callable[[], None] | None = None,
) -> list[dict[str, Any]]:
    """Train on chip per endurance budget; one row per (budget, epoch), mean over ``job.seeds`` seeds."""
    seeds = job.seeds
    classes, in_features = int(data.y_train.max()) + 1, int(data.x_train[0].numel())
    oc = _onchip_config(scheme, job)
    rows: list[dict[str, Any]] = []
    for budget in budgets:
        curves, worn = [], []
        for s in range(seeds):
            cfg = dataclasses.replace(override(config, {"device": {"update": {"endurance_cycles": budget}}}), seed=s)
            chip = to_onchip(_model(job, s, classes, in_features), cfg, oc.range_factor, oc.cells_per_weight,
                             oc.carry_base)  # fmt: skip
            curve, _ = _train(chip, AnalogSGD(chip.parameters(), oc), data, job, s, tick or (lambda: None))
            curves.append(curve)
            worn.append(_window_left(chip, cfg))
        for epoch in range(job.epochs):
            accs = [c[epoch] for c in curves]
            rows.append({"endurance_cycles": budget, "epoch": epoch + 1, "accuracy_pct": statistics.fmean(accs),
                         "std_pct": statistics.stdev(accs) if len(accs) > 1 else 0.0, "seeds": seeds})  # fmt: skip
        counts = [w[0] for w in worn if w[0] is not None]
        rows[-1]["pulses_per_cell"] = statistics.fmean(counts) if counts else None
        rows[-1]["window_left"] = statistics.fmean(w[1] for w in worn)
    return rows


def run_read_disturb(chip: nn.Module, data: Dataset, reads: Sequence[float] = READS) -> list[dict[str, Any]]:
    """Accuracy of a programmed chip (not modified) after ``reads`` more inferences each."""
    probe = copy.deepcopy(chip)
    with torch.no_grad():  # each layer sees its output positions once, for its reads per inference
        probe(data.x_test[:1])
    rows, done = [], 0.0
    for n in sorted(reads):
        reram.read_disturb(probe, n - done)
        done = n
        stress = max(float(m.read_stress_s) for _, m in reram.analog_layers(probe))
        rows.append({"inferences": n, "read_stress_s": stress, "accuracy_pct": evaluate(probe, data.x_test,
                                                                                         data.y_test)})  # fmt: skip
    return rows
