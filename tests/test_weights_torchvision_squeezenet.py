"""torchvision's SqueezeNets converted to ``squeezenet1_0/1_1``: equal logits at two sizes
(one odd: ceil-mode pooling at odd and even feature-map sizes)."""

import pytest

from ._torch import assert_same_logits

torchvision = pytest.importorskip("torchvision")


@pytest.mark.parametrize("version", ["1_0", "1_1"])
def test_squeezenet_same_logits(version, tmp_path):
    model = getattr(torchvision.models, f"squeezenet{version}")(weights=None)
    assert_same_logits(f"squeezenet{version}", model, (224, 97), tmp_path)


def test_squeezenet_other_classes_keeps_head(tmp_path):
    """A different ``classes`` loads everything but conv10."""
    import kerascnn

    from ._torch import randomize_torch, save_safetensors

    model = randomize_torch(torchvision.models.squeezenet1_1(weights=None))
    path = save_safetensors(model, tmp_path / "sq.safetensors")
    keras_model = kerascnn.create_model("squeezenet1_1", weights=str(path), classes=10,
                                        input_shape=(65, 65, 3))
    assert keras_model.get_layer("conv10").kernel.shape[-1] == 10
    with pytest.raises(ValueError, match="bypass"):
        kerascnn.create_model("squeezenet1_1", weights=str(path), bypass="simple",
                              input_shape=(65, 65, 3))
