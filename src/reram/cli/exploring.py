"""``reram explore``: multi-objective design search (optuna) over a sweep spec's axes, on Dask."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from reram.cli.app import app
from reram.cli.common import clean_errors, fail, out_dir


@app.command(name="explore")
def explore_cmd(
    spec: Path = typer.Argument(..., help="A sweep spec (its axes are the search space)."),
    trials: int = typer.Option(32, "--trials", help="Trials in all (a rerun continues the study up to this)."),
    out: Path = typer.Option(Path("results/explore"), "--out", help="Folder: explore.db (optuna), results/."),
    objective: list[str] = typer.Option(
        [],
        "--objective",
        help="metric:minimize or metric:maximize (repeat); "
        "default accuracy up and energy down (cost job: energy and area down).",
    ),
    sampler: str | None = typer.Option(None, "--sampler", help="nsga2 (default, several objectives) or tpe."),
    batch: int = typer.Option(4, "--batch", help="Trials asked and run at once."),
    workers: int = typer.Option(2, "--workers", help="Local worker processes."),
    grid: Path | None = typer.Option(
        None, "--grid", help="A full sweep's folder on the same axes: how much of its Pareto front the search found."
    ),
) -> None:
    """Search the axes of SPEC for the Pareto front of the objectives with optuna (NSGA-II; TPE
    for one objective), trials run as Dask tasks and kept in OUT/explore.db (resumable) and as
    sweep rows in OUT/results.
    """
    try:
        import optuna  # noqa: F401
    except ImportError:
        fail('reram explore needs optuna: pip install "reram[sweep]"')
    from reram.sweep import load_spec
    from reram.sweep.explore import default_objectives, front_share, run_explore

    if not 1 <= trials <= 1_000_000:
        fail(f"--trials = {trials} is invalid: allowed is an integer in [1, 1000000]")
    objectives = {}
    for o in objective:
        name, _, direction = o.partition(":")
        if direction not in ("minimize", "maximize"):
            fail(f"--objective {o!r} is invalid: allowed is metric:minimize or metric:maximize")
        objectives[name] = direction
    with clean_errors():
        sweep = load_spec(spec)
        study = run_explore(sweep, out_dir(out), trials, objectives or None, sampler, batch, workers)
    names = list(objectives or default_objectives(sweep.job))
    t = Table(title=f"Pareto front after {len(study.trials)} trials")
    for col in (*sweep.axes, *names):
        t.add_column(col, justify="right")
    for trial in study.best_trials:
        t.add_row(*(str(trial.params[a]) for a in sweep.axes), *(f"{v:.4g}" for v in trial.values))
    Console().print(t)
    if grid is not None:
        with clean_errors():
            share = front_share(out, grid, objectives or default_objectives(sweep.job))
        Console().print(f"found {share['found']:.0f} of the grid's {share['grid_front']:.0f} Pareto points "
                        f"({100 * share['share']:.0f} %)")  # fmt: skip
