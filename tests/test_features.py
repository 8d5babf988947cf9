"""Stage feature maps (``create_model(name, features_only=True)``) of every registered family."""

import json

import keras
import numpy as np
import pytest

import kerascnn
from kerascnn import api, features

from .conftest import own_models

# One network per family and per builder that names its layers its own way, with the taps the
# rule of kerascnn.features gives (layer, stride) and whether its convolutions keep
# input / map == stride ("same" padding) at its default input size.
REPRESENTATIVES = {
    "resnet18": (("conv1_relu", 2), ("res2b_relu", 4), ("res3b_relu", 8), ("res4b_relu", 16),
                 ("res5b_relu", 32)),
    "wide_resnet50_2": (("conv1_relu", 2), ("res2c_relu", 4), ("res3d_relu", 8),
                        ("res4f_relu", 16), ("res5c_relu", 32)),
    "resnext50_32x4d": (("conv1_relu", 2), ("res2c_relu", 4), ("res3d_relu", 8),
                        ("res4f_relu", 16), ("res5c_relu", 32)),
    "se_resnet50": (("conv1_relu", 2), ("res2c_relu", 4), ("res3d_relu", 8), ("res4f_relu", 16),
                    ("res5c_relu", 32)),
    "resnet50_v2": (("conv1_conv", 2), ("conv2_block2_out", 4), ("conv3_block3_out", 8),
                    ("conv4_block5_out", 16), ("post_relu", 32)),
    "resnet20_cifar": (("stage1_block3_out", 1), ("stage2_block3_out", 2),
                       ("stage3_block3_out", 4)),
    "preact_resnet20_cifar": (("stage1_block3_out", 1), ("stage2_block3_out", 2),
                              ("post_relu", 4)),
    "wrn16_8_cifar": (("stage1_block2_out", 1), ("stage2_block2_out", 2), ("post_relu", 4)),
    "resnext29_8x64d_cifar": (("stage1_block3_out", 1), ("stage2_block3_out", 2),
                              ("stage3_block3_out", 4)),
    "vgg16_bn": (("block2_conv2_relu", 2), ("block3_conv3_relu", 4), ("block4_conv3_relu", 8),
                 ("block5_conv3_relu", 16), ("block5_pool", 32)),
    "vgg11_lrn": (("block2_conv1", 2), ("block3_conv2", 4), ("block4_conv2", 8),
                  ("block5_conv2", 16), ("block5_pool", 32)),
    "alexnet": (("lrn1", 4), ("lrn2", 8), ("conv5", 16), ("pool5", 32)),
    "zfnet": (("conv1", 2), ("lrn1", 4), ("conv2", 8), ("conv5", 16), ("pool5", 32)),
    "lenet5": (("c1", 1), ("c3", 2), ("c5", 4)),
    "nin": (("nin1_mlp2", 4), ("nin2_mlp2", 8), ("nin3_mlp2", 16), ("pool3", 32)),
    "nin_cifar": (("stage1_mlp2", 1), ("stage2_mlp2", 2), ("stage3_mlp1", 4)),
    "googlenet": (("conv1_relu", 2), ("lrn2", 4), ("inception_3b_output", 8),
                  ("inception_4e_output", 16), ("inception_5b_output", 32)),
    "bn_inception": (("conv1_relu", 2), ("conv2_relu", 4), ("inception_3b_output", 8),
                     ("inception_4d_output", 16), ("inception_5b_output", 32)),
    "inception_v3": (("conv3_relu", 2), ("conv5_relu", 4), ("mixed2", 8), ("mixed7", 16),
                     ("mixed10", 32)),
    "inception_v4": (("stem_conv3_relu", 2), ("stem_mixed2", 4), ("inception_a4", 8),
                     ("inception_b7", 16), ("inception_c3", 32)),
    "inception_resnet_v1": (("stem_conv3_relu", 2), ("stem_conv5_relu", 4), ("block35_5_ac", 8),
                            ("block17_10_ac", 16), ("block8_5_ac", 32)),
    "inception_resnet_v2": (("conv3_relu", 2), ("conv5_relu", 4), ("block35_10_ac", 8),
                            ("block17_20_ac", 16), ("conv_7b_relu", 32)),
    "xception": (("block1_conv2_act", 2), ("block2_add", 4), ("block3_add", 8),
                 ("block12_add", 16), ("block14_sepconv2_act", 32)),
    "densenet121": (("conv1_relu", 2), ("pool2_relu", 4), ("pool3_relu", 8), ("pool4_relu", 16),
                    ("relu", 32)),
    "densenet_bc100_cifar": (("pool2_relu", 1), ("pool3_relu", 2), ("relu", 4)),
    "squeezenet1_0": (("conv1", 2), ("fire4_concat", 4), ("fire8_concat", 8),
                      ("fire9_concat", 16)),
    "squeezenet1_1": (("conv1", 2), ("fire3_concat", 4), ("fire5_concat", 8),
                      ("fire9_concat", 16)),
    "mobilenet": (("conv_pw_1_relu", 2), ("conv_pw_3_relu", 4), ("conv_pw_5_relu", 8),
                  ("conv_pw_11_relu", 16), ("conv_pw_13_relu", 32)),
    "shufflenet_g3": (("conv1_relu", 2), ("pool1", 4), ("stage2_unit4_relu", 8),
                      ("stage3_unit8_relu", 16), ("stage4_unit4_relu", 32)),
}
# Valid (unpadded) convolutions or pooling: the map is smaller than input / stride.
UNPADDED = {"alexnet", "zfnet", "lenet5", "nin", "inception_v3", "inception_v4",
            "inception_resnet_v1", "inception_resnet_v2", "xception", "squeezenet1_0",
            "squeezenet1_1"}
