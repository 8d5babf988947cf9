"""Data sources and tf.data pipelines."""

from __future__ import annotations

import os

import numpy as np

from kerascnn.data.pipeline import channel_stats, make_dataset
from kerascnn.data.sources import (
    FASHION_MNIST_CLASSES,
    FASHION_MNIST_DIR,
    DataError,
    Source,
    load_idx_dataset,
    load_npz,
    load_signs,
    read_idx,
)

__all__ = ["DATASETS", "DataError", "Source", "load_source", "make_dataset", "channel_stats",
           "read_idx", "load_idx_dataset", "load_signs", "load_npz", "split_validation"]

# Built-in names -> reader(data_dir). data_dir None means the default location.
DATASETS = {
    "fashion_mnist": lambda d: load_idx_dataset("fashion_mnist", d or FASHION_MNIST_DIR,
                                                FASHION_MNIST_CLASSES),
    "mnist": lambda d: (load_npz(os.path.join(d, "mnist.npz"), "mnist")
                        if d and os.path.isfile(os.path.join(d, "mnist.npz"))
                        else load_idx_dataset("mnist", d or "/usr/share/datasets/mnist")),
    "signs": load_signs,
    "cifar10_subset": lambda d: load_npz(
        os.path.join(d, "cifar10_subset.npz") if d and os.path.isdir(d) else d,
        "cifar10_subset"),
}


def split_validation(source: Source, fraction: float = 0.1, seed: int = 0) -> Source:
    """Carves a validation split out of ``train`` (fixed seed) when there is none."""
    if "val" in source.splits or fraction <= 0:
        return source
    x, y = source.splits["train"]
    order = np.random.default_rng(seed).permutation(len(y))
    n_val = max(1, int(round(len(y) * fraction)))
    val, train = order[:n_val], order[n_val:]
    splits = dict(source.splits)
    splits["train"] = (x[train], y[train])
    splits["val"] = (x[val], y[val])
    return Source(source.name, splits, source.class_names)


def load_source(name: str, data_dir=None, val_fraction: float = 0.1, seed: int = 0) -> Source:
    """Reads the built-in data set ``name`` with train/val/test splits.

    Raises:
        DataError: unknown name, or missing/unreadable data (one-line message).
    """
    if name not in DATASETS:
        raise DataError(
            f"Unknown dataset {name!r}; allowed: {', '.join(sorted(DATASETS))}."
        )
    return split_validation(DATASETS[name](data_dir), val_fraction, seed)
