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

Presets for ``fit.py --augment`` (see :mod:`kerascnn.data.plan`): ``none``, ``standard`` (the book chapter's list),
``alexnet``, ``vgg``, ``inception``, or a comma list of presets and the names in
:data:`AUGMENTATIONS`.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from kerascnn.data.plan import AUGMENTATIONS, PRESETS, AugmentPlan, parse_augment

__all__ = ["Augmentation", "RandomResizedCrop", "ScaleJitter", "RandomHorizontalFlip",
           "RandomRotation", "RandomBrightness", "RandomContrast", "RandomSaturation",
           "PCALighting", "MixUp", "CutMix", "PadCrop", "AUGMENTATIONS", "PRESETS",
           "build_augmentation", "pca_lighting_stats", "apply_augmentation"]


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
    for i, name in enumerate(names):
        s = seed + i
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
    # geometry first, then photometry, then the label mixers
    order = {"crop": 0, "scale": 0, "pad_crop": 1, "rotate": 1, "flip": 1, "mixup": 3, "cutmix": 3}
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
