"""A sweep's table seen: metrics against each axis with seed error bands, the Pareto front of
accuracy, energy per inference and area (non-dominated points marked), and an HTML report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from reram.report import write_csv, write_html_report
from reram.report.plots import plt, save_figure
from reram.sweep.runner import read_results

OBJECTIVES = {"accuracy_pct": "max", "energy_per_inference_J": "min", "area_mm2": "min"}


def pareto_mask(values: np.ndarray, senses: list[str]) -> np.ndarray:
    """True for the rows no other row dominates (at least as good in every objective, better in one)."""
    v = np.where(np.array(senses) == "max", -values, values)  # all to minimise
    keep = np.ones(len(v), dtype=bool)
    for i in range(len(v)):
        others = np.delete(v, i, axis=0)
        dominated = np.all(others <= v[i], axis=1) & np.any(others < v[i], axis=1)
        keep[i] = not bool(dominated.any())
    return keep


def _by_point(df: Any, axes: list[str], metrics: list[str]) -> Any:
    """Mean and std over seeds of each metric per combination of the axes."""
    if not axes:
        return df[metrics].agg(["mean", "std"]).T.reset_index()
    g = df.groupby(axes, dropna=False)[metrics]
    mean, std = g.mean().add_suffix(""), g.std().add_suffix("_std")
    return mean.join(std).reset_index()


def write_sweep_report(out: Path, folder: Path | None = None) -> Path:
    """Plots, the Pareto table (CSV) and ``sweep_report.html`` of the rows in ``out`` (into ``folder``).

    Raises:
        ValueError: if ``out`` holds no finished rows.

    """
    folder = folder or out / "report"
    folder.mkdir(parents=True, exist_ok=True)
    df = read_results(out)
    if df.empty or "status" not in df or not (df["status"] == "ok").any():
        raise ValueError(f"{out}/results holds no finished points: run the sweep first")
    failed = int((df["status"] != "ok").sum())
    ok = df[df["status"] == "ok"]
    axes = [c for c in ok.columns if c.startswith("axis:")]
    numeric = [c for c in ok.columns if c not in axes and c not in ("seed", "wall_s") and ok[c].dtype.kind in "fi"]
    metrics = [m for m in (*OBJECTIVES, "tops_per_w", "latency_s") if m in numeric] or numeric[:4]
    table = _by_point(ok, axes, metrics)
    pngs = []
    for axis in axes:
        others = [a for a in axes if a != axis]
        fig, panels = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.4), squeeze=False)
        for ax, metric in zip(panels[0], metrics, strict=True):
            groups = table.groupby(others, dropna=False) if others else [((), table)]
            for n, (label, sub) in enumerate(groups):
                if n == 8:
                    break
                sub = sub.sort_values(axis)
                x, y = sub[axis].to_numpy(), sub[metric].to_numpy(dtype=float)
                err = sub.get(f"{metric}_std")
                name = ", ".join(str(v) for v in (label if isinstance(label, tuple) else (label,)))
                ax.plot(x, y, "o-", ms=3, label=name if others else None)
                if err is not None:
                    e = np.nan_to_num(err.to_numpy(dtype=float))
                    ax.fill_between(x, y - e, y + e, alpha=0.2)
            ax.set_xlabel(axis.removeprefix("axis:"))
            ax.set_ylabel(metric)
        if others:
            panels[0][0].legend(fontsize=6, title=", ".join(a.removeprefix("axis:") for a in others), title_fontsize=6)
        pngs.append(save_figure(fig, folder / f"sweep_{axis.removeprefix('axis:').replace('.', '_')}.png"))
    objectives = [m for m in OBJECTIVES if m in table]
    front_rows: list[dict[str, Any]] = []
    if len(objectives) >= 2:
        vals = table[objectives].to_numpy(dtype=float)
        mask = pareto_mask(vals, [OBJECTIVES[m] for m in objectives])
        table["pareto"] = mask
        front_rows = table[mask].sort_values(objectives[0]).to_dict("records")
        x_m, y_m = ("energy_per_inference_J", "accuracy_pct") if "accuracy_pct" in objectives else objectives[:2]
        fig, ax = plt.subplots(figsize=(5.5, 4))
        ax.scatter(table[x_m], table[y_m], s=14, c="0.6", label="points")
        ax.scatter(table[x_m][mask], table[y_m][mask], s=30, c="C3", label="Pareto front")
        ax.set_xscale("log")
        ax.set_xlabel(x_m)
        ax.set_ylabel(y_m)
        ax.legend()
        pngs.append(save_figure(fig, folder / "sweep_pareto.png"))
    write_csv(folder / "sweep_points.csv", table.to_dict("records"))
    write_csv(folder / "sweep_pareto.csv", front_rows)
    intro = [f"{len(df)} rows ({failed} failed) from {out / 'results'}; mean and std over seeds per point.",
             "Pareto front: the points no other point beats in every objective at once ("
             + ", ".join(f"{m} {s}" for m, s in OBJECTIVES.items() if m in objectives) + ")."]  # fmt: skip
    sections = [("Pareto front", front_rows), ("Every point (mean over seeds)", table.to_dict("records"))]
    if failed:
        sections.append(("Failed points", df[df["status"] != "ok"][["key", *axes, "error"]].to_dict("records")))
    return write_html_report(folder / "sweep_report.html", "reram sweep", sections, pngs, intro)
