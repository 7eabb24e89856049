"""Bad input, generated: every bad config or argument set gets a one-line error naming the field,
the value and what is allowed (exit code 2 on the command line), never a traceback, never a
silently accepted impossible value.
"""

from __future__ import annotations

import dataclasses
import math
import string
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from reram.cli import app
from reram.config import Config, ConfigError, HWAConfig, JobConfig, load_config, load_job

runner = CliRunner()


def _leaves(cls: type, prefix: str = "") -> list[tuple[str, str]]:
    """(dotted path, declared type) of every leaf field of a config dataclass."""
    out = []
    hints = {f.name: f for f in dataclasses.fields(cls)}
    import typing

    types = typing.get_type_hints(cls)
    for name in hints:
        t = types[name]
        path = f"{prefix}{name}"
        if dataclasses.is_dataclass(t):
            out += _leaves(t, path + ".")  # type: ignore[arg-type]
        else:
            out.append((path, str(t.__name__ if isinstance(t, type) else t)))
    return out


LEAVES = [p for p in _leaves(Config) if p[0] != "name"]
BAD_VALUES = st.one_of(
    st.sampled_from(
        [
            math.nan,
            math.inf,
            -math.inf,
            1e300,
            -1e300,
            -1,
            -1.5,
            0,
            2**62,
            1e-300,
            True,
            "big",
            "",
            [],
            [1, "x"],
            {"a": 1},
            [[math.nan]],
        ]
    ),  # fmt: skip
    st.text(max_size=6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**70), max_value=2**70),
)


def _nest(path: str, value: Any) -> dict[str, Any]:
    out: Any = value
    for part in reversed(path.split(".")):
        out = {part: out}
    return out


def _finite_everywhere(obj: Any) -> bool:
    if dataclasses.is_dataclass(obj):
        return all(_finite_everywhere(getattr(obj, f.name)) for f in dataclasses.fields(obj))
    if isinstance(obj, float):
        return math.isfinite(obj)
    if isinstance(obj, tuple):
        return all(_finite_everywhere(v) for v in obj)
    return True


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(LEAVES), BAD_VALUES, st.sampled_from(["neurram", "ideal", "none"]))
def test_a_bad_field_value_is_named_or_is_a_valid_physical_config(leaf: tuple[str, str], value: Any, base: str) -> None:
    path, _ = leaf
    try:
        cfg = load_config({"base": base, **_nest(path, value)})
    except ConfigError as err:
        msg = str(err)  # the field, or (a constraint between fields) the field it constrains, by name
        assert path.rpartition(".")[2] in msg and "allowed" in msg and "\n" not in msg, msg
        return
    assert _finite_everywhere(cfg)  # accepted: then it is a physical value
    assert cfg.array.rows <= 65536 and cfg.device.g_max_S <= 0.01


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(LEAVES), st.text(alphabet=string.ascii_lowercase + "_", min_size=1, max_size=4))
def test_unknown_and_misspelled_keys_list_the_allowed_ones(leaf: tuple[str, str], junk: str) -> None:
    path, _ = leaf
    head, _, last = path.rpartition(".")
    wrong = f"{head}.{last}{junk}" if head else f"{last}{junk}"
    with pytest.raises(ConfigError, match="unknown key .*allowed keys are"):
        load_config(_nest(wrong, 1))


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.binary(max_size=200), st.text(max_size=200)))
def test_random_file_contents_load_or_fail_cleanly(tmp_path_factory: Any, data: bytes | str) -> None:
    path = tmp_path_factory.mktemp("cfg") / "c.toml"
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    for loader in (load_config, lambda p: load_job(p)):
        try:
            loader(path)
        except ConfigError as err:
            assert str(path) in str(err) or "allowed" in str(err) or "unknown key" in str(err)


JOB_LEAVES = [(f"job.{f.name}", f) for f in dataclasses.fields(JobConfig)] + [
    (f"hwa.{f.name}", f) for f in dataclasses.fields(HWAConfig)
]


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([p for p, _ in JOB_LEAVES]), BAD_VALUES)
def test_job_tables_are_checked_like_the_chip(tmp_path_factory: Any, path: str, value: Any) -> None:
    import tomli_w

    f = tmp_path_factory.mktemp("job") / "job.toml"
    try:
        f.write_text(tomli_w.dumps(_nest(path, value)))
    except (TypeError, ValueError):
        return  # not representable in TOML (None, nested mixed lists)
    try:
        job, _, hwa = load_job(f)
    except ConfigError as err:
        assert path in str(err) and "allowed" in str(err), str(err)
        return
    assert _finite_everywhere(job) and _finite_everywhere(HWAConfig(**hwa))


