"""Epoch time of a CIFAR ResNet with stochastic depth against the same model without it.

Stochastic depth (Huang et al. 2016) skips the residual branch of a dropped
block, so with the linear decay to ``p_L = 0.5`` a training epoch computes on
average ``(3L - 1) / 4`` of the ``L`` blocks. Both models are built, compiled and
warmed up (graph tracing), then timed epochs alternate between them on the same
slice of the CIFAR-10 subset; the script prints every epoch time, the medians
and their ratio.

    PYTHONPATH=$PWD python scripts/bench_stochastic_depth.py --train-size 512 --rounds 6
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import kerascnn  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
DEFAULT_DATA = pathlib.Path(os.environ.get("KERASCNN_SHARED", ROOT.parent / "shared")) / \
    "data" / "cifar10-subset" / "cifar10_subset.npz"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--model", default="resnet110_cifar")
    parser.add_argument("--p-final", type=float, default=0.5, help="p_L of stochastic depth")
    parser.add_argument("--mode", default="batch", choices=("batch", "sample"))
    parser.add_argument("--train-size", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=6, help="timed epochs per model")
    args = parser.parse_args()

    with np.load(args.data, allow_pickle=False) as data:
        x = data["x_train"][: args.train_size].astype("float32") / 255.0
        y = data["y_train"][: args.train_size]
    keras.utils.set_random_seed(0)

    models = {}
    for label, sd in (("plain", None), ("stochastic_depth", args.p_final)):
        model = kerascnn.create_model(args.model, stochastic_depth=sd,
                                      stochastic_depth_mode=args.mode)
        model.compile(keras.optimizers.SGD(0.1, momentum=0.9), "sparse_categorical_crossentropy")
        start = time.perf_counter()
        model.fit(x, y, batch_size=args.batch_size, epochs=1, verbose=0)  # trace + warm up
        print(f"{label}: warm-up epoch (includes tracing) {time.perf_counter() - start:.1f} s",
              flush=True)
        models[label] = model

    # Per epoch: the wall time of fit(), the sum of its step times (the training computation;
    # fit's epoch start, where the data iterator is made, sometimes stalls for ~2 s whatever
    # the model) and the CPU time of this process (all threads; on a shared machine less
    # sensitive to other processes).
    timer = _StepTimer()
    times = {label: {"epoch": [], "steps": [], "cpu": []} for label in models}
    for r in range(args.rounds):
        order = list(models) if r % 2 == 0 else list(models)[::-1]
        for label in order:
            start, cpu_start = time.perf_counter(), time.process_time()
            models[label].fit(x, y, batch_size=args.batch_size, epochs=1, verbose=0,
                              callbacks=[timer])
            t = times[label]
            t["epoch"].append(time.perf_counter() - start)
            t["cpu"].append(time.process_time() - cpu_start)
            t["steps"].append(sum(timer.steps))
            print(f"round {r + 1} {label}: epoch {t['epoch'][-1]:.2f} s, steps "
                  f"{t['steps'][-1]:.2f} s, cpu {t['cpu'][-1]:.2f} s", flush=True)

    blocks = sum(isinstance(layer, kerascnn.layers.StochasticDepth)
                 for layer in models["stochastic_depth"].layers)
    expected = sum(kerascnn.layers.survival_probabilities(blocks, args.p_final)) / blocks
    print(f"backend {keras.backend.backend()}, {args.model}, {len(x)} images, batch "
          f"{args.batch_size}, {args.rounds} timed epochs per model, mode {args.mode}, "
          f"p_L={args.p_final}")
    ratios = {}
    for key, what in (("epoch", "epoch wall time"), ("steps", "training steps of an epoch"),
                      ("cpu", "epoch CPU time")):
        plain = statistics.median(times["plain"][key])
        sd = statistics.median(times["stochastic_depth"][key])
        ratios[key] = sd / plain
        print(f"median {what}: plain {plain:.2f} s, stochastic depth {sd:.2f} s, "
              f"ratio {sd / plain:.3f}")
    print(f"ratio stochastic_depth / plain = {ratios['steps']:.3f} (training steps; epoch wall "
          f"{ratios['epoch']:.3f}; expected fraction of blocks computed {expected:.3f}; "
          "goal <= 0.80)")


class _StepTimer(keras.callbacks.Callback):
    """Durations of the training steps of the last epoch."""

    def on_epoch_begin(self, epoch, logs=None):
        self.steps = []

    def on_train_batch_begin(self, batch, logs=None):
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.steps.append(time.perf_counter() - self._start)


if __name__ == "__main__":
    main()
