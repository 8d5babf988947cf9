"""torchvision's ResNet family converted to kerascnn: equal logits at two input sizes.

The torchvision model gets random weights and BN statistics (tests/_torch.py), is saved as
safetensors and loaded through ``create_model(name, weights=path)``.
"""

import numpy as np
import pytest

from ._torch import assert_same_logits, randomize_torch, save_safetensors, torch, torch_logits

tv_models = pytest.importorskip("torchvision.models")

# kerascnn name -> torchvision constructor; the default run keeps one member of each
# family (ResNet basic, ResNet v1.5 bottleneck, ResNeXt), the rest are slow.
CASES = [
    ("resnet18", "resnet18", False),
    ("resnet50_tv", "resnet50", False),
    ("resnext50_32x4d", "resnext50_32x4d", False),
    ("resnet34", "resnet34", True),
    ("resnet101_tv", "resnet101", True),
    ("resnet152_tv", "resnet152", True),
    ("wide_resnet50_2", "wide_resnet50_2", True),
    ("wide_resnet101_2", "wide_resnet101_2", True),
    ("resnext101_32x8d", "resnext101_32x8d", True),
    ("resnext101_64x4d", "resnext101_64x4d", True),
]


@pytest.mark.parametrize("name, tv_name", [
    pytest.param(name, tv_name, id=name, marks=[pytest.mark.slow] if slow else [])
    for name, tv_name, slow in CASES])
def test_same_logits_as_torchvision(name, tv_name, tmp_path):
    assert_same_logits(name, getattr(tv_models, tv_name)(), (64, 97), tmp_path)


def test_weight_sets_are_declared():
    from kerascnn.weights.core import weight_sets

    for name, tv_name, _ in CASES:
        sets = weight_sets(name)
        assert sets["imagenet"].source == f"torchvision:{tv_name}"
        assert sets["imagenet"].url.startswith("https://huggingface.co/timm/")
    v2 = weight_sets("resnet50_tv")
    assert (v2["imagenet"].top1, v2["imagenet_v1"].top1) == (80.858, 76.13)
    assert "resnet50-11ad3fa6.pth" in v2["imagenet"].note


def test_timm_copies_have_torchvision_keys():
    # The sets are timm's safetensors copies of torchvision's files: the same keys.
    timm = pytest.importorskip("timm")
    for name in ("resnet18", "resnet50"):
        ours = {k: tuple(v.shape) for k, v in getattr(tv_models, name)().state_dict().items()}
        theirs = {k: tuple(v.shape) for k, v in
                  timm.create_model(name, pretrained=False).state_dict().items()}
        assert ours == theirs


def test_backbone_and_new_classes_load_all_but_the_classifier(tmp_path):
    import kerascnn

    source = randomize_torch(tv_models.resnet18())
    path = save_safetensors(source, tmp_path / "resnet18.safetensors")
    x = np.random.default_rng(1).normal(size=(2, 64, 64, 3)).astype("float32")
    source.fc = torch.nn.Identity()
    expected = torch_logits(source, x)
    model = kerascnn.create_model("resnet18", weights=path, include_top=False, pooling="avg",
                                  input_shape=(64, 64, 3))
    np.testing.assert_allclose(np.asarray(model(x)), expected, rtol=0,
                               atol=1e-4 * np.abs(expected).max())
    model = kerascnn.create_model("resnet18", weights=path, classes=7, input_shape=(64, 64, 3))
    assert model.output.shape == (None, 7)


def test_layouts_the_weights_do_not_fit_are_refused(tmp_path):
    import kerascnn
    from kerascnn.weights.core import WeightsError

    path = save_safetensors(randomize_torch(tv_models.resnet18()), tmp_path / "r18.safetensors")
    with pytest.raises(WeightsError, match="epsilon"):
        kerascnn.create_model("resnet18", weights=path, input_shape=(64, 64, 3),
                              bn_epsilon=1.001e-5)
    # resnet34 has more blocks than the checkpoint: its block 2c would stay unfilled.
    with pytest.raises(WeightsError, match=r"no weights for 32 layers .*bn2c_branch2a"):
        kerascnn.create_model("resnet34", weights=path, input_shape=(64, 64, 3))
