"""Readers of local image sources into uint8 NHWC arrays.

Every reader returns a :class:`Source`: arrays per split plus the class names.
Nothing is downloaded and nothing is unpickled.

* ``fashion_mnist`` / ``mnist`` idx files (``*-idx3-ubyte[.gz]``), e.g. Debian's
  ``dataset-fashion-mnist`` in ``/usr/share/datasets/fashion-mnist``;
* the course's h5 files (``{split}_set_x`` / ``{split}_set_y``);
* npz files (``x_train, y_train, x_test, y_test``).

These readers know nothing of folders of images (:mod:`kerascnn.data.folders`).

Nothing is cast silently; every reader checks what it read (:func:`as_pixels`,
:func:`as_labels`, :func:`check_classes`) and refuses bad data with a one-line
:class:`DataError` naming the file, the array, the count and the first index:

* pixels: uint8 as they are; other integers must lie in 0..255; floats must be
  finite and in [0, 255], and their scale is detected per split from the
  largest value: all <= 1 -> [0, 1], scaled by 255 and rounded; else [0, 255],
  rounded. The splits of one source must agree (x_train in [0, 1] beside x_test
  in [0, 255] is refused). What was detected is warned once and kept in
  ``Source.pixels``.
* labels: integers >= 0; floats only when integral (3.0); bool as 0/1.
* classes: the data's own class list (npz ``class_names``, h5 ``list_classes``,
  the class folders of ``train/``, a built-in set's names), else 0..(largest
  train label); a label of any split outside them is refused. A class without a
  training image is warned about.
"""

from __future__ import annotations

import dataclasses
import gzip
import os
import warnings

import numpy as np

__all__ = [
    "Source",
    "DataError",
    "UnknownDataset",
    "MissingSplit",
    "EmptySplit",
    "MixedSizes",
    "BadValues",
    "LabelOutOfRange",
    "read_idx",
    "load_idx_dataset",
    "load_npz",
    "as_pixels",
    "as_labels",
    "class_list",
    "check_classes",
    "PIXELS_ALLOWED",
    "LABELS_ALLOWED",
    "FASHION_MNIST_DIR",
    "FASHION_MNIST_CLASSES",
]

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                         "Shirt", "Sneaker", "Bag", "Ankle boot")


class DataError(ValueError):
    """A data source is missing, unreadable or inconsistent (one-line message)."""


class UnknownDataset(DataError):
    """A name that is neither a built-in set, a local path nor a TFDS data set."""


class MixedSizes(DataError):
    """Images of several sizes where one size is needed (pass image_size to resize them)."""


class MissingSplit(DataError):
    """A split that the caller needs (train to fit, the scored one to evaluate) is absent."""


class EmptySplit(MissingSplit):
    """A split that the caller uses holds no image."""


class BadValues(DataError):
    """Pixels or labels that cannot be read as they are meant (NaN, out of range, 2.5)."""


class LabelOutOfRange(DataError):
    """A label outside the data set's classes (those of the train split or its class list)."""


@dataclasses.dataclass
class Source:
    """A data set in memory: ``splits[name] = (images uint8 NHWC, labels int64)``."""

    name: str
    splits: dict
    class_names: tuple
    skipped: list = dataclasses.field(default_factory=list)  # [(path, reason)] not read
    unsplit: bool = False  # one folder of images, read as the train split
    pixels: str = "uint8"  # what the pixels were read as (see as_pixels)
    resized_on_read: bool = False  # images were resized to image_size while being read

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def image_shape(self) -> tuple:
        return tuple(next(iter(self.splits.values()))[0].shape[1:])

    def split_sizes(self) -> dict:
        return {k: int(len(v[1])) for k, v in self.splits.items()}


PIXELS_ALLOWED = ("integers 0..255, or finite floats all in [0, 1] (scaled by 255) or in "
                  "[0, 255] (rounded)")
LABELS_ALLOWED = "integers >= 0 (integral floats such as 3.0 are accepted)"
_SCALES = {"uint8": "uint8", "int": "integers 0..255",
           "[0, 1]": "floats in [0, 1], scaled by 255", "[0, 255]": "floats in [0, 255], rounded"}