STEP = 64  # two input sizes STEP apart: each map grows by STEP / stride pixels


def _maps(model, size, channels):
    spec = model.compute_output_spec(keras.KerasTensor((1, size, size, channels)))
    return [tuple(s.shape[1:]) for s in spec]


def test_every_registered_family_has_a_representative():
    families = {api.get_spec(n).family for n in own_models()}
    covered = {api.get_spec(n).family for n in REPRESENTATIVES}
    assert families == covered
    modules = {api.get_spec(n).entrypoint.__module__ for n in own_models()}
    assert modules == {api.get_spec(n).entrypoint.__module__ for n in REPRESENTATIVES}


# Inception v4 and Inception-ResNet v2 take 5-6 s each; Inception-ResNet v1 covers their
# builder (kerascnn/applications/inception_v4.py) in the fast run.
SLOW = {"inception_v4", "inception_resnet_v2"}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n
                                  for n in sorted(REPRESENTATIVES)])
def test_family_taps(name):
    spec = api.get_spec(name)
    size, channels = spec.default_input[0], spec.default_input[-1]
    model = kerascnn.create_model(name, features_only=True)
    info = kerascnn.model_info(name)["feature_info"]
    expected = REPRESENTATIVES[name]

    # The taps are the ones model_info lists, in order, at the strides of the table, and the
    # stored table is what the rule finds in the network built now.
    assert [(t["layer"], t["stride"]) for t in info] == list(expected)
    assert [t["index"] for t in info] == list(range(len(info)))
    assert [o._keras_history[0].name for o in model.outputs] == [t["layer"] for t in info]
    first = 1 if size <= 32 else 2
    assert features.stage_taps(model, min_stride=first, probe_size=(size, size)) == info

    # Strides from the map sizes: two inputs STEP apart give maps STEP / stride apart; with
    # padded convolutions input / map == stride.
    small, large = _maps(model, size, channels), _maps(model, size + STEP, channels)
    for tap, (h, w, c), (h2, w2, _) in zip(info, small, large):
        assert c == tap["channels"]
        assert (h2 - h) * tap["stride"] == STEP and (w2 - w) * tap["stride"] == STEP
        if name not in UNPADDED:
            assert (h * tap["stride"], w * tap["stride"]) == (size, size)

    # Each tap is a whole stage's output: the rest of the network runs from it alone (a
    # residual branch or one Inception branch would leave the graph disconnected).
    for tap in model.outputs[:-1]:
        keras.Model(tap, model.outputs[-1])


def test_a_branch_is_not_a_stage_output():
    # The check above can fail: a layer inside a residual block is bypassed by the shortcut.
    backbone = kerascnn.create_model("resnet20_cifar", include_top=False)
    with pytest.raises(ValueError):
        keras.Model(backbone.get_layer("stage2_block1_1_relu").output, backbone.output)


def test_resnet50_at_224():
    model = kerascnn.create_model("resnet50", features_only=True, input_shape=(224, 224, 3))
    maps = model.predict(np.zeros((1, 224, 224, 3), "float32"), verbose=0)
    assert [m.shape[1:] for m in maps] == [(112, 112, 64), (56, 56, 256), (28, 28, 512),
                                           (14, 14, 1024), (7, 7, 2048)]
    assert kerascnn.model_info("resnet50")["feature_info"] == [
        {"layer": "conv1_relu", "channels": 64, "stride": 2, "index": 0},
        {"layer": "res2c_relu", "channels": 256, "stride": 4, "index": 1},
        {"layer": "res3d_relu", "channels": 512, "stride": 8, "index": 2},
        {"layer": "res4f_relu", "channels": 1024, "stride": 16, "index": 3},
        {"layer": "res5c_relu", "channels": 2048, "stride": 32, "index": 4},
    ]


def test_vgg16_taps_are_the_last_convolution_before_each_pooling():
    info = kerascnn.model_info("vgg16")["feature_info"]
    assert [(t["layer"], t["channels"], t["stride"]) for t in info] == [
        ("block2_conv2", 128, 2), ("block3_conv3", 256, 4), ("block4_conv3", 512, 8),
        ("block5_conv3", 512, 16), ("block5_pool", 512, 32)]
    model = kerascnn.create_model("vgg16", features_only=True, out_indices=(1, 4))
    assert _maps(model, 224, 3) == [(56, 56, 256), (7, 7, 512)]


