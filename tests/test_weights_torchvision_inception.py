"""torchvision's Inception v3 converted to ``inception_v3_tv``: equal logits at the default
size and an odd one (average pooling counting the padding, BN with scale, transform_input)."""

import numpy as np
import pytest

from ._torch import assert_same_logits, randomize_torch, save_safetensors, torch

torchvision = pytest.importorskip("torchvision")


def _torch_inception(**kwargs):
    # init_weights=False: scipy's truncated normal is slow and randomize_torch replaces it.
    return torchvision.models.inception_v3(weights=None, init_weights=False, **kwargs)


def test_inception_v3_tv_same_logits(tmp_path):
    """The ImageNet weights' configuration: transform_input=True, aux head in the file
    (skipped: the keras model has none)."""
    model = _torch_inception(aux_logits=True, transform_input=True)
    assert_same_logits("inception_v3_tv", model, (299, 139), tmp_path)


@pytest.mark.slow
def test_inception_v3_tv_without_transform_and_aux_head(tmp_path):
    """transform_input=False; aux_logits=True loads the auxiliary head (compared with
    torchvision's AuxLogits on the Mixed_6e output)."""
    import kerascnn

    model = randomize_torch(_torch_inception(aux_logits=True, transform_input=False))
    path = save_safetensors(model, tmp_path / "inc.safetensors")
    x = np.random.default_rng(0).normal(size=(1, 299, 299, 3)).astype("float32")
    seen = {}
    model.Mixed_6e.register_forward_hook(lambda m, i, o: seen.setdefault("6e", o))
    with torch.no_grad():
        main = model(torch.from_numpy(x.transpose(0, 3, 1, 2))).numpy()
        aux = model.AuxLogits(seen["6e"]).numpy()
    keras_model = kerascnn.create_model("inception_v3_tv", weights=str(path),
                                        transform_input=False, aux_logits=True,
                                        classifier_activation=None)
    got_main, got_aux = (np.asarray(t) for t in keras_model(x, training=False))
    for got, expected in ((got_main, main), (got_aux, aux)):
        assert np.abs(got - expected).max() <= 1e-4 * np.abs(expected).max()
