#!/usr/bin/env python3
"""Speed and size of registered models, on every Keras backend, side by side with timm.

    python3 scripts/benchmark.py --models resnet50 --batch-size 16 --image-size 64 --compare-keras
    python3 scripts/benchmark.py --models resnet50 --image-size 128 --batch-size 32 \\
        --backend tensorflow,jax,torch --compare timm --json /tmp/bench.json
    python3 scripts/benchmark.py --models resnet50 --backend jax --device gpu \\
        --precision mixed --compare timm --batch-size 256 --json $OUT/gpu.json

Per model: trainable and total parameters, GMACs (multiply-accumulates of one image at the
benchmark's image size; FLOPs = 2 x MACs), training and inference images/s and step times
(median over the timed steps, after warm-up steps that are not timed), and peak memory.

Timing: one training step is ``model.train_on_batch`` (Adam, sparse categorical
cross-entropy) on a fixed random batch (synthetic data: no input pipeline is timed); one
inference step is ``model.predict_on_batch``. Both return host arrays, so a step on a GPU is
timed to its end.

Backends: without ``--backend`` the model runs in this process on the current Keras backend.
``--backend tensorflow,jax,torch`` (or the flag repeated) runs each backend in its own
process, with that backend's fastest honest settings on the device (data format,
``jit_compile``, XLA flags: ``kerascnn.utils.backend_speed``; each is printed in the table).
No backend needs TensorFlow but ``tensorflow`` itself.

``--compare timm`` builds the same architecture from timm in PyTorch, in a process of its
own, in up to three variants (``--timm-variants``): eager (NCHW), channels_last memory
format, and ``torch.compile`` of the channels_last model where it compiles; a variant that
fails says why in the JSON. Every runner (each backend, each timm variant, the
keras.applications twin) is timed in turn, ``--rounds`` rounds of ``--steps`` steps, the
order reversed every other round, so all see the same machine load; ratios are against the
fastest timm variant (> 1: kerascnn faster). ``--compare-keras`` adds the keras.applications
twin (``model_info(name)["keras_twin"]``) on each backend, with kerascnn/keras ratios.

Precision: ``float32``; ``bfloat16`` (Keras policy ``bfloat16``, timm ``model.bfloat16()``:
weights and activations in bfloat16); ``mixed`` (Keras ``mixed_bfloat16``, timm
``torch.autocast(bfloat16)``: float32 weights, bfloat16 compute).

Peak memory: on a GPU, the framework allocator's peak bytes (TensorFlow and torch reset it
before each runner's timed steps; JAX's peak is the process's since its start); otherwise the
process's peak resident set size (RSS, sampled every 2 ms from ``/proc/self/statm``) during
the runner's timed steps. RSS covers the whole process: a backend's process holds both its
kerascnn model and, with ``--compare-keras``, the twin.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

BACKENDS = ("tensorflow", "jax", "torch")
PRECISIONS = ("float32", "bfloat16", "mixed")
KERAS_POLICY = {"float32": "float32", "bfloat16": "bfloat16", "mixed": "mixed_bfloat16"}
TIMM_VARIANTS = ("eager", "channels_last", "compile")

# kerascnn name -> the same architecture in timm (random weights: only the graph matters).
# Differences that change the work are printed beside the figures (params and GMACs of both).
TIMM_TWINS = {
    "resnet18": "resnet18", "resnet34": "resnet34", "resnet50": "resnet50",
    "resnet101": "resnet101", "resnet152": "resnet152",
    "densenet121": "densenet121", "densenet161": "densenet161",
    "densenet169": "densenet169", "densenet201": "densenet201",
    "mobilenet": "mobilenetv1_100",
    "vgg11": "vgg11", "vgg13": "vgg13", "vgg16": "vgg16", "vgg19": "vgg19",
    "vgg11_bn": "vgg11_bn", "vgg13_bn": "vgg13_bn", "vgg16_bn": "vgg16_bn",
    "vgg19_bn": "vgg19_bn",
    "inception_v3": "inception_v3", "inception_v4": "inception_v4",
    "inception_resnet_v2": "inception_resnet_v2",
    "xception": "legacy_xception",
}


def timm_twin(name: str) -> str | None:
    """The timm model of the same architecture as kerascnn's ``name``, or None."""
    return TIMM_TWINS.get(name)


