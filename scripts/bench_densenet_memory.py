"""Memory and time of a DenseNet training step, plain vs memory-efficient.

Pleiss et al., "Memory-Efficient Implementation of DenseNets" (2017): recomputing each
layer's concatenation, BN and ReLU (and bottleneck 1x1 convolution) in the backward pass should cut the activation memory of a
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

With ``--tf-runtime`` the same comparison also runs where the saving is realized at
run time: each model trains in its own process with the TensorFlow backend
(``model.train_on_batch``, ``keras.remat`` = ``tf.recompute_grad``), and the script
prints the peak resident memory the training steps of ``--batch`` images add over the
process's memory after warm-up steps on two images (sampled every 2 ms), and the median
step time.

A step is forward + loss + backward + an SGD update of every weight (and the
BN moving statistics). Both models get the same weights and batch.

    python scripts/bench_densenet_memory.py
    python scripts/bench_densenet_memory.py --batch 64 --time-configs 100:12,250:24
    python scripts/bench_densenet_memory.py --batch 64 --tf-runtime --time-configs ''
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time

# ``--tf-worker`` is the TensorFlow-backend child process of ``--tf-runtime``.
os.environ["KERAS_BACKEND"] = "tensorflow" if "--tf-worker" in sys.argv else "jax"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import keras  # noqa: E402
import numpy as np  # noqa: E402

from kerascnn.models.densenet.model import DenseNetCIFAR  # noqa: E402

MB = 1024 * 1024


def make_step(model):
    """The jitted training step: loss, gradients, SGD update."""
    import jax

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
    import jax.numpy as jnp

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
    import jax

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


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def tf_worker(depth, growth_rate, memory_efficient, batch, steps, seed=0):
    """One model's TensorFlow training steps: peak RSS added by the steps, median time."""
    model = _build(depth, growth_rate, memory_efficient, seed)
    model.compile(keras.optimizers.SGD(0.01), keras.losses.SparseCategoricalCrossentropy(
        from_logits=True))
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 10, size=(batch,))
    # Trace and run the step on two images first: the memory a step of ``batch`` images then
    # adds to the process (its live activations) is what the high-water mark shows; after a
    # full-size step the allocator keeps that memory and later steps add nothing.
    for _ in range(2):
        model.train_on_batch(x[:2], y[:2])
    base = peak = _rss()
    done = threading.Event()

    def sample():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _rss())
            time.sleep(0.002)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    times = []
    for _ in range(steps + 1):  # the first full-size step may retrace: not timed
        t0 = time.perf_counter()
        loss = model.train_on_batch(x, y)
        times.append(time.perf_counter() - t0)
    done.set()
    times = times[1:]
    sampler.join()
    return {"step_peak_bytes": max(peak - base, 0), "step_s": statistics.median(times),
            "loss": float(loss)}


def tf_runtime(configs, batch, steps):
    """Runs :func:`tf_worker` in a fresh process per model and prints the comparison."""
    print(f"TensorFlow runtime (own process per model): batch {batch}, median of {steps} "
          "steps; step MB = peak RSS during the steps minus RSS after a 2-image warm-up")
    print(f"{'model':<20}{'mode':<11}{'step MB':>10}{'step s':>9}{'loss':>9}")
    for item in configs:
        depth, k = (int(v) for v in item.split(":"))
        name = f"densenet_bc{depth}_k{k}"
        res = {}
        for me in (False, True):
            cmd = [sys.executable, os.path.abspath(__file__), "--tf-worker",
                   f"{depth}:{k}:{int(me)}", "--batch", str(batch), "--steps", str(steps)]
            env = dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="3")
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
            res[me] = json.loads(out.stdout.strip().splitlines()[-1])
            r = res[me]
            print(f"{name:<20}{'efficient' if me else 'plain':<11}"
                  f"{r['step_peak_bytes'] / MB:>10.1f}{r['step_s']:>9.3f}{r['loss']:>9.4f}",
                  flush=True)
        mem = res[True]["step_peak_bytes"] / max(res[False]["step_peak_bytes"], 1)
        t = res[True]["step_s"] / res[False]["step_s"]
        print(f"{name:<20}ratio efficient/plain (TF runtime): step memory {mem:.3f}x, "
              f"time {t:.3f}x (goal: memory <= 0.4x at <= 1.25x time)", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--configs", default="100:12,250:24",
                        help="comma-separated depth:growth_rate of DenseNet-BC (CIFAR)")
    parser.add_argument("--time-configs", default="100:12",
                        help="the configs whose jitted step is compiled and timed ('' for none)")
    parser.add_argument("--tf-runtime", action="store_true",
                        help="also measure the TensorFlow runtime's peak memory and step time "
                             "(one process per model)")
    parser.add_argument("--tf-worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.tf_worker:
        depth, k, me = (int(v) for v in args.tf_worker.split(":"))
        print(json.dumps(tf_worker(depth, k, bool(me), args.batch, args.steps)))
        return
    import jax

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
    if args.tf_runtime:
        tf_runtime(args.configs.split(","), args.batch, args.steps)


if __name__ == "__main__":
    main()
