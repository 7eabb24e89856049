"""Reliability over time, temperature and read voltage, with the corrections a chip can apply.

The job's network is trained once (cached), then for each programming seed put on the chip,
programmed at the reference temperature and calibrated, and a drift reference stored
(``reram.store_drift_reference``). For each storage/operating temperature (25, 55, 85, 125 °C)
a copy ages through 1 s ... 10 years at that temperature (Arrhenius-accelerated relaxation and
drift) and is read at it (the conductances' temperature coefficient), and is evaluated as it is
and with each correction:

- "none": as programmed and calibrated;
- "global": global drift compensation (one factor per layer from its reference read);
- "column": per-column drift compensation;
- "recalibrated": the ADC and input ranges re-calibrated on data (``reram.calibrate``).

Also: the read voltage 10 % low and high (supply droop) after 1 day at 25 °C, and reads at each
temperature 1 s after programming at 25 °C (the temperature at read apart from ageing). Points
are written to ``reliability.json`` as they finish, so an interrupted study resumes; a table of
multi-level retention error rates (``reram.device.bit_error_rate``) comes with it.
"""

from __future__ import annotations

import copy
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
from reram.data import load_dataset
from reram.device import bit_error_rate
from reram.experiments.job import JobConfig, Progress, age_label, train_cached
from reram.report import plots, write_csv, write_html_report, write_json
from reram.train import evaluate

TIMES_S = (1.0, 60.0, 3600.0, 86400.0, 7 * 86400.0, 30 * 86400.0, 365 * 86400.0, 3650 * 86400.0)
TEMPERATURES_C = (25.0, 55.0, 85.0, 125.0)
METHODS = ("none", "global", "column", "recalibrated")
VOLTAGE_FACTORS = (0.9, 1.1)


def _kelvin(celsius: float) -> float:
    return celsius + 273.15


def with_read_voltage(chip: nn.Module, factor: float) -> nn.Module:
    """A copy of ``chip`` whose reads run at ``factor`` x the nominal read voltage (its programming
    and calibration, done at nominal, kept): what a supply droop or overshoot does.
    """
    out = copy.deepcopy(chip)
    for _, m in reram.analog_layers(out):
        arr = m.config.array
        m.config = dataclasses.replace(m.config, array=dataclasses.replace(arr, v_read_V=arr.v_read_V * factor))
    return out


def _same_noise(chip: nn.Module) -> None:
    """Restart every layer's read-noise stream, so that each correction is read with the same draws."""
    for _, m in reram.analog_layers(chip):
        m._gens.pop(1, None)


def _evaluate_methods(chip: nn.Module, data: Any, x_cal: torch.Tensor, methods: Sequence[str]) -> dict[str, float]:
    found = {}
    for method in methods:
        if method == "recalibrated":
            tuned = copy.deepcopy(chip)
            reram.calibrate(tuned, x_cal.split(500))
            _same_noise(tuned)
            found[method] = evaluate(tuned, data.x_test, data.y_test)
            continue
        if method != "none":
            reram.compensate_drift(chip, per_column=method == "column")
        _same_noise(chip)
        found[method] = evaluate(chip, data.x_test, data.y_test)
        for _, m in reram.analog_layers(chip):  # back to uncompensated for the next method
            m.out_scale.fill_(1.0)
            m.compensated = False
    return found