def _backend_list(values) -> list[str]:
    out = []
    for value in values or ():
        for b in value.split(","):
            b = b.strip()
            if b and b not in out:
                out.append(b)
    return out


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
                   help="rounds; all runners take turns within each round (default 3)")
    p.add_argument("--backend", action="append", default=None,
                   help="tensorflow, jax and/or torch (comma-separated or repeated): each in "
                        "its own process (default: the current backend, in this process)")
    p.add_argument("--precision", default="float32",
                   help="float32 (default), bfloat16 or mixed (bfloat16 compute, float32 "
                        "weights)")
    p.add_argument("--device", default="cpu",
                   help="cpu (default) or gpu: where every backend and timm run")
    p.add_argument("--compare", default=None,
                   help="timm: time the same architecture from timm in PyTorch alongside")
    p.add_argument("--timm-variants", default=",".join(TIMM_VARIANTS),
                   help="with --compare timm: which of eager, channels_last, compile "
                        "(default all three)")
    p.add_argument("--data-format", default="auto",
                   help="auto (each backend's fastest), channels_last or channels_first")
    p.add_argument("--jax-conv", default="auto",
                   help="JAX on a CPU: auto (kerascnn's Conv2D computes 1x1, small-map and stem "
                        "convolutions as patch products, DepthwiseConv2D as a sum over taps) "
                        "or native (XLA's convolution for all)")
    p.add_argument("--compare-keras", action="store_true",
                   help="time each model's keras.applications twin alternately, print ratios")
    p.add_argument("--no-train", action="store_true", help="time inference only")
    p.add_argument("--json", default=None, help="write the results to this JSON file")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--plugin", default=None,
                   help="a Python file run first in every process of the benchmark, with "
                        "`benchmark` (this script) and `role` (driver, keras or timm) defined: "
                        "to register your own models and their timm twins "
                        "(benchmark.TIMM_TWINS)")
    return p


def run_plugin(path, role) -> None:
    """Runs the --plugin file in this process (see --help)."""
    if path:
        with open(path) as f:
            code = compile(f.read(), path, "exec")
        exec(code, {"benchmark": sys.modules[__name__], "role": role,  # noqa: S102
                    "__name__": "__benchmark_plugin__", "__file__": path})


def check_args(args) -> str | None:
    """The first thing wrong with the arguments, as one line, or None."""
    for flag in ("batch_size", "steps", "rounds", "classes"):
        if getattr(args, flag) < 1:
            return (f"--{flag.replace('_', '-')} must be a positive integer; "
                    f"got {getattr(args, flag)}")
    if args.warmup < 0 or (args.image_size is not None and args.image_size < 1):
        return "--warmup must be >= 0 and --image-size positive"
    for b in _backend_list(args.backend):
        if b not in BACKENDS:
            return f"--backend must be tensorflow, jax or torch (comma-separated); got {b!r}"
    if args.backend is not None and not _backend_list(args.backend):
        return "--backend must be tensorflow, jax or torch (comma-separated); got ''"
    if args.precision not in PRECISIONS:
        return f"--precision must be float32, bfloat16 or mixed; got {args.precision!r}"
    if args.device not in ("cpu", "gpu"):
        return f"--device must be cpu or gpu; got {args.device!r}"
    if args.compare not in (None, "timm"):
        return f"--compare must be timm; got {args.compare!r}"
    variants = [v.strip() for v in args.timm_variants.split(",") if v.strip()]
    bad = [v for v in variants if v not in TIMM_VARIANTS]
    if bad or not variants:
        return ("--timm-variants must be eager, channels_last and/or compile "
                f"(comma-separated); got {args.timm_variants!r}")
    if args.plugin is not None and not os.path.isfile(args.plugin):
        return f"--plugin: no such file: {args.plugin}"
    if args.jax_conv not in ("auto", "native"):
        return f"--jax-conv must be auto or native; got {args.jax_conv!r}"
    if args.data_format not in ("auto", "channels_last", "channels_first"):
        return ("--data-format must be auto, channels_last or channels_first; "
                f"got {args.data_format!r}")
    return None


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
    """Peak memory of a block: the GPU allocator's peak if a GPU is used, else peak RSS.

    ``framework``: "keras" (the current Keras backend) or "torch" (timm's process)."""

    def __init__(self, framework="keras"):
        self.device = None
        self.kind = "rss"
        try:
            if framework == "torch":
                import torch

                if torch.cuda.is_available():
                    self.device, self.kind = "cuda:0", "torch"
            else:
                import keras

                backend = keras.backend.backend()
                if backend == "tensorflow":
                    import tensorflow as tf

                    if tf.config.list_logical_devices("GPU"):
                        self.device, self.kind = "GPU:0", "tensorflow"
                elif backend == "jax":
                    import jax

                    if jax.default_backend() == "gpu":
                        self.device, self.kind = str(jax.devices()[0]), "jax"
                elif backend == "torch":
                    import torch

                    if torch.cuda.is_available():
                        self.device, self.kind = "cuda:0", "torch"
        except Exception:  # no GPU framework: RSS
            self.device, self.kind = None, "rss"
        self.method = {
            "rss": "peak process RSS (sampled every 2 ms) during the model's timed steps",
            "tensorflow": "peak GPU allocator bytes (tf.config.experimental.get_memory_info) "
                          "during the model's timed steps",
            "torch": "peak GPU allocator bytes (torch.cuda.max_memory_allocated) during the "
                     "model's timed steps",
            "jax": "peak GPU bytes in use (jax device memory_stats) since the process started",
        }[self.kind]

    def measure(self, fn):
        """Runs fn(); returns (fn's result, peak bytes)."""
        if self.kind == "tensorflow":
            import tensorflow as tf

            tf.config.experimental.reset_memory_stats(self.device)
            result = fn()
            return result, tf.config.experimental.get_memory_info(self.device)["peak"]
        if self.kind == "torch":
            import torch

            torch.cuda.reset_peak_memory_stats()
            result = fn()
            return result, torch.cuda.max_memory_allocated()
        if self.kind == "jax":
            import jax

            result = fn()
            stats = jax.devices()[0].memory_stats() or {}
            return result, stats.get("peak_bytes_in_use", 0)
        with _RssSampler() as sampler:
            result = fn()
        return result, sampler.peak


