"""Keyword-spotting data: the synthesized set (espeak-ng) and the real corpus's folder layout."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from reram.data import DatasetMissing, speech

needs_tools = pytest.mark.skipif(
    shutil.which("espeak-ng") is None or pytest.importorskip("librosa") is None, reason="needs espeak-ng and librosa"
)


@needs_tools
def test_a_tiny_synthesized_set_is_cached(tmp_path) -> None:  # type: ignore[no-untyped-def]
    d = speech.synthesize_kws(per_word=1, seed=5, workers=2, cache=tmp_path)
    assert d.x_train.shape[1:] == (40, 51) and d.classes == 12
    assert len(list(tmp_path.glob("kws_*.npz"))) == 1


@pytest.mark.slow
@needs_tools
def test_synthesized_set_is_seeded_cached_and_split_by_speaker(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    plan = speech._plan(per_word=6, seed=3)
    by_split: dict[str, set[str]] = {}
    for p in plan:
        if p["word"]:
            by_split.setdefault(str(p["split"]), set()).add(str(p["voice"]))
    assert not by_split.get("train", set()) & by_split.get("test", set())  # no speaker in both
    assert plan == speech._plan(per_word=6, seed=3)  # seeded
    d = speech.synthesize_kws(per_word=6, seed=3, workers=2, cache=tmp_path)
    assert d.x_train.shape[1:] == (40, 51) and d.classes == 12
    assert set(d.y_train.tolist()) | set(d.y_test.tolist()) <= set(range(12))
    assert abs(float(d.x_train.mean())) < 0.1 and abs(float(d.x_train.std()) - 1) < 0.1  # standardised
    files = list(tmp_path.glob("kws_*.npz"))
    assert len(files) == 1
    monkeypatch.setattr(speech, "_render", lambda item: (_ for _ in ()).throw(AssertionError("not cached")))
    again = speech.synthesize_kws(per_word=6, seed=3, cache=tmp_path)
    assert torch.equal(again.x_test, d.x_test)


def test_synthesis_says_what_is_missing(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(speech.shutil, "which", lambda name: None)
    with pytest.raises(DatasetMissing, match="apt-get install espeak-ng"):
        speech.synthesize_kws(per_word=2, cache=tmp_path)


@needs_tools
def test_real_speech_commands_layout(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from scipy.io import wavfile

    rng = np.random.default_rng(0)
    for word in ("yes", "no", "bird"):
        (tmp_path / word).mkdir()
        for k in range(4):
            wavfile.write(
                tmp_path / word / f"spk{k}_nohash_0.wav", 16000, (rng.standard_normal(16000) * 3000).astype(np.int16)
            )
    (tmp_path / "_background_noise_").mkdir()
    wavfile.write(
        tmp_path / "_background_noise_" / "white.wav", 16000, (rng.standard_normal(48000) * 3000).astype(np.int16)
    )
    (tmp_path / "testing_list.txt").write_text("yes/spk0_nohash_0.wav\nno/spk0_nohash_0.wav\nbird/spk0_nohash_0.wav\n")
    (tmp_path / "validation_list.txt").write_text("yes/spk1_nohash_0.wav\n")
    d = speech.load_speech_commands(tmp_path)
    assert d.x_test.shape == (3, 40, 51) and sorted(d.y_test.tolist()) == [0, 1, 10]
    assert 11 in d.y_train.tolist()  # silence cut from the background noise
    with pytest.raises(DatasetMissing, match="RERAM_SPEECH_COMMANDS"):
        speech.load_speech_commands(tmp_path / "nowhere")


def test_kws_lstm_maps_its_gate_matrices_onto_cores() -> None:
    import reram
    from reram.nn import analog_layers
    from reram.zoo import build

    model, shape = build("kws_lstm", 12)
    assert shape == (40, 51)
    x = torch.randn(3, *shape)
    assert model(x).shape == (3, 12)
    chip = reram.convert(model, "ideal")
    layers = analog_layers(chip)
    assert len(layers) == 5 and layers[0][1].grid.in_features == 40 + 108  # 4 gate matrices + classifier
    with torch.no_grad():
        assert torch.allclose(chip(x), model(x), atol=1e-3)