def _bad_cli_args(tmp: Any) -> list[list[str]]:
    file = tmp / "a_file"
    file.write_text("x")
    bad_toml = tmp / "bad.toml"
    bad_toml.write_bytes(b"\xff\xfe not [ toml")
    job_bad = tmp / "job.toml"
    job_bad.write_text("[job]\nages_s = [86400, 1]\n")
    unknown = tmp / "unknown.toml"
    unknown.write_text('[job]\nmodel = "gpt5"\n')
    cal = tmp / "cal.toml"
    cal.write_text("[job]\ncalibration_samples = 0\n")
    inf = tmp / "inf.toml"
    inf.write_text("[device]\ng_max_S = inf\n")
    return [
        ["run", "--out", str(file)],
        ["run", "--out", str(file / "below")],
        ["run", "--out", "/dev/null"],
        ["run", "--out", "/proc/reram"],
        ["run", "--config", str(tmp)],
        ["run", "--config", str(bad_toml)],
        ["run", "--config", str(job_bad)],
        ["run", "--config", str(unknown)],
        ["run", "--config", str(cal)],
        ["run", "--config", str(inf)],
        ["run", "--device", "cuda:abc"],
        ["run", "--device", "tpu"],
        ["run", "--data-dir", str(tmp / "missing")],
        ["train", "--device", "cuda:abc"],
        ["train", "--dataset", "imagenet"],
        ["train", "--model", "nope"],
        ["train", "--seeds", "0"],
        ["train", "--noise", "-1"],
        ["train", "--on-chip", "--pulse-mode", "magic"],
        ["train", "--on-chip", "--epochs", "0"],
        ["train", "--on-chip", "--dataset", "imagenet"],
        ["cost", "nope"],
        ["cost", "fashion_cnn", "--input-shape", "a,b"],
        ["cost", "fashion_cnn", "--input-shape", "3,-1"],
        ["cost", "fashion_cnn", "--preset", "nope"],
        ["cost", "fashion_cnn", "--config", str(bad_toml)],
        ["cost", "fashion_cnn", "--config", str(inf)],
        ["cost", "no.such.module:factory"],
        ["irdrop", "--sizes", "64,big"],
        ["irdrop", "--resistances", "-1"],
        ["irdrop", "--finetune-samples", "-5"],
        ["bench", "nope"],
        ["bench", "neurram", "--tasks", ""],
        ["bench", "neurram", "--tasks", "mnist,nope"],
        ["presets", "--show", "nope"],
        ["presets", "--show", ""],
        ["run", "--config", str(tmp / "missing.toml")],
        ["run", "--quick", "--device", "cuda:99"],
        ["cost", "fashion_cnn", "--out", "/dev/null"],
        ["cost", "fashion_cnn", "--input-shape", "0"],
        ["cost", "fashion_cnn", "--input-shape", "2,2"],
        ["irdrop", "--sizes", "1"],
        ["irdrop", "--config", str(bad_toml)],
        ["train", "--on-chip", "--batch-size", "0"],
        ["train", "--on-chip", "--lr", "-1"],
        ["train", "--on-chip", "--seeds", "0"],
        ["train", "--on-chip", "--device", "cuda"],
        ["train", "--config", str(inf)],
        ["train", "--finetune-epochs", "-2"],
        ["bench", "neurram", "--out", str(file)],
        ["bench", "neurram", "--tasks", ",,"],
    ]


def test_every_bad_argument_set_exits_2_with_one_error_line(tmp_path: Any, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)  # default output folders land here
    for args in _bad_cli_args(tmp_path):
        r = runner.invoke(app, args)
        assert r.exit_code == 2, (args, r.output, r.exception)
        assert r.exception is None or isinstance(r.exception, SystemExit), (args, r.exception)
        assert "Traceback" not in r.output and "error" in r.output.lower(), (args, r.output)
    import json

    for f in (tmp_path / "results").rglob("*.json") if (tmp_path / "results").exists() else []:
        assert f.name == "manifest.json" and json.loads(f.read_text())["status"] == "failed", f  # no results


TEXT = st.text(alphabet=string.printable, max_size=12)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(["show", "cost-model", "cost-shape", "bench-suite", "bench-tasks", "sizes", "resistances",
                        "device", "seeds", "pulse-mode"]), TEXT)  # fmt: skip
def test_generated_argument_values_exit_cleanly(tmp_path: Any, monkeypatch: Any, where: str, text: str) -> None:
    from reram.cli.tools import BENCH_TASKS
    from reram.config.jobs import _DEVICE, PULSE_MODES
    from reram.zoo import MODELS

    monkeypatch.chdir(tmp_path)
    names = {t.strip() for t in text.split(",") if t.strip()}
    if where == "bench-tasks" and names and names <= set(BENCH_TASKS["neurram"]):
        return  # a valid task list would run the suite
    numbers = [t for t in text.split(",") if t.strip()]
    if where in ("sizes", "resistances") and numbers and all(t.strip().replace(".", "", 1).isdigit() for t in numbers):
        return  # valid numbers would run the sweep
    if where == "device" and _DEVICE.match(text) or where == "cost-model" and (text in MODELS or ":" in text):
        return  # a valid device runs the job; module:factory would call an arbitrary function
    if where == "pulse-mode" and text in PULSE_MODES or where == "seeds" and text.strip().lstrip("+").isdigit():
        return
    args = {
        "show": ["presets", "--show", text], "cost-model": ["cost", text],
        "cost-shape": ["cost", "lenet5", "--input-shape", text], "bench-suite": ["bench", text],
        "bench-tasks": ["bench", "neurram", "--tasks", text], "sizes": ["irdrop", "--sizes", text],
        "resistances": ["irdrop", "--resistances", text], "device": ["run", "--device", text],
        "seeds": ["train", "--seeds", text], "pulse-mode": ["train", "--on-chip", "--pulse-mode", text],
    }[where]  # fmt: skip
    r = runner.invoke(app, args)
    assert r.exit_code in (0, 2), (args, r.output, r.exception)
    assert r.exception is None or isinstance(r.exception, SystemExit), (args, r.exception)
    if r.exit_code == 2:
        assert "Traceback" not in r.output, (args, r.output)
