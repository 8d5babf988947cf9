"""kerascnn.visualize and scripts/visualize.py, on answers known in advance.

The synthetic set: 32x32 RGB noisy gray images with one 6x6 square placed anywhere; the class
is the square's colour. A small CNN learns it in a few epochs, and Grad-CAM (Selvaraju et al.
2017) and Zeiler & Fergus's occlusion must then point at the square. Saliency (Simonyan et al.
2014) and Grad-CAM are also checked on tiny linear models whose gradients are known exactly.
"""

import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest

from kerascnn import visualize as viz

from .conftest import ROOT, load_script

L = keras.layers

COLOURS = np.array([(230, 40, 40), (40, 230, 40), (40, 40, 230), (230, 230, 40)], "float32")
SIZE, SIDE = 32, 6
STRIDE = 4  # of the default Grad-CAM layer (two 2x2 poolings)


NONE = len(COLOURS)  # the class of images without a square


def make_squares(n, seed):
    """(images 0-255 float32, labels, square tops/lefts).

    Labels 0-3 are the square's colour; label 4 is "no square". Without that class a network
    can answer one colour by the absence of the three others, and then neither Grad-CAM nor
    occlusion has a reason to look at that colour's square.
    """
    rng = np.random.default_rng(seed)
    images = np.clip(rng.normal(128, 25, (n, SIZE, SIZE, 3)), 0, 255).astype("float32")
    labels = rng.integers(0, len(COLOURS) + 1, n)
    corners = rng.integers(0, SIZE - SIDE + 1, (n, 2))
    for img, label, (top, left) in zip(images, labels, corners):
        if label != NONE:
            img[top:top + SIDE, left:left + SIDE] = (COLOURS[label]
                                                     + rng.normal(0, 8, (SIDE, SIDE, 3)))
    return np.clip(images, 0, 255), labels, corners


def _near_square(row, col, corner, margin):
    top, left = corner
    return (top - margin <= row < top + SIDE + margin) and (left - margin <= col < left + SIDE
                                                            + margin)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    keras.utils.set_random_seed(0)
    x, y, _ = make_squares(1200, seed=1)
    inp = keras.Input((SIZE, SIZE, 3))
    h = L.Rescaling(1 / 255.0, name="rescale")(inp)  # the model takes raw 0-255 images
    h = L.Conv2D(16, 3, padding="same", activation="relu", name="conv1")(h)
    h = L.MaxPooling2D(name="pool1")(h)
    h = L.Conv2D(32, 3, padding="same", activation="relu", name="conv2")(h)
    h = L.MaxPooling2D(name="pool2")(h)
    h = L.Conv2D(32, 3, padding="same", activation="relu", name="conv3")(h)
    h = L.GlobalAveragePooling2D(name="gap")(h)
    out = L.Dense(len(COLOURS) + 1, activation="softmax", name="fc")(h)
    model = keras.Model(inp, out, name="squares")
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, batch_size=32, epochs=5, verbose=0, shuffle=True)
    xt, yt, ct = make_squares(200, seed=2)
    accuracy = float(np.mean(np.argmax(model.predict(xt, verbose=0), -1) == yt))
    path = tmp_path_factory.mktemp("model") / "squares.keras"
    model.save(path)
    return {"model": model, "x": xt, "y": yt, "corners": ct, "accuracy": accuracy,
            "path": path}


def test_synthetic_squares_are_learnt(trained):
    assert trained["accuracy"] > 0.9


def test_grad_cam_peaks_on_the_square(trained):
    model, x, y, corners = trained["model"], trained["x"], trained["y"], trained["corners"]
    assert viz.default_layer(model) == "conv3"
    correct = (np.argmax(model.predict(x, verbose=0), -1) == y) & (y != NONE)
    maps = viz.grad_cam(model, x[correct])
    assert maps.shape == (int(correct.sum()), SIZE, SIZE) and maps.dtype == np.float32
    assert maps.min() >= 0 and maps.max() <= 1
    hits = [_near_square(*np.unravel_index(np.argmax(m), m.shape), c, STRIDE)
            for m, c in zip(maps, corners[correct])]
    hit_rate = float(np.mean(hits))
    print(f"Grad-CAM hit rate {hit_rate:.3f} on {len(hits)} correctly classified images")
    assert hit_rate >= 0.6  # chance: about (6 + 2 * 4)^2 / 32^2 = 19 %


