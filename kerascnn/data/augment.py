"""Batch augmentation in the tf.data pipeline (CPU), stateless and seeded.

Each function takes a float batch (N, H, W, C) and a ``seed`` tensor of shape
[2]; the pipeline derives the seed from (run seed, epoch, batch index), so the
augmentation of every batch is a function of those alone and a resumed run
repeats it exactly.
"""

from __future__ import annotations

__all__ = ["AUGMENTATIONS", "PRESETS", "build_augmentation", "parse_augment"]


def _flip(x, seed):
    import tensorflow as tf

    return tf.image.stateless_random_flip_left_right(x, seed)


def _pad_crop(x, seed, pad=4):
    """Zero-pad by ``pad`` pixels and crop back at a random offset per image."""
    import tensorflow as tf

    shape = tf.shape(x)
    n, h, w = shape[0], shape[1], shape[2]
    padded = tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
    offsets = tf.random.stateless_uniform([n, 2], seed, 0, 2 * pad + 1, dtype=tf.int32)
    rows = offsets[:, :1] + tf.range(h)[None, :]
    cols = offsets[:, 1:] + tf.range(w)[None, :]
    x = tf.gather(padded, rows, axis=1, batch_dims=1)
    return tf.gather(x, cols, axis=2, batch_dims=1)


AUGMENTATIONS = {"flip": _flip, "pad_crop": _pad_crop}
PRESETS = {"none": (), "standard": ("flip", "pad_crop")}


def parse_augment(spec):
    """``'none'``, a preset name or a comma list -> tuple of augmentation names."""
    if spec is None:
        return ()
    names = []
    for part in str(spec).split(","):
        part = part.strip()
        if not part:
            continue
        if part in PRESETS:
            names.extend(PRESETS[part])
        elif part in AUGMENTATIONS:
            names.append(part)
        else:
            allowed = ", ".join(sorted(set(PRESETS) | set(AUGMENTATIONS)))
            raise ValueError(f"Unknown augmentation {part!r}; allowed: {allowed}.")
    return tuple(names)


def build_augmentation(spec):
    """A function ``(batch, seed[2]) -> batch`` applying ``spec`` in order, or None."""
    import tensorflow as tf

    names = parse_augment(spec)
    if not names:
        return None

    def augment(x, seed):
        for i, name in enumerate(names):
            x = AUGMENTATIONS[name](x, tf.random.experimental.stateless_fold_in(seed, i))
        return x

    return augment
