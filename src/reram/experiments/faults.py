"""Faults x fault tolerance: accuracy under stuck cells, with each remedy a chip can apply, and its cost.

Each condition is a rate of stuck cells of one kind (stuck-at-low, stuck-at-high, mixed: half
each) in one pattern (independent cells, whole rows, whole columns, whole arrays: a dead core;
``device.stuck_pattern``). For each programming seed the job's network is put on the chip with
those faults and evaluated with each method:

- "none": programmed, the verify read's failures left as they are;
- "spare rows" / "spare columns": ``SPARES`` spare weight lines per array (``array.spare_rows``
  / ``spare_cols``): a line with a failed cell is written onto a spare;
- "pair repair": the stuck cell's differential partner re-programmed (``array.pair_repair``);
- "fine-tuning": fault-aware fine-tuning (``reram.train.fault_aware_finetune``, one epoch on
  ``FINETUNE_SAMPLES`` training images): the healthy weights trained around the known faults,
  the chip programmed again;
- "pair repair + fine-tuning": both.

Every method's cost comes with it: the core area (the cost model's, spares included) over the
fault-free design's, the programming energy and time (the write-verify pulses counted,
``reram.cost.programming_cost``), and for fine-tuning its epochs. The verify read's detection is
reported too: the stuck cells it flagged (a stuck cell whose target equals its stuck value does
no harm and passes). Points go to ``faults.json`` as they finish (resumable).
"""

from __future__ import annotations

import dataclasses
import json
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

import reram
from reram.config import Config
from reram.cost import CircuitCosts, programming_cost
from reram.data import Dataset
from reram.experiments.job import Progress
from reram.report import write_json
from reram.train import evaluate, fault_aware_finetune

SPARES = 8  # spare weight lines per array for the sparing methods
FINETUNE_SAMPLES = 12000  # training images of one fault-aware fine-tuning epoch
METHODS = ("none", "spare rows", "spare columns", "pair repair", "fine-tuning", "pair repair + fine-tuning")
KINDS = ("low", "high", "mixed")


@dataclasses.dataclass(frozen=True)
class FaultCondition:
    """A rate (fraction of cells, or of the lines/arrays that fail whole) of one kind in one pattern."""

    rate: float
    kind: str = "high"
    pattern: str = "cells"

    @property
    def key(self) -> str:
        """A stable name for resuming."""
        return f"{self.pattern}-{self.kind}-{self.rate:g}"

    def device_override(self) -> dict[str, Any]:
        """The ``device`` keys that put these faults on the chip."""
        low = {"low": self.rate, "high": 0.0, "mixed": self.rate / 2}[self.kind]
        return {"stuck_low_rate": low, "stuck_high_rate": self.rate - low, "stuck_pattern": self.pattern}


def full_conditions() -> list[FaultCondition]:
    """Random stuck cells 0-10 % of each kind, and clustered faults at 5 %."""
    out = [FaultCondition(0.0)]
    out += [FaultCondition(r, k) for k in KINDS for r in (0.01, 0.02, 0.05, 0.10)]
    out += [FaultCondition(0.05, "mixed", "rows"), FaultCondition(0.05, "mixed", "columns"),
            FaultCondition(0.05, "low", "arrays")]  # fmt: skip
    return out


def quick_conditions() -> list[FaultCondition]:
    """The conditions the done criterion and the clustered patterns need."""
    return [FaultCondition(0.0), FaultCondition(0.05, "high"), FaultCondition(0.05, "mixed", "rows"),
            FaultCondition(0.05, "mixed", "columns")]  # fmt: skip


def _method_config(cfg: Config, method: str) -> Config:
    arr: dict[str, Any] = {}
    if method == "spare rows":
        arr["spare_rows"] = SPARES
    elif method == "spare columns":
        arr["spare_cols"] = SPARES
    elif method.startswith("pair repair"):
        arr["pair_repair"] = True
    return reram.override(cfg, {"array": arr}) if arr else cfg


def _detection(chip: nn.Module) -> dict[str, int]:
    stuck = flagged = 0
    for _, m in reram.analog_layers(chip):
        used = m.target_conductances() > 0
        stuck += int((m.frozen & used).sum())
        flagged += m.program_failures
    return {"stuck_cells": stuck, "flagged_cells": flagged}


