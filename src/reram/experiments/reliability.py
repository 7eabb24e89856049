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

From the curves, the maintenance over 10 years (:func:`maintenance`): a refresh policy that
re-programs the chip when its predicted accuracy (this study's curve at that temperature, with
that correction) would fall below ``refresh_margin_pct`` under its accuracy 1 s after
programming, with the energy and time of the refreshes (the write-verify pulses counted,
``reram.cost.programming_cost``) and of the corrections (their reads, priced per inference by
the cost model) at one correction per ``COMPENSATION_PERIOD_S``.

Also: the read voltage 10 % low and high (supply droop) after 1 day at 25 °C, and reads at each
temperature 1 s after programming at 25 °C (the temperature at read apart from ageing). Points
are written to ``reliability.json`` as they finish, so an interrupted study resumes; a table of
multi-level retention error rates (``reram.device.bit_error_rate``) comes with it, and the faults x
fault-tolerance table (``reram.experiments.faults``) when asked for.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

import reram
from reram.config import Config, OnChipJob, load_config
from reram.cost import cost_of_run, programming_cost
from reram.data import load_dataset
from reram.device import bit_error_rate
from reram.experiments.endurance import BUDGETS, READS, run_endurance, run_read_disturb
from reram.experiments.faults import FaultCondition, run_faults
from reram.experiments.job import JobConfig, Progress, age_label, train_cached
from reram.report import plots, write_csv, write_html_report, write_json
from reram.train import evaluate

TIMES_S = (1.0, 60.0, 3600.0, 86400.0, 7 * 86400.0, 30 * 86400.0, 365 * 86400.0, 3650 * 86400.0)
QUICK_TIMES_S = (1.0, 3600.0, 86400.0, 30 * 86400.0, 365 * 86400.0, 3650 * 86400.0)  # ``--quick``
TEMPERATURES_C = (25.0, 55.0, 85.0, 125.0)
METHODS = ("none", "global", "column", "recalibrated")
VOLTAGE_FACTORS = (0.9, 1.1)
TEN_YEARS_S = 3650 * 86400.0
COMPENSATION_PERIOD_S = 86400.0  # one drift compensation (or re-calibration) a day
REFERENCE_READS = {"none": 0, "global": 64, "column": 64}  # known inputs read per compensation


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


