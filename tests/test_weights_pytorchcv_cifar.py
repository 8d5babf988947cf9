"""pytorchcv's CIFAR-10 residual networks converted to kerascnn's CIFAR ResNets: equal
logits at 32 and 31 pixels (odd: the strided 3x3s pad both sides). pytorchcv's 8x8
average pooling before its ``view`` only accepts 29..32 pixels; kerascnn's global pooling
equals it there."""

import pytest

from tests._torch import assert_same_logits

pytest.importorskip("pytorchcv")

# (kerascnn model, pytorchcv module, constructor). The constructors come from their own
# modules: pytorchcv.model_provider imports every model, torchvision's among them, whose
# torch._dynamo import crashes a process that has loaded TensorFlow first.
CASES = [
    ("resnet20_cifar_b", "resnet_cifar", "resnet20_cifar10"),
    ("resnet56_cifar_b", "resnet_cifar", "resnet56_cifar10"),
    pytest.param("preact_resnet164_cifar", "preresnet_cifar", "preresnet164bn_cifar10",
                 marks=pytest.mark.slow),
    pytest.param("resnet110_cifar_b", "resnet_cifar", "resnet110_cifar10",
                 marks=pytest.mark.slow),
    pytest.param("wrn28_10_cifar", "wrn_cifar", "wrn28_10_cifar10", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("name, module, source", CASES)
def test_pytorchcv_cifar_logits(name, module, source, tmp_path):
    import importlib

    torch_model = getattr(importlib.import_module(f"pytorchcv.models.{module}"), source)()
    assert_same_logits(name, torch_model, (32, 31), tmp_path, calibrate=True)


def test_weight_sets_are_declared():
    from kerascnn.weights.core import weight_sets

    entry = weight_sets("resnet20_cifar_b")["cifar10"]
    assert entry.source == "pytorchcv:resnet20_cifar10"
    assert entry.url == ("https://github.com/osmr/imgclsmob/releases/download/v0.0.163/"
                         "resnet20_cifar10-0597-9b0024ac.pth.zip")
    assert entry.top1 == 94.03 and entry.classes == 10 and entry.license == "MIT"
    assert weight_sets("wrn28_10_cifar")["cifar10"].top1 == 97.61


def test_pre_activation_converter_on_a_small_wide_resnet(tmp_path):
    """The pre-activation converter (WRN-28-10's, PreResNet-164's) on a WRN-10-2, fast
    enough for the default run: the same layout with one unit per stage."""
    import numpy as np
    from pytorchcv.models.wrn_cifar import CIFARWRN

    import kerascnn
    from kerascnn.weights.loading import load_checkpoint
    from tests._torch import calibrate_bn, randomize_torch, save_safetensors, torch_logits

    torch_model = CIFARWRN(channels=[[32], [64], [128]], init_block_channels=16)
    calibrate_bn(randomize_torch(torch_model), 32)
    path = save_safetensors(torch_model, tmp_path / "wrn10_2.safetensors")
    x = np.random.default_rng(0).normal(size=(2, 31, 31, 3)).astype("float32")
    model = kerascnn.create_model("wrn10_2_cifar", input_shape=(31, 31, 3),
                                  classifier_activation=None)
    load_checkpoint(model, "wrn28_10_cifar", path)
    expected = torch_logits(torch_model, x)
    got = np.asarray(model(x, training=False))
    assert np.abs(got - expected).max() <= 1e-4 * np.abs(expected).max()
