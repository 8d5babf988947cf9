"""What a trained network looks at: Grad-CAM, saliency, occlusion, feature maps, filters.

* :func:`grad_cam`: Selvaraju et al. 2017, "Grad-CAM: Visual Explanations from Deep Networks
  via Gradient-based Localization": the feature maps of a spatial layer weighted by the
  spatially averaged gradients of the class score, rectified, upsampled to the input size;
  by default the deepest map of at least 7x7 (:func:`default_layer`).
* :func:`saliency`: Simonyan, Vedaldi & Zisserman 2014, "Deep Inside Convolutional Networks:
  Visualising Image Classification Models and Saliency Maps": the gradient of the class score
  with respect to the input pixels, maximum absolute value over the channels.
* :func:`occlusion_sensitivity`: Zeiler & Fergus 2014, "Visualizing and Understanding
  Convolutional Networks", section 4.2: the drop in the class probability when a gray patch
  hides each part of the image.
* :func:`feature_maps` and :func:`filters`: a layer's activations for one image and a
  convolution's kernels (Zeiler & Fergus's figures 2 and 5), laid out by :func:`grid_figure`.

Images are given as the model takes them: if the model starts with its own preprocessing
(``Rescaling``, ``Normalization``), pass raw pixel values (floats 0-255); otherwise pass what
the model was trained on. The class score is the pre-softmax score (the logit) when the
model's output is a softmax (a ``Dense(..., activation="softmax")``, ``Activation("softmax")``
or ``Softmax`` layer), as both papers use; a model with several outputs is explained through
its first. The maps come back at the input resolution as NumPy arrays.

Backends: Grad-CAM and saliency need gradients: ``tf.GradientTape`` on the TensorFlow backend,
``torch.autograd.grad`` on PyTorch, ``jax.grad`` on JAX (where Grad-CAM differentiates the
part of the model after the chosen layer, so that part may not reuse earlier tensors); other
backends raise ValueError. No backend needs TensorFlow installed.
Occlusion, feature maps and filters run forward passes only and work on every backend.

:func:`overlay` and :func:`save_grid` write PNGs atomically with matplotlib's Agg canvas
(no pyplot, no global state).
"""

from __future__ import annotations

import math

import keras
import numpy as np

from kerascnn.graph import model_call, producer

__all__ = [
    "grad_cam",
    "saliency",
    "occlusion_sensitivity",
    "feature_maps",
    "filters",
    "default_layer",
    "grid_figure",
    "save_grid",
    "overlay",
]

_SOFTMAX_LAYERS = ("Softmax",)


# --------------------------------------------------------------------------- model plumbing

def _output_tensor(model):
    outputs = model.outputs
    if not outputs:
        raise ValueError(
            f"kerascnn.visualize needs a Functional or Sequential model; {model.name!r} is a "
            f"{type(model).__name__} without a layer graph."
        )
    return outputs[0]


def _is_softmax(activation) -> bool:
    return getattr(activation, "__name__", str(activation)) == "softmax"


def _score_head(model):
    """(tensor to fetch, fn(fetched) -> class scores, output is probabilities).

    The scores are the logits when the model ends in a softmax, else its first output.
    """
    out = _output_tensor(model)
    layer = producer(out)
    kind = type(layer).__name__
    if kind == "Dense" and _is_softmax(getattr(layer, "activation", None)):
        def logits(x, layer=layer):
            y = keras.ops.matmul(x, layer.kernel)
            return y + layer.bias if layer.bias is not None else y
        return _layer_input(model, layer), logits, True
    if (kind == "Activation" and _is_softmax(layer.activation)) or kind in _SOFTMAX_LAYERS:
        return _layer_input(model, layer), lambda x: x, True
    return out, lambda x: x, False


def _check_single_input(model):
    _output_tensor(model)
    if len(model.inputs) != 1 or len(model.inputs[0].shape) != 4:
        shapes = [tuple(t.shape) for t in model.inputs]
        raise ValueError(
            f"kerascnn.visualize needs a model with one image input (4-D); {model.name!r} "
            f"takes {shapes}."
        )


