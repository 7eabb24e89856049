"""Keyword spotting data: a synthesized Google-speech-commands-like set, or the real one.

No speech corpus can be downloaded here, so the ten keywords of the speech commands set (Warden
2018: yes, no, up, down, left, right, on, off, stop, go), "unknown" words (the set's other words)
and silence are synthesized with Debian's ``espeak-ng``: speakers are (accent, voice variant)
pairs; pitch, speed and amplitude vary per utterance; each clip is placed in one second at a
random shift and mixed with background noise (white, pink or brown, random SNR). Train,
validation and test speakers are disjoint. Features are 40 MFCCs (librosa) over 30 ms windows
every 20 ms: (40, 51) per clip, standardised with the training set's statistics. Everything is
seeded and cached under the user's cache directory (``$XDG_CACHE_HOME/reram`` or
``~/.cache/reram``). :func:`load_speech_commands` reads the real corpus's folder layout.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from reram.data.datasets import Dataset, DatasetMissing

KEYWORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
UNKNOWN = ("bed", "bird", "cat", "dog", "eight", "five", "four", "happy", "house", "marvin",
           "nine", "one", "seven", "sheila", "six", "three", "tree", "two", "wow", "zero")  # fmt: skip
CLASSES = (*KEYWORDS, "_unknown_", "_silence_")
ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029", "en-us-nyc")
VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5", "Alex", "Andy", "Annie",
            "belinda", "david", "ed", "edward", "john", "linda", "max", "Mike", "paul", "robert", "steph",
            "travis", "victor", "croak", "klatt")  # fmt: skip
SR = 16000
N_MFCC, N_FFT, HOP = 40, 480, 320  # 30 ms windows every 20 ms: 51 frames per second


def cache_dir() -> Path:
    """Where synthesized sets are kept: $XDG_CACHE_HOME/reram or ~/.cache/reram."""
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "reram"


def _speak(text: str, voice: str, pitch: int, speed: int, amplitude: int) -> np.ndarray:
    """espeak-ng's waveform of ``text`` at 16 kHz (float32 in [-1, 1])."""
    from scipy.io import wavfile
    from scipy.signal import resample_poly

    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "w.wav"
        cmd = ["espeak-ng", "-v", voice, "-p", str(pitch), "-s", str(speed), "-a", str(amplitude), "-w", str(f), text]
        subprocess.run(cmd, check=True, capture_output=True)
        sr, a = wavfile.read(f)
    x = a.astype(np.float32) / 32768.0
    return resample_poly(x, SR, sr).astype(np.float32) if sr != SR else x


def _noise(kind: int, n: int, rng: np.random.Generator) -> np.ndarray:
    w = rng.standard_normal(n)
    if kind == 1:  # pink: 1/f power, shaped in frequency
        f = np.fft.rfft(w)
        f /= np.sqrt(np.maximum(np.arange(len(f)), 1))
        w = np.fft.irfft(f, n)
    elif kind == 2:  # brown: integrated white noise
        w = np.cumsum(w)
        w -= np.linspace(w[0], w[-1], n)
    return (w / (np.std(w) + 1e-12)).astype(np.float32)


def mfcc(clips: np.ndarray) -> np.ndarray:
    """(N, 16000) clips -> (N, 40, 51) MFCCs (librosa; 30 ms Hann windows every 20 ms, 40 mel bands)."""
    import librosa

    feats = librosa.feature.mfcc(y=clips, sr=SR, n_mfcc=N_MFCC, n_fft=N_FFT, hop_length=HOP, n_mels=40)
    return np.asarray(feats, dtype=np.float32)


