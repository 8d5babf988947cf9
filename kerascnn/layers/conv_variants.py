"""Convolution variants that Keras lacks, as surveyed in the survey "Classic convolutional networks".

* :class:`LocallyConnected2D` (§3.1, "unshared convolution"): every output
  position has its own kernel and its own bias,
  ``Z[j,k,i] = sum_{l,m,n} V[j*s+m, k*s+n, l] W[j,k,m,n,l,i] + b[j,k,i]``.
* :class:`TiledConv2D` (§3.2, tiled convolution): ``t x t`` kernels cycled
  over the output positions, ``W[j,k] = K[j % t, k % t]``; biases follow the
  same tiling. ``t = 1`` is an ordinary convolution, ``t`` = output size a
  locally connected layer.
* :class:`ChannelShuffle` (§3.9, ShuffleNet): the channels of ``g`` groups are
  interleaved, so that the next grouped convolution sees every group.

Grouped (§3.3), depthwise (§3.8) and dilated (§3.11) convolutions are Keras'
own ``Conv2D(groups=...)``, ``DepthwiseConv2D``/``SeparableConv2D`` and
``Conv2D(dilation_rate=...)``. All layers are channels_last.
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["LocallyConnected2D", "TiledConv2D", "ChannelShuffle"]


def _pair(value, what):
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    if not (isinstance(value, (tuple, list)) and len(value) == 2 and all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value)):
        raise ValueError(f"`{what}` must be a positive integer or a pair of them; got {value!r}.")
    return tuple(value)


def _patches(x, kernel_size, strides, out_h, out_w):
    """(batch, out_h, out_w, kh*kw*channels) patches, ordered (m, n, channel)."""
    kh, kw = kernel_size
    sh, sw = strides
    cols = []
    for m in range(kh):
        for n in range(kw):
            cols.append(x[:, m:m + sh * (out_h - 1) + 1:sh, n:n + sw * (out_w - 1) + 1:sw, :])
    return ops.concatenate(cols, axis=-1)


class _UnsharedBase(keras.layers.Layer):
    def __init__(self, filters, kernel_size, strides=1, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        if isinstance(filters, bool) or not isinstance(filters, int) or filters < 1:
            raise ValueError(f"`filters` must be a positive integer; got filters={filters!r}.")
        self.filters = filters
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.strides = _pair(strides, "strides")
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def _out_size(self, input_shape):
        h, w = input_shape[1], input_shape[2]
        if h is None or w is None:
            raise ValueError(f"{type(self).__name__} needs a fixed input size; got input shape "
                             f"{tuple(input_shape)}.")
        kh, kw = self.kernel_size
        sh, sw = self.strides
        if h < kh or w < kw:
            raise ValueError(f"Input {h}x{w} is smaller than the kernel {kh}x{kw}.")
        return (h - kh) // sh + 1, (w - kw) // sw + 1

    def compute_output_shape(self, input_shape):
        oh, ow = self._out_size(input_shape)
        return (input_shape[0], oh, ow, self.filters)

    def compute_macs(self, input_shape) -> int:
        """One product per output value and kernel tap, as an ordinary convolution."""
        oh, ow = self._out_size(input_shape)
        kh, kw = self.kernel_size
        return oh * ow * self.filters * kh * kw * input_shape[-1]

    def get_config(self):
        config = super().get_config()
        config.update({
            "filters": self.filters, "kernel_size": self.kernel_size, "strides": self.strides,
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        })
        return config


@keras.saving.register_keras_serializable(package="kerascnn")
class LocallyConnected2D(_UnsharedBase):
    """A 2D "convolution" whose weights are not shared across positions ("valid" padding).

    Args:
        filters: output channels.
        kernel_size: window size (int or pair).
        strides: strides (int or pair).
        use_bias: one bias per output position and channel.

    Weights: ``kernel`` of shape (out_h, out_w, kh, kw, in_channels, filters)
    and ``bias`` of shape (out_h, out_w, filters).
    """

    def build(self, input_shape):
        oh, ow = self._out_size(input_shape)
        self.out_size = (oh, ow)
        kh, kw = self.kernel_size
        self.kernel = self.add_weight(shape=(oh, ow, kh, kw, input_shape[-1], self.filters),
                                      initializer=self.kernel_initializer, name="kernel")
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(shape=(oh, ow, self.filters),
                                        initializer=self.bias_initializer, name="bias")

    def call(self, inputs):
        oh, ow = self.out_size
        patches = _patches(inputs, self.kernel_size, self.strides, oh, ow)
        kernel = ops.reshape(self.kernel, (oh, ow, -1, self.filters))
        out = ops.einsum("bhwp,hwpf->bhwf", patches, kernel)
        if self.bias is not None:
            out = out + self.bias
        return out


@keras.saving.register_keras_serializable(package="kerascnn")
class TiledConv2D(_UnsharedBase):
    """Tiled convolution: ``tile_size`` x ``tile_size`` kernels cycled over positions.

    Args:
        filters: output channels.
        kernel_size: window size (int or pair).
        tile_size: t, the period of the kernel cycle along each axis
            (int or pair); 1 is an ordinary convolution.
        strides: strides (int or pair).
        use_bias: biases tiled like the kernels.

    Weights: ``kernel`` of shape (t_h, t_w, kh, kw, in_channels, filters) and
    ``bias`` of shape (t_h, t_w, filters); output position (j, k) uses kernel
    ``[j % t_h, k % t_w]`` ("valid" padding).
    """

    def __init__(self, filters, kernel_size, tile_size=2, strides=1, **kwargs):
        super().__init__(filters, kernel_size, strides=strides, **kwargs)
        self.tile_size = _pair(tile_size, "tile_size")

    def build(self, input_shape):
        oh, ow = self._out_size(input_shape)
        self.out_size = (oh, ow)
        th, tw = self.tile_size
        kh, kw = self.kernel_size
        self.kernel = self.add_weight(shape=(th, tw, kh, kw, input_shape[-1], self.filters),
                                      initializer=self.kernel_initializer, name="kernel")
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(shape=(th, tw, self.filters),
                                        initializer=self.bias_initializer, name="bias")

    def call(self, inputs):
        oh, ow = self.out_size
        th, tw = self.tile_size
        rows = [j % th for j in range(oh)]
        cols = [k % tw for k in range(ow)]
        patches = _patches(inputs, self.kernel_size, self.strides, oh, ow)
        kernel = ops.reshape(self.kernel, (th, tw, -1, self.filters))
        kernel = ops.take(ops.take(kernel, rows, axis=0), cols, axis=1)   # (oh, ow, P, F)
        out = ops.einsum("bhwp,hwpf->bhwf", patches, kernel)
        if self.bias is not None:
            out = out + ops.take(ops.take(self.bias, rows, axis=0), cols, axis=1)
        return out

    def get_config(self):
        config = super().get_config()
        config["tile_size"] = self.tile_size
        return config


@keras.saving.register_keras_serializable(package="kerascnn")
class ChannelShuffle(keras.layers.Layer):
    """Channel shuffle of ShuffleNet (Zhang et al., 2018).

    With ``groups`` g and c channels seen as g groups of c/g, output channel
    ``i * g + j`` is input channel ``j * (c/g) + i``: the first channel of
    every group, then the second of every group, and so on.
    """

    def __init__(self, groups, **kwargs):
        super().__init__(**kwargs)
        if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
            raise ValueError(f"`groups` must be a positive integer; got groups={groups!r}.")
        self.groups = groups

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None or channels % self.groups:
            raise ValueError(f"ChannelShuffle needs channels divisible by groups={self.groups}; "
                             f"got {channels} channels.")

    def call(self, inputs):
        shape = ops.shape(inputs)
        c = inputs.shape[-1]
        x = ops.reshape(inputs, (-1, shape[1], shape[2], self.groups, c // self.groups))
        x = ops.transpose(x, (0, 1, 2, 4, 3))
        return ops.reshape(x, (-1, shape[1], shape[2], c))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config["groups"] = self.groups
        return config
