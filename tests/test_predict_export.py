"""scripts/predict.py and scripts/export.py on a model that fit.py's engine trains here.

The data: 32x32 RGB images of a noisy grey background with a small square of one of
four colours placed anywhere; the class is the square's colour.
"""

import json
import sys

import keras
import numpy as np
import pytest

from tests.conftest import SMALL_MODEL, load_script

COLOURS = np.array([[220, 30, 30], [30, 200, 30], [40, 40, 230], [230, 220, 30]], np.uint8)
CLASS_NAMES = ["red", "green", "blue", "yellow"]
TOLERANCE = 1e-4


def squares(n, rng, size=32, side=8):
    """``n`` images (uint8) and labels: the colour of a square placed anywhere."""
    y = rng.integers(0, len(COLOURS), n)
    x = np.repeat(rng.integers(60, 190, (n, size, size, 1)), 3, axis=-1).astype(np.uint8)
    for i, (r, c) in enumerate(rng.integers(0, size - side + 1, (n, 2))):
        x[i, r:r + side, c:c + side] = COLOURS[y[i]]
    return x, y.astype(np.int64)


def _script(name):
    return load_script(name)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A resnet20_cifar trained for 3 epochs by fit.py's engine: (run dir, x_test, y_test)."""
    from kerascnn.training.config import FitConfig
    from kerascnn.training.run import run

    root = tmp_path_factory.mktemp("squares")
    rng = np.random.default_rng(0)
    x_train, y_train = squares(600, rng)
    x_test, y_test = squares(200, rng)
    np.savez(root / "squares.npz", x_train=x_train, y_train=y_train, x_test=x_test,
             y_test=y_test, class_names=np.array(CLASS_NAMES))
    run(FitConfig(model=SMALL_MODEL, dataset=str(root / "squares.npz"), image_size=32,
                  epochs=3, batch_size=16, output_dir=str(root / "run"), verbose=0))
    keras.backend.clear_session()
    return root / "run", x_test, y_test


@pytest.fixture(scope="module")
def model(trained):
    from kerascnn.inference import load_trained

    return load_trained(trained[0])


@pytest.fixture(scope="module")
def reference(trained, model):
    """model.predict on the test images, uint8 -> float32 as the model takes them."""
    return model.predict(trained[1].astype(np.float32), verbose=0)


def _write_pngs(images, folder):
    from PIL import Image

    paths = []
    for i, image in enumerate(images):
        sub = folder / f"part{i % 3}"  # nested: folders are walked
        sub.mkdir(parents=True, exist_ok=True)
        paths.append(sub / f"{i:03d}.png")
        Image.fromarray(image.squeeze()).save(paths[-1])
    return paths


def _resizing_model(channels_in=3, classes=3):
    """An untrained model that resizes (input (None, None, C)), with BatchNormalization
    after the Resizing layer (called without training=False it would run in training mode)."""
    from kerascnn.training.model import add_preprocessing

    def network(input_shape, input_tensor):
        inp = keras.Input(input_shape)
        h = keras.layers.Conv2D(8, 3, strides=2)(inp)
        h = keras.layers.BatchNormalization()(h)
        h = keras.layers.ReLU()(h)
        h = keras.layers.GlobalAveragePooling2D()(h)
        return keras.Model(inp, keras.layers.Dense(classes, activation="softmax")(h))

    keras.utils.set_random_seed(1)
    model = add_preprocessing(network, image_shape=(None, None, channels_in), size=24,
                              channels=3, mean=[0.5] * 3, std=[0.25] * 3,
                              class_names=["a", "b", "c"][:classes])
    for layer in model.layers:  # moving statistics far from any batch's
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.moving_mean.assign(np.full(layer.moving_mean.shape, 0.3, np.float32))
            layer.moving_variance.assign(np.full(layer.moving_variance.shape, 4.0, np.float32))
    return model


# -- training ---------------------------------------------------------------------------------


def test_fit_learns_the_colour_of_the_square(trained):
    metrics = json.loads((trained[0] / "metrics.json").read_text())
    assert metrics["test_accuracy"] > 0.9, metrics["test_accuracy"]


# -- predict.py ---------------------------------------------------------------------------


