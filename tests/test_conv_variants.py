"""Seed 002 §3 convolution variants against direct numpy computations."""

import keras
import numpy as np
import pytest

from kerascnn.blocks import asymmetric_conv, depthwise_separable_conv, small_kernel_stack
from kerascnn.layers import ChannelShuffle, LocallyConnected2D, TiledConv2D

RNG = np.random.default_rng(0)


def _numpy_conv(x, k, stride=1, dilation=1, groups=1):
    """Direct loops: x (b, h, w, c), k (kh, kw, c/groups, f), valid padding."""
    b, h, w, c = x.shape
    kh, kw, cg, f = k.shape
    eh, ew = (kh - 1) * dilation + 1, (kw - 1) * dilation + 1
    oh, ow = (h - eh) // stride + 1, (w - ew) // stride + 1
    fg = f // groups
    out = np.zeros((b, oh, ow, f))
    for j in range(oh):
        for q in range(ow):
            for i in range(f):
                g = i // fg
                for m in range(kh):
                    for n in range(kw):
                        v = x[:, j * stride + m * dilation, q * stride + n * dilation,
                              g * cg:(g + 1) * cg]
                        out[:, j, q, i] += v @ k[m, n, :, i]
    return out


def _numpy_local(x, w, b, stride=1):
    """Z[j,k,i] = sum V[j*s+m, k*s+n, l] W[j,k,m,n,l,i] + b[j,k,i] (seed 002 §3.1)."""
    oh, ow, kh, kw, c, f = w.shape
    out = np.zeros((x.shape[0], oh, ow, f))
    for j in range(oh):
        for q in range(ow):
            patch = x[:, j * stride:j * stride + kh, q * stride:q * stride + kw, :]
            out[:, j, q, :] = np.einsum("bmnl,mnli->bi", patch, w[j, q]) + b[j, q]
    return out


def _build(layer, x):
    layer.build(x.shape)
    return layer


def test_locally_connected_matches_numpy_and_reduces_to_conv():
    x = RNG.normal(size=(2, 6, 7, 3)).astype("float32")
    layer = _build(LocallyConnected2D(4, 3, strides=2), x)
    assert layer.kernel.shape == (2, 3, 3, 3, 3, 4) and layer.bias.shape == (2, 3, 4)
    layer.kernel.assign(RNG.normal(size=layer.kernel.shape).astype("float32"))
    layer.bias.assign(RNG.normal(size=layer.bias.shape).astype("float32"))
    expected = _numpy_local(x, layer.kernel.numpy(), layer.bias.numpy(), stride=2)
    np.testing.assert_allclose(np.asarray(layer(x)), expected, atol=1e-4)
    # Shared weights (same kernel at every position, no bias) = an ordinary convolution.
    k = RNG.normal(size=(3, 3, 3, 4)).astype("float32")
    shared = _build(LocallyConnected2D(4, 3, use_bias=False), x)
    shared.kernel.assign(np.broadcast_to(k, shared.kernel.shape))
    np.testing.assert_allclose(np.asarray(shared(x)), _numpy_conv(x, k), atol=1e-4)
    conv = keras.layers.Conv2D(4, 3, use_bias=False)
    conv.build(x.shape)
    conv.kernel.assign(k)
    np.testing.assert_allclose(np.asarray(shared(x)), np.asarray(conv(x)), atol=1e-4)


def test_tiled_convolution_cycles_kernels():
    x = RNG.normal(size=(2, 7, 6, 2)).astype("float32")
    layer = _build(TiledConv2D(3, 2, tile_size=2), x)
    assert layer.kernel.shape == (2, 2, 2, 2, 2, 3) and layer.bias.shape == (2, 2, 3)
    layer.kernel.assign(RNG.normal(size=layer.kernel.shape).astype("float32"))
    layer.bias.assign(RNG.normal(size=layer.bias.shape).astype("float32"))
    k, b = layer.kernel.numpy(), layer.bias.numpy()
    oh, ow = 6, 5
    full_w = np.stack([np.stack([k[j % 2, q % 2] for q in range(ow)]) for j in range(oh)])
    full_b = np.stack([np.stack([b[j % 2, q % 2] for q in range(ow)]) for j in range(oh)])
    np.testing.assert_allclose(np.asarray(layer(x)), _numpy_local(x, full_w, full_b), atol=1e-4)
    # t = 1: an ordinary convolution.
    one = _build(TiledConv2D(3, 2, tile_size=1, use_bias=False), x)
    np.testing.assert_allclose(np.asarray(one(x)), _numpy_conv(x, one.kernel.numpy()[0, 0]),
                               atol=1e-4)
    # t = output size: a locally connected layer.
    full = _build(TiledConv2D(3, 2, tile_size=(oh, ow)), x)
    np.testing.assert_allclose(np.asarray(full(x)),
                               _numpy_local(x, full.kernel.numpy(), full.bias.numpy()),
                               atol=1e-4)