def test_out_indices_pick_taps_in_the_order_given():
    model = kerascnn.create_model("resnet20_cifar", features_only=True, out_indices=(2, 0))
    assert [o._keras_history[0].name for o in model.outputs] == ["stage3_block3_out",
                                                                 "stage1_block3_out"]
    assert _maps(model, 32, 3) == [(8, 8, 64), (32, 32, 16)]


@pytest.mark.parametrize("out_indices", [(3,), (-1,), (0, 0), (), "0", (1.0,), (True,)])
def test_bad_out_indices(out_indices):
    with pytest.raises(ValueError, match=r"^out_indices must be distinct integers in 0\.\.2 "
                                         r"\(resnet20_cifar's taps at strides 1, 2, 4\); got"):
        kerascnn.create_model("resnet20_cifar", features_only=True, out_indices=out_indices)


@pytest.mark.parametrize("kwargs, message", [
    (dict(out_indices=(0,)), "needs features_only=True"),
    (dict(features_only=True, include_top=True), "drop include_top=True"),
    (dict(features_only=True, pooling="avg"), "drop pooling='avg'"),
    (dict(features_only="yes"), "must be True or False"),
])
def test_feature_arguments_errors(kwargs, message):
    with pytest.raises(ValueError, match=message) as error:
        kerascnn.create_model("resnet20_cifar", **kwargs)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("name, size", [("resnet20_cifar", 32), ("densenet40_cifar", 32),
                                        ("squeezenet1_1", 64)])
def test_feature_model_shares_the_full_models_weights(name, size):
    shape = (size, size, 3)
    full = kerascnn.create_model(name, input_shape=shape, classes=5)
    feats = kerascnn.create_model(name, features_only=True, input_shape=shape)
    # Every weighted layer of the feature model is the full model's, by name and shape:
    # copy them over (a trained classifier's weights), then the maps are the full model's.
    weighted = [layer for layer in feats.layers if layer.weights]
    assert weighted
    for layer in weighted:
        twin = full.get_layer(layer.name)
        assert [w.shape for w in twin.weights] == [w.shape for w in layer.weights]
        layer.set_weights(twin.get_weights())
    images = np.random.default_rng(0).uniform(0, 1, (2,) + shape).astype("float32")
    taps = [t["layer"] for t in kerascnn.model_info(name)["feature_info"]]
    reference = keras.Model(full.input, [full.get_layer(t).output for t in taps])
    expected = [np.asarray(m) for m in reference(images, training=False)]
    for got, want in zip(feats(images, training=False), expected):
        assert np.abs(want).max() > 0
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-5)
    # feature_model taps the full model itself (its layers, so its weights).
    direct = features.feature_model(full)
    assert [o._keras_history[0].name for o in direct.outputs] == taps
    for got, want in zip(direct(images, training=False), expected):
        np.testing.assert_array_equal(np.asarray(got), want)


def test_feature_info_is_stored_for_every_listed_model():
    with open(features._CACHE, encoding="utf-8") as f:
        stored = json.load(f)["models"]
    assert sorted(stored) == own_models()
    for name, taps in stored.items():
        strides = [t["stride"] for t in taps]
        first = 1 if api.get_spec(name).default_input[0] <= 32 else 2
        assert taps and strides == sorted(set(strides)) and strides[0] >= first, name
        assert all(t["channels"] > 0 for t in taps), name
        assert kerascnn.model_info(name)["feature_info"] == taps


def test_unlisted_pattern_name_is_computed():
    info = kerascnn.model_info("resnet38_cifar")["feature_info"]
    assert [(t["layer"], t["channels"], t["stride"]) for t in info] == [
        ("stage1_block6_out", 16, 1), ("stage2_block6_out", 32, 2), ("stage3_block6_out", 64, 4)]


def test_options_change_the_taps_with_the_network():
    # Stochastic depth wraps each residual branch: the stage outputs are still found.
    model = kerascnn.create_model("preact_resnet20_cifar", features_only=True,
                                  stochastic_depth=0.5)
    assert _maps(model, 32, 3) == [(32, 32, 16), (16, 16, 32), (8, 8, 64)]


def test_feature_model_of_an_unregistered_model_uses_the_rule():
    backbone = api.get_spec("resnet20_cifar").build(include_top=False, name="my_backbone")
    model = features.feature_model(backbone, min_stride=1)
    assert model.name == "my_backbone_features"
    assert [o._keras_history[0].name for o in model.outputs] == [
        "stage1_block3_out", "stage2_block3_out", "stage3_block3_out"]
    assert [o._keras_history[0].name for o in features.feature_model(backbone).outputs] == [
        "stage2_block3_out", "stage3_block3_out"]  # min_stride 2 without the registry


@pytest.mark.slow
def test_stored_feature_info_is_current_for_every_listed_model():
    with open(features._CACHE, encoding="utf-8") as f:
        stored = json.load(f)["models"]
    for name in own_models():
        assert stored[name] == features.compute_feature_info(name), name
        keras.backend.clear_session()
