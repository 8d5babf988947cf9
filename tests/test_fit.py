"""scripts/fit.py and kerascnn.training on real data (SIGNS)."""

import csv
import io
import json
import math
import os
import subprocess
import sys
import zipfile

import keras
import numpy as np
import pytest

from kerascnn.models.variants import register_model
from kerascnn.training.callbacks import latest_checkpoint
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


# --------------------------------------------------------------------------- what a run says

def test_help_says_the_recipe_decides_the_defaults(monkeypatch):
    from kerascnn.training.cli import build_parser

    monkeypatch.setenv("COLUMNS", "400")  # one line a flag
    text = build_parser().format_help()
    assert ("--epochs EPOCHS epochs (tune.py: per trial; hyperband: the most epochs of a trial) "
            "(default: the recipe's, adapted to the training split's size (the run prints it); "
            "2 with --recipe none)") in " ".join(text.split())
    assert ("--batch-size BATCH_SIZE global batch, split across replicas (default: the "
            "recipe's, adapted to the training split's size (the run prints it); 128 with "
            "--recipe none)") in " ".join(text.split())
    assert ("--optimizer {sgd,adam,adamw,rmsprop,lamb} (default: the recipe's where it sets one "
            "(--list-recipes), else adam)") in " ".join(text.split())
    assert "--augment AUGMENT training augmentation: " in " ".join(text.split())
    assert "else none)" in text.split("--augment AUGMENT")[-1].split("--optimizer")[0]
    for shown in ("(default: 2)", "(default: 128)"):
        assert shown not in text, shown


def test_verbose_follows_the_terminal_unless_given(monkeypatch, capsys):
    assert parse_config([]).verbose == 2  # captured: not a terminal, a line an epoch
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    assert parse_config([]).verbose == 1
    assert parse_config(["--verbose", "0"]).verbose == 0


def test_the_report_warns_when_best_and_final_models_disagree():
    from kerascnn.training.report import disagreement

    metrics = {"test_accuracy_of": {"best.keras": 0.38, "model.keras": 0.7}, "best_epoch": 3,
               "monitor": "val_loss", "split_sizes": {"train": 188, "val": 21, "test": 120}}
    assert disagreement(metrics) == (
        "best.keras (epoch 3, chosen by val_loss on 21 validation images) scores 0.380 on the "
        "120 test images, model.keras (the last epoch) 0.700: the validation split is too "
        "small to choose reliably: raise --val-fraction (metrics.json's test_accuracy_of has "
        "both).")
    metrics["test_accuracy_of"] = {"best.keras": 0.7, "model.keras": 0.7 - 1 / 120}
    assert disagreement(metrics) is None  # one test image: within the split's resolution
    metrics["test_accuracy_of"] = {"model.keras": 0.7}
    assert disagreement(metrics) is None


def _h5_groups(keras_file):
    import h5py

    with zipfile.ZipFile(keras_file) as z:
        config = json.loads(z.read("config.json"))
        with h5py.File(io.BytesIO(z.read("model.weights.h5")), "r") as f:
            return set(f), config.get("compile_config")


def test_a_run_states_its_settings_and_reports_both_models(tiny_npz, tmp_path, capsys,
                                                          monkeypatch):
    from kerascnn.training import cli

    real = cli.apply_recipe

    def with_rule(config, given):  # a family default's adaptation, on a tiny set
        config = real(config, given)
        config.epochs, config.adapt = 2, dict(min_steps_per_epoch=20, min_batch=16)
        return config

    monkeypatch.setattr(cli, "apply_recipe", with_rule)
    out = tmp_path / "run"
    assert main(["--model", "resnet20_cifar", "--n", "1", "--num-filters", "4", "--dataset",
                 str(tiny_npz), "--image-size", "16", "--output-dir", str(out),
                 "--recipe", "signs"]) == 0  # no --verbose: stdout is captured, not a terminal
    printed = capsys.readouterr().out
    lines = printed.splitlines()
    assert ("fit.py: settings of this run (recipe signs, adapted to the data; flags given on "
            "the command line win; --list-recipes):") in lines
    for line in [
            "  epochs       2",
            "  batch        16 (adapted to 54 training images: batch 32 -> 16 (the recipe's "
            "smallest batch: 4 steps an epoch, fewer than the 20 it aims at))",
            "  steps        4 an epoch, 8 in all",
            "  optimizer    adam, learning rate 0.001, cosine schedule, no weight decay",
            "  augmentation flip,pad_crop",
            "  batchnorm    the model's momentum; precise statistics over 54 training images "
            "(the whole split) augmented as in training, before each evaluation",
            "  best.keras   the best epoch by val_loss (--monitor auto) on 6 validation images "
            "(accuracy in steps of 0.167)",
            "  progress     a line of metrics an epoch (--verbose 2)",
            f"  output       {out}"]:
        assert line in lines, line
    # a log gets a line of metrics an epoch (after keras' "Epoch i/N"), no escape codes
    assert "\x1b" not in printed
    assert len([line for line in lines if " - loss: " in line]) == 2, printed

    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["batch_size"], metrics["epochs"], metrics["precise_bn_images"]) == (16, 2, 54)
    # both saved models, loaded back and scored on the raw test images
    assert set(metrics["test_accuracy_of"]) == {"best.keras", "model.keras"}
    assert metrics["test_accuracy"] == metrics["test_accuracy_of"][metrics["model_file"]]
    test = np.load(tiny_npz)
    for name, accuracy in metrics["test_accuracy_of"].items():
        model = keras.saving.load_model(out / name)  # an uncompiled model: no warnings
        predicted = np.argmax(model.predict(test["x_test"], verbose=0), axis=-1)
        assert accuracy == pytest.approx(float(np.mean(predicted == test["y_test"])))
        # saved without the optimizer, which the checkpoints keep for resuming
        groups, compile_config = _h5_groups(out / name)
        assert "optimizer" not in groups and not compile_config, name
    (epoch, path) = latest_checkpoint(out / "checkpoints")
    import h5py

    with h5py.File(os.path.join(path, "training.weights.h5"), "r") as f:
        assert "optimizer" in f


def test_the_ranking_line_gives_the_step_of_a_large_validation_split():
    """6,000 validation images move accuracy in steps of 0.000167, not "0.000"."""
    from types import SimpleNamespace

    from kerascnn.training.startup import _ranking

    state = SimpleNamespace(monitor="val_accuracy", phases=None,
                            config=SimpleNamespace(monitor="auto"),
                            data=SimpleNamespace(info=SimpleNamespace(split_sizes={"val": 6000})))
    assert _ranking(state) == ("the best epoch by val_accuracy (--monitor auto) on 6000 "
                               "validation images (accuracy in steps of 0.000167)")
    state.data.info.split_sizes["val"] = 6
    assert _ranking(state).endswith("on 6 validation images (accuracy in steps of 0.167)")
