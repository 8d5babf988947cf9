"""Data augmentation as Keras preprocessing layers, run in tf.data on the CPU.

The Lasagne book chapter "Classifying images with residual networks" lists
random scaling, random-size crop, horizontal flip, rotation, lighting noise and
brightness / saturation / contrast jitter; the classic papers add AlexNet's
(Krizhevsky et al. 2012) random crops of rescaled images with PCA lighting (eigenvectors of the
training pixels' RGB covariance, perturbed by N(0, 0.1) each time an image is
shown), VGG's scale jittering (shorter side S drawn in [Smin, Smax], then a
crop), and the Inception family's random-size crops; mixup and cutmix mix pairs
of images and their labels.

Every layer works on a float batch (N, H, W, C) in [0, 1] and draws all its
randomness statelessly from a seed tensor: the pipeline passes a seed derived
from (seed, epoch, batch index), so the augmented batches of an epoch are the
same in a resumed run and do not depend on thread scheduling. Called as a
layer (``layer(images)``), a layer draws that seed from its own ``seed``.

The automatic policies (``randaugment``, ``trivialaugment``, ``augmix``,
``autoaugment``), ``random_erasing`` and ``color_jitter`` run keras' own
preprocessing layers (``keras.layers.RandAugment``'s operations, ``AugMix``,
``RandomErasing``, ``RandomColorJitter``...): keras draws their random
parameters through a seed generator that folds our (seed, epoch, batch) seed
(:class:`StatelessSeeds`), and where a keras layer draws with its own state
or once per batch (the choice of operations of ``RandAugment`` and ``AugMix``)
we draw that choice per image and call keras' ``transform_images``. See
docs/augmentation.md.

Presets for ``fit.py --augment`` (see :mod:`kerascnn.data.plan`): ``none``, ``standard`` (the book chapter's list),
``alexnet``, ``vgg``, ``inception``, or a comma list of presets and the names in
:data:`AUGMENTATIONS`.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from kerascnn.data.plan import AUGMENTATIONS, PRESETS, AugmentPlan, parse_augment, split_name

__all__ = ["Augmentation", "RandomResizedCrop", "ScaleJitter", "RandomHorizontalFlip",
           "RandomRotation", "RandomBrightness", "RandomContrast", "RandomSaturation",
           "PCALighting", "MixUp", "CutMix", "PadCrop", "AUGMENTATIONS", "PRESETS",
           "RandAugment", "TrivialAugment", "AugMix", "AutoAugment", "RandomErasing",
           "ColorJitter", "IMAGENET_POLICY", "RANDAUGMENT_OPS", "StatelessSeeds", "build_augmentation", "pca_lighting_stats",
           "apply_augmentation"]


def _fold(seed, i):
    return tf.random.experimental.stateless_fold_in(tf.cast(seed, tf.int32), i)


def _uniform(shape, seed, lo, hi):
    return tf.random.stateless_uniform(shape, seed=seed, minval=lo, maxval=hi)


class Augmentation(keras.layers.Layer):
    """Base class: ``augment(images, seed)`` is the stateless transform."""

    needs_labels = False
    changes_size = False

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self._generator = keras.random.SeedGenerator(seed if seed is not None else 1337)

    def augment(self, images, seed):  # pragma: no cover - abstract
        raise NotImplementedError

    def inference(self, images):
        return images

    def call(self, inputs, training=True):
        images = tf.convert_to_tensor(inputs, tf.float32)
        if not training:
            return self.inference(images)
        seed = tf.cast(keras.random.randint((2,), 0, 2**30, seed=self._generator), tf.int32)
        return self.augment(images, seed)

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


@keras.saving.register_keras_serializable(package="kerascnn")
class RandomResizedCrop(Augmentation):
    """A crop of random area fraction and aspect ratio, resized to ``size`` (Inception)."""

    changes_size = True

    def __init__(self, size, area=(0.08, 1.0), aspect=(3 / 4, 4 / 3), seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.size = tuple(size) if isinstance(size, (tuple, list)) else (size, size)
        self.area, self.aspect = tuple(area), tuple(aspect)

    def augment(self, images, seed):
        n = tf.shape(images)[0]
        h = tf.cast(tf.shape(images)[1], tf.float32)
        w = tf.cast(tf.shape(images)[2], tf.float32)
        area = _uniform([n], _fold(seed, 0), *self.area)
        log_r = _uniform([n], _fold(seed, 1), math.log(self.aspect[0]), math.log(self.aspect[1]))
        r = tf.exp(log_r)
        bw = tf.minimum(1.0, tf.sqrt(area * r * h / w))
        bh = tf.minimum(1.0, tf.sqrt(area / r * w / h))
        top = _uniform([n], _fold(seed, 2), 0.0, 1.0) * (1.0 - bh)
        left = _uniform([n], _fold(seed, 3), 0.0, 1.0) * (1.0 - bw)
        return _crop(images, top, left, bh, bw, self.size)

    def inference(self, images):
        return tf.image.resize(images, self.size)

    def get_config(self):
        return {**super().get_config(), "size": self.size, "area": self.area,
                "aspect": self.aspect}


def _crop(images, top, left, bh, bw, size):
    """crop_and_resize with relative boxes whose corners are pixel borders."""
    h = tf.cast(tf.shape(images)[1], tf.float32)
    w = tf.cast(tf.shape(images)[2], tf.float32)
    # crop_and_resize samples box corners at pixel centres: map [t, t+bh] of the
    # image's extent onto centres of the first/last output pixels.
    oh, ow = float(size[0]), float(size[1])
    y1 = (top * h + 0.5 * bh * h / oh - 0.5) / tf.maximum(h - 1.0, 1.0)
    y2 = ((top + bh) * h - 0.5 * bh * h / oh - 0.5) / tf.maximum(h - 1.0, 1.0)
    x1 = (left * w + 0.5 * bw * w / ow - 0.5) / tf.maximum(w - 1.0, 1.0)
    x2 = ((left + bw) * w - 0.5 * bw * w / ow - 0.5) / tf.maximum(w - 1.0, 1.0)
    boxes = tf.stack([y1, x1, y2, x2], axis=1)
    index = tf.range(tf.shape(images)[0])
    return tf.image.crop_and_resize(images, boxes, index, size)


@keras.saving.register_keras_serializable(package="kerascnn")
class ScaleJitter(Augmentation):
    """VGG scale jittering: shorter side to S ~ U[Smin, Smax], then a random ``size`` crop.

    With Smin == Smax it is AlexNet's random crop of a rescaled image (224 of 256).
    """

    changes_size = True

    def __init__(self, size, scale_range, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.size = tuple(size) if isinstance(size, (tuple, list)) else (size, size)
        self.scale_range = (float(scale_range[0]), float(scale_range[1]))
        if self.scale_range[0] < max(self.size):
            raise ValueError(f"ScaleJitter: Smin {self.scale_range[0]} must be >= the crop "
                             f"size {max(self.size)}.")

    def augment(self, images, seed):
        n = tf.shape(images)[0]
        h = tf.cast(tf.shape(images)[1], tf.float32)
        w = tf.cast(tf.shape(images)[2], tf.float32)
        s = _uniform([n], _fold(seed, 0), self.scale_range[0], self.scale_range[1] + 1e-6)
        shorter = tf.minimum(h, w)
        bh = tf.minimum(1.0, self.size[0] * shorter / (s * h))
        bw = tf.minimum(1.0, self.size[1] * shorter / (s * w))
        top = _uniform([n], _fold(seed, 1), 0.0, 1.0) * (1.0 - bh)
        left = _uniform([n], _fold(seed, 2), 0.0, 1.0) * (1.0 - bw)
        return _crop(images, top, left, bh, bw, self.size)

    def inference(self, images):
        return resize_shorter_center_crop(images, int(round(self.scale_range[0])), self.size)

    def get_config(self):
        return {**super().get_config(), "size": self.size, "scale_range": self.scale_range}


def resize_shorter_center_crop(images, shorter, size):
    """Shorter side to ``shorter`` then the central ``size`` crop (batched)."""
    h = tf.cast(tf.shape(images)[1], tf.float32)
    w = tf.cast(tf.shape(images)[2], tf.float32)
    scale = shorter / tf.minimum(h, w)
    nh = tf.maximum(tf.cast(tf.round(h * scale), tf.int32), size[0])
    nw = tf.maximum(tf.cast(tf.round(w * scale), tf.int32), size[1])
    resized = tf.image.resize(images, tf.stack([nh, nw]))
    top, left = (nh - size[0]) // 2, (nw - size[1]) // 2
    return resized[:, top:top + size[0], left:left + size[1], :]


@keras.saving.register_keras_serializable(package="kerascnn")
class RandomHorizontalFlip(Augmentation):
    """Mirrors each image left-right with probability 1/2."""

    def augment(self, images, seed):
        flip = _uniform([tf.shape(images)[0], 1, 1, 1], seed, 0.0, 1.0) < 0.5
        return tf.where(flip, tf.reverse(images, axis=[2]), images)


@keras.saving.register_keras_serializable(package="kerascnn")
class PadCrop(Augmentation):
    """Zero-pads each side by ``pad`` pixels and crops back to the original size at
    a random offset per image: the CIFAR augmentation of He et al. (4 pixels)."""

    def __init__(self, pad=4, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.pad = int(pad)

    def augment(self, images, seed):
        pad = self.pad
        shape = tf.shape(images)
        n, h, w = shape[0], shape[1], shape[2]
        padded = tf.pad(images, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
        offsets = tf.random.stateless_uniform([n, 2], seed, 0, 2 * pad + 1, dtype=tf.int32)
        rows = offsets[:, :1] + tf.range(h)[None, :]
        cols = offsets[:, 1:] + tf.range(w)[None, :]
        out = tf.gather(padded, rows, axis=1, batch_dims=1)
        return tf.gather(out, cols, axis=2, batch_dims=1)

    def get_config(self):
        return {**super().get_config(), "pad": self.pad}


@keras.saving.register_keras_serializable(package="kerascnn")
class RandomRotation(Augmentation):
    """Rotates each image by an angle ~ U[-max_degrees, max_degrees] (reflect fill)."""

    def __init__(self, max_degrees=10.0, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.max_degrees = float(max_degrees)

    def augment(self, images, seed):
        n = tf.shape(images)[0]
        h = tf.cast(tf.shape(images)[1], tf.float32)
        w = tf.cast(tf.shape(images)[2], tf.float32)
        a = _uniform([n], seed, -1.0, 1.0) * self.max_degrees * math.pi / 180.0
        cos, sin = tf.cos(a), tf.sin(a)
        cx, cy = (w - 1) / 2, (h - 1) / 2
        # output pixel (x, y) samples input (a0 x + a1 y + a2, b0 x + b1 y + b2)
        a2 = cx - cos * cx + sin * cy
        b2 = cy - sin * cx - cos * cy
        zeros = tf.zeros_like(a)
        transforms = tf.stack([cos, -sin, a2, sin, cos, b2, zeros, zeros], axis=1)
        return tf.raw_ops.ImageProjectiveTransformV3(
            images=images, transforms=transforms, output_shape=tf.shape(images)[1:3],
            fill_value=0.0, interpolation="BILINEAR", fill_mode="REFLECT")

    def get_config(self):
        return {**super().get_config(), "max_degrees": self.max_degrees}


@keras.saving.register_keras_serializable(package="kerascnn")
class RandomBrightness(Augmentation):
    """Adds delta ~ U[-max_delta, max_delta] to each image (values in [0, 1])."""

    def __init__(self, max_delta=0.2, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.max_delta = float(max_delta)

    def augment(self, images, seed):
        d = _uniform([tf.shape(images)[0], 1, 1, 1], seed, -self.max_delta, self.max_delta)
        return tf.clip_by_value(images + d, 0.0, 1.0)

    def get_config(self):
        return {**super().get_config(), "max_delta": self.max_delta}


@keras.saving.register_keras_serializable(package="kerascnn")
class RandomContrast(Augmentation):
    """Scales each image's deviation from its per-channel mean by f ~ U[lower, upper]."""

    def __init__(self, lower=0.8, upper=1.2, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.lower, self.upper = float(lower), float(upper)

    def augment(self, images, seed):
        f = _uniform([tf.shape(images)[0], 1, 1, 1], seed, self.lower, self.upper)
        mean = tf.reduce_mean(images, axis=[1, 2], keepdims=True)
        return tf.clip_by_value((images - mean) * f + mean, 0.0, 1.0)

    def get_config(self):
        return {**super().get_config(), "lower": self.lower, "upper": self.upper}


@keras.saving.register_keras_serializable(package="kerascnn")
class RandomSaturation(Augmentation):
    """Scales each image's distance from its grayscale by f ~ U[lower, upper] (RGB only)."""

    def __init__(self, lower=0.8, upper=1.2, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.lower, self.upper = float(lower), float(upper)

    def augment(self, images, seed):
        if images.shape[-1] != 3:
            return images
        f = _uniform([tf.shape(images)[0], 1, 1, 1], seed, self.lower, self.upper)
        gray = tf.image.rgb_to_grayscale(images)
        return tf.clip_by_value(gray + (images - gray) * f, 0.0, 1.0)

    def get_config(self):
        return {**super().get_config(), "lower": self.lower, "upper": self.upper}


def pca_lighting_stats(images, max_images=2000, seed=0):
    """Principal components of the training pixels (0..1 scale): (sqrt eigenvalues, vectors).

    ``images`` uint8 (N, H, W, C); at most ``max_images`` of them (a fixed random
    subset) are used. Columns of the vectors are the components, largest first.
    """
    images = np.asarray(images)
    if len(images) > max_images:
        images = images[np.random.default_rng(seed).choice(len(images), max_images, False)]
    pixels = images.reshape(-1, images.shape[-1]).astype(np.float64) / 255.0
    cov = np.atleast_2d(np.cov(pixels, rowvar=False))
    values, vectors = np.linalg.eigh(cov)
    order = np.argsort(values)[::-1]
    values = np.sqrt(np.maximum(values[order], 0.0))
    return values.astype(np.float32), vectors[:, order].astype(np.float32)


@keras.saving.register_keras_serializable(package="kerascnn")
class PCALighting(Augmentation):
    """AlexNet's lighting noise: adds ``V (alpha * sqrt(lambda))``, alpha ~ N(0, std).

    ``eigenvalues`` are the standard deviations along the principal components
    of the training pixels (``pca_lighting_stats``), ``eigenvectors`` their
    directions (columns); a new alpha is drawn each time an image is shown.
    """

    def __init__(self, eigenvalues, eigenvectors, std=0.1, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.eigenvalues = np.asarray(eigenvalues, np.float32).reshape(-1)
        self.eigenvectors = np.asarray(eigenvectors, np.float32)
        self.std = float(std)

    def augment(self, images, seed):
        c = len(self.eigenvalues)
        alpha = tf.random.stateless_normal([tf.shape(images)[0], c], seed=seed, stddev=self.std)
        shift = tf.matmul(alpha * self.eigenvalues, self.eigenvectors, transpose_b=True)
        return tf.clip_by_value(images + shift[:, None, None, :], 0.0, 1.0)

    def get_config(self):
        return {**super().get_config(), "eigenvalues": self.eigenvalues.tolist(),
                "eigenvectors": self.eigenvectors.tolist(), "std": self.std}


@keras.saving.register_keras_serializable(package="kerascnn")
class MixUp(Augmentation):
    """mixup: each image and its one-hot label mixed with another's, lambda ~ Beta(a, a)."""

    needs_labels = True

    def __init__(self, alpha=0.2, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.alpha = float(alpha)

    def augment_pair(self, images, labels, seed):
        n = tf.shape(images)[0]
        g1 = tf.random.stateless_gamma([n], _fold(seed, 0), alpha=self.alpha)
        g2 = tf.random.stateless_gamma([n], _fold(seed, 1), alpha=self.alpha)
        lam = g1 / (g1 + g2 + 1e-12)
        perm = tf.random.experimental.stateless_shuffle(tf.range(n), seed=_fold(seed, 2))
        li = lam[:, None, None, None]
        images = li * images + (1 - li) * tf.gather(images, perm)
        labels = lam[:, None] * labels + (1 - lam[:, None]) * tf.gather(labels, perm)
        return images, labels

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


@keras.saving.register_keras_serializable(package="kerascnn")
class CutMix(Augmentation):
    """cutmix: a random box of each image replaced by another's, labels mixed by area."""

    needs_labels = True

    def __init__(self, alpha=1.0, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.alpha = float(alpha)

    def augment_pair(self, images, labels, seed):
        n = tf.shape(images)[0]
        h, w = tf.shape(images)[1], tf.shape(images)[2]
        g1 = tf.random.stateless_gamma([n], _fold(seed, 0), alpha=self.alpha)
        g2 = tf.random.stateless_gamma([n], _fold(seed, 1), alpha=self.alpha)
        lam = g1 / (g1 + g2 + 1e-12)
        perm = tf.random.experimental.stateless_shuffle(tf.range(n), seed=_fold(seed, 2))
        cut = tf.sqrt(1.0 - lam)
        hf, wf = tf.cast(h, tf.float32), tf.cast(w, tf.float32)
        ch, cw = cut * hf, cut * wf
        cy = _uniform([n], _fold(seed, 3), 0.0, 1.0) * hf
        cx = _uniform([n], _fold(seed, 4), 0.0, 1.0) * wf
        y1, y2 = tf.clip_by_value(cy - ch / 2, 0, hf), tf.clip_by_value(cy + ch / 2, 0, hf)
        x1, x2 = tf.clip_by_value(cx - cw / 2, 0, wf), tf.clip_by_value(cx + cw / 2, 0, wf)
        ys = tf.cast(tf.range(h), tf.float32)[None, :, None] + 0.5
        xs = tf.cast(tf.range(w), tf.float32)[None, None, :] + 0.5
        inside = ((ys >= y1[:, None, None]) & (ys < y2[:, None, None])
                  & (xs >= x1[:, None, None]) & (xs < x2[:, None, None]))
        inside_f = tf.cast(inside, tf.float32)
        images = tf.where(inside[..., None], tf.gather(images, perm), images)
        kept = 1.0 - tf.reduce_mean(inside_f, axis=[1, 2])
        labels = kept[:, None] * labels + (1 - kept[:, None]) * tf.gather(labels, perm)
        return images, labels

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


# --------------------------------------------------------------------------- keras' layers

class StatelessSeeds(keras.random.SeedGenerator):
    """A seed generator for keras' random ops that holds no state: draw k is seeded by
    ``fold_in(seed, k)``.

    keras' preprocessing layers take ``get_random_transformation(images, seed=...)``
    and hand that generator to each of their random draws; this one makes those
    draws a function of the seed tensor (our (seed, epoch, batch) seed), so keras'
    own sampling code draws the parameters and a resumed run sees the same ones.
    The draws are numbered when the function is traced (once per tf.data map).
    """

    def __init__(self, seed):  # no state variable: nothing to track or advance
        self._root = tf.cast(seed, tf.int32)
        self._count = 0

    def next(self, ordered=True):
        self._count += 1
        return tf.random.experimental.stateless_fold_in(self._root, self._count)


def _keras_op(layer):
    """A keras preprocessing layer as ``op(images, seed)``: keras draws the parameters
    (per image) from ``seed`` and transforms with its own ``transform_images``."""
    layer.backend.set_backend("tensorflow")  # the pipeline runs in tf.data

    def op(images, seed):
        t = layer.get_random_transformation(images, training=True, seed=StatelessSeeds(seed))
        return layer.transform_images(images, t, training=True)

    return _traced(op)


def _traced(op):
    """``op`` traced once (per image size) however often a policy calls it: RandAugment's
    rounds and AugMix's steps call the same graph instead of copying it."""
    return tf.function(op, reduce_retracing=True, autograph=False)


def _identity(images, seed):
    return images


def _unless_empty(op, images, seed):
    """``op(images, seed)``; an empty batch as it is (keras' Equalization fails on one)."""
    return tf.cond(tf.shape(images)[0] > 0, lambda: op(images, seed), lambda: images)


def _select(images, ops, index, seed):
    """Image i of the batch goes through ``ops[index[i]]`` (an index outside the ops: none).

    The batch is partitioned by operation, each operation runs on its images only, and the
    images are stitched back in their order (keras' RandAugment runs every operation on the
    whole batch and keeps one: as many times the work as there are operations)."""
    k = len(ops)
    index = tf.where((index < 0) | (index >= k), k, tf.cast(index, tf.int32))
    positions = tf.dynamic_partition(tf.range(tf.shape(images)[0]), index, k + 1)
    parts = tf.dynamic_partition(images, index, k + 1)
    outs = [part if i == k or ops[i] is _identity else _unless_empty(ops[i], part,
                                                                       _fold(seed, i))
            for i, part in enumerate(parts)]
    out = tf.dynamic_stitch(positions, outs)
    out.set_shape(images.shape)
    return out


def _randint(n, seed, high):
    return tf.random.stateless_uniform([n], seed, 0, high, dtype=tf.int32)


class _PolicyBase(Augmentation):
    """Needs three channels (keras' colour ops); runs in float32 whatever the policy."""

    needs_rgb = True

    def __init__(self, seed=None, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(seed=seed, **kwargs)


def _trivial_wide_ops():
    """TrivialAugment-Wide's operations (Mueller & Hutter 2021, table of the wide space) as
    keras layers whose ranges reach the wide space's largest magnitude: keras draws the
    strength uniformly up to it, as TrivialAugment draws its magnitude uniformly."""
    L, r = keras.layers, (0, 1)
    kw = dict(dtype="float32")
    layers = [
        L.RandomShear(x_factor=0.99, y_factor=0.0, **kw),
        L.RandomShear(x_factor=0.0, y_factor=0.99, **kw),
        # 32 pixels of a 224 image (torchvision's TrivialAugmentWide), relative to the size
        L.RandomTranslation(0.0, 32 / 224, fill_mode="constant", **kw),
        L.RandomTranslation(32 / 224, 0.0, fill_mode="constant", **kw),
        L.RandomRotation(135 / 360, fill_mode="constant", **kw),
        L.RandomBrightness(0.99, value_range=r, **kw),
        L.RandomColorDegeneration(0.99, value_range=r, **kw),
        L.RandomContrast(0.99, value_range=r, **kw),
        L.RandomSharpness(0.99, value_range=r, **kw),
        L.RandomPosterization(factor=(2, 8), value_range=r, **kw),
        L.Solarization(threshold_factor=(0, 1), value_range=r, **kw),
        L.AutoContrast(value_range=r, **kw),
        L.Equalization(value_range=r, **kw),
    ]
    return [_identity] + [_keras_op(layer) for layer in layers]


@keras.saving.register_keras_serializable(package="kerascnn")
class TrivialAugment(_PolicyBase):
    """TrivialAugment-Wide (Mueller & Hutter 2021, "TrivialAugment: Tuning-free Yet
    State-of-the-Art Data Augmentation"): one operation per image, chosen uniformly among
    identity and 13 keras operations, at a strength drawn uniformly in the wide range."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self._ops = _trivial_wide_ops()

    def augment(self, images, seed):
        index = _randint(tf.shape(images)[0], _fold(seed, 0), len(self._ops))
        return _select(images, self._ops, index, _fold(seed, 1))


def _gamma(shape, seed, alpha):
    return tf.random.stateless_gamma(shape, seed, alpha=alpha)


def _augmix_ops(severity):
    """AugMix's operations (Hendrycks et al. 2020, its code's ``augmentations``: auto-contrast,
    equalize, posterize, rotate, solarize, shear x/y, translate x/y; no brightness, colour,
    contrast or sharpness, which overlap ImageNet-C) as keras layers whose ranges reach the
    paper's strength at ``severity`` (of 10): keras draws each strength uniformly up to it."""
    L, r, kw = keras.layers, (0, 1), dict(dtype="float32")
    f = severity / 10
    layers = [
        L.AutoContrast(value_range=r, **kw),
        L.Equalization(value_range=r, **kw),
        L.RandomPosterization(factor=(4 - int(4 * f), 5), value_range=r, **kw),  # 3-4 bits
        L.RandomRotation(30 * f / 360, fill_mode="constant", **kw),
        L.RandomShear(x_factor=0.3 * f, y_factor=0.0, **kw),
        L.RandomShear(x_factor=0.0, y_factor=0.3 * f, **kw),
        L.RandomTranslation(0.0, f / 3, fill_mode="constant", **kw),
        L.RandomTranslation(f / 3, 0.0, fill_mode="constant", **kw),
    ]
    ops = [_keras_op(layer) for layer in layers]
    # solarize above a threshold drawn in [256 (1 - f), 256) (keras' Solarization scales its
    # lower threshold factor wrongly, so the threshold is drawn here)
    solarize = L.Solarization(value_range=r, **kw)
    ops.append(_fixed(solarize, lambda x, s: {
        "additions": tf.zeros([tf.shape(x)[0], 1, 1, 1]),
        "thresholds": _uniform([tf.shape(x)[0], 1, 1, 1], s, 256.0 * (1 - f), 256.0)}))
    return ops


@keras.saving.register_keras_serializable(package="kerascnn")
class AugMix(_PolicyBase):
    """AugMix (Hendrycks et al. 2020, "AugMix: A Simple Data Processing Method to Improve
    Robustness and Uncertainty"): ``num_chains`` chains of 1 to ``chain_depth`` operations
    (the depth drawn uniformly per chain and image, each operation uniformly), mixed with
    Dirichlet(alpha) weights, then mixed with the image by m ~ Beta(alpha, alpha).

    The operations are the paper's, as keras layers at its ``severity`` 3 (of 10), see
    :func:`_augmix_ops`. ``keras.layers.AugMix`` itself is not used: it picks each step's
    operation with Python's ``random`` once per batch (in tf.data: once, when the map is
    traced) and its ``factor`` reaches far stronger operations (rotations up to 108 degrees,
    posterization to 1-2 bits at factor 0.3). The mixing is the paper's (and keras').
    The paper's Jensen-Shannon consistency loss is not part of this (the augmentation only).
    """

    def __init__(self, num_chains=3, chain_depth=3, severity=3, alpha=1.0, seed=None,
                 **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.num_chains, self.chain_depth = int(num_chains), int(chain_depth)
        self.severity, self.alpha = float(severity), float(alpha)
        self._ops = _augmix_ops(self.severity)

    def augment(self, images, seed):
        n = tf.shape(images)[0]
        g = _gamma([n, self.num_chains], _fold(seed, 0), self.alpha)
        weights = g / tf.reduce_sum(g, axis=1, keepdims=True)  # Dirichlet(alpha)
        g1, g2 = _gamma([n], _fold(seed, 1), self.alpha), _gamma([n], _fold(seed, 2), self.alpha)
        m = tf.reshape(g1 / (g1 + g2), [-1, 1, 1, 1])  # Beta(alpha, alpha)
        mixed = tf.zeros_like(images)
        for c in range(self.num_chains):
            depth = _randint(n, _fold(seed, 50 + c), self.chain_depth) + 1
            chain = images
            for d in range(self.chain_depth):
                s = _fold(seed, 100 + 10 * c + d)
                index = _randint(n, _fold(s, 0), len(self._ops))
                index = tf.where(d < depth, index, -1)  # -1: past this image's depth
                chain = _select(chain, self._ops, index, _fold(s, 1))
            mixed += chain * tf.reshape(weights[:, c], [-1, 1, 1, 1])
        return tf.clip_by_value(m * images + (1 - m) * mixed, 0.0, 1.0)

    def get_config(self):
        return {**super().get_config(), "num_chains": self.num_chains,
                "chain_depth": self.chain_depth, "severity": self.severity,
                "alpha": self.alpha}


# Cubuk et al. 2019, "AutoAugment: Learning Augmentation Policies from Data", the ImageNet
# policy: 25 sub-policies of two (operation, probability, magnitude 0-9) steps (as
# torchvision.transforms.AutoAugmentPolicy.IMAGENET lists them).
IMAGENET_POLICY = (
    (("posterize", 0.4, 8), ("rotate", 0.6, 9)),
    (("solarize", 0.6, 5), ("autocontrast", 0.6, None)),
    (("equalize", 0.8, None), ("equalize", 0.6, None)),
    (("posterize", 0.6, 7), ("posterize", 0.6, 6)),
    (("equalize", 0.4, None), ("solarize", 0.2, 4)),
    (("equalize", 0.4, None), ("rotate", 0.8, 8)),
    (("solarize", 0.6, 3), ("equalize", 0.6, None)),
    (("posterize", 0.8, 5), ("equalize", 1.0, None)),
    (("rotate", 0.2, 3), ("solarize", 0.6, 8)),
    (("equalize", 0.6, None), ("posterize", 0.4, 6)),
    (("rotate", 0.8, 8), ("color", 0.4, 0)),
    (("rotate", 0.4, 9), ("equalize", 0.6, None)),
    (("equalize", 0.0, None), ("equalize", 0.8, None)),
    (("invert", 0.6, None), ("equalize", 1.0, None)),
    (("color", 0.6, 4), ("contrast", 1.0, 8)),
    (("rotate", 0.8, 8), ("color", 1.0, 2)),
    (("color", 0.8, 8), ("solarize", 0.8, 7)),
    (("sharpness", 0.4, 7), ("invert", 0.6, None)),
    (("shear_x", 0.6, 5), ("equalize", 1.0, None)),
    (("color", 0.4, 0), ("equalize", 0.6, None)),
    (("equalize", 0.4, None), ("solarize", 0.2, 4)),
    (("solarize", 0.6, 5), ("autocontrast", 0.6, None)),
    (("invert", 0.6, None), ("equalize", 1.0, None)),
    (("color", 0.6, 4), ("contrast", 1.0, 8)),
    (("equalize", 0.8, None), ("equalize", 0.6, None)),
)


def _fixed(layer, draw):
    """``op(images, seed)``: keras' ``transform_images`` of ``layer`` with the
    transformation ``draw(images, seed)`` (a fixed magnitude, a random sign)."""
    layer.backend.set_backend("tensorflow")

    def op(images, seed):
        return layer.transform_images(images, draw(images, seed), training=True)

    return _traced(op)


def _sign(images, seed):
    coin = tf.random.stateless_uniform([tf.shape(images)[0], 1, 1, 1], seed)
    return tf.where(coin < 0.5, -1.0, 1.0)


def _signed_pair(make, seed_offset=0):
    """``op(images, seed)`` applying ``make(+1)`` or ``make(-1)`` (keras layers of a fixed
    magnitude), each image its own sign."""
    plus, minus = _keras_op(make(1.0)), _keras_op(make(-1.0))
    return _traced(lambda x, s: tf.where(_sign(x, _fold(s, 0)) > 0, plus(x, _fold(s, 1)),
                                         minus(x, _fold(s, 2))))


# torchvision's magnitudes at full strength (AutoAugment and RandAugment's space)
_FULL = {"shear_x": 0.3, "shear_y": 0.3, "translate_x": 150 / 331, "translate_y": 150 / 331,
         "rotate": 30.0, "brightness": 0.9, "color": 0.9, "contrast": 0.9, "sharpness": 0.9}
RANDAUGMENT_OPS = ("identity", "shear_x", "shear_y", "translate_x", "translate_y", "rotate",
                   "brightness", "color", "contrast", "sharpness", "posterize", "solarize",
                   "autocontrast", "equalize")


def _op_at(name, strength):
    """Operation ``name`` at ``strength`` in [0, 1] of torchvision's scale (AutoAugment's
    level / 9, RandAugment's magnitude / 30) as ``op(images, seed)`` on keras' layers
    (values in [0, 1]); signed operations go either way, per image."""
    L, r, kw = keras.layers, (0, 1), dict(dtype="float32")
    v = _FULL.get(name, 0.0) * strength
    if name == "identity":
        return _identity
    if name == "rotate":  # degrees
        return _signed_pair(lambda sg: L.RandomRotation(
            (sg * v / 360, sg * v / 360), fill_mode="constant", **kw))
    if name in ("translate_x", "translate_y"):  # fraction of the side
        t = lambda sg: (sg * v, sg * v)  # noqa: E731
        if name == "translate_x":
            return _signed_pair(lambda sg: L.RandomTranslation(
                (0.0, 0.0), t(sg), fill_mode="constant", **kw))
        return _signed_pair(lambda sg: L.RandomTranslation(
            t(sg), (0.0, 0.0), fill_mode="constant", **kw))
    if name == "shear_x":  # keras' layer draws the sign itself
        return _keras_op(L.RandomShear(x_factor=(v, v), y_factor=0.0, **kw))
    if name == "shear_y":
        return _keras_op(L.RandomShear(x_factor=0.0, y_factor=(v, v), **kw))
    if name == "posterize":  # 8 bits down to 4
        bits = int(8 - round(4 * strength))
        return _keras_op(L.RandomPosterization(factor=(bits, bits), value_range=r, **kw))
    if name == "solarize":  # threshold 255 down to 0 (keras solarizes on a 0-255 scale)
        threshold = 255.0 * (1 - strength)
        return _fixed(L.Solarization(value_range=r, **kw), lambda x, s: {
            "additions": tf.zeros([tf.shape(x)[0], 1, 1, 1]),
            "thresholds": tf.fill([tf.shape(x)[0], 1, 1, 1], threshold)})
    # enhancements: PIL's factor 1 +- v
    if name == "brightness":  # keras' brightness adds: +- v of the value range
        return _fixed(L.RandomBrightness(0.5, value_range=r, **kw),
                      lambda x, s: {"rgb_delta": v * _sign(x, s)})
    if name == "color":  # keras blends towards gray by `factor`: factor = -(+-v)
        return _fixed(L.RandomColorDegeneration(0.5, value_range=r, **kw),
                      lambda x, s: {"factor": -v * _sign(x, s)})
    if name == "contrast":
        return _fixed(L.RandomContrast(0.5, value_range=r, **kw),
                      lambda x, s: {"contrast_factor": 1.0 + v * _sign(x, s)})
    if name == "sharpness":  # keras sharpens by 2 * factor
        return _fixed(L.RandomSharpness(0.5, value_range=r, **kw),
                      lambda x, s: {"factor": tf.reshape(1.0 + v * _sign(x, s), [-1]) / 2})
    if name == "invert":
        return _keras_op(L.RandomInvert(factor=(1.0, 1.0), value_range=r, **kw))
    if name == "autocontrast":
        return _keras_op(L.AutoContrast(value_range=r, **kw))
    if name == "equalize":
        return _keras_op(L.Equalization(value_range=r, **kw))
    raise ValueError(f"unknown operation {name!r}.")


@keras.saving.register_keras_serializable(package="kerascnn")
class RandAugment(_PolicyBase):
    """RandAugment (Cubuk et al. 2020, "RandAugment: Practical automated data augmentation
    with a reduced search space"): ``num_ops`` operations, each chosen uniformly per image
    among the paper's 14 (:data:`RANDAUGMENT_OPS`), all at ``magnitude``.

    The magnitude is torchvision's: 0-30 (31 bins; default 9, as torchvision and timm's
    ``rand-m9``), mapped onto torchvision's strengths (rotation up to 30 degrees at 30,
    shear 0.3, translation 150/331 of the side, enhancements 1 +- 0.9, posterize 8 to 4
    bits, solarize threshold 255 to 0); signed operations go either way. Each operation is
    a keras layer (``RandomRotation``, ``RandomShear``, ``RandomTranslation``,
    ``RandomBrightness``, ``RandomColorDegeneration``, ``RandomContrast``,
    ``RandomSharpness``, ``RandomPosterization``, ``Solarization``, ``AutoContrast``,
    ``Equalization``). ``keras.layers.RandAugment`` itself is not used: it picks the
    operations once per batch, and its ``factor`` draws strengths up to far larger ones
    (rotation up to 108 degrees at factor 0.3, posterization to 1-2 bits).
    """

    def __init__(self, num_ops=2, magnitude=9, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.num_ops, self.magnitude = int(num_ops), int(magnitude)
        self._ops = [_op_at(name, self.magnitude / 30) for name in RANDAUGMENT_OPS]

    def augment(self, images, seed):
        n = tf.shape(images)[0]
        for i in range(self.num_ops):
            index = _randint(n, _fold(seed, 2 * i), len(self._ops))
            images = _select(images, self._ops, index, _fold(seed, 2 * i + 1))
        return images

    def get_config(self):
        return {**super().get_config(), "num_ops": self.num_ops, "magnitude": self.magnitude}


@keras.saving.register_keras_serializable(package="kerascnn")
class AutoAugment(_PolicyBase):
    """AutoAugment's ImageNet policy (Cubuk et al. 2019): per image one of the 25
    sub-policies of :data:`IMAGENET_POLICY`, each step applied with its probability at its
    fixed magnitude (a random sign where torchvision has one), on keras' layers."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self._steps = []
        for step in (0, 1):
            keys = sorted({(p[step][0], p[step][2]) for p in IMAGENET_POLICY},
                          key=lambda k: (k[0], -1 if k[1] is None else k[1]))
            ops = [_op_at(name, 0.0 if level is None else level / 9) for name, level in keys]
            which = [keys.index((p[step][0], p[step][2])) for p in IMAGENET_POLICY]
            probs = [p[step][1] for p in IMAGENET_POLICY]
            self._steps.append((ops, which, probs))

    def augment(self, images, seed):
        n = tf.shape(images)[0]
        policy = _randint(n, _fold(seed, 0), len(IMAGENET_POLICY))
        for step, (ops, which, probs) in enumerate(self._steps):
            s = _fold(seed, 1 + step)
            apply = _uniform([n], _fold(s, 0), 0.0, 1.0) < tf.gather(probs, policy)
            index = tf.where(apply, tf.gather(which, policy), -1)  # -1: not applied
            images = _select(images, ops, index, _fold(s, 1))
        return images


@keras.saving.register_keras_serializable(package="kerascnn")
class RandomErasing(_PolicyBase):
    """Random erasing (Zhong et al. 2020, "Random Erasing Data Augmentation"): with
    probability ``probability`` a rectangle of each image is filled with noise.

    ``keras.layers.RandomErasing(factor=(p, p))`` (keras' patch sizes, ``scale`` 0.02-0.33,
    and its noise fill, clipped to [0, 1]).
    """

    needs_rgb = False

    def __init__(self, probability=0.5, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.probability = float(probability)
        self._op = _keras_op(keras.layers.RandomErasing(
            factor=(self.probability, self.probability), value_range=(0, 1), seed=seed,
            dtype="float32"))

    def augment(self, images, seed):
        return self._op(images, seed)

    def get_config(self):
        return {**super().get_config(), "probability": self.probability}


@keras.saving.register_keras_serializable(package="kerascnn")
class ColorJitter(_PolicyBase):
    """Colour jitter: brightness, contrast, saturation and hue of each image, in that
    order, as ``keras.layers.RandomColorJitter`` does with its factors (defaults: keras'
    factor 0.2 brightness, 0.4 contrast, saturation 0.3-0.7 around keras' no-op 0.5,
    hue 0.05); the draws come from our seed."""

    def __init__(self, brightness=0.2, contrast=0.4, saturation=(0.3, 0.7), hue=0.05,
                 seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.factors = dict(brightness=brightness, contrast=contrast,
                            saturation=tuple(saturation), hue=hue)
        self.keras_layer = keras.layers.RandomColorJitter(
            value_range=(0, 1), brightness_factor=brightness, contrast_factor=contrast,
            saturation_factor=tuple(saturation), hue_factor=hue, seed=seed, dtype="float32")
        k = self.keras_layer
        self._ops = [_keras_op(layer) for layer in (k.random_brightness, k.random_contrast,
                                                     k.random_saturation, k.random_hue)]

    def augment(self, images, seed):
        for i, op in enumerate(self._ops):
            images = op(images, _fold(seed, i))
        return images

    def get_config(self):
        return {**super().get_config(), **self.factors}


def build_augmentation(spec, image_size, pca=None, seed=0):
    """The layers of an ``--augment`` value, in pipeline order.

    Args:
        spec: preset or comma list (see :data:`PRESETS`, :data:`AUGMENTATIONS`), or None.
        image_size: (height, width) the crops produce.
        pca: (eigenvalues, eigenvectors) from :func:`pca_lighting_stats`; needed by
            ``lighting``.
        seed: base seed of the layers (used when a layer is called on its own).
    """
    names = list(spec.names) if isinstance(spec, AugmentPlan) else parse_augment(spec)
    size = tuple(image_size)
    ratio = lambda r: int(round(max(size) * r))  # noqa: E731  relative to a 224 crop
    layers = []
    for i, full in enumerate(names):
        s = seed + i
        name, params = split_name(full)
        if name == "crop":
            layers.append(RandomResizedCrop(size, area=(0.35, 1.0), seed=s, name="crop"))
        elif name == "inception_crop":
            layers.append(RandomResizedCrop(size, area=(0.08, 1.0), seed=s, name="crop"))
        elif name == "alexnet_crop":
            layers.append(ScaleJitter(size, (ratio(256 / 224),) * 2, seed=s, name="crop"))
        elif name == "scale":
            layers.append(ScaleJitter(size, (ratio(256 / 224), ratio(512 / 224)), seed=s,
                                      name="scale"))
        elif name == "pad_crop":
            layers.append(PadCrop(4, seed=s, name="pad_crop"))
        elif name == "flip":
            layers.append(RandomHorizontalFlip(seed=s, name="flip"))
        elif name == "rotate":
            layers.append(RandomRotation(10.0, seed=s, name="rotate"))
        elif name == "lighting":
            if pca is None:
                raise ValueError("lighting needs the training split's PCA (pca=...).")
            layers.append(PCALighting(*pca, std=0.1, seed=s, name="lighting"))
        elif name == "brightness":
            layers.append(RandomBrightness(0.2, seed=s, name="brightness"))
        elif name == "saturation":
            layers.append(RandomSaturation(0.6, 1.4, seed=s, name="saturation"))
        elif name == "contrast":
            layers.append(RandomContrast(0.6, 1.4, seed=s, name="contrast"))
        elif name == "mixup":
            layers.append(MixUp(0.2, seed=s, name="mixup"))
        elif name == "cutmix":
            layers.append(CutMix(1.0, seed=s, name="cutmix"))
        elif name == "randaugment":
            layers.append(RandAugment(*params, seed=s, name="randaugment"))
        elif name == "trivialaugment":
            layers.append(TrivialAugment(seed=s, name="trivialaugment"))
        elif name == "augmix":
            layers.append(AugMix(seed=s, name="augmix"))
        elif name == "autoaugment":
            layers.append(AutoAugment(seed=s, name="autoaugment"))
        elif name == "random_erasing":
            layers.append(RandomErasing(*params, seed=s, name="random_erasing"))
        elif name == "color_jitter":
            layers.append(ColorJitter(seed=s, name="color_jitter"))
    # geometry first, then the automatic policies (after crop and flip, as torchvision's
    # recipes), photometry, random erasing (last before the mixers, as in torchvision's
    # recipes), then the label mixers
    order = {"crop": 0, "scale": 0, "pad_crop": 1, "rotate": 1, "flip": 1, "randaugment": 1.5,
             "trivialaugment": 1.5, "augmix": 1.5, "autoaugment": 1.5, "random_erasing": 2.5,
             "mixup": 3, "cutmix": 3}
    return sorted(layers, key=lambda layer: order.get(layer.name, 2))


def apply_augmentation(layers, images, labels, seed, image_size):
    """Runs ``layers`` on a float batch in [0, 1]; resizes to ``image_size`` if no crop did."""
    resized = False
    for i, layer in enumerate(layers):
        s = _fold(seed, 1000 + i)
        if layer.needs_labels:
            images, labels = layer.augment_pair(images, labels, s)
            continue
        if not layer.changes_size and not resized and image_size is not None:
            images = tf.image.resize(images, image_size)
            resized = True
        images = layer.augment(images, s)
        resized = resized or layer.changes_size
    if not resized and image_size is not None:
        images = tf.image.resize(images, image_size)
    return images, labels