def _at(array, mask) -> tuple[int, tuple, str]:
    """(how many True in ``mask``, the first one's index, that index as ``[i, j, ...]``)."""
    count = int(np.count_nonzero(mask))
    first = tuple(int(i) for i in np.unravel_index(int(np.argmax(mask)), array.shape))
    return count, first, "[" + ", ".join(map(str, first)) + "]"


def _pixel_scale(x, where, key):
    """``"uint8"``, ``"int"``, ``"[0, 1]"``, ``"[0, 255]"`` or None (no pixels); raises
    :class:`BadValues` on values that are not pixels."""
    if x.dtype == np.uint8:
        return "uint8"
    if x.dtype.kind not in "iuf":
        raise BadValues(f"{where}: {key} has pixels of dtype {x.dtype}; allowed: "
                        f"{PIXELS_ALLOWED}.")
    if x.size == 0:
        return None
    if x.dtype.kind == "f":
        finite = np.isfinite(x)
        if not finite.all():
            count, _, first = _at(x, ~finite)
            raise BadValues(f"{where}: {key} holds {count} NaN or infinite pixel value(s), the "
                            f"first at {key}{first}; allowed: {PIXELS_ALLOWED}.")
    outside = (x < 0) | (x > 255)
    if outside.any():
        count, _, first = _at(x, outside)
        raise BadValues(f"{where}: {key} holds {count} pixel value(s) outside 0..255 (min "
                        f"{x.min():g}, max {x.max():g}), the first at {key}{first}; allowed: "
                        f"{PIXELS_ALLOWED}.")
    if x.dtype.kind != "f":
        return "int"
    return "[0, 1]" if float(x.max()) <= 1.0 else "[0, 255]"


def as_pixels(images: dict, where) -> tuple[dict, str]:
    """Checks the pixels of every split and returns them as uint8.

    Args:
        images: ``{split: (array, key)}``, ``key`` naming the array in messages
            (``x_train``, ``test_set_x``); a split may also give ``(array, key, file)``.
        where: the file or folder read, for messages and the warning.

    Returns:
        ``({split: uint8 array}, what was read: a value of Source.pixels)``.

    Raises:
        BadValues: a dtype that is not a number, NaN/inf, values outside 0..255,
            or float splits of different scales (one in [0, 1], one in [0, 255]).
    """
    scales = {}
    for split, (x, key, *file) in images.items():
        scales[split] = _pixel_scale(np.asarray(x), file[0] if file else where, key)
    floats = {s: v for s, v in scales.items() if v in ("[0, 1]", "[0, 255]")}
    if len(set(floats.values())) > 1:
        small = next(s for s, v in floats.items() if v == "[0, 1]")
        large = next(s for s, v in floats.items() if v == "[0, 255]")
        raise BadValues(
            f"{where}: {images[small][1]} holds floats in [0, 1] (max "
            f"{float(np.max(images[small][0])):g}) but {images[large][1]} floats in [0, 255] "
            f"(max {float(np.max(images[large][0])):g}); all splits must use one scale: "
            f"{PIXELS_ALLOWED}.")
    out = {}
    for split, (x, *_rest) in images.items():
        x = np.asarray(x)
        if scales[split] == "[0, 1]":
            x = np.rint(x * 255.0)
        elif scales[split] == "[0, 255]":
            x = np.rint(x)
        out[split] = x if x.dtype == np.uint8 else x.astype(np.uint8)
    scale = next(iter(floats.values()), None) or (
        "int" if "int" in scales.values() else "uint8")
    if floats:
        keys = ", ".join(images[s][1] for s in floats)
        top = max(float(np.max(images[s][0])) for s in floats)
        action = "scaled by 255 and rounded" if scale == "[0, 1]" else "rounded"
        warnings.warn(f"{where}: float pixels in {scale} detected ({keys}, max {top:g}): "
                      f"{action} to uint8.", stacklevel=3)
    return out, _SCALES[scale]