def evaluate_methods(chip: nn.Module, data: Any, x_cal: torch.Tensor, methods: Sequence[str]) -> dict[str, float]:
    """Test accuracy (%) of ``chip`` under each drift correction of ``methods`` (see ``METHODS``):
    each read with the same noise draws; the chip is left uncompensated afterwards.
    """
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
    faults: Sequence[FaultCondition] = (),
    fault_seeds: int | None = None,
    refresh_margin_pct: float = 1.0,
    endurance_job: OnChipJob | None = None,
    endurance_preset: str = "hfo2",
) -> dict[str, Any]:
    """Run the study (see the module docstring); write JSON, CSV, figures and an HTML report into ``out``.

    Args:
        faults: fault conditions for the faults x methods table (empty: none).
        fault_seeds: programming seeds of the faults table (default ``seeds``).
        refresh_margin_pct: the refresh policy's bound, in accuracy points under 1 s.
        endurance_job: the on-chip training of the endurance table (None: no table).
        endurance_preset: the on-chip training device of the endurance table.

    """
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
    if endurance_job is not None:
        total += len(BUDGETS) * endurance_job.epochs
    count = 0

    def record(key: str, row: dict[str, Any], compute: Any) -> None:
        if key not in done:
            done[key] = {"key": key, **row, "accuracy_pct": compute()}
            write_json(path, {"float_pct": float_acc, "points": list(done.values())})

    def step() -> None:
        nonlocal count
        count += 1
        tick("reliability", count, total)

    upkeep: dict[str, float] = {}
    for s in range(seeds):
        cfg = dataclasses.replace(config, seed=config.seed + s)
        chip0 = reram.convert(model, cfg).to(dev)
        chip0.program()  # type: ignore[operator]
        reram.calibrate(chip0, x_cal.split(500))
        reram.store_drift_reference(chip0, inputs=x_cal[: REFERENCE_READS["global"]])  # known, data-like inputs
        if s == 0:
            upkeep = _upkeep_costs(chip0, x_cal)
        for t_c in temperatures_c:
            chip = copy.deepcopy(chip0)
            reram.read_temperature(chip, _kelvin(t_c))
            t_prev = 0.0
            for t in times_s:
                reram.age(chip, t - t_prev, _kelvin(t_c))
                t_prev = t
                todo = [m for m in methods if f"s{s}-T{t_c:g}-t{t:g}-{m}" not in done]
                res = evaluate_methods(chip, data, x_cal, todo) if todo else {}
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
        if config.device.read_disturb_per_decade and any(f"s{s}-d{n:g}" not in done for n in READS):
            disturbed = {r["inferences"]: r for r in run_read_disturb(fresh, data)}
            for n in READS:
                row = {"study": "read disturb", "seed": s, "temperature_C": 25.0, "age_s": 1.0, "method": "none",
                       "inferences": n, "read_stress_s": disturbed[n]["read_stress_s"]}  # fmt: skip
                record(f"s{s}-d{n:g}", row, lambda acc=disturbed[n]["accuracy_pct"]: acc)
        for t_c in temperatures_c:
            row = {"study": "read temperature", "seed": s, "temperature_C": t_c, "age_s": 1.0, "method": "none"}

            def read_hot(t_c: float = t_c, fresh: nn.Module = fresh) -> float:
                reram.read_temperature(fresh, _kelvin(t_c))
                return evaluate(fresh, data.x_test, data.y_test)

            record(f"s{s}-r{t_c:g}", row, read_hot)
            step()
    points = list(done.values())
    table = summarize(points)
    upkeep = upkeep or _upkeep_costs(_programmed(model, config, dev, x_cal), x_cal)
    plan = maintenance(table, upkeep, refresh_margin_pct)
    wear: list[dict[str, Any]] = []
    if endurance_job is not None:
        wear_path = out / "endurance.json"
        if wear_path.exists():
            wear = json.loads(wear_path.read_text())["table"]
        else:
            ej = endurance_job
            wear_data = load_dataset(ej.dataset, ej.data_dir or None).subset(ej.train_samples or None,
                                                                             ej.test_samples or None)  # fmt: skip
            steps = iter(range(1, total + 1))
            wear = run_endurance(wear_data, load_config(endurance_preset), ej,
                                 tick=lambda: tick("endurance", count + next(steps), total))  # fmt: skip
            write_json(wear_path, {"preset": endurance_preset, "job": dataclasses.asdict(ej), "table": wear})
        write_csv(out / "endurance.csv", wear)
    fault_table: list[dict[str, Any]] = []
    if faults:
        fault_table = run_faults(model, config, data, x_cal, out, fault_seeds or seeds, faults, device=job.device,
                                 progress=tick)  # fmt: skip
        write_csv(out / "faults.csv", fault_table)
    ber = [{"bits_per_cell": b, "temperature_C": t_c, "age_s": t,
            "bit_error_rate": bit_error_rate(config.device, b, t, _kelvin(t_c))}
           for b in (2, 3) for t_c in temperatures_c for t in times_s]  # fmt: skip
    summary = {"float_pct": float_acc, "preset": config.name, "model": job.model, "dataset": job.dataset,
               "seeds": seeds, "table": table, "retention_ber": ber, "maintenance": plan, "upkeep_costs": upkeep,
               "faults": fault_table, "endurance": wear, "endurance_preset": endurance_preset,
               "read_disturb": [r for r in table if r["study"] == "read disturb"], "points": points}  # fmt: skip
    write_json(path, summary)
    write_csv(out / "reliability.csv", table)
    write_csv(out / "maintenance.csv", plan)
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
        f"Maintenance over 10 years: the chip is re-programmed whenever this study predicts its accuracy "
        f"would fall more than {refresh_margin_pct:g} points under its accuracy 1 s after programming "
        "(at that temperature, with that correction); each correction runs once a day. Energies: the "
        f"counted write-verify pulses of one programming ({upkeep['program_energy_J']:.3g} J, "
        f"{upkeep['program_time_s']:.3g} s) and the corrections' reads at the cost model's "
        f"{upkeep['inference_energy_J']:.3g} J per inference.",
    ]
    sections = [("Accuracy (mean ± std over seeds)", table), ("Maintenance over 10 years", plan),
                ("Retention bit error rate", ber)]  # fmt: skip
    if wear:
        intro.append(
            f"Endurance: an MLP trained on the chip ({endurance_preset!r}, on-chip SGD) with each budget "
            "of update pulses per cell before its window narrows (0: unlimited); accuracy after every "
            "epoch, and at the end the pulses per cell and the share of the window left."
        )
        sections.append(("Endurance in on-chip training", wear))
    if any(r["study"] == "read disturb" for r in table):
        intro.append(
            "Read disturb: the chip read 10^3 to 10^9 more times (inferences) 1 s after programming; "
            "each read's stress follows the device's read-disturb model (reram.device.disturb)."
        )
    if fault_table:
        intro.append(
            "Faults: accuracy under stuck cells (random at each rate, clustered whole rows, columns or "
            "arrays) with each fault-tolerance method; recovered = share of the accuracy the faults "
            "cost that the method wins back; area = core area with the method's spares over without; "
            "programming energy counts the verify loop's pulses (fine-tuning programs twice)."
        )
        sections.insert(1, ("Faults x fault tolerance", fault_table))
    write_html_report(out / "reliability_report.html", f"Reliability of {job.model} on {config.name!r}",
                      sections, pngs, intro)  # fmt: skip
    return summary


