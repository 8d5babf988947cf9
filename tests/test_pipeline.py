"""The run pipeline end to end: self-contained saved models, one data front door,
one parser for every script, no import cycles, Ctrl-C."""

import ast
import json
import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from kerascnn.data import MissingSplit, load, load_source

from .conftest import ROOT, SMALL_MODEL, SMALL_SIZE

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}


def _ours(stderr, prog):
    """The lines a script printed itself (TensorFlow's runtime logs its own to stderr)."""
    assert "Traceback" not in stderr, stderr[-2000:]
    return [line for line in stderr.strip().splitlines() if line.startswith(prog)]


def _script(name, *args, **kwargs):
    return subprocess.run([sys.executable, str(ROOT / "scripts" / name), *map(str, args)],
                          capture_output=True, text=True, env=ENV, cwd=ROOT, **kwargs)


@pytest.fixture(scope="module")
def signs_h5(signs_dir, tmp_path_factory):
    """SIGNS in the course's h5 layout: train_signs.h5 (train+val) and test_signs.h5."""
    source = load_source(str(signs_dir), val_fraction=0)
    root = tmp_path_factory.mktemp("signs_h5")
    x_train = np.concatenate([source.splits["train"][0], source.splits["val"][0]])
    y_train = np.concatenate([source.splits["train"][1], source.splits["val"][1]])
    for split, (x, y) in (("train", (x_train, y_train)), ("test", source.splits["test"])):
        with h5py.File(root / f"{split}_signs.h5", "w") as f:
            f[f"{split}_set_x"] = x
            f[f"{split}_set_y"] = y
            f["list_classes"] = np.arange(6)
    return root


