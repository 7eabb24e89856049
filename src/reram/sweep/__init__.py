"""Design-space sweeps and Monte-Carlo on Dask: a spec (:mod:`reram.sweep.spec`), the jobs a point
runs (:mod:`reram.sweep.jobs`), and the runner that puts them on a cluster and writes Parquet
(:mod:`reram.sweep.runner`). ``dask[distributed]`` and ``pyarrow`` are the ``sweep`` extra.
"""

from reram.sweep.jobs import JOBS, resolve_job
from reram.sweep.runner import finished, read_results, run_sweep
from reram.sweep.spec import Point, SweepSpec, load_spec, parse_spec

__all__ = ["JOBS", "Point", "SweepSpec", "finished", "load_spec", "parse_spec", "read_results", "resolve_job",
           "run_sweep"]  # fmt: skip
