"""Run a sweep's points on a Dask cluster; write the rows as Parquet, batch by batch, resumably.

Each point runs as one task (``dask.distributed``): a ``LocalCluster`` of worker processes with
one thread each by default, an existing scheduler with ``scheduler="tcp://host:8786"``, or any
cluster object (``dask_jobqueue.SLURMCluster``). A worker that dies is replaced by Dask and its
task run again elsewhere. Finished rows are buffered and written as one Parquet file per batch
into ``out/results/`` (a temporary file renamed into place: a file is there whole or not at all);
a rerun with the same spec and folder reads the keys already there and runs only the rest, so a
killed client or worker loses at most the points in flight and no row is written twice. A point
whose job raises is recorded (``status = "failed"`` and its ``error``) and the sweep goes on.

A row holds the point's axis values (``axis:<field>``), its seed, the key (a hash of the full
resolved config and the seed), ``status``, ``error``, the job's metrics, the wall time and the
package version.
"""

from __future__ import annotations

import os
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reram.sweep.spec import Point, SweepSpec

Progress = Callable[[str, int, int], None]


def evaluate_point(job: str, config: dict[str, Any], options: dict[str, Any], cache: str) -> dict[str, Any]:
    """Run one point (on a worker): the job's metrics, or the error it raised."""
    from reram import __version__
    from reram.config import load_config
    from reram.sweep.jobs import resolve_job

    t0 = time.perf_counter()
    try:
        row = {"status": "ok", "error": "", **resolve_job(job)(load_config({"base": "none", **config}), options,
                                                              Path(cache))}  # fmt: skip
    except Exception as exc:  # a failed point is a result, not the end of the sweep
        row = {"status": "failed", "error": f"{type(exc).__name__}: {exc}",
               "traceback": traceback.format_exc(limit=5)}  # fmt: skip
    row["wall_s"] = time.perf_counter() - t0
    row["version"] = __version__
    return row


def finished(out: Path) -> set[str]:
    """Keys of the points whose rows are already in ``out/results``."""
    import pyarrow.parquet as pq

    keys: set[str] = set()
    for f in sorted((out / "results").glob("part-*.parquet")):
        keys.update(pq.read_table(f, columns=["key"]).column("key").to_pylist())
    return keys


def read_results(out: Path) -> Any:
    """The sweep's rows as one pandas DataFrame (files may differ in columns: failed rows)."""
    import pandas as pd
    import pyarrow.parquet as pq

    parts = [pq.read_table(f).to_pandas() for f in sorted((out / "results").glob("part-*.parquet"))]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _write_batch(out: Path, rows: list[dict[str, Any]]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = out / "results"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = f"{time.time_ns():020d}-{os.getpid()}"
    path = folder / f"part-{stamp}.parquet"
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".part-", suffix=".tmp")
    os.close(fd)
    names = list(dict.fromkeys(k for r in rows for k in r))  # every row's columns (a failed row has fewer)
    pq.write_table(pa.Table.from_pylist([{k: r.get(k) for k in names} for r in rows]), tmp)
    os.replace(tmp, path)
    return path


def _row(point: Point, result: dict[str, Any]) -> dict[str, Any]:
    axes = {f"axis:{k}": v for k, v in point.values.items()}
    return {"key": point.key, "seed": point.seed, **axes, **result}


def run_sweep(
    spec: SweepSpec,
    out: Path,
    workers: int | None = None,
    scheduler: str | None = None,
    cluster: Any = None,
    batch: int = 8,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Run every point of ``spec`` not yet in ``out`` (see the module docstring).

    Args:
        spec: the sweep.
        out: its folder (``results/`` of Parquet files, ``cache/`` of trained models).
        workers: local worker processes (default: the machine's cores).
        scheduler: the address of a running Dask scheduler to join instead.
        cluster: a Dask cluster object to use instead (e.g. a ``SLURMCluster``).
        batch: rows per Parquet file.
        progress: called as ``progress("sweep", done, total)`` (and ``("failed", failures, total)``).

    Returns:
        {"points", "skipped", "ran", "failed"}.

    """
    from distributed import Client, LocalCluster, as_completed

    from reram.sweep.jobs import prepare, resolve_job

    out.mkdir(parents=True, exist_ok=True)
    resolve_job(spec.job)  # an unknown job fails here, before a cluster starts
    points = spec.points()
    done = finished(out)
    todo = [p for p in points if p.key not in done]
    tick: Progress = progress or (lambda stage, d, t: None)
    tick("sweep", len(points) - len(todo), len(points))
    stats = {"points": len(points), "skipped": len(points) - len(todo), "ran": 0, "failed": 0}
    if not todo:
        return stats
    cache = out / "cache"
    for opts in spec.option_sets():  # what the points share (a trained model), built once here
        prepare(spec.job, opts, cache)
    own = None
    if cluster is None and scheduler is None:
        one_thread = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}  # one core per worker process, torch included
        own = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                           dashboard_address=None, env=one_thread)  # fmt: skip
    client = Client(scheduler) if scheduler else Client(cluster or own)
    try:
        by_key = {p.key: p for p in todo}
        futures = [client.submit(evaluate_point, spec.job, p.config.to_dict(), p.job_options(spec.options), str(cache),
                                 key=f"reram-point-{p.key}", pure=False) for p in todo]  # fmt: skip
        rows: list[dict[str, Any]] = []
        for fut in as_completed(futures):
            point = by_key[str(fut.key).removeprefix("reram-point-")]
            try:
                result = fut.result()
            except Exception as exc:  # the task itself was lost (e.g. its workers kept dying)
                result = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
            rows.append(_row(point, result))
            stats["ran"] += 1
            stats["failed"] += result["status"] != "ok"
            if len(rows) >= batch:
                _write_batch(out, rows)
                rows = []
            tick("sweep", stats["skipped"] + stats["ran"], len(points))
            if stats["failed"]:
                tick("failed", stats["failed"], len(points))  # a second bar: the failures so far
        if rows:
            _write_batch(out, rows)
    finally:
        client.close()
        if own is not None:
            own.close()
    return stats
