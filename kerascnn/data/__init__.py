"""Data sources, tf.data pipelines, augmentation and evaluation.

The front door is :func:`load`: a built-in name (:data:`DATASETS`), a TFDS name
(streamed offline from a prepared ``data_dir``; ``tfds:NAME`` forces TFDS) or a
local path recognised by what it holds (see :mod:`kerascnn.data.folders`) ->
a :class:`Data`: class names, image shape, split sizes, and each split as
in-memory uint8 arrays (local and built-in sets) or as a stream of (uint8
image, int64 label) read from disk (TFDS sets, never read into memory whole).
fit.py, tune.py and evaluate.py all read their data through it.

Modules, bottom up: :mod:`~kerascnn.data.sources` (the file formats: idx, h5,
npz; :class:`Source`, :class:`DataError`), :mod:`~kerascnn.data.tfds`,
:mod:`~kerascnn.data.folders` (paths and image folders), :mod:`~kerascnn.data.plan`
(the augmentation plan as data), :mod:`~kerascnn.data.augment` (its layers),
:mod:`~kerascnn.data.pipeline` (tf.data), :mod:`~kerascnn.data.evaluation`.
Importing this package does not import TensorFlow.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from kerascnn.data.folders import load_signs, looks_like_local, read_path
from kerascnn.data.pipeline import EpochCounter, channel_stats, make_dataset
from kerascnn.data.sources import (
    FASHION_MNIST_CLASSES,
    FASHION_MNIST_DIR,
    BadValues,
    DataError,
    EmptySplit,
    LabelOutOfRange,
    MissingSplit,
    MixedSizes,
    Source,
    UnknownDataset,
    load_idx_dataset,
    load_npz,
    read_idx,
)
from kerascnn.data.tfds import tfds_is_prepared

__all__ = ["DATASETS", "DataError", "UnknownDataset", "MissingSplit", "EmptySplit", "MixedSizes",
           "BadValues", "LabelOutOfRange", "Source", "Data",
           "DatasetInfo", "load", "load_source", "make_dataset", "channel_stats",
           "EpochCounter", "read_idx", "load_idx_dataset", "load_signs", "load_npz",
           "read_path", "split_validation", "source_kind"]

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
SAMPLE_IMAGES = 10_000  # images a streamed set's statistics are computed from


@dataclasses.dataclass
class DatasetInfo:
    """What :func:`load` read: names, counts, shapes, sizes, files skipped."""

    name: str
    kind: str  # "builtin", "local" or "tfds"
    class_names: tuple
    image_shape: tuple  # (H, W, C); H and W None when the images vary in size
    split_sizes: dict
    skipped: list = dataclasses.field(default_factory=list)
    pixels: str = "uint8"  # what the pixels were read as (Source.pixels)
    resized_on_read: bool = False  # image_shape is the size they were resized to on reading
    version: str | None = None  # a TFDS set's version

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


@dataclasses.dataclass
class Data:
    """A data set as :func:`load` returns it.

    ``arrays`` holds ``{split: (uint8 NHWC images, int64 labels)}`` for sets
    read into memory; ``streams`` holds ``{split: tf.data.Dataset}`` of
    unbatched (uint8 image, int64 label) for sets streamed from disk.
    """

    info: DatasetInfo
    arrays: dict = dataclasses.field(default_factory=dict)
    streams: dict = dataclasses.field(default_factory=dict)

    @property
    def splits(self) -> tuple:
        return tuple(self.info.split_sizes)

    @property
    def in_memory(self) -> bool:
        return not self.streams

    def split(self, name):
        """``(images, labels)`` arrays, or the stream, of split ``name``."""
        if name in self.arrays:
            return self.arrays[name]
        if name in self.streams:
            return self.streams[name]
        raise MissingSplit(f"{self.info.name} has no {name} split (it has "
                           f"{', '.join(self.splits)}).")

    def tf_dataset(self, name):
        """Split ``name`` as an unbatched ``tf.data.Dataset`` of (uint8 image, int64 label)."""
        import tensorflow as tf

        split = self.split(name)
        if isinstance(split, tuple):
            return tf.data.Dataset.from_tensor_slices(split)
        return split

    def sample(self, name="train", count=SAMPLE_IMAGES) -> np.ndarray:
        """Up to ``count`` uint8 images of split ``name`` (all of an in-memory split; the
        first ``count`` of a stream, which must be of one image size)."""
        split = self.split(name)
        if isinstance(split, tuple):
            return split[0]
        if None in self.info.image_shape[:2]:
            raise DataError(f"{self.info.name}: images of varying size; pass image_size "
                            "(--image-size) to compute statistics from them.")
        return np.concatenate([x for x, _ in split.take(count).batch(1024)
                               .as_numpy_iterator()]).astype(np.uint8)


def split_validation(source: Source, fraction: float = 0.1, seed: int = 0) -> Source:
    """Carves a validation split out of ``train`` (fixed seed) when there is none.

    ``keras.utils.split_dataset`` does the same on a ``tf.data.Dataset``; here the
    splits stay numpy arrays, which the training pipeline gathers its batches from.
    """
    if "val" in source.splits or "train" not in source.splits or fraction <= 0:
        return source
    x, y = source.splits["train"]
    order = np.random.default_rng(seed).permutation(len(y))
    n_val = max(1, int(round(len(y) * fraction)))
    val, train = order[:n_val], order[n_val:]
    splits = dict(source.splits)
    splits["train"] = (x[train], y[train])
    splits["val"] = (x[val], y[val])
    return Source(source.name, splits, source.class_names, skipped=source.skipped,
                  unsplit=source.unsplit, pixels=source.pixels,
                  resized_on_read=source.resized_on_read)


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


def _unknown(name) -> UnknownDataset:
    return UnknownDataset(
        f"Unknown dataset {name!r}; allowed: {', '.join(sorted(DATASETS))}, a local "
        "path (image folder, h5 folder, .npz, idx files) or a TFDS name.")


def _read(name, data_dir, strict, image_size) -> Source:
    kind = source_kind(name, data_dir)
    if kind == "builtin":
        return DATASETS[name](data_dir, strict=strict, image_size=image_size)
    if kind == "local":
        return read_path(name, strict=strict, image_size=image_size)
    from kerascnn.data.tfds import read_tfds

    try:
        return read_tfds(name[5:] if name.startswith("tfds:") else name, data_dir)
    except UnknownDataset:
        raise _unknown(name) from None


def load_source(name, data_dir=None, val_fraction: float = 0.1, seed: int = 0, *,
                strict: bool = False, image_size=None) -> Source:
    """Reads ``name`` (built-in, local path or TFDS) into memory with its splits.

    Args:
        name: see :func:`load`.
        data_dir: the built-in set's folder, or the prepared TFDS directory.
        val_fraction: part of train held out (fixed ``seed``) when there is no val split.
        strict: stop at the first unreadable file instead of skipping and counting it.
        image_size: resize images (the largest central crop of the aspect, then
            resized) while reading; needed when a folder holds images of mixed sizes.

    Raises:
        DataError: unknown name (:class:`UnknownDataset`), or missing/unreadable
            data (one-line message).
    """
    source = _read(os.fspath(name), data_dir, strict, image_size)
    return split_validation(source, val_fraction, seed)


def _check_required(info: DatasetInfo, require, unsplit: bool, source) -> None:
    for split in require:
        if split in info.split_sizes:
            continue
        found = ", ".join(info.split_sizes) or "none"
        if split == "train":
            raise MissingSplit(
                f"{info.name} has no train split (found: {found}); training needs one "
                "(train/ or train_*/ folder, train_*.h5, x_train in an npz); a test-only set "
                "can be scored with scripts/evaluate.py.")
        if unsplit:
            raise MissingSplit(
                f"{info.name} is one folder without train/ and test/ subfolders; training "
                "needs a test split too: split it into train/ [val/] test/.")
        raise MissingSplit(f"{info.name} has no {split} split (found: {found}).")
    # the splits used, validation too when training: each needs an image
    used = [*require, *(["val"] if "train" in require and "val" in info.split_sizes else [])]
    for split in dict.fromkeys(used):
        if info.split_sizes[split] == 0:
            sizes = ", ".join(f"{k} {v}" for k, v in info.split_sizes.items())
            raise EmptySplit(f"{source}: the {split} split has no images; it needs at least "
                             f"one (splits: {sizes}).")


def load(source, data_dir=None, *, val_fraction: float = 0.1, seed: int = 0,
         strict: bool = False, image_size=None, require=("train", "test")) -> Data:
    """A data set's splits and description, as fit.py, tune.py and evaluate.py read it.

    Args:
        source: a built-in name (``fashion_mnist``, ``mnist``, ``signs``,
            ``cifar10_subset``), a TFDS image-classification name (``cifar10``,
            ``food101``, ``imagenet2012``; ``tfds:NAME`` forces TFDS for a built-in
            name), or a path to a local source recognised by what it holds.
        data_dir: the built-in set's folder or the prepared TFDS directory (TFDS
            never downloads here: an unprepared directory fails at once naming the
            command that prepares it).
        val_fraction, seed: the validation split carved from train when the source
            has none (TFDS: the last ``val_fraction`` of train).
        strict, image_size: see :func:`load_source`.
        require: the splits that must exist (evaluation: just the one it scores;
            a one-folder set then serves as any split).

    Returns:
        A :class:`Data`: in memory for local and built-in sets, streamed for TFDS.

    Raises:
        DataError: unknown name, missing split (:class:`MissingSplit`), a split used
            (``require``, and val when training) without images (:class:`EmptySplit`),
            unreadable data,
            pixels or labels that cannot be read as meant (:class:`BadValues`: NaN, values
            outside 0..255, fractional labels), a label outside the classes of the train
            split or of the data's own class list (:class:`LabelOutOfRange`), a class with
            no readable image. Float pixels are read as [0, 1] or [0, 255] by their largest
            value, with a warning and ``info.pixels`` saying which.
    """
    name = os.fspath(source)
    kind = source_kind(name, data_dir)
    if kind == "tfds":
        return _load_tfds(name, data_dir, val_fraction, require)
    data = load_source(name, data_dir, 0.0, seed, strict=strict, image_size=image_size)
    if data.unsplit and "train" not in require:  # one folder: the split that is scored
        arrays = {split: data.splits["train"] for split in require}
    else:
        arrays = dict(split_validation(data, val_fraction, seed).splits)
    info = DatasetInfo(data.name, kind, data.class_names, data.image_shape,
                       {k: int(len(v[1])) for k, v in arrays.items()}, data.skipped,
                       data.pixels, data.resized_on_read)
    _check_required(info, require, data.unsplit, name)
    return Data(info, arrays=arrays)


def _load_tfds(name, data_dir, val_fraction, require) -> Data:
    from kerascnn.data.tfds import tfds_builder, tfds_dataset, tfds_info

    tfds_name = name[5:] if name.startswith("tfds:") else name
    try:
        builder = tfds_builder(tfds_name, data_dir)
    except UnknownDataset:
        raise _unknown(name) from None
    names, shape, sizes = tfds_info(builder)
    streams = {split: tfds_dataset(builder, split) for split in sizes}
    if "val" not in sizes and "train" in sizes and val_fraction > 0:
        n_val = max(1, int(round(sizes["train"] * val_fraction)))
        sizes = {**sizes, "train": sizes["train"] - n_val, "val": n_val}
        train = streams["train"]
        streams["train"], streams["val"] = train.take(sizes["train"]), train.skip(sizes["train"])
    info = DatasetInfo(tfds_name, "tfds", names, shape, sizes, version=str(builder.info.version))
    _check_required(info, require, False, name)
    return Data(info, streams=streams)