def as_labels(y, where, key) -> np.ndarray:
    """``y`` as a flat int64 array after checking that its values are integers >= 0.

    Raises:
        BadValues: a dtype that is not a number, a fractional/NaN/inf float, a negative label.
    """
    y = np.asarray(y)
    if y.ndim > 1 and sorted(y.shape)[-2] > 1:
        raise BadValues(f"{where}: {key} has shape {y.shape}; one integer label per image is "
                        "needed (one-hot labels? take their argmax).")
    y = y.reshape(-1)
    if y.dtype.kind == "b":
        return y.astype(np.int64)
    if y.dtype.kind not in "iuf":
        raise BadValues(f"{where}: {key} has labels of dtype {y.dtype}; allowed: "
                        f"{LABELS_ALLOWED}.")
    if y.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            fractional = ~np.isfinite(y) | (y != np.round(y))
        if fractional.any():
            count, index, first = _at(y, fractional)
            raise BadValues(f"{where}: {key} holds {count} label(s) that are not integers, the "
                            f"first {key}{first} = {y[index]:g}; allowed: {LABELS_ALLOWED}.")
    negative = y < 0
    if negative.any():
        count, index, first = _at(y, negative)
        raise BadValues(f"{where}: {key} holds {count} negative label(s), the first "
                        f"{key}{first} = {y[index]:g}; allowed: {LABELS_ALLOWED}.")
    return y.astype(np.int64)


def class_list(labels: dict, names=None, origin=None) -> tuple[tuple, str]:
    """The classes of a data set and where they come from, for messages.

    ``names`` (the data's own class list, described by ``origin``) when given;
    else ``"0"`` .. the largest label of the train split (of every split given
    when there is no train split: a set that is only scored).
    """
    if names is not None:
        return tuple(str(n) for n in names), origin or "of the given class list"
    base = ["train"] if "train" in labels else list(labels)
    top = max((int(labels[s].max()) + 1 for s in base if len(labels[s])), default=0)
    return tuple(str(i) for i in range(top)), f"found in the {' and '.join(base)} split"


def check_classes(labels: dict, num_classes: int, origin: str, locate, where=None) -> None:
    """Refuses a label of any split outside ``0..num_classes-1``; warns about a class
    without a training image.

    Args:
        labels: ``{split: int64 labels}`` (checked by :func:`as_labels`).
        origin: where the classes come from (``"found in the train split"``).
        locate: ``locate(split, index, label) -> "file: what"`` naming the bad label.
        where: the source, for the warning.

    Raises:
        LabelOutOfRange: names the split, the label and the first file or index.
    """
    order = sorted(labels, key=lambda s: (s != "train", s))
    for split in order:
        y = labels[split]
        outside = y >= num_classes
        if outside.any():
            index = int(np.argmax(outside))
            count = int(np.count_nonzero(outside))
            span = f"0-{num_classes - 1}" if num_classes else "none"
            raise LabelOutOfRange(
                f"{locate(split, index, int(y[index]))} is out of range for {num_classes} "
                f"classes ({span}) {origin} ({count} {split} label(s) out of range).")
    if "train" in labels and len(labels["train"]) and where is not None:
        missing = np.flatnonzero(np.bincount(labels["train"], minlength=num_classes) == 0)
        if len(missing):
            warnings.warn(f"{where}: the train split has no image of {len(missing)} of its "
                          f"{num_classes} classes (label {', '.join(map(str, missing[:5]))}"
                          f"{', ...' if len(missing) > 5 else ''}).", stacklevel=3)


def checked_source(name, raw: dict, where, class_names=None, origin=None) -> Source:
    """A :class:`Source` from arrays as a file holds them, after every check above.

    Args:
        raw: ``{split: (images, labels, images key, labels key, file)}``; images
            (N, H, W) or (N, H, W, C) of any numeric dtype, labels of N values.
        where: the file or folder read (messages, warnings).
        class_names, origin: the data's own class list and where it is from
            (``"named in its class_names"``); None: the train split's labels.
    """
    labels = {}
    for split, (x, y, x_key, y_key, file) in raw.items():
        shape = np.shape(x)
        if len(shape) not in (3, 4):
            raise DataError(f"{file}: {x_key} has shape {shape}; images must be (N, H, W) or "
                            "(N, H, W, C).")
        if len(shape) == 4 and shape[1] in (1, 3) and shape[-1] not in (1, 3):
            raise DataError(f"{file}: {x_key} has shape {shape}, channels first; images must "
                            "be (N, H, W, C): transpose them.")
        labels[split] = as_labels(y, file, y_key)
        if shape[0] != len(labels[split]):
            raise DataError(f"{file}: {x_key} holds {shape[0]} images but {y_key} "
                            f"{len(labels[split])} labels.")
    pixels, read_as = as_pixels({s: (v[0], v[2], v[4]) for s, v in raw.items()}, where)
    names, origin = class_list(labels, class_names, origin)
    check_classes(labels, len(names), origin,
                  lambda split, i, label: f"{raw[split][4]}: {raw[split][3]}[{i}] = {label}",
                  where)
    splits = {s: (x[..., None] if x.ndim == 3 else x, labels[s]) for s, x in pixels.items()}
    return Source(name, splits, names, pixels=read_as)


