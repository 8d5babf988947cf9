"""torchvision's DenseNets converted to ``densenet*_tv``: equal logits at two sizes (one odd)."""

import numpy as np
import pytest

from ._torch import assert_same_logits, randomize_torch, save_safetensors, torch  # noqa: F401

torchvision = pytest.importorskip("torchvision")


@pytest.mark.parametrize("depth, sizes", [
    (121, (64, 97)),
    pytest.param(161, (224, 97), marks=pytest.mark.slow),
    pytest.param(169, (64, 97), marks=pytest.mark.slow),
    pytest.param(201, (224, 97), marks=pytest.mark.slow),
])
def test_densenet_tv_same_logits(depth, sizes, tmp_path):
    model = getattr(torchvision.models, f"densenet{depth}")(weights=None)
    assert_same_logits(f"densenet{depth}_tv", model, sizes, tmp_path)


def test_densenet_old_keys_and_headless(tmp_path):
    """torchvision's original ``norm.1``-style keys load; include_top=False skips the
    classifier and gives the features before pooling."""
    from safetensors.torch import save_file

    import kerascnn

    model = randomize_torch(torchvision.models.densenet121(weights=None))
    old = {}
    for key, value in model.state_dict().items():
        for part in ("norm1", "norm2", "conv1", "conv2"):
            if ".denselayer" in key and f".{part}." in key:
                key = key.replace(f".{part}.", f".{part[:-1]}.{part[-1]}.")
        old[key] = value.contiguous()
    assert any(".norm.1." in k for k in old)
    path = tmp_path / "old.safetensors"
    save_file(old, str(path))
    x = np.random.default_rng(1).normal(size=(1, 64, 64, 3)).astype("float32")
    with torch.no_grad():
        f = model.features(torch.from_numpy(x.transpose(0, 3, 1, 2)))
        expected = torch.relu(f).numpy().transpose(0, 2, 3, 1)
    keras_model = kerascnn.create_model("densenet121_tv", weights=str(path), include_top=False,
                                        input_shape=(64, 64, 3))
    got = np.asarray(keras_model(x, training=False))
    assert np.abs(got - expected).max() <= 1e-4 * np.abs(expected).max()
