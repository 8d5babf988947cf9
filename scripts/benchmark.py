#!/usr/bin/env python3
"""Speed and size of registered models, optionally against their keras.applications twins.

    python3 scripts/benchmark.py --models resnet50 --batch-size 16 --image-size 64 --compare-keras
    python3 scripts/benchmark.py --models 'resnet*' --json runs/bench.json

Per model: trainable and total parameters, GMACs (multiply-accumulates of one image at the
benchmark's image size; FLOPs = 2 x MACs), training and inference images/s and step times
(median over the timed steps, after warm-up steps that are not timed), and peak memory.

Timing: one training step is ``model.train_on_batch`` (Adam, sparse categorical
cross-entropy) on a fixed random batch; one inference step is ``model.predict_on_batch``.
With ``--compare-keras`` the keras.applications twin named by ``model_info(name)
["keras_twin"]`` is built with the same arguments and timed alternately with kerascnn's model
(``--rounds`` rounds of ``--steps`` steps each, in turn), so both see the same machine load;
the ratios kerascnn/keras of images/s are printed (> 1: kerascnn faster).

Peak memory: on a GPU (TensorFlow backend), the allocator's peak bytes during that model's
timed steps (``tf.config.experimental.get_memory_info``, reset before each model's steps);
otherwise the process's peak resident set size (RSS, sampled every 2 ms from
``/proc/self/statm``) during that model's steps. RSS covers the whole process: with
``--compare-keras`` both models are resident, so compare the two with care.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", required=True, help="fnmatch pattern of registry names")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--image-size", type=int, default=None,
                   help="height and width (default: each model's default input size)")
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--steps", type=int, default=10, help="timed steps per round (default 10)")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first (default 3)")
    p.add_argument("--rounds", type=int, default=3,
                   help="rounds; with --compare-keras the two models alternate (default 3)")
    p.add_argument("--compare-keras", action="store_true",
                   help="time each model's keras.applications twin alternately, print ratios")
    p.add_argument("--no-train", action="store_true", help="time inference only")
    p.add_argument("--json", default=None, help="write the results to this JSON file")
    p.add_argument("--seed", type=int, default=0)
    return p


# --- memory -------------------------------------------------------------------------------

class _RssSampler:
    """Peak RSS of this process while active (sampled from /proc/self/statm)."""

    def __init__(self, interval=0.002):
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = None

    @staticmethod
    def rss() -> int:
        try:
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError):
            import resource

            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.rss())
            time.sleep(self.interval)

    def __enter__(self):
        self.peak = self.rss()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.rss())


class MemoryMeter:
    """Peak memory of a block: GPU allocator peak if a GPU is used, else peak process RSS."""

    def __init__(self):
        self.device = None
        try:
            import keras

            if keras.backend.backend() == "tensorflow":
                import tensorflow as tf

                if tf.config.list_logical_devices("GPU"):
                    self.device = "GPU:0"
        except Exception:  # no TensorFlow: RSS
            self.device = None
        self.method = ("peak GPU allocator bytes (tf.config.experimental.get_memory_info) "
                       "during the model's timed steps" if self.device else
                       "peak process RSS (sampled every 2 ms) during the model's timed steps")

    def measure(self, fn):
        """Runs fn(); returns (fn's result, peak bytes)."""
        if self.device:
            import tensorflow as tf

            tf.config.experimental.reset_memory_stats(self.device)
            result = fn()
            return result, tf.config.experimental.get_memory_info(self.device)["peak"]
        with _RssSampler() as sampler:
            result = fn()
        return result, sampler.peak


# --- timing -------------------------------------------------------------------------------

class Runner:
    """One model under test: its batch, its compiled step functions and its timings."""

    def __init__(self, label, model, batch_size, classes, seed=0, train=True):
        import numpy as np

        self.label, self.model, self.train = label, model, train
        rng = np.random.default_rng(seed)
        shape = (batch_size,) + tuple(model.input_shape[1:])
        self.x = rng.uniform(0, 1, size=shape).astype("float32")
        self.y = rng.integers(0, classes, size=(batch_size,))
        self.batch_size = batch_size
        self.times = {"train": [], "infer": []}
        self.peak = {"train": 0, "infer": 0}
        if train:
            import keras

            model.compile(optimizer=keras.optimizers.Adam(1e-4),
                          loss="sparse_categorical_crossentropy")

    def step(self, kind):
        if kind == "train":
            self.model.train_on_batch(self.x, self.y)
        else:
            self.model.predict_on_batch(self.x)

    def warmup(self, kind, steps):
        for _ in range(max(1, steps)):  # the first call traces and compiles
            self.step(kind)

    def timed(self, kind, steps, meter):
        def run():
            out = []
            for _ in range(steps):
                start = time.perf_counter()
                self.step(kind)
                out.append(time.perf_counter() - start)
            return out

        times, peak = meter.measure(run)
        self.times[kind].extend(times)
        self.peak[kind] = max(self.peak[kind], int(peak))

    def summary(self, kind) -> dict:
        if not self.times[kind]:
            return {}
        median = statistics.median(self.times[kind])
        return {
            f"{kind}_images_per_s": round(self.batch_size / median, 2),
            f"{kind}_step_ms": round(1000 * median, 2),
            f"{kind}_step_ms_min": round(1000 * min(self.times[kind]), 2),
            f"{kind}_timed_steps": len(self.times[kind]),
            f"{kind}_peak_memory_mb": round(self.peak[kind] / 2**20, 1),
        }


def benchmark_runners(runners, *, steps, warmup, rounds, meter, train=True) -> None:
    """Warms up, then times the runners alternately: round r times each runner in turn."""
    kinds = (["train"] if train else []) + ["infer"]
    for kind in kinds:
        for runner in runners:
            runner.warmup(kind, warmup)
        for r in range(rounds):
            # alternate the order each round so neither model always goes first
            order = runners if r % 2 == 0 else runners[::-1]
            for runner in order:
                runner.timed(kind, steps, meter)


def _params(model) -> tuple[int, int]:
    import numpy as np

    trainable = int(sum(np.prod(w.shape) for w in model.trainable_weights))
    return trainable, int(model.count_params())


def bench_model(name, args, meter) -> dict:
    import keras

    import kerascnn
    from kerascnn.utils.macs import count_macs

    info = kerascnn.model_info(name)
    default = tuple(info["default_input_shape"])
    size = args.image_size or default[0]
    shape = (size, size, default[-1])
    if size < info["min_input_size"]:
        return {"name": name, "skipped": f"image size {size} is below {name}'s minimum "
                                         f"{info['min_input_size']}"}
    kwargs = dict(input_shape=shape, classes=args.classes)
    model = kerascnn.create_model(name, **kwargs)
    trainable, total = _params(model)
    result = {"name": name, "input_shape": list(shape), "params": trainable,
              "total_params": total, "macs": count_macs(model)}
    result["gmacs"] = round(result["macs"] / 1e9, 4)
    runners = [Runner(name, model, args.batch_size, args.classes, args.seed, not args.no_train)]
    twin = info["keras_twin"]
    if args.compare_keras:
        if twin is None:
            result["keras"] = None
            result["keras_note"] = "no keras.applications twin"
        else:
            twin_model = getattr(keras.applications, twin)(weights=None, **kwargs)
            runners.append(Runner(f"keras.applications.{twin}", twin_model, args.batch_size,
                                  args.classes, args.seed, not args.no_train))
    benchmark_runners(runners, steps=args.steps, warmup=args.warmup, rounds=args.rounds,
                      meter=meter, train=not args.no_train)
    for kind in ("train", "infer"):
        result.update(runners[0].summary(kind))
    if len(runners) == 2:
        k = {"name": runners[1].label}
        k["params"], k["total_params"] = _params(runners[1].model)
        k["macs"] = count_macs(runners[1].model)
        for kind in ("train", "infer"):
            k.update(runners[1].summary(kind))
        result["keras"] = k
        for kind in ("train", "infer"):
            key = f"{kind}_images_per_s"
            if key in result and key in k:
                result[f"ratio_{kind}"] = round(result[key] / k[key], 3)
    keras.backend.clear_session()
    return result


def _table(results) -> str:
    head = ["model", "params", "GMACs", "train img/s", "train ms", "infer img/s", "infer ms",
            "peak MB (train/infer)"]
    rows = []

    def row(label, r):
        def g(key, fmt="{:.1f}"):
            return fmt.format(r[key]) if key in r else "—"

        return [label, f"{r['params']:,}", f"{r['macs'] / 1e9:.3f}", g("train_images_per_s"),
                g("train_step_ms"), g("infer_images_per_s"), g("infer_step_ms"),
                f"{g('train_peak_memory_mb', '{:.0f}')}/{g('infer_peak_memory_mb', '{:.0f}')}"]

    ratios = []
    for r in results:
        if "skipped" in r:
            rows.append([r["name"], "skipped: " + r["skipped"]] + [""] * 6)
            continue
        rows.append(row(r["name"], r))
        if r.get("keras"):
            rows.append(row("  " + r["keras"]["name"], r["keras"]))
            ratios.append(f"{r['name']}: kerascnn/keras images/s ratio: train "
                          f"{r.get('ratio_train', '—')}, inference {r.get('ratio_infer', '—')}")
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    lines = ["  ".join(str(x).ljust(w) for x, w in zip(line, widths)) for line in [head] + rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines + ratios)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    for flag in ("batch_size", "steps", "rounds", "classes"):
        if getattr(args, flag) < 1:
            print(f"error: --{flag.replace('_', '-')} must be a positive integer; "
                  f"got {getattr(args, flag)}", file=sys.stderr)
            return 2
    if args.warmup < 0 or (args.image_size is not None and args.image_size < 1):
        print("error: --warmup must be >= 0 and --image-size positive", file=sys.stderr)
        return 2
    import keras

    import kerascnn
    from kerascnn.utils.io import write_json_atomic

    names = kerascnn.list_models(args.models)
    if not names:
        print(f"error: no registered model matches {args.models!r}", file=sys.stderr)
        return 2
    keras.utils.set_random_seed(args.seed)
    meter = MemoryMeter()
    settings = {
        "models": args.models, "batch_size": args.batch_size, "image_size": args.image_size,
        "classes": args.classes, "steps": args.steps, "warmup": args.warmup,
        "rounds": args.rounds, "compare_keras": args.compare_keras, "train": not args.no_train,
        "backend": keras.backend.backend(), "keras": keras.__version__,
        "device": meter.device or "CPU", "cpu_count": os.cpu_count(),
        "platform": platform.platform(), "memory": meter.method,
        "macs": "multiply-accumulates of one image at the benchmark's image size "
                "(FLOPs = 2 x MACs)",
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    print(f"backend {settings['backend']}, device {settings['device']}, "
          f"{settings['cpu_count']} CPU cores, batch {args.batch_size}, "
          f"{args.warmup} warm-up + {args.rounds}x{args.steps} timed steps; "
          f"memory: {meter.method}", flush=True)
    results = []
    for name in names:
        results.append(bench_model(name, args, meter))
        if args.json:  # each model's result is kept even if a later one fails
            write_json_atomic(args.json, {"settings": settings, "results": results})
    print(_table(results))
    if args.json:
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
