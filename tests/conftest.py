"""Shared test fixtures: where the real data lives, quiet TensorFlow."""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import importlib.util  # noqa: E402
import pathlib  # noqa: E402

# torch's triton (imported by torch._dynamo, torchvision, timm, pytorchcv) crashes the
# interpreter (segmentation fault) when it loads after TensorFlow's libraries: load it
# first when the `convert` extra is installed, so the weight-conversion tests can run in
# the same session as the others.
# (A process that already loaded TensorFlow, e.g. tune.py importing a test module for its
# hypermodels, never needs torch: leave triton out there.)
if "tensorflow" not in sys.modules and importlib.util.find_spec("triton") is not None:
    import triton  # noqa: E402, F401

import pytest  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
# Real data sets live beside the project, never inside it (../shared/data).
SHARED = pathlib.Path(os.environ.get("KERASCNN_SHARED", ROOT.parent / "shared"))
DATA = SHARED / "data"


def load_script(name: str):
    """``scripts/NAME.py`` as a module (the scripts are not a package)."""
    spec = importlib.util.spec_from_file_location(f"kerascnn_script_{name}",
                                                  ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
REFERENCE_CSV = SHARED / "reference" / "param_counts.csv"


def _need(path):
    if not path.exists():
        pytest.skip(f"{path} is not available")
    return path


@pytest.fixture(scope="session")
def shared_data():
    return _need(DATA)


@pytest.fixture(scope="session")
def signs_dir():
    return _need(DATA / "signs" / "64x64_SIGNS")


@pytest.fixture(scope="session")
def reference_csv():
    return _need(REFERENCE_CSV)


@pytest.fixture(autouse=True)
def _clear_keras_session():
    import keras

    yield
    keras.backend.clear_session()


# The smallest registered model with BatchNormalization, used by the training tests.
SMALL_MODEL = "resnet20_cifar"
SMALL_SIZE = 32


def own_models():
    """The package's registered models: other test modules register models of their own."""
    import kerascnn
    from kerascnn import api

    return [n for n in kerascnn.list_models()
            if api.get_spec(n).entrypoint.__module__.startswith("kerascnn.")]


@pytest.fixture()
def tiny_npz(tmp_path):
    """90 images of 16x16 in three classes a small network learns in a few steps (noise; a
    bright square top left; a bright square bottom right), as an npz of 60 train / 30 test."""
    import numpy as np

    rng = np.random.RandomState(0)
    y = np.arange(90) % 3
    x = rng.randint(0, 120, (90, 16, 16, 3)).astype(np.uint8)
    x[y == 1, 2:8, 2:8] = 255
    x[y == 2, 8:14, 8:14] = 255
    path = tmp_path / "tiny.npz"
    np.savez(path, x_train=x[:60], y_train=y[:60], x_test=x[60:], y_test=y[60:])
    return path


@pytest.fixture(scope="module")
def small_npz(tmp_path_factory):
    """200 images of 16x16 in two classes (noise; a bright square), 160 train / 40 test."""
    import numpy as np

    rng = np.random.RandomState(0)
    y = np.arange(200) % 2
    x = rng.randint(0, 120, (200, 16, 16, 3)).astype(np.uint8)
    x[y == 1, 4:12, 4:12] = 255  # class 1: a bright square
    path = tmp_path_factory.mktemp("data") / "small.npz"
    np.savez(path, x_train=x[:160], y_train=y[:160], x_test=x[160:], y_test=y[160:])
    return path


def kill_inside_epoch_2(command, run_dir, env, timeout):
    """Starts ``command`` (a fit.py run writing ``run_dir``) and SIGKILLs it somewhere inside
    its second epoch, once the first epoch's checkpoint exists."""
    import signal
    import subprocess
    import time

    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + timeout
    while not (run_dir / "checkpoints" / "epoch-0001").exists():
        assert proc.poll() is None and time.time() < deadline
        time.sleep(0.1)
    time.sleep(0.5)  # somewhere inside epoch 2
    proc.send_signal(signal.SIGKILL)
    proc.wait()