def test_predict_top1_equals_the_model(trained, reference, tmp_path, capsys):
    x_test = trained[1][:40]
    paths = _write_pngs(x_test, tmp_path / "images")
    out = tmp_path / "predictions.json"
    code = _script("predict").main(["--model-path", str(trained[0]), str(tmp_path / "images"),
                                    "--top-k", "10", "--json", str(out)])
    captured = capsys.readouterr()
    assert code == 0 and captured.err == ""
    lines = captured.out.splitlines()
    order = sorted(range(len(paths)), key=lambda i: str(paths[i]))  # walked in sorted order
    assert [line.split(": ")[0] for line in lines] == [str(paths[i]) for i in order]
    expected = reference[:40].argmax(axis=1)
    assert [line.split(": ")[1].split()[0] for line in lines] == [
        CLASS_NAMES[expected[i]] for i in order]
    results = json.loads(out.read_text())
    assert [r["file"] for r in results] == [str(paths[i]) for i in order]
    for r, i in zip(results, order):
        assert len(r["top_k"]) == 4  # --top-k 10 clipped to the 4 classes
        assert r["top_k"][0]["index"] == expected[i]
        assert [t["class"] for t in r["top_k"]] == [CLASS_NAMES[t["index"]] for t in r["top_k"]]
        probabilities = [t["probability"] for t in r["top_k"]]
        assert probabilities == sorted(probabilities, reverse=True)
        np.testing.assert_allclose(probabilities, np.sort(reference[i])[::-1], atol=TOLERANCE)


def test_predict_reports_unreadable_files_and_exits_1(trained, tmp_path, capsys):
    folder = tmp_path / "mixed"
    good = _write_pngs(trained[1][:2], folder)
    (folder / "broken.png").write_bytes(b"\x89PNG not really")
    missing = tmp_path / "missing.jpg"
    code = _script("predict").main(["--model-path", str(trained[0] / "best.keras"),
                                    str(folder), str(missing), "--top-k", "1"])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.err.splitlines() == [
        f"predict.py: cannot read {folder / 'broken.png'}: not a PNG, JPEG, GIF or BMP image",
        f"predict.py: cannot read {missing}: No such file or directory"]
    assert [line.split(": ")[0] for line in captured.out.splitlines()] == [
        str(p) for p in sorted(good, key=str)]


