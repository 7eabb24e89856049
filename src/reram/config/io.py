"""Configs from presets, TOML files and dicts: one loader for every table (system and jobs).

Values are coerced to each field's declared type and checked by the dataclasses themselves;
unknown keys, wrong types and malformed TOML are :class:`ConfigError` s that name the field or
the file. A file without ``base`` builds on the ``neurram`` preset everywhere (``reram run``,
``reram cost``, ``reram.convert``); ``base = "none"`` starts from the plain defaults.
"""

from __future__ import annotations

import dataclasses
from dataclasses import fields, is_dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar, get_type_hints

import tomllib

from reram.config.check import ConfigError, fail
from reram.config.system import Config

DEFAULT_BASE = "neurram"

T = TypeVar("T")


def _coerce(path: str, value: Any, hint: Any) -> Any:
    """Convert a TOML value to the field's declared type, or fail naming the field."""
    text = str(hint)
    if text == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            fail(path, value, "a number")
        return float(value)
    if text == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            fail(path, value, "an integer")
        return value
    if text == "bool":
        if not isinstance(value, bool):
            fail(path, value, "true or false")
        return value
    if text == "str":
        if not isinstance(value, str):
            fail(path, value, "a string")
        return value
    if text.startswith("tuple[tuple"):
        if not isinstance(value, (list, tuple)) or not all(isinstance(r, (list, tuple)) for r in value):
            fail(path, value, "a list of lists of numbers")
        return tuple(tuple(float(_coerce(path, x, "float")) for x in row) for row in value)
    if text.startswith("tuple"):
        if not isinstance(value, (list, tuple)):
            fail(path, value, "a list of numbers")
        return tuple(float(_coerce(path, x, "float")) for x in value)
    return value


def _from_dict(cls: type[T], data: dict[str, Any], base: T | None, prefix: str) -> T:
    if not isinstance(data, dict):
        fail(prefix or "config", data, "a table of keys")
    hints = get_type_hints(cls)
    names = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else key
        if key not in names:
            raise ConfigError(f"unknown key {path!r}: allowed keys are {', '.join(sorted(names))}")
        hint = hints[key]
        current = getattr(base, key) if base is not None else None
        if is_dataclass(hint):
            kwargs[key] = _from_dict(hint, value, current, path)  # type: ignore[arg-type]
        else:
            name = hint.__name__ if hint in (float, int, bool, str) else str(hint)
            kwargs[key] = _coerce(path, value, name)
    if base is not None:
        return dataclasses.replace(base, **kwargs)  # type: ignore[type-var]
    return cls(**kwargs)


def override(config: Config, changes: dict[str, Any]) -> Config:
    """Return ``config`` with a nested dict of changes applied (validated like a file)."""
    return _from_dict(Config, changes, config, "")


def available_presets() -> list[str]:
    """Names of the shipped presets (TOML files in ``reram/presets``)."""
    files = resources.files("reram.presets").iterdir()
    return sorted(p.name[:-5] for p in files if p.name.endswith(".toml"))


def preset(name: str) -> Config:
    """Load a named preset (``ideal``, ``neurram``, ``hfox``, ...)."""
    names = available_presets()
    if name not in names:
        raise ConfigError(f"preset = {name!r} is unknown: allowed is one of {', '.join(names)}")
    text = resources.files("reram.presets").joinpath(f"{name}.toml").read_text()
    return _load_text(text, f"preset {name!r}")


JOB_TABLES = ("job", "hwa", "onchip")  # tables of a run config, read by reram.config.jobs


def read_toml(path: str | Path) -> dict[str, Any]:
    """A TOML file as a dict; a missing file, a folder, bytes that are not UTF-8 or malformed TOML
    are a :class:`ConfigError` naming the file.
    """
    p = Path(path)
    where = f"config file {str(p)!r}"
    if not p.exists():
        raise ConfigError(f"{where} does not exist")
    if not p.is_file():
        raise ConfigError(f"{where} is not a file: allowed is a TOML file")
    try:
        text = p.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{where} is not UTF-8 text (byte {exc.start}): allowed is a TOML file") from None
    except OSError as exc:
        raise ConfigError(f"{where} cannot be read: {exc.strerror}") from None
    return parse_toml(text, where)


def parse_toml(text: str, where: str) -> dict[str, Any]:
    """TOML text as a dict, or a :class:`ConfigError` naming ``where`` and the line."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where} is not valid TOML: {exc}") from None


def system_config(data: dict[str, Any], default_base: str | None = DEFAULT_BASE) -> Config:
    """The system config of a dict of tables: its ``base`` preset (default ``default_base``;
    ``"none"`` = the plain defaults) with the other keys on top. Job tables are left to
    ``reram.config.jobs``; they must not be here.
    """
    data = dict(data)
    base_name = data.pop("base", default_base)
    if base_name is not None and not isinstance(base_name, str):
        fail("base", base_name, "a preset name (see `reram presets`) or 'none'")
    base = None if base_name in (None, "none") else preset(str(base_name))
    return _from_dict(Config, data, base, "")


def _load_text(text: str, where: str) -> Config:
    return system_config(parse_toml(text, where), default_base=None)  # a preset is complete


def load_config(source: str | Path | dict[str, Any] | Config | None = None) -> Config:
    """Load a config from a preset name, a TOML file path, a dict, or pass a Config through.

    A file or dict builds on ``base = "neurram"`` unless it names another ``base`` ("none" =
    the plain defaults) and overrides only the keys it sets. The job tables of a run config
    (``[job]``, ``[hwa]``, ``[onchip]``) are validated and otherwise ignored here.
    """
    if source is None:
        return preset(DEFAULT_BASE)
    if isinstance(source, Config):
        return source
    if isinstance(source, dict):
        data = dict(source)
    else:
        path = Path(source)
        if path.suffix != ".toml" and not path.exists():
            return preset(str(source))
        data = read_toml(path)
    if any(t in data for t in JOB_TABLES):
        from reram.config.jobs import job_tables  # the job tables: validated, not used here

        job_tables(data)
        data = {k: v for k, v in data.items() if k not in JOB_TABLES}
    return system_config(data)
