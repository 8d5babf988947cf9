"""Epoch time of a CIFAR ResNet with stochastic depth against the same model without it.

Stochastic depth (Huang et al. 2016) skips the residual branch of a dropped
block, so with the linear decay to ``p_L = 0.5`` a training epoch computes on
average ``(3L - 1) / 4`` of the ``L`` blocks. Both models are built, compiled and
warmed up (graph tracing), then timed epochs alternate between them on the same
slice of the CIFAR-10 subset; the script prints every epoch time, the medians
and their ratio.

    PYTHONPATH=$PWD python scripts/bench_stochastic_depth.py --train-size 512 --rounds 3
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
    parser.add_argument("--rounds", type=int, default=3, help="timed epochs per model")
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

    # Wall time, and the CPU time of this process (all its threads): on a shared
    # machine the second is less sensitive to what other processes do.
    times = {label: [] for label in models}
    cpu_times = {label: [] for label in models}
    for r in range(args.rounds):
        order = list(models) if r % 2 == 0 else list(models)[::-1]
        for label in order:
            start, cpu_start = time.perf_counter(), time.process_time()
            models[label].fit(x, y, batch_size=args.batch_size, epochs=1, verbose=0)
            times[label].append(time.perf_counter() - start)
            cpu_times[label].append(time.process_time() - cpu_start)
            print(f"round {r + 1} {label}: wall {times[label][-1]:.2f} s, "
                  f"cpu {cpu_times[label][-1]:.2f} s", flush=True)

    blocks = sum(isinstance(layer, kerascnn.layers.StochasticDepth)
                 for layer in models["stochastic_depth"].layers)
    expected = sum(kerascnn.layers.survival_probabilities(blocks, args.p_final)) / blocks
    plain = statistics.median(times["plain"])
    sd = statistics.median(times["stochastic_depth"])
    print(f"backend {keras.backend.backend()}, {args.model}, {len(x)} images, batch "
          f"{args.batch_size}, {args.rounds} timed epochs per model, mode {args.mode}")
    print(f"median epoch: plain {plain:.2f} s, stochastic depth p_L={args.p_final} {sd:.2f} s")
    print(f"fastest epoch: plain {min(times['plain']):.2f} s, stochastic depth "
          f"{min(times['stochastic_depth']):.2f} s, ratio "
          f"{min(times['stochastic_depth']) / min(times['plain']):.3f}")
    cpu_plain = statistics.median(cpu_times["plain"])
    cpu_sd = statistics.median(cpu_times["stochastic_depth"])
    print(f"median epoch CPU time: plain {cpu_plain:.2f} s, stochastic depth {cpu_sd:.2f} s, "
          f"ratio {cpu_sd / cpu_plain:.3f}")
    print(f"ratio stochastic_depth / plain = {sd / plain:.3f} "
          f"(expected fraction of blocks computed {expected:.3f}; goal <= 0.80)")


if __name__ == "__main__":
    main()
