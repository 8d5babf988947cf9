"""Random weights for the twin and transfer tests.

A freshly built model has zero biases, BN gamma 1, beta 0, moving mean 0 and variance 1, so
copying a bias or a BN layer to the wrong place changes nothing and a transfer test would
pass with the mix-up. Every weight and BN statistic is drawn at random first.
"""

import numpy as np


def randomize_weights(model, seed=0):
    """Assigns random values to every weight of ``model``: kernels scaled by their fan-in
    (deep twins stay finite), BN gammas and variances in [0.5, 1.5], the rest N(0, 0.2)."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        if "variance" in w.path or "gamma" in w.path:
            value = rng.uniform(0.5, 1.5, size=w.shape)
        elif len(w.shape) >= 2:
            fan_in = int(np.prod(w.shape[:-1]))
            value = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=w.shape)
        else:
            value = rng.normal(0.0, 0.2, size=w.shape)
        w.assign(value.astype(w.dtype))
    return model


def swap_two_batch_norms(model):
    """Exchanges the weights of the first two BatchNormalization layers of equal width."""
    bns = [layer for layer in model.layers if type(layer).__name__ == "BatchNormalization"]
    by_width = {}
    for layer in bns:
        by_width.setdefault(layer.gamma.shape if layer.gamma is not None else layer.beta.shape,
                            []).append(layer)
    first, second = next(group for group in by_width.values() if len(group) >= 2)[:2]
    a, b = first.get_weights(), second.get_weights()
    first.set_weights(b)
    second.set_weights(a)
    return first.name, second.name
