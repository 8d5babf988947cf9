"""scripts/fit.py and kerascnn.training on real data (SIGNS)."""

import csv
import json
import math
import os
import subprocess
import sys

import keras
import pytest

from kerascnn.models.variants import register_model
from kerascnn.training.cli import main, parse_config

from .conftest import ROOT


def test_fit_script_on_signs_writes_sane_results(signs_dir, tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, str(ROOT / "scripts" / "fit.py"), "--model", "resnet50",
           "--dataset", "signs", "--data-dir", str(signs_dir), "--image-size", "32",
           "--epochs", "2", "--batch-size", "64", "--output-dir", str(out), "--verbose", "0"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "resnet50 on signs: test_accuracy=" in proc.stdout

    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("model", "dataset", "epochs", "test_accuracy", "test_loss", "params",
                "best_epoch", "best_val_accuracy", "evaluated",
                "train_images_per_sec", "wall_seconds"):
        assert key in metrics, key
    assert metrics["model"] == "resnet50" and metrics["dataset"] == "signs"
    assert metrics["epochs"] == 2
    assert metrics["split_sizes"] == {"train": 864, "val": 216, "test": 120}
    assert 0.0 <= metrics["test_accuracy"] <= 1.0 and math.isfinite(metrics["test_loss"])
    assert metrics["train_images_per_sec"] > 0 and metrics["wall_seconds"] > 0
    # SIGNS' 64x64 images were resized to 32 on reading: the saved model takes any size and
    # resizes it itself
    assert metrics["classes"] == 6 and metrics["input_shape"] == [None, None, 3]

    with open(out / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(rows[0])

    model = keras.models.load_model(out / "model.keras")
    import kerascnn

    network = kerascnn.create_model("resnet50", input_shape=(32, 32, 3), classes=6)
    assert metrics["params"] == network.count_params() == 23_600_006  # preprocessing apart
    assert model.output.shape == (None, 6)
    assert (out / "curves.png").stat().st_size > 1000
    # nothing half-written is left behind
    assert not [p for p in os.listdir(out) if ".tmp" in p]


@pytest.mark.parametrize("argv, message", [
    (["--model", "resnet5"], "Unknown model 'resnet5'. Closest registered names: resnet50"),
    (["--epochs", "0"], "--epochs must be a positive integer; got 0."),
    (["--batch-size", "-4"], "--batch-size must be a positive integer; got -4."),
    (["--image-size", "16"], "--image-size 16 is below resnet50's minimum input size 32."),
    (["--dataset", "signs", "--data-dir", "/no/such/dir"], "SIGNS data directory '/no/such/dir' does not exist"),
    (["--dataset", "nope"], "Unknown dataset 'nope'; allowed: "),
    (["--optimizer", "lbfgs"], "argument --optimizer: invalid choice: 'lbfgs'"),
    (["--model-arg", "oops"], "argument --model-arg: expected KEY=VALUE, got 'oops'"),
])
def test_bad_command_lines_one_line_exit_2(argv, message, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["--model", "resnet50", "--output-dir", str(out)] + argv
    with pytest.raises(SystemExit) as info:
        sys.exit(main(argv))
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert message in err
    assert len(err.splitlines()) == 1
    assert not out.exists()


def test_existing_run_directory_is_not_overwritten(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "metrics.json").write_text("{}")
    assert main(["--model", "resnet50", "--output-dir", str(out)]) == 2
    assert "already holds a finished run (metrics.json); choose another directory, or pass " \
           "--overwrite to start over." in capsys.readouterr().err
    assert (out / "metrics.json").read_text() == "{}"


def test_seed000_flags_become_model_kwargs():
    config = parse_config(["--model", "resnet50", "--n", "18", "--num-filters", "16",
                           "--width", "4", "--block", "bottleneck", "--model-arg", "se_ratio=16",
                           "--model-arg", "shortcut=\"B\""])
    assert config.model_kwargs == {"n": 18, "num_filters": 16, "width": 4, "block": "bottleneck",
                                   "se_ratio": 16, "shortcut": "B"}


def test_multi_output_models_train_with_aux_loss_weights(signs_dir, tmp_path, monkeypatch):
    # A model with an auxiliary head: fit.py weights the extra loss 0.3 and reports the
    # main head's accuracy.
    from kerascnn import registry
    from kerascnn.models.common import build_input
    from kerascnn.training.config import FitConfig
    from kerascnn.training.run import run

    def TwoHeads(input_shape=None, classes=6, name="two_heads", **_):
        x_in = build_input(None, input_shape, default_shape=(32, 32, 3), min_size=8,
                           include_top=True)
        x = keras.layers.Conv2D(8, 3, strides=2, activation="relu")(x_in)
        x = keras.layers.GlobalAveragePooling2D()(x)
        main_out = keras.layers.Dense(classes, activation="softmax", name="main")(x)
        aux = keras.layers.Dense(classes, activation="softmax", name="aux")(x)
        return keras.Model(x_in, [main_out, aux], name=name)

    register_model("zz_two_heads", TwoHeads, family="test", paper=("t", 2020),
                            default_input_shape=(32, 32, 3), min_input_size=8)
    try:
        metrics = run(FitConfig(model="zz_two_heads", dataset="signs", data_dir=str(signs_dir),
                                epochs=1, batch_size=64, image_size=32,
                                output_dir=str(tmp_path / "run"), verbose=0))
    finally:
        registry._MODELS.pop("zz_two_heads")
    assert 0.0 <= metrics["test_accuracy"] <= 1.0
    model = keras.models.load_model(tmp_path / "run" / "model.keras")
    assert len(model.outputs) == 2
