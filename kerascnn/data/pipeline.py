"""tf.data pipelines from in-memory uint8 arrays.

The pipeline runs on the CPU, outside the model: shuffle (seeded), batch, then
one vectorised map per batch that casts, resizes, converts grayscale to RGB
when the model wants 3 channels, and standardises with per-channel statistics
of the training split; prefetch keeps the accelerator fed.
"""

from __future__ import annotations

import numpy as np

__all__ = ["channel_stats", "make_dataset"]


def channel_stats(images: np.ndarray, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std (0..1 scale) of uint8 NHWC training images."""
    x = images.reshape(-1, images.shape[-1]).astype(np.float64) / 255.0
    mean, std = x.mean(axis=0), x.std(axis=0)
    if images.shape[-1] == 1 and channels == 3:
        mean, std = np.repeat(mean, 3), np.repeat(std, 3)
    return mean.astype(np.float32), np.maximum(std, 1e-3).astype(np.float32)


def make_dataset(images, labels, *, batch_size, image_size=None, channels=3, training=False,
                 seed=0, mean=None, std=None, num_outputs=1, drop_remainder=False):
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
    """
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((images, labels.astype(np.int64)))
    if training:
        ds = ds.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    size = tuple(image_size) if image_size is not None else None
    in_channels = images.shape[-1]

    def preprocess(x, y):
        x = tf.cast(x, tf.float32) / 255.0
        if size is not None and tuple(images.shape[1:3]) != size:
            x = tf.image.resize(x, size)
        if in_channels == 1 and channels == 3:
            x = tf.repeat(x, 3, axis=-1)
        elif in_channels == 3 and channels == 1:
            x = tf.image.rgb_to_grayscale(x)
        if mean is not None:
            x = (x - mean) / std
        if num_outputs > 1:
            y = tuple([y] * num_outputs)
        return x, y

    ds = ds.map(preprocess, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE)
