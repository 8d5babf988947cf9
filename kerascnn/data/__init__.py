"""Data sources, tf.data pipelines, augmentation and evaluation.

``kerascnn.data.load(source, split, data_dir)`` takes a built-in name
(:data:`DATASETS`), a TFDS name (read offline from a prepared ``data_dir``;
``tfds:NAME`` forces TFDS) or a local path recognised by what it holds (see
:mod:`kerascnn.data.folders`), and returns a ``tf.data.Dataset`` of
(uint8 image, int64 label) with a :class:`DatasetInfo`.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from kerascnn.data.folders import looks_like_local, read_path
from kerascnn.data.pipeline import EpochCounter, channel_stats, make_dataset
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
from kerascnn.data.tfds import tfds_is_prepared

__all__ = ["DATASETS", "DataError", "Source", "DatasetInfo", "load", "load_source",
           "make_dataset", "channel_stats", "EpochCounter", "read_idx", "load_idx_dataset",
           "load_signs", "load_npz", "read_path", "split_validation", "source_kind"]

# Built-in names -> reader(data_dir, strict, image_size). data_dir None: the default location.
DATASETS = {
    "fashion_mnist": lambda d, **_: load_idx_dataset("fashion_mnist", d or FASHION_MNIST_DIR,
                                                     FASHION_MNIST_CLASSES),
    "mnist": lambda d, **_: (load_npz(os.path.join(d, "mnist.npz"), "mnist")
                             if d and os.path.isfile(os.path.join(d, "mnist.npz"))
                             else load_idx_dataset("mnist", d or "/usr/share/datasets/mnist")),
    "signs": lambda d, **kw: load_signs(d, **kw),
    "cifar10_subset": lambda d, **_: load_npz(
        os.path.join(d, "cifar10_subset.npz") if d and os.path.isdir(d) else d,
        "cifar10_subset"),
}


@dataclasses.dataclass
class DatasetInfo:
    """What :func:`load` read: names, counts, shapes, sizes, files skipped."""

    name: str
    kind: str  # "builtin", "local" or "tfds"
    class_names: tuple
    image_shape: tuple
    split_sizes: dict
    skipped: list = dataclasses.field(default_factory=list)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


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
    return Source(source.name, splits, source.class_names, skipped=source.skipped)


def source_kind(name, data_dir=None) -> str:
    """How ``name`` is read: ``"builtin"``, ``"local"`` or ``"tfds"``."""
    name = os.fspath(name)
    if name.startswith("tfds:"):
        return "tfds"
    if name in DATASETS:
        return "tfds" if data_dir and tfds_is_prepared(name, data_dir) else "builtin"
    if looks_like_local(name):
        return "local"
    if os.sep in name or name.startswith(".") or name.endswith((".npz", ".h5", ".gz")):
        raise DataError(f"No such file or folder: {name}.")
    return "tfds"


def _read(name, data_dir, strict, image_size) -> Source:
    kind = source_kind(name, data_dir)
    if kind == "builtin":
        return DATASETS[name](data_dir, strict=strict, image_size=image_size)
    if kind == "local":
        return read_path(name, strict=strict, image_size=image_size)
    from kerascnn.data.tfds import read_tfds

    tfds_name = name[5:] if name.startswith("tfds:") else name
    try:
        return read_tfds(tfds_name, data_dir)
    except DataError as e:
        if str(e).startswith("Unknown data set"):
            raise DataError(
                f"Unknown dataset {name!r}; allowed: {', '.join(sorted(DATASETS))}, a local "
                "path (image folder, h5 folder, .npz, idx files) or a TFDS name."
            ) from None
        raise


def load_source(name, data_dir=None, val_fraction: float = 0.1, seed: int = 0, *,
                strict: bool = False, image_size=None) -> Source:
    """Reads ``name`` (built-in, local path or TFDS) into memory with train/val/test splits.

    Args:
        name: see :func:`load`.
        data_dir: the built-in set's folder, or the prepared TFDS directory.
        val_fraction: part of train held out (fixed ``seed``) when there is no val split.
        strict: stop at the first unreadable file instead of skipping and counting it.
        image_size: resize images (shorter side, centre crop) while reading; needed
            when a folder holds images of mixed sizes.

    Raises:
        DataError: unknown name, or missing/unreadable data (one-line message).
    """
    source = _read(os.fspath(name), data_dir, strict, image_size)
    return split_validation(source, val_fraction, seed)


def load(source, split="train", data_dir=None, *, val_fraction: float = 0.1, seed: int = 0,
         strict: bool = False, image_size=None):
    """One split of a data set as a ``tf.data.Dataset`` plus its :class:`DatasetInfo`.

    Args:
        source: a built-in name (``fashion_mnist``, ``mnist``, ``signs``,
            ``cifar10_subset``), a TFDS image-classification name (``cifar10``,
            ``food101``, ``imagenet2012``; ``tfds:NAME`` forces TFDS for a built-in
            name), or a path to a local source recognised by what it holds.
        split: ``train``, ``val`` or ``test``.
        data_dir: the built-in set's folder or the prepared TFDS directory (TFDS
            never downloads here: an unprepared directory fails at once naming the
            command that prepares it).
        val_fraction, seed: the validation split carved from train when the source
            has none (TFDS: the last ``val_fraction`` of train).
        strict, image_size: see :func:`load_source`.

    Returns:
        (dataset of (uint8 HWC image, int64 label), DatasetInfo).
    """
    import tensorflow as tf

    if split not in ("train", "val", "test"):
        raise DataError(f"Unknown split {split!r}; allowed: train, val, test.")
    name = os.fspath(source)
    kind = source_kind(name, data_dir)
    if kind == "tfds":
        from kerascnn.data.tfds import tfds_builder, tfds_dataset, tfds_info

        tfds_name = name[5:] if name.startswith("tfds:") else name
        try:
            builder = tfds_builder(tfds_name, data_dir)
        except DataError as e:
            if str(e).startswith("Unknown data set"):
                _read(name, data_dir, strict, image_size)  # raises the full message
            raise
        names, shape, sizes = tfds_info(builder)
        carve = "val" not in sizes and val_fraction > 0
        if carve:
            n_val = max(1, int(round(sizes["train"] * val_fraction)))
            sizes = {**sizes, "train": sizes["train"] - n_val, "val": n_val}
        if carve and split in ("train", "val"):
            ds = tfds_dataset(builder, "train")
            ds = ds.take(sizes["train"]) if split == "train" else ds.skip(sizes["train"])
        else:
            if split not in sizes:
                raise DataError(f"TFDS data set {tfds_name!r} has no {split} split "
                                f"(it has {', '.join(sizes)}).")
            ds = tfds_dataset(builder, split)
        info = DatasetInfo(tfds_name, "tfds", names, shape, sizes)
        return ds, info
    data = load_source(name, data_dir, val_fraction, seed, strict=strict, image_size=image_size)
    if split not in data.splits:
        raise DataError(f"{name} has no {split} split (it has {', '.join(data.splits)}).")
    x, y = data.splits[split]
    info = DatasetInfo(data.name, kind, data.class_names, data.image_shape,
                       data.split_sizes(), data.skipped)
    return tf.data.Dataset.from_tensor_slices((x, y)), info
