"""A sweep's spec (TOML): which job, on which base config, over which axes, with how many seeds.

    job = "cost"                  # a built-in job (reram.sweep.jobs.JOBS) or "module:function"
    base = "neurram"              # a preset name or a config file
    seeds = 2                     # Monte-Carlo: every point once per seed (config seed + 0, 1, ...)
    mode = "grid"                 # "grid": every combination of the axes; "zip": axes side by side
    [options]                     # passed to the job (its own keywords, e.g. model, input_shape)
    model = "lenet5"
    [axes]                        # dotted config fields
    "periphery.adc.bits" = [4, 6, 8]                      # a list
    "array.rows" = {start = 64, stop = 256, step = 64}    # a range (stop included)
    "array.r_wire_ohm" = {low = 0.0, high = 5.0, samples = 3, seed = 1}  # uniform random samples
    "options.temperature_C" = [25, 85]                    # an axis over a job option

An axis named ``options.<key>`` varies one of the job's options (``options.hwa.noise_level``
reaches into a table of them); the job checks its options before the points run.

Every axis is checked against the config schema before anything runs (an unknown field is a
named error listing the allowed keys), and every point's config is built and validated when the
spec is read, so a value out of range fails at once, naming the field.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reram.config import Config, ConfigError, load_config, override
from reram.config.io import read_toml

MODES = ("grid", "zip")
OPTIONS = "options."  # the prefix of an axis over a job option


@dataclass(frozen=True)
class Point:
    """One run of the job: its axis values (dotted names), seed, full resolved config, and the
    job options its ``options.*`` axes set (nested, merged over the spec's [options]).
    """

    values: dict[str, Any]
    seed: int
    config: Config
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """A hash of the full resolved config, the seed and the point's own options: equal points
        share it across runs.
        """
        parts: list[Any] = [self.config.to_dict(), self.seed] + ([self.options] if self.options else [])
        text = json.dumps(parts, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def job_options(self, common: dict[str, Any]) -> dict[str, Any]:
        """The options the job gets at this point: ``common`` with the point's own merged in."""
        return merge(common, self.options)


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``extra`` merged in, tables key by key (neither is changed)."""
    out = dict(base)
    for k, v in extra.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


@dataclass
class SweepSpec:
    """A parsed, checked spec (see the module docstring)."""

    job: str
    base: Config
    axes: dict[str, list[Any]]
    seeds: int = 1
    mode: str = "grid"
    options: dict[str, Any] = field(default_factory=dict)
    source: str = "<dict>"

    def points(self) -> list[Point]:
        """Every point of the sweep, each config built and validated."""
        names = list(self.axes)
        if self.mode == "grid":
            combos = list(itertools.product(*(self.axes[n] for n in names))) if names else [()]
        else:
            combos = list(zip(*(self.axes[n] for n in names), strict=True)) if names else [()]
        out = []
        for combo in combos:
            values = dict(zip(names, combo, strict=True))
            cfg, opts = self.resolve(values)
            for s in range(self.seeds):
                out.append(Point(values, s, dataclasses.replace(cfg, seed=self.base.seed + s), opts))
        return out

    def resolve(self, values: dict[str, Any]) -> tuple[Config, dict[str, Any]]:
        """The config and the job options (nested) that one combination of axis values sets.

        Raises:
            reram.ConfigError: naming the point when a value is out of its field's range.

        """
        fields = {k: v for k, v in values.items() if not k.startswith(OPTIONS)}
        opts = {k.removeprefix(OPTIONS): v for k, v in values.items() if k.startswith(OPTIONS)}
        try:
            return override(self.base, _nest(fields)), _nest(opts)
        except ConfigError as exc:
            raise ConfigError(f"{self.source}: the point {values} is invalid: {exc}") from None

    def option_sets(self) -> list[dict[str, Any]]:
        """Every distinct set of job options the points use (what ``prepare`` builds once each)."""
        seen: dict[str, dict[str, Any]] = {}
        for p in self.points():
            opts = p.job_options(self.options)
            seen.setdefault(json.dumps(opts, sort_keys=True, default=str), opts)
        return list(seen.values())


def _nest(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path, v in values.items():
        node = out
        *heads, leaf = path.split(".")
        for h in heads:
            node = node.setdefault(h, {})
        node[leaf] = v
    return out


def _check_field(path: str, base: Config, where: str) -> None:
    if path.startswith(OPTIONS):
        if not path.removeprefix(OPTIONS) or "" in path.split("."):
            raise ConfigError(f"{where}: axis {path!r}: name the option, e.g. 'options.temperature_C'")
        return  # the job checks its options
    obj: Any = base
    parts = path.split(".")
    for i, part in enumerate(parts):
        if not dataclasses.is_dataclass(obj):
            raise ConfigError(f"{where}: axis {path!r}: {'.'.join(parts[:i])!r} is a value, not a table")
        names = [f.name for f in dataclasses.fields(obj)]
        if part not in names:
            inside = f" in {'.'.join(parts[:i])!r}" if i else ""
            raise ConfigError(f"{where}: axis {path!r}: unknown key {part!r}{inside}: allowed keys are "
                              f"{', '.join(names)}")  # fmt: skip
        obj = getattr(obj, part)
    if dataclasses.is_dataclass(obj):
        raise ConfigError(f"{where}: axis {path!r} is a table: name one of its keys")


def _values(path: str, raw: Any, where: str) -> list[Any]:
    if isinstance(raw, list):
        if not raw:
            raise ConfigError(f"{where}: axis {path!r} is an empty list: give at least one value")
        return raw
    if isinstance(raw, dict) and {"start", "stop"} <= set(raw):
        start, stop, step = raw["start"], raw["stop"], raw.get("step", 1)
        if not (isinstance(step, int | float) and step > 0 and stop >= start):
            raise ConfigError(f"{where}: axis {path!r} = {raw!r}: allowed is start <= stop and step > 0")
        n = int((stop - start) / step + 1e-9) + 1
        vals = [start + i * step for i in range(n)]
        return [int(v) if all(isinstance(x, int) for x in (start, step)) else float(v) for v in vals]
    if isinstance(raw, dict) and {"low", "high", "samples"} <= set(raw):
        rng = random.Random(raw.get("seed", 0))
        lo, hi, n = raw["low"], raw["high"], raw["samples"]
        if not (isinstance(n, int) and n >= 1 and hi >= lo):
            raise ConfigError(f"{where}: axis {path!r} = {raw!r}: allowed is low <= high and samples >= 1")
        return [lo + (hi - lo) * rng.random() for _ in range(n)]
    raise ConfigError(f"{where}: axis {path!r} = {raw!r} is invalid: allowed is a list, {{start, stop[, step]}} "
                      "or {low, high, samples[, seed]}")  # fmt: skip


def parse_spec(data: dict[str, Any], source: str = "<dict>") -> SweepSpec:
    """Check a spec's tables and build it (every point validated).

    Raises:
        reram.ConfigError: naming the key, the axis or the point that is wrong.

    """
    known = {"job", "base", "seeds", "mode", "options", "axes"}
    extra = sorted(set(data) - known)
    if extra:
        raise ConfigError(f"{source}: unknown key(s) {extra}: allowed keys are {', '.join(sorted(known))}")
    job = data.get("job", "run")
    if not isinstance(job, str) or not job:
        raise ConfigError(f"{source}: job = {job!r}: allowed is a built-in job name or 'module:function'")
    seeds = data.get("seeds", 1)
    if not (isinstance(seeds, int) and 1 <= seeds <= 10_000):
        raise ConfigError(f"{source}: seeds = {seeds!r}: allowed is an integer in [1, 10000]")
    mode = data.get("mode", "grid")
    if mode not in MODES:
        raise ConfigError(f"{source}: mode = {mode!r}: allowed is one of {', '.join(MODES)}")
    base = load_config(data.get("base", "neurram"))
    axes_raw = data.get("axes", {})
    if not isinstance(axes_raw, dict):
        raise ConfigError(f"{source}: [axes] must be a table of dotted config fields")
    axes = {}
    for path, raw in axes_raw.items():
        _check_field(path, base, source)
        axes[path] = _values(path, raw, source)
    if mode == "zip" and len({len(v) for v in axes.values()}) > 1:
        raise ConfigError(f"{source}: mode = 'zip' needs axes of one length, not {[len(v) for v in axes.values()]}")
    options = data.get("options", {})
    if not isinstance(options, dict):
        raise ConfigError(f"{source}: [options] must be a table of the job's keywords")
    spec = SweepSpec(job, base, axes, seeds, mode, dict(options), source)
    spec.points()  # every point's config validated now
    return spec


def load_spec(path: str | Path) -> SweepSpec:
    """Read and check a spec file."""
    return parse_spec(read_toml(path), str(path))
