"""The residual block builder, the SE block and the option-A shortcut layer."""

import keras
import numpy as np
import pytest

from kerascnn import graph
from kerascnn.blocks import residual_block, se_block
from kerascnn.blocks.residual import BlockOptions, basic_block, bottleneck_block, preact_block
from kerascnn.layers import ZeroPadShortcut


def _params(inputs, outputs):
    model = keras.Model(inputs, outputs)
    return int(sum(np.prod(w.shape) for w in model.trainable_weights)), model


def test_zero_pad_shortcut_subsamples_and_pads_both_sides():
    x = np.arange(2 * 4 * 4 * 2, dtype="float32").reshape(2, 4, 4, 2)
    y = np.asarray(ZeroPadShortcut(6, strides=2)(x))
    assert y.shape == (2, 2, 2, 6)
    np.testing.assert_array_equal(y[..., 2:4], x[:, ::2, ::2, :])
    assert not y[..., :2].any() and not y[..., 4:].any()
    with pytest.raises(ValueError, match="cannot reduce 2 channels to filters=1"):
        ZeroPadShortcut(1)(x)


def test_se_block_weights_and_values():
    inp = keras.Input((4, 4, 32))
    count, model = _params(inp, se_block(inp, ratio=8, name="se"))
    assert count == 2 * 32 * 4 + 4 + 32
    x = np.random.RandomState(0).rand(2, 4, 4, 32).astype("float32")
    w1, b1, w2, b2 = model.get_weights()
    z = x.mean(axis=(1, 2))
    s = 1 / (1 + np.exp(-(np.maximum(z @ w1 + b1, 0) @ w2 + b2)))
    np.testing.assert_allclose(model.predict(x, verbose=0), x * s[:, None, None, :], atol=1e-5)


@pytest.mark.parametrize("kwargs, expected", [
    # basic v1, option B projection 16 -> 32 /2: two 3x3 convs + 2 BN, 1x1 conv + BN
    (dict(block="basic", stride=2), 9 * 16 * 32 + 9 * 32 * 32 + 4 * 32 + 16 * 32 + 2 * 32),
    (dict(block="basic", stride=2, shortcut="A"), 9 * 16 * 32 + 9 * 32 * 32 + 4 * 32),
    # pre-activation: input BN (16) shared by branch and projection, no BN after the last conv
    (dict(block="basic", stride=2, preact=True), 2 * 16 + 9 * 16 * 32 + 2 * 32 + 9 * 32 * 32
     + 16 * 32),
    # ResNeXt bottleneck: 1x1 16->8, grouped 3x3 8->8 in 4 groups, 1x1 8->32, projection
    (dict(block="bottleneck", bottleneck_filters=8, groups=4),
     16 * 8 + 2 * 8 + 9 * 2 * 8 + 2 * 8 + 8 * 32 + 2 * 32 + 16 * 32 + 2 * 32),
])
def test_block_weights(kwargs, expected):
    inp = keras.Input((8, 8, 16))
    count, _ = _params(inp, residual_block(inp, 32, names="b", **kwargs))
    assert count == expected


def test_caffe_and_keras_names():
    inp = keras.Input((8, 8, 16))
    _, caffe = _params(inp, residual_block(inp, 32, names=(3, "a"), block="bottleneck",
                                           stride=2, se_ratio=4))
    names = {layer.name for layer in caffe.layers}
    assert {"res3a_branch2a", "bn3a_branch2c", "res3a_branch1", "bn3a_branch1",
            "res3a_se_squeeze", "res3a", "res3a_relu"} <= names
    _, ker = _params(inp, residual_block(inp, 16, names="conv2_block2", preact=True))
    assert {"conv2_block2_preact_bn", "conv2_block2_1_conv", "conv2_block2_2_conv",
            "conv2_block2_out"} <= {layer.name for layer in ker.layers}


