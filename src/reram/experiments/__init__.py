"""Jobs that combine the pieces: the default ``reram run`` job."""

from reram.experiments.hwa_table import run_hwa_table
from reram.experiments.job import JobConfig, load_job, run_job

__all__ = ["JobConfig", "load_job", "run_hwa_table", "run_job"]
