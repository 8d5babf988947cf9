"""Run a trained model on image files: what scripts/predict.py does.

    from kerascnn.inference import load_trained, predict_files
    model = load_trained("runs/r/best.keras")          # or the run directory
    results, unreadable = predict_files(model, ["photo.jpg", "more_photos/"], top_k=3)

A model saved by fit.py or tune.py takes raw images and holds its preprocessing,
so images are only decoded here: to the channels of the model's input, and, for
a model with a fixed input size, resized to it with the largest central crop of
that aspect (``keras.layers.Resizing(crop_to_aspect_ratio=True)``, as the saved
resizing models do). A model whose input is ``(None, None, C)`` resizes by
itself and gets each image as it is. Class names come from the model's
``preprocess_info`` layer; without it a class is named ``class I``.
"""

from __future__ import annotations

import json
import os

import numpy as np

__all__ = ["IMAGE_EXTENSIONS", "InferenceError", "load_trained", "model_file",
           "class_names_of", "list_images", "read_image", "predict_images",
           "predict_files", "top_k"]

# What a folder is searched for (a file named on the command line is tried whatever it is).
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".bmp")


class InferenceError(ValueError):
    """A model or input that cannot be used (one-line message)."""


def model_file(path) -> str:
    """The model file of ``path``: the file itself, or in a run directory the model its
    metrics.json describes (``model_file``), else ``best.keras``, else ``model.keras``."""
    path = os.fspath(path)
    if not os.path.isdir(path):
        if not os.path.isfile(path):
            raise InferenceError(f"no model file {path}")
        return path
    metrics_path = os.path.join(path, "metrics.json")
    if os.path.isfile(metrics_path):
        try:
            with open(metrics_path, encoding="utf-8") as f:
                name = json.load(f).get("model_file")
        except (OSError, ValueError, AttributeError):
            name = None
        if isinstance(name, str) and os.path.isfile(os.path.join(path, name)):
            return os.path.join(path, name)
    for name in ("best.keras", "model.keras"):
        if os.path.isfile(os.path.join(path, name)):
            return os.path.join(path, name)
    raise InferenceError(f"{path} holds no best.keras or model.keras (a fit.py run directory "
                         "or a .keras file is expected)")


def load_trained(path):
    """Loads a ``.keras`` model (or a run directory's) for inference; one-line errors."""
    import keras

    import kerascnn.layers  # noqa: F401  (registers kerascnn's layers)

    path = model_file(path)
    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as e:  # noqa: BLE001  (zip, h5 and deserialization errors alike)
        first = str(e).splitlines()[0][:160] if str(e) else "unreadable"
        raise InferenceError(f"cannot load {path}: {type(e).__name__}: {first} (a truncated "
                             "or foreign file?)") from None


def class_names_of(model) -> list:
    """The model's class names (its ``preprocess_info`` layer), ``class I`` where missing."""
    units = int(_main_output(model).shape[-1])
    names = []
    try:
        names = list(model.get_layer("preprocess_info").class_names)
    except ValueError:
        pass
    return [names[i] if i < len(names) and names[i] else f"class {i}" for i in range(units)]


def _main_output(model):
    return model.outputs[0]


def list_images(paths) -> list:
    """Files named in ``paths``, folders walked recursively (image extensions only),
    in sorted order; a path that does not exist is kept (reading it fails)."""
    files = []
    for path in paths:
        path = os.fspath(path)
        if os.path.isdir(path):
            found = []
            for root, dirs, names in os.walk(path):
                dirs.sort()
                found.extend(os.path.join(root, n) for n in names
                             if n.lower().endswith(IMAGE_EXTENSIONS) and not n.startswith("."))
            files.extend(sorted(found))
        else:
            files.append(path)
    return files


def _input_spec(model):
    shape = tuple(model.inputs[0].shape[1:])
    if len(shape) != 3 or shape[-1] not in (1, 3, 4):
        raise InferenceError(f"the model's input is {shape}; image models take (H, W, C) with "
                             "C 1, 3 or 4")
    return shape


def read_image(path, shape) -> np.ndarray:
    """``path`` decoded (PNG, JPEG, GIF, BMP) as float32 0-255 with ``shape``'s channels,
    resized with a central crop to ``shape``'s H, W when they are fixed.

    Raises InferenceError for a file that cannot be read or decoded.
    """
    import tensorflow as tf

    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise InferenceError(f"cannot read {path}: {e.strerror or type(e).__name__}") from None
    try:  # the file's own channels (GIF and BMP decode to 3 or 4 only)
        image = tf.io.decode_image(data, channels=0, expand_animations=False)
    except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError, ValueError):
        raise InferenceError(f"cannot read {path}: not a PNG, JPEG, GIF or BMP image") from None
    image = _to_channels(tf.cast(image, tf.float32), shape[-1])
    height, width = shape[:2]
    if height is not None and tuple(image.shape[:2]) != (height, width):
        import keras

        image = keras.layers.Resizing(height, width, crop_to_aspect_ratio=True)(image)
    return np.asarray(image, np.float32)


def _to_channels(image, channels):
    """Grey, grey + alpha, RGB or RGBA (float 0-255) -> ``channels`` (alpha dropped, or
    opaque when asked for)."""
    import tensorflow as tf

    have = image.shape[-1]
    if have == channels:
        return image
    if have in (2, 4):
        image, have = image[..., :have - 1], have - 1
    if channels == 1 and have == 3:
        image = tf.image.rgb_to_grayscale(image)
    elif channels in (3, 4) and have == 1:
        image = tf.image.grayscale_to_rgb(image)
    if channels == 4:
        image = tf.concat([image, tf.fill(tf.shape(image[..., :1]), 255.0)], axis=-1)
    return image


def top_k(probabilities, names, k) -> list:
    """``[{"index", "class", "probability"}, ...]`` of the ``k`` highest (clipped)."""
    probabilities = np.asarray(probabilities, np.float64)
    order = np.argsort(-probabilities, kind="stable")[:max(1, min(k, len(probabilities)))]
    return [{"index": int(i), "class": names[i], "probability": float(probabilities[i])}
            for i in order]


def predict_images(model, images, batch_size=32) -> np.ndarray:
    """The main output of ``model`` for a list of images (inference mode); images of the
    same size are batched, consecutive ones together."""
    out = []
    i = 0
    while i < len(images):
        j = i + 1
        while j < len(images) and j - i < batch_size and images[j].shape == images[i].shape:
            j += 1
        y = model(np.stack(images[i:j]), training=False)
        y = y[0] if isinstance(y, (list, tuple)) else y
        out.append(np.asarray(y, np.float32))
        i = j
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def predict_files(model, paths, top=5, batch_size=32, on_error=None):
    """Top-``top`` classes of every image in ``paths`` (files, folders walked).

    Returns ``(results, unreadable)``: results a list of ``{"file", "top_k"}`` in file
    order, unreadable a list of one-line messages (also passed to ``on_error`` as they
    happen). Images are read ``batch_size`` at a time.
    """
    shape = _input_spec(model)
    names = class_names_of(model)
    files = list_images(paths)
    results, unreadable = [], []
    for start in range(0, len(files), batch_size):
        chunk, images = [], []
        for path in files[start:start + batch_size]:
            try:
                images.append(read_image(path, shape))
                chunk.append(path)
            except InferenceError as e:
                unreadable.append(str(e))
                if on_error is not None:
                    on_error(str(e))
        if not images:
            continue
        probabilities = predict_images(model, images, batch_size)
        results.extend({"file": path, "top_k": top_k(p, names, top)}
                       for path, p in zip(chunk, probabilities))
    return results, unreadable