def test_channel_shuffle_interleaves_groups():
    # 3 groups of 4 channels: a0 a1 a2 a3 | b0 .. | c0 .. -> a0 b0 c0 a1 b1 c1 ...
    x = np.arange(12, dtype="float32").reshape(1, 1, 1, 12)
    out = np.asarray(ChannelShuffle(3)(x)).ravel()
    np.testing.assert_array_equal(out, [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11])
    y = RNG.normal(size=(2, 3, 3, 6)).astype("float32")
    expected = y.reshape(2, 3, 3, 2, 3).transpose(0, 1, 2, 4, 3).reshape(2, 3, 3, 6)
    np.testing.assert_array_equal(np.asarray(ChannelShuffle(2)(y)), expected)
    with pytest.raises(ValueError, match=r"ChannelShuffle needs channels divisible by groups=4; "
                                         r"got 6 channels\."):
        ChannelShuffle(4)(y)


def test_keras_grouped_depthwise_dilated_match_numpy():
    x = RNG.normal(size=(2, 7, 7, 4)).astype("float32")
    grouped = keras.layers.Conv2D(6, 3, groups=2, use_bias=False)
    grouped.build(x.shape)
    assert grouped.kernel.shape == (3, 3, 2, 6)      # 1/G of the weights (seed §3.3)
    np.testing.assert_allclose(np.asarray(grouped(x)),
                               _numpy_conv(x, grouped.kernel.numpy(), groups=2), atol=1e-4)
    dilated = keras.layers.Conv2D(3, 3, dilation_rate=2, use_bias=False)
    dilated.build(x.shape)
    np.testing.assert_allclose(np.asarray(dilated(x)),
                               _numpy_conv(x, dilated.kernel.numpy(), dilation=2), atol=1e-4)
    depthwise = keras.layers.DepthwiseConv2D(3, use_bias=False)
    depthwise.build(x.shape)
    dk = depthwise.kernel.numpy()                    # (3, 3, 4, 1)
    per_channel = np.concatenate([_numpy_conv(x[..., c:c + 1], dk[:, :, c:c + 1, :])
                                  for c in range(4)], axis=-1)
    np.testing.assert_allclose(np.asarray(depthwise(x)), per_channel, atol=1e-4)


def test_blocks_weights_and_shapes():
    x = keras.Input((12, 12, 8))
    a = asymmetric_conv(x, 8, 5, name="a")
    s = small_kernel_stack(x, 8, 5, name="s")
    d = depthwise_separable_conv(x, 16, name="d")
    model = keras.Model(x, [a, s, d])
    assert a.shape == s.shape == (None, 12, 12, 8) and d.shape == (None, 12, 12, 16)
    # 1xn + nx1: 2nC^2 weights instead of n^2 C^2 (seed §3.5).
    assert model.get_layer("a_1x5").kernel.shape == (1, 5, 8, 8)
    assert model.get_layer("a_5x1").kernel.shape == (5, 1, 8, 8)
    # 5x5 = two stacked 3x3 (seed §3.4).
    assert {"s_1_3x3", "s_2_3x3"} <= {lyr.name for lyr in model.layers}
    assert "s_3_3x3" not in {lyr.name for lyr in model.layers}
    with pytest.raises(ValueError, match=r"`kernel_size` must be odd and >= 3; got kernel_size=4\."):
        small_kernel_stack(x, 8, 4)


def test_layers_serialize():
    for layer in (LocallyConnected2D(2, 3), TiledConv2D(2, 3, tile_size=2), ChannelShuffle(2)):
        clone = type(layer).from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()
