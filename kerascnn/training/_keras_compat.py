"""Compatibility shim for Keras 3 + ``tf.distribute.MultiWorkerMirroredStrategy``.

Keras 3 (up to at least 3.15) cannot ``fit`` under MultiWorkerMirroredStrategy
(keras-team/keras issue 20585): ``reduce_per_replica`` averages the per-replica
scalar metrics with ``strategy.reduce("MEAN", v, axis=0)``, which fails on
scalars, and ``_maybe_symbolic_build`` reduces the first input batch eagerly,
which the collective ops reject. :func:`multiworker_fit_context` works around
both, only while a multi-worker run trains:

* scalar metrics are averaged over replicas with ``axis=None``;
* the model's pinned strategy is cleared so Keras builds lazily, and ``fit``
  runs inside ``strategy.scope()`` so Keras still finds the strategy.
"""

from __future__ import annotations

import contextlib

__all__ = ["multiworker_fit_context"]


@contextlib.contextmanager
def multiworker_fit_context(model, strategy):
    import tensorflow as tf
    from keras.src import tree
    from keras.src.backend.tensorflow import trainer as tf_trainer

    original = tf_trainer.reduce_per_replica

    def reduce_per_replica(values, strategy_, reduction):
        if reduction in ("auto", "mean") and tf_trainer._collective_all_reduce_multi_worker(
                strategy_):
            def _mean(v):
                if isinstance(v, tf.distribute.DistributedValues):
                    return strategy_.reduce("MEAN", v, axis=None)
                return v

            return tree.map_structure(_mean, values)
        return original(values, strategy_, reduction)

    if model.optimizer is not None and not model.optimizer.built:
        with strategy.scope():
            model.optimizer.build(model.trainable_variables)
    pinned = model._distribute_strategy
    tf_trainer.reduce_per_replica = reduce_per_replica
    model._distribute_strategy = None
    try:
        with strategy.scope():
            yield
    finally:
        tf_trainer.reduce_per_replica = original
        model._distribute_strategy = pinned