def _as_batch(images, model) -> np.ndarray:
    images = np.asarray(images, dtype="float32")
    if images.ndim == 3:
        images = images[None]
    expected = tuple(model.inputs[0].shape[1:])
    if images.ndim != 4 or any(e is not None and e != g
                               for e, g in zip(expected, images.shape[1:])):
        raise ValueError(
            f"images must be (N, H, W, C) or (H, W, C) matching the model's input "
            f"{(None,) + expected}; got shape {images.shape}."
        )
    return images


def _as_image(image, model) -> np.ndarray:
    image = np.asarray(image, dtype="float32")
    if image.ndim == 4 and image.shape[0] == 1:
        image = image[0]
    if image.ndim != 3:
        raise ValueError(f"image must be one (H, W, C) array; got shape {image.shape}.")
    return _as_batch(image, model)[0]


def _num_classes(model) -> int:
    shape = tuple(_output_tensor(model).shape)
    return int(shape[-1]) if len(shape) == 2 and shape[-1] is not None else 0


def _class_indices(model, class_index, n, predicted) -> np.ndarray:
    classes = _num_classes(model)
    if class_index is None:
        return np.asarray(predicted, dtype="int64")
    if isinstance(class_index, (int, np.integer)):
        indices = np.full((n,), int(class_index), dtype="int64")
    else:
        indices = np.asarray(class_index).astype("int64").reshape(-1)
        if indices.shape[0] != n:
            raise ValueError(
                f"class_index must be an int or one index per image ({n}); got "
                f"{indices.shape[0]} indices."
            )
    bad = [int(i) for i in indices if not 0 <= i < classes]
    if bad:
        raise ValueError(
            f"class_index {bad[0]} is out of range: model {model.name!r} has {classes} classes "
            f"(0..{classes - 1})."
        )
    return indices


def _layer(model, name):
    for layer in model.layers:
        if layer.name == name:
            return layer
    spatial = [layer.name for layer in model.layers if _is_spatial(layer)]
    raise ValueError(
        f"No layer named {name!r} in model {model.name!r}; its spatial layers end with "
        f"{', '.join(spatial[-5:]) or 'none'}."
    )


def _layer_output(model, layer):
    # the call in ``model``'s own graph: a nested model's ``layer.output`` is the tensor
    # inside it, not the one its call made in the outer graph
    call = model_call(model, layer)
    return call.outputs[0] if call is not None else layer.output


def _layer_input(model, layer):
    call = model_call(model, layer)
    return call.inputs[0] if call is not None else layer.input


def _output_shape(layer):
    try:
        return tuple(layer.output.shape)
    except (AttributeError, ValueError):
        return ()


def _is_spatial(layer) -> bool:
    if isinstance(layer, keras.layers.InputLayer):
        return False
    shape = _output_shape(layer)
    return len(shape) == 4 and not (shape[1] == 1 and shape[2] == 1)


# Grad-CAM's default map is the deepest one at least this many units high and wide: a 2x2
# map upsampled to the image can only point at a quarter of it.
MIN_MAP_SIDE = 7


def _feature_layers(model) -> list:
    """The spatial layers after the preprocessing: from the first layer holding weights
    (a Normalization's statistics aside), in ``model.layers`` order, padding layers aside
    (a padded copy of the map before: its border is not in the image)."""
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    start = next((i for i, layer in enumerate(layers) if layer.weights
                  and not isinstance(layer, keras.layers.Normalization)), 0)
    return [layer for layer in layers[start:] if _is_spatial(layer)
            and not isinstance(layer, keras.layers.ZeroPadding2D)]


def _map_sizes(model, layers, input_size) -> list:
    """(height, width) of each layer's output in ``model``'s graph; where the graph leaves
    them unknown (an input of any size), computed symbolically for ``input_size``."""
    outputs = [_layer_output(model, layer) for layer in layers]
    sizes = [tuple(t.shape[1:3]) for t in outputs]
    if input_size is None or all(None not in size for size in sizes):
        return sizes
    channels = model.inputs[0].shape[-1]
    spec = keras.Model(model.inputs[0], outputs).compute_output_spec(
        keras.KerasTensor((1, *input_size, channels)))
    return [tuple(t.shape[1:3]) for t in spec]


