"""2D pooling with PyTorch's and Caffe's conventions: symmetric explicit padding,
ceil-mode output sizes and average pooling that counts the padding.

Keras pools with ``"valid"`` (floor of ``(n - k) / s`` + 1 windows) or ``"same"``
(``ceil(n / s)`` windows, padding split with the extra pixel after): neither gives
PyTorch's ``nn.MaxPool2d(k, s, padding=p, ceil_mode=True)`` or
``nn.AvgPool2d(..., count_include_pad=True)`` at every input size. Caffe's pooling
layers round up too (PyTorch's ``ceil_mode`` reproduces them), so checkpoints
converted from either need this layer.

PyTorch's rule, per spatial axis of size ``n``::

    out = ceil_or_floor((n + 2p - k) / s) + 1
    if ceil_mode and (out - 1) * s >= n + p: out -= 1   # a window must start inside

A ceil-mode window may run past the padded input; those positions are ignored (the
maximum and the average's divisor do not see them). With ``count_include_pad`` the
divisor counts the ``p`` padded pixels each side, without it only the input's pixels.
"""

from __future__ import annotations

import keras
from keras import ops

from kerascnn.layers.conv import axis_padding

__all__ = ["AdaptiveAveragePooling2D", "CeilPooling2D", "CeilMaxPooling2D", "SameAveragePooling2D",
           "adaptive_pooling_matrix", "ceil_pool_output_size"]


