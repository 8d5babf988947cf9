"""tf.data pipelines that feed a model raw pixels (float32, 0-255).

The models that fit.py and tune.py build hold their own preprocessing
(rescaling, the training split's mean/std, resizing, channel conversion: see
:mod:`kerascnn.training.model`), so a pipeline only orders, batches, augments
and, where images differ in size, resizes.

Training: the images stay in memory as uint8; each epoch draws its order with a
stateless shuffle seeded by (seed, epoch), batches the indices, then one
parallel, vectorised map per batch gathers the images and augments them (seeded
by (seed, epoch, batch)); the order and the augmented batches of epoch e are
thus the same in a resumed run. A streamed source (a TFDS split, never read
into memory whole; TFDS shuffles the examples when it prepares a set) is read in
file order and shuffled within consecutive windows of STREAM_SHUFFLE_BUFFER
images, each by a stateless shuffle seeded by (seed, epoch, window): resumable
the same way. Evaluation: batch (resizing images of another size), cached when it
fits in memory. Prefetch keeps the accelerator fed.
"""

from __future__ import annotations

import numpy as np

__all__ = ["channel_stats", "make_dataset", "EpochCounter", "CACHE_LIMIT_BYTES",
           "STREAM_SHUFFLE_BUFFER"]

CACHE_LIMIT_BYTES = 2 << 30  # evaluation splits up to 2 GiB of float32 are cached
STREAM_SHUFFLE_BUFFER = 1024  # images per shuffled window of a streamed split


