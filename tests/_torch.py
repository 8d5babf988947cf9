"""Equality of a converted checkpoint with its source model (the weight-conversion tests).

The torch model gets random weights and random BN statistics (a fresh model's gamma=1,
beta=0, mean=0, var=1 would hide a BN mix-up), is saved as ``.safetensors`` and loaded with
``create_model(name, weights=path)``; the logits must agree within 1e-4 of the largest
logit at every size given (use two, one odd).
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")


def randomize_torch(model, seed=0):
    """Random parameters (kernels scaled by fan-in) and BN statistics; eval mode."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=g) * (2.0 / fan_in) ** 0.5)
            elif name.endswith("weight"):  # BN gamma / LayerNorm
                p.copy_(torch.rand(p.shape, generator=g) + 0.5)
            else:
                p.copy_(torch.randn(p.shape, generator=g) * 0.2)
        for name, b in model.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(torch.randn(b.shape, generator=g) * 0.2)
            elif name.endswith("running_var"):
                b.copy_(torch.rand(b.shape, generator=g) + 0.5)
    return model.eval()


def calibrate_bn(model, size, channels=3, seed=0):
    """BN statistics measured on random inputs, then perturbed (means moved by 0.1 std,
    variances scaled by 0.7..1.3): activations stay near unit scale, as in a trained
    network. With :func:`randomize_torch`'s statistics alone a deep residual network's
    activations grow block after block and its float32 logits already differ from its
    own float64 ones by more than 1e-4 (SE-ResNet-50 at 97x97: 4e-4)."""
    g = torch.Generator().manual_seed(seed + 1)
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the calibration batch
    model.train()
    with torch.no_grad():
        model(torch.randn((4, channels, size, size), generator=g))
        for m in bns:
            m.momentum = 0.1
            std = m.running_var.sqrt()
            m.running_mean.add_(torch.randn(m.running_mean.shape, generator=g) * 0.1 * std)
            m.running_var.mul_(torch.rand(m.running_var.shape, generator=g) * 0.6 + 0.7)
    return model.eval()


def damp_residual_branches(model, pattern, factor=0.2):
    """Scales the parameters whose names match the regular expression ``pattern`` (the
    last BN of each residual branch): with random weights a network of 36-block stages is
    chaotic (SE-ResNet-152's float32 logits differ from its float64 ones by 8% even after
    :func:`calibrate_bn`); with its branches damped, by 3e-7. The values stay random."""
    import re

    with torch.no_grad():
        for name, p in model.named_parameters():
            if re.search(pattern, name):
                p.mul_(factor)
    return model


def save_safetensors(model, path):
    from safetensors.torch import save_file

    tensors = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    save_file(tensors, str(path))
    return path


def torch_logits(model, x_nhwc):
    with torch.no_grad():
        out = model(torch.from_numpy(np.ascontiguousarray(x_nhwc.transpose(0, 3, 1, 2))))
    if isinstance(out, (tuple, list)):
        out = out[0]
    return out.numpy()


def assert_same_logits(name, torch_model, sizes, tmp_path, channels=3, batch=2, seed=0,
                       calibrate=False, prepare=None, images=None, **create_kwargs):
    """Builds ``name`` with the torch model's weights once per size and compares logits.

    ``calibrate``: BN statistics from :func:`calibrate_bn` at the first size (deep
    residual networks, whose float32 outputs are otherwise too ill-conditioned to
    compare at 1e-4). ``prepare(torch_model)``: a last change to the random weights
    (e.g. :func:`damp_residual_branches` for the deepest networks). ``images``: the
    NHWC inputs (a weight set's transform of real photographs) instead of random ones;
    ``sizes`` is then only the size BN is calibrated at."""
    import kerascnn

    randomize_torch(torch_model, seed)
    if calibrate:
        calibrate_bn(torch_model, sizes[0], channels, seed)
    if prepare is not None:
        with torch.no_grad():
            prepare(torch_model)
    path = save_safetensors(torch_model, tmp_path / f"{name}.safetensors")
    rng = np.random.default_rng(seed)
    for size in (sizes if images is None else (images.shape[1],)):
        x = rng.normal(size=(batch, size, size, channels)).astype("float32") if images is None \
            else np.asarray(images, np.float32)
        expected = torch_logits(torch_model, x)
        model = kerascnn.create_model(name, weights=path, input_shape=(size, size, channels),
                                      classifier_activation=None, **create_kwargs)
        got = np.asarray(model(x, training=False))
        assert got.shape == expected.shape, (size, got.shape, expected.shape)
        scale = np.abs(expected).max()
        diff = np.abs(got - expected).max()
        assert diff <= 1e-4 * scale, f"{name} at {size}: max |diff| {diff:.3g}, max |logit| {scale:.3g}"
