"""``keras.layers.Conv2D`` with a faster lowering on JAX's CPU backend.

XLA:CPU (the compiler behind JAX on a CPU) is slow on three kinds of convolution that
classifiers are full of; measured on a 2-core x86 machine, batch 32, forward + backward:

* **1x1 convolutions** (the bottlenecks of ResNet, DenseNet, GoogLeNet, SqueezeNet,
  MobileNet's pointwise layers): XLA's convolution emitter and especially its gradients
  run 2-4x slower than the same product written as a matrix multiplication (64 -> 256
  channels on 32x32 maps: 177 ms against 46 ms).
* **Maps smaller than the kernel** (a 3x3 convolution on the 2x2 maps of a ResNet's last
  stage at 64x64 input): XLA's algebraic simplifier swaps the two operands, and the
  swapped convolution falls to a naive loop, about 1 GMAC/s: 544 ms against 12 ms for
  512 -> 512 channels.
* **Stems with a few input channels** (a 7x7 convolution of an RGB image): 356 ms against
  189 ms.
* **Depthwise convolutions** (MobileNet, ShuffleNet): XLA's grouped convolution runs at
  about 0.3 GMAC/s; the same sum written as one multiply-add per kernel tap on shifted views
  of the input is 20-60x faster forward (128 channels on 16x16 maps: 33.4 ms against 0.5 ms).

``Conv2D`` and ``DepthwiseConv2D`` here are Keras' layers (same arguments, weights,
configuration and results) and keep Keras' own convolution everywhere except for those
cases on JAX's CPU backend, where Conv2D computes the same convolution as one matrix
multiplication of the input's patches (im2col) by the reshaped kernel, and DepthwiseConv2D
as a sum over kernel taps. The other backends (TensorFlow's oneDNN,
PyTorch) and JAX on a GPU are left to their native convolutions. The results agree with
the native convolution to float32 rounding (about 1e-6 relative).

On the torch backend, Conv2D keeps its kernel in torch's layout between inference calls
(``_torch_inference_kernel``): Keras' torch backend otherwise permutes and copies every
kernel on every call.

``kerascnn.layers.conv.set_jax_cpu_lowering("native")`` turns the rewrite off (for a
comparison, or a new XLA that fixed its convolutions); ``"auto"`` is the default.
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["Conv2D", "DepthwiseConv2D", "axis_padding", "depthwise_taps", "matmul_lowering", "patches_matmul",
           "set_jax_cpu_lowering", "taps_lowering"]

_LOWERINGS = ("auto", "native")
_lowering = "auto"
# A stem: a convolution of the image itself (RGB, grey, or RGB with one extra plane), whose
# few input channels leave Eigen's convolution with nothing to vectorise over.
_MAX_STEM_CHANNELS = 4


def set_jax_cpu_lowering(mode):
    """Choose how kerascnn's Conv2D is lowered on JAX's CPU backend: ``"auto"`` or ``"native"``.

    Takes effect for functions traced afterwards (a model compiled before keeps its
    lowering until it is compiled again).
    """
    global _lowering
    if mode not in _LOWERINGS:
        raise ValueError(f"lowering must be one of {', '.join(_LOWERINGS)}; got {mode!r}.")
    _lowering = mode


def _on_jax_cpu():
    if keras.backend.backend() != "jax":
        return False
    import jax

    return jax.default_backend() == "cpu"


def matmul_lowering(kernel_size, strides, dilation_rate, groups, data_format, input_hw,
                    in_channels):
    """Whether a convolution is computed as patches @ kernel rather than natively.

    True only on JAX's CPU backend (with the lowering ``"auto"``), for ungrouped,
    undilated, channels_last convolutions of known spatial size that are 1x1, or whose
    input map is smaller than the kernel, or that have at most four input channels (a stem).
    """
    if _lowering != "auto" or groups != 1 or data_format != "channels_last":
        return False
    if tuple(dilation_rate) != (1, 1) or None in input_hw or in_channels is None:
        return False
    kh, kw = kernel_size
    small_map = input_hw[0] * input_hw[1] < kh * kw
    if not (kh == kw == 1 or small_map or in_channels <= _MAX_STEM_CHANNELS):
        return False
    return _on_jax_cpu()


def taps_lowering(dilation_rate, data_format, input_hw):
    """Whether a depthwise convolution is computed as a sum over its kernel taps (JAX, CPU)."""
    if _lowering != "auto" or data_format != "channels_last":
        return False
    if tuple(dilation_rate) != (1, 1) or None in input_hw:
        return False
    return _on_jax_cpu()


def axis_padding(size, kernel, stride, padding="same"):
    """(before, after, output size) along one axis, with Keras' (TensorFlow's) rule: "same"
    gives ceil(size / stride) outputs, the odd padded pixel after. ``kernel`` is the effective
    (dilated) kernel size."""
    if padding == "valid":
        return 0, 0, (size - kernel) // stride + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2, out


def _tap_views(inputs, kernel_hw, strides, padding):
    """The input's strided view under each kernel tap, in (row, column) order, after Keras'
    (TensorFlow's) padding; and the output's height and width."""
    _, h, w, _ = inputs.shape
    (kh, kw), (sh, sw) = kernel_hw, strides
    top, bottom, oh = axis_padding(h, kh, sh, padding)
    left, right, ow = axis_padding(w, kw, sw, padding)
    x = inputs
    if top or bottom or left or right:
        x = ops.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    views = [x[:, i:i + (oh - 1) * sh + 1:sh, j:j + (ow - 1) * sw + 1:sw, :]
             for i in range(kh) for j in range(kw)]
    return views, oh, ow


def patches_matmul(inputs, kernel, strides, padding):
    """A channels_last 2-D convolution as one matrix multiplication of the input's patches.

    ``inputs`` is ``(N, H, W, C)``, ``kernel`` ``(kh, kw, C, O)``; the result equals
    ``keras.ops.conv(inputs, kernel, strides, padding)``.
    """
    n, c = inputs.shape[0], inputs.shape[3]
    kh, kw, _, out_channels = kernel.shape
    views, oh, ow = _tap_views(inputs, (kh, kw), strides, padding)
    # The views concatenated in the kernel's (row, column, channel) order, so that the
    # (kh*kw*C, O) reshape of the kernel lines up with the patches.
    patches = views[0] if len(views) == 1 else ops.concatenate(views, axis=-1)
    flat = ops.reshape(patches, (-1, kh * kw * c))
    out = ops.matmul(flat, ops.reshape(kernel, (kh * kw * c, out_channels)))
    return ops.reshape(out, (-1 if n is None else n, oh, ow, out_channels))


def depthwise_taps(inputs, kernel, strides, padding):
    """A channels_last depthwise convolution as a sum of shifted views times the kernel's taps.

    ``inputs`` is ``(N, H, W, C)``, ``kernel`` ``(kh, kw, C, M)``; the result, ``(N, OH, OW,
    C * M)`` with channel ``c * M + m``, equals ``keras.ops.depthwise_conv``.
    """
    c = inputs.shape[3]
    kh, kw, _, multiplier = kernel.shape
    views, oh, ow = _tap_views(inputs, (kh, kw), strides, padding)
    out = None
    for (i, j), view in zip(((i, j) for i in range(kh) for j in range(kw)), views):
        if multiplier > 1:  # (..., C, 1) * (C, M) -> (..., C, M)
            term = ops.expand_dims(view, -1) * kernel[i, j]
        else:
            term = view * kernel[i, j, :, 0]
        out = term if out is None else out + term
    if multiplier > 1:
        out = ops.reshape(out, (-1, oh, ow, c * multiplier))
    return out


@keras.saving.register_keras_serializable(package="kerascnn")
class Conv2D(keras.layers.Conv2D):
    """``keras.layers.Conv2D``, computed as a matrix product where XLA:CPU is slow (module docs)."""

    def convolution_op(self, inputs, kernel):
        shape = tuple(inputs.shape)
        if len(shape) == 4 and matmul_lowering(
                self.kernel_size, self.strides, self.dilation_rate, self.groups,
                self.data_format, shape[1:3], shape[3]):
            return patches_matmul(inputs, kernel, self.strides, self.padding)
        if keras.backend.backend() == "torch":
            kernel = _torch_inference_kernel(self, kernel)
        return super().convolution_op(inputs, kernel)


def _torch_inference_kernel(layer, kernel):
    """On torch, without gradients: the kernel kept in torch's own layout between calls.

    Keras stores a kernel as (kh, kw, in, out); its torch backend permutes it to torch's
    (out, in, kh, kw) on every call, and oneDNN then copies the permuted view (9.4 ms for a
    3x3x512x512 kernel on a 2-core CPU: a fifth of a ResNet-50 inference step). Outside
    autograd the permuted copy is kept and handed back as a view that Keras' permutation
    turns into the contiguous tensor again, with no copy. It is made again whenever the
    variable changes: an assignment or an optimizer step bumps the tensor's version counter.
    Training (gradients enabled) and mixed precision keep Keras' path.
    """
    import torch

    if torch.is_grad_enabled() or layer.kernel.dtype != layer.compute_dtype:
        return kernel
    value = layer.kernel.value
    key = (value.data_ptr(), value._version, layer.data_format)
    cached = layer.__dict__.get("_torch_kernel")
    if cached is None or cached[0] != key:
        memory = (torch.channels_last if layer.data_format == "channels_last"
                  else torch.contiguous_format)
        oihw = value.detach().permute(3, 2, 0, 1).contiguous(memory_format=memory)
        cached = (key, oihw)
        object.__setattr__(layer, "_torch_kernel", cached)  # not a tracked attribute
    return cached[1].permute(2, 3, 1, 0)


@keras.saving.register_keras_serializable(package="kerascnn")
class DepthwiseConv2D(keras.layers.DepthwiseConv2D):
    """``keras.layers.DepthwiseConv2D``, a sum over kernel taps on JAX's CPU (module docs)."""

    def call(self, inputs):
        shape = tuple(inputs.shape)
        if not (len(shape) == 4 and taps_lowering(self.dilation_rate, self.data_format,
                                                  shape[1:3])):
            return super().call(inputs)
        outputs = depthwise_taps(inputs, self.kernel, self.strides, self.padding)
        if self.use_bias:
            outputs = ops.add(outputs, self.bias)
        if self.activation is not None:
            return self.activation(outputs)
        return outputs
