"""What a weight set expects of its inputs, and what its outputs mean.

* :func:`load_images`: image files -> the publisher's evaluation crop of a weight set
  (RGB, resize, centre crop with PIL, as torchvision, timm, pytorchcv and keras evaluate;
  :mod:`kerascnn.weights.transform`), float32 0-255;
* :func:`preprocess_input`: 0-255 RGB images -> the weight set's input (its scale and
  per-channel mean/std; keras' own files: keras' ``"caffe"``, ``"tf"`` or ``"torch"`` mode).
* ``include_preprocessing=True`` on a constructor (:func:`add_weight_set_preprocessing`):
  the same as layers in front of the network, so the model takes uint8/float 0-255 RGB
  images (resized, if the network has a fixed input size, to that size). To score as the
  publisher does, give it :func:`load_images`' crops: its own resize (the largest central
  crop of the input's aspect, TensorFlow's kernel) is not the publisher's resize and crop.
* :func:`decode_predictions`: the top classes of ImageNet predictions, keras-style
  ``(wnid, name, score)`` tuples, from the 1,000 class names shipped with the package.
"""

from __future__ import annotations

import functools
import os

import keras
import numpy as np

__all__ = ["load_images", "preprocess_input", "decode_predictions", "imagenet_classes", "weight_set_of",
           "standardization_of", "standardization_layers", "add_weight_set_preprocessing",
           "PREPROCESSING_PREFIX"]

# The names of the layers a model's preprocessing front holds begin with this.
PREPROCESSING_PREFIX = "preprocess_"

_CLASSES_FILE = os.path.join(os.path.dirname(__file__), "imagenet_classes.tsv")


def weight_set_of(weights="imagenet", model: str | None = None):
    """The :class:`~kerascnn.weights.WeightSet` meant by ``weights`` (a WeightSet, or a tag
    of ``model``'s weight sets)."""
    from kerascnn.weights.core import WeightsError, WeightSet, weight_sets

    if isinstance(weights, WeightSet):
        return weights
    if model is None:
        raise ValueError("preprocess_input needs a WeightSet, or model= a registered name and "
                         f"weights= one of its tags; got weights={weights!r}, model=None.")
    from kerascnn.registry import get_spec

    name = get_spec(model).name
    sets = weight_sets(name)
    if weights not in sets:
        raise WeightsError(f"{name} has no weight set {weights!r}; its tags: "
                           f"{', '.join(sorted(sets)) or 'none'}.")
    return sets[weights]


def load_images(paths, model: str | None = None, weights="imagenet", *, on_error=None):
    """Image files made into the input a weight set was evaluated on, as its publisher does:
    RGB (alpha dropped, palette, grey and CMYK converted, a GIF's first frame), the shorter
    side resized to the set's ``resize_size`` with PIL's bilinear or bicubic, centre crop
    to its ``crop_size`` (keras' own files: resized straight to the input size, as
    ``keras.utils.load_img(target_size=...)``). PIL and numpy only.

    Args:
        paths: an image file or a list of them (JPEG, PNG, GIF, BMP, TIFF, WebP, PPM).
        model: a registered model name (with a tag as ``weights``).
        weights: a tag of ``model``'s weight sets, or a :class:`~kerascnn.weights.WeightSet`.
        on_error: None raises :class:`~kerascnn.weights.transform.ImageError` (a one-line
            ValueError naming the file) for an unreadable or truncated image; a callable
            is given that line and the file is left out.

    Returns:
        float32 ``(N, height, width, 3)`` RGB in 0-255: then :func:`preprocess_input`.

    Example::

        x = kerascnn.load_images(["cat.jpg"], "resnet50_tv")
        x = kerascnn.applications.preprocess_input(x, model="resnet50_tv")
    """
    from kerascnn.weights.transform import load_images as load

    return load(paths, weight_set_of(weights, model), on_error=on_error)


def standardization_of(ws) -> dict:
    """``{"scale", "mean", "std", "reverse_channels"}``: the weight set's input is
    ``(x[..., ::-1 if reverse_channels] * scale - mean) / std`` for 0-255 RGB ``x``."""
    from kerascnn.weights.keras_twins import keras_mode

    mode = keras_mode(ws.source)
    if mode == "caffe":
        return {"scale": 1.0, "mean": (103.939, 116.779, 123.68), "std": (1.0, 1.0, 1.0),
                "reverse_channels": True}
    if mode == "tf":
        return {"scale": 1 / 127.5, "mean": (1.0, 1.0, 1.0), "std": (1.0, 1.0, 1.0),
                "reverse_channels": False}
    return {"scale": 1 / 255, "mean": tuple(ws.mean), "std": tuple(ws.std),
            "reverse_channels": False}


def preprocess_input(x, weights="imagenet", model: str | None = None):
    """Turns 0-255 RGB images (channels last) into the input a weight set expects.

    Args:
        x: array of shape ``(..., height, width, 3)``, uint8 or float 0-255, RGB.
        weights: a :class:`~kerascnn.weights.WeightSet`, or a tag of ``model``'s sets.
        model: a registered model name (with a tag).

    Returns:
        A float32 numpy array (a backend tensor for a tensor ``x``).

    Example::

        x = kerascnn.applications.preprocess_input(images, model="resnet18")
    """
    ws = weight_set_of(weights, model)
    p = standardization_of(ws)
    if isinstance(x, np.ndarray) or not hasattr(x, "shape") or not keras.ops.is_tensor(x):
        x = np.asarray(x, dtype=np.float32)
        if p["reverse_channels"]:
            x = x[..., ::-1]
        return ((x * np.float32(p["scale"]) - np.asarray(p["mean"], np.float32))
                / np.asarray(p["std"], np.float32)).astype(np.float32)
    from kerascnn.layers.standardize import ImageStandardization

    return ImageStandardization(**p)(x)