def default_layer(model, input_size=None, on_note=None) -> str:
    """Name of Grad-CAM's default layer: the deepest spatial (4-D) output that is at least
    ``MIN_MAP_SIDE`` (7) units high and wide at the model's input size.

    The last spatial layer (Selvaraju et al. 2017's choice) is 2x2 for ResNet-18 at 64x64,
    too coarse to point at anything: the deepest map of at least 7x7 keeps the most semantic
    layer that can still localise. When no map reaches 7x7 (a tiny input), the largest map
    is used (the deepest of equals) and ``on_note`` (default :func:`warnings.warn`) gets one
    line saying so. Preprocessing layers (before the first layer holding weights) never
    count; a nested model (a backbone called as one layer) counts as one layer, its output.

    Args:
        model: a Functional or Sequential model with one image input.
        input_size: (height, width) of the images, for a model whose input size is not
            fixed (ignored where the layers' sizes are known; without it, such a model's
            last spatial layer).
        on_note: called with the one-line message when no map reaches 7x7.
    """
    _check_single_input(model)
    layers = _feature_layers(model)
    if not layers:
        raise ValueError(f"Model {model.name!r} has no layer with a spatial (4-D) output.")
    fixed = tuple(model.inputs[0].shape[1:3])
    input_size = fixed if None not in fixed else input_size
    sizes = _map_sizes(model, layers, input_size)
    for layer, (h, w) in zip(reversed(layers), reversed(sizes)):
        if h is not None and w is not None and min(h, w) >= MIN_MAP_SIDE:
            return layer.name
    if any(None in size for size in sizes):  # sizes unknown: the last spatial layer
        return layers[-1].name
    area = [h * w for h, w in sizes]
    i = max(i for i, a in enumerate(area) if a == max(area))
    seen = tuple(_layer_input(model, layers[0]).shape[1:3])  # after any resizing
    seen = input_size if None in seen else seen
    where = f"its {seen[0]}x{seen[1]} input" if seen and None not in seen else "its input"
    note = (f"no layer of {model.name!r} gives a map of at least {MIN_MAP_SIDE}x"
            f"{MIN_MAP_SIDE} at {where}; Grad-CAM uses the largest map, {layers[i].name!r} "
            f"({sizes[i][0]}x{sizes[i][1]})")
    (on_note or _warn)(note)
    return layers[i].name


def _warn(message, stacklevel=3):
    """A UserWarning pointing at the caller of default_layer (``stacklevel`` frames up)."""
    import warnings

    warnings.warn(message, UserWarning, stacklevel=stacklevel)


def _spatial_layer(model, name, input_size=None):
    if name is None:  # the warning points at grad_cam's caller
        name = default_layer(model, input_size, on_note=lambda note: _warn(note, 6))
    layer = _layer(model, name)
    shape = _output_shape(layer)
    if len(shape) != 4:
        raise ValueError(
            f"Grad-CAM needs a layer with a 4-D (spatial) output; layer {layer.name!r} "
            f"outputs shape {shape or 'unknown'}."
        )
    return layer


def _backend(what: str) -> str:
    backend = keras.backend.backend()
    if backend not in ("tensorflow", "jax", "torch"):
        raise ValueError(
            f"{what} computes gradients with TensorFlow, JAX or PyTorch; the Keras backend "
            f"is {backend!r} (set KERAS_BACKEND=tensorflow, jax or torch)."
        )
    return backend


def _pick(scores, idx):
    """sum_i scores[i, idx[i]], differentiable on the active backend."""
    one_hot = keras.ops.one_hot(keras.ops.convert_to_tensor(idx, "int32"), scores.shape[-1])
    return keras.ops.sum(scores * keras.ops.cast(one_hot, scores.dtype))


def _targets(indices, scores, start, size):
    if indices is not None:
        return indices[start:start + size]
    return np.argmax(keras.ops.convert_to_numpy(scores), axis=-1)


