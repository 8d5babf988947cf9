"""pytorchcv's CIFAR-10 DenseNet-BC and NiN checkpoints converted into kerascnn's ``_cv``
layouts give pytorchcv's logits (random weights and BN statistics).

pytorchcv's heads average an 8x8 map with an 8x8 pooling, so its sources take 32-35
(DenseNet) and 29-32 (NiN) pixel inputs; the odd size is one of them.
"""

import pytest

from tests._torch import assert_same_logits

pytorchcv = pytest.importorskip("pytorchcv.model_provider")


def _source(name):
    return pytorchcv.get_model(name, pretrained=False)


def test_densenet_bc100(tmp_path):
    assert_same_logits("densenet_bc100_cifar_cv", _source("densenet100_k12_bc_cifar10"),
                       (32, 33), tmp_path)


@pytest.mark.slow
def test_densenet_bc190(tmp_path):  # 25.6M parameters, 190 layers
    assert_same_logits("densenet_bc190_cifar_cv", _source("densenet190_k40_bc_cifar10"),
                       (32, 35), tmp_path, batch=1)


def test_nin_cifar(tmp_path):
    # 32: the even size where Keras' "same" pooling would pad after only; 31: odd
    assert_same_logits("nin_cifar_cv", _source("nin_cifar10"), (32, 31), tmp_path)


def test_weight_sets_are_published_metadata():
    from kerascnn.weights.core import weight_sets

    ws = weight_sets("nin_cifar_cv")["cifar10"]
    assert ws.source == "pytorchcv:nin_cifar10" and ws.classes == 10
    assert ws.url == ("https://github.com/osmr/imgclsmob/releases/download/v0.0.175/"
                      "nin_cifar10-0743-795b0824.pth.zip")
    assert ws.top1 == 92.57 and ws.sha256 is None
    assert weight_sets("densenet_bc190_cifar_cv")["cifar10"].top1 == 97.48