def summarize(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean and std over seeds of each (study, temperature, age, method, read-voltage) condition."""
    groups: dict[tuple[Any, ...], list[float]] = {}
    for p in points:
        key = (p["study"], p["temperature_C"], p["age_s"], p["method"], p.get("v_read_factor", 1.0),
               p.get("inferences", 0.0))  # fmt: skip
        groups.setdefault(key, []).append(float(p["accuracy_pct"]))
    rows = []
    for (study, t_c, t, method, f, n), accs in groups.items():
        rows.append({"study": study, "temperature_C": t_c, "age_s": t, "age": age_label(t), "method": method,
                     "v_read_factor": f, "inferences": n, "accuracy_pct": statistics.fmean(accs),
                     "std_pct": statistics.stdev(accs) if len(accs) > 1 else 0.0, "seeds": len(accs)})  # fmt: skip
    return rows


def _programmed(model: nn.Module, config: Config, dev: torch.device, x_cal: torch.Tensor) -> nn.Module:
    chip = reram.convert(model, config).to(dev)
    chip.program()  # type: ignore[operator]
    reram.calibrate(chip, x_cal.split(500))
    return chip


def _upkeep_costs(chip: nn.Module, x_cal: torch.Tensor) -> dict[str, float]:
    """One programming's energy and time, and the energy of one inference (the corrections' reads)."""
    prog = programming_cost(chip)
    probe = copy.deepcopy(chip)
    reram.reset_events(probe)
    with torch.no_grad():
        probe(x_cal[:16])
    _, report = cost_of_run(probe)
    return {"program_energy_J": prog["energy_J"], "program_time_s": prog["time_s"],
            "inference_energy_J": report.total_energy_J, "calibration_reads": float(len(x_cal))}  # fmt: skip


def maintenance(table: list[dict[str, Any]], upkeep: dict[str, float], margin_pct: float = 1.0,
                period_s: float = COMPENSATION_PERIOD_S) -> list[dict[str, Any]]:  # fmt: skip
    """The refresh policy and the energy of keeping the chip accurate for 10 years, per
    temperature and correction (see the module docstring).

    The predicted accuracy is the study's mean curve made non-increasing in time (isotonic
    regression on log time: the seeds' and test images' noise removed, not the physics). The
    bound is the uncorrected prediction 1 s after programming at that temperature minus
    ``margin_pct``; the chip is refreshed at the last time of the grid before the prediction
    first falls under it, never if it holds for 10 years. Where it falls already at the grid's
    second time the policy is not resolved by the grid (``feasible`` false): refreshing at the
    first grid time is then an optimistic bound on the cost.
    """
    from sklearn.isotonic import IsotonicRegression

    ages = [r for r in table if r["study"] == "age"]
    out = []
    for t_c in sorted({r["temperature_C"] for r in ages}):
        at = [r for r in ages if r["temperature_C"] == t_c]
        curves = {m: sorted((r["age_s"], r["accuracy_pct"]) for r in at if r["method"] == m)
                  for m in sorted({r["method"] for r in at}, key=METHODS.index)}  # fmt: skip
        predicted = {}
        for m, curve in curves.items():
            fit = IsotonicRegression(increasing=False).fit([math.log10(t) for t, _ in curve], [a for _, a in curve])
            predicted[m] = [float(v) for v in fit.predict([math.log10(t) for t, _ in curve])]
        if "none" not in predicted:
            continue
        bound = predicted["none"][0] - margin_pct
        for method, curve in curves.items():
            below = next((i for i, a in enumerate(predicted[method]) if a < bound), None)
            interval = TEN_YEARS_S if below is None else curve[max(0, below - 1)][0]
            refreshes = 0 if below is None else int(TEN_YEARS_S // interval)
            kept = [a for t, a in curve if t <= interval]
            corrections = 0 if method == "none" else int(TEN_YEARS_S // period_s)
            reads = upkeep["calibration_reads"] if method == "recalibrated" else REFERENCE_READS.get(method, 0)
            refresh_J = refreshes * upkeep["program_energy_J"]
            correct_J = corrections * reads * upkeep["inference_energy_J"]
            out.append({"temperature_C": t_c, "method": method, "bound_pct": bound,
                        "refresh_interval_s": interval if below is not None else None,
                        "refresh_interval": age_label(interval) if below is not None else "never",
                        "feasible": below is None or below > 1,
                        "refreshes_10y": refreshes, "min_accuracy_pct": min(kept) if kept else None,
                        "predicted_10y_pct": predicted[method][-1],
                        "refresh_energy_J": refresh_J, "refresh_time_s": refreshes * upkeep["program_time_s"],
                        "corrections_10y": corrections, "correction_energy_J": correct_J,
                        "total_energy_J": refresh_J + correct_J})  # fmt: skip
    return out
