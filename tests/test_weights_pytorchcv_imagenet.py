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
