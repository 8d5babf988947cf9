"""tf.data pipelines from in-memory uint8 arrays.

The pipeline runs on the CPU, outside the model: shuffle (seeded), batch, then
one vectorised map per batch that casts, resizes, converts grayscale to RGB
when the model wants 3 channels, and standardises with per-channel statistics
of the training split; prefetch keeps the accelerator fed.
"""

from __future__ import annotations

import numpy as np

__all__ = ["channel_stats", "make_dataset", "epoch_order"]


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The order of the ``n`` training examples in ``epoch``: a function of
    (seed, epoch) alone, so a resumed run sees the same batches."""
    return np.random.default_rng([int(seed), int(epoch)]).permutation(n)


def channel_stats(images: np.ndarray, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std (0..1 scale) of uint8 NHWC training images."""
    x = images.reshape(-1, images.shape[-1]).astype(np.float64) / 255.0
    mean, std = x.mean(axis=0), x.std(axis=0)
    if images.shape[-1] == 1 and channels == 3:
        mean, std = np.repeat(mean, 3), np.repeat(std, 3)
    return mean.astype(np.float32), np.maximum(std, 1e-3).astype(np.float32)


def make_dataset(images, labels, *, batch_size, image_size=None, channels=3, training=False,
                 seed=0, mean=None, std=None, num_outputs=1, drop_remainder=False,
                 epochs=None, shard=None, augment=None, num_classes=None, one_hot=False):
    """A batched ``tf.data.Dataset`` of (float32 images, int labels).

    Args:
        images: uint8 array (N, H, W, C).
        labels: int array (N,).
        batch_size: global batch size.
        image_size: (height, width) to resize to, or None to keep the size.
        channels: channels the model expects (1 -> 3 repeats grayscale).
        training: shuffle each epoch (seeded).
        seed: shuffle seed.
        mean, std: per-channel statistics (0..1 scale); None keeps x / 255.
        num_outputs: models with auxiliary heads get the label once per output.
        drop_remainder: drop the last incomplete batch.
        epochs: ``(first, last)``: with ``training``, one pass of the data per
            epoch in ``range(first, last)``, each in :func:`epoch_order`
            (seed, epoch); iterate it with ``steps_per_epoch`` set. Without it,
            a training dataset reshuffles on each iteration (seeded).
        shard: ``(num_shards, index)``: keep every ``num_shards``-th batch.
        num_classes, one_hot: one-hot labels (for label smoothing).
        augment: ``fn(batch, seed[2]) -> batch`` applied to training batches
            (0..1 scale, before standardisation); the seed is a function of
            (seed, epoch, batch index) when ``epochs`` is given.
    """
    import tensorflow as tf

    labels = np.asarray(labels).astype(np.int64)
    if training and epochs is not None:
        first, last = epochs
        orders = np.stack([epoch_order(len(labels), seed, e) for e in range(first, last)])
        images_t = tf.constant(images)
        labels_t = tf.constant(labels)
        epoch_ids = np.arange(first, last, dtype=np.int64)

        def one_epoch(order, epoch):
            batches = tf.data.Dataset.from_tensor_slices(order).batch(
                batch_size, drop_remainder=drop_remainder).enumerate()
            return batches.map(lambda i, idx: (tf.gather(images_t, idx), tf.gather(labels_t, idx),
                                               tf.stack([tf.constant(seed, tf.int64),
                                                         epoch * 1_000_003 + i])))

        ds = tf.data.Dataset.from_tensor_slices((orders, epoch_ids)).flat_map(one_epoch)
    else:
        ds = tf.data.Dataset.from_tensor_slices((images, labels))
        if training:
            ds = ds.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
        ds = ds.batch(batch_size, drop_remainder=drop_remainder).enumerate().map(
            lambda i, batch: (batch[0], batch[1], tf.stack([tf.constant(seed, tf.int64), i])))
    if shard is not None:
        ds = ds.shard(*shard)
    size = tuple(image_size) if image_size is not None else None
    in_channels = images.shape[-1]

    def preprocess(x, y, batch_seed):
        x = tf.cast(x, tf.float32) / 255.0
        if size is not None and tuple(images.shape[1:3]) != size:
            x = tf.image.resize(x, size)
        if training and augment is not None:
            x = augment(x, batch_seed)
        if in_channels == 1 and channels == 3:
            x = tf.repeat(x, 3, axis=-1)
        elif in_channels == 3 and channels == 1:
            x = tf.image.rgb_to_grayscale(x)
        if mean is not None:
            x = (x - mean) / std
        if one_hot:
            y = tf.one_hot(y, num_classes)
        if num_outputs > 1:
            y = tuple([y] * num_outputs)
        return x, y

    ds = ds.map(preprocess, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    options = tf.data.Options()
    # Under MultiWorkerMirroredStrategy each worker takes its share of every global batch.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    options.deterministic = True
    return ds.with_options(options).prefetch(tf.data.AUTOTUNE)
