"""torchvision's VGG and AlexNet converted to kerascnn: equal logits at two input sizes.

Their tops start with an adaptive average pooling (7x7 in VGG, 6x6 in AlexNet), so like
torchvision's models they take sizes other than 224: 97 (pooled 3x3 -> 7x7) and 129
(4x4 -> 7x7) exercise the pooling and the (C, H, W) flatten order of the first fully
connected layer.
"""

import numpy as np
import pytest

from ._torch import assert_same_logits, randomize_torch, save_safetensors, torch_logits

tv_models = pytest.importorskip("torchvision.models")

CASES = [
    # (kerascnn name, torchvision constructor, sizes, slow)
    ("vgg11", "vgg11", (224, 97), False),
    ("vgg11_bn", "vgg11_bn", (97, 129), False),
    ("vgg13", "vgg13", (97, 129), True),
    ("vgg13_bn", "vgg13_bn", (97, 129), True),
    ("vgg16_tv", "vgg16", (97, 129), True),
    ("vgg16_bn", "vgg16_bn", (97, 129), True),
    ("vgg19_tv", "vgg19", (97, 129), True),
    ("vgg19_bn", "vgg19_bn", (97, 129), True),
    ("alexnet_owt", "alexnet", (224, 97, 64), False),  # 64: a 1x1 map pooled to 6x6
]


@pytest.mark.parametrize("name, tv_name, sizes", [
    pytest.param(name, tv_name, sizes, id=name, marks=[pytest.mark.slow] if slow else [])
    for name, tv_name, sizes, slow in CASES])
def test_same_logits_as_torchvision(name, tv_name, sizes, tmp_path):
    assert_same_logits(name, getattr(tv_models, tv_name)(), sizes, tmp_path)


@pytest.mark.slow
def test_timm_copy_of_the_weights_loads(tmp_path):
    # The weight sets are timm's copies, whose classifier is a 7x7 and a 1x1 convolution:
    # at 224 timm's model is torchvision's, and the converter reshapes them back.
    timm = pytest.importorskip("timm")
    import kerascnn

    source = randomize_torch(timm.create_model("vgg11_bn", pretrained=False))
    assert "pre_logits.fc1.weight" in source.state_dict()
    path = save_safetensors(source, tmp_path / "vgg11_bn_timm.safetensors")
    x = np.random.default_rng(0).normal(size=(1, 224, 224, 3)).astype("float32")
    expected = torch_logits(source, x)
    model = kerascnn.create_model("vgg11_bn", weights=path, classifier_activation=None)
    got = np.asarray(model(x, training=False))
    assert np.abs(got - expected).max() <= 1e-4 * np.abs(expected).max()


def test_weight_sets_are_declared():
    from kerascnn.weights.core import weight_sets

    for name, tv_name, _, _ in CASES:
        ws = weight_sets(name)["imagenet"]
        assert ws.source.endswith(f":{tv_name}") and ws.license == "BSD-3-Clause"
    assert weight_sets("vgg16_bn")["imagenet"].url == \
        "https://huggingface.co/timm/vgg16_bn.tv_in1k/resolve/main/model.safetensors"
    assert weight_sets("alexnet_owt")["imagenet"].top1 == 56.522


def test_alexnet_backbone_loads_without_the_top(tmp_path):
    import kerascnn

    source = randomize_torch(tv_models.alexnet())
    path = save_safetensors(source, tmp_path / "alexnet.safetensors")
    x = np.random.default_rng(2).normal(size=(1, 97, 97, 3)).astype("float32")
    expected = torch_logits(source.features, x).transpose(0, 2, 3, 1)
    model = kerascnn.create_model("alexnet_owt", weights=path, include_top=False,
                                  input_shape=(97, 97, 3))
    got = np.asarray(model(x))
    assert np.abs(got - expected).max() <= 1e-4 * np.abs(expected).max()