def standardization_layers(x, *, mean, std, scale=1 / 255, reverse_channels=False,
                           rescale=False):
    """``(x[..., ::-1 if reverse_channels] * scale - mean) / std`` on 0-255 images, as
    float32 layers ending in ``preprocess_normalize``; the one place both fronts build it.

    One :class:`~kerascnn.layers.standardize.ImageStandardization` layer (a weight set's
    :func:`standardization_of`), or with ``rescale=True`` keras' layers: ``Rescaling(scale)``
    as ``preprocess_rescale``, then ``Normalization(mean, std**2)`` (fit.py's models: their
    ``metrics.json`` and ``--weights FILE.keras`` read that layer's mean and variance).
    """
    if not rescale:
        from kerascnn.layers.standardize import ImageStandardization

        return ImageStandardization(mean, std, scale=scale, reverse_channels=reverse_channels,
                                    dtype="float32", name=f"{PREPROCESSING_PREFIX}normalize")(x)
    if reverse_channels:
        raise ValueError("standardization_layers: rescale=True keeps the channel order.")
    x = keras.layers.Rescaling(scale, dtype="float32", name=f"{PREPROCESSING_PREFIX}rescale")(x)
    return keras.layers.Normalization(
        mean=np.asarray(mean, np.float32), variance=np.square(np.asarray(std, np.float32)),
        dtype="float32", name=f"{PREPROCESSING_PREFIX}normalize")(x)


def add_weight_set_preprocessing(build, ws, input_shape, default_input, *, include_top: bool,
                                 classes: int, name: str):
    """A model taking 0-255 RGB images: resize (when the network's input size is fixed) and
    the weight set's standardization, then the network ``build(shape, tensor)`` builds on
    the preprocessed tensor (one flat graph).

    The resize front takes the largest central crop of the network's aspect and resizes it
    with the backend's kernel: the publisher's accuracy needs the publisher's resize and
    centre crop first (:func:`load_images` makes exactly the crop size, which the front
    then passes unchanged). The layers carry the ``preprocess_`` names :func:`kerascnn.training.model.preprocessing_of`
    reads; with ImageNet's 1,000 classes the ``preprocess_info`` layer holds their names.
    """
    from kerascnn.layers.info import DataInfo
    from kerascnn.layers.resize import InferenceResizing

    shape = tuple(input_shape) if input_shape is not None else (
        tuple(default_input) if include_top else (None, None, default_input[-1]))
    channels_last = keras.config.image_data_format() == "channels_last"
    height, width = (shape[0], shape[1]) if channels_last else (shape[1], shape[2])
    channels = shape[-1] if channels_last else shape[0]
    fixed = height is not None and width is not None
    raw = (None, None, channels) if channels_last else (channels, None, None)
    inputs = keras.Input(raw if fixed else shape, name="image", dtype="float32")
    class_names = [n for _, n in imagenet_classes()] if (
        include_top and classes == 1000 and ws.classes == 1000) else ()
    x = DataInfo(class_names, "imagenet" if class_names else None, dtype="float32",
                 name=f"{PREPROCESSING_PREFIX}info")(inputs)
    if fixed:
        x = InferenceResizing(height, width, crop_to_aspect_ratio=True,
                              interpolation=ws.interpolation if ws.interpolation in
                              ("bilinear", "bicubic") else "bilinear",
                              dtype="float32", name=f"{PREPROCESSING_PREFIX}resize")(x)
    x = standardization_layers(x, **standardization_of(ws))
    core = build(shape, x)
    outputs = core.outputs
    return keras.Model(inputs, outputs if len(outputs) > 1 else outputs[0], name=name)


@functools.lru_cache(maxsize=1)
def imagenet_classes() -> tuple:
    """The 1,000 ImageNet-1k classes in index order: ``(wnid, name)`` pairs (WordNet ids
    as timm lists them, names from torchvision's weight metadata), shipped with the package."""
    rows = []
    with open(_CLASSES_FILE, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            wnid, label = line.rstrip("\n").split("\t")
            rows.append((wnid, label))
    if len(rows) != 1000:
        raise RuntimeError(f"{_CLASSES_FILE} holds {len(rows)} classes, not 1000.")
    return tuple(rows)


def decode_predictions(preds, top: int = 5) -> list:
    """The ``top`` classes of each row of ImageNet predictions, best first.

    Args:
        preds: array ``(batch, 1000)`` of probabilities or logits.
        top: how many classes per row.

    Returns:
        One list per row of ``(wnid, name, score)`` tuples (keras.applications' form).
    """
    preds = np.asarray(keras.ops.convert_to_numpy(preds) if keras.ops.is_tensor(preds)
                       else preds)
    if preds.ndim != 2 or preds.shape[1] != 1000:
        raise ValueError("decode_predictions expects ImageNet predictions of shape "
                         f"(batch, 1000); got {preds.shape}.")
    if isinstance(top, bool) or not isinstance(top, int) or not 1 <= top <= 1000:
        raise ValueError(f"`top` must be an integer in 1..1000; got top={top!r}.")
    classes = imagenet_classes()
    out = []
    for row in preds:
        best = np.argsort(-row, kind="stable")[:top]
        out.append([(classes[i][0], classes[i][1], float(row[i])) for i in best])
    return out
