"""``reram explore``: multi-objective search over a sweep spec's axes with optuna, trials on Dask.

The spec is a sweep's (:mod:`reram.sweep.spec`); each axis becomes a categorical choice among its
values (lists, ranges and samples alike: the search picks among the grid's values, so its front
can be compared with the grid's point for point). Objectives are metrics of the job's row with a
direction (default: ``accuracy_pct`` up and ``energy_per_inference_J`` down when the job gives
accuracy, else energy and ``area_mm2`` down). NSGA-II by default (TPE with one objective); the
study lives in ``OUT/explore.db`` (optuna's SQLite storage), so a rerun with the same spec and
folder continues it up to ``trials``. Trials run ``batch`` at a time as Dask tasks (ask, run on
the cluster, tell), each also written as a sweep row (``OUT/results``), so a trial's point is
never run twice across explore and sweep in one folder.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from reram.config import ConfigError
from reram.sweep.runner import _row, _write_batch, evaluate_point, finished, read_results
from reram.sweep.spec import Point, SweepSpec


def default_objectives(job: str) -> dict[str, str]:
    """The objectives searched when none are given."""
    if job == "cost":
        return {"energy_per_inference_J": "minimize", "area_mm2": "minimize"}
    return {"accuracy_pct": "maximize", "energy_per_inference_J": "minimize"}


def run_explore(
    spec: SweepSpec,
    out: Path,
    trials: int,
    objectives: dict[str, str] | None = None,
    sampler: str | None = None,
    batch: int = 4,
    workers: int | None = None,
    seed: int = 0,
) -> Any:
    """Run (or continue) the search; returns the optuna study.

    Raises:
        reram.ConfigError: for an objective direction that is not minimize / maximize or a bad sampler.

    """
    import optuna
    from distributed import Client, LocalCluster, as_completed

    objectives = objectives or default_objectives(spec.job)
    bad = {k: v for k, v in objectives.items() if v not in ("minimize", "maximize")}
    if bad:
        raise ConfigError(f"objectives {bad}: allowed directions are 'minimize' and 'maximize'")
    kind = sampler or ("nsga2" if len(objectives) > 1 else "tpe")
    if kind not in ("nsga2", "tpe"):
        raise ConfigError(f"sampler = {kind!r}: allowed is 'nsga2' or 'tpe'")
    out.mkdir(parents=True, exist_ok=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # a generation of a quarter of the budget (4 to 50): with optuna's default 50 a budget under 50
    # trials would never leave the random first generation
    population = max(4, min(50, trials // 4))
    chosen = (optuna.samplers.NSGAIISampler(seed=seed, population_size=population) if kind == "nsga2"
              else optuna.samplers.TPESampler(seed=seed))  # fmt: skip
    directions = [optuna.study.StudyDirection.MAXIMIZE if d == "maximize" else optuna.study.StudyDirection.MINIMIZE
                  for d in objectives.values()]  # fmt: skip
    study = optuna.create_study(study_name="reram-explore", storage=f"sqlite:///{out / 'explore.db'}",
                                directions=directions, sampler=chosen, load_if_exists=True)  # fmt: skip
    names = list(spec.axes)
    cache = out / "cache"
    from reram.sweep.jobs import prepare

    for opts in spec.option_sets():
        prepare(spec.job, opts, cache)
    cluster = LocalCluster(n_workers=workers or 1, threads_per_worker=1, processes=True, dashboard_address=None,
                           env={"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})  # fmt: skip
    client = Client(cluster)
    try:
        while len(study.trials) < trials:
            asked = []
            for _ in range(min(batch, trials - len(study.trials))):
                trial = study.ask()
                values = {n: trial.suggest_categorical(n, spec.axes[n]) for n in names}
                cfg, opts = spec.resolve(values)
                asked.append((trial, Point(values, 0, dataclasses.replace(cfg, seed=spec.base.seed), opts)))
            futures = {client.submit(evaluate_point, spec.job, p.config.to_dict(), p.job_options(spec.options),
                                     str(cache), pure=False): (t, p) for t, p in asked}  # fmt: skip
            rows = []
            for fut in as_completed(list(futures)):
                trial, point = futures[fut]
                result = fut.result()
                rows.append(_row(point, result))
                if result["status"] != "ok" or any(m not in result for m in objectives):
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
                else:
                    study.tell(trial, [float(result[m]) for m in objectives])
            done = finished(out)
            new = [r for r in rows if r["key"] not in done]
            if new:
                _write_batch(out, new)
    finally:
        client.close()
        cluster.close()
    return study


def front_share(explore_out: Path, grid_out: Path, objectives: dict[str, str]) -> dict[str, float]:
    """How much of a full grid's Pareto front (its points, by axis values) the search found."""
    from reram.sweep.report import pareto_mask

    def front(df: Any) -> set[tuple[Any, ...]]:
        ok = df[df["status"] == "ok"]
        axes = sorted(c for c in ok.columns if c.startswith("axis:"))
        mean = ok.groupby(axes)[list(objectives)].mean().reset_index()
        mask = pareto_mask(mean[list(objectives)].to_numpy(dtype=float),
                           ["max" if d == "maximize" else "min" for d in objectives.values()])  # fmt: skip
        return {tuple(r) for r in mean[mask][axes].itertuples(index=False)}

    grid, found = front(read_results(grid_out)), front(read_results(explore_out))
    return {"grid_front": float(len(grid)), "found": float(len(grid & found)),
            "share": len(grid & found) / len(grid) if grid else 0.0}  # fmt: skip
