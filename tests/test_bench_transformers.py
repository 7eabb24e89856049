"""The transformer bench end to end on tiny settings, and the text corpus."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from reram.data import DatasetError, DatasetMissing, load_text


def _text(tmp_path: Path) -> Path:
    words = "in the beginning was the word and the word was with light and darkness".split()
    text = "\n".join(" ".join(words[(i * 7 + j) % len(words)] for j in range(9)) for i in range(400))
    p = tmp_path / "corpus.txt"
    p.write_text(text)
    return p


def test_a_text_file_becomes_a_character_corpus(tmp_path: Path) -> None:
    import torch

    c = load_text(_text(tmp_path), test_fraction=0.1)
    assert c.vocab == "".join(sorted(set(_text(tmp_path).read_text())))
    assert len(c.train) + len(c.test) == len(_text(tmp_path).read_text())
    x, y = c.batches("train", 16, 4, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (4, 16) and torch.equal(x[:, 1:], y[:, :-1])  # next-character targets
    with pytest.raises(DatasetMissing, match="not found"):
        load_text(tmp_path / "nope.txt")
    (tmp_path / "short.txt").write_text("too short")
    with pytest.raises(DatasetError, match="at least 1000"):
        load_text(tmp_path / "short.txt")


@pytest.mark.skipif(shutil.which("bible") is None, reason="Debian's bible-kjv is not installed")
def test_the_king_james_bible_is_read_from_debian(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RERAM_CACHE", str(tmp_path))
    c = load_text(limit=200_000)
    assert c.decode(c.train[:54]) == "In the beginning God created the heaven and the earth."
    assert (tmp_path / "kjv.txt").stat().st_size > 4_000_000  # the whole text, cached


def test_the_transformer_bench_runs_both_tasks_and_writes_its_table(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from reram.config.jobs import JobConfig
    from reram.experiments import bench_transformers as bt

    tiny_job = JobConfig(
        dataset="fashion-mnist", epochs=1, train_samples=600, test_samples=200, calibration_samples=200
    )
    monkeypatch.setattr(bt.JobConfig, "quick", classmethod(lambda cls: tiny_job))
    monkeypatch.setattr(bt.GPTSettings, "quick", classmethod(lambda cls: cls(steps=20, hwa_steps=5, batch=8,
                        context=64, eval_sequences=16, calibration_sequences=4, seeds=2)))  # fmt: skip
    corpus = load_text(_text(tmp_path))
    monkeypatch.setattr(bt, "load_text", lambda: corpus)
    from reram.data import load_dataset

    try:
        load_dataset("fashion-mnist")
    except DatasetMissing:
        pytest.skip("Fashion-MNIST is not installed")
    summary = bt.run_transformer_bench(tmp_path / "out", quick=True)
    rows = {r["task"].split(",")[0]: r for r in summary["rows"]}
    assert set(rows) == {"Fashion-MNIST", "King James Bible"}
    vit, gpt = rows["Fashion-MNIST"], rows["King James Bible"]
    assert 0 < vit["float_software"] <= 100 and 0 <= vit["analog"] <= 100 and vit["seeds"] == 2
    assert gpt["float_software"] > 1 and gpt["analog"] > 1 and gpt["analog_hwa"] > 1  # perplexities
    assert vit["energy_per_inference_J"] > 0 and gpt["energy_per_inference_J"] > 0
    for f in ("bench_transformers.json", "bench_transformers.csv", "bench_transformers.png", "bench_report.html"):
        assert (tmp_path / "out" / f).stat().st_size > 0
    again = bt.run_transformer_bench(tmp_path / "out", quick=True, tasks=("gpt",))  # the models resume
    assert again["rows"][0]["float_software"] == pytest.approx(gpt["float_software"])
    assert json.loads((tmp_path / "out" / "bench_transformers.json").read_text())["quick"] is True
    with pytest.raises(ValueError, match="unknown"):
        bt.run_transformer_bench(tmp_path / "x", tasks=("bert",))
    assert dataclasses.asdict(bt.GPTSettings())["steps"] == 3000
