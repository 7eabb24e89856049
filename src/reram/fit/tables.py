"""Measured device data as CSV: one row per measurement, SI units in the column names.

Every kind of ``reram fit`` names its columns (``COLUMNS``); a file is read whole and checked
before anything is fitted: it must exist and hold rows, every required column must be there,
every value must be a finite number (ids may be any text), conductances and times must not be
negative, and where a kind says so, a quantity must increase within each device (time,
cycles). A bad file raises :class:`FitDataError` naming the file, the line and the column.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


class FitDataError(ValueError):
    """A data file cannot be fitted; the message names the file, the line and the column."""


@dataclass(frozen=True)
class Column:
    """One column of a kind's CSV: its name (with its SI unit), whether it must be there, its checks."""

    name: str
    doc: str
    required: bool = True
    text: bool = False  # an id: any text
    non_negative: bool = False
    positive: bool = False


@dataclass
class Table:
    """A checked CSV: float arrays per numeric column, text arrays for ids, and where it came from."""

    path: Path
    columns: dict[str, np.ndarray] = field(default_factory=dict)
    lines: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))  # file line of each row

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def __contains__(self, name: str) -> bool:
        return name in self.columns

    def __len__(self) -> int:
        return len(self.lines)

    def error(self, row: int, column: str, what: str) -> FitDataError:
        """An error at ``row`` (index into the arrays) in ``column``."""
        return FitDataError(f"{self.path}: line {int(self.lines[row])}, column {column!r}: {what}")


def read_table(path: str | Path, columns: list[Column]) -> Table:
    """Read and check a CSV (see the module docstring).

    Raises:
        FitDataError: the file is missing or empty, a column is missing, or a value is malformed.

    """
    p = Path(path)
    if not p.is_file():
        raise FitDataError(f"{p}: no such file")
    with p.open(newline="") as f:
        reader = csv.DictReader(f)
        header = [h.strip() for h in (reader.fieldnames or [])]
        if not header:
            raise FitDataError(f"{p}: the file is empty (want a header line with {', '.join(c.name for c in columns)})")
        reader.fieldnames = header
        rows = list(reader)
    if not rows:
        raise FitDataError(f"{p}: the file has a header but no rows of data")
    for c in columns:
        if c.required and c.name not in header:
            raise FitDataError(f"{p}: line 1: column {c.name!r} ({c.doc}) is missing; the header has {header}")
    table = Table(p, lines=np.arange(2, len(rows) + 2))
    for c in columns:
        if c.name not in header:
            continue
        if c.text:
            table.columns[c.name] = np.array([(r[c.name] or "").strip() for r in rows])
            continue
        values = np.empty(len(rows))
        for i, r in enumerate(rows):
            raw = (r[c.name] or "").strip()
            try:
                v = float(raw)
            except ValueError:
                raise table.error(i, c.name, f"{raw!r} is not a number ({c.doc})") from None
            if not math.isfinite(v):
                raise table.error(i, c.name, f"{raw!r} is not a finite number ({c.doc})")
            if c.non_negative and v < 0:
                raise table.error(i, c.name, f"{v!r} is negative: {c.doc} must be >= 0")
            if c.positive and v <= 0:
                raise table.error(i, c.name, f"{v!r} must be > 0 ({c.doc})")
            values[i] = v
        table.columns[c.name] = values
    return table


def check_increasing(table: Table, column: str, within: str | None = None) -> None:
    """Raise if ``column`` does not strictly increase within each group of ``within`` (file order)."""
    groups = table[within] if within is not None and within in table else np.zeros(len(table), dtype=int)
    last: dict[object, float] = {}
    for i, (g, v) in enumerate(zip(groups.tolist(), table[column].tolist(), strict=True)):
        if g in last and not v > last[g]:
            where = f" within {within} {g!r}" if within is not None and within in table else ""
            raise table.error(i, column, f"{v!r} does not increase{where} (the row before holds {last[g]!r})")
        last[g] = v


def describe(columns: list[Column]) -> str:
    """The columns as documentation: ``name`` (required or optional): what it holds."""
    return "; ".join(f"{c.name} ({'required' if c.required else 'optional'}): {c.doc}" for c in columns)
