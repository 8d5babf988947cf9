"""fit.py on the JAX and torch backends (the tf.data pipeline feeding them): a tiny ResNet on a
tiny set, --deterministic, precise BN on; checkpoints each epoch; a run stopped after epoch 1
and resumed ends bit-identical to one run straight through; precise BN recomputes the
BatchNorm statistics before each evaluation. tests/_fit_backend_check.py does the runs in a
process with the backend set."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.mark.slow  # minutes: a process per backend, two short fits each
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_fit_checkpoints_resumes_bit_identical_and_uses_precise_bn(backend, tiny_npz, tmp_path):
    pytest.importorskip(backend)
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "_fit_backend_check.py"),
                           str(tiny_npz), str(tmp_path)], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["codes"] == [0, 0, 0] and out["backend"] == backend
    assert out["checkpoints"] == ["epoch-0001", "epoch-0002"]
    assert out["resumed_from_epoch"] == 1
    assert out["identical_weights"] and out["identical_history"]
    assert out["precise_bn_images"] == 32
    # one recomputation per evaluation (2 + 1 + 1 epochs), of all 7 BN layers, over the
    # 32 images, and the moving statistics moved
    assert out["precise_bn"] == [{"layers": 7, "images": 32, "moved": True}] * 4
    assert out["stderr"] == []
