"""Memory and time of a DenseNet training step, plain vs memory-efficient.

Seed 002 §8.4 (Pleiss et al., "Memory-Efficient Implementation of DenseNets",
2017): recomputing each layer's concatenation, BN and ReLU (and bottleneck 1x1
convolution) in the backward pass should cut the activation memory of a
training step (paper, Torch: 5,453 MB -> 1,655 MB) for +15-20% time.

What is measured (JAX backend):

* activation memory ("saved MB"): the bytes of every tensor the training step
  keeps from the forward pass for the backward pass (JAX's list of saved
  residuals of the loss, ``jax._src.ad_checkpoint.saved_residuals``), i.e.
  the memory the paper's figure counts. Parameters are excluded.
* "XLA temp MB": XLA's buffer assignment of the compiled step
  (``jax.jit(step).lower(...).compile().memory_analysis().temp_size_in_bytes``).
  On XLA:CPU this does NOT drop with recomputation: the CPU scheduler places
  the recomputed ops early (a toy chain of ``jax.checkpoint``-ed matmuls shows
  the same), so on CPU the saving is only realized by a runtime that frees
  intermediates (TF eager with ``tf.recompute_grad``, torch, or XLA:GPU).
* time: median wall time of ``--steps`` executed jitted steps after a warm-up
  (configs listed in ``--time-configs``; compiling a deep DenseNet on a small
  CPU takes minutes).

A step is forward + loss + backward + an SGD update of every weight (and the
BN moving statistics). Both models get the same weights and batch.

    python scripts/bench_densenet_memory.py
    python scripts/bench_densenet_memory.py --batch 64 --time-configs 100:12,250:24
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ["KERAS_BACKEND"] = "jax"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

from kerascnn.applications.densenet import DenseNetCIFAR  # noqa: E402

MB = 1024 * 1024


def make_step(model):
    """The jitted training step: loss, gradients, SGD update."""
    def loss_fn(trainable, non_trainable, x, y):
        logits, non_trainable = model.stateless_call(trainable, non_trainable, x, training=True)
        loss = keras.ops.mean(keras.losses.sparse_categorical_crossentropy(
            y, logits, from_logits=True))
        return loss, non_trainable

    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

    def step(trainable, non_trainable, x, y):
        (loss, non_trainable), grads = grad_fn(trainable, non_trainable, x, y)
        trainable = [w - 0.01 * g for w, g in zip(trainable, grads)]
        return loss, trainable, non_trainable

    return step


def _build(depth, growth_rate, memory_efficient, seed):
    keras.utils.set_random_seed(seed)
    return DenseNetCIFAR(depth=depth, growth_rate=growth_rate, bc=True,
                         memory_efficient=memory_efficient, classifier_activation=None)


def _inputs(model, batch, seed):
    trainable = [jnp.asarray(v.value) for v in model.trainable_variables]
    non_trainable = [jnp.asarray(v.value) for v in model.non_trainable_variables]
    rng = np.random.default_rng(seed)
    x = jnp.asarray(rng.normal(size=(batch, 32, 32, 3)).astype("float32"))
    y = jnp.asarray(rng.integers(0, 10, size=(batch,)))
    return trainable, non_trainable, x, y


def saved_bytes(model, batch, seed=0):
    """Bytes of the residuals the backward pass keeps (parameters excluded)."""
    from jax._src.ad_checkpoint import saved_residuals

    trainable, non_trainable, x, y = _inputs(model, batch, seed)

    def loss(trainable, non_trainable, x, y):
        logits, _ = model.stateless_call(trainable, non_trainable, x, training=True)
        return keras.ops.mean(keras.losses.sparse_categorical_crossentropy(
            y, logits, from_logits=True))

    total = 0
    for aval, origin in saved_residuals(loss, trainable, non_trainable, x, y):
        if origin.startswith("from the argument"):
            continue
        total += int(np.prod(aval.shape)) * aval.dtype.itemsize
    return total


def timed_step(model, batch, steps, seed=0):
    trainable, non_trainable, x, y = _inputs(model, batch, seed)
    compiled = jax.jit(make_step(model)).lower(trainable, non_trainable, x, y).compile()
    temp = compiled.memory_analysis().temp_size_in_bytes
    out = compiled(trainable, non_trainable, x, y)          # warm-up
    jax.block_until_ready(out)
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        out = compiled(trainable, non_trainable, x, y)
        jax.block_until_ready(out)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), temp, float(out[0])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--configs", default="100:12,250:24",
                        help="comma-separated depth:growth_rate of DenseNet-BC (CIFAR)")
    parser.add_argument("--time-configs", default="100:12",
                        help="the configs whose jitted step is compiled and timed ('' for none)")
    args = parser.parse_args(argv)
    timed = {c for c in args.time_configs.split(",") if c}
    print(f"JAX {jax.__version__} on {jax.devices()[0].platform}; keras {keras.__version__}; "
          f"batch {args.batch} of 32x32x3; time = median of {args.steps} steps after 1 warm-up")
    print("saved MB = activations kept from forward for backward (JAX saved residuals, "
          "parameters excluded); XLA temp MB = compiled step's temp buffers")
    print(f"{'model':<20}{'mode':<11}{'params':>12}{'saved MB':>10}{'XLA temp MB':>13}"
          f"{'step s':>9}{'loss':>9}")
    for item in args.configs.split(","):
        depth, k = (int(v) for v in item.split(":"))
        name = f"densenet_bc{depth}_k{k}"
        res = {}
        for me in (False, True):
            model = _build(depth, k, me, seed=0)
            params = sum(int(np.prod(v.shape)) for v in model.trainable_variables)
            saved = saved_bytes(model, args.batch)
            step_s = temp = loss = float("nan")
            if item in timed:
                step_s, temp, loss = timed_step(model, args.batch, args.steps)
            res[me] = (saved, step_s, temp)
            print(f"{name:<20}{'efficient' if me else 'plain':<11}{params:>12,}"
                  f"{saved / MB:>10.1f}{temp / MB:>13.1f}{step_s:>9.3f}{loss:>9.4f}", flush=True)
            keras.backend.clear_session()
        mem_ratio = res[True][0] / res[False][0]
        line = f"{name:<20}ratio efficient/plain: saved memory {mem_ratio:.3f}x"
        if item in timed:
            line += (f", XLA temp {res[True][2] / res[False][2]:.3f}x, "
                     f"time {res[True][1] / res[False][1]:.3f}x")
        print(line + " (goal: memory <= 0.4x at <= 1.25x time)", flush=True)


if __name__ == "__main__":
    main()