def test_occlusion_biggest_drop_covers_the_square(trained):
    model, x, y, corners = trained["model"], trained["x"], trained["y"], trained["corners"]
    hits = []
    squares = y != NONE
    for image, label, corner in zip(x[squares][:10], y[squares][:10], corners[squares][:10]):
        drop = viz.occlusion_sensitivity(model, image, int(label), patch=8, stride=4)
        assert drop.shape == (SIZE, SIZE)
        row, col = np.unravel_index(np.argmax(drop), drop.shape)
        hits.append(_near_square(row, col, corner, 4))  # within one occlusion stride
    assert np.mean(hits) >= 0.8  # chance: about (6 + 2 * 4)^2 / 32^2 = 19 %


def _script():
    return load_script("visualize")


def test_script_writes_gradcam_pngs_only_under_out(trained, tmp_path, monkeypatch, capsys):
    images = tmp_path / "images"
    images.mkdir()
    for i in range(2):
        keras.utils.save_img(images / f"img{i}.png", trained["x"][i], scale=False)
    (images / "broken.png").write_text("not an image")
    out = tmp_path / "out"
    monkeypatch.chdir(tmp_path)
    status = _script().main(["--model-path", str(trained["path"]), "--method", "gradcam",
                             "--out", str(out), str(images / "img0.png"),
                             str(images / "broken.png"), str(images / "img1.png")])
    stderr = capsys.readouterr().err
    assert status == 1, stderr  # one unreadable file
    assert sorted(p.name for p in out.iterdir()) == ["img0_gradcam.png", "img1_gradcam.png"]
    assert (out / "img0_gradcam.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    errors = [line for line in stderr.splitlines() if "broken.png" in line]
    assert len(errors) == 1 and errors[0].startswith("visualize.py: cannot read ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["images", "out"]
    script, model_path = _script(), str(trained["path"])
    for method, extra in [("saliency", []), ("occlusion", ["--class-index", "1"]),
                          ("feature_maps", ["--layer", "conv2"])]:
        assert script.main(["--model-path", model_path, "--method", method, "--out", str(out),
                            *extra, str(images / "img0.png")]) == 0
    assert script.main(["--model-path", model_path, "--method", "filters", "--layer", "conv1",
                        "--out", str(out)]) == 0
    assert script.main(["--model-path", model_path, "--method", "gradcam", "--class-index", "9",
                        "--out", str(out), str(images / "img0.png")]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "visualize.py: error: class_index 9 is out of range: model 'squares' has 5 classes "
        "(0..4).")
    assert sorted(p.name for p in out.iterdir()) == [
        "filters_conv1.png", "img0_feature_maps.png", "img0_gradcam.png", "img0_occlusion.png",
        "img0_saliency.png", "img1_gradcam.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["images", "out"]


def test_script_argument_errors_are_one_line(tmp_path):
    script = str(ROOT / "scripts" / "visualize.py")
    model = tmp_path / "m.keras"
    model.write_text("x")
    result = subprocess.run([sys.executable, script, "--model-path", str(model), "--method",
                             "deconvnet", "--out", str(tmp_path / "o"), "a.png"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].startswith(
        "visualize.py: error: argument --method: invalid choice: 'deconvnet'")
    result = subprocess.run([sys.executable, script, "--model-path", str(model), "--method",
                             "feature_maps", "--out", str(tmp_path / "o"), "a.png"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "visualize.py: error: --method feature_maps needs --layer NAME")
    assert not (tmp_path / "o").exists()


# ---------------------------------------------------------------- exact answers, tiny models

def _linear(activation):
    inp = keras.Input((4, 4, 2))
    out = L.Dense(3, activation=activation, name="fc")(L.Flatten()(inp))
    model = keras.Model(inp, out)
    kernel = (np.arange(32 * 3, dtype="float32").reshape(32, 3) % 7 - 3) / 4
    model.get_layer("fc").set_weights([kernel, np.array([0.5, -1.0, 2.0], "float32")])
    return model, kernel


@pytest.mark.parametrize("activation", [None, "softmax"])
def test_saliency_of_a_linear_model_is_its_weights(activation):
    model, kernel = _linear(activation)
    x = np.random.default_rng(0).normal(size=(2, 4, 4, 2)).astype("float32")
    got = viz.saliency(model, x, class_index=1)
    grad = np.abs(kernel[:, 1].reshape(4, 4, 2)).max(axis=-1)
    np.testing.assert_allclose(got, np.stack([grad / grad.max()] * 2), rtol=1e-6, atol=1e-7)
    # default class: the predicted one, image by image
    predicted = np.argmax(x.reshape(2, -1) @ kernel + [0.5, -1.0, 2.0], axis=-1)
    got = viz.saliency(model, x)
    for m, c in zip(got, predicted):
        grad = np.abs(kernel[:, c].reshape(4, 4, 2)).max(axis=-1)
        np.testing.assert_allclose(m, grad / grad.max(), rtol=1e-6, atol=1e-7)


def _cam_model():
    # conv: channel 0 = x, channel 1 = -x; GAP; class k reads channel k.
    inp = keras.Input((4, 4, 1))
    h = L.Conv2D(2, 1, use_bias=False, name="conv")(inp)
    out = L.Dense(2, activation="softmax", name="fc")(L.GlobalAveragePooling2D()(h))
    model = keras.Model(inp, out)
    model.get_layer("conv").set_weights([np.array([[[[1.0, -1.0]]]], "float32")])
    model.get_layer("fc").set_weights([np.eye(2, dtype="float32"), np.zeros(2, "float32")])
    return model


def test_grad_cam_of_a_known_model():
    model = _cam_model()
    x = np.arange(1, 17, dtype="float32").reshape(1, 4, 4, 1)
    # class 0: weights (1/16, 0) -> ReLU(x / 16), normalised: x / max(x)
    np.testing.assert_allclose(viz.grad_cam(model, x, 0)[0], x[0, ..., 0] / 16, rtol=1e-6)
    # class 1: weights (0, 1/16) on -x -> no positive evidence: zeros
    np.testing.assert_array_equal(viz.grad_cam(model, x, 1)[0], np.zeros((4, 4)))
    # a model with several outputs is explained through its first
    aux = L.Dense(1, name="aux")(model.layers[-2].output)
    two = keras.Model(model.inputs[0], [model.output, aux])
    np.testing.assert_allclose(viz.grad_cam(two, x, 0), viz.grad_cam(model, x, 0), rtol=1e-6)
    np.testing.assert_allclose(viz.saliency(two, x, 0), viz.saliency(model, x, 0), rtol=1e-6)
    # one (H, W, C) image is a batch of one; the default class is the predicted one (1 here)
    assert viz.grad_cam(model, -x[0]).shape == (1, 4, 4)
    np.testing.assert_allclose(viz.grad_cam(model, -x[0])[0], x[0, ..., 0] / 16, rtol=1e-6)


def test_occlusion_of_a_known_model():
    # p(class 0) = sigmoid-like in the mean; hiding the bright corner lowers it most
    model = _cam_model()
    image = np.zeros((4, 4, 1), "float32")
    image[0, 0] = 16.0
    drop = viz.occlusion_sensitivity(model, image, 0, patch=1, stride=1, fill=0.0)
    assert np.unravel_index(np.argmax(drop), drop.shape) == (0, 0)
    np.testing.assert_allclose(drop[1:, :], 0, atol=1e-7)
    base = 1 / (1 + np.exp(-2.0))  # softmax of (1, -1): p0 = sigmoid(2)
    np.testing.assert_allclose(drop[0, 0], base - 0.5, rtol=1e-5)


def test_feature_maps_and_filters_shapes_and_values():
    model = _cam_model()
    x = np.arange(1, 17, dtype="float32").reshape(4, 4, 1)
    maps = viz.feature_maps(model, x, "conv")
    np.testing.assert_allclose(maps, np.concatenate([x, -x], axis=-1))
    np.testing.assert_array_equal(viz.filters(model, "conv"),
                                  np.array([1.0, -1.0]).reshape(2, 1, 1, 1))


def test_errors_are_one_line_and_say_what_is_allowed():
    model = _cam_model()
    x = np.ones((1, 4, 4, 1), "float32")
    with pytest.raises(ValueError, match=r"^No layer named 'nope' in model '\w+'; its spatial "
                                         r"layers end with conv\.$"):
        viz.grad_cam(model, x, layer="nope")
    with pytest.raises(ValueError, match=r"^class_index 2 is out of range: model '\w+' has 2 "
                                         r"classes \(0\.\.1\)\.$"):
        viz.grad_cam(model, x, class_index=2)
    with pytest.raises(ValueError, match=r"^class_index -1 is out of range"):
        viz.saliency(model, x, class_index=-1)
    with pytest.raises(ValueError, match=r"^Grad-CAM needs a layer with a 4-D \(spatial\) "
                                         r"output; layer 'fc' outputs shape \(None, 2\)\.$"):
        viz.grad_cam(model, x, layer="fc")
    with pytest.raises(ValueError, match=r"^images must be \(N, H, W, C\) or \(H, W, C\) "
                                         r"matching the model's input \(None, 4, 4, 1\); got "
                                         r"shape \(1, 5, 5, 1\)\.$"):
        viz.grad_cam(model, np.ones((1, 5, 5, 1)))
    with pytest.raises(ValueError, match=r"^patch must be an int from 1 to 4 \(the image's "
                                         r"smaller side\); got patch=5\.$"):
        viz.occlusion_sensitivity(model, x[0], 0, patch=5, stride=1)
    with pytest.raises(ValueError, match=r"^filters needs a 2-D convolution layer .*; layer "
                                         r"'fc' is a Dense\.$"):
        viz.filters(model, "fc")


def test_figures_are_written_atomically(tmp_path):
    image = np.random.default_rng(0).uniform(0, 255, (8, 8, 3)).astype("float32")
    heat = np.linspace(0, 1, 64, dtype="float32").reshape(8, 8)
    path = viz.overlay(image, heat, tmp_path / "sub" / "overlay.png", title="t")
    assert os.path.basename(path) == "overlay.png"
    grid = viz.save_grid(np.random.default_rng(1).normal(size=(5, 3, 3, 3)),
                         tmp_path / "grid.png", titles=list("abcde"))
    for p in (path, grid):
        assert pathlib.Path(p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["grid.png", "overlay.png", "sub"]
    with pytest.raises(ValueError, match=r"^heatmap must be \(H, W\) = \(8, 8\) like the "
                                         r"image; got \(4, 4\)\.$"):
        viz.overlay(image, heat[:4, :4], tmp_path / "bad.png")
    assert not (tmp_path / "bad.png").exists()


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_exact_answers_on_the_jax_and_torch_backends(backend):
    """The exact-answer tests above, rerun in a process with KERAS_BACKEND=jax (jax.grad)
    and =torch (torch.autograd.grad)."""
    pytest.importorskip(backend)
    if keras.backend.backend() != "tensorflow":
        pytest.skip("runs from the TensorFlow-backend session")
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(pathlib.Path(
            __file__)), "-k", "known_model or linear_model or feature_maps or errors"],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "7 passed" in result.stdout


def test_default_layer_of_registered_and_nested_models():
    import kerascnn
    from kerascnn.utils.receptive_field import receptive_field

    images = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    model = kerascnn.create_model("resnet20_cifar")
    assert viz.default_layer(model) == receptive_field(model)[-1]["layer"]
    maps = viz.grad_cam(model, images / 255.0)
    assert maps.shape == (2, 32, 32) and maps.min() >= 0 and maps.max() <= 1
    # a backbone called as one layer (transfer learning) is the default layer as a whole
    base = kerascnn.create_model("resnet20_cifar", include_top=False, input_shape=(32, 32, 3))
    inp = keras.Input((32, 32, 3))
    h = base(L.Rescaling(1 / 255.0)(inp))
    out = L.Dense(3, activation="softmax")(L.GlobalAveragePooling2D()(h))
    nested = keras.Model(inp, out)
    assert viz.default_layer(nested) == base.name
    assert viz.grad_cam(nested, images, class_index=[0, 2]).shape == (2, 32, 32)


# ---------------------------------------------------------------- the default Grad-CAM layer

def _map_side(model, name):
    shape = tuple(model.get_layer(name).output.shape)
    return shape[1], shape[2]


def test_default_layer_at_64px_gives_a_map_of_at_least_7x7():
    """ResNet-18 at 64x64 ends in a 2x2 map; Grad-CAM's default is the deepest map of at
    least 7x7 (the last layer of the 8x8 stage), not the last spatial layer."""
    import kerascnn

    model = kerascnn.create_model("resnet18", input_shape=(64, 64, 3), classes=6)
    name = viz.default_layer(model)
    assert min(_map_side(model, name)) >= 7
    assert name == "res3b_relu" and _map_side(model, name) == (8, 8)  # the 8x8 stage's end
    spatial = [layer.name for layer in model.layers if len(layer.output.shape) == 4
               and not isinstance(layer, (L.InputLayer, L.ZeroPadding2D))]
    later = spatial[spatial.index(name) + 1:]  # padding: a copy of the map before, bordered
    assert later and all(min(_map_side(model, n)) < 7 for n in later)
    maps = viz.grad_cam(model, np.random.default_rng(0).uniform(0, 1, (2, 64, 64, 3)))
    assert maps.shape == (2, 64, 64)


def test_default_layer_says_in_one_line_when_no_map_reaches_7x7():
    model = _cam_model()  # 4x4 input: the largest map is conv's 4x4
    notes = []
    assert viz.default_layer(model, on_note=notes.append) == "conv"
    assert notes == [f"no layer of {model.name!r} gives a map of at least 7x7 at its 4x4 "
                     "input; Grad-CAM uses the largest map, 'conv' (4x4)"]
    with pytest.warns(UserWarning, match=r"^no layer of '\w+' gives a map of at least 7x7 at "
                                         r"its 4x4 input; Grad-CAM uses the largest map, "
                                         r"'conv' \(4x4\)$"):
        viz.grad_cam(model, np.ones((1, 4, 4, 1), "float32"), 0)


def test_grad_cam_takes_layer_as_the_cli_does():
    model = _cam_model()
    x = np.arange(1, 17, dtype="float32").reshape(1, 4, 4, 1)
    np.testing.assert_allclose(viz.grad_cam(model, x, 0, layer="conv")[0],
                               x[0, ..., 0] / 16, rtol=1e-6)
    with pytest.raises(TypeError):
        viz.grad_cam(model, x, 0, layer_name="conv")


def test_script_takes_a_run_directory_and_titles_with_class_names(tmp_path, monkeypatch,
                                                                  capsys):
    """A fit.py-style run directory (a model with its preprocessing layers and class names,
    input (None, None, 3)) is a --model-path; the figures are titled with the class name."""
    import json

    from kerascnn.training.model import add_preprocessing

    def network(input_shape, input_tensor):  # built on input_tensor: one graph, as fit.py's
        h = L.Conv2D(4, 3, strides=2, padding="same", name="conv1")(input_tensor)
        h = L.Conv2D(4, 3, strides=2, padding="same", name="conv2")(h)  # 6x6, 3x3 at 12px
        out = L.Dense(3, activation="softmax", name="fc")(L.GlobalAveragePooling2D()(h))
        return keras.Model(keras.utils.get_source_inputs(input_tensor), out)

    keras.utils.set_random_seed(0)
    model = add_preprocessing(network, image_shape=(None, None, 3), size=12, channels=3,
                              mean=[0.5] * 3, std=[0.25] * 3, class_names=["cat", "dog", "owl"],
                              name="pets")
    run = tmp_path / "run"
    run.mkdir()
    model.save(run / "best.keras")
    (run / "metrics.json").write_text(json.dumps({"model_file": "best.keras"}))
    image = tmp_path / "pet.png"
    keras.utils.save_img(image, np.random.default_rng(0).uniform(0, 255, (20, 24, 3)),
                         scale=False)
    titles = []
    real = viz.overlay

    def overlay(*args, title=None, **kwargs):
        titles.append(title)
        return real(*args, title=title, **kwargs)

    monkeypatch.setattr(viz, "overlay", overlay)
    out = tmp_path / "out"
    for index in (2, 0):
        assert _script().main(["--model-path", str(run), "--method", "gradcam",
                               "--class-index", str(index), "--out", str(out),
                               str(image)]) == 0
    assert _script().main(["--model-path", str(run), "--method", "saliency", "--out",
                           str(out), str(image)]) == 0
    predicted = int(np.argmax(model.predict(
        keras.utils.img_to_array(keras.utils.load_img(image))[None], verbose=0)[0]))
    name = ["cat", "dog", "owl"][predicted]
    assert titles == ["Grad-CAM (conv1), owl (class 2)", "Grad-CAM (conv1), cat (class 0)",
                      f"saliency, {name} (class {predicted})"]
    assert capsys.readouterr().err.splitlines() == [
        "visualize.py: note: no layer of 'pets' gives a map of at least 7x7 at its 12x12 "
        "input; Grad-CAM uses the largest map, 'conv1' (6x6)"] * 2
    assert sorted(p.name for p in out.iterdir()) == [
        "pet_gradcam.png", "pet_saliency.png"]
    assert _script().main(["--model-path", str(tmp_path / "none"), "--method", "gradcam",
                           "--out", str(out), str(image)]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"visualize.py: error: no model file {tmp_path / 'none'}")