# --- timing -------------------------------------------------------------------------------

class _Timings:
    """Step times and peak memory of one runner, and their summary."""

    def _init_timings(self, label, batch_size):
        self.label, self.batch_size = label, batch_size
        self.times = {"train": [], "infer": []}
        self.peak = {"train": 0, "infer": 0}
        self.error = None

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


class Runner(_Timings):
    """One Keras model under test: its batch, its compiled step functions and its timings."""

    def __init__(self, label, model, batch_size, classes, seed=0, train=True,
                 jit_compile="auto"):
        import keras
        import numpy as np

        self._init_timings(label, batch_size)
        self.model, self.train = model, train
        rng = np.random.default_rng(seed)
        shape = (batch_size,) + tuple(model.input_shape[1:])
        self.x = rng.uniform(0, 1, size=shape).astype("float32")
        self.y = rng.integers(0, classes, size=(batch_size,))
        # compiled for inference too: jit_compile applies to predict_on_batch
        model.compile(optimizer=keras.optimizers.Adam(1e-4),
                      loss="sparse_categorical_crossentropy", jit_compile=jit_compile)
        self.jit_compile = getattr(model, "jit_compile", jit_compile)

    def step(self, kind):
        if kind == "train":
            self.model.train_on_batch(self.x, self.y)
        else:
            self.model.predict_on_batch(self.x)


class TimmRunner(_Timings):
    """One timm model under test in PyTorch: eager, channels_last or torch.compile'd."""

    def __init__(self, label, model, batch_size, classes, seed=0, train=True, device="cpu",
                 precision="float32", channels_last=False, compile=False, size=224):
        import contextlib

        import numpy as np
        import torch

        self._init_timings(label, batch_size)
        self.torch = torch
        self.device = torch.device("cuda" if device == "gpu" else "cpu")
        dtype = torch.bfloat16 if precision == "bfloat16" else torch.float32
        model = model.to(self.device, dtype)
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        model = model.to(memory_format=fmt)
        rng = np.random.default_rng(seed)
        self.x = torch.from_numpy(rng.uniform(0, 1, size=(batch_size, 3, size, size))
                                  .astype("float32")).to(self.device, dtype)
        self.x = self.x.contiguous(memory_format=fmt)
        self.y = torch.from_numpy(rng.integers(0, classes, size=(batch_size,))).to(self.device)
        self.model = model
        self.fn = torch.compile(model) if compile else model
        self.optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
        self.autocast = (lambda: torch.autocast(self.device.type, dtype=torch.bfloat16)) \
            if precision == "mixed" else contextlib.nullcontext
        self.settings = {"memory_format": "channels_last" if channels_last else "NCHW",
                         "torch_compile": bool(compile), "threads": torch.get_num_threads(),
                         "precision": precision}

    def step(self, kind):
        torch = self.torch
        if kind == "train":
            self.model.train()
            with self.autocast():
                out = self.fn(self.x)
            loss = torch.nn.functional.cross_entropy(out.float(), self.y)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            loss.item()  # waits for the step, as Keras' train_on_batch does
        else:
            self.model.eval()
            with torch.inference_mode(), self.autocast():
                out = self.fn(self.x)
            out.float().cpu()  # a host array, as Keras' predict_on_batch returns


def benchmark_runners(runners, *, steps, warmup, rounds, meter, train=True) -> None:
    """Warms up, then times the runners alternately: round r times each runner in turn."""
    kinds = (["train"] if train else []) + ["infer"]
    for kind in kinds:
        for runner in runners:
            runner.warmup(kind, warmup)
        for r in range(rounds):
            # alternate the order each round so no runner always goes first
            order = runners if r % 2 == 0 else runners[::-1]
            for runner in order:
                runner.timed(kind, steps, meter)


