"""The residual family: counts of the variants without a reference row, keras
twins after weight transfer, shortcut options, CIFAR patterns, training steps."""

import keras
import numpy as np
import pytest

import kerascnn
from kerascnn.applications import CifarResNet
from tests._weights import randomize_weights, swap_two_batch_norms


def _trainable(model):
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


# The counts of the registered names without a shared reference row (resnext101_64x4d,
# se_resnet101, resnet200_v2, ...) are rows of kerascnn/derived_param_counts.csv, checked
# with their sources by tests/test_reference_counts.py.


@pytest.mark.parametrize("kwargs, trainable", [
    (dict(cardinality=16, bottleneck_width=64), 68155210),
    (dict(cardinality=32, bottleneck_width=4), 4775754),
])
def test_resnext29_matches_pytorchcv(kwargs, trainable):
    model = CifarResNet(n=3, num_filters=64, block="bottleneck", shortcut="B", **kwargs)
    assert _trainable(model) == trainable


def test_shortcut_options_on_resnet18():
    # Option B projections of resnet18: 1x1 conv + BN at the three transitions.
    projections = (64 * 128 + 2 * 128) + (128 * 256 + 2 * 256) + (256 * 512 + 2 * 512)
    b = _trainable(kerascnn.create_model("resnet18"))
    a = _trainable(kerascnn.create_model("resnet18", shortcut="A"))
    c = _trainable(kerascnn.create_model("resnet18", shortcut="C"))
    assert b == 11689512 and a == b - projections
    identity_blocks = [64] * 2 + [128, 256, 512]  # widths of blocks without a B projection
    assert c == b + sum(w * w + 2 * w for w in identity_blocks)


def test_cifar_option_a_has_no_shortcut_weights():
    model = kerascnn.create_model("resnet20_cifar")
    names = [layer.name for layer in model.layers]
    assert "stage2_block1_0_zeropad" in names and "stage2_block1_0_conv" not in names
    assert model.get_layer("stage2_block1_0_zeropad").output.shape == (None, 16, 16, 32)


def _transfer_check(src, dst, size=64):
    x = np.random.RandomState(0).uniform(-1, 1, (2, size, size, 3)).astype("float32")
    randomize_weights(src)  # with fresh BN statistics a BN or bias mix-up changes nothing
    kerascnn.transfer_weights(src, dst)
    expected = src.predict(x, verbose=0)
    diff = np.abs(expected - dst.predict(x, verbose=0)).max()
    assert diff < 1e-5 * max(1.0, float(np.abs(expected).max()))
    swap_two_batch_norms(dst)
    assert np.abs(expected - dst.predict(x, verbose=0)).max() > 1e-3


@pytest.mark.parametrize("twin, name", [("ResNet50V2", "resnet50_v2")])
def test_transfer_from_keras_twin(twin, name):
    kwargs = dict(input_shape=(64, 64, 3), classes=7, classifier_activation=None)
    src = getattr(keras.applications, twin)(weights=None, **kwargs)
    dst = kerascnn.create_model(name, **kwargs)
    assert dst.count_params() == src.count_params()
    _transfer_check(src, dst)


@pytest.mark.slow
@pytest.mark.parametrize("twin, name", [("ResNet101", "resnet101"),
                                        ("ResNet101V2", "resnet101_v2"),
                                        ("ResNet152", "resnet152"),
                                        ("ResNet152V2", "resnet152_v2")])
def test_transfer_from_keras_twin_deep(twin, name):
    kwargs = dict(input_shape=(64, 64, 3), classes=7, classifier_activation=None)
    src = getattr(keras.applications, twin)(weights=None, **kwargs)
    dst = kerascnn.create_model(name, **kwargs)
    _transfer_check(src, dst)


def test_v2_layer_names_follow_keras():
    model = kerascnn.create_model("resnet50_v2", include_top=False, input_shape=(32, 32, 3))
    names = {layer.name for layer in model.layers}
    assert {"conv1_conv", "conv2_block1_preact_bn", "conv2_block1_0_conv", "conv2_block3_3_conv",
            "conv4_block6_out", "post_bn", "post_relu"} <= names


def test_cifar_patterns_and_seed_flags():
    assert {"resnet20_cifar", "resnet110_cifar", "resnet20_cifar_b", "wrn28_10_cifar",
            "preact_resnet164_cifar", "resnext29_8x64d_cifar"} <= set(kerascnn.list_models())
    # The pre-activation paper's CIFAR table: 110 (basic), 164 and 1001 (bottleneck, 9n+2).
    assert {"preact_resnet110_cifar", "preact_resnet1001_cifar"} <= set(kerascnn.list_models())
    deep = kerascnn.model_info("preact_resnet1001_cifar")["kwargs"]
    assert (deep["n"], deep["block"], deep["preact"]) == (111, "bottleneck", True)
    info = kerascnn.model_info("resnet44_cifar")
    assert info["kwargs"]["n"] == 7 and info["default_input_shape"] == (32, 32, 3)
    for bad in ("resnet21_cifar", "resnet2_cifar", "wrn27_10_cifar", "preact_resnet19_cifar"):
        with pytest.raises(ValueError, match=f"Unknown model '{bad}'"):
            kerascnn.create_model(bad)
    model = kerascnn.create_model("resnet110_cifar")
    assert model.input.shape == (None, 32, 32, 3) and model.output.shape == (None, 10)
    # seed 000: train.py --n=1 --num_filters=8 --width=2 --block=bottleneck
    seed = kerascnn.create_model("resnet110_cifar", n=1, num_filters=8, width=2,
                                 block="bottleneck", input_shape=(28, 28, 1))
    assert seed.get_layer("conv1").filters == 8
    assert seed.get_layer("stage3_block1_2_conv").filters == 8 * 2 * 4
    assert seed.output.shape == (None, 10)