def test_saved_model_takes_raw_uint8_with_the_reported_accuracy(signs_h5, tmp_path):
    out = tmp_path / "run"
    done = _script("fit.py", "--model", SMALL_MODEL, "--dataset", signs_h5 / "train_signs.h5",
                   "--image-size", SMALL_SIZE, "--epochs", 2, "--batch-size", 64,
                   "--learning-rate", 3e-3, "--output-dir", out, "--verbose", 0)
    assert done.returncode == 0, done.stderr[-2000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["model_file"] == "best.keras" and metrics["image_size"] == SMALL_SIZE
    assert metrics["input_shape"] == [None, None, 3]  # the model resizes 64x64 images itself
    # a fresh process, as a user: import kerascnn, load, predict raw uint8 test images
    code = f"""
import json, h5py, numpy as np, keras, kerascnn
model = keras.saving.load_model({str(out / "best.keras")!r})
with h5py.File({str(signs_h5 / "test_signs.h5")!r}) as f:
    x, y = f["test_set_x"][:], f["test_set_y"][:]
assert x.dtype == np.uint8 and x.shape[1:] == (64, 64, 3)
p = model.predict(x, verbose=0)
names = [layer.name for layer in model.layers[:6]]
classes = model.get_layer("preprocess_info").class_names
print(json.dumps({{"accuracy": float(np.mean(p.argmax(1) == y)), "layers": names,
                  "classes": classes}}))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV,
                          cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["accuracy"] == metrics["test_accuracy"]
    assert result["classes"] == metrics["class_names"] == ["0", "1", "2", "3", "4", "5"]
    assert result["layers"][:6] == ["image", "preprocess_info", "preprocess_resize",
                                    "preprocess_rescale", "preprocess_normalize", "conv1"]


def test_grayscale_data_in_an_rgb_model(tmp_path):
    from kerascnn.training.config import FitConfig
    from kerascnn.training.data import prepare_data
    from kerascnn.training.model import build_model, preprocessing_of

    rng = np.random.RandomState(0)
    x = rng.randint(0, 256, (40, 28, 28, 1)).astype(np.uint8)
    y = np.arange(40) % 4
    np.savez(tmp_path / "gray.npz", x_train=x, y_train=y, x_test=x[:8], y_test=y[:8])
    config = FitConfig(model=SMALL_MODEL, dataset=str(tmp_path / "gray.npz"), image_size=32)
    data = prepare_data(config)
    model = build_model(config, data)
    assert preprocessing_of(model) == {"size": 32, "channels": 3, "resize": True,
                                       "input_shape": (None, None, 1),
                                       "class_names": ["0", "1", "2", "3"]}
    mean, std = data.normalization(3)
    gray = data.data.split("train")[0].astype(np.float64) / 255
    np.testing.assert_allclose(mean, [gray.mean()] * 3, rtol=1e-5)
    np.testing.assert_allclose(std, [gray.std()] * 3, rtol=1e-5)
    # the network sees (x/255 - mean) / std of the gray image repeated in 3 channels
    normalize = model.get_layer("preprocess_normalize")
    import keras

    probe = keras.Model(model.inputs, normalize.output)
    out = np.asarray(probe.predict(x[:2], verbose=0))
    import tensorflow as tf

    expected = (tf.image.resize(x[:2].astype(np.float32), (32, 32)).numpy() / 255 - mean[0]) \
        / std[0]
    np.testing.assert_allclose(out, np.repeat(expected, 3, axis=-1), atol=1e-4)


def test_training_needs_a_train_split_and_evaluate_scores_test_only_data(signs_dir, tmp_path,
                                                                         shared_data):
    test_only = shared_data / "signs" / "test_signs.h5"
    data = load(str(test_only), require=("test",))
    assert data.info.split_sizes == {"test": 120} and data.info.num_classes == 6
    with pytest.raises(MissingSplit, match=r"^signs has no train split \(found: test\); "
                                           r"training needs one"):
        load(str(test_only))
    done = _script("fit.py", "--model", SMALL_MODEL, "--dataset", test_only,
                   "--output-dir", tmp_path / "run")
    assert done.returncode == 2
    err = _ours(done.stderr, "fit.py")
    assert len(err) == 1 and err[0].startswith("fit.py: error: signs has no train split "
                                               "(found: test); training needs one")
    assert not (tmp_path / "run").exists()
    # one folder of class subfolders: the split that is scored
    folder = tmp_path / "by_class"
    source = load_source(str(signs_dir), val_fraction=0)
    from PIL import Image

    for i, (image, label) in enumerate(zip(*source.splits["test"])):
        (folder / str(label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / str(label) / f"{i}.png")
    data = load(str(folder), require=("test",))
    assert data.info.split_sizes == {"test": 120}
    with pytest.raises(MissingSplit, match="is one folder without train/ and test/ subfolders"):
        load(str(folder))


def test_fit_and_tune_share_the_data_flags_and_their_messages(tmp_path):
    cases = [
        (["--dataset", "/no/such/data"], "error: No such file or folder: /no/such/data."),
        (["--dataset", "nope"], "error: Unknown dataset 'nope'; allowed: cifar10_subset, "
                                "fashion_mnist, mnist, signs, a local path"),
        (["--image-size", "0"], "error: --image-size must be a positive integer; got 0."),
        (["--val-fraction", "1.5"], "error: --val-fraction must be in"),
        (["--jit-compile", "sometimes"], "argument --jit-compile: invalid choice: 'sometimes'"),
    ]
    for argv, message in cases:
        fit = _script("fit.py", "--model", SMALL_MODEL, "--output-dir", tmp_path / "f", *argv)
        tune = _script("tune.py", "--model-family", "resnet_cifar", "--directory",
                       tmp_path / "t", *argv)
        for name, done in (("fit.py", fit), ("tune.py", tune)):
            err = _ours(done.stderr, name)
            assert done.returncode == 2 and len(err) == 1, (name, done.stderr[-1000:])
            assert message in err[0], (name, err)
    assert not (tmp_path / "f").exists() and not (tmp_path / "t").exists()


@pytest.mark.parametrize("kind", ["folder", "h5"])
def test_tune_searches_the_users_own_data(kind, signs_dir, signs_h5, tmp_path):
    dataset = signs_dir if kind == "folder" else signs_h5
    done = _script("tune.py", "--import", "tests.test_tuning", "--model-family", "tiny_test",
                   "--dataset", dataset, "--image-size", 16, "--max-trials", 1, "--epochs", 1,
                   "--train-subset", 128, "--val-subset", 64, "--directory", tmp_path,
                   "--project-name", "p", "--verbose", 0)
    assert done.returncode == 0, done.stderr[-2000:]
    project = tmp_path / "p"
    for name in ("trials.csv", "best_hyperparameters.json", "best_model.keras", "search.json"):
        assert (project / name).is_file(), name
    summary = json.loads((project / "best_hyperparameters.json").read_text())
    # best_model.keras takes raw 64x64 images like fit.py's models
    code = f"""
import json, keras, numpy as np, kerascnn, sys
sys.path.insert(0, {str(ROOT)!r})
import tests.test_tuning
from kerascnn.data import load
data = load({str(dataset)!r}, require=("test",))
x, y = data.split("test")
model = keras.saving.load_model({str(project / "best_model.keras")!r})
print(json.dumps(float(np.mean(model.predict(x, verbose=0).argmax(1) == y))))
"""
    check = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env=ENV, cwd=str(tmp_path))
    assert check.returncode == 0, check.stderr[-2000:]
    assert json.loads(check.stdout.strip().splitlines()[-1]) == pytest.approx(
        summary["test_accuracy"], abs=1e-9)


def test_help_builds_without_tensorflow_or_keras():
    code = ("import sys\n"
            "import kerascnn.training.cli as fit, kerascnn.tuning.cli as tune\n"
            "fit.build_parser().format_help(); tune.build_parser().format_help()\n"
            "print(sorted(m for m in ('tensorflow', 'keras', 'keras_tuner') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV,
                          cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    help_text = _script("fit.py", "--help").stdout
    assert "(default: resnet20_cifar)" in help_text and "(default: 0.1)" in help_text


def _module_imports(path, package_root):
    """Module-level ``kerascnn`` imports of a source file (not those inside functions)."""
    tree = ast.parse(path.read_text())
    module = ".".join(path.relative_to(package_root.parent).with_suffix("").parts)
    if module.endswith(".__init__"):
        module = module[: -len(".__init__")]
    found = set()
    for node in tree.body:
        nodes = [node]
        if isinstance(node, (ast.If, ast.Try)):
            nodes = list(ast.walk(node))
        for n in nodes:
            if isinstance(n, ast.Import):
                found |= {a.name for a in n.names if a.name.startswith("kerascnn")}
            elif isinstance(n, ast.ImportFrom) and n.module and n.module.startswith("kerascnn"):
                found.add(n.module)
                found |= {f"{n.module}.{a.name}" for a in n.names}
    return module, found


def test_no_import_cycles_among_kerascnn_modules():
    package = ROOT / "kerascnn"
    graph = {}
    for path in package.rglob("*.py"):
        module, imports = _module_imports(path, package)
        graph[module] = imports
    graph = {m: {i for i in deps if i in graph and i != m} for m, deps in graph.items()}
    state, cycles = {}, []

    def visit(node, stack):
        state[node] = "active"
        for dep in sorted(graph[node]):
            if state.get(dep) == "active":
                cycles.append(stack[stack.index(dep):] + [dep])
            elif dep not in state:
                visit(dep, stack + [dep])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []
    # leaf modules stay leaves
    for module, deps in graph.items():
        if module.startswith(("kerascnn.blocks", "kerascnn.layers")):
            assert not any(d.startswith("kerascnn.applications") for d in deps), module
        if module == "kerascnn.data.sources":
            assert not any(d.startswith("kerascnn.data.folders") for d in deps)


def test_ctrl_c_says_how_to_resume_and_keeps_the_checkpoint(signs_dir, tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "fit.py"), "--model", SMALL_MODEL, "--dataset",
         "signs", "--data-dir", str(signs_dir), "--image-size", str(SMALL_SIZE), "--epochs",
         "20", "--batch-size", "64", "--output-dir", str(out), "--verbose", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, cwd=ROOT)
    deadline = time.time() + 300
    while not (out / "checkpoints" / "epoch-0001").is_dir() and time.time() < deadline:
        time.sleep(0.5)
    assert (out / "checkpoints" / "epoch-0001").is_dir()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    lines = _ours(err, "fit.py")
    assert len(lines) == 1
    assert lines[0].startswith("fit.py: interrupted; its checkpoint of epoch ")
    assert lines[0].endswith(f"is kept in {out}: run the same command again (with "
                             f"--output-dir {out}) to resume.")
    assert (out / "checkpoints" / "epoch-0001").is_dir()


def test_streamed_images_of_varying_size_are_resized_in_the_pipeline():
    import tensorflow as tf

    from kerascnn.data import Data, DatasetInfo
    from kerascnn.data.plan import AugmentPlan
    from kerascnn.training.data import TrainingData

    rng = np.random.RandomState(0)
    images = [rng.randint(0, 256, (h, w, 3)).astype(np.uint8)
              for h, w in ((40, 30), (25, 60), (33, 33), (50, 20), (24, 24), (31, 45))]
    labels = np.arange(6) % 2

    def stream():
        return tf.data.Dataset.from_generator(
            lambda: iter(zip(images, labels)),
            output_signature=(tf.TensorSpec((None, None, 3), tf.uint8),
                              tf.TensorSpec((), tf.int64)))

    info = DatasetInfo("varying", "tfds", ("a", "b"), (None, None, 3),
                       {"train": 6, "test": 6})
    data = TrainingData(Data(info, streams={"train": stream(), "test": stream()}),
                        AugmentPlan.parse("flip"), seed=3, image_size=24)
    assert data.model_size(8) == 24
    train, counter = data.train_dataset(batch_size=4, size=24)
    first = [(x.numpy(), y.numpy()) for x, y in train]
    assert [x.shape for x, _ in first] == [(4, 24, 24, 3), (2, 24, 24, 3)]
    counter.set(0)  # epoch 0 again: the same order and augmentation
    again = [(x.numpy(), y.numpy()) for x, y in train]
    for (x1, y1), (x2, y2) in zip(first, again):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)
    test = data.eval_dataset("test", batch_size=4, size=24)
    batches = [x.numpy() for x, _ in test]
    assert [b.shape for b in batches] == [(4, 24, 24, 3), (2, 24, 24, 3)]
    # the largest central crop of the aspect, resized: the 24x24 image passes unchanged
    np.testing.assert_allclose(batches[1][0], images[4].astype(np.float32), atol=1e-3)
    np.testing.assert_array_equal(data.labels("test"), labels)


def test_calling_a_resizing_model_is_inference():
    import keras

    from kerascnn.training.model import add_preprocessing

    def network(shape, input_tensor):
        inp = keras.Input(shape)
        x = keras.layers.BatchNormalization()(keras.layers.Conv2D(4, 3)(inp))
        x = keras.layers.GlobalAveragePooling2D()(x)
        return keras.Model(inp, keras.layers.Dense(3, activation="softmax")(x))

    model = add_preprocessing(network, image_shape=(40, 40, 3), size=32, channels=3,
                              mean=[0.5] * 3, std=[0.2] * 3)
    x = np.random.RandomState(0).randint(0, 255, (4, 40, 40, 3)).astype(np.float32)
    bn = next(layer for layer in model._flatten_layers()
              if isinstance(layer, keras.layers.BatchNormalization))
    # keras' Resizing defaults to training=True, which model(x) would pass on to BN
    np.testing.assert_array_equal(np.asarray(model(x)), model.predict(x, verbose=0))
    np.testing.assert_array_equal(bn.moving_mean.numpy(), np.zeros(4, np.float32))
