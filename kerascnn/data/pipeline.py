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

:func:`make_dataset` resolves its arguments into a :class:`PipelineSpec` and
builds one of three pipelines: :func:`eval_pipeline`, :func:`train_pipeline`
(in memory) or :func:`stream_train_pipeline`.
"""

from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["channel_stats", "make_dataset", "EpochCounter", "PipelineSpec", "eval_pipeline",
           "train_pipeline", "stream_train_pipeline", "CACHE_LIMIT_BYTES",
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


@dataclasses.dataclass(frozen=True, eq=False)
class PipelineSpec:
    """What a pipeline makes of its images: everything but the images themselves.

    :func:`make_dataset` resolves its arguments into one and hands it to the
    pipeline of its kind (:func:`eval_pipeline`, :func:`train_pipeline`,
    :func:`stream_train_pipeline`). Compared by identity (it holds layers).

    Attributes:
        batch_size: global batch size.
        size: (height, width) of the batches.
        native: (height, width) of the source images; None where they vary in size.
        in_channels: channels of the source images.
        out_channels: channels of the batches (1 <-> 3 converted).
        count: number of images; None for a stream of unknown length (then the
            dataset has no known cardinality and evaluation is not cached).
        seed: base seed of the training order and augmentation.
        layers: training only: the augmentation layers, in the order they run
            (:func:`~kerascnn.data.augment.apply_augmentation`); empty: none.
        one_hot: labels as one-hot vectors of ``num_classes`` (mixup/cutmix need them).
        num_classes: classes of one-hot labels (None when the labels stay integers).
        num_outputs: the label is repeated once per output (models with auxiliary heads).
        drop_remainder: drop the last incomplete batch.
        resize: evaluation only: ``"crop"`` or ``"plain"``, how images of another
            size reach ``size`` (see :func:`make_dataset`).
        cache: evaluation only: cache the batches; None: when they fit in
            :data:`CACHE_LIMIT_BYTES`.
        mean: per-channel mean (0..1 scale) to standardise with, or None (raw pixels).
        std: per-channel std going with ``mean``.
    """

    batch_size: int
    size: tuple
    native: tuple
    in_channels: int
    out_channels: int
    count: int | None = None
    seed: int = 0
    layers: tuple = ()
    one_hot: bool = False
    num_classes: int | None = None
    num_outputs: int = 1
    drop_remainder: bool = False
    resize: str = "crop"
    cache: bool | None = None
    mean: object = None
    std: object = None


def make_dataset(images, labels=None, *, batch_size, image_size=None, channels=None,
                 training=False, seed=0, num_outputs=1, drop_remainder=False, epoch=None,
                 augment=None, pca=None, num_classes=None, resize="crop", cache=None,
                 one_hot=None, size_hint=None, mean=None, std=None):
    """A batched ``tf.data.Dataset`` of (float32 images in 0-255, labels).

    Resolves its arguments into a :class:`PipelineSpec` and builds the pipeline
    of its kind: :func:`eval_pipeline` (``training`` False),
    :func:`train_pipeline` (arrays) or :func:`stream_train_pipeline` (a stream).

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

    from kerascnn.data.sources import DataError

    if resize not in ("plain", "crop"):
        raise ValueError(f"resize must be 'plain' or 'crop'; got {resize!r}.")
    streamed = isinstance(images, tf.data.Dataset)
    if not streamed:
        labels = np.asarray(labels).astype(np.int64)
    native, in_channels, count = _source_shape(images, labels, size_hint)
    size = tuple(image_size) if image_size is not None else native
    if None in size:
        raise DataError("Images of varying size need image_size (--image-size).")
    layers = _augmentation_layers(augment if training else None, images, size, pca, seed)
    one_hot, num_classes = _label_encoding(one_hot, num_classes, layers, labels, streamed)
    spec = PipelineSpec(
        batch_size=batch_size, size=size, native=native, in_channels=in_channels,
        out_channels=channels or in_channels, count=count, seed=seed, layers=layers,
        one_hot=one_hot, num_classes=num_classes, num_outputs=num_outputs,
        drop_remainder=drop_remainder, resize=resize, cache=cache, mean=mean, std=std)
    if not training:
        return eval_pipeline(images, labels, spec)
    if streamed:
        return stream_train_pipeline(images, spec, epoch)
    return train_pipeline(images, labels, spec, epoch)


def _source_shape(images, labels, size_hint):
    """(native (height, width), channels, number of images) of an array or a stream."""
    import tensorflow as tf

    from kerascnn.data.sources import DataError

    if isinstance(images, tf.data.Dataset):
        shape = images.element_spec[0].shape
        return tuple(shape[:2]), shape[-1], size_hint
    if len(images) != len(labels):  # training would gather a subset, or fail mid-epoch
        raise DataError(f"make_dataset: {len(images)} images but {len(labels)} labels.")
    if len(labels) == 0:
        raise DataError("make_dataset: no images.")
    return tuple(images.shape[1:3]), images.shape[-1], len(labels)