def test_wrn_and_preact_structure():
    model = kerascnn.create_model("wrn16_2_cifar")
    assert model.get_layer("stage1_block1_0_conv").filters == 32  # 16 -> 16k projection
    assert model.get_layer("stage3_block2_2_conv").filters == 128
    assert "stage1_block1_preact_bn" not in {la.name for la in model.layers}  # seed 000 `first`
    # Pre-activation: the last block's sum goes through BN-ReLU before the pooling.
    assert model.get_layer("post_bn").gamma.shape == (128,)
    post_bn = model.get_layer("post_bn")._inbound_nodes[0].parent_nodes[0].operation.name
    relu = model.get_layer("post_relu")._inbound_nodes[0].parent_nodes[0].operation.name
    assert (post_bn, relu) == ("stage3_block2_out", "post_bn")


def _parents(model, layer_name):
    return [n.operation.name for n in model.get_layer(layer_name)._inbound_nodes[0].parent_nodes]


def test_se_recalibrates_the_residual_branch_before_the_addition():
    # SENet figure 3: the SE block scales the residual branch, then the identity is added.
    model = kerascnn.create_model("se_resnet50", include_top=False, input_shape=(64, 64, 3))
    assert _parents(model, "res2b_se_scale") == ["bn2b_branch2c", "res2b_se_reshape"]
    assert _parents(model, "res2b") == ["res2b_se_scale", "res2a_relu"]
    assert _parents(model, "res2b_relu") == ["res2b"]
    # With random weights the excitation is not the identity: the block output depends on it.
    randomize_weights(model)
    x = np.random.default_rng(0).normal(size=(1, 64, 64, 3)).astype("float32")
    probe = keras.Model(model.input, [model.get_layer("bn2b_branch2c").output,
                                      model.get_layer("res2b_se_scale").output])
    branch, scaled = (np.asarray(t) for t in probe(x))
    assert not np.allclose(branch, scaled)


def test_se_ratio_on_any_model():
    plain = _trainable(kerascnn.create_model("resnet20_cifar"))
    se = _trainable(kerascnn.create_model("resnet20_cifar", se_ratio=4))
    extra = sum(3 * (2 * c * (c // 4) + c // 4 + c) for c in (16, 32, 64))
    assert se == plain + extra


@pytest.mark.parametrize("kwargs", [
    dict(block="bottleneck", cardinality=4, bottleneck_width=2, shortcut="B"),  # ResNeXt
    dict(se_ratio=4),  # SE
])
def test_one_training_step_on_cpu(kwargs):
    model = CifarResNet(n=1, num_filters=8, input_shape=(16, 16, 3), classes=3, **kwargs)
    model.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    before = [w.copy() for w in model.get_weights()]
    rng = np.random.RandomState(0)
    loss = model.train_on_batch(rng.rand(4, 16, 16, 3).astype("float32"), np.array([0, 1, 2, 0]))
    assert np.isfinite(loss)
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


@pytest.mark.parametrize("kwargs, message", [
    (dict(shortcut="D"), r"`shortcut` must be 'A', 'B' or 'C'; got shortcut='D'\."),
    (dict(se_ratio=0), r"`se_ratio` must be None or a positive number; got se_ratio=0\."),
    (dict(block="dense"), r"`block` must be 'normal' or 'bottleneck'; got block='dense'\."),
    (dict(n=0), r"`n` must be a positive integer; got n=0\."),
    (dict(width=1.5), r"`width` must be a positive integer; got width=1\.5\."),
    (dict(cardinality=4), r"`cardinality` and `bottleneck_width` need block='bottleneck'\."),
    (dict(weights="imagenet"), r"This architecture has no ImageNet weights"),
])
def test_cifar_argument_errors(kwargs, message):
    with pytest.raises(ValueError, match=message) as info:
        CifarResNet(**kwargs)
    assert "\n" not in str(info.value)


def test_imagenet_weights_need_released_architecture():
    with pytest.raises(ValueError, match=r"weights='imagenet' needs the released architecture"):
        kerascnn.applications.ResNet50(weights="imagenet", stochastic_depth=0.5)
    with pytest.raises(ValueError, match=r"This architecture has no ImageNet weights"):
        kerascnn.create_model("resnet20_cifar", weights="imagenet")