def run_reliability(
    job: JobConfig,
    config: Config,
    out: Path,
    seeds: int = 3,
    times_s: Sequence[float] = TIMES_S,
    temperatures_c: Sequence[float] = TEMPERATURES_C,
    methods: Sequence[str] = METHODS,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Run the study (see the module docstring); write JSON, CSV, figures and an HTML report into ``out``."""
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"methods = {unknown!r} are unknown: allowed is a subset of {', '.join(METHODS)}")
    out.mkdir(parents=True, exist_ok=True)
    tick: Progress = progress or (lambda stage, done, total: None)
    data = load_dataset(job.dataset, job.data_dir or None).subset(job.train_samples or None, job.test_samples or None)
    dev = torch.device(job.device)
    model = train_cached(job, config.seed, data, out, tick)
    float_acc = evaluate(model, data.x_test, data.y_test)
    x_cal = data.x_train[: job.calibration_samples].to(dev)
    path = out / "reliability.json"
    done: dict[str, dict[str, Any]] = {}
    if path.exists():
        done = {p["key"]: p for p in json.loads(path.read_text()).get("points", [])}
    total = seeds * (len(temperatures_c) * len(times_s) + len(VOLTAGE_FACTORS) + len(temperatures_c))
    count = 0

    def record(key: str, row: dict[str, Any], compute: Any) -> None:
        if key not in done:
            done[key] = {"key": key, **row, "accuracy_pct": compute()}
            write_json(path, {"float_pct": float_acc, "points": list(done.values())})

    def step() -> None:
        nonlocal count
        count += 1
        tick("reliability", count, total)

    for s in range(seeds):
        cfg = dataclasses.replace(config, seed=config.seed + s)
        chip0 = reram.convert(model, cfg).to(dev)
        chip0.program()  # type: ignore[operator]
        reram.calibrate(chip0, x_cal.split(500))
        reram.store_drift_reference(chip0, inputs=x_cal[:64])  # known inputs: data-like, kept digitally
        for t_c in temperatures_c:
            chip = copy.deepcopy(chip0)
            reram.read_temperature(chip, _kelvin(t_c))
            t_prev = 0.0
            for t in times_s:
                reram.age(chip, t - t_prev, _kelvin(t_c))
                t_prev = t
                todo = [m for m in methods if f"s{s}-T{t_c:g}-t{t:g}-{m}" not in done]
                res = _evaluate_methods(chip, data, x_cal, todo) if todo else {}
                for m in methods:
                    row = {"study": "age", "seed": s, "temperature_C": t_c, "age_s": t, "method": m}
                    record(f"s{s}-T{t_c:g}-t{t:g}-{m}", row, lambda m=m, res=res: res[m])
                step()
        day = copy.deepcopy(chip0)
        reram.age(day, 86400.0, _kelvin(25.0))
        for f in VOLTAGE_FACTORS:
            row = {"study": "read voltage", "seed": s, "temperature_C": 25.0, "age_s": 86400.0, "method": "none",
                   "v_read_factor": f}  # fmt: skip
            droop = with_read_voltage(day, f)
            record(f"s{s}-v{f:g}", row, lambda droop=droop: evaluate(droop, data.x_test, data.y_test))
            step()
        fresh = copy.deepcopy(chip0)
        reram.age(fresh, 1.0, _kelvin(25.0))
        for t_c in temperatures_c:
            row = {"study": "read temperature", "seed": s, "temperature_C": t_c, "age_s": 1.0, "method": "none"}

            def read_hot(t_c: float = t_c, fresh: nn.Module = fresh) -> float:
                reram.read_temperature(fresh, _kelvin(t_c))
                return evaluate(fresh, data.x_test, data.y_test)

            record(f"s{s}-r{t_c:g}", row, read_hot)
            step()
    points = list(done.values())
    table = summarize(points)
    ber = [{"bits_per_cell": b, "temperature_C": t_c, "age_s": t,
            "bit_error_rate": bit_error_rate(config.device, b, t, _kelvin(t_c))}
           for b in (2, 3) for t_c in temperatures_c for t in times_s]  # fmt: skip
    summary = {"float_pct": float_acc, "preset": config.name, "model": job.model, "dataset": job.dataset,
               "seeds": seeds, "table": table, "retention_ber": ber, "points": points}  # fmt: skip
    write_json(path, summary)
    write_csv(out / "reliability.csv", table)
    write_csv(out / "retention_ber.csv", ber)
    ages = [r for r in table if r["study"] == "age"]
    pngs = [plots.reliability_heatmap(ages, "none", out / "reliability_heatmap.png"),
            plots.reliability_curves(ages, float_acc, out / "reliability_curves.png")]  # fmt: skip
    intro = [
        f"{job.model} on {job.dataset}, preset {config.name!r}, float accuracy {float_acc:.2f} %, "
        f"mean ± std over {seeds} programming seeds. The chip is programmed and calibrated at "
        f"{config.device.t_ref_K:g} K, then stored and read at each temperature; ageing is the "
        "relaxation model's (Arrhenius-accelerated spread and drift), reading the conductances' "
        "temperature coefficient. Corrections: global and per-column drift compensation from a "
        "reference read per layer, and ADC/input-range re-calibration on data.",
        "Retention error rates are the probability that a cell of 2 or 3 bits reads in a "
        "neighbouring level after that time at that temperature (Gray code: one bit per level).",
    ]
    write_html_report(out / "reliability_report.html", f"Reliability of {job.model} on {config.name!r}",
                      [("Accuracy (mean ± std over seeds)", table), ("Retention bit error rate", ber)], pngs,
                      intro)  # fmt: skip
    return summary


def summarize(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean and std over seeds of each (study, temperature, age, method, read-voltage) condition."""
    groups: dict[tuple[Any, ...], list[float]] = {}
    for p in points:
        key = (p["study"], p["temperature_C"], p["age_s"], p["method"], p.get("v_read_factor", 1.0))
        groups.setdefault(key, []).append(float(p["accuracy_pct"]))
    rows = []
    for (study, t_c, t, method, f), accs in groups.items():
        rows.append({"study": study, "temperature_C": t_c, "age_s": t, "age": age_label(t), "method": method,
                     "v_read_factor": f, "accuracy_pct": statistics.fmean(accs),
                     "std_pct": statistics.stdev(accs) if len(accs) > 1 else 0.0, "seeds": len(accs)})  # fmt: skip
    return rows
