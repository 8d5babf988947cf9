"""tf.data pipelines from in-memory uint8 arrays.

The pipeline runs on the CPU, outside the model. Training: the images stay in
memory (the cache) as uint8; each epoch draws its order with a stateless
shuffle seeded by (seed, epoch), batches the indices, then one parallel,
vectorised map per batch gathers the images, casts, converts grayscale to RGB
when the model wants 3 channels, augments (seeded by (seed, epoch, batch)),
resizes, standardises with per-channel statistics of the training split; the
order and the augmented batches of epoch e are thus the same in a resumed run.
Evaluation: batch, resize (plain, or shorter side then centre crop),
standardise, cached when it fits in memory. Prefetch keeps the accelerator fed.
"""

from __future__ import annotations

import numpy as np

__all__ = ["channel_stats", "make_dataset", "EpochCounter", "CACHE_LIMIT_BYTES"]

CACHE_LIMIT_BYTES = 2 << 30  # evaluation splits up to 2 GiB of float32 are cached


def channel_stats(images: np.ndarray, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std (0..1 scale) of uint8 NHWC training images."""
    x = images.reshape(-1, images.shape[-1]).astype(np.float64) / 255.0
    mean, std = x.mean(axis=0), x.std(axis=0)
    if images.shape[-1] == 1 and channels == 3:
        mean, std = np.repeat(mean, 3), np.repeat(std, 3)
    elif images.shape[-1] == 3 and channels == 1:
        gray = x @ np.array([0.2989, 0.587, 0.114])
        mean, std = np.array([gray.mean()]), np.array([gray.std()])
    return mean.astype(np.float32), np.maximum(std, 1e-3).astype(np.float32)


class EpochCounter:
    """The epoch a training dataset draws its order and augmentation from.

    Each pass over the dataset uses the current value and then adds one; the
    callback (``counter.callback()``) sets it to Keras' epoch at the start of
    each epoch, so ``model.fit(..., initial_epoch=e)`` sees epoch e's batches.
    """

    def __init__(self, initial: int = 0):
        import tensorflow as tf

        self.variable = tf.Variable(int(initial), dtype=tf.int64, trainable=False)

    def set(self, epoch: int) -> None:
        self.variable.assign(int(epoch))

    @property
    def value(self) -> int:
        return int(self.variable.numpy())

    def callback(self):
        import keras

        counter = self

        class SetEpoch(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                counter.set(epoch)

        return SetEpoch()


def _to_channels(x, in_channels, channels):
    import tensorflow as tf

    if in_channels == 1 and channels == 3:
        return tf.repeat(x, 3, axis=-1)
    if in_channels == 3 and channels == 1:
        return tf.image.rgb_to_grayscale(x)
    return x


def make_dataset(images, labels, *, batch_size, image_size=None, channels=3, training=False,
                 seed=0, mean=None, std=None, num_outputs=1, drop_remainder=False,
                 epoch=None, augment=None, pca=None, num_classes=None, resize="plain",
                 cache=None, one_hot=None):
    """A batched ``tf.data.Dataset`` of (float32 images, labels).

    Args:
        images: uint8 array (N, H, W, C).
        labels: int array (N,).
        batch_size: global batch size.
        image_size: (height, width) to resize to, or None to keep the size.
        channels: channels the model expects (1 -> 3 repeats grayscale).
        training: shuffle each epoch and augment.
        seed: base seed of the shuffle and the augmentation.
        mean, std: per-channel statistics (0..1 scale); None keeps x / 255.
        num_outputs: models with auxiliary heads get the label once per output.
        drop_remainder: drop the last incomplete batch.
        epoch: training only: an int (every pass is that epoch), an
            :class:`EpochCounter`, or None (a private counter from 0: pass k is epoch k).
        augment: training only: an ``--augment`` spec (``"standard"``, ``"flip,crop"``,
            see :mod:`kerascnn.data.augment`) or a list of augmentation layers.
        pca: (eigenvalues, eigenvectors) for ``lighting``; default: from ``images``.
        num_classes: classes of the one-hot labels that mixup/cutmix produce.
        resize: ``"plain"`` (stretch to image_size) or ``"crop"`` (shorter side to
            image_size, then the centre crop) for evaluation.
        cache: cache the evaluation batches (None: when they fit in CACHE_LIMIT_BYTES).
        one_hot: one-hot labels (None: when mixup/cutmix is among ``augment``).
    """
    import tensorflow as tf

    from kerascnn.data.augment import (
        Augmentation,
        apply_augmentation,
        build_augmentation,
        pca_lighting_stats,
        resize_shorter_center_crop,
    )
    from kerascnn.data.sources import DataError

    if resize not in ("plain", "crop"):
        raise ValueError(f"resize must be 'plain' or 'crop'; got {resize!r}.")
    labels = np.asarray(labels).astype(np.int64)
    n = len(labels)
    if n == 0:
        raise DataError("make_dataset: no images.")
    in_channels = images.shape[-1]
    size = tuple(image_size) if image_size is not None else tuple(images.shape[1:3])
    native = tuple(images.shape[1:3])

    layers = []
    if training and augment is not None:
        if isinstance(augment, (list, tuple)) and all(isinstance(a, Augmentation)
                                                      for a in augment):
            layers = list(augment)
        else:
            spec = augment
            needs_pca = "lighting" in str(spec) or any(
                p in str(spec) for p in ("standard", "alexnet"))
            if pca is None and needs_pca:
                pca = pca_lighting_stats(images, seed=seed)
            layers = build_augmentation(spec, size, pca=pca, seed=seed)
    if one_hot is None:
        one_hot = any(layer.needs_labels for layer in layers)
    if one_hot and num_classes is None:
        num_classes = int(labels.max()) + 1
    mean_t = None if mean is None else tf.constant(np.asarray(mean, np.float32))
    std_t = None if std is None else tf.constant(np.asarray(std, np.float32))

    def finish(x, y):
        if mean_t is not None:
            x = (x - mean_t) / std_t
        if num_outputs > 1:
            y = tuple([y] * num_outputs)
        return x, y

    if not training:
        def preprocess(x, y):
            x = tf.cast(x, tf.float32) / 255.0
            if size != native:
                x = (tf.image.resize(x, size) if resize == "plain"
                     else resize_shorter_center_crop(x, size[0], size))
            x = _to_channels(x, in_channels, channels)
            if one_hot:
                y = tf.one_hot(y, num_classes)
            return finish(x, y)

        ds = tf.data.Dataset.from_tensor_slices((images, labels))
        ds = ds.batch(batch_size, drop_remainder=drop_remainder)
        ds = ds.map(preprocess, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        nbytes = n * size[0] * size[1] * channels * 4
        if cache or (cache is None and nbytes <= CACHE_LIMIT_BYTES):
            ds = ds.cache()
        return ds.prefetch(tf.data.AUTOTUNE)

    counter = epoch if isinstance(epoch, EpochCounter) else EpochCounter(epoch or 0)
    fixed = isinstance(epoch, (int, np.integer)) and not isinstance(epoch, bool)
    images_t = tf.constant(images)
    labels_t = tf.constant(labels)
    seed_t = tf.constant(int(seed) % (2**31), tf.int64)
    variable = counter.variable

    def current_epoch(_):
        if fixed:
            return variable.read_value()
        return variable.assign_add(1) - 1

    def one_epoch(e):
        pair = tf.cast(tf.stack([seed_t, e]), tf.int32)
        order = tf.random.experimental.stateless_shuffle(tf.range(n, dtype=tf.int64),
                                                         seed=pair)
        batches = tf.data.Dataset.from_tensor_slices(order).batch(
            batch_size, drop_remainder=drop_remainder)
        return batches.enumerate().map(lambda b, idx: (idx, e, b))

    def train_batch(idx, e, b):
        x = tf.cast(tf.gather(images_t, idx), tf.float32) / 255.0
        y = tf.gather(labels_t, idx)
        if in_channels == 1 and channels == 3:
            x = _to_channels(x, 1, 3)
        if one_hot:
            y = tf.one_hot(y, num_classes)
        batch_seed = tf.random.experimental.stateless_fold_in(
            tf.cast(tf.stack([seed_t, e]), tf.int32), tf.cast(b, tf.int32))
        x, y = apply_augmentation(layers, x, y, batch_seed, size)
        if in_channels == 3 and channels == 1:
            x = _to_channels(x, 3, 1)
        return finish(x, y)

    ds = tf.data.Dataset.range(1).map(current_epoch).flat_map(one_epoch)
    ds = ds.map(train_batch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    batches = n // batch_size if drop_remainder else -(-n // batch_size)
    ds = ds.apply(tf.data.experimental.assert_cardinality(batches))
    ds = ds.prefetch(tf.data.AUTOTUNE)
    ds.epoch_counter = counter
    return ds
