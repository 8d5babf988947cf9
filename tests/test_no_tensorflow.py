"""kerascnn without TensorFlow: the models, weights, prediction and kerascnn.visualize on the
JAX and torch backends, in a process where ``import tensorflow`` fails.

tests/_no_tensorflow_check.py does the work (CI also runs it in a venv from ``pip install .
jax``, where TensorFlow is really absent); here it runs with TensorFlow blocked.
"""

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent

EXPECTED = ["import tensorflow fails", "backend {backend}", "list_models, model_info",
            "create_model, predict", ".keras, .weights.h5", ".safetensors, .pth",
            "features_only, preprocess_input", "MACs, receptive fields", "visualize",
            "predict.py", "fit.py names the train extra", "done"]


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_models_weights_prediction_and_visualize_work_without_tensorflow(backend, tmp_path):
    pytest.importorskip(backend)
    pytest.importorskip("torch")  # the check writes a .pth with torch.save
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    result = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "_no_tensorflow_check.py"), str(tmp_path),
         "--block"], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=900)
    done = [line[3:] for line in result.stdout.splitlines() if line.startswith("ok ")]
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert done == [line.format(backend=backend) for line in EXPECTED]


def test_missing_extra_is_one_line_naming_the_extra():
    from kerascnn.cli import missing_extra

    assert missing_extra("fit.py", ("tensorflow",)) is None
    assert missing_extra("fit.py", ("tensorflow", "no_such_module_kerascnn")) == (
        "fit.py needs no_such_module_kerascnn (not installed): pip install 'kerascnn[train]'")
    assert missing_extra("export.py", ("tf2onnx_absent_x",), extra="export") == (
        "export.py needs tf2onnx_absent_x (not installed): pip install 'kerascnn[export]'")