def _input_gradients(backend, probe, score_fn, batch, indices, start):
    """d score[idx] / d input for one batch (numpy), on TensorFlow, PyTorch or JAX."""
    if backend == "tensorflow":
        import tensorflow as tf

        batch = tf.constant(batch)
        with tf.GradientTape() as tape:
            tape.watch(batch)
            scores = score_fn(probe(batch, training=False))
            target = _pick(scores, _targets(indices, scores, start, len(batch)))
        return tape.gradient(target, batch).numpy()
    if backend == "torch":
        import torch

        x = keras.ops.convert_to_tensor(batch).detach().requires_grad_(True)
        scores = score_fn(probe(x, training=False))
        target = _pick(scores, _targets(indices, scores, start, len(batch)))
        return torch.autograd.grad(target, x)[0].detach().cpu().numpy()
    import jax

    scores = score_fn(probe(batch, training=False))
    idx = _targets(indices, scores, start, len(batch))
    grads = jax.grad(lambda x: _pick(score_fn(probe(x, training=False)), idx))(batch)
    return np.asarray(grads)


def _feature_gradients(backend, model, layer, fetch, score_fn, batch, indices, start):
    """(A, d score[idx] / d A) for one batch (numpy), A the layer's feature maps."""
    if backend == "tensorflow":
        import tensorflow as tf

        probe = keras.Model(model.inputs[0], [_layer_output(model, layer), fetch])
        with tf.GradientTape() as tape:
            features, fetched = probe(tf.constant(batch), training=False)
            scores = score_fn(fetched)
            target = _pick(scores, _targets(indices, scores, start, len(batch)))
        return features.numpy(), tape.gradient(target, features).numpy()
    if backend == "torch":
        import torch

        probe = keras.Model(model.inputs[0], [_layer_output(model, layer), fetch])
        x = keras.ops.convert_to_tensor(batch).detach().requires_grad_(True)
        features, fetched = probe(x, training=False)
        scores = score_fn(fetched)
        target = _pick(scores, _targets(indices, scores, start, len(batch)))
        grads = torch.autograd.grad(target, features)[0]
        return (features.detach().cpu().numpy(), grads.detach().cpu().numpy())
    import jax

    try:
        head = keras.Model(_layer_output(model, layer), fetch)
    except ValueError:
        raise ValueError(
            f"On the JAX backend grad_cam needs a layer after which the model uses no earlier "
            f"tensor (a skip connection passes around layer {layer.name!r}); choose a later "
            "layer, such as the default one, or use the TensorFlow backend."
        ) from None
    features = keras.Model(model.inputs[0], _layer_output(model, layer))(batch, training=False)
    scores = score_fn(head(features, training=False))
    idx = _targets(indices, scores, start, len(batch))
    grads = jax.grad(lambda a: _pick(score_fn(head(a, training=False)), idx))(features)
    return np.asarray(features), np.asarray(grads)


def _normalise(maps: np.ndarray) -> np.ndarray:
    """Each map divided by its maximum (maps of zeros stay zero)."""
    peak = maps.reshape(len(maps), -1).max(axis=1).reshape((-1,) + (1,) * (maps.ndim - 1))
    return np.where(peak > 0, maps / np.where(peak > 0, peak, 1), 0).astype("float32")


# --------------------------------------------------------------------------- the methods

