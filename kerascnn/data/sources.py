"""Readers of local image sources into uint8 NHWC arrays.

Every reader returns a :class:`Source`: arrays per split plus the class names.
Nothing is downloaded and nothing is unpickled.

* ``fashion_mnist`` / ``mnist`` idx files (``*-idx3-ubyte[.gz]``), e.g. Debian's
  ``dataset-fashion-mnist`` in ``/usr/share/datasets/fashion-mnist``;
* the course's h5 files (``{split}_set_x`` / ``{split}_set_y``);
* npz files (``x_train, y_train, x_test, y_test``).

These readers know nothing of folders of images (:mod:`kerascnn.data.folders`).
"""

from __future__ import annotations

import dataclasses
import gzip
import os

import numpy as np

__all__ = [
    "Source",
    "DataError",
    "UnknownDataset",
    "MissingSplit",
    "read_idx",
    "load_idx_dataset",
    "load_npz",
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


class MissingSplit(DataError):
    """A split that the caller needs (train to fit, the scored one to evaluate) is absent."""


@dataclasses.dataclass
class Source:
    """A data set in memory: ``splits[name] = (images uint8 NHWC, labels int64)``."""

    name: str
    splits: dict
    class_names: tuple
    skipped: list = dataclasses.field(default_factory=list)  # [(path, reason)] not read
    unsplit: bool = False  # one folder of images, read as the train split

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def image_shape(self) -> tuple:
        return tuple(next(iter(self.splits.values()))[0].shape[1:])

    def split_sizes(self) -> dict:
        return {k: int(len(v[1])) for k, v in self.splits.items()}


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
    splits = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images = _find(data_dir, f"{prefix}-images-idx3-ubyte")
        labels = _find(data_dir, f"{prefix}-labels-idx1-ubyte")
        if images is None or labels is None:
            raise DataError(
                f"{data_dir} lacks {prefix}-images-idx3-ubyte[.gz] / "
                f"{prefix}-labels-idx1-ubyte[.gz] for the {split} split of {name}."
            )
        x = read_idx(images)
        y = read_idx(labels).astype(np.int64)
        if x.ndim == 3:
            x = x[..., None]
        if len(x) != len(y):
            raise DataError(f"{images} holds {len(x)} images but {labels} {len(y)} labels.")
        splits[split] = (x, y)
    num = int(max(int(y.max()) for _, y in splits.values())) + 1
    names = tuple(class_names) if class_names else tuple(str(i) for i in range(num))
    return Source(name, splits, names)


def _read_h5(path, split):
    import h5py

    try:
        with h5py.File(path, "r") as f:
            x = np.asarray(f[f"{split}_set_x"][:], np.uint8)
            y = np.asarray(f[f"{split}_set_y"][:], np.int64).reshape(-1)
    except (OSError, KeyError) as e:
        raise DataError(f"Cannot read {split}_set_x/{split}_set_y from {path}: {e}") from None
    return x, y


def load_npz(path, name=None) -> Source:
    """An npz with ``x_train, y_train, x_test, y_test`` (and optional ``class_names``)."""
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (OSError, ValueError) as e:
        raise DataError(f"Cannot read npz file {path}: {e}") from None
    splits = {}
    for split in ("train", "val", "test"):
        if f"x_{split}" in arrays:
            x = arrays[f"x_{split}"].astype(np.uint8)
            if x.ndim == 3:
                x = x[..., None]
            splits[split] = (x, arrays[f"y_{split}"].astype(np.int64).reshape(-1))
    if "train" not in splits or "test" not in splits:
        raise DataError(f"{path} must hold x_train, y_train, x_test and y_test.")
    if "class_names" in arrays:
        names = tuple(str(c) for c in arrays["class_names"])
    else:
        names = tuple(str(i) for i in range(int(max(y.max() for _, y in splits.values())) + 1))
    return Source(name or os.path.splitext(os.path.basename(path))[0], splits, names)
