"""The data of a run, prepared once: :func:`prepare_data` -> :class:`TrainingData`.

Everything the model and the pipelines need is computed here, once: the splits
(through :func:`kerascnn.data.load`), the class names, the raw image shape the
saved model will take, the training split's channel statistics (for the
model's ``Normalization`` layer), and the augmentation plan with what it needs
(PCA statistics for lighting, one-hot labels for mixup/cutmix). fit.py, the
tuner's trials, the search's final test and evaluate.py build their tf.data
pipelines from it with :meth:`TrainingData.train_dataset` and
:meth:`TrainingData.eval_dataset`.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from kerascnn.data import Data, DataError, MixedSizes, load
from kerascnn.data.fingerprint import fingerprint
from kerascnn.data.pipeline import EpochCounter, channel_stats, make_dataset
from kerascnn.data.plan import AugmentPlan
from kerascnn.training.config import ConfigError

__all__ = ["TrainingData", "prepare_data", "subset", "data_fingerprint"]


@dataclasses.dataclass
class TrainingData:
    """A run's data, prepared once.

    Attributes:
        data: the :class:`kerascnn.data.Data` read.
        plan: the augmentation plan.
        seed: the seed of the data order and the augmentation.
        image_size: ``--image-size`` (None: native, or the model's minimum).
        pca: (eigenvalues, eigenvectors) of the training pixels, when ``lighting`` is used.
        train_splits: the splits trained on (``("train", "val")`` when retraining).
    """

    data: Data
    plan: AugmentPlan
    seed: int = 0
    image_size: int | None = None
    pca: tuple | None = None
    train_splits: tuple = ("train",)
    _stats: dict = dataclasses.field(default_factory=dict, init=False, repr=False)

    # ------------------------------------------------------------------ description
    @property
    def info(self):
        return self.data.info

    @property
    def class_names(self) -> tuple:
        return self.info.class_names

    @property
    def num_classes(self) -> int:
        return self.info.num_classes

    @property
    def image_shape(self) -> tuple:
        """(H, W, C) of the raw images; H, W None when they vary in size, or when they were
        resized on reading (a folder of mixed sizes read with ``--image-size``): the saved
        model then resizes raw images itself."""
        if self.info.resized_on_read:
            return (None, None, self.info.image_shape[-1])
        return tuple(self.info.image_shape)

    @property
    def train_size(self) -> int:
        return sum(self.info.split_sizes[s] for s in self.train_splits)

    def has(self, split) -> bool:
        return split in self.info.split_sizes

    def model_size(self, min_input_size: int) -> int:
        """The side of the model's input: ``--image-size``, else the native size
        (at least the model's minimum)."""
        if self.image_size is not None:
            return int(self.image_size)
        native = self.info.image_shape[0]
        if native is None:
            raise ConfigError(f"{self.info.name} has images of varying size: pass --image-size.")
        return max(int(native), int(min_input_size))

    def normalization(self, channels: int) -> tuple[np.ndarray, np.ndarray]:
        """Per-channel mean and std (0..1 scale) of the training images, in ``channels``."""
        if channels not in self._stats:
            images = self._train_arrays()[0] if self.data.in_memory else self.data.sample()
            self._stats[channels] = channel_stats(images, channels)
        return self._stats[channels]

    def summary(self) -> str:
        sizes = ", ".join(f"{k} {v}" for k, v in self.info.split_sizes.items())
        shape = "x".join("?" if d is None else str(d) for d in self.image_shape)
        return (f"{self.info.name} ({self.info.kind}): {self.num_classes} classes, "
                f"{sizes}; images {shape}")

    # ------------------------------------------------------------------ pipelines
    def _train_arrays(self):
        parts = [self.data.split(s) for s in self.train_splits]
        if len(parts) == 1:
            return parts[0]
        if not all(isinstance(p, tuple) for p in parts):
            raise DataError("Training on several streamed splits is not supported.")
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def train_dataset(self, *, batch_size, size, num_outputs=1, one_hot=False,
                      initial_epoch=0):
        """(training dataset, its :class:`EpochCounter`): raw pixels, augmented, at
        ``size`` x ``size``, in an order that is a function of (seed, epoch)."""
        counter = EpochCounter(initial_epoch)
        common = dict(batch_size=batch_size, image_size=(size, size), training=True,
                      seed=self.seed, epoch=counter, num_outputs=num_outputs,
                      augment=self.plan if self.plan.active else None, pca=self.pca,
                      num_classes=self.num_classes, one_hot=one_hot)
        if self.data.in_memory:
            ds = make_dataset(*self._train_arrays(), **common)
        else:
            ds = make_dataset(self.data.split("train"), size_hint=self.train_size, **common)
        return ds, counter

    def eval_dataset(self, split, *, batch_size, size=None, num_outputs=1, one_hot=False):
        """Split ``split`` as raw pixels, batched; resized to ``size`` only where the
        images vary in size (a saved model resizes the others itself)."""
        images = self.data.split(split)
        varying = None in self.image_shape[:2]
        common = dict(batch_size=batch_size, image_size=(size, size) if varying else None,
                      num_outputs=num_outputs, num_classes=self.num_classes, one_hot=one_hot)
        if isinstance(images, tuple):
            return make_dataset(*images, **common)
        return make_dataset(images, size_hint=self.info.split_sizes[split], **common)

    def class_weights(self) -> dict:
        """``{class: n / (classes x count)}`` over the training splits (absent classes: 1)."""
        labels = np.concatenate([self.labels(s) for s in self.train_splits])
        counts = np.bincount(labels, minlength=self.num_classes)
        n, k = len(labels), self.num_classes
        return {c: (n / (k * counts[c]) if counts[c] else 1.0) for c in range(k)}

    def bn_images(self, count: int, *, size: int | None = None) -> np.ndarray:
        """``count`` training images drawn at random (fixed by the seed), in random
        order, as the training pipeline feeds them (raw pixels, float32): augmented by
        the run's plan, one draw fixed by the seed, at ``size`` x ``size`` (default:
        their own size; images of varying size are resized to ``image_size``), for
        precise BN statistics.

        Random, not the first ones: a folder data set is read class by class, and
        statistics from a few classes, or batches of one class, misstate every layer's
        population statistics (and the model's accuracy with them).

        Augmented, as pycls computes them from its training loader: the network learns
        its weights under the statistics of augmented batches, which its moving
        averages track. Statistics of the plain images (no zero borders of
        ``pad_crop``, no crops) normalise every layer differently from training: on
        SIGNS with ``flip,pad_crop`` they cost ResNet-50 three test images of 120
        (0.950 against 0.975 with the moving averages or augmented statistics, the
        same trained weights)."""
        rng = np.random.default_rng(self.seed)
        if self.data.in_memory:
            x, y = self._train_arrays()
            pick = rng.permutation(len(x))[:count]
            images, labels = x[pick], y[pick]
        else:
            buffer = max(1, min(self.train_size, 4 * count))
            stream = (self.data.split("train")
                      .shuffle(buffer, seed=int(rng.integers(2**31))).take(count))
            if None in self.image_shape[:2]:
                stream = make_dataset(stream, batch_size=count, size_hint=count,
                                      image_size=(self.image_size, self.image_size)).unbatch()
            pairs = list(stream.batch(count).as_numpy_iterator())
            images = np.concatenate([p[0] for p in pairs]) if pairs else np.zeros((0,))
            labels = np.concatenate([p[1] for p in pairs]) if pairs else np.zeros((0,))
        if not self.plan.active or len(images) == 0:
            return np.asarray(images, np.float32)
        size = size or images.shape[1]
        ds = make_dataset(np.asarray(np.clip(images, 0, 255), np.uint8), labels,
                          batch_size=64, image_size=(size, size), training=True,
                          seed=self.seed, epoch=0, augment=self.plan, pca=self.pca,
                          num_classes=self.num_classes)
        return np.concatenate([b[0] for b in ds.take(-(-len(images) // 64))
                               .as_numpy_iterator()]).astype(np.float32)

    def labels(self, split) -> np.ndarray:
        """The labels of ``split``, in the order of :meth:`eval_dataset`."""
        images = self.data.split(split)
        if isinstance(images, tuple):
            return images[1]
        return np.concatenate(list(images.map(lambda _, y: y).batch(4096).as_numpy_iterator()))


def prepare_data(config, *, require=("train", "test"), train_subset=None,
                 val_subset=None) -> TrainingData:
    """Reads ``config.dataset`` and prepares what the run needs (see the module docstring).

    Args:
        config: a :class:`~kerascnn.training.config.FitConfig` (dataset, data_dir,
            val_fraction, seed, strict, image_size, classes, augment).
        require: the splits that must exist.
        train_subset, val_subset: keep this many images of train / val (a seeded
            choice; the tuner searches on subsets).

    Raises:
        DataError, ConfigError: one-line messages; nothing is written. A split used
            without images is refused (by :func:`kerascnn.data.load`), and so is training
            data of fewer than 2 classes.
    """
    common = dict(val_fraction=config.val_fraction, seed=config.seed, strict=config.strict,
                  require=require)
    try:  # raw images in memory: the model resizes them, as it will a user's
        data = load(config.dataset, config.data_dir, image_size=None, **common)
    except MixedSizes:
        if config.image_size is None:
            raise
        # images of several sizes: resized on reading (the saved model takes any size)
        data = load(config.dataset, config.data_dir, image_size=config.image_size, **common)
    if config.classes is not None and config.classes != data.info.num_classes:
        raise ConfigError(
            f"--classes {config.classes} disagrees with {config.dataset}, which has "
            f"{data.info.num_classes} classes.")
    for split, arrays in data.arrays.items():  # the readers checked; a last guard
        outside = (arrays[1] < 0) | (arrays[1] >= data.info.num_classes)
        if outside.any():
            index = int(np.argmax(outside))
            raise DataError(f"{config.dataset}: {split} label {int(arrays[1][index])} (index "
                            f"{index}) is outside the {data.info.num_classes} classes "
                            f"(0-{data.info.num_classes - 1}).")
    if train_subset is not None or val_subset is not None:
        data = subset(data, {"train": train_subset, "val": val_subset}, config.seed)
    if "train" in require:
        _check_two_classes(config.dataset, data)
    plan = config.augment_plan
    channels = data.info.image_shape[-1]
    if plan.needs_colour and channels == 1:
        raise ConfigError(f"--augment {config.augment}: lighting and saturation need colour "
                          f"images; {data.info.name} is grayscale.")
    prepared = TrainingData(data, plan, seed=config.seed, image_size=config.image_size)
    if plan.needs_pca and "train" in require:
        from kerascnn.data.augment import pca_lighting_stats

        images = data.sample()
        prepared.pca = pca_lighting_stats(images, seed=config.seed)
    return prepared


def _check_two_classes(source, data: Data) -> None:
    """A classifier is trained on at least 2 classes, and on images of 2 (one class
    trains to a constant and scores 1.0)."""
    info = data.info
    if info.num_classes < 2:
        names = ", ".join(repr(n) for n in info.class_names) or "none"
        raise DataError(f"{source}: {info.name} has {info.num_classes} "
                        f"class{'' if info.num_classes == 1 else 'es'} ({names}); training a "
                        "classifier needs at least 2 classes.")
    if "train" in data.arrays:
        present = np.unique(data.arrays["train"][1])
        if len(present) == 1:
            label = int(present[0])
            raise DataError(
                f"{source}: the train split holds images of 1 class only "
                f"({info.class_names[label]!r}, label {label}; the data has {info.num_classes} "
                "classes); training a classifier needs images of at least 2 classes.")


def data_fingerprint(config, prepared: TrainingData) -> dict:
    """The fingerprint of the data ``config`` names (see :mod:`kerascnn.data.fingerprint`),
    with the files of its path, else of its ``data_dir``."""
    dataset = os.fspath(config.dataset)
    location = dataset if os.path.exists(dataset) else config.data_dir
    return fingerprint(prepared.data, location)


def subset(data: Data, counts: dict, seed: int) -> Data:
    """``data`` with splits cut to ``counts[split]`` images (a seeded choice, order kept)."""
    if not data.in_memory:
        raise DataError("Subsets of a streamed data set are not supported; use --val-fraction.")
    arrays = dict(data.arrays)
    for offset, (split, n) in enumerate(counts.items()):
        if n is None or split not in arrays or n >= len(arrays[split][1]):
            continue
        x, y = arrays[split]
        keep = np.sort(np.random.default_rng(seed + offset).permutation(len(y))[:n])
        arrays[split] = (x[keep], y[keep])
    info = dataclasses.replace(data.info,
                               split_sizes={k: int(len(v[1])) for k, v in arrays.items()})
    return Data(info, arrays=arrays)
