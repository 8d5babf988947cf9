"""Test-time evaluation as the classic papers describe it (AlexNet, VGG).

* ``single``: shorter side to Q, the centre crop (the usual comparison figure);
* ``10crop``: shorter side to Q (default 256/224 of the crop), the 4 corner
  crops and the centre crop, each also mirrored; the 10 predictions averaged;
* ``multiscale``: the centre crop and its mirror at several test scales Q,
  predictions averaged over the scales;
* ``dense``: the classifier turned fully convolutional (a Flatten + Dense head
  becomes a convolution the size of the flattened map, later Dense layers 1x1
  convolutions; global pooling is removed), run on the whole image (shorter side
  Q) and its mirror; the class scores are averaged over the positions.

Predictions are the model's outputs (probabilities with the default softmax
head), averaged; the accuracy is that of the averaged prediction. The model is
one that takes raw pixels (0-255) and holds its own preprocessing, as fit.py
saves it; views are cut from the raw images.
"""

from __future__ import annotations

import numpy as np

from kerascnn.layers.conv import Conv2D

__all__ = ["MODES", "ten_crop", "center_crop", "to_fully_convolutional", "evaluate",
           "predict_views"]

MODES = ("single", "10crop", "multiscale", "dense")


def _resize_shorter(images, shorter):
    import tensorflow as tf

    h, w = images.shape[1], images.shape[2]
    scale = shorter / min(h, w)
    nh, nw = max(shorter, round(h * scale)), max(shorter, round(w * scale))
    if (nh, nw) == (h, w):
        return tf.convert_to_tensor(images, tf.float32)
    return tf.image.resize(images, (nh, nw))


def center_crop(images, size):
    """The central ``size`` x ``size`` crop of a batch (N, H, W, C)."""
    h, w = images.shape[1], images.shape[2]
    top, left = (h - size) // 2, (w - size) // 2
    return images[:, top:top + size, left:left + size, :]


def ten_crop(images, size):
    """AlexNet's 10 crops of a batch: 4 corners and the centre, then their mirrors.

    Returns a list of 10 batches in the order top-left, top-right, bottom-left,
    bottom-right, centre, and the same five mirrored left-right.
    """
    h, w = images.shape[1], images.shape[2]
    if h < size or w < size:
        raise ValueError(f"ten_crop: images {h}x{w} are smaller than the crop {size}.")
    crops = [images[:, :size, :size], images[:, :size, w - size:],
             images[:, h - size:, :size], images[:, h - size:, w - size:],
             center_crop(images, size)]
    return crops + [c[:, :, ::-1] for c in crops]


def to_fully_convolutional(model):
    """A copy of ``model`` taking any input size, whose output is a class-score map.

    A Dense layer fed by Flatten becomes a Conv2D whose kernel covers the
    flattened map (same weights); a resizing input layer and global pooling
    layers are removed, so the
    following Dense layers act at every position (1x1 convolutions). The output
    is (N, h', w', classes): one prediction per position.
    """
    import keras

    from kerascnn.graph import producer
    from kerascnn.weights.transfer import copy_weights_by_name

    producers = {}
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dense):
            src = producer(layer.input)
            while isinstance(src, keras.layers.Dropout):
                src = producer(src.input)
            if isinstance(src, keras.layers.Flatten):
                producers[layer.name] = tuple(src.input.shape[1:3])

    def clone(layer):
        if isinstance(layer, (keras.layers.Flatten, keras.layers.GlobalAveragePooling2D,
                              keras.layers.GlobalMaxPooling2D, keras.layers.Resizing)):
            return keras.layers.Identity(name=layer.name)
        if layer.name in producers:
            cfg = layer.get_config()
            return Conv2D(cfg["units"], producers[layer.name],
                          activation=cfg["activation"], use_bias=cfg["use_bias"],
                          name=layer.name)
        return layer.__class__.from_config(layer.get_config())

    inputs = keras.Input((None, None) + tuple(model.input.shape[3:]))
    fcn = keras.models.clone_model(model, input_tensors=inputs, clone_function=clone)
    # the Dense kernels fed by Flatten become the convolutions' (same size, reshaped)
    copy_weights_by_name(model, fcn, reshape=True)
    return fcn


def _first(outputs):
    return outputs[0] if isinstance(outputs, (list, tuple)) else outputs


def predict_views(model, images, mode, *, image_size, scales=None, fcn=None):
    """The averaged prediction (N, classes) of a float batch of raw pixels under ``mode``."""
    import tensorflow as tf

    size = int(image_size)

    def predict(x):
        x = tf.convert_to_tensor(x, tf.float32)
        return np.asarray(_first(model(x, training=False)), np.float64)

    if mode == "single":
        q = (scales or [size])[0]
        return predict(center_crop(_resize_shorter(images, q), size))
    if mode == "10crop":
        q = (scales or [int(round(size * 256 / 224))])[0]
        crops = ten_crop(_resize_shorter(images, q), size)
        return np.mean([predict(c) for c in crops], axis=0)
    if mode == "multiscale":
        qs = scales or [size, int(round(size * 1.15)), int(round(size * 1.3))]
        views = []
        for q in qs:
            crop = center_crop(_resize_shorter(images, q), size)
            views += [predict(crop), predict(crop[:, :, ::-1])]
        return np.mean(views, axis=0)
    if mode == "dense":
        fcn = fcn or to_fully_convolutional(model)
        qs = scales or [size]
        views = []
        for q in qs:
            full = _resize_shorter(images, q)
            for x in (full, full[:, :, ::-1]):
                scores = np.asarray(_first(fcn(tf.convert_to_tensor(x, tf.float32),
                                               training=False)), np.float64)
                views.append(scores.reshape(len(scores), -1, scores.shape[-1]).mean(axis=1))
        return np.mean(views, axis=0)
    raise ValueError(f"Unknown evaluation mode {mode!r}; allowed: {', '.join(MODES)}.")


def evaluate(model, images, labels, mode="single", *, image_size, scales=None,
             batch_size=32) -> dict:
    """Top-1 (and top-5 with > 5 classes) accuracy of ``model`` under ``mode``.

    Args:
        model: a trained classifier taking raw pixels (0-255).
        images: uint8 (N, H, W, C) test images.
        labels: int (N,).
        mode: one of :data:`MODES`.
        image_size: the crop size (the network's input size).
        scales: test scales Q (shorter side); defaults: single [size], 10crop
            [size*256/224], multiscale [size, 1.15 size, 1.3 size], dense [size].
        batch_size: images per forward pass (10crop runs 10 views of each).
    """
    import keras

    if mode not in MODES:
        raise ValueError(f"Unknown evaluation mode {mode!r}; allowed: {', '.join(MODES)}.")
    labels = np.asarray(labels).reshape(-1)
    fcn = to_fully_convolutional(model) if mode == "dense" else None
    probs = []
    for start in range(0, len(labels), batch_size):
        x = images[start:start + batch_size].astype(np.float32)
        probs.append(predict_views(model, x, mode, image_size=image_size, scales=scales,
                                   fcn=fcn))
    probs = np.concatenate(probs)
    result = {"mode": mode, "images": int(len(labels)),
              "accuracy": float(np.mean(probs.argmax(axis=1) == labels))}
    if probs.shape[1] > 5:
        top5 = keras.metrics.SparseTopKCategoricalAccuracy(k=5)
        top5.update_state(labels, probs.astype(np.float32))
        result["top5_accuracy"] = float(top5.result())
    return result
