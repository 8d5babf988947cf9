"""What kerascnn does without TensorFlow, run in a process where TensorFlow cannot be imported.

    KERAS_BACKEND=jax python tests/_no_tensorflow_check.py OUT_DIR [--block]

With ``--block`` the TensorFlow modules are made unimportable first (a finder first on
``sys.meta_path`` whose modules fail to load, as if they were not installed; not
``sys.modules[name] = None``, which Keras takes for TensorFlow being imported); CI's TensorFlow-free venv runs it without. Prints one
``ok <what>`` line per thing that works, in a fixed order, and exits non-zero at the first
that does not. Used by tests/test_no_tensorflow.py (JAX and torch) and by .ci/run (JAX, in a
venv from ``pip install . jax``).
"""

import os
import sys

BLOCKED = ("tensorflow", "tensorflow_datasets", "keras_tuner", "tf_keras", "tf2onnx")


def ok(what):
    print(f"ok {what}", flush=True)


class _Blocker:
    """Finds the blocked modules first and fails to load them: ``import tensorflow`` raises
    ModuleNotFoundError; ``importlib.util.find_spec`` gives a spec without an origin."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            import importlib.machinery

            return importlib.machinery.ModuleSpec(name, self)

    def create_module(self, spec):
        raise ModuleNotFoundError(f"No module named {spec.name!r} (blocked)", name=spec.name)

    def exec_module(self, module):  # never reached
        raise ModuleNotFoundError(module.__name__)


def main(out_dir, block):
    if block:
        sys.meta_path.insert(0, _Blocker())
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        ok("import tensorflow fails")
    else:
        raise SystemExit("tensorflow was imported")

    import keras
    import numpy as np

    import kerascnn

    backend = keras.backend.backend()
    ok(f"backend {backend}")
    rng = np.random.default_rng(0)

    # the registry, model_info, building, prediction on arrays
    assert "resnet18" in kerascnn.list_models("resnet*")
    assert kerascnn.model_info("resnet18")["family"] == "resnet"
    ok("list_models, model_info")
    model = kerascnn.create_model("resnet20_cifar", classes=10, classifier_activation=None)
    for w in model.weights:  # random weights and BN statistics: loading must move numbers
        w.assign(rng.uniform(0.5, 1.5, w.shape).astype(w.dtype) if "variance" in w.path
                 else rng.normal(0, 0.1, w.shape).astype(w.dtype))
    x = rng.uniform(0, 1, (2, 32, 32, 3)).astype("float32")
    y = np.asarray(model.predict(x, verbose=0))
    assert y.shape == (2, 10) and np.isfinite(y).all()
    ok("create_model, predict")

    # weights: .keras, .weights.h5, .safetensors (and .pth where torch is installed)
    path = os.path.join(out_dir, "m.keras")
    model.save(path)
    np.testing.assert_allclose(keras.saving.load_model(path).predict(x, verbose=0), y,
                               rtol=1e-5, atol=1e-5)
    again = kerascnn.create_model("resnet20_cifar", classes=10, classifier_activation=None,
                                  weights=path)
    np.testing.assert_allclose(again.predict(x, verbose=0), y, rtol=1e-5, atol=1e-5)
    path = os.path.join(out_dir, "m.weights.h5")
    model.save_weights(path)
    again = kerascnn.create_model("resnet20_cifar", classes=10, classifier_activation=None,
                                  weights=path)
    np.testing.assert_allclose(again.predict(x, verbose=0), y, rtol=1e-5, atol=1e-5)
    ok(".keras, .weights.h5")

    from safetensors.numpy import save_file

    from kerascnn.weights import core
    from kerascnn.weights.loading import load_checkpoint

    def convert(sd, target, *, skip_classifier):  # tensors named {layer}.{role}
        for layer in target.layers:
            if layer.weights:
                roles = [w.path.rsplit("/", 1)[-1] for w in layer.weights]
                core.set_weights_by_role(layer, **{r: sd.take(f"{layer.name}.{r}")
                                                   for r in roles})

    core._CONVERTERS["notf:"] = convert
    tensors = {f"{w.path.rsplit('/', 1)[0]}.{w.path.rsplit('/', 1)[-1]}":
               np.asarray(keras.ops.convert_to_numpy(w.value), np.float32)
               for w in model.weights}
    files = [os.path.join(out_dir, "m.safetensors")]
    save_file(tensors, files[0])
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        files.append(os.path.join(out_dir, "m.pth"))
        torch.save({k: torch.from_numpy(v) for k, v in tensors.items()}, files[1])
    for path in files:
        fresh = kerascnn.create_model("resnet20_cifar", classes=10, classifier_activation=None)
        load_checkpoint(fresh, "resnet20_cifar", path, source="notf:resnet20")
        np.testing.assert_allclose(fresh.predict(x, verbose=0), y, rtol=1e-5, atol=1e-5)
    ok(".safetensors" + (", .pth" if torch is not None else ""))

    # features_only, preprocess_input
    features = kerascnn.create_model("resnet18", features_only=True, input_shape=(64, 64, 3))
    shapes = [tuple(f.shape) for f in features(np.zeros((1, 64, 64, 3), "float32"))]
    assert shapes == [(1, 32, 32, 64), (1, 16, 16, 64), (1, 8, 8, 128), (1, 4, 4, 256),
                      (1, 2, 2, 512)], shapes
    from kerascnn.preprocessing import preprocess_input

    p = preprocess_input(np.full((1, 2, 2, 3), 255.0), model="resnet18")
    np.testing.assert_allclose(p[0, 0, 0], (np.array([1.0] * 3) - (0.485, 0.456, 0.406))
                               / (0.229, 0.224, 0.225), rtol=1e-6)
    ok("features_only, preprocess_input")

    # MACs, receptive fields
    from kerascnn.utils.macs import count_macs
    from kerascnn.utils.receptive_field import receptive_field

    assert count_macs(kerascnn.create_model("resnet18")) > 1_800_000_000
    assert receptive_field(model)[-1]["layer"]
    ok("MACs, receptive fields")

    # kerascnn.visualize: gradients (Grad-CAM, saliency) and forward passes
    from kerascnn import visualize as viz

    probe = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Conv2D(4, 3, name="conv"),
                              keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(3, activation="softmax")])
    assert viz.grad_cam(probe, x, layer="conv").shape == (2, 32, 32)
    assert viz.saliency(probe, x).shape == (2, 32, 32)
    assert viz.feature_maps(probe, x[0], "conv").shape == (30, 30, 4)
    assert viz.occlusion_sensitivity(probe, x[0] * 255, 0, patch=16, stride=16).shape == (32, 32)
    viz.save_grid([x[0], x[1]], os.path.join(out_dir, "grid.png"))
    ok("visualize")

    # scripts/predict.py on image files (decoded with PIL)
    from PIL import Image

    images = os.path.join(out_dir, "images")
    os.makedirs(images)
    Image.fromarray((x[0] * 255).astype("uint8")).save(os.path.join(images, "a.png"))
    Image.fromarray((x[1] * 255).astype("uint8")).resize((48, 40)).save(
        os.path.join(images, "b.jpg"))
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
    import predict

    json_path = os.path.join(out_dir, "predictions.json")
    assert predict.main(["--model-path", os.path.join(out_dir, "m.keras"), images, "--top-k",
                         "2", "--json", json_path]) == 0
    assert os.path.isfile(json_path)
    ok("predict.py")

    # the training CLI says what is missing, in one line
    import contextlib
    import io

    from kerascnn.training.cli import main as fit_main

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        status = fit_main(["--epochs", "1", "--output-dir", os.path.join(out_dir, "run")])
    line = err.getvalue()  # blocked: TensorFlow; a TF-free venv: tensorflow-datasets too
    assert status == 2 and line.count("\n") == 1, line
    assert line.startswith("fit.py: error: fit.py needs TensorFlow") and line.endswith(
        " (not installed): pip install 'kerascnn[train]'\n"), line
    ok("fit.py names the train extra")
    assert "tensorflow" not in sys.modules
    ok("done")


if __name__ == "__main__":
    main(sys.argv[1], "--block" in sys.argv[2:])
