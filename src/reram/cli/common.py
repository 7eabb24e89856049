"""What every ``reram`` command shares: one-line errors (exit code 2), checked output folders
and devices, progress bars on stderr.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from reram.config import ConfigError

console = Console(stderr=True)

CONFIG_RULE = (
    'A config file is TOML: chip keys on top of base = "neurram" (or the preset it names; '
    'base = "none" starts from the plain defaults), plus the job tables the command reads.'
)


def fail(msg: str) -> NoReturn:
    """Print a one-line error and exit with code 2."""
    console.print(f"[red]error:[/red] {msg}", soft_wrap=True, highlight=False, markup=True)
    raise typer.Exit(2)


def _errors() -> tuple[type[BaseException], ...]:
    from reram.data import DatasetError, DatasetMissing
    from reram.mapping import MappingError

    return ConfigError, DatasetMissing, DatasetError, MappingError, ValueError


@contextmanager
def clean_errors() -> Iterator[None]:
    """Turn the package's named errors (bad config, data, mapping, input) into one-line exits."""
    try:
        yield
    except _errors() as exc:
        fail(str(exc).replace("[", "\\["))


def out_dir(path: Path, option: str = "--out") -> Path:
    """An output folder that exists (created if needed) and takes files, or a one-line error."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        fail(f"{option} = {str(p)!r} is a file: allowed is a folder (it is created if missing)")
    for parent in p.parents:
        if parent.exists() and not parent.is_dir():
            fail(f"{option} = {str(p)!r} lies under the file {str(parent)!r}: allowed is a folder")
    try:
        p.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=p, prefix=".write-test-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        fail(f"{option} = {str(p)!r} cannot hold results: {exc.strerror or exc}")
    return p


def config_file(path: Path | None) -> Path | None:
    """A --config path that is a readable file, or a one-line error."""
    if path is not None and not Path(path).is_file():
        what = "is a folder" if Path(path).is_dir() else "does not exist"
        fail(f"--config = {str(path)!r} {what}: allowed is a TOML file")
    return path


def device(name: str | None) -> str | None:
    """A --device that torch can use here ('cpu', 'cuda', 'cuda:N'), or a one-line error."""
    if name is None:
        return None
    from reram.config.jobs import check_device

    with clean_errors():
        check_device("--device", name)
    if name.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            fail(f"--device = {name!r}: torch sees no CUDA device here; use --device cpu")
        index = int(name.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            fail(f"--device = {name!r}: only {torch.cuda.device_count()} CUDA device(s) here")
    return name


def number_list(text: str | None, option: str, kind: Callable[[str], Any], low: float) -> list[Any] | None:
    """Comma-separated numbers >= ``low``, or a one-line error naming the option."""
    if text is None:
        return None
    try:
        values = [kind(t) for t in text.split(",") if t.strip()]
    except ValueError:
        values = []
    if not values or any(not v >= low for v in values):
        fail(f"{option} = {text!r} is invalid: allowed is comma-separated numbers >= {low:g}")
    return values


@contextmanager
def progress() -> Iterator[Callable[[str, int, int], None]]:
    """A rich progress display on stderr; yields ``tick(stage, done, total)``, one bar per stage,
    with the time elapsed and the time left (ETA).
    """
    logging.basicConfig(level=logging.WARNING)
    columns = (TextColumn("{task.description:<12}"), BarColumn(), TextColumn("{task.completed}/{task.total}"))
    with Progress(*columns, TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), console=console) as bar:
        tasks: dict[str, Any] = {}

        def tick(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield tick
