"""timm's Inception v4 and Inception-ResNet-v2 converted to ``inception_v4_timm`` and
``inception_resnet_v2_timm``: equal logits at two sizes (one odd)."""

import pytest

from ._torch import assert_same_logits

timm = pytest.importorskip("timm")


@pytest.mark.parametrize("name, sizes", [
    ("inception_v4", (75, 128)),
    pytest.param("inception_v4", (299,), marks=pytest.mark.slow, id="inception_v4-299"),
    ("inception_resnet_v2", (75, 96)),
    pytest.param("inception_resnet_v2", (299, 155), marks=pytest.mark.slow,
                 id="inception_resnet_v2-299"),
])
def test_timm_inception_same_logits(name, sizes, tmp_path):
    model = timm.create_model(name, pretrained=False)
    assert_same_logits(f"{name}_timm", model, sizes, tmp_path)


def test_inception_v4_paper_layout_refuses_timm_weights(tmp_path):
    """kerascnn's inception_v4 (the paper's order of the factorised convolutions) has the
    same parameter count as timm's but not its kernel shapes: the conversion refuses."""
    import kerascnn
    from kerascnn.weights.core import WeightsError
    from kerascnn.weights.loading import load_checkpoint

    from ._torch import save_safetensors

    path = save_safetensors(timm.create_model("inception_v4", pretrained=False),
                            tmp_path / "v4.safetensors")
    model = kerascnn.create_model("inception_v4", input_shape=(75, 75, 3))
    with pytest.raises(WeightsError, match="7x7dbl_1"):
        load_checkpoint(model, "inception_v4", path, source="timm:inception_v4")