def grad_cam(model, images, class_index=None, layer=None, batch_size=32) -> np.ndarray:
    """Grad-CAM heat maps (Selvaraju et al. 2017, "Grad-CAM").

    Args:
        model: a Functional or Sequential classifier with one image input (TensorFlow, PyTorch or
            JAX backend).
        images: (N, H, W, C) or one (H, W, C) array, as the model takes them.
        class_index: the class to explain: None (each image's predicted class), an int, or
            one index per image.
        layer: name of the spatial layer whose maps are weighted (``--layer`` of
            scripts/visualize.py); default :func:`default_layer` at the images' size (the
            deepest map of at least 7x7).
        batch_size: images per gradient computation.

    Returns:
        float32 array (N, H, W) in [0, 1] at the input resolution: ``ReLU(sum_k a_k A^k)``,
        ``a_k`` the spatial mean of d score / d ``A^k``, bilinearly upsampled, each map
        divided by its maximum (a map without positive evidence is all zeros).

    Raises:
        ValueError: unknown layer, a layer without a 4-D output, a class index out of range,
            images of the wrong shape, or a backend other than TensorFlow and JAX (on JAX, a
            layer that a skip connection passes around).
    """
    _check_single_input(model)
    images = _as_batch(images, model)
    target = _spatial_layer(model, layer, images.shape[1:3])
    backend = _backend("grad_cam")
    fetch, score_fn, _ = _score_head(model)
    indices = None if class_index is None else _class_indices(
        model, class_index, len(images), None)
    height, width = images.shape[1:3]
    maps = []
    for start in range(0, len(images), batch_size):
        batch = images[start:start + batch_size]
        features, grads = _feature_gradients(backend, model, target, fetch, score_fn, batch,
                                             indices, start)
        weights = grads.mean(axis=(1, 2), keepdims=True)
        cam = np.maximum((weights * features).sum(axis=-1, keepdims=True), 0)
        cam = keras.ops.image.resize(cam.astype("float32"), (height, width),
                                     interpolation="bilinear", antialias=False)
        maps.append(keras.ops.convert_to_numpy(cam)[..., 0])
    return _normalise(np.concatenate(maps, axis=0))


def saliency(model, images, class_index=None, batch_size=32) -> np.ndarray:
    """Vanilla gradient saliency maps (Simonyan et al. 2014, "Deep Inside Convolutional
    Networks").

    Args:
        model: a Functional or Sequential classifier with one image input (TensorFlow, PyTorch or
            JAX backend).
        images: (N, H, W, C) or one (H, W, C) array, as the model takes them.
        class_index: None (each image's predicted class), an int, or one index per image.
        batch_size: images per gradient computation.

    Returns:
        float32 array (N, H, W) in [0, 1]: ``max_c |d score / d x_c|`` over the input
        channels, each map divided by its maximum.

    Raises:
        ValueError: a class index out of range, images of the wrong shape, or a backend
            other than TensorFlow and JAX.
    """
    _check_single_input(model)
    backend = _backend("saliency")
    images = _as_batch(images, model)
    fetch, score_fn, _ = _score_head(model)
    probe = keras.Model(model.inputs[0], fetch)
    indices = None if class_index is None else _class_indices(
        model, class_index, len(images), None)
    maps = []
    for start in range(0, len(images), batch_size):
        grads = _input_gradients(backend, probe, score_fn, images[start:start + batch_size],
                                 indices, start)
        maps.append(np.abs(grads).max(axis=-1))
    return _normalise(np.concatenate(maps, axis=0))


def _positions(size: int, patch: int, stride: int) -> list[int]:
    starts = list(range(0, size - patch + 1, stride))
    if starts[-1] + patch < size:
        starts.append(size - patch)  # the last patch reaches the border
    return starts


def _probabilities(model, batch, batch_size):
    out = model.predict(batch, batch_size=batch_size, verbose=0)
    if isinstance(out, (list, tuple)):
        out = out[0]
    out = np.asarray(out, dtype="float64")
    _, _, is_probability = _score_head(model)
    if not is_probability:
        out = np.exp(out - out.max(axis=-1, keepdims=True))
        out /= out.sum(axis=-1, keepdims=True)
    return out


