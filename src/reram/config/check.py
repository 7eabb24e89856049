"""Validation at the boundary: every field has a type and a physical range, stated once.

A numeric field declares its range with :func:`num` (dataclass field metadata); :func:`check`
tests every field of a config object: the declared type (no bool where a number is meant), a
finite value inside the range. Every error names the field, the value and what is allowed.
"""

from __future__ import annotations

import math
from dataclasses import Field, field, fields
from typing import Any, get_type_hints


class ConfigError(ValueError):
    """A configuration value is invalid; the message names field, value and what is allowed."""


def fail(path: str, value: Any, allowed: str) -> None:
    """Raise a :class:`ConfigError` naming ``path``, ``value`` and what is ``allowed``."""
    raise ConfigError(f"{path} = {value!r} is invalid: allowed is {allowed}")


def num(default: Any, lo: float, hi: float, unit: str = "", open_lo: bool = False) -> Any:
    """A numeric dataclass field with its physical range [lo, hi] (``open_lo``: (lo, hi]) in ``unit``."""
    return field(default=default, metadata={"range": (lo, hi, open_lo), "unit": unit})


def _text(x: float) -> str:
    return f"{x:g}"


def allowed_range(f: Field[Any], kind: str) -> str:
    """The allowed values of a ranged field, in words."""
    lo, hi, open_lo = f.metadata["range"]
    unit = f" {f.metadata['unit']}" if f.metadata.get("unit") else ""
    what = "an integer" if kind == "int" else "a finite number"
    return f"{what} in {'(' if open_lo else '['}{_text(lo)}, {_text(hi)}]{unit}"


_HINTS: dict[type, dict[str, str]] = {}


def _hints(cls: type) -> dict[str, str]:
    """Each field's declared type, as text ("float", "int", "int | None", "tuple[float, ...]")."""
    if cls not in _HINTS:
        _HINTS[cls] = {k: str(v.__name__ if isinstance(v, type) else v) for k, v in get_type_hints(cls).items()}
    return _HINTS[cls]


def check_number(path: str, value: Any, f: Field[Any], kind: str) -> None:
    """One ranged value: its type, finite, inside the range."""
    lo, hi, open_lo = f.metadata["range"]
    bad_type = isinstance(value, bool) or not isinstance(value, (int, float))
    if kind == "int" and isinstance(value, float):
        bad_type = True
    if bad_type or not math.isfinite(value) or value < lo or value > hi or (open_lo and value == lo):
        fail(path, value, allowed_range(f, kind))


def check(obj: Any) -> None:
    """Check every ranged field of a config dataclass instance (type, finite, range)."""
    hints = _hints(type(obj))
    section = getattr(obj, "_section", "")
    for f in fields(obj):
        if "range" not in f.metadata:
            continue
        path = f"{section}.{f.name}" if section else f.name
        kind = hints[f.name]
        value = getattr(obj, f.name)
        if kind.startswith("tuple"):
            if not isinstance(value, tuple):
                fail(path, value, "a list of numbers")
            for v in value:
                check_number(path, v, f, "float")
        elif kind.endswith("| None") and value is None:
            continue
        else:
            check_number(path, value, f, "int" if kind.startswith("int") else "float")


def choice(obj: Any, name: str, allowed: tuple[str, ...]) -> None:
    """A string field that must be one of ``allowed``."""
    v = getattr(obj, name)
    if v not in allowed:
        section = getattr(obj, "_section", "")
        fail(f"{section}.{name}" if section else name, v, "one of " + ", ".join(repr(a) for a in allowed))
