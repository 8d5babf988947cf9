"""The recomputed composite function of a memory-efficient DenseNet layer.

Huang et al., "Densely Connected Convolutional Networks" (CVPR 2017) and
Pleiss et al., "Memory-Efficient Implementation of DenseNets" (2017):
the concatenation, BatchNormalization and ReLU in front of each
convolution of a dense block are cheap to compute but their outputs grow with
the layer index, so keeping them for the backward pass costs memory quadratic
in depth. :class:`ConcatNormReLUConv` takes the block's feature maps as a
list, and runs concat -> norm -> ReLU -> conv inside ``keras.remat``: only its
inputs (the feature maps, kept anyway) and its output (``filters`` channels)
stay alive; the intermediate tensors are recomputed during backpropagation.

The normalization is either a BatchNormalization sublayer or an
:class:`~kerascnn.layers.Affine` sublayer (the ``dense_fast`` block of the Lasagne book chapter "Classifying images with residual networks"). In
training, BatchNormalization's batch statistics are returned by the recomputed
function and the moving averages are updated outside it, exactly as
``keras.layers.BatchNormalization`` does, so that the update runs once and no
state is assigned inside the recomputed function.
"""

from __future__ import annotations

import keras
from keras import ops

from kerascnn.layers.affine import Affine
from kerascnn.layers.conv import Conv2D

__all__ = ["ConcatNormReLUConv"]

_NORMS = ("batch", "affine")


