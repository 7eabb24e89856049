"""Jobs that combine the pieces: the default ``reram run`` job."""

from reram.experiments.job import JobConfig, load_job, run_job

__all__ = ["JobConfig", "load_job", "run_job"]