def test_predict_bad_input_is_one_line(trained, tmp_path, capsys):
    script = _script("predict")
    (tmp_path / "empty").mkdir()
    assert script.main(["--model-path", str(trained[0]), str(tmp_path / "empty")]) == 2
    assert capsys.readouterr().err == (f"predict.py: error: no image files (PNG, JPEG, GIF, "
                                       f"BMP) in {tmp_path / 'empty'}\n")
    _write_pngs(trained[1][:1], tmp_path / "one")
    assert script.main(["--model-path", str(tmp_path / "nothing.keras"),
                        str(tmp_path / "one")]) == 2
    assert capsys.readouterr().err == f"predict.py: error: no model file " \
                                      f"{tmp_path / 'nothing.keras'}\n"
    with pytest.raises(SystemExit) as exit_info:
        script.main(["--model-path", str(trained[0]), str(tmp_path / "one"), "--top-k", "0"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == ("predict.py: error: argument --top-k: expected a "
                                       "positive integer, got '0'\n")


def test_fixed_size_models_get_the_largest_central_crop_resized(model, trained, tmp_path):
    from PIL import Image

    from kerascnn.inference import read_image

    image = trained[1][0]
    # 2x nearest upsampling, between two 32-column strips of noise: its central 64x64 crop
    # resized (bilinear, half-pixel centres) to 32x32 is the image again.
    big = np.repeat(np.repeat(image, 2, axis=0), 2, axis=1)
    noise = np.random.default_rng(3).integers(0, 256, (64, 32, 3)).astype(np.uint8)
    Image.fromarray(np.concatenate([noise, big, noise[:, ::-1]], axis=1)).save(
        tmp_path / "wide.png")
    decoded = read_image(tmp_path / "wide.png", tuple(model.inputs[0].shape[1:]))
    assert decoded.shape == (32, 32, 3) and decoded.dtype == np.float32
    np.testing.assert_allclose(decoded, image.astype(np.float32), atol=1e-3)


def test_resizing_models_take_images_as_they_are(tmp_path):
    from PIL import Image

    from kerascnn.inference import predict_files

    model = _resizing_model(channels_in=1)
    rng = np.random.default_rng(4)
    images = [rng.integers(0, 256, shape).astype(np.uint8)
              for shape in [(30, 40, 3), (30, 40, 3), (50, 20, 3)]]
    paths = [tmp_path / name for name in ("0.png", "1.png", "2.gif")]  # GIF: RGB only
    for path, image in zip(paths, images):
        Image.fromarray(image).save(path)
    results, unreadable = predict_files(model, [tmp_path], top=3, batch_size=8)
    assert unreadable == [] and [r["file"] for r in results] == [str(p) for p in paths]
    for path, result in zip(paths, results):
        with Image.open(path) as image:  # decoded to the model's one channel
            grey = np.asarray(image.convert("RGB").convert("L"), np.float32)[None, ..., None]
        expected = model.predict(grey, verbose=0)[0]
        got = np.zeros(3)
        for t in result["top_k"]:
            got[t["index"]] = t["probability"]
        # PIL's and TensorFlow's RGB -> grey differ by a rounding step at most.
        np.testing.assert_allclose(got, expected, atol=2e-3)


def test_models_without_class_names_name_classes_by_index():
    from kerascnn.inference import class_names_of

    inp = keras.Input((8, 8, 3))
    out = keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(inp))
    assert class_names_of(keras.Model(inp, out)) == ["class 0", "class 1", "class 2"]


# -- hostile files and destinations ----------------------------------------------------------


def _saved_resizing_model(folder):
    path = folder / "model.keras"
    _resizing_model().save(path)
    return path


def _memory_capped():
    """preexec_fn: at most 6 GiB of data, so that a file read whole fails there instead of
    taking the machine's memory."""
    import resource

    resource.setrlimit(resource.RLIMIT_DATA, (6 << 30, 6 << 30))


def test_predict_skips_special_and_oversized_files(tmp_path):
    """A FIFO named .png, a link to /dev/zero, a 20000x20000 PNG (48 KB on disk) and a
    1 TB sparse .png: one line each, and the good image after them is predicted."""
    import os
    import subprocess

    from PIL import Image

    from tests.conftest import ROOT

    model_path = _saved_resizing_model(tmp_path)
    folder = tmp_path / "images"
    folder.mkdir()
    os.mkfifo(folder / "a_fifo.png")
    os.symlink("/dev/zero", folder / "b_zero.png")
    Image.new("1", (20000, 20000)).save(folder / "c_huge.png")
    Image.fromarray(np.full((24, 24, 3), 90, np.uint8)).save(folder / "d_good.png")
    with open(folder / "e_sparse.png", "wb") as f:
        f.truncate(1 << 40)
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "predict.py"),
                           "--model-path", str(model_path), str(folder), "--top-k", "1"],
                          capture_output=True, text=True, timeout=300,
                          preexec_fn=_memory_capped)
    assert done.returncode == 1, done.stderr[-2000:]
    limit = 8 * 89478485 + (64 << 20)
    assert [line for line in done.stderr.splitlines() if line.startswith("predict.py")] == [
        f"predict.py: cannot read {folder / 'a_fifo.png'}: a named pipe (FIFO), not a "
        "regular file",
        f"predict.py: cannot read {folder / 'b_zero.png'}: a character device (/dev/zero), "
        "not a regular file",
        f"predict.py: cannot read {folder / 'c_huge.png'}: 20000x20000 pixels (400000000), "
        "over the limit of 89478485 (--max-pixels raises it)",
        f"predict.py: cannot read {folder / 'e_sparse.png'}: {1 << 40} bytes, more than an "
        f"image within the limit of 89478485 pixels takes ({limit} bytes; --max-pixels "
        "raises it)"]
    assert [line.split(": ")[0] for line in done.stdout.splitlines()] == [
        str(folder / "d_good.png")]