@pytest.mark.parametrize("kwargs, message", [
    (dict(block="wide"), r"`block` must be 'basic' or 'bottleneck'; got block='wide'\."),
    (dict(shortcut="b"), r"`shortcut` must be 'A', 'B' or 'C'; got shortcut='b'\."),
    (dict(groups=2), r"Grouped convolutions need block='bottleneck'; got groups=2\."),
    (dict(block="bottleneck", bottleneck_filters=6, groups=4),
     r"`groups`=4 must divide the bottleneck widths \(6, 6\)\."),
    (dict(survival_probability=1.5), r"`survival_probability` must be None or a survival "
                                     r"probability in \[0, 1\]; got survival_probability=1\.5\."),
    (dict(use_bias="yes"), r"`use_bias` must be True, False or 'unnormalized'"),
    (dict(names=3), r"`names` must be a string prefix or a \(stage, block\) pair"),
])
def test_block_argument_errors(kwargs, message):
    options = dict(names="x")
    options.update(kwargs)
    with pytest.raises(ValueError, match=message):
        residual_block(keras.Input((8, 8, 16)), 16, **options)


def _layout(model):
    return [(layer.name, type(layer).__name__, [tuple(w.shape) for w in layer.weights])
            for layer in model.layers]


@pytest.mark.parametrize("kwargs, direct", [
    (dict(block="basic", stride=2, se_ratio=4),
     lambda x: basic_block(x, 32, names="b", stride=2, options=BlockOptions(se_ratio=4))),
    (dict(block="bottleneck", bottleneck_filters=8, groups=4, stride_in="1x1", shortcut="C"),
     lambda x: bottleneck_block(x, 32, names="b", width=8,
                                options=BlockOptions(groups=4, stride_in="1x1", shortcut="C"))),
    (dict(block="bottleneck", preact=True, stride=2, use_bias="unnormalized",
          explicit_padding=True, survival_probability=0.5),
     lambda x: preact_block(x, 32, names="b", stride=2, bottleneck=True,
                            survival_probability=0.5,
                            options=BlockOptions(use_bias="unnormalized",
                                                 explicit_padding=True))),
    (dict(preact=True, preactivated=True, shortcut="A", stride=2),
     lambda x: preact_block(x, 32, names="b", stride=2, preactivated=True,
                            options=BlockOptions(shortcut="A"))),
])
def test_residual_block_is_the_three_blocks(kwargs, direct):
    inp = keras.Input((8, 8, 16))
    _, via = _params(inp, residual_block(inp, 32, names="b", **kwargs))
    _, own = _params(inp, direct(inp))
    assert _layout(via) == _layout(own)


def test_block_options_are_checked_and_frozen():
    options = BlockOptions(shortcut="A", epsilon=1e-5)
    assert options.bias(True) is False and BlockOptions(use_bias="unnormalized").bias(False)
    with pytest.raises(AttributeError):
        options.shortcut = "B"
    with pytest.raises(ValueError, match=r"`stride_in` must be '3x3' or '1x1'; got "
                                         r"stride_in='2x2'\."):
        BlockOptions(stride_in="2x2")
    with pytest.raises(ValueError, match=r"`stochastic_depth_mode` must be 'batch' or "
                                         r"'sample'; got stochastic_depth_mode='row'\."):
        BlockOptions(stochastic_depth_mode="row")
    with pytest.raises(ValueError, match=r"`groups` must be a positive integer; got groups=0\."):
        BlockOptions(groups=0)
    with pytest.raises(ValueError, match=r"Grouped convolutions need block='bottleneck'"):
        basic_block(keras.Input((8, 8, 16)), 16, names="g", options=BlockOptions(groups=2))
    # the pre-activation shares its BN-ReLU between the branch and a projection
    inp = keras.Input((8, 8, 16))
    _, model = _params(inp, preact_block(inp, 32, names="p", stride=2))
    relu = model.get_layer("p_preact_relu")
    assert {layer.name for layer in graph.outbound_layers(relu)} == {"p_1_pad", "p_0_conv"}
