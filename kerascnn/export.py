"""Export a trained model for serving: SavedModel, TFLite and ONNX (scripts/export.py).

    from kerascnn.export import export_model
    export_model(model, "onnx", "exported/model.onnx")

Every format takes what the Keras model takes, raw images as float32 0-255 of
shape (batch, H, W, C), and gives its main output (the class probabilities; the
auxiliary heads of GoogLeNet / Inception v3 are left out), traced in inference
mode (``training=False``):

* ``saved_model``: a TensorFlow SavedModel directory written by Keras'
  ``ExportArchive`` (what ``model.export(format="tf_saved_model")`` writes),
  signature ``serving_default`` with input ``image`` and output ``output_0``.
  The endpoint calls the model with ``training=False`` explicitly: keras 3.15's
  image preprocessing layers (``Resizing``) default to ``training=True`` and,
  called without it, put the BatchNormalization layers after them in training
  mode, so ``model.export`` of a resizing model is wrong.
* ``tflite``: that SavedModel converted by ``tf.lite.TFLiteConverter``.
* ``onnx``: the same inference function frozen and converted by tf2onnx (the
  converter Keras' own ONNX export uses), input ``image``, output
  ``probabilities``. ``model.export(format="onnx")`` is not used: for these
  models it turns the Normalization layer's mean and variance into extra graph
  inputs, and it has the training-mode problem above. Needs the ``export``
  extra (``pip install "kerascnn[export]"``: onnx, onnxruntime, tf2onnx).

A model whose input is (None, None, C) (it resizes images itself) is exported
with that dynamic shape in every format; ``input_size=(H, W)`` fixes it (for
runtimes that need static shapes). Outputs are written atomically: a file via
a temporary file renamed into place, a directory via a temporary directory
beside it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import warnings

from kerascnn.utils.io import atomic_path

__all__ = ["FORMATS", "ExportError", "MissingPackage", "EXTRA_INSTALL", "ONNX_OPSET",
           "serving_shape", "serving_function", "require_onnx", "export_model"]

FORMATS = ("saved_model", "tflite", "onnx")
EXTRA_INSTALL = 'pip install "kerascnn[export]"'
ONNX_OPSET = 17
ONNX_INPUT, ONNX_OUTPUT = "image", "probabilities"


class ExportError(ValueError):
    """An export that cannot be done as asked (one-line message)."""


class MissingPackage(ExportError):
    """A package the format needs is not installed; the message names the extra."""


def require_onnx():
    """Imports (tf2onnx, onnx) or raises MissingPackage naming the extra to install."""
    modules = []
    for name in ("tf2onnx", "onnx"):
        try:
            modules.append(__import__(name))
        except ImportError:
            raise MissingPackage(f"ONNX export needs the package {name}, which is not "
                                 f"installed: {EXTRA_INSTALL}") from None
    return tuple(modules)


def serving_shape(model, input_size=None) -> tuple:
    """The exported input shape (None, H, W, C).

    ``input_size``: (H, W) for a model whose input is (None, None, C); for a model
    with a fixed input it must be that size.
    """
    shape = tuple(model.inputs[0].shape[1:])
    if len(shape) != 3:
        raise ExportError(f"the model's input is {shape}; image models take (H, W, C)")
    if input_size is None:
        return (None, *shape)
    input_size = tuple(int(s) for s in input_size)
    if min(input_size) < 1:
        raise ExportError(f"--input-size must be positive, got {input_size}")
    if shape[:2] != (None, None):
        if input_size != shape[:2]:
            raise ExportError(f"the model takes {shape[0]}x{shape[1]} images only (its input "
                              f"is fixed); --input-size is for models whose input is "
                              f"(None, None, {shape[2]})")
        return (None, *shape)
    return (None, *input_size, shape[2])


def serving_function(model, shape):
    """A ``tf.function`` image -> main output, in inference mode, for input ``shape``."""
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec(shape, tf.float32, name=ONNX_INPUT)])
    def serve(image):
        outputs = model(image, training=False)
        return outputs[0] if isinstance(outputs, (list, tuple)) else outputs

    return serve


def _write_saved_model(model, directory, shape):
    import keras

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serve", serving_function(model, shape).python_function,
                         input_signature=[_tensor_spec(shape)])
    archive.write_out(directory, verbose=False)


def _tensor_spec(shape):
    import tensorflow as tf

    return tf.TensorSpec(shape, tf.float32, name=ONNX_INPUT)


@contextlib.contextmanager
def _atomic_directory(path):
    """Yields a temporary directory beside ``path``; renames it onto ``path`` on success
    (replacing an older export there)."""
    path = os.path.abspath(os.fspath(path))
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=parent)
    old = None
    try:
        target = os.path.join(tmp, "out")
        yield target
        if os.path.lexists(path):
            old = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.", suffix=".old",
                                   dir=parent)
            os.replace(path, os.path.join(old, "out"))
        os.replace(target, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def _check_output(fmt, output):
    output = os.fspath(output)
    if fmt == "saved_model":
        if os.path.isfile(output):
            raise ExportError(f"{output} is a file; a SavedModel is a directory")
        if os.path.isdir(output) and os.listdir(output) and not os.path.isfile(
                os.path.join(output, "saved_model.pb")):
            raise ExportError(f"{output} is a directory that holds no SavedModel; remove it "
                              "or choose another --output (only an older SavedModel is "
                              "replaced)")
    elif os.path.isdir(output):
        raise ExportError(f"{output} is a directory; the {fmt} format is one file")


@contextlib.contextmanager
def _converter_errors(fmt, shape):
    try:
        yield
    except (ExportError, OSError):
        raise
    except Exception as e:  # noqa: BLE001  (the converters raise anything)
        first = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
        hint = (f"; fix the input size with --input-size H W (the model's input is dynamic, "
                f"{shape[1:]})" if None in shape[1:3] else "")
        raise ExportError(f"the {fmt} conversion failed: {type(e).__name__}: {first}"
                          f"{hint}") from None


@contextlib.contextmanager
def _quiet_tensorflow():
    import logging

    import tensorflow as tf

    logger = tf.get_logger()
    level = logger.level
    tf2onnx_logger = logging.getLogger("tf2onnx")
    tf2onnx_level = tf2onnx_logger.level
    logger.setLevel(logging.ERROR)
    tf2onnx_logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
        tf2onnx_logger.setLevel(tf2onnx_level)


def _onnx_model(model, shape):
    tf2onnx, onnx = require_onnx()
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    with contextlib.suppress(Exception), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numpy 2 compatibility, as Keras' export does it
        from keras.src.export.tf2onnx_lib import patch_tf2onnx

        patch_tf2onnx()
    # Frozen first: tf2onnx turns a function's captured constants (the Normalization
    # layer's mean and variance) into graph inputs.
    frozen = convert_variables_to_constants_v2(
        serving_function(model, shape).get_concrete_function())
    proto, _ = tf2onnx.convert.from_graph_def(
        frozen.graph.as_graph_def(), input_names=[t.name for t in frozen.inputs],
        output_names=[t.name for t in frozen.outputs], opset=ONNX_OPSET)
    rename = {frozen.inputs[0].name: ONNX_INPUT, frozen.outputs[0].name: ONNX_OUTPUT}
    for value in list(proto.graph.input) + list(proto.graph.output):
        value.name = rename.get(value.name, value.name)
    for node in proto.graph.node:
        for field in (node.input, node.output):
            for i, name in enumerate(field):
                if name in rename:
                    field[i] = rename[name]
    onnx.checker.check_model(proto)
    return proto


def export_model(model, fmt, output, input_size=None) -> str:
    """Writes ``model`` in format ``fmt`` (one of FORMATS) to ``output``; returns it.

    Raises:
        ExportError: a bad request (format, size, output) or a failed conversion.
        MissingPackage: the format's package is missing (the message names the extra).
    """
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    shape = serving_shape(model, input_size)
    output = os.fspath(output)
    _check_output(fmt, output)
    if fmt == "onnx":
        require_onnx()  # before any work
    with _quiet_tensorflow(), _converter_errors(fmt, shape):
        if fmt == "saved_model":
            with _atomic_directory(output) as directory:
                _write_saved_model(model, directory, shape)
        elif fmt == "tflite":
            import tensorflow as tf

            with tempfile.TemporaryDirectory(prefix="kerascnn-export-") as directory:
                saved = os.path.join(directory, "saved_model")
                _write_saved_model(model, saved, shape)
                flatbuffer = tf.lite.TFLiteConverter.from_saved_model(saved).convert()
            with atomic_path(output) as tmp:
                with open(tmp, "wb") as f:
                    f.write(flatbuffer)
        else:
            proto = _onnx_model(model, shape)
            with atomic_path(output) as tmp:
                with open(tmp, "wb") as f:
                    f.write(proto.SerializeToString())
    return output