def _augmentation_layers(augment, images, size, pca, seed) -> tuple:
    """The layers of ``augment`` (see :func:`make_dataset`; None: none) at ``size``."""
    import tensorflow as tf

    from kerascnn.data.augment import Augmentation, build_augmentation, pca_lighting_stats
    from kerascnn.data.plan import AugmentPlan
    from kerascnn.data.sources import DataError

    if augment is None:
        return ()
    if isinstance(augment, (list, tuple)) and all(isinstance(a, Augmentation)
                                                  for a in augment):
        return tuple(augment)
    plan = augment if isinstance(augment, AugmentPlan) else AugmentPlan.parse(augment)
    if pca is None and plan.needs_pca:
        if isinstance(images, tf.data.Dataset):
            raise DataError("lighting on a streamed data set needs pca=(values, "
                            "vectors) computed from a sample of its images.")
        pca = pca_lighting_stats(images, seed=seed)
    return tuple(build_augmentation(plan, size, pca=pca, seed=seed))


def _label_encoding(one_hot, num_classes, layers, labels, streamed):
    """(one_hot, num_classes): one-hot by default where a layer mixes labels; the
    classes counted from in-memory labels where not given."""
    from kerascnn.data.sources import DataError

    if one_hot is None:
        one_hot = any(layer.needs_labels for layer in layers)
    if one_hot and num_classes is None:
        if streamed:
            raise DataError("One-hot labels of a streamed data set need num_classes.")
        num_classes = int(labels.max()) + 1
    return bool(one_hot), num_classes


def _finisher(spec):
    """finish(x, y): standardised images (``spec.mean``/``std``), the label per output."""
    import tensorflow as tf

    mean = None if spec.mean is None else tf.constant(np.asarray(spec.mean, np.float32))
    std = None if spec.std is None else tf.constant(np.asarray(spec.std, np.float32))

    def finish(x, y):
        if mean is not None:
            x = (x / 255.0 - mean) / std
        if spec.num_outputs > 1:
            y = tuple([y] * spec.num_outputs)
        return x, y

    return finish