def _plan(per_word: int, seed: int) -> list[dict[str, object]]:
    """Every utterance to synthesize: word, class, speaker, split, voice parameters, placement, noise."""
    rng = np.random.default_rng(seed)
    speakers = [(a, v) for a in ACCENTS for v in VARIANTS]
    order = rng.permutation(len(speakers))
    split_of = {
        speakers[i]: ("test" if k % 10 == 0 else "val" if k % 10 == 1 else "train") for k, i in enumerate(order)
    }
    plan: list[dict[str, object]] = []
    words = [(w, CLASSES.index(w)) for w in KEYWORDS] + [(w, 10) for w in UNKNOWN]
    for word, label in words:
        n = per_word if label < 10 else max(1, per_word // 10)  # unknown words share one class
        for _ in range(n):
            acc, var = speakers[int(rng.integers(len(speakers)))]
            plan.append({"word": word, "label": label, "split": split_of[(acc, var)], "voice": f"{acc}+{var}",
                         "pitch": int(rng.integers(20, 80)), "speed": int(rng.integers(110, 220)),
                         "amp": int(rng.integers(60, 180)), "seed": int(rng.integers(2**31))})  # fmt: skip
    for k in range(per_word):  # silence: background noise only, split like the speakers
        split = "test" if k % 10 == 0 else "val" if k % 10 == 1 else "train"
        plan.append({"word": "", "label": 11, "split": split, "seed": int(rng.integers(2**31))})
    return plan


def _render(item: dict[str, object]) -> np.ndarray:
    rng = np.random.default_rng(int(item["seed"]))  # type: ignore[call-overload]
    clip = np.zeros(SR, np.float32)
    if item["word"]:
        speech = _speak(str(item["word"]), str(item["voice"]), int(item["pitch"]), int(item["speed"]), int(item["amp"]))  # type: ignore[call-overload]
        nz = np.flatnonzero(np.abs(speech) > 1e-3)
        speech = speech[nz[0] : nz[-1] + 1] if len(nz) else speech
        speech = speech[:SR]
        start = int(rng.integers(0, SR - len(speech) + 1))  # random time shift
        clip[start : start + len(speech)] = speech
        level = float(np.sqrt(np.mean(speech**2)) + 1e-6)
        snr_db = float(rng.uniform(5, 30))
    else:
        level, snr_db = float(rng.uniform(0.005, 0.05)), 0.0
    clip += _noise(int(rng.integers(3)), SR, rng) * level * 10 ** (-snr_db / 20)
    return clip


def synthesize_kws(per_word: int = 300, seed: int = 0, workers: int = 4, cache: Path | None = None) -> Dataset:
    """The synthesized keyword-spotting set (12 classes), built once and cached.

    Args:
        per_word: utterances per keyword (silence gets as many, each unknown word a tenth).
        seed: fixes speakers, voice parameters, shifts and noise.
        workers: parallel espeak-ng processes.
        cache: cache folder (default :func:`cache_dir`).

    Returns:
        Dataset "kws": x (N, 40, 51) standardised MFCCs, labels in :data:`CLASSES`; train and
        test speakers are disjoint (a tenth of the speakers each are held out for validation and
        test; the validation clips stay in the cache file's ``split`` for model selection).

    Raises:
        DatasetMissing: espeak-ng or librosa is not installed (says how to install them).

    """
    key = hashlib.sha256(json.dumps([per_word, seed, KEYWORDS, UNKNOWN, ACCENTS, VARIANTS, N_MFCC, HOP]).encode())
    path = (cache or cache_dir()) / f"kws_{key.hexdigest()[:16]}.npz"
    if not path.exists():
        if shutil.which("espeak-ng") is None:
            raise DatasetMissing("the synthesized speech set needs espeak-ng: `sudo apt-get install espeak-ng`")
        try:
            import librosa  # noqa: F401
        except ImportError as exc:
            raise DatasetMissing("MFCC features need librosa: `pip install librosa`") from exc
        plan = _plan(per_word, seed)
        with ThreadPoolExecutor(workers) as pool:
            clips = np.stack(list(pool.map(_render, plan)))
        feats = mfcc(clips)
        labels = np.array([int(p["label"]) for p in plan])  # type: ignore[call-overload]
        split = np.array([str(p["split"]) for p in plan])
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, x=feats, y=labels, split=split)
        tmp.replace(path)
    z = np.load(path)
    return _standardised("kws", z["x"], z["y"], z["split"])


def _standardised(name: str, x: np.ndarray, y: np.ndarray, split: np.ndarray) -> Dataset:
    tr, te = split == "train", split == "test"
    mu = x[tr].mean(axis=(0, 2), keepdims=True)
    sd = x[tr].std(axis=(0, 2), keepdims=True) + 1e-6
    xs = torch.from_numpy(((x - mu) / sd).astype(np.float32))
    yt = torch.from_numpy(y.astype(np.int64))
    gen = np.random.default_rng(0)
    i_tr, i_te = gen.permutation(np.flatnonzero(tr)), np.flatnonzero(te)
    return Dataset(name, xs[i_tr], yt[i_tr], xs[i_te], yt[i_te], len(CLASSES))


def load_speech_commands(path: str | Path | None = None, silence_per_class: float = 1.0) -> Dataset:
    """The real Google speech commands corpus (v0.01/v0.02 folder layout) at ``path`` or
    ``$RERAM_SPEECH_COMMANDS``: one folder per word of 16 kHz WAV files, ``validation_list.txt``,
    ``testing_list.txt`` and ``_background_noise_``. Same 12 classes and features as the
    synthesized set; silence clips are cut from the background-noise files.
    """
    from scipy.io import wavfile

    p = path or os.environ.get("RERAM_SPEECH_COMMANDS")
    if not p or not Path(p).is_dir():
        raise DatasetMissing(
            "speech commands needs its unpacked folder: pass path= / --data-dir, or set RERAM_SPEECH_COMMANDS"
        )
    root = Path(p)

    def listed(name: str) -> set[str]:
        f = root / name
        return set(f.read_text().split()) if f.exists() else set()

    val, test = listed("validation_list.txt"), listed("testing_list.txt")
    clips, labels, split = [], [], []
    for d in sorted(x for x in root.iterdir() if x.is_dir() and not x.name.startswith("_")):
        label = CLASSES.index(d.name) if d.name in KEYWORDS else 10
        for f in sorted(d.glob("*.wav")):
            _, a = wavfile.read(f)
            x = np.zeros(SR, np.float32)
            a = a[:SR].astype(np.float32) / 32768.0
            x[: len(a)] = a
            rel = f"{d.name}/{f.name}"
            clips.append(x)
            labels.append(label)
            split.append("test" if rel in test else "val" if rel in val else "train")
    if not clips:
        raise DatasetMissing(f"{root}: no word folders with .wav files")
    noise_dir = root / "_background_noise_"
    n_sil = int(silence_per_class * sum(1 for y in labels if y == 0))
    noises = (
        [wavfile.read(f)[1].astype(np.float32) / 32768.0 for f in sorted(noise_dir.glob("*.wav"))]
        if noise_dir.is_dir()
        else []
    )
    rng = np.random.default_rng(0)
    for k in range(n_sil if noises else 0):
        src = noises[k % len(noises)]
        start = int(rng.integers(0, max(1, len(src) - SR)))
        x = np.zeros(SR, np.float32)
        seg = src[start : start + SR]
        x[: len(seg)] = seg
        clips.append(x)
        labels.append(11)
        split.append("val" if k % 10 == 8 else "test" if k % 10 == 9 else "train")
    return _standardised("speech-commands", mfcc(np.stack(clips)), np.array(labels), np.array(split))