def occlusion_sensitivity(model, image, class_index, patch=8, stride=4, fill=None,
                          batch_size=64) -> np.ndarray:
    """Zeiler & Fergus's occlusion experiment (2014, "Visualizing and Understanding
    Convolutional Networks", section 4.2).

    A ``patch`` x ``patch`` square of ``fill`` slides over the image by ``stride`` pixels (the
    last row and column of patches touch the border); every occluded copy goes through the
    model in batches.

    Args:
        model: a classifier with one image input (any backend).
        image: one (H, W, C) array, as the model takes it.
        class_index: the class whose probability is watched.
        patch: side of the occluding square, in pixels (1..min(H, W)).
        stride: step between patches, in pixels (>= 1).
        fill: the occluder's value, a number or one per channel; default the image's mean
            over all pixels and channels: a neutral gray (a per-channel mean would tint the
            patch with the colours it should hide).
        batch_size: occluded images per forward pass.

    Returns:
        float32 array (H, W): at each pixel, the mean over the patches covering it of
        ``p(class | image) - p(class | occluded image)``, the probability drop (negative where
        hiding a part raises the probability). Probabilities are the model's softmax output,
        or the softmax of its scores when it has none. Not normalised: values are
        probabilities.

    Raises:
        ValueError: patch or stride out of range, class index out of range, bad image shape.
    """
    _check_single_input(model)
    image = _as_image(image, model)
    height, width, channels = image.shape
    if not isinstance(patch, (int, np.integer)) or not 1 <= patch <= min(height, width):
        raise ValueError(
            f"patch must be an int from 1 to {min(height, width)} (the image's smaller side); "
            f"got patch={patch!r}."
        )
    if not isinstance(stride, (int, np.integer)) or stride < 1:
        raise ValueError(f"stride must be a positive int; got stride={stride!r}.")
    index = int(_class_indices(model, class_index, 1, None)[0])
    if fill is None:
        fill = image.mean()
    fill = np.broadcast_to(np.asarray(fill, dtype="float32"), (channels,))
    tops, lefts = _positions(height, patch, stride), _positions(width, patch, stride)
    boxes = [(t, left) for t in tops for left in lefts]
    base = _probabilities(model, image[None], 1)[0, index]
    drops = np.zeros((height, width), dtype="float64")
    counts = np.zeros((height, width), dtype="float64")
    chunk = max(int(batch_size), 1)
    for start in range(0, len(boxes), chunk):
        part = boxes[start:start + chunk]
        batch = np.repeat(image[None], len(part), axis=0)
        for i, (t, left) in enumerate(part):
            batch[i, t:t + patch, left:left + patch, :] = fill
        probs = _probabilities(model, batch, chunk)[:, index]
        for (t, left), p in zip(part, probs):
            drops[t:t + patch, left:left + patch] += base - p
            counts[t:t + patch, left:left + patch] += 1
    return (drops / np.maximum(counts, 1)).astype("float32")


def feature_maps(model, image, layer) -> np.ndarray:
    """The activations of the layer named ``layer`` for one image: float32 (h, w, channels).

    Lay them out with ``grid_figure(np.moveaxis(maps, -1, 0))`` / :func:`save_grid`.
    """
    _check_single_input(model)
    layer = _layer(model, layer)
    shape = _output_shape(layer)
    if len(shape) != 4:
        raise ValueError(
            f"feature_maps needs a layer with a 4-D (spatial) output; layer {layer.name!r} "
            f"outputs shape {shape or 'unknown'}."
        )
    image = _as_image(image, model)
    probe = keras.Model(model.inputs[0], _layer_output(model, layer))
    out = probe.predict(image[None], verbose=0)
    return np.asarray(out, dtype="float32")[0]


def filters(model, layer) -> np.ndarray:
    """The kernels of the convolution layer named ``layer``: float32 (filters, kh, kw, input channels).

    Conv2D kernels come back one per output channel; DepthwiseConv2D (and the depthwise part
    of SeparableConv2D) one per input channel x multiplier, each with one channel. First-layer
    RGB kernels are what Zeiler & Fergus 2014 (figure 5) show.
    """
    layer = _layer(model, layer)
    kind = type(layer).__name__
    kernel = getattr(layer, "depthwise_kernel", None)
    if kernel is None:
        kernel = getattr(layer, "kernel", None)
    if kernel is None or len(kernel.shape) != 4:
        raise ValueError(
            f"filters needs a 2-D convolution layer (Conv2D, DepthwiseConv2D, "
            f"SeparableConv2D); layer {layer.name!r} is a {kind}."
        )
    kernel = np.asarray(keras.ops.convert_to_numpy(kernel), dtype="float32")
    if kind in ("DepthwiseConv2D", "SeparableConv2D"):
        kh, kw, cin, mult = kernel.shape
        return kernel.reshape(kh, kw, cin * mult, 1).transpose(2, 0, 1, 3)
    return kernel.transpose(3, 0, 1, 2)


# --------------------------------------------------------------------------- figures