def _pair(value, name):
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    if (not isinstance(value, (tuple, list)) or len(value) != 2 or
            not all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
        raise ValueError(f"`{name}` must be an integer or a pair of integers; got "
                         f"{name}={value!r}.")
    return tuple(value)


def _out_size(n, k, s, p, ceil_mode):
    span = n + 2 * p - k
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out


def ceil_pool_output_size(size, pool_size, strides, padding=0):
    """PyTorch's output size of a ceil-mode pooling along one axis (None if ``size`` is)."""
    return None if size is None else _out_size(size, pool_size, strides, padding, True)


@keras.saving.register_keras_serializable(package="kerascnn")
class CeilPooling2D(keras.layers.Layer):
    """Max or average pooling with PyTorch's ``padding``, ``ceil_mode`` and
    ``count_include_pad`` (no weights).

    Args:
        mode: ``"max"`` or ``"avg"``.
        pool_size: window size (int or pair).
        strides: stride (int or pair; default ``pool_size``).
        padding: symmetric zero padding each side (int or pair), as PyTorch's
            ``padding`` (max pooling pads with -inf: padding never wins).
        ceil_mode: round the number of windows up (PyTorch ``ceil_mode``, Caffe).
        count_include_pad: (``"avg"``) the divisor counts the symmetric padding
            (PyTorch's default, Caffe); False: only input pixels.
        data_format: ``"channels_last"`` or ``"channels_first"`` (default keras').
    """

    def __init__(self, mode="max", pool_size=3, strides=None, padding=0, ceil_mode=True,
                 count_include_pad=True, data_format=None, **kwargs):
        super().__init__(**kwargs)
        if mode not in ("max", "avg"):
            raise ValueError(f"`mode` must be 'max' or 'avg'; got mode={mode!r}.")
        self.mode = mode
        self.pool_size = _pair(pool_size, "pool_size")
        self.strides = _pair(strides if strides is not None else pool_size, "strides")
        self.padding = _pair(padding, "padding")
        if min(self.pool_size) < 1 or min(self.strides) < 1:
            raise ValueError("`pool_size` and `strides` must be positive; got "
                             f"pool_size={self.pool_size}, strides={self.strides}.")
        if any(p < 0 or 2 * p > k for p, k in zip(self.padding, self.pool_size)):
            raise ValueError("`padding` must be between 0 and half the pool size; got "
                             f"padding={padding!r} with pool_size={pool_size!r}.")
        self.ceil_mode = bool(ceil_mode)
        self.count_include_pad = bool(count_include_pad)
        self.data_format = data_format or keras.config.image_data_format()

    def _axes(self, rank):
        return (1, 2) if self.data_format == "channels_last" else (2, 3)

    def _extras(self, inputs):
        """Pixels after the symmetric padding that ceil-mode windows reach, per axis."""
        extras = []
        for axis, k, s, p in zip(self._axes(4), self.pool_size, self.strides, self.padding):
            n = inputs.shape[axis]
            if n is None:  # unknown size: pad s - 1: exactly the ceil-mode windows when k >= p + s
                if self.ceil_mode and k < p + s:
                    raise ValueError(f"{self.name}: ceil-mode pooling with pool size {k}, "
                                     f"stride {s}, padding {p} needs a known input size.")
                extras.append((s - 1 if self.ceil_mode else 0, None))
                continue
            out = _out_size(n, k, s, p, self.ceil_mode)
            extras.append((max((out - 1) * s + k - (n + 2 * p), 0), out))
        return extras

    def _pad(self, x, extras, value):
        widths = [[0, 0] for _ in range(4)]
        for axis, p, (extra, _) in zip(self._axes(4), self.padding, extras):
            widths[axis] = [p, p + extra]
        if not any(w for pair in widths for w in pair):
            return x
        return ops.pad(x, widths, constant_values=value)

    def call(self, inputs):
        extras = self._extras(inputs)
        pool = dict(pool_size=self.pool_size, strides=self.strides, padding="valid",
                    data_format=self.data_format)
        if self.mode == "max":
            return ops.max_pool(self._pad(inputs, extras, float("-inf")), **pool)
        summed = ops.average_pool(self._pad(inputs, extras, 0.0), **pool)
        needs_mask = any(extra for extra, _ in extras) or (
            not self.count_include_pad and any(self.padding))
        if not needs_mask:
            return summed
        # The divisor: the share of each window inside the counted region.
        axes = self._axes(4)
        ones = ops.ones_like(inputs[..., :1] if self.data_format == "channels_last"
                             else inputs[:, :1])
        widths = [[0, 0] for _ in range(4)]
        if self.count_include_pad:
            for axis, p in zip(axes, self.padding):
                widths[axis] = [p, p]
            ones = ops.pad(ones, widths, constant_values=1.0)
            widths = [[0, 0] for _ in range(4)]
            for axis, (extra, _) in zip(axes, extras):
                widths[axis] = [0, extra]
        else:
            for axis, p, (extra, _) in zip(axes, self.padding, extras):
                widths[axis] = [p, p + extra]
        mask = ops.average_pool(ops.pad(ones, widths, constant_values=0.0), **pool)
        return summed / mask

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        for axis, k, s, p in zip(self._axes(4), self.pool_size, self.strides, self.padding):
            if shape[axis] is not None:
                shape[axis] = _out_size(shape[axis], k, s, p, self.ceil_mode)
        return tuple(shape)

    def get_config(self):
        config = super().get_config()
        config.update(mode=self.mode, pool_size=self.pool_size, strides=self.strides,
                      padding=self.padding, ceil_mode=self.ceil_mode,
                      count_include_pad=self.count_include_pad, data_format=self.data_format)
        return config


@keras.saving.register_keras_serializable(package="kerascnn")
class SameAveragePooling2D(keras.layers.AveragePooling2D):
    """``keras.layers.AveragePooling2D(..., padding="same")`` with TensorFlow's numbers on
    every backend: windows average the input pixels they cover (the padding is not
    counted), the odd padding pixel goes after.

    Keras' torch backend pads an uneven "same" padding with copies of the edge pixels and
    then counts them (3x3/2 pooling of an even-sized map: the last row and column are
    averaged with themselves), so on torch this layer pads with zeros and divides by the
    pooled mask of the input pixels. TensorFlow and JAX use Keras' own operation.
    """

    def __init__(self, pool_size=2, strides=None, padding="same", data_format=None,
                 name=None, **kwargs):
        super().__init__(pool_size, strides=strides, padding=padding,
                         data_format=data_format, name=name, **kwargs)

    def call(self, inputs):
        if keras.backend.backend() != "torch" or self.padding != "same":
            return super().call(inputs)
        axes = (1, 2) if self.data_format == "channels_last" else (2, 3)
        widths = [[0, 0] for _ in range(4)]
        for axis, k, s in zip(axes, self.pool_size, self.strides):
            widths[axis] = list(axis_padding(inputs.shape[axis], k, s)[:2])
        if not any(w for pair in widths for w in pair):
            return super().call(inputs)
        pool = dict(pool_size=self.pool_size, strides=self.strides, padding="valid",
                    data_format=self.data_format)
        summed = ops.average_pool(ops.pad(inputs, widths, constant_values=0.0), **pool)
        ones = ops.ones_like(inputs[..., :1] if self.data_format == "channels_last"
                             else inputs[:, :1])
        mask = ops.average_pool(ops.pad(ones, widths, constant_values=0.0), **pool)
        return summed / mask


@keras.saving.register_keras_serializable(package="kerascnn")
class CeilMaxPooling2D(CeilPooling2D):
    """:class:`CeilPooling2D` in its most common use: max pooling with ceil rounding
    (PyTorch's ``MaxPool2d(..., ceil_mode=True)``, Caffe's pooling; the stem of the SENet
    authors' released models).

    Args:
        pool_size: window size (int or pair).
        strides: stride (int or pair; default ``pool_size``).
        padding: symmetric padding each side (int or pair; at most half the window).
        data_format: ``"channels_last"`` or ``"channels_first"`` (default keras').
    """

    def __init__(self, pool_size=2, strides=None, padding=0, data_format=None, **kwargs):
        for key in ("mode", "ceil_mode", "count_include_pad"):
            kwargs.pop(key, None)
        super().__init__("max", pool_size, strides=strides, padding=padding, ceil_mode=True,
                         data_format=data_format, **kwargs)

    def get_config(self):
        config = super().get_config()
        for key in ("mode", "ceil_mode", "count_include_pad"):
            config.pop(key)
        return config


def adaptive_pooling_matrix(n: int, out: int):
    """The ``(out, n)`` averaging matrix of PyTorch's adaptive average pooling along one
    axis: row ``i`` averages input positions ``floor(i * n / out)`` to
    ``ceil((i + 1) * n / out) - 1`` (windows overlap, or repeat a position, when
    ``n`` is not a multiple of ``out`` or is smaller than it)."""
    import numpy as np

    matrix = np.zeros((out, n), np.float32)
    for i in range(out):
        start, end = (i * n) // out, -(-((i + 1) * n) // out)
        matrix[i, start:end] = 1.0 / (end - start)
    return matrix


@keras.saving.register_keras_serializable(package="kerascnn")
class AdaptiveAveragePooling2D(keras.layers.Layer):
    """Average pooling to a fixed ``output_size``, as PyTorch's ``AdaptiveAvgPool2d``,
    for every input size, including maps smaller than the output (no weights).

    Keras' own ``AdaptiveAveragePooling2D`` fails on TensorFlow when a map is smaller
    than the output in a way its kernel arithmetic cannot express (a 1x1 map pooled to
    6x6: torchvision's AlexNet at 64x64). Here each axis is a fixed averaging matrix
    (:func:`adaptive_pooling_matrix`), applied with one ``einsum``: the input's height
    and width must be known when the layer is built.

    Args:
        output_size: int or (height, width).
        data_format: ``"channels_last"`` or ``"channels_first"`` (default keras').
    """

    def __init__(self, output_size, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.output_size = _pair(output_size, "output_size")
        if min(self.output_size) < 1:
            raise ValueError(f"`output_size` must be positive; got output_size={output_size!r}.")
        self.data_format = data_format or keras.config.image_data_format()

    def _spatial(self, shape):
        return tuple(shape[1:3] if self.data_format == "channels_last" else shape[2:4])

    def build(self, input_shape):
        height, width = self._spatial(input_shape)
        if height is None or width is None:
            raise ValueError(f"{self.name}: adaptive pooling needs a known input height and "
                             f"width; got input shape {tuple(input_shape)}.")
        self._rows = adaptive_pooling_matrix(height, self.output_size[0])
        self._cols = adaptive_pooling_matrix(width, self.output_size[1])

    def call(self, inputs):
        rows = ops.cast(ops.convert_to_tensor(self._rows), inputs.dtype)
        cols = ops.cast(ops.convert_to_tensor(self._cols), inputs.dtype)
        equation = "ih,bhwc,jw->bijc" if self.data_format == "channels_last" else \
            "ih,bchw,jw->bcij"
        return ops.einsum(equation, rows, inputs, cols)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        axes = (1, 2) if self.data_format == "channels_last" else (2, 3)
        for axis, size in zip(axes, self.output_size):
            shape[axis] = size
        return tuple(shape)

    def get_config(self):
        config = super().get_config()
        config.update(output_size=self.output_size, data_format=self.data_format)
        return config
