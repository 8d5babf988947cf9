"""Evaluation modes: 10-crop geometry, dense = averaged sliding windows, evaluate.py."""

import json

import keras
import numpy as np
import pytest

from kerascnn.data.evaluation import evaluate, predict_views, ten_crop, to_fully_convolutional

from .conftest import ROOT


def test_ten_crop_draws_the_papers_crops():
    image = np.arange(6 * 7 * 2, dtype=np.float32).reshape(1, 6, 7, 2)
    crops = ten_crop(image, 4)
    x = image[0]
    expected = [x[:4, :4], x[:4, 3:], x[2:, :4], x[2:, 3:], x[1:5, 1:5]]
    expected += [e[:, ::-1] for e in expected]
    assert len(crops) == 10
    for got, want in zip(crops, expected):
        np.testing.assert_array_equal(got[0], want)
    with pytest.raises(ValueError, match="smaller than the crop 8"):
        ten_crop(image, 8)


def _flatten_model():
    keras.utils.set_random_seed(0)
    inp = keras.Input((6, 6, 2))
    x = keras.layers.Conv2D(4, 3, activation="relu")(inp)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dropout(0.5)(x)
    x = keras.layers.Dense(7, activation="relu")(x)
    out = keras.layers.Dense(5, activation="softmax")(x)
    return keras.Model(inp, out)


def test_dense_evaluation_averages_every_window():
    model = _flatten_model()
    fcn = to_fully_convolutional(model)
    image = np.random.RandomState(0).rand(3, 9, 8, 2).astype(np.float32)
    scores = fcn(image).numpy()
    assert scores.shape == (3, 4, 3, 5)
    windows = np.stack([[model(image[:, i:i + 6, j:j + 6]).numpy() for j in range(3)]
                        for i in range(4)])
    np.testing.assert_allclose(scores, windows.transpose(2, 0, 1, 3), atol=1e-6)
    # dense mode: mean over positions of the image and of its mirror
    dense = predict_views(model, image, "dense", image_size=6, scales=[8])
    mirror = np.stack([[model(image[:, i:i + 6, ::-1][:, :, j:j + 6]).numpy()
                        for j in range(3)] for i in range(4)])
    np.testing.assert_allclose(dense, (windows.mean((0, 1)) + mirror.mean((0, 1))) / 2,
                               atol=1e-6)


def test_single_mode_is_the_plain_prediction_and_all_modes_run(signs_dir):
    from kerascnn.data import load_source

    x, y = load_source(str(signs_dir), val_fraction=0).splits["test"]
    keras.utils.set_random_seed(1)
    inp = keras.Input((32, 32, 3))
    h = keras.layers.Conv2D(8, 3, activation="relu")(inp)
    h = keras.layers.GlobalAveragePooling2D()(h)
    model = keras.Model(inp, keras.layers.Dense(6, activation="softmax")(h))
    small = np.stack([np.asarray(keras.ops.image.resize(im, (32, 32)))
                      for im in x.astype(np.float32)])
    direct = float(np.mean(model.predict(small, verbose=0).argmax(1) == y))
    results = {m: evaluate(model, x, y, m, image_size=32)
               for m in ("single", "10crop", "multiscale", "dense")}
    assert results["single"]["accuracy"] == pytest.approx(direct, abs=1 / 120 + 1e-9)
    assert all(0 <= r["accuracy"] <= 1 and r["images"] == 120 for r in results.values())
    with pytest.raises(ValueError, match=r"^Unknown evaluation mode 'x'; allowed: single, "
                                         r"10crop, multiscale, dense\.$"):
        evaluate(model, x, y, "x", image_size=32)