def _display(image) -> np.ndarray:
    """An image scaled for display: [0, 255] -> [0, 1], other ranges min-max scaled."""
    image = np.asarray(image, dtype="float32")
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    lo, hi = float(image.min()), float(image.max())
    if lo >= 0 and hi > 1 and hi <= 255:
        return image / 255.0
    if lo >= 0 and hi <= 1:
        return image
    return (image - lo) / (hi - lo) if hi > lo else np.zeros_like(image)


def _save_figure(fig, path, dpi) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from kerascnn.utils.io import atomic_path

    FigureCanvasAgg(fig)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    return str(path)


def grid_figure(images, ncols=None, titles=None, cmap="viridis", title=None, size=1.5,
                rescale=True):
    """A matplotlib Figure showing ``images`` (a sequence or (n, h, w[, c]) array) in a grid.

    Each panel is scaled on its own; a panel with 3 channels is shown as RGB (min-max
    scaled, as filters are), any other channel count as the mean over its channels.
    ``rescale=False`` shows panels in [0, 1] as they are (clipped), gray ones in gray.
    """
    from matplotlib.figure import Figure

    panels = [np.asarray(p, dtype="float32") for p in images]
    if not panels:
        raise ValueError("grid_figure needs at least one image; got none.")
    if titles is not None and len(titles) != len(panels):
        raise ValueError(f"titles must give one title per image ({len(panels)}); "
                         f"got {len(titles)}.")
    ncols = ncols or math.ceil(math.sqrt(len(panels)))
    nrows = math.ceil(len(panels) / ncols)
    fig = Figure(figsize=(size * ncols, size * nrows + (0.4 if title else 0)))
    for i, panel in enumerate(panels):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        if panel.ndim == 3 and panel.shape[-1] != 3:
            panel = panel.mean(axis=-1)
        if rescale:
            lo, hi = float(panel.min()), float(panel.max())
            scaled = (panel - lo) / (hi - lo) if hi > lo else np.zeros_like(panel)
            ax.imshow(scaled, cmap=None if scaled.ndim == 3 else cmap, interpolation="nearest")
        else:
            ax.imshow(np.clip(panel, 0.0, 1.0), cmap=None if panel.ndim == 3 else "gray",
                      vmin=0.0, vmax=1.0, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=7)
    if title:
        fig.suptitle(title)
    return fig


def save_grid(images, path, ncols=None, titles=None, cmap="viridis", title=None,
              dpi=100, rescale=True) -> str:
    """Saves :func:`grid_figure` of ``images`` as a PNG at ``path`` (atomically)."""
    return _save_figure(grid_figure(images, ncols=ncols, titles=titles, cmap=cmap,
                                    title=title, rescale=rescale), path, dpi)


def overlay(image, heatmap, path, alpha=0.5, cmap="jet", title=None, dpi=100) -> str:
    """Saves ``image`` with ``heatmap`` laid over it (and both side by side) as a PNG.

    Args:
        image: (H, W, C) image as given to the model (0-255 or any range: scaled for display).
        heatmap: (H, W) map, e.g. from :func:`grad_cam` (shown min-max scaled).
        path: the PNG to write (atomically).
        alpha: opacity of the heat map over the image.
        cmap: matplotlib colour map of the heat map.
        title: optional title.
    """
    from matplotlib.figure import Figure

    image = _display(image)
    heatmap = np.asarray(heatmap, dtype="float32")
    if heatmap.ndim != 2 or heatmap.shape != image.shape[:2]:
        raise ValueError(
            f"heatmap must be (H, W) = {image.shape[:2]} like the image; got {heatmap.shape}."
        )
    fig = Figure(figsize=(6, 3.2))
    gray = "gray" if image.ndim == 2 else None
    ax = fig.add_subplot(1, 2, 1)
    ax.imshow(image, cmap=gray)
    ax.set_axis_off()
    ax = fig.add_subplot(1, 2, 2)
    ax.imshow(image, cmap=gray)
    ax.imshow(heatmap, cmap=cmap, alpha=alpha)
    ax.set_axis_off()
    if title:
        fig.suptitle(title)
    return _save_figure(fig, path, dpi)
