"""Where a sweep runs beyond one machine: a SLURM cluster through ``dask-jobqueue``.

Each SLURM job is one Dask worker process with one thread (``processes=1``: the simulation is
torch on one core per point), ``cores`` CPU cores reserved and ``memory`` per job; the cluster
asks for ``jobs`` of them and the sweep's points are its tasks. ``job_script()`` shows what is
submitted.
"""

from __future__ import annotations

from typing import Any


def slurm_cluster(jobs: int, queue: str | None = None, account: str | None = None, cores: int = 1,
                  memory: str = "4GB", walltime: str = "01:00:00", extra: list[str] | None = None,
                  submit: bool = True) -> Any:  # fmt: skip
    """A ``dask_jobqueue.SLURMCluster`` of one-worker jobs, ``jobs`` of them submitted (sbatch)
    unless ``submit`` is false (then nothing is: ``cluster.job_script()`` shows what would be).

    Raises:
        ValueError: for a bad count, or without the ``dask-jobqueue`` package.

    """
    if not (isinstance(jobs, int) and 1 <= jobs <= 100_000):
        raise ValueError(f"--slurm-jobs = {jobs!r} is invalid: allowed is an integer in [1, 100000]")
    try:
        from dask_jobqueue import SLURMCluster
    except ImportError:
        raise ValueError('--slurm needs dask-jobqueue: pip install "reram[sweep]"') from None
    cluster = SLURMCluster(queue=queue, account=account, cores=cores, processes=1, memory=memory, walltime=walltime,
                           job_script_prologue=["export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1"],
                           job_extra_directives=extra or [], scheduler_options={"dashboard_address": None})  # fmt: skip
    if submit:
        cluster.scale(jobs=jobs)
    return cluster