def test_evaluate_script_writes_eval_json(signs_dir, tmp_path, capsys):
    import sys

    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import evaluate as script
    finally:
        sys.path.pop(0)
    from kerascnn.training.model import add_preprocessing

    def network(input_shape, input_tensor):
        inp = keras.Input(input_shape)
        h = keras.layers.Conv2D(8, 3, activation="relu")(inp)
        h = keras.layers.GlobalAveragePooling2D()(h)
        return keras.Model(inp, keras.layers.Dense(6, activation="softmax")(h))

    model = add_preprocessing(network, image_shape=(64, 64, 3), size=32, channels=3,
                              mean=[0.5] * 3, std=[0.25] * 3)
    model.save(tmp_path / "model.keras")
    code = script.main(["--model-path", str(tmp_path), "--dataset", "signs", "--data-dir",
                        str(signs_dir), "--mode", "10crop"])
    assert code == 0
    result = json.loads((tmp_path / "eval.json").read_text())
    assert result["mode"] == "10crop" and result["images"] == 120 and result["split"] == "test"
    assert result["image_size"] == 32
    assert "10crop accuracy of model.keras on signs test: " in capsys.readouterr().out
    assert script.main(["--model-path", str(tmp_path / "none"), "--dataset", "signs"]) == 2
    assert "no model file" in capsys.readouterr().err
    # a model without its preprocessing is refused in one line
    network((32, 32, 3), None).save(tmp_path / "bare.keras")
    assert script.main(["--model-path", str(tmp_path / "bare.keras"), "--dataset", "signs",
                        "--data-dir", str(signs_dir)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("has no preprocessing layers (it was not saved by fit.py or tune.py "
                        "of this version); retrain it with scripts/fit.py.")
    assert len(err.splitlines()) == 1


def _evaluate_script():
    from .conftest import load_script

    return load_script("evaluate")


def _small_network(input_shape, input_tensor):
    inp = keras.Input(input_shape)
    h = keras.layers.Conv2D(8, 3, activation="relu")(inp)
    h = keras.layers.GlobalAveragePooling2D()(h)
    return keras.Model(inp, keras.layers.Dense(6, activation="softmax")(h))


@pytest.mark.parametrize("mode", ["single", "10crop"])
def test_a_grey_model_is_evaluated_on_rgb_data(mode, signs_dir, tmp_path, capsys):
    """The images are converted to the model's one channel, as predict.py converts them."""
    import tensorflow as tf

    from kerascnn.data import load_source
    from kerascnn.training.model import add_preprocessing

    keras.utils.set_random_seed(2)
    model = add_preprocessing(_small_network, image_shape=(64, 64, 1), size=32, channels=1,
                              mean=[0.5], std=[0.25])
    model.save(tmp_path / "grey.keras")
    code = _evaluate_script().main(["--model-path", str(tmp_path / "grey.keras"), "--dataset",
                                    "signs", "--data-dir", str(signs_dir), "--mode", mode])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    result = json.loads((tmp_path / "eval.json").read_text())
    assert result["images"] == 120 and result["mode"] == mode
    if mode == "single":
        x, y = load_source(str(signs_dir), val_fraction=0).splits["test"]
        grey = tf.image.rgb_to_grayscale(x.astype(np.float32)).numpy()
        direct = float(np.mean(model.predict(grey, verbose=0).argmax(1) == y))
        assert result["accuracy"] == pytest.approx(direct, abs=1 / 120 + 1e-9)


@pytest.mark.parametrize("escape", ["../other/model.keras", "ABSOLUTE"])
def test_evaluate_takes_run_models_from_inside_the_run(escape, tmp_path, capsys):
    from kerascnn.training.model import add_preprocessing

    run, other = tmp_path / "run", tmp_path / "other"
    run.mkdir()
    other.mkdir()
    model = add_preprocessing(_small_network, image_shape=(64, 64, 3), size=32, channels=3,
                              mean=[0.5] * 3, std=[0.25] * 3)
    model.save(run / "model.keras")
    model.save(other / "model.keras")
    name = str(other / "model.keras") if escape == "ABSOLUTE" else escape
    (run / "metrics.json").write_text(json.dumps({"model_file": name, "seed": 0}))
    assert _evaluate_script().main(["--model-path", str(run), "--dataset", "signs"]) == 2
    assert capsys.readouterr() == ("", (
        f"evaluate.py: error: {run / 'metrics.json'} names the model file {name!r}, not a "
        "file name inside the run directory; give the model file itself (--model-path "
        "FILE.keras)\n"))