def _params(model) -> tuple[int, int]:
    import numpy as np

    trainable = int(sum(np.prod(w.shape) for w in model.trainable_weights))
    return trainable, int(model.count_params())


def _first_line(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    return text.splitlines()[0][:300]


# --- workers: one per backend (and one for timm), each holding its runners ----------------

class KerasWorker:
    """Builds and times kerascnn models (and keras.applications twins) on this process's
    Keras backend. Answers the driver's requests (dicts) with dicts."""

    framework = "keras"

    def __init__(self, config):
        import keras

        from kerascnn.utils.backend_speed import best_settings

        self.config = config
        self.backend = keras.backend.backend()
        device = config["device"]
        best = best_settings(self.backend, device)
        fmt = config.get("data_format", "auto")
        self.data_format = best["data_format"] if fmt == "auto" else fmt
        self.jit_compile = best["jit_compile"]
        keras.config.set_image_data_format(self.data_format)
        self.conv_lowering = None
        if self.backend == "jax" and device == "cpu":
            from kerascnn.layers.conv import set_jax_cpu_lowering

            self.conv_lowering = config.get("jax_conv", "auto")
            set_jax_cpu_lowering(self.conv_lowering)
        keras.config.set_dtype_policy(KERAS_POLICY[config["precision"]])
        self.device_name = self._device_name(device)
        self.meter = MemoryMeter("keras")
        self.runners = []

    def _device_name(self, device) -> str:
        """What the backend computes on; raises if a GPU was asked for and none is seen."""
        if self.backend == "jax":
            import jax

            d = jax.devices()[0]
            name = f"{d.platform}: {getattr(d, 'device_kind', '')}".strip()
            found = d.platform == "gpu"
        elif self.backend == "torch":
            import torch

            found = torch.cuda.is_available()
            name = f"gpu: {torch.cuda.get_device_name(0)}" if found else "cpu"
        else:
            import tensorflow as tf

            gpus = tf.config.list_logical_devices("GPU")
            found = bool(gpus)
            name = f"gpu: {gpus[0].name}" if found else "cpu"
        if device == "gpu" and not found:
            raise RuntimeError(f"--device gpu: the {self.backend} backend sees no GPU")
        return name if device == "gpu" else "cpu"

    def _threads(self):
        if self.backend == "torch":
            import torch

            return torch.get_num_threads()
        if self.backend == "tensorflow":
            import tensorflow as tf

            return tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count()
        return os.cpu_count()  # XLA:CPU's Eigen pool: one thread a core

    def hello(self, msg):
        import keras

        import kerascnn

        return {"backend": self.backend, "keras": keras.__version__,
                "framework_version": _framework_version(self.backend),
                "device": self.device_name, "memory": self.meter.method,
                "names": kerascnn.list_models(msg["models"]),
                "settings": {"data_format": self.data_format,
                             "jit_compile": self.jit_compile,
                             "dtype_policy": KERAS_POLICY[self.config["precision"]],
                             "threads": self._threads(),
                             "conv_lowering": self.conv_lowering,
                             "xla_flags": os.environ.get("XLA_FLAGS", "")}}

    def setup(self, msg):
        import keras

        import kerascnn
        from kerascnn.utils.macs import count_macs

        name, cfg = msg["name"], self.config
        info = kerascnn.model_info(name)
        default = tuple(info["default_input_shape"])
        size = cfg["image_size"] or default[0]
        shape = (size, size, default[-1])
        if size < info["min_input_size"]:
            return {"skipped": f"image size {size} is below {name}'s minimum "
                               f"{info['min_input_size']}"}
        built = shape if self.data_format == "channels_last" else (shape[-1],) + shape[:2]
        kwargs = dict(input_shape=built, classes=cfg["classes"])
        model = kerascnn.create_model(name, **kwargs)
        trainable, total = _params(model)
        out = {"input_shape": list(shape), "runners": []}
        label = f"kerascnn/{self.backend}"
        runner = Runner(label, model, cfg["batch_size"], cfg["classes"], cfg["seed"],
                        cfg["train"], jit_compile=self.jit_compile)
        self.runners = [runner]
        out["runners"].append({"label": label, "role": "kerascnn", "params": trainable,
                               "total_params": total, "macs": count_macs(model),
                               "jit_compile": runner.jit_compile})
        twin = info["keras_twin"]
        if cfg["compare_keras"]:
            if twin is None:
                out["keras_note"] = "no keras.applications twin"
            else:
                twin_model = getattr(keras.applications, twin)(weights=None, **kwargs)
                t_label = f"keras.applications.{twin}"
                self.runners.append(Runner(t_label, twin_model, cfg["batch_size"],
                                           cfg["classes"], cfg["seed"], cfg["train"],
                                           jit_compile=self.jit_compile))
                p, tp = _params(twin_model)
                out["runners"].append({"label": t_label, "role": "keras", "params": p,
                                       "total_params": tp, "macs": count_macs(twin_model)})
        return out

    def release(self, msg):
        import gc

        import keras

        self.runners = []
        keras.backend.clear_session()
        gc.collect()
        return {}

    # shared by both workers
    def warmup(self, msg):
        runner = self.runners[msg["runner"]]
        try:
            runner.warmup(msg["kind"], msg["steps"])
        except Exception as exc:  # noqa: BLE001 - a runner that cannot run says why
            runner.error = _first_line(exc)
            return {"error": runner.error}
        return {}

    def timed(self, msg):
        runner = self.runners[msg["runner"]]
        if runner.error is None:
            runner.timed(msg["kind"], msg["steps"], self.meter)
        return {}

    def results(self, msg):
        out = []
        for runner in self.runners:
            r = {}
            for kind in ("train", "infer"):
                r.update(runner.summary(kind))
            if runner.error:
                r["error"] = runner.error
            out.append(r)
        return {"runners": out}

    def handle(self, msg):
        return getattr(self, msg["cmd"])(msg)


class TimmWorker(KerasWorker):
    """Builds and times timm's twin of a kerascnn model in PyTorch (no Keras)."""

    framework = "torch"

    def __init__(self, config):
        import torch

        self.config = config
        self.meter = MemoryMeter("torch")
        if config["device"] == "gpu" and not torch.cuda.is_available():
            raise RuntimeError("--device gpu: PyTorch (timm) sees no GPU")
        self.device_name = (f"gpu: {torch.cuda.get_device_name(0)}"
                            if config["device"] == "gpu" else "cpu")
        if config["device"] == "gpu":
            torch.backends.cudnn.benchmark = True
            torch.backends.cuda.matmul.allow_tf32 = False  # float32 means float32
            torch.backends.cudnn.allow_tf32 = False
        self.runners = []

    def hello(self, msg):
        import timm
        import torch

        return {"backend": "timm", "framework_version": f"torch {torch.__version__}, "
                                                        f"timm {timm.__version__}",
                "device": self.device_name, "memory": self.meter.method,
                "settings": {"threads": torch.get_num_threads()}}

    def setup(self, msg):
        import timm
        import torch

        cfg = self.config
        timm_name = timm_twin(msg["name"])
        size = msg["input_shape"][0]
        self.runners = []
        out = {"timm_name": timm_name, "runners": []}
        for variant in cfg["timm_variants"]:
            torch.manual_seed(cfg["seed"])
            model = timm.create_model(timm_name, pretrained=False, num_classes=cfg["classes"])
            if not out["runners"]:
                params = sum(p.numel() for p in model.parameters() if p.requires_grad)
                total = params + sum(b.numel() for b in model.buffers()
                                     if b.dtype.is_floating_point)
                macs = _torch_macs(model, size)
            label = f"timm {variant}"
            self.runners.append(TimmRunner(
                label, model, cfg["batch_size"], cfg["classes"], cfg["seed"], cfg["train"],
                device=cfg["device"], precision=cfg["precision"],
                channels_last=variant != "eager", compile=variant == "compile", size=size))
            out["runners"].append({"label": label, "role": "timm", "variant": variant,
                                   "params": params, "total_params": total, "macs": macs,
                                   "settings": self.runners[-1].settings})
        return out

    def release(self, msg):
        import gc

        self.runners = []
        gc.collect()
        try:
            import torch

            torch._dynamo.reset()
        except Exception:  # noqa: BLE001 - nothing compiled
            pass
        return {}


def _torch_macs(model, size) -> int | None:
    """Multiply-accumulates of one image (torch's FLOP counter / 2), or None."""
    try:
        import torch
        from torch.utils.flop_counter import FlopCounterMode

        model.eval()
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(torch.zeros(1, 3, size, size))
        return int(counter.get_total_flops() // 2)
    except Exception:  # noqa: BLE001 - MACs are informative only
        return None


def _framework_version(backend) -> str:
    import importlib

    module = importlib.import_module(backend)
    return f"{backend} {getattr(module, '__version__', '?')}"


class LocalWorker:
    """A worker in this process (the current Keras backend)."""

    def __init__(self, core):
        self.core = core
        self.name = getattr(core, "backend", "timm")

    def request(self, msg):
        return json.loads(json.dumps(self.core.handle(msg)))

    def close(self):
        pass


class WorkerError(RuntimeError):
    pass


class ProcessWorker:
    """A worker in a process of its own: this script with ``--worker``, talking JSON lines
    over its stdin and stdout (its own prints go to a log shown if it fails)."""

    def __init__(self, name, config, env):
        self.name = name
        self.log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--worker", json.dumps(config)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, env=env,
            text=True, bufsize=1)

    def _log_tail(self, lines=15) -> str:
        self.log.seek(0)
        return "\n".join(self.log.read().splitlines()[-lines:])

    def request(self, msg):
        try:
            self.proc.stdin.write(json.dumps(msg) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        except (BrokenPipeError, OSError):
            line = ""
        if not line:
            self.proc.wait()
            raise WorkerError(f"the {self.name} process ended (exit code "
                              f"{self.proc.returncode}) during {msg['cmd']}; its last "
                              f"output:\n{self._log_tail()}")
        reply = json.loads(line)
        if "fatal" in reply:
            raise WorkerError(f"{self.name}: {reply['fatal']}")
        return reply

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(json.dumps({"cmd": "exit"}) + "\n")
                self.proc.stdin.flush()
            except (BrokenPipeError, OSError):
                pass
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def worker_main(config_json: str) -> int:
    """The worker process: replies to one JSON request a line until told to exit."""
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # the libraries' prints go to the log, never into the protocol
    config = json.loads(config_json)
    try:
        run_plugin(config.get("plugin"), config["role"])
        core = TimmWorker(config) if config["role"] == "timm" else KerasWorker(config)
    except Exception as exc:  # noqa: BLE001 - said to the driver, which stops
        core, startup_error = None, _first_line(exc)
    for line in sys.stdin:
        msg = json.loads(line)
        if msg["cmd"] == "exit":
            break
        if core is None:
            reply = {"fatal": startup_error}
        else:
            try:
                reply = core.handle(msg)
            except Exception as exc:  # noqa: BLE001
                import traceback

                traceback.print_exc()
                reply = {"fatal": f"{msg['cmd']} failed: {_first_line(exc)}"}
        proto.write(json.dumps(reply) + "\n")
    return 0


class RemoteRunner:
    """A runner living in a worker, driven through requests (benchmark_runners' interface)."""

    def __init__(self, worker, index, meta):
        self.worker, self.index, self.meta = worker, index, meta
        self.label = meta["label"]
        self.error = None

    def warmup(self, kind, steps):
        if self.error is None:
            reply = self.worker.request({"cmd": "warmup", "runner": self.index, "kind": kind,
                                         "steps": steps})
            self.error = reply.get("error")

    def timed(self, kind, steps, meter=None):
        if self.error is None:
            self.worker.request({"cmd": "timed", "runner": self.index, "kind": kind,
                                 "steps": steps})


# --- the driver ---------------------------------------------------------------------------

def _round_ratio(a, b):
    return round(a / b, 3) if a and b else None


def bench_model(name, args, workers, timm_worker=None) -> dict:
    """Sets the model up in every worker, times all runners in turn, gathers the results.

    ``workers``: {backend: worker}; ``timm_worker``: the timm worker or None."""
    result = {"name": name}
    runners, setups = [], {}
    for backend, worker in workers.items():
        setup = worker.request({"cmd": "setup", "name": name})
        if "skipped" in setup:
            return {"name": name, "skipped": setup["skipped"]}
        setups[backend] = setup
        runners += [RemoteRunner(worker, i, meta) for i, meta in enumerate(setup["runners"])]
    first = next(iter(setups.values()))
    main = first["runners"][0]
    result.update(input_shape=first["input_shape"], params=main["params"],
                  total_params=main["total_params"], macs=main["macs"],
                  gmacs=round(main["macs"] / 1e9, 4))
    timm_setup = None
    if timm_worker is not None:
        if timm_twin(name) is None:
            result["timm"] = None
            result["timm_note"] = "no timm twin known (scripts/benchmark.py TIMM_TWINS)"
        else:
            timm_setup = timm_worker.request({"cmd": "setup", "name": name,
                                              "input_shape": first["input_shape"]})
            runners += [RemoteRunner(timm_worker, i, meta)
                        for i, meta in enumerate(timm_setup["runners"])]
    benchmark_runners(runners, steps=args.steps, warmup=args.warmup, rounds=args.rounds,
                      meter=None, train=not args.no_train)
    summaries = {}
    for worker in list(workers.values()) + ([timm_worker] if timm_setup else []):
        summaries[worker.name] = worker.request({"cmd": "results"})["runners"]
        worker.request({"cmd": "release"})

    def entry(meta, summary, runner):
        e = {k: v for k, v in meta.items() if k not in ("role",)}
        e.update(summary)
        if runner.error and "error" not in e:
            e["error"] = runner.error
        return e

    by_worker = {}
    for runner in runners:
        by_worker.setdefault(runner.worker.name, []).append(runner)
    if timm_setup:
        variants = {}
        for runner, summary in zip(by_worker["timm"], summaries["timm"]):
            variants[runner.meta["variant"]] = entry(runner.meta, summary, runner)
        t = {"name": timm_setup["timm_name"], "params": timm_setup["runners"][0]["params"],
             "macs": timm_setup["runners"][0]["macs"], "variants": variants, "best": {}}
        for kind in ("train", "infer"):
            key = f"{kind}_images_per_s"
            timed = [(v[key], n) for n, v in variants.items() if v.get(key)]
            if timed:
                best, variant = max(timed)
                t["best"][kind] = {"variant": variant, "images_per_s": best}
        result["timm"] = t
    result["backends"] = {}
    for backend in workers:
        b_runners = by_worker[backend]
        b_summaries = summaries[backend]
        b = entry(b_runners[0].meta, b_summaries[0], b_runners[0])
        b.pop("label", None)
        if len(b_runners) > 1:
            k = entry(b_runners[1].meta, b_summaries[1], b_runners[1])
            k["name"] = k.pop("label")
            b["keras"] = k
            for kind in ("train", "infer"):
                key = f"{kind}_images_per_s"
                ratio = _round_ratio(b.get(key), k.get(key))
                if ratio is not None:
                    b[f"ratio_{kind}"] = ratio
        elif "keras_note" in setups[backend]:
            b["keras"] = None
            b["keras_note"] = setups[backend]["keras_note"]
        if timm_setup:
            for kind in ("train", "infer"):
                best = result["timm"]["best"].get(kind)
                ratio = _round_ratio(b.get(f"{kind}_images_per_s"),
                                     best and best["images_per_s"])
                if ratio is not None:
                    b[f"ratio_timm_{kind}"] = ratio
        result["backends"][backend] = b
    if len(result["backends"]) == 1:  # one backend: its figures at the top level too
        (only,) = result["backends"].values()
        result.update({k: v for k, v in only.items()
                       if k not in ("params", "total_params", "macs")})
    return result


def _settings_text(s: dict) -> str:
    if not s:
        return ""
    if "memory_format" in s:
        return f"{s['memory_format']}, compile {'on' if s['torch_compile'] else 'off'}, " \
               f"{s['precision']}, {s['threads']} threads"
    flags = f", XLA_FLAGS={s['xla_flags']}" if s.get("xla_flags") else ""
    conv = {"auto": ", 1x1/small/stem convs as matmul, depthwise as taps",
            "native": ", XLA convs"}.get(
        s.get("conv_lowering"), "")
    return (f"{s['data_format']}, jit_compile={s['jit_compile']}, {s['dtype_policy']}, "
            f"{s['threads']} threads{conv}{flags}")


def _table(results, worker_settings=None) -> str:
    worker_settings = worker_settings or {}
    head = ["model", "runner", "params", "GMACs", "train img/s", "train ms", "x timm",
            "infer img/s", "infer ms", "x timm", "peak MB (train/infer)", "settings"]
    rows, notes = [], []

    def g(r, key, fmt="{:.1f}"):
        return fmt.format(r[key]) if r.get(key) is not None else "—"

    def row(model, label, r, settings=""):
        macs = f"{r['macs'] / 1e9:.3f}" if r.get("macs") is not None else "—"
        return [model, label, f"{r['params']:,}", macs, g(r, "train_images_per_s"),
                g(r, "train_step_ms"), g(r, "ratio_timm_train", "{:.2f}x"),
                g(r, "infer_images_per_s"), g(r, "infer_step_ms"),
                g(r, "ratio_timm_infer", "{:.2f}x"),
                f"{g(r, 'train_peak_memory_mb', '{:.0f}')}/"
                f"{g(r, 'infer_peak_memory_mb', '{:.0f}')}", settings]

    for r in results:
        if "skipped" in r:
            rows.append([r["name"], "skipped: " + r["skipped"]] + [""] * 10)
            continue
        size = "x".join(str(s) for s in r["input_shape"][:2])
        model = f"{r['name']} {size}"
        for backend, b in r["backends"].items():
            rows.append(row(model, f"kerascnn/{backend}", b,
                            _settings_text(worker_settings.get(backend, {}))))
            if b.get("error"):
                notes.append(f"{r['name']} kerascnn/{backend}: {b['error']}")
            if b.get("keras"):
                k = b["keras"]
                rows.append(row(model, f"  {k['name']}", k))
                notes.append(f"{r['name']}: kerascnn/keras images/s ratio ({backend}): train "
                             f"{b.get('ratio_train', '—')}, inference "
                             f"{b.get('ratio_infer', '—')}")
        t = r.get("timm")
        if t:
            for variant, v in t["variants"].items():
                rows.append(row(model, f"timm {t['name']} {variant}", v,
                                _settings_text(v.get("settings", {}))))
                if v.get("error"):
                    notes.append(f"{r['name']} timm {variant}: did not run: {v['error']}")
            best = ", ".join(f"{kind} {b['variant']} {b['images_per_s']:.1f}"
                             for kind, b in t["best"].items())
            notes.append(f"{r['name']}: x timm = images/s against timm's fastest variant "
                         f"({best})")
        elif "timm_note" in r:
            notes.append(f"{r['name']}: {r['timm_note']}")
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    lines = ["  ".join(str(x).ljust(w) for x, w in zip(line, widths)).rstrip()
             for line in [head] + rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines + notes)


def _current_backend() -> str:
    """The Keras backend this process would use, without importing keras."""
    if "keras" in sys.modules:
        return sys.modules["keras"].backend.backend()
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    path = os.path.join(os.environ.get("KERAS_HOME", os.path.expanduser("~/.keras")),
                        "keras.json")
    try:
        with open(path) as f:
            return json.load(f).get("backend", "tensorflow")
    except (OSError, ValueError):
        return "tensorflow"


def _module_file(relpath):
    """A module of the package (one that imports nothing of it), loaded from its file."""
    import importlib.util

    name = "_bench_" + relpath.replace("/", "_")[:-3]
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, relpath))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return sys.modules[name]


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--worker"]:
        return worker_main(argv[1])
    args = build_parser().parse_args(argv)
    problem = check_args(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    # by file: importing the kerascnn package would import keras, and with it the default
    # backend (TensorFlow), in this process that only drives the others
    best_settings = _module_file("kerascnn/utils/backend_speed.py").best_settings
    worker_env = _module_file("kerascnn/utils/backend_speed.py").worker_env
    write_json_atomic = _module_file("kerascnn/utils/io.py").write_json_atomic

    config = {"device": args.device, "precision": args.precision,
              "data_format": args.data_format, "jax_conv": args.jax_conv,
              "image_size": args.image_size,
              "classes": args.classes, "batch_size": args.batch_size, "seed": args.seed,
              "train": not args.no_train, "compare_keras": args.compare_keras,
              "timm_variants": [v.strip() for v in args.timm_variants.split(",") if v.strip()],
              "plugin": os.path.abspath(args.plugin) if args.plugin else None}
    backends = _backend_list(args.backend)
    run_plugin(config["plugin"], "driver" if backends else "keras")
    workers, timm_worker = {}, None
    try:
        if backends:  # each backend in a process of its own, started together
            for b in backends:
                env = worker_env(b, args.device, best_settings(b, args.device)["xla_flags"])
                workers[b] = ProcessWorker(b, dict(config, role="keras"), env)
        else:
            import keras

            keras.utils.set_random_seed(args.seed)
            workers[_current_backend()] = LocalWorker(KerasWorker(config))
        if args.compare == "timm":
            timm_worker = ProcessWorker("timm", dict(config, role="timm"),
                                        worker_env(None, args.device))
        hellos = {b: w.request({"cmd": "hello", "models": args.models})
                  for b, w in workers.items()}
        if timm_worker:
            hellos["timm"] = timm_worker.request({"cmd": "hello"})
        names = next(iter(hellos.values()))["names"]
        if not names:
            print(f"error: no registered model matches {args.models!r}", file=sys.stderr)
            return 2
        settings = {
            "models": args.models, "batch_size": args.batch_size,
            "image_size": args.image_size, "classes": args.classes, "steps": args.steps,
            "warmup": args.warmup, "rounds": args.rounds, "compare_keras": args.compare_keras,
            "compare": args.compare, "train": not args.no_train, "precision": args.precision,
            "device": args.device, "data": "synthetic (one fixed random batch)",
            "backend": next(iter(hellos)), "keras": hellos[next(iter(hellos))]["keras"],
            "workers": {b: {k: v for k, v in h.items() if k != "names"}
                        for b, h in hellos.items()},
            "separate_processes": bool(backends), "cpu_count": os.cpu_count(),
            "platform": platform.platform(), "machine": platform.node(),
            "load_average_start": [round(x, 2) for x in os.getloadavg()],
            "memory": hellos[next(iter(hellos))]["memory"],
            "macs": "multiply-accumulates of one image at the benchmark's image size "
                    "(FLOPs = 2 x MACs)",
            "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        where = ", ".join(f"{b} ({h['device']})" for b, h in hellos.items())
        print(f"{where}; "
              f"{settings['cpu_count']} CPU cores, batch {args.batch_size}, {args.precision}, "
              f"{args.warmup} warm-up + {args.rounds}x{args.steps} timed steps; "
              f"load average {settings['load_average_start']}; "
              f"memory: {settings['memory']}", flush=True)
        results = []
        for name in names:
            results.append(bench_model(name, args, workers, timm_worker))
            settings["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
            if args.json:  # each model's result is kept even if a later one fails
                write_json_atomic(args.json, {"settings": settings, "results": results})
    except WorkerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        for w in list(workers.values()) + ([timm_worker] if timm_worker else []):
            w.close()
    print(_table(results, {b: h.get("settings", {}) for b, h in hellos.items()}))
    print(f"load average at the end: {settings['load_average_end']}")
    if args.json:
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
