"""SqueezeNet, MobileNet, ShuffleNet: counts, shapes, keras equivalence, fire bypasses."""

import keras
import numpy as np
import pytest

import kerascnn
from kerascnn.models.shufflenet.model import shufflenet_unit
from kerascnn.models.squeezenet.blocks import fire_module
from tests._weights import randomize_weights


def _trainable(model):
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


@pytest.mark.parametrize("name, trainable", [
    ("squeezenet1_0", 1248424), ("squeezenet1_1", 1235496), ("shufflenet_g1", 1531936),
    ("shufflenet_g2", 1733848), ("shufflenet_g3", 1865728), ("shufflenet_g4", 1968344),
    ("shufflenet_g8", 2434768),
])
def test_imagenet_counts(name, trainable):
    assert _trainable(kerascnn.create_model(name)) == trainable


def test_squeezenet_late_downsampling_and_head():
    model = kerascnn.create_model("squeezenet1_0")
    shapes = {layer.name: layer.output.shape for layer in model.layers}
    # conv1 7x7/2 -> 109; ceil-mode pools -> 54, 27, 13 (Caffe/torchvision sizes).
    assert shapes["conv1"] == (None, 109, 109, 96)
    assert shapes["pool1"] == (None, 54, 54, 96)
    assert shapes["fire4_concat"] == (None, 54, 54, 256)
    assert shapes["pool4"] == (None, 27, 27, 256)
    assert shapes["pool8"] == (None, 13, 13, 512)
    assert shapes["conv10"] == (None, 13, 13, 1000)
    assert model.get_layer("drop9").rate == 0.5
    v11 = kerascnn.create_model("squeezenet1_1")
    assert v11.get_layer("pool5").output.shape == (None, 13, 13, 256)


@pytest.mark.parametrize("bypass, extra", [
    ("simple", 0),
    # complex: 1x1 shortcuts (with bias) on fire2, 4, 6, 8.
    ("complex", (96 * 128 + 128) + (128 * 256 + 256) + (256 * 384 + 384) + (384 * 512 + 512)),
])
def test_squeezenet_bypass(bypass, extra):
    model = kerascnn.create_model("squeezenet1_0", bypass=bypass)
    assert _trainable(model) == 1248424 + extra
    names = {layer.name for layer in model.layers}
    assert {"fire3_add", "fire5_add", "fire7_add", "fire9_add"} <= names
    assert ("fire2_add" in names) == (bypass == "complex")


def test_fire_module_is_concat_of_expands():
    x = keras.Input((8, 8, 32))
    y = fire_module(x, 8, 16, 24, name="f")
    assert y.shape == (None, 8, 8, 40)
    model = keras.Model(x, y)
    data = np.random.default_rng(0).normal(size=(2, 8, 8, 32)).astype("float32")
    out = np.asarray(model(data))
    s = np.maximum(data @ model.get_layer("f_squeeze1x1").kernel.numpy()[0, 0]
                   + model.get_layer("f_squeeze1x1").bias.numpy(), 0)
    e1 = np.maximum(s @ model.get_layer("f_expand1x1").kernel.numpy()[0, 0]
                    + model.get_layer("f_expand1x1").bias.numpy(), 0)
    np.testing.assert_allclose(out[..., :16], e1, atol=1e-5)
    with pytest.raises(ValueError, match=r"A simple bypass needs input channels equal to "
                                         r"e1x1 \+ e3x3 = 40; got 32\."):
        fire_module(x, 8, 16, 24, bypass="simple")
    with pytest.raises(ValueError, match=r"`bypass` must be None, 'simple' or 'complex'; "
                                         r"got bypass='full'\."):
        fire_module(x, 8, 16, 24, bypass="full")


