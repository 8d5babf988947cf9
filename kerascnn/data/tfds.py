"""TensorFlow Datasets sources, read offline from a prepared ``data_dir``.

Nothing is ever downloaded here: a data set that is not prepared in
``data_dir`` stops at once with a :class:`DataError` naming the directory and
the command that prepares it (on a machine with network access, or with the
manual files for ``imagenet2012``).
"""

from __future__ import annotations

import os

import numpy as np

from kerascnn.data.sources import DataError, Source, UnknownDataset

__all__ = ["DEFAULT_TFDS_DIR", "tfds_builder", "tfds_is_prepared", "read_tfds", "tfds_dataset",
           "prepare_command"]

DEFAULT_TFDS_DIR = os.path.join("~", "tensorflow_datasets")
_SPLIT_NAMES = {"train": ("train",), "val": ("validation", "val", "valid"), "test": ("test",)}


def prepare_command(name: str, data_dir: str) -> str:
    manual = " --manual_dir <folder with the downloaded archives>" if name.startswith(
        "imagenet") else ""
    return f"tfds build {name} --data_dir {data_dir}{manual}"


def _resolve_dir(data_dir):
    return os.path.expanduser(data_dir or os.environ.get("TFDS_DATA_DIR", DEFAULT_TFDS_DIR))


def tfds_is_prepared(name: str, data_dir) -> bool:
    """Whether ``data_dir/name/<version>/dataset_info.json`` exists (no import of tfds)."""
    base = os.path.join(_resolve_dir(data_dir), *name.split("/")[:1])
    if not os.path.isdir(base):
        return False
    for _root, _dirs, files in os.walk(base):
        if "dataset_info.json" in files:
            return True
    return False


def tfds_builder(name: str, data_dir=None):
    """The prepared builder of ``name`` in ``data_dir``; fails fast when not prepared."""
    import tensorflow_datasets as tfds

    directory = _resolve_dir(data_dir)
    try:
        builder = tfds.builder(name, data_dir=directory)
    except tfds.core.registered.DatasetNotFoundError:
        raise UnknownDataset(
            f"Unknown data set {name!r}: not a built-in name, a local path or a TFDS name."
        ) from None
    except Exception as e:  # noqa: BLE001  (bad config names, broken folders)
        raise DataError(f"TFDS cannot open {name!r} in {directory}: "
                        f"{str(e).splitlines()[0]}") from None
    if not builder.is_prepared():
        raise DataError(
            f"TFDS data set {name!r} is not prepared in {directory} and nothing is downloaded "
            f"here; prepare it with `{prepare_command(name, directory)}` and pass that "
            "--data-dir."
        )
    return builder


def _split_name(builder, split):
    available = list(builder.info.splits.keys())
    for candidate in _SPLIT_NAMES.get(split, (split,)):
        if candidate in available:
            return candidate
    return None


def _keys(builder):
    features = builder.info.features
    image = next((k for k in ("image", "img") if k in features), None)
    label = next((k for k in ("label", "labels") if k in features), None)
    if image is None or label is None:
        raise DataError(f"TFDS data set {builder.name!r} has no image/label features "
                        f"({', '.join(features.keys())}); it is not an image classifier's.")
    return image, label


def tfds_info(builder):
    """(class names, image shape, {split: size}); refuses images that are not uint8 (their
    pixels would be read as 0..255 without a scale)."""
    image, label = _keys(builder)
    names = tuple(builder.info.features[label].names)
    shape = tuple(builder.info.features[image].shape)
    dtype = builder.info.features[image].dtype
    dtype = np.dtype(getattr(dtype, "as_numpy_dtype", dtype))
    if dtype != np.uint8:
        raise DataError(f"TFDS data set {builder.name!r} has {dtype} images; only uint8 images "
                        "(pixels 0..255) are read.")
    sizes = {}
    for split in ("train", "val", "test"):
        found = _split_name(builder, split)
        if found:
            sizes[split] = int(builder.info.splits[found].num_examples)
    return names, shape, sizes


def tfds_dataset(builder, split):
    """A ``tf.data.Dataset`` of (uint8 image, int64 label) for ``split`` (train/val/test)."""
    import tensorflow as tf

    found = _split_name(builder, split)
    if found is None:
        raise DataError(f"TFDS data set {builder.name!r} has no {split} split "
                        f"(it has {', '.join(builder.info.splits.keys())}).")
    image, label = _keys(builder)
    ds = builder.as_dataset(split=found, shuffle_files=False)
    return ds.map(lambda d: (d[image], tf.cast(d[label], tf.int64)),
                  num_parallel_calls=tf.data.AUTOTUNE)


def read_tfds(name: str, data_dir=None) -> Source:
    """The whole prepared data set in memory as a :class:`Source` (fixed-size images only).

    Training and evaluation stream TFDS sets instead (:func:`kerascnn.data.load`);
    this is for a small set wanted as numpy arrays."""
    builder = tfds_builder(name, data_dir)
    names, shape, sizes = tfds_info(builder)
    if None in shape:
        raise DataError(f"TFDS data set {name!r} has images of varying size {shape}; read it "
                        "with kerascnn.data.load(..., image_size=...) instead of in memory.")
    splits = {}
    for split in sizes:
        xs, ys = [], []
        for x, y in tfds_dataset(builder, split).batch(4096).as_numpy_iterator():
            xs.append(x)
            ys.append(y)
        splits[split] = (np.concatenate(xs), np.concatenate(ys).astype(np.int64))
    if "train" not in splits:
        raise DataError(f"TFDS data set {name!r} has no train split.")
    return Source(name, splits, names)
