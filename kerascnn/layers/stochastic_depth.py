"""Stochastic depth (Huang et al., "Deep Networks with Stochastic Depth", ECCV 2016).

A residual block computes ``x_{l+1} = shortcut(x_l) + b_l * F(x_l)`` in training,
with ``b_l ~ Bernoulli(p_l)`` drawn once per mini-batch, and
``shortcut(x_l) + p_l * F(x_l)`` at inference (Huang et al. 2016, "Deep Networks with Stochastic Depth").

The layer owns the residual branch ``F`` (a layer or functional sub-model) so that
a dropped block does not compute it: the draw selects one side of
``keras.ops.cond`` and only the taken side runs (forward and backward). The branch
runs through ``stateless_call`` inside the condition and its updated
non-trainable state (BatchNormalization moving statistics) is returned by both
sides and assigned afterwards; this keeps the condition free of side effects, so
the same code runs under TensorFlow graphs (``model.fit``) and JAX tracing.

``mode="sample"`` is the per-sample "drop path" variant: the branch is always
computed and each sample of the batch keeps it with probability ``p_l``.
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["StochasticDepth", "survival_probabilities"]

_MODES = ("batch", "sample")


def survival_probabilities(num_blocks: int, final_survival: float) -> list[float]:
    """Linear decay ``p_l = 1 - l / L * (1 - p_L)`` for blocks ``l = 1..L``.

    Args:
        num_blocks: ``L``, the number of residual blocks.
        final_survival: ``p_L``, the survival probability of the last block.

    Returns:
        ``L`` probabilities, decreasing from ``1 - (1 - p_L) / L`` to ``p_L``.
    """
    check_survival_probability(final_survival, "stochastic_depth")
    return [1.0 - i / num_blocks * (1.0 - final_survival) for i in range(1, num_blocks + 1)]


def check_survival_probability(p, argument="survival_probability", allow_zero=False):
    ok = isinstance(p, (int, float)) and not isinstance(p, bool) and (
        (0.0 <= p <= 1.0) if allow_zero else (0.0 < p <= 1.0))
    if not ok:
        interval = "[0, 1]" if allow_zero else "(0, 1]"
        raise ValueError(
            f"`{argument}` must be None or a survival probability in {interval}; "
            f"got {argument}={p!r}."
        )


@keras.saving.register_keras_serializable(package="kerascnn")
class StochasticDepth(keras.layers.Layer):
    """Adds a residual branch to a shortcut, dropping the branch at random.

    Called on ``[shortcut, branch_input]``; returns
    ``shortcut + b * branch(branch_input)`` in training and
    ``shortcut + p * branch(branch_input)`` at inference.

    Args:
        branch: the residual branch, a layer or model ``tensor -> tensor`` whose
            output has the shape of ``shortcut``.
        survival_probability: ``p``, the probability of keeping the branch.
        mode: ``"batch"`` (one draw per mini-batch; a dropped branch is not
            computed) or ``"sample"`` (per-sample drop path).
        seed: optional integer seed of the draws.
    """

    def __init__(self, branch, survival_probability=0.5, mode="batch", seed=None, **kwargs):
        super().__init__(**kwargs)
        check_survival_probability(survival_probability, allow_zero=True)
        if mode not in _MODES:
            raise ValueError(f"`mode` must be 'batch' or 'sample'; got mode={mode!r}.")
        self.branch = branch
        self.survival_probability = float(survival_probability)
        self.mode = mode
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        _, branch_shape = input_shape
        if not self.branch.built:
            self.branch.build(branch_shape)
        self.built = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def _keep_mask(self, batch_shape_like):
        shape = (ops.shape(batch_shape_like)[0],) + (1,) * (len(batch_shape_like.shape) - 1)
        draw = keras.random.uniform(shape, seed=self.seed_generator)
        return ops.cast(ops.less(draw, self.survival_probability), batch_shape_like.dtype)

    def call(self, inputs, training=False):
        shortcut, x = inputs
        p = self.survival_probability
        if not training:
            residual = self.branch(x, training=False)
            if p == 1.0:
                return shortcut + residual
            return shortcut + ops.cast(p, residual.dtype) * residual
        if self.mode == "sample":
            residual = self.branch(x, training=True)
            return shortcut + self._keep_mask(residual) * residual

        keep = ops.less(keras.random.uniform((), seed=self.seed_generator), p)
        trainable = list(self.branch.trainable_variables)
        non_trainable = list(self.branch.non_trainable_variables)

        def run_branch():
            residual, new_state = self.branch.stateless_call(
                [v.value for v in trainable], [v.value for v in non_trainable], x,
                training=True)
            return shortcut + residual, list(new_state)

        def skip_branch():
            return shortcut, [ops.convert_to_tensor(v.value) for v in non_trainable]

        outputs, new_state = ops.cond(keep, run_branch, skip_branch)
        for variable, value in zip(non_trainable, new_state):
            variable.assign(value)
        return outputs

    def compute_macs(self, input_shape) -> int:
        """MACs of the branch (inference computes it for every block)."""
        from kerascnn.utils.macs import count_macs, layer_macs

        if isinstance(self.branch, keras.Model):
            return count_macs(self.branch)
        _, branch_shape = input_shape
        return layer_macs(self.branch, [branch_shape],
                          [self.branch.compute_output_shape(branch_shape)])

    def get_config(self):
        config = super().get_config()
        config.update({
            "branch": keras.saving.serialize_keras_object(self.branch),
            "survival_probability": self.survival_probability,
            "mode": self.mode,
            "seed": self.seed,
        })
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["branch"] = keras.saving.deserialize_keras_object(config["branch"])
        return cls(**config)