def channel_stats(images: np.ndarray, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std (0..1 scale) of uint8 NHWC training images, in the
    model's ``channels`` (gray repeated to RGB, or RGB converted to gray)."""
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

    if channels is None or in_channels == channels:
        return x
    if in_channels == 1 and channels == 3:
        return tf.repeat(x, 3, axis=-1)
    if in_channels == 3 and channels == 1:
        return tf.image.rgb_to_grayscale(x)
    return x


def _resizer(size, resize):
    import keras

    return keras.layers.Resizing(size[0], size[1], crop_to_aspect_ratio=resize == "crop",
                                 dtype="float32")


def make_dataset(images, labels=None, *, batch_size, image_size=None, channels=None,
                 training=False, seed=0, num_outputs=1, drop_remainder=False, epoch=None,
                 augment=None, pca=None, num_classes=None, resize="crop", cache=None,
                 one_hot=None, size_hint=None, mean=None, std=None):
    """A batched ``tf.data.Dataset`` of (float32 images in 0-255, labels).

    Args:
        images: uint8 array (N, H, W, C), or a ``tf.data.Dataset`` of unbatched
            (uint8 image, label) pairs streamed from disk (``labels`` None).
        labels: int array (N,).
        batch_size: global batch size.
        image_size: (height, width) of the batches; None keeps the images' size
            (required for a stream of images of varying size).
        channels: convert to this many channels (1 <-> 3); None keeps them (the
            models of fit.py convert themselves).
        training: shuffle each epoch and augment.
        seed: base seed of the shuffle and the augmentation.
        num_outputs: models with auxiliary heads get the label once per output.
        drop_remainder: drop the last incomplete batch.
        epoch: training only: an int (every pass is that epoch), an
            :class:`EpochCounter`, or None (a private counter from 0: pass k is epoch k).
        augment: training only: an ``--augment`` spec (``"standard"``, ``"flip,crop"``),
            an :class:`~kerascnn.data.plan.AugmentPlan`, or a list of augmentation layers.
        pca: (eigenvalues, eigenvectors) for ``lighting``; default: from ``images``.
        num_classes: classes of one-hot labels.
        resize: how evaluation images of another size reach ``image_size``:
            ``"crop"`` (the largest central crop of the target's aspect, then resized:
            ``keras.layers.Resizing(crop_to_aspect_ratio=True)``) or ``"plain"`` (stretch).
        cache: cache the evaluation batches (None: when they fit in CACHE_LIMIT_BYTES).
        one_hot: one-hot labels (None: when mixup/cutmix is among ``augment``).
        size_hint: number of images of a stream (for its cardinality and caching).
        mean, std: standardise to ``(x / 255 - mean) / std`` for a network without its
            own preprocessing layers (default: raw pixels, as fit.py's models take them).
    """
    import tensorflow as tf

    from kerascnn.data.augment import (
        Augmentation,
        apply_augmentation,
        build_augmentation,
        pca_lighting_stats,
    )
    from kerascnn.data.plan import AugmentPlan
    from kerascnn.data.sources import DataError

    if resize not in ("plain", "crop"):
        raise ValueError(f"resize must be 'plain' or 'crop'; got {resize!r}.")
    streamed = isinstance(images, tf.data.Dataset)
    if streamed:
        spec = images.element_spec[0]
        in_channels = spec.shape[-1]
        native = tuple(spec.shape[:2])
        n = size_hint
    else:
        labels = np.asarray(labels).astype(np.int64)
        n = len(labels)
        if n == 0:
            raise DataError("make_dataset: no images.")
        in_channels = images.shape[-1]
        native = tuple(images.shape[1:3])
    size = tuple(image_size) if image_size is not None else native
    if None in size:
        raise DataError("Images of varying size need image_size (--image-size).")
    out_channels = channels or in_channels

    layers = []
    if training and augment is not None:
        if isinstance(augment, (list, tuple)) and all(isinstance(a, Augmentation)
                                                      for a in augment):
            layers = list(augment)
        else:
            plan = augment if isinstance(augment, AugmentPlan) else AugmentPlan.parse(augment)
            if pca is None and plan.needs_pca:
                if streamed:
                    raise DataError("lighting on a streamed data set needs pca=(values, "
                                    "vectors) computed from a sample of its images.")
                pca = pca_lighting_stats(images, seed=seed)
            layers = build_augmentation(plan, size, pca=pca, seed=seed)
    if one_hot is None:
        one_hot = any(layer.needs_labels for layer in layers)
    if one_hot and num_classes is None:
        if streamed:
            raise DataError("One-hot labels of a streamed data set need num_classes.")
        num_classes = int(labels.max()) + 1

    mean_t = None if mean is None else tf.constant(np.asarray(mean, np.float32))
    std_t = None if std is None else tf.constant(np.asarray(std, np.float32))

    def finish(x, y):
        if mean_t is not None:
            x = (x / 255.0 - mean_t) / std_t
        if num_outputs > 1:
            y = tuple([y] * num_outputs)
        return x, y

    if not training:
        resizer = _resizer(size, resize) if size != native or None in native else None

        def preprocess(x, y):
            x = tf.cast(x, tf.float32)
            if resizer is not None:
                x = resizer(x)
            x = _to_channels(x, in_channels, out_channels)
            if one_hot:
                y = tf.one_hot(y, num_classes)
            return finish(x, y)

        if streamed:
            ds = images
            if None in native:  # images of varying size: resize each before batching
                ds = ds.map(lambda x, y: (resizer(tf.cast(x, tf.float32)), y),
                            num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
                resizer = None
        else:
            ds = tf.data.Dataset.from_tensor_slices((images, labels))
        ds = ds.batch(batch_size, drop_remainder=drop_remainder)
        ds = ds.map(preprocess, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        nbytes = (n or 0) * size[0] * size[1] * out_channels * 4
        if cache or (cache is None and n is not None and nbytes <= CACHE_LIMIT_BYTES):
            ds = ds.cache()
        return ds.prefetch(tf.data.AUTOTUNE)

    counter = epoch if isinstance(epoch, EpochCounter) else EpochCounter(epoch or 0)
    fixed = isinstance(epoch, (int, np.integer)) and not isinstance(epoch, bool)
    seed_t = tf.constant(int(seed) % (2**31), tf.int64)
    variable = counter.variable
    # colour layers need RGB: gray images are augmented as RGB and converted back
    rgb_aug = in_channels == 1 and (out_channels == 3 or any(
        getattr(layer, "name", "") in ("lighting", "saturation") for layer in layers))

    def current_epoch(_):
        if fixed:
            return variable.read_value()
        return variable.assign_add(1) - 1

    def augment_batch(x, y, e, b):
        x = x / 255.0
        if rgb_aug:
            x = _to_channels(x, 1, 3)
        if one_hot:
            y = tf.one_hot(y, num_classes)
        batch_seed = tf.random.experimental.stateless_fold_in(
            tf.cast(tf.stack([seed_t, e]), tf.int32), tf.cast(b, tf.int32))
        x, y = apply_augmentation(layers, x, y, batch_seed, size)
        x = _to_channels(x, 3 if rgb_aug else in_channels, out_channels) * 255.0
        return finish(x, y)

    if streamed:
        if None in native:  # resized (back to uint8) before the shuffle window
            resizer = _resizer(size, "crop")
            images = images.map(
                lambda x, y: (tf.cast(tf.clip_by_value(tf.round(resizer(tf.cast(x, tf.float32))),
                                                       0, 255), tf.uint8), y),
                num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

        def shuffle_window(pair, w, x, y):
            order = tf.random.experimental.stateless_shuffle(
                tf.range(tf.shape(y)[0]),
                seed=tf.random.experimental.stateless_fold_in(pair, tf.cast(w, tf.int32)))
            return tf.gather(x, order), tf.gather(y, order)

        def one_epoch(e):
            pair = tf.cast(tf.stack([seed_t, e]), tf.int32)
            windows = images.batch(STREAM_SHUFFLE_BUFFER).enumerate()
            order = windows.map(lambda w, xy: shuffle_window(pair, w, *xy)).unbatch()
            return order.batch(batch_size, drop_remainder=drop_remainder).enumerate().map(
                lambda b, xy: (tf.cast(xy[0], tf.float32), xy[1], e, b))

        ds = tf.data.Dataset.range(1).map(current_epoch).flat_map(one_epoch)
        ds = ds.map(augment_batch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    else:
        images_t = tf.constant(images)
        labels_t = tf.constant(labels)

        def one_epoch(e):
            pair = tf.cast(tf.stack([seed_t, e]), tf.int32)
            order = tf.random.experimental.stateless_shuffle(tf.range(n, dtype=tf.int64),
                                                             seed=pair)
            batches = tf.data.Dataset.from_tensor_slices(order).batch(
                batch_size, drop_remainder=drop_remainder)
            return batches.enumerate().map(lambda b, idx: (idx, e, b))

        def train_batch(idx, e, b):
            x = tf.cast(tf.gather(images_t, idx), tf.float32)
            return augment_batch(x, tf.gather(labels_t, idx), e, b)

        ds = tf.data.Dataset.range(1).map(current_epoch).flat_map(one_epoch)
        ds = ds.map(train_batch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if n is not None:
        batches = n // batch_size if drop_remainder else -(-n // batch_size)
        ds = ds.apply(tf.data.experimental.assert_cardinality(batches))
    ds = ds.prefetch(tf.data.AUTOTUNE)
    ds.epoch_counter = counter
    return ds