def test_mobilenet_same_as_keras_applications():
    kw = dict(input_shape=(32, 32, 3), classes=5, classifier_activation=None)
    theirs = keras.applications.MobileNet(weights=None, **kw)
    ours = kerascnn.create_model("mobilenet", **kw)
    assert ours.count_params() == theirs.count_params()
    randomize_weights(theirs)  # every weight and BN statistic: a mix-up must show
    rng = np.random.default_rng(0)
    assert kerascnn.transfer_weights(theirs, ours) == len([lyr for lyr in theirs.layers
                                                           if lyr.weights])
    x = rng.normal(size=(2, 32, 32, 3)).astype("float32")
    assert np.abs(np.asarray(ours(x)) - np.asarray(theirs(x))).max() < 1e-5


def test_mobilenet_reference_count_and_alpha():
    assert kerascnn.create_model("mobilenet").count_params() == 4253864
    half = kerascnn.create_model("mobilenet", alpha=0.5, input_shape=(64, 64, 3))
    assert half.count_params() == keras.applications.MobileNet(
        alpha=0.5, weights=None, input_shape=(64, 64, 3)).count_params()
    with pytest.raises(ValueError, match=r"With weights='imagenet', `alpha` must be one of "
                                         r"0.25, 0.5, 0.75, 1.0"):
        kerascnn.create_model("mobilenet", weights="imagenet", alpha=0.6)


def test_shufflenet_unit_shapes_and_shuffle():
    x = keras.Input((8, 8, 240))
    y = shufflenet_unit(x, 480, 3, downsample=True, name="u")
    assert y.shape == (None, 4, 4, 480)
    z = shufflenet_unit(y, 480, 3, name="v")
    model = keras.Model(x, z)
    assert model.get_layer("u_expand_conv").kernel.shape == (1, 1, 40, 240)   # 120/3 -> 240
    assert model.get_layer("u_shuffle").groups == 3
    out = model(np.ones((1, 8, 8, 240), "float32"))
    assert out.shape == (1, 4, 4, 480)


def _parent(model, layer_name):
    return model.get_layer(layer_name)._inbound_nodes[0].parent_nodes[0].operation.name


def test_shufflenet_shuffle_sits_between_the_grouped_1x1_and_the_depthwise_conv():
    # ShuffleNet figure 2(b)/(c): GConv1x1-BN-ReLU, channel shuffle, DWConv3x3-BN, GConv1x1-BN.
    x = keras.Input((8, 8, 240))
    model = keras.Model(x, shufflenet_unit(x, 240, 3, name="u"))
    assert _parent(model, "u_shuffle") == "u_compress_relu"
    assert _parent(model, "u_dw_pad") == "u_shuffle"
    # With an input that is not constant, the shuffle output is the ReLU output with its
    # channels read group by group: channel i * g + j of the result is j * (C / g) + i.
    probe = keras.Model(x, [model.get_layer("u_compress_relu").output,
                            model.get_layer("u_shuffle").output])
    randomize_weights(model)
    inputs = np.random.default_rng(0).normal(size=(2, 8, 8, 240)).astype("float32")
    before, after = (np.asarray(t) for t in probe(inputs))
    channels = before.shape[-1]  # 60 = 3 groups of 20
    order = np.arange(channels).reshape(3, channels // 3).T.ravel()
    assert not np.allclose(before, after)
    np.testing.assert_array_equal(after, before[..., order])


def test_shufflenet_forward_small_input():
    model = kerascnn.create_model("shufflenet_g8", input_shape=(32, 32, 3), classes=4,
                                  classifier_activation=None)
    randomize_weights(model)
    images = np.random.default_rng(1).normal(size=(2, 32, 32, 3)).astype("float32")
    out = np.asarray(model(images))
    assert out.shape == (2, 4)
    # The head is global average pooling and a linear classifier.
    pooled = np.asarray(keras.Model(model.input, model.get_layer("avg_pool").output)(images))
    kernel, bias = model.get_layer("predictions").get_weights()
    np.testing.assert_allclose(out, pooled @ kernel + bias, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match=r"`groups` must be one of 1, 2, 3, 4, 8; got groups=5\."):
        kerascnn.applications.ShuffleNet(groups=5)
