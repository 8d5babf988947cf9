"""What every application constructor shares: argument checks, the input,
the classifier head and weight loading, with keras.applications' semantics.

A family's ``model.py`` uses it as::

    def MyNet(include_top=True, weights=None, input_tensor=None, input_shape=None,
              pooling=None, classes=1000, classifier_activation="softmax",
              name="mynet"):
        check_arguments(weights, include_top, classes, pooling, classifier_activation)
        img_input = build_input(input_tensor, input_shape, default_shape=(224, 224, 3),
                                min_size=32, include_top=include_top, weights=weights)
        x = ...
        x = classifier_head(x, include_top, pooling, classes, classifier_activation)
        return finish_model(img_input, input_tensor, x, name, weights)
"""

from __future__ import annotations

import os

import keras
from keras import layers

from kerascnn.blocks.common import (  # noqa: F401  (re-exported for the families)
    BN_EPSILON,
    channel_axis,
    check_positive_int,
    check_positive_ints,
    check_rate,
)

__all__ = [
    "check_arguments",
    "build_input",
    "classifier_head",
    "finish_model",
    "keras_cache_file",
    "keras_weights_file",
    "channel_axis",
    "BN_EPSILON",
    "check_positive_int",
    "check_positive_ints",
    "check_rate",
]

_POOLINGS = (None, "avg", "max")


def check_arguments(weights, include_top, classes, pooling, classifier_activation,
                    imagenet_available: bool = False) -> None:
    """One-line ValueErrors for the keras.applications arguments of a family's builder.

    The registered constructors resolve ``weights`` first (a weight set's tag, a
    checkpoint: :func:`kerascnn.models.variants.build_with_weights`) and give their
    builder None, a keras file, or ``"imagenet"`` when a keras twin reads keras' own file.
    """
    if not (weights is None or weights == "imagenet" or
            (isinstance(weights, (str, os.PathLike)) and os.path.exists(weights))):
        allowed = "None (random initialization), a path to an existing weights file"
        if imagenet_available:
            allowed += ", or 'imagenet'"
        raise ValueError(f"`weights` must be {allowed}; got weights={weights!r}.")
    if weights == "imagenet" and not imagenet_available:
        raise ValueError(
            "This architecture has no ImageNet weights: `weights` must be None or a path "
            "to a weights file; got weights='imagenet'."
        )
    if not isinstance(include_top, bool):
        raise ValueError(f"`include_top` must be True or False; got include_top={include_top!r}.")
    if include_top:
        check_positive_int(classes, "classes")
    if weights == "imagenet" and include_top and classes != 1000:
        raise ValueError(
            "With weights='imagenet' and include_top=True, `classes` must be 1000; "
            f"got classes={classes}."
        )
    if pooling not in _POOLINGS:
        raise ValueError(f"`pooling` must be None, 'avg' or 'max'; got pooling={pooling!r}.")
    if weights == "imagenet" and include_top and classifier_activation not in (None, "softmax"):
        raise ValueError(
            "With weights='imagenet', `classifier_activation` must be None or 'softmax'; "
            f"got classifier_activation={classifier_activation!r}."
        )


def build_input(input_tensor, input_shape, *, default_shape, min_size, include_top,
                weights=None, fixed_size: bool = False):
    """Checks ``input_shape`` and returns the model's input tensor.

    Args:
        input_tensor: optional Keras tensor to use as the image input.
        input_shape: optional (height, width, channels) tuple.
        default_shape: the architecture's default input shape.
        min_size: smallest height/width the architecture accepts.
        include_top: when False and no shape is given, the input is
            (None, None, channels).
        weights: 'imagenet' requires 3 channels.
        fixed_size: the head flattens a fixed feature map (VGG, AlexNet, ...),
            so with ``include_top`` the size must be the default one.
    """
    default_shape = tuple(default_shape)
    if input_shape is None and input_tensor is not None:
        try:
            input_shape = tuple(input_tensor.shape[1:])
        except (AttributeError, TypeError):
            input_shape = None
    if input_shape is not None:
        if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 3 or not all(
            d is None or (isinstance(d, int) and not isinstance(d, bool) and d > 0)
            for d in input_shape
        ):
            raise ValueError(
                "`input_shape` must be a tuple of three positive integers "
                f"(height, width, channels); got input_shape={input_shape!r}."
            )
        input_shape = tuple(input_shape)
        if keras.config.image_data_format() == "channels_last":
            height, width, channels = input_shape
        else:
            channels, height, width = input_shape
        if (height is not None and height < min_size) or (width is not None and width < min_size):
            raise ValueError(
                f"Input size must be at least {min_size}x{min_size}; got input_shape={input_shape}."
            )
        if weights == "imagenet" and channels != 3:
            raise ValueError(
                f"With weights='imagenet' the input must have 3 channels; got input_shape={input_shape}."
            )
        if fixed_size and include_top and input_shape != default_shape:
            raise ValueError(
                f"With include_top=True the input shape must be {default_shape}; "
                f"got input_shape={input_shape}."
            )
    elif include_top:
        input_shape = default_shape
    else:
        channels = default_shape[-1] if keras.config.image_data_format() == "channels_last" \
            else default_shape[0]
        input_shape = (None, None, channels) if keras.config.image_data_format() == \
            "channels_last" else (channels, None, None)

    if input_tensor is None:
        return layers.Input(shape=input_shape)
    if not keras.backend.is_keras_tensor(input_tensor):
        return layers.Input(tensor=input_tensor, shape=input_shape)
    return input_tensor