@keras.saving.register_keras_serializable(package="kerascnn")
class ConcatNormReLUConv(keras.layers.Layer):
    """concat(inputs) -> BN (or Affine) -> ReLU -> Conv2D, recomputed in backward.

    Args:
        filters: output channels of the convolution, or None for no
            convolution (concat -> norm -> ReLU only).
        kernel_size: convolution kernel size ("same" padding, stride 1).
        norm: ``"batch"`` (BatchNormalization) or ``"affine"`` (scale + bias).
        axis: channel axis.
        epsilon, momentum: BatchNormalization's.
        use_bias: convolution bias.
        remat: wrap the function in ``keras.remat`` (False computes the same
            function and keeps its intermediates, for comparisons).
        norm_name, conv_name: names of the sublayers (the names of the
            corresponding layers of the plain model, so weights can be copied
            by name).
    """

    def __init__(self, filters, kernel_size=1, norm="batch", axis=-1, epsilon=1.001e-5,
                 momentum=0.99, use_bias=False, remat=True, norm_name=None, conv_name=None,
                 **kwargs):
        super().__init__(**kwargs)
        if norm not in _NORMS:
            raise ValueError(f"`norm` must be 'batch' or 'affine'; got norm={norm!r}.")
        if filters is not None and not (isinstance(filters, int) and filters >= 1):
            raise ValueError(f"`filters` must be a positive integer or None; got {filters!r}.")
        self.filters = filters
        self.kernel_size = kernel_size
        self.norm_type = norm
        self.axis = axis
        self.epsilon = epsilon
        self.momentum = momentum
        self.use_bias = use_bias
        self.remat = bool(remat)
        self.norm_name = norm_name or f"{self.name}_norm"
        self.conv_name = conv_name or f"{self.name}_conv"
        if norm == "batch":
            self.norm = keras.layers.BatchNormalization(axis=axis, epsilon=epsilon,
                                                        momentum=momentum, name=self.norm_name)
        else:
            self.norm = Affine(axis=axis, name=self.norm_name)
        self.conv = None
        if filters is not None:
            self.conv = Conv2D(filters, kernel_size, padding="same",
                               use_bias=use_bias, name=self.conv_name)

    @staticmethod
    def _as_list(x):
        return list(x) if isinstance(x, (list, tuple)) else [x]

    def _concat_shape(self, shapes):
        shapes = [list(s) for s in self._as_list(shapes)]
        if shapes and not isinstance(shapes[0], list):
            shapes = [shapes]
        out = list(shapes[0])
        out[self.axis] = sum(s[self.axis] for s in shapes)
        return tuple(out)

    def build(self, input_shape):
        if isinstance(input_shape, (list, tuple)) and input_shape and \
                isinstance(input_shape[0], (list, tuple)):
            shape = self._concat_shape(input_shape)
        else:
            shape = tuple(input_shape)
        self.norm.build(shape)
        if self.conv is not None:
            self.conv.build(shape)

    def _function(self, training):
        bn_training = training and self.norm_type == "batch" and self.norm.trainable

        def f(*xs):
            x = xs[0] if len(xs) == 1 else ops.concatenate(list(xs), axis=self.axis)
            if self.norm_type == "batch":
                bn = self.norm
                x = ops.cast(x, keras.backend.result_type(x.dtype, "float32"))
                if bn_training:
                    rank = len(x.shape)
                    axes = [a for a in range(rank) if a != self.axis % rank]
                    mean, variance = ops.moments(x, axes=axes)
                else:
                    mean = ops.cast(bn.moving_mean, x.dtype)
                    variance = ops.cast(bn.moving_variance, x.dtype)
                y = ops.batch_normalization(
                    x, mean, variance, axis=self.axis, offset=ops.cast(bn.beta, x.dtype),
                    scale=ops.cast(bn.gamma, x.dtype), epsilon=bn.epsilon)
                y = ops.cast(y, self.compute_dtype)
            else:
                y = self.norm(x)
            y = ops.relu(y)
            if self.conv is not None:
                y = self.conv(y)
            if bn_training:
                return y, mean, variance
            return y

        return f, bn_training

    def call(self, inputs, training=None):
        xs = self._as_list(inputs)
        f, bn_training = self._function(bool(training))
        fn = keras.remat(f) if self.remat else f
        out = fn(*xs)
        if not bn_training:
            return out
        y, mean, variance = out
        bn = self.norm
        m = bn.momentum
        bn.moving_mean.assign(
            ops.cast(bn.moving_mean, mean.dtype) * m + ops.stop_gradient(mean) * (1.0 - m))
        bn.moving_variance.assign(
            ops.cast(bn.moving_variance, variance.dtype) * m
            + ops.stop_gradient(variance) * (1.0 - m))
        return y

    def compute_macs(self, input_shape) -> int:
        """MACs of the convolution over the concatenated channels ("same", stride 1)."""
        if self.filters is None:
            return 0
        shapes = [input_shape] if not isinstance(input_shape[0], (list, tuple)) else input_shape
        shape = self._concat_shape(list(shapes))
        axis = self.axis % len(shape)
        spatial = [d for i, d in enumerate(shape) if i not in (0, axis)]
        if any(d is None for d in spatial):
            raise ValueError(f"count_macs needs a fixed input size; layer {self.name!r} sees "
                             f"shape {tuple(shape)}.")
        kernel = self.kernel_size if isinstance(self.kernel_size, int) else None
        taps = kernel * kernel if kernel is not None else \
            int(self.kernel_size[0]) * int(self.kernel_size[1])
        out = 1
        for d in spatial:
            out *= d
        return out * self.filters * taps * shape[axis]

    def compute_output_shape(self, input_shape):
        if isinstance(input_shape, (list, tuple)) and input_shape and \
                isinstance(input_shape[0], (list, tuple)):
            shape = list(self._concat_shape(input_shape))
        else:
            shape = list(input_shape)
        if self.filters is not None:
            shape[self.axis] = self.filters
        return tuple(shape)

    def get_config(self):
        config = super().get_config()
        config.update({
            "filters": self.filters, "kernel_size": self.kernel_size, "norm": self.norm_type,
            "axis": self.axis, "epsilon": self.epsilon, "momentum": self.momentum,
            "use_bias": self.use_bias, "remat": self.remat, "norm_name": self.norm_name,
            "conv_name": self.conv_name,
        })
        return config
