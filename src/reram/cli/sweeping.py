"""``reram sweep``: a design-space sweep or Monte-Carlo on a Dask cluster."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from reram.cli.app import app
from reram.cli.common import clean_errors, fail, out_dir, progress


@app.command(name="sweep")
def sweep_cmd(
    spec: Path | None = typer.Argument(None, help="The sweep's TOML: job, base, seeds, mode, [options], [axes]."),
    out: Path = typer.Option(Path("results/sweep"), "--out", help="Folder: results/ (Parquet), cache/."),
    workers: int | None = typer.Option(None, "--workers", help="Local worker processes (default: the cores)."),
    scheduler: str | None = typer.Option(None, "--scheduler", help="Join a running Dask scheduler: tcp://host:8786."),
    batch: int = typer.Option(8, "--batch", help="Rows per Parquet file."),
    slurm: bool = typer.Option(False, "--slurm", help="Run the points as SLURM jobs (dask-jobqueue), one worker each."),
    slurm_jobs: int = typer.Option(16, "--slurm-jobs", help="SLURM jobs (workers) to ask for."),
    slurm_queue: str | None = typer.Option(None, "--slurm-queue", help="SLURM partition."),
    slurm_account: str | None = typer.Option(None, "--slurm-account", help="SLURM account."),
    slurm_memory: str = typer.Option("4GB", "--slurm-memory", help="Memory per job."),
    slurm_walltime: str = typer.Option("01:00:00", "--slurm-walltime", help="Wall time per job (HH:MM:SS)."),
    report: Path | None = typer.Option(
        None,
        "--report",
        help="Make the report of the sweep in this folder (its "
        "results/): metrics vs each axis, Pareto front, HTML; with SPEC, after it.",
    ),
) -> None:
    """Run every point of SPEC (a grid or zip of config axes, times seeds) as Dask tasks, one
    thread per worker process; rows go to OUT/results/*.parquet batch by batch. A rerun with the
    same SPEC and OUT runs only the points not yet there; a point whose job fails is recorded
    with its error. Load the table with pandas (pd.read_parquet(OUT / "results")) or DuckDB.

    Jobs: cost (analytic cost of a zoo model), run (the default job's accuracy and counted cost),
    train (hardware-aware fine-tuning per point), irdrop (accuracy and layer error with the wires),
    reliability (accuracy over years at a temperature), or module:function. Axes name dotted
    config fields or job options ("options.temperature_C").
    """
    try:
        import distributed  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError:
        fail('reram sweep needs the sweep extra: pip install "reram[sweep]" (dask[distributed], pyarrow)')
    from reram.sweep import load_spec, run_sweep

    if workers is not None and not 1 <= workers <= 4096:
        fail(f"--workers = {workers} is invalid: allowed is an integer in [1, 4096]")
    if not 1 <= batch <= 100_000:
        fail(f"--batch = {batch} is invalid: allowed is an integer in [1, 100000]")
    assert spec is not None  # the no-SPEC case returned above
    with clean_errors():
        sweep = load_spec(spec)
    folder = out_dir(out)
    cluster = None
    if slurm:
        from reram.sweep.clusters import slurm_cluster

        with clean_errors():
            cluster = slurm_cluster(slurm_jobs, slurm_queue, slurm_account, memory=slurm_memory,
                                    walltime=slurm_walltime)  # fmt: skip
    try:
        with progress() as tick, clean_errors():
            stats = run_sweep(sweep, folder, workers=workers, scheduler=scheduler, cluster=cluster, batch=batch,
                              progress=tick)  # fmt: skip
    finally:
        if cluster is not None:
            cluster.close()
    Console().print(f"{stats['points']} points: {stats['ran']} run ({stats['failed']} failed), "
                    f"{stats['skipped']} already done; rows in {folder / 'results'}/")  # fmt: skip
    if report is not None:
        from reram.sweep.report import write_sweep_report

        with clean_errors():
            Console().print(f"report: {write_sweep_report(folder, report)}")
