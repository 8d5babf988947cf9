"""The fastest honest settings of each Keras backend, per device, as measured on this project.

``best_settings(backend, device)`` says which data format, ``jit_compile`` value and
environment a backend runs fastest with on a CPU or a GPU; ``worker_env`` turns them into the
environment a fresh process needs (the backend, the visible devices, XLA's flags), set before
keras is imported. ``scripts/benchmark.py`` uses both and prints what it used; the evidence
for each choice is in docs/benchmarks.md.

- TensorFlow: ``jit_compile`` off on a CPU (XLA:CPU is 4x slower there), Keras' ``"auto"``
  (XLA) on a GPU; channels_last (oneDNN's native layout on CPU, cuDNN's for bfloat16).
- JAX: always compiled (``jit_compile=True``, the only fast JAX), channels_last.
- torch: channels_first (Keras' torch backend transposes to NCHW around every
  channels_last convolution and pooling), eager (``jit_compile=False``).
"""

from __future__ import annotations

import os

__all__ = ["BACKENDS", "DEVICES", "best_settings", "worker_env"]

BACKENDS = ("tensorflow", "jax", "torch")
DEVICES = ("cpu", "gpu")

# XLA:CPU flags for the JAX backend on a CPU: empty until a flag is shown faster
# (docs/benchmarks.md lists the flags tried and what each gave).
JAX_CPU_XLA_FLAGS: tuple[str, ...] = ()


def best_settings(backend: str, device: str) -> dict:
    """Data format, ``jit_compile`` and XLA flags for ``backend`` on ``device`` (cpu|gpu)."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}; got {backend!r}")
    if device not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}; got {device!r}")
    if backend == "tensorflow":
        return {"data_format": "channels_last",
                "jit_compile": False if device == "cpu" else "auto", "xla_flags": []}
    if backend == "jax":
        return {"data_format": "channels_last", "jit_compile": True,
                "xla_flags": list(JAX_CPU_XLA_FLAGS) if device == "cpu" else []}
    return {"data_format": "channels_first", "jit_compile": False, "xla_flags": []}


def worker_env(backend: str | None, device: str, xla_flags=(), base=None) -> dict:
    """The environment of a fresh process running ``backend`` (None: torch alone, e.g. timm)
    on ``device``: the GPU hidden for ``cpu``; on a GPU, JAX and TensorFlow take memory as
    they need it, so that two processes can share the card."""
    env = dict(os.environ if base is None else base)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if backend is not None:
        env["KERAS_BACKEND"] = backend
    if device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
        env["JAX_PLATFORMS"] = "cpu"
    else:
        env["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"
        env["TF_FORCE_GPU_ALLOW_GROWTH"] = "true"
    flags = [f for f in env.get("XLA_FLAGS", "").split() if f]
    flags += [f for f in xla_flags if f not in flags]
    if flags:
        env["XLA_FLAGS"] = " ".join(flags)
    return env
