"""Local response normalization (Krizhevsky et al., "ImageNet Classification
with Deep Convolutional Neural Networks", NIPS 2012, section 3.3).

Channel ``i`` at position ``(x, y)`` is divided by a factor computed from the
``n`` neighbouring channels at the same position::

    b_i = a_i / (k + alpha' * sum_{j=max(0, i-n//2)}^{min(N-1, i+n//2)} a_j ** 2) ** beta

Two conventions for ``alpha'`` exist, and the same constants mean different
normalizations under them:

* AlexNet's paper (``alpha_per_window=False``, the default): ``alpha' = alpha``,
  ``alpha`` multiplies the plain sum; the paper's values are ``k=2, n=5,
  alpha=1e-4, beta=0.75`` (:data:`ALEXNET_LRN`).
* Caffe's ``LRN`` layer (``alpha_per_window=True``): ``alpha' = alpha / n``,
  ``alpha`` is per window. The GoogLeNet authors' released model (BVLC GoogLeNet)
  uses ``local_size 5, alpha 1e-4, beta 0.75`` and Caffe's default ``k=1``
  (:data:`GOOGLENET_LRN`).
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["LocalResponseNormalization", "ALEXNET_LRN", "GOOGLENET_LRN"]

# AlexNet's paper, section 3.3: k=2, n=5, alpha=1e-4, beta=0.75, alpha on the plain sum.
ALEXNET_LRN = dict(n=5, k=2.0, alpha=1e-4, beta=0.75, alpha_per_window=False)
# BVLC GoogLeNet (Caffe): local_size 5, alpha 1e-4 (divided by the window), beta 0.75, k 1.
GOOGLENET_LRN = dict(n=5, k=1.0, alpha=1e-4, beta=0.75, alpha_per_window=True)


@keras.saving.register_keras_serializable(package="kerascnn")
class LocalResponseNormalization(keras.layers.Layer):
    """Cross-channel local response normalization (no weights).

    Args:
        n: the number of channels in the window (odd; the
            window spans ``n // 2`` channels each side of the channel).
        k: additive constant.
        alpha: scale of the sum of squares.
        beta: exponent.
        axis: channel axis (-1 for channels_last, 1 for channels_first).
        alpha_per_window: False: ``alpha`` multiplies the sum of squares (AlexNet's
            paper); True: ``alpha / n`` does (Caffe's convention, BVLC GoogLeNet).
    """

    def __init__(self, n=5, k=2.0, alpha=1e-4, beta=0.75, axis=-1, alpha_per_window=False,
                 **kwargs):
        super().__init__(**kwargs)
        if not (isinstance(n, int) and not isinstance(n, bool) and n >= 1 and n % 2 == 1):
            raise ValueError(f"`n` must be a positive odd integer; got n={n!r}.")
        if not isinstance(alpha_per_window, bool):
            raise ValueError("`alpha_per_window` must be True or False; "
                             f"got alpha_per_window={alpha_per_window!r}.")
        self.n = n
        self.k = float(k)
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.axis = axis
        self.alpha_per_window = alpha_per_window

    def call(self, inputs):
        rank = len(inputs.shape)
        axis = self.axis % rank
        half = self.n // 2
        squared = ops.square(inputs)
        if half:
            pad = [[0, 0]] * rank
            pad[axis] = [half, half]
            padded = ops.pad(squared, pad)
            channels = ops.shape(inputs)[axis]
            total = None
            for offset in range(self.n):
                window = ops.slice(
                    padded,
                    [offset if d == axis else 0 for d in range(rank)],
                    [channels if d == axis else ops.shape(inputs)[d] for d in range(rank)],
                )
                total = window if total is None else total + window
        else:
            total = squared
        alpha = self.alpha / self.n if self.alpha_per_window else self.alpha
        return inputs / ops.power(self.k + alpha * total, self.beta)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"n": self.n, "k": self.k, "alpha": self.alpha, "beta": self.beta,
                       "axis": self.axis, "alpha_per_window": self.alpha_per_window})
        return config