def classifier_head(x, include_top, pooling, classes, classifier_activation,
                    name: str = "predictions", pool_name: str = "avg_pool", dropout=None,
                    dense: bool = True):
    """The head every family shares: global average pooling, optional dropout, the Dense
    classifier; or, without the top, the ``pooling`` option.

    Args:
        dropout: a rate for a ``Dropout`` layer named ``dropout`` between the pooling and
            the classifier (GoogLeNet 0.4, Inception v4 0.2, SENet-154 0.2); None or 0:
            none.
        dense: False for networks whose last convolution already has one map per class
            (NiN, SqueezeNet): the pooled maps go through ``classifier_activation`` only
            (a layer named ``name``; none when it is None).
    """
    if include_top:
        x = layers.GlobalAveragePooling2D(name=pool_name)(x)
        if dropout:
            x = layers.Dropout(dropout, name="dropout")(x)
        if not dense:
            if classifier_activation is None:
                return x
            return layers.Activation(classifier_activation, name=name)(x)
        return layers.Dense(classes, activation=classifier_activation, name=name)(x)
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name="max_pool")(x)
    return x


def dense_classifier(x, classes, classifier_activation, *, names=("fc1", "fc2"), units=4096,
                     dropout=0.5):
    """Flatten, two ReLU Dense layers (each followed by dropout) and the classifier.

    The fully connected head of AlexNet (``fc6``, ``fc7``) and VGG (``fc1``, ``fc2``: keras'
    names). ``dropout`` None or 0 leaves the dropout layers out.
    """
    x = keras.layers.Flatten(name="flatten")(x)
    for layer_name in names:
        x = keras.layers.Dense(units, activation="relu", name=layer_name)(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"{layer_name}_dropout")(x)
    return keras.layers.Dense(classes, activation=classifier_activation, name="predictions")(x)


def keras_cache_file(file_name: str) -> str:
    """Where keras keeps a downloaded application weights file."""
    keras_home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(keras_home, "models", file_name)


def keras_weights_file(file_name: str) -> str:
    """The local path of keras.applications' weights file ``file_name``: the Keras cache's
    copy (where keras.applications itself keeps it), else downloaded there once from keras'
    storage with ``keras.utils.get_file`` and checked against keras' published hash.
    Offline: a one-line error naming the URL and the path to put the file at."""
    from kerascnn.weights.keras_twins import KERAS_FILES
    from kerascnn.weights.loading import KERAS_CACHE_SUBDIR, download

    if file_name not in KERAS_FILES:
        path = keras_cache_file(file_name)
        if os.path.exists(path):
            return path
        raise ValueError(f"ImageNet weights not found: keras.applications publishes no file "
                         f"{file_name}; put one at {path}.")
    url, file_hash = KERAS_FILES[file_name]
    return download(url, file_name, file_hash=file_hash, cache_subdir=KERAS_CACHE_SUBDIR)


def keras_twin_loader(twin_constructor, weights_stem, include_top, **twin_kwargs):
    """The ``imagenet_loader`` of :func:`finish_model` for keras' standard file names.

    keras.applications names its ImageNet files
    ``{weights_stem}_weights_tf_dim_ordering_tf_kernels[_notop].h5``.
    """
    suffix = "" if include_top else "_notop"
    file_name = f"{weights_stem}_weights_tf_dim_ordering_tf_kernels{suffix}.h5"

    def imagenet_loader(model):
        load_keras_twin_weights(model, twin_constructor, file_name, include_top, **twin_kwargs)

    return imagenet_loader


def finish_model(img_input, input_tensor, outputs, name, weights=None, imagenet_loader=None):
    """Creates the functional model and loads ``weights``.

    Args:
        imagenet_loader: callable(model) that loads the ImageNet weights;
            required when ``weights == 'imagenet'``.
    """
    if input_tensor is not None:
        inputs = keras.utils.get_source_inputs(input_tensor)
    else:
        inputs = img_input
    model = keras.Model(inputs, outputs, name=name)
    if weights == "imagenet":
        imagenet_loader(model)
    elif weights is not None:
        model.load_weights(os.fspath(weights))
    return model


def load_keras_twin_weights(model, twin_constructor, file_name, include_top, **twin_kwargs):
    """Loads keras.applications' ImageNet file through the keras twin model.

    keras' file (:func:`keras_weights_file`: the Keras cache's copy or downloaded there
    once) is read by keras' own constructor, then copied layer by layer with
    :func:`kerascnn.transfer_weights`.
    """
    from kerascnn.weights.transfer import transfer_weights

    path = keras_weights_file(file_name)
    twin = twin_constructor(
        include_top=include_top, weights=path, input_shape=tuple(model.input.shape[1:]),
        **twin_kwargs,
    )
    transfer_weights(twin, model)
