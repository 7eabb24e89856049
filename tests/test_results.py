"""What a reader of the results gets: valid JSON, readable files, a manifest that says what ran."""

from __future__ import annotations

import json
import math
import os
import stat

import torch
from torch import nn

import reram
from reram.report.manifest import RunManifest, manifested
from reram.report.writers import write_json


def test_json_holds_no_nan_or_infinity_and_says_why(tmp_path) -> None:  # type: ignore[no-untyped-def]
    f = write_json(tmp_path / "s.json", {"a": math.nan, "b": [1.0500000000000114, math.inf], "c": torch.tensor(2.5)})
    text = f.read_text()

    def strict(token: str) -> None:
        raise ValueError(f"not JSON: {token}")

    data = json.loads(text, parse_constant=strict)  # json.loads would accept NaN and Infinity
    assert data["a"] is None and data["b"] == [1.05, None] and data["c"] == 2.5
    assert {n["path"] for n in data["_null_values"]} == {"a", "b[1]"}
    assert stat.S_IMODE(os.stat(f).st_mode) & 0o044  # readable by group and others


def test_a_rerun_with_another_config_moves_the_older_files_and_the_manifest_says_what_ran(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with manifested(tmp_path, "reram test", {"x": 1}):
        (tmp_path / "result.csv").write_text("a\n1\n")
    first = json.loads((tmp_path / "manifest.json").read_text())
    assert first["status"] == "finished" and first["files"] == ["result.csv"] and first["finished"]
    again = RunManifest(tmp_path, "reram test", {"x": 1}).start()  # same config: resumes in place
    assert again.resumed_from is not None and again.moved_to is None and (tmp_path / "result.csv").exists()
    other = RunManifest(tmp_path, "reram test", {"x": 2}).start()  # another config: the old files move
    assert other.moved_to is not None and (other.moved_to / "result.csv").exists()
    assert not (tmp_path / "result.csv").exists()
    assert json.loads((tmp_path / "manifest.json").read_text())["status"] == "running"
    try:
        with manifested(tmp_path, "reram test", {"x": 2}):
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    failed = json.loads((tmp_path / "manifest.json").read_text())
    assert failed["status"] == "failed" and "boom" in failed["error"]


def test_one_file_means_one_chip_everywhere(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from reram.config import load_job
    from reram.cost import cost_of_model

    f = tmp_path / "chip.toml"
    f.write_text("[job]\nepochs = 1\n[periphery.adc]\nbits = 7\n")  # no base: neurram, for every reader
    job, run_cfg, _ = load_job(f)
    cfg = reram.load_config(f)
    assert cfg == run_cfg and cfg.device == reram.preset("neurram").device and cfg.periphery.adc.bits == 7
    chip = reram.convert(nn.Linear(8, 4), str(f))
    assert chip.config == cfg
    lin = nn.Linear(8, 4)
    _, a = cost_of_model(lin, str(f), (8,))
    _, b = cost_of_model(lin, run_cfg, (8,))
    assert a.total_energy_J == b.total_energy_J
    (tmp_path / "plain.toml").write_text('base = "none"\n')
    assert reram.load_config(tmp_path / "plain.toml") == reram.Config()