def _one(model: nn.Module, cfg: Config, method: str, data: Dataset, x_cal: torch.Tensor, epochs: int,
         dev: torch.device) -> dict[str, Any]:  # fmt: skip
    chip = reram.convert(model, _method_config(cfg, method)).to(dev)
    chip.program()  # type: ignore[operator]
    reram.calibrate(chip, x_cal.split(500))
    found: dict[str, Any] = dict(_detection(chip))
    if method.endswith("fine-tuning"):
        n = FINETUNE_SAMPLES
        fault_aware_finetune(chip, data.x_train[:n], data.y_train[:n], epochs=epochs, lr=3e-4, seed=cfg.seed,
                             calibration=x_cal)  # fmt: skip
    prog = programming_cost(chip)
    if method.endswith("fine-tuning"):  # programmed twice: before (to find the faults) and after
        prog = {**prog, "energy_J": 2 * prog["energy_J"], "time_s": 2 * prog["time_s"]}
    found.update({"accuracy_pct": evaluate(chip, data.x_test, data.y_test), "program_energy_J": prog["energy_J"],
                  "program_time_s": prog["time_s"], "pulses_per_cell": prog["pulses_per_cell"]})  # fmt: skip
    return found


def run_faults(
    model: nn.Module,
    config: Config,
    data: Dataset,
    x_cal: torch.Tensor,
    out: Path,
    seeds: int,
    conditions: Sequence[FaultCondition],
    methods: Sequence[str] = METHODS,
    epochs: int = 1,
    device: str = "cpu",
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """Run the faults x methods grid; write ``faults.json`` point by point; return the summary table."""
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"methods = {unknown!r} are unknown: allowed is a subset of {', '.join(METHODS)}")
    tick: Progress = progress or (lambda stage, done, total: None)
    path = out / "faults.json"
    done: dict[str, dict[str, Any]] = {}
    if path.exists():
        done = {p["key"]: p for p in json.loads(path.read_text()).get("points", [])}
    dev = torch.device(device)
    todo = [(s, c, m) for s in range(seeds) for c in conditions for m in (methods if c.rate else ("none",))]
    for i, (s, cond, method) in enumerate(todo):
        key = f"s{s}-{cond.key}-{method}"
        if key not in done:
            cfg = reram.override(dataclasses.replace(config, seed=config.seed + s), {"device": cond.device_override()})
            row = {"key": key, "seed": s, **dataclasses.asdict(cond), "method": method}
            done[key] = {**row, **_one(model, cfg, method, data, x_cal, epochs, dev)}
            write_json(path, {"points": list(done.values())})
        tick("faults", i + 1, len(todo))
    points = [done[f"s{s}-{c.key}-{m}"] for s, c, m in todo]
    table = summarize_faults(points, config)
    write_json(path, {"table": table, "points": points})
    return table


def method_area_ratio(config: Config, method: str) -> float:
    """The core area with the method's spares over the design's without (cost model)."""
    return CircuitCosts.of(_method_config(config, method)).core_area_m2 / CircuitCosts.of(config).core_area_m2


def summarize_faults(points: list[dict[str, Any]], config: Config) -> list[dict[str, Any]]:
    """Mean and std over seeds per (condition, method), with the accuracy recovered and the cost."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for p in points:
        groups.setdefault((p["pattern"], p["kind"], p["rate"], p["method"]), []).append(p)
    clean = [p["accuracy_pct"] for p in points if p["rate"] == 0]
    clean_pct = statistics.fmean(clean) if clean else float("nan")
    none_of = {k[:3]: statistics.fmean(p["accuracy_pct"] for p in v) for k, v in groups.items() if k[3] == "none"}
    rows = []
    for (pattern, kind, rate, method), ps in groups.items():
        acc = [p["accuracy_pct"] for p in ps]
        mean = statistics.fmean(acc)
        base = none_of.get((pattern, kind, rate), float("nan"))
        lost = clean_pct - base
        rows.append({
            "pattern": pattern, "kind": kind, "rate_pct": 100 * rate, "method": method,
            "accuracy_pct": mean, "std_pct": statistics.stdev(acc) if len(acc) > 1 else 0.0, "seeds": len(acc),
            "recovered_pct_of_loss": 100 * (mean - base) / lost if lost > 0.5 else None,  # no loss to recover
            "area_ratio": method_area_ratio(config, method),
            "program_energy_J": statistics.fmean(p["program_energy_J"] for p in ps),
            "program_time_s": statistics.fmean(p["program_time_s"] for p in ps),
            "stuck_cells": statistics.fmean(p["stuck_cells"] for p in ps),
            "flagged_cells": statistics.fmean(p["flagged_cells"] for p in ps),
        })  # fmt: skip
    return rows