def read_idx(path) -> np.ndarray:
    """Reads an idx file (optionally gzipped): the MNIST/Fashion-MNIST format."""
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise DataError(f"Cannot read idx file {path}: {e}") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DataError(f"{path} is not an idx file (bad magic number).")
    dtype_code, ndim = data[2], data[3]
    dtypes = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    if dtype_code not in dtypes:
        raise DataError(f"{path}: unknown idx data type 0x{dtype_code:02x}.")
    dims = np.frombuffer(data, dtype=">i4", count=ndim, offset=4)
    offset = 4 + 4 * ndim
    array = np.frombuffer(data, dtype=dtypes[dtype_code], offset=offset)
    if array.size != int(np.prod(dims)):
        raise DataError(f"{path}: expected {int(np.prod(dims))} values, found {array.size}.")
    return array.reshape(tuple(int(d) for d in dims))


def _find(directory, stem):
    for suffix in (".gz", ""):
        path = os.path.join(directory, stem + suffix)
        if os.path.exists(path):
            return path
    return None


def load_idx_dataset(name, data_dir, class_names=None) -> Source:
    """MNIST-layout idx files in ``data_dir`` (train-*/t10k-*, optionally .gz)."""
    if not os.path.isdir(data_dir):
        hint = ""
        if name == "fashion_mnist":
            hint = (" Install it with `apt-get install -y dataset-fashion-mnist` (files in "
                    f"{FASHION_MNIST_DIR}) or pass --data-dir.")
        raise DataError(f"Data directory {data_dir} for {name} does not exist.{hint}")
    raw = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images = _find(data_dir, f"{prefix}-images-idx3-ubyte")
        labels = _find(data_dir, f"{prefix}-labels-idx1-ubyte")
        if images is None or labels is None:
            raise DataError(
                f"{data_dir} lacks {prefix}-images-idx3-ubyte[.gz] / "
                f"{prefix}-labels-idx1-ubyte[.gz] for the {split} split of {name}."
            )
        raw[split] = (read_idx(images), read_idx(labels), os.path.basename(images),
                      os.path.basename(labels), data_dir)
    return checked_source(name, raw, data_dir, class_names, f"of {name}")


def _read_h5(path, split):
    """The raw ``{split}_set_x`` and ``{split}_set_y`` of a course h5 file (unchecked)."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            x = np.asarray(f[f"{split}_set_x"][:])
            y = np.asarray(f[f"{split}_set_y"][:])
    except (OSError, KeyError) as e:
        raise DataError(f"Cannot read {split}_set_x/{split}_set_y from {path}: {e}") from None
    return x, y


def load_npz(path, name=None) -> Source:
    """An npz with ``x_train, y_train, x_test, y_test`` [``x_val, y_val``] (and optional
    ``class_names``), checked (see the module docstring)."""
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (OSError, ValueError) as e:
        raise DataError(f"Cannot read npz file {path}: {e}") from None
    raw = {}
    for split in ("train", "val", "test"):
        if f"x_{split}" in arrays:
            if f"y_{split}" not in arrays:
                raise DataError(f"{path} holds x_{split} but no y_{split}.")
            raw[split] = (arrays[f"x_{split}"], arrays[f"y_{split}"], f"x_{split}",
                          f"y_{split}", path)
    if "train" not in raw or "test" not in raw:
        raise DataError(f"{path} must hold x_train, y_train, x_test and y_test.")
    names = arrays.get("class_names")
    return checked_source(name or os.path.splitext(os.path.basename(path))[0], raw, path,
                          None if names is None else names.reshape(-1),
                          "named in its class_names")