def test_max_pixels_sets_the_limit(tmp_path, capsys):
    from PIL import Image

    from kerascnn.inference import InferenceError, read_image

    model_path = _saved_resizing_model(tmp_path)
    image = tmp_path / "wide.png"
    Image.fromarray(np.full((30, 50, 3), 90, np.uint8)).save(image)
    with pytest.raises(InferenceError, match=r"^cannot read .*wide\.png: 50x30 pixels \(1500\), "
                                             r"over the limit of 1499 \(--max-pixels raises "
                                             r"it\)$"):
        read_image(image, (None, None, 3), max_pixels=1499)
    assert read_image(image, (None, None, 3), max_pixels=1500).shape == (30, 50, 3)
    script = _script("predict")
    assert script.main(["--model-path", str(model_path), str(image),
                        "--max-pixels", "1000"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == (
        f"predict.py: cannot read {image}: 50x30 pixels (1500), over the limit of 1000 "
        "(--max-pixels raises it)\n")
    assert script.main(["--model-path", str(model_path), str(image),
                        "--max-pixels", "1500"]) == 0
    assert capsys.readouterr().out.startswith(f"{image}: ")


def test_predict_checks_the_json_destination_first(tmp_path, capsys, monkeypatch):
    import os

    from PIL import Image

    model_path = _saved_resizing_model(tmp_path)
    image = tmp_path / "one.png"
    Image.fromarray(np.full((24, 24, 3), 90, np.uint8)).save(image)
    script = _script("predict")
    under_file = tmp_path / "model.keras" / "sub" / "out.json"
    assert script.main(["--model-path", str(model_path), str(image), "--json",
                        str(under_file)]) == 2
    assert capsys.readouterr() == ("", f"predict.py: error: --json {under_file}: "
                                       f"{model_path} is a file, not a folder\n")
    read_only = tmp_path / "read_only"
    read_only.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: False if os.fspath(path) == str(
        read_only) else real_access(path, mode, **kw))
    assert script.main(["--model-path", str(model_path), str(image), "--json",
                        str(read_only / "out.json")]) == 2
    assert capsys.readouterr() == ("", f"predict.py: error: --json {read_only / 'out.json'}: "
                                       f"the folder {read_only} is not writable (read-only "
                                       "or no permission)\n")
    assert os.listdir(read_only) == []
    monkeypatch.undo()
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    assert script.main(["--model-path", str(model_path), str(image), "--json", str(fifo)]) == 2
    assert capsys.readouterr() == ("", f"predict.py: error: --json {fifo} exists and is not a "
                                       "regular file; give a file name\n")
    assert os.path.exists(fifo) and not os.path.isfile(fifo)

    def full_disk(path, obj):
        raise OSError(28, "No space left on device")

    import kerascnn.utils.io

    monkeypatch.setattr(kerascnn.utils.io, "write_json_atomic", full_disk)
    out = tmp_path / "out.json"
    assert script.main(["--model-path", str(model_path), str(image), "--json",
                        str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.out.startswith(f"{image}: ")  # the predictions are printed all the same
    assert captured.err == (f"predict.py: error: cannot write --json {out}: No space left on "
                            "device (the predictions are printed above)\n")


@pytest.mark.parametrize("escape", ["../other/best.keras", "ABSOLUTE"])
def test_run_directory_models_stay_inside_it(escape, tmp_path, capsys):
    model_path = _saved_resizing_model(tmp_path)
    run, other = tmp_path / "run", tmp_path / "other"
    run.mkdir()
    other.mkdir()
    (run / "best.keras").write_bytes(model_path.read_bytes())
    (other / "best.keras").write_bytes(model_path.read_bytes())
    name = str(other / "best.keras") if escape == "ABSOLUTE" else escape
    (run / "metrics.json").write_text(json.dumps({"model_file": name}))
    image = tmp_path / "one.png"
    from PIL import Image

    Image.fromarray(np.full((24, 24, 3), 90, np.uint8)).save(image)
    assert _script("predict").main(["--model-path", str(run), str(image)]) == 2
    assert capsys.readouterr() == ("", (
        f"predict.py: error: {run / 'metrics.json'} names the model file {name!r}, not a "
        "file name inside the run directory; give the model file itself (--model-path "
        "FILE.keras)\n"))


# -- export.py -----------------------------------------------------------------------------


def _run_saved_model(path, x):
    import tensorflow as tf

    serve = tf.saved_model.load(str(path)).signatures["serving_default"]
    return serve(image=tf.constant(x))["output_0"].numpy()


def _run_tflite(path, x):
    import tensorflow as tf

    interpreter = tf.lite.Interpreter(model_path=str(path))
    index = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(index, x.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(index, x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def _run_onnx(path, x):
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["image"]
    return session.run(["probabilities"], {"image": x})[0]


RUNNERS = {"saved_model": _run_saved_model, "tflite": _run_tflite, "onnx": _run_onnx}
SUFFIX = {"saved_model": "", "tflite": ".tflite", "onnx": ".onnx"}


@pytest.mark.parametrize("fmt", ["saved_model", "tflite", "onnx"])
def test_export_equals_the_keras_model(fmt, trained, reference, tmp_path, capsys):
    if fmt == "onnx":
        pytest.importorskip("tf2onnx")
    output = tmp_path / f"model{SUFFIX[fmt]}"
    code = _script("export").main(["--model-path", str(trained[0] / "best.keras"),
                                   "--format", fmt, "--output", str(output)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out == (f"{fmt} export of best.keras (input (batch, 32, 32, 3) float32 "
                            f"0-255) -> {output}\n")
    got = RUNNERS[fmt](output, trained[1].astype(np.float32))
    difference = float(np.abs(got - reference).max())
    print(f"{fmt}: max |export - keras| = {difference:.3g}")
    assert difference < TOLERANCE
    assert [p.name for p in tmp_path.iterdir()] == [output.name]  # no temporaries left


@pytest.mark.parametrize("fmt", ["saved_model", "tflite", "onnx"])
def test_resizing_models_export_with_a_dynamic_input(fmt, tmp_path):
    if fmt == "onnx":
        pytest.importorskip("tf2onnx")
    from kerascnn.export import export_model

    model = _resizing_model()
    output = tmp_path / f"dynamic{SUFFIX[fmt]}"
    export_model(model, fmt, output)
    export_model(model, fmt, output)  # an older export is replaced
    rng = np.random.default_rng(5)
    for shape in [(3, 30, 40, 3), (2, 50, 20, 3)]:
        x = rng.integers(0, 256, shape).astype(np.float32)
        assert np.abs(RUNNERS[fmt](output, x) - model.predict(x, verbose=0)).max() < TOLERANCE
    fixed = tmp_path / f"fixed{SUFFIX[fmt]}"
    export_model(model, fmt, fixed, input_size=(30, 40))
    x = rng.integers(0, 256, (2, 30, 40, 3)).astype(np.float32)
    assert np.abs(RUNNERS[fmt](fixed, x) - model.predict(x, verbose=0)).max() < TOLERANCE
    if fmt == "saved_model":
        import tensorflow as tf

        serve = tf.saved_model.load(str(fixed)).signatures["serving_default"]
        assert serve.structured_input_signature[1]["image"].shape.as_list() == [None, 30, 40, 3]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([output.name, fixed.name])


def test_missing_onnx_packages_name_the_extra(trained, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tf2onnx", None)  # import tf2onnx -> ImportError
    output = tmp_path / "model.onnx"
    code = _script("export").main(["--model-path", str(trained[0]), "--format", "onnx",
                                   "--output", str(output)])
    assert code == 2 and not output.exists()
    assert capsys.readouterr().err == ('export.py: error: ONNX export needs the package '
                                       'tf2onnx, which is not installed: pip install '
                                       '"kerascnn[export]"\n')


def test_export_bad_requests_are_one_line(trained, tmp_path, capsys):
    script = _script("export")
    model_path = str(trained[0] / "best.keras")
    assert script.main(["--model-path", model_path, "--format", "tflite", "--output",
                        str(tmp_path / "m.tflite"), "--input-size", "64", "64"]) == 2
    assert capsys.readouterr().err == (
        "export.py: error: the model takes 32x32 images only (its input is fixed); "
        "--input-size is for models whose input is (None, None, 3)\n")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    assert script.main(["--model-path", model_path, "--format", "saved_model", "--output",
                        str(tmp_path / "taken")]) == 2
    assert capsys.readouterr().err == (
        f"export.py: error: {tmp_path / 'taken'} is a directory that holds no SavedModel; "
        "remove it or choose another --output (only an older SavedModel is replaced)\n")
    assert (tmp_path / "taken" / "notes.txt").read_text() == "mine"
    (tmp_path / "broken.keras").write_bytes(b"not a zip")
    assert script.main(["--model-path", str(tmp_path / "broken.keras"), "--format", "tflite",
                        "--output", str(tmp_path / "m.tflite")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"export.py: error: cannot load {tmp_path / 'broken.keras'}: ")
    assert err.count("\n") == 1
    with pytest.raises(SystemExit) as exit_info:
        script.main(["--model-path", model_path, "--format", "coreml", "--output", "x"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.startswith("export.py: error: argument --format: invalid "
                                              "choice: 'coreml'")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.keras", "taken"]