def eval_pipeline(images, labels, spec: PipelineSpec):
    """Evaluation: the images in their order, batched, resized where their size is
    not ``spec.size``, converted, cached when they fit (``spec.cache``), prefetched.

    ``images``: a uint8 array (with int ``labels``) or a stream of (image, label).
    """
    import tensorflow as tf

    finish = _finisher(spec)
    varying = None in spec.native
    resizer = _resizer(spec.size, spec.resize) if spec.size != spec.native or varying else None
    if isinstance(images, tf.data.Dataset):
        ds = images
        if varying:  # images of varying size: resize each before batching
            ds = ds.map(lambda x, y: (resizer(tf.cast(x, tf.float32)), y),
                        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    else:
        ds = tf.data.Dataset.from_tensor_slices((images, labels))
    batch_resizer = None if varying else resizer

    def preprocess(x, y):
        x = tf.cast(x, tf.float32)
        if batch_resizer is not None:
            x = batch_resizer(x)
        x = _to_channels(x, spec.in_channels, spec.out_channels)
        if spec.one_hot:
            y = tf.one_hot(y, spec.num_classes)
        return finish(x, y)

    ds = ds.batch(spec.batch_size, drop_remainder=spec.drop_remainder)
    ds = ds.map(preprocess, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    nbytes = (spec.count or 0) * spec.size[0] * spec.size[1] * spec.out_channels * 4
    if spec.cache or (spec.cache is None and spec.count is not None
                      and nbytes <= CACHE_LIMIT_BYTES):
        ds = ds.cache()
    return ds.prefetch(tf.data.AUTOTUNE)


def _epochs(epoch):
    """(counter, a one-element dataset of the epoch a pass draws) for ``epoch`` as
    :func:`make_dataset` takes it: an int is every pass's epoch; a counter (or
    None: a private one from 0) advances by one each pass."""
    import tensorflow as tf

    counter = epoch if isinstance(epoch, EpochCounter) else EpochCounter(epoch or 0)
    fixed = isinstance(epoch, (int, np.integer)) and not isinstance(epoch, bool)
    variable = counter.variable

    def current_epoch(_):
        if fixed:
            return variable.read_value()
        return variable.assign_add(1) - 1

    return counter, tf.data.Dataset.range(1).map(current_epoch)


def _epoch_seed(seed, e):
    """The int32 seed pair of epoch ``e``: the shuffle's, and the root of its batches'."""
    import tensorflow as tf

    return tf.cast(tf.stack([tf.constant(int(seed) % (2**31), tf.int64), e]), tf.int32)


def _batch_augmenter(spec: PipelineSpec):
    """augment_batch(x, y, e, b): a float32 batch (0-255, source channels) -> batch
    ``b`` of epoch ``e`` augmented (seeded by (seed, e, b)), converted, finished."""
    import tensorflow as tf

    from kerascnn.data.augment import apply_augmentation

    finish = _finisher(spec)
    # colour layers need RGB: gray images are augmented as RGB and converted back
    rgb_aug = spec.in_channels == 1 and (spec.out_channels == 3 or any(
        getattr(layer, "name", "") in ("lighting", "saturation")
        or getattr(layer, "needs_rgb", False) for layer in spec.layers))
    aug_channels = 3 if rgb_aug else spec.in_channels

    def augment_batch(x, y, e, b):
        x = x / 255.0
        if rgb_aug:
            x = _to_channels(x, 1, 3)
        if spec.one_hot:
            y = tf.one_hot(y, spec.num_classes)
        batch_seed = tf.random.experimental.stateless_fold_in(_epoch_seed(spec.seed, e),
                                                              tf.cast(b, tf.int32))
        x, y = apply_augmentation(spec.layers, x, y, batch_seed, spec.size)
        return finish(_to_channels(x, aug_channels, spec.out_channels) * 255.0, y)

    return augment_batch


def _training_tail(ds, spec: PipelineSpec, counter):
    """The cardinality (where the count is known), prefetch, ``ds.epoch_counter``."""
    import tensorflow as tf

    if spec.count is not None:
        n, size = spec.count, spec.batch_size
        ds = ds.apply(tf.data.experimental.assert_cardinality(
            n // size if spec.drop_remainder else -(-n // size)))
    ds = ds.prefetch(tf.data.AUTOTUNE)
    ds.epoch_counter = counter
    return ds


def train_pipeline(images, labels, spec: PipelineSpec, epoch=None):
    """Training on uint8 ``images`` (int ``labels``) held in memory.

    Each pass draws its epoch e (see ``epoch`` in :func:`make_dataset`), shuffles
    the indices statelessly by (seed, e), batches them, then one parallel map per
    batch gathers its images and augments them (seeded by (seed, e, batch)).
    The dataset's ``epoch_counter`` is the :class:`EpochCounter` it reads.
    """
    import tensorflow as tf

    counter, epochs = _epochs(epoch)
    augment_batch = _batch_augmenter(spec)
    images_t = tf.constant(images)
    labels_t = tf.constant(labels)

    def one_epoch(e):
        order = tf.random.experimental.stateless_shuffle(tf.range(spec.count, dtype=tf.int64),
                                                         seed=_epoch_seed(spec.seed, e))
        batches = tf.data.Dataset.from_tensor_slices(order).batch(
            spec.batch_size, drop_remainder=spec.drop_remainder)
        return batches.enumerate().map(lambda b, idx: (idx, e, b))

    def train_batch(idx, e, b):
        x = tf.cast(tf.gather(images_t, idx), tf.float32)
        return augment_batch(x, tf.gather(labels_t, idx), e, b)

    ds = epochs.flat_map(one_epoch)
    ds = ds.map(train_batch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return _training_tail(ds, spec, counter)


def stream_train_pipeline(stream, spec: PipelineSpec, epoch=None):
    """Training on a stream of unbatched (uint8 image, label) pairs read from disk.

    Each pass draws its epoch e (see ``epoch`` in :func:`make_dataset`) and reads
    the stream in file order, shuffling consecutive windows of
    :data:`STREAM_SHUFFLE_BUFFER` images, each statelessly by (seed, e, window);
    its batches are then augmented as :func:`train_pipeline`'s. Images of
    varying size are first resized (largest central crop) to ``spec.size``, back
    to uint8. The dataset's ``epoch_counter`` is the :class:`EpochCounter` it reads.
    """
    import tensorflow as tf

    counter, epochs = _epochs(epoch)
    if None in spec.native:  # resized (back to uint8) before the shuffle window
        resizer = _resizer(spec.size, "crop")
        stream = stream.map(
            lambda x, y: (tf.cast(tf.clip_by_value(tf.round(resizer(tf.cast(x, tf.float32))),
                                                   0, 255), tf.uint8), y),
            num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    augment_batch = _batch_augmenter(spec)

    def shuffle_window(pair, w, x, y):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(tf.shape(y)[0]),
            seed=tf.random.experimental.stateless_fold_in(pair, tf.cast(w, tf.int32)))
        return tf.gather(x, order), tf.gather(y, order)

    def one_epoch(e):
        pair = _epoch_seed(spec.seed, e)
        windows = stream.batch(STREAM_SHUFFLE_BUFFER).enumerate()
        order = windows.map(lambda w, xy: shuffle_window(pair, w, *xy)).unbatch()
        return order.batch(spec.batch_size, drop_remainder=spec.drop_remainder).enumerate().map(
            lambda b, xy: (tf.cast(xy[0], tf.float32), xy[1], e, b))

    ds = epochs.flat_map(one_epoch)
    ds = ds.map(augment_batch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return _training_tail(ds, spec, counter)
