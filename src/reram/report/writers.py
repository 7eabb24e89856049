"""Atomic writers: a reader never sees a half-written result file.

Result files are readable by the group and others (mode 0644 under the usual umask, not
mkstemp's 0600). JSON is always valid JSON: a non-finite number (NaN, Infinity) is written as
null and listed with its path under ``"_null_values"``; floats keep 12 significant digits (far
beyond any measured figure), so arithmetic noise such as 1.0500000000000114 reads 1.05.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="." + path.name, suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
    os.chmod(tmp, 0o666 & ~_UMASK)
    os.replace(tmp, path)
    return path


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def json_safe(obj: Any, nulls: list[dict[str, str]] | None = None, path: str = "") -> Any:
    """``obj`` with every non-finite float as None (recorded in ``nulls`` as {"path", "was"}),
    floats at 12 significant digits, numpy and torch scalars as Python numbers, tuples as lists.
    """
    if isinstance(obj, dict):
        return {k: json_safe(v, nulls, f"{path}.{k}" if path else str(k)) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v, nulls, f"{path}[{i}]") for i, v in enumerate(obj)]
    if hasattr(obj, "item") and callable(obj.item) and getattr(obj, "ndim", 1) == 0:
        obj = obj.item()
    if isinstance(obj, float):
        if not math.isfinite(obj):
            if nulls is not None:
                nulls.append({"path": path, "was": repr(obj)})
            return None
        return float(f"{obj:.12g}")
    return obj


def write_json(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as indented, valid JSON, atomically (see the module docstring)."""
    nulls: list[dict[str, str]] = []
    safe = json_safe(obj, nulls)
    if nulls and isinstance(safe, dict):
        safe["_null_values"] = [{**n, "why": "not a finite number (JSON has no NaN or Infinity)"} for n in nulls]
    return write_atomic(path, json.dumps(safe, indent=2, default=str, allow_nan=False) + "\n")


def write_csv(path: str | Path, rows: Sequence[dict[str, Any]]) -> Path:
    """Write a list of dicts as CSV, atomically (columns: every key, in first-seen order; missing cells empty)."""
    buf = io.StringIO()
    if rows:
        w = csv.DictWriter(buf, fieldnames=list(dict.fromkeys(k for r in rows for k in r)))
        w.writeheader()
        w.writerows(rows)
    return write_atomic(path, buf.getvalue())
