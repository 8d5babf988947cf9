"""timm's legacy SENets converted to kerascnn's SE networks: equal logits at two sizes
(one odd: the stem's ceil-mode max pooling differs from a padded one there)."""

import pytest

from tests._torch import assert_same_logits, damp_residual_branches

timm = pytest.importorskip("timm")

CASES = [
    ("se_resnet50", "legacy_seresnet50"),
    ("se_resnext50_32x4d", "legacy_seresnext50_32x4d"),
    pytest.param("se_resnet101", "legacy_seresnet101", marks=pytest.mark.slow),
    pytest.param("se_resnet152", "legacy_seresnet152", marks=pytest.mark.slow),
    pytest.param("senet154", "legacy_senet154", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("name, timm_name", CASES)
def test_legacy_senet_logits(name, timm_name, tmp_path):
    torch_model = timm.create_model(timm_name, pretrained=False)
    assert_same_logits(name, torch_model, (64, 97), tmp_path, calibrate=True,
                       prepare=lambda m: damp_residual_branches(m, r"\.bn3\.(weight|bias)$"))


def test_weight_sets_are_declared():
    import kerascnn

    for name, timm_name in [("se_resnet50", "legacy_seresnet50"),
                            ("senet154", "legacy_senet154")]:
        entry = kerascnn.model_info(name)["weights"]["imagenet"] if "weights" in \
            kerascnn.model_info(name) else None
        if entry is None:  # model_info without weights: read the registry directly
            from kerascnn.weights.core import weight_sets

            entry = weight_sets(name)["imagenet"].as_dict()
        assert entry["source"] == f"timm:{timm_name}"
        assert entry["url"].endswith(f"{timm_name}.in1k/resolve/main/model.safetensors")
        assert entry["license"] == "Apache-2.0" and entry["classes"] == 1000
