#!/usr/bin/env python
"""Input pipeline throughput, and end-to-end fit vs model-only step rate (one run).

    python scripts/bench_pipeline.py [--data-root ../shared/data] [--model resnet50]
        [--image-size 32] [--batch-size 64] [--steps N] [--epochs 3]

1. Pipeline alone: images/s of ``kerascnn.data.make_dataset`` with the
   ``standard`` augmentation (and ``none`` as the baseline) on the SIGNS folder
   and the CIFAR-10 subset, iterated without a model.
2. The same model and batch trained two ways: on one cached batch repeated
   (model-only step rate: no input work at all) and on the ``standard``
   augmented CIFAR pipeline (end to end). The ratio end-to-end / model-only is
   the figure to watch: >= 0.95 means the input pipeline is not the bottleneck.
"""

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def pipeline_rate(x, y, size, augment, batch_size, epochs):
    from kerascnn.data import channel_stats, make_dataset

    mean, std = channel_stats(x, 3)
    ds = make_dataset(x, y, batch_size=batch_size, image_size=(size, size), training=True,
                      seed=0, mean=mean, std=std, augment=augment)
    for _ in ds:  # warm-up epoch (graph tracing, thread pools)
        pass
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        for _ in ds:
            pass
        times.append(time.perf_counter() - start)
    return len(y) / statistics.median(times)


def fit_seconds(model, ds, steps):
    """Wall time of one fit epoch of ``steps`` batches (compiled already)."""
    import keras

    marks = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            marks.append(time.perf_counter() - self.start)

    model.fit(ds.take(steps), epochs=1, verbose=0, callbacks=[Timer()])
    return marks[0]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p.add_argument("--data-root", default=os.path.join(os.path.dirname(here), "shared", "data"))
    p.add_argument("--model", default="resnet50")
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--steps", type=int, default=None,
                   help="steps per timed epoch (default: one pass over the training split, so "
                        "the pipeline's start-up is amortised as in a real epoch)")
    p.add_argument("--epochs", type=int, default=3)
    args = p.parse_args(argv)

    import keras
    import tensorflow as tf

    from kerascnn import api
    from kerascnn.data import channel_stats, load_source, make_dataset

    signs = load_source(os.path.join(args.data_root, "signs", "64x64_SIGNS"), val_fraction=0)
    cifar = load_source(os.path.join(args.data_root, "cifar10-subset", "cifar10_subset.npz"),
                        val_fraction=0)
    print(f"devices: {[d.device_type for d in tf.config.list_physical_devices()]}, "
          f"CPU cores visible: {os.cpu_count()}")
    print("1. input pipeline alone (images/s, median of "
          f"{args.epochs} epochs after a warm-up, batch {args.batch_size})")
    for name, source, size in (("signs", signs, 64), ("cifar10_subset", cifar, 32)):
        x, y = source.splits["train"]
        base = pipeline_rate(x, y, size, None, args.batch_size, args.epochs)
        std = pipeline_rate(x, y, size, "standard", args.batch_size, args.epochs)
        print(f"   {name:15s} {size}x{size}  none: {base:9.0f} img/s   standard: {std:9.0f} "
              f"img/s   (standard/none {std / base:.2f})")

    x, y = cifar.splits["train"]
    if args.steps is None:
        args.steps = len(y) // args.batch_size
    size = args.image_size
    mean, std = channel_stats(x, 3)
    keras.utils.set_random_seed(0)
    model = api.create_model(args.model, input_shape=(size, size, 3), classes=10)
    model.compile(keras.optimizers.SGD(0.01, momentum=0.9),
                  keras.losses.SparseCategoricalCrossentropy(), jit_compile=False)
    import warnings

    warnings.filterwarnings("ignore", message=".*shuffle=True.*")
    pipeline = make_dataset(x, y, batch_size=args.batch_size, image_size=(size, size),
                            training=True, seed=0, mean=mean, std=std, augment="standard",
                            drop_remainder=True)
    one = pipeline.take(1).cache().repeat()
    for ds in (one, pipeline):  # compile once for both
        model.fit(ds.take(2), epochs=1, verbose=0)
    # alternate the two so that load from other users of a shared machine hits both alike
    pairs = [(fit_seconds(model, one, args.steps), fit_seconds(model, pipeline, args.steps))
             for _ in range(args.epochs)]
    model_only = statistics.median(p[0] for p in pairs)
    end_to_end = statistics.median(p[1] for p in pairs)
    n = args.steps * args.batch_size
    print(f"2. {args.model} at {size}x{size}, batch {args.batch_size}, {args.steps} steps "
          f"per timed epoch, median of {args.epochs} alternating rounds")
    print(f"   model-only (one cached batch): {n / model_only:8.1f} img/s "
          f"({model_only / args.steps * 1000:.1f} ms/step)")
    print(f"   end to end (standard aug)    : {n / end_to_end:8.1f} img/s "
          f"({end_to_end / args.steps * 1000:.1f} ms/step)")
    print(f"   ratio end-to-end / model-only: {model_only / end_to_end:.3f} (goal >= 0.95)")


if __name__ == "__main__":
    main()
