"""pytorchcv's ImageNet checkpoints (AlexNet, ZFNet, ShuffleNet v1, BN-Inception) converted
into kerascnn's ``_cv`` layouts give pytorchcv's logits (random weights and BN statistics).

pytorchcv's heads flatten a 6x6 map (AlexNet, ZFNet) or average a 7x7 one with a 7x7 pooling
(ShuffleNet, BN-Inception), so each source takes only a few sizes; the odd size is one of them.
"""

import pytest

from tests._torch import assert_same_logits

pytorchcv = pytest.importorskip("pytorchcv.model_provider")


def _source(name):
    return pytorchcv.get_model(name, pretrained=False)


@pytest.mark.parametrize("name, source, sizes", [
    ("alexnet_cv", "alexnet", (224, 227)),  # 224: the ceil-mode pool1 (54 -> 27)
    # 225: ceil mode differs from "same" (111 -> 55); 62M parameters, like alexnet_cv
    pytest.param("zfnet_cv", "zfnet", (224, 225), marks=pytest.mark.slow),
])
def test_alexnet_family(name, source, sizes, tmp_path):
    assert_same_logits(name, _source(source), sizes, tmp_path, batch=1)


@pytest.mark.parametrize("groups", [pytest.param(g, marks=() if g == 3 else pytest.mark.slow)
                                    for g in (1, 2, 3, 4, 8)])
def test_shufflenet(groups, tmp_path):
    assert_same_logits(f"shufflenet_g{groups}", _source(f"shufflenet_g{groups}_w1"), (224, 199),
                       tmp_path, batch=1)


def test_bn_inception(tmp_path):
    # the only sizes whose stride-2 modules see even maps and whose last map is 7x7
    assert_same_logits("bn_inception_cv", _source("bninception"), (224, 223), tmp_path)


def test_weight_sets_are_published_metadata():
    import kerascnn
    from kerascnn.weights.core import weight_sets

    ws = weight_sets("shufflenet_g3")["imagenet"]
    assert ws.source == "pytorchcv:shufflenet_g3_w1"
    assert ws.url == ("https://github.com/osmr/imgclsmob/releases/download/v0.0.244/"
                      "shufflenet_g3_w1-1348-ce54f64e.pth.zip")
    assert ws.sha256 is None and "ce54f64ecff87556a4303380f46abaaf649eb308" in ws.note
    assert weight_sets("bn_inception_cv")["imagenet"].top1 == 74.63
    assert "imagenet" in kerascnn.model_info("alexnet_cv").get("weights", {"imagenet": 0})


@pytest.mark.parametrize("mode, k, s, p, ceil, count_pad", [
    ("max", 3, 2, 0, True, True), ("max", 3, 2, 1, False, True), ("max", 3, 1, 1, True, True),
    ("avg", 3, 2, 1, False, True), ("avg", 3, 2, 1, True, False), ("avg", 3, 1, 1, True, True),
    ("avg", 2, 2, 0, True, True), ("avg", 5, 3, 2, True, True), ("max", 3, 3, 1, True, True),
])
def test_ceil_pooling_is_torch_pooling(mode, k, s, p, ceil, count_pad):
    import keras
    import numpy as np
    import torch

    from kerascnn.layers import CeilPooling2D

    fn = torch.nn.functional
    dynamic = mode == "avg" and k == 3 and s == 2  # an unknown input size (two cases)
    for n in (7, 8):
        x = np.random.default_rng(n).normal(size=(2, n, n + 1, 3)).astype("float32")
        t = torch.from_numpy(x.transpose(0, 3, 1, 2))
        y = (fn.max_pool2d(t, k, s, p, ceil_mode=ceil) if mode == "max" else
             fn.avg_pool2d(t, k, s, p, ceil_mode=ceil, count_include_pad=count_pad))
        layer = CeilPooling2D(mode, k, s, p, ceil_mode=ceil, count_include_pad=count_pad)
        if dynamic:
            inputs = keras.Input((None, None, 3))
            got = keras.Model(inputs, layer(inputs))(x)
        else:
            got = layer(x)
            assert layer.compute_output_shape(x.shape) == tuple(y.permute(0, 2, 3, 1).shape)
        np.testing.assert_allclose(np.asarray(got), y.numpy().transpose(0, 2, 3, 1), atol=1e-6)
    assert CeilPooling2D.from_config(layer.get_config()).get_config() == layer.get_config()
