"""The options of the modern recipes (issue 26): weight EMA, gradient accumulation, global
gradient clipping, binary cross-entropy, a train/test resolution split (FixRes), and the
torchvision 2021 / "ResNet strikes back" recipes as data.

The runs train resnet20_cifar on a small synthetic npz (160 images of 16x16) through
``scripts/fit.py`` in a subprocess (``--deterministic`` changes the process for good)."""

import json
import os
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest

from kerascnn import api
from kerascnn.layers.resize import TrainEvalResizing
from kerascnn.recipes import MODERN_RECIPES, adapt_to_data
from kerascnn.training.callbacks import EMAEvaluation, averaged_weights, recompute_batchnorm
from kerascnn.training.cli import main, parse_config
from kerascnn.training.config import ConfigError, FitConfig, check_settings
from kerascnn.training.model import OneHotBinaryCrossentropy, add_preprocessing
from kerascnn.training.optim import ema_variables, make_optimizer, make_schedule

from .conftest import ROOT, kill_inside_epoch_2

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
# every new option at once; 144 training images in micro-batches of 32: 5 an epoch, so
# epoch 1 ends in the middle of an accumulation of 2
ALL_OPTIONS = ("--ema", "0.9", "--ema-warmup", "--grad-accum-steps", "2", "--clip-grad-norm",
               "1.0", "--loss", "bce", "--train-size", "12", "--deterministic", "--seed", "3")


def _fit(data, out, *extra, epochs=2, verbose="0"):
    return [sys.executable, str(ROOT / "scripts" / "fit.py"), "--model", "resnet20_cifar",
            "--dataset", str(data), "--image-size", "16", "--batch-size", "32", "--epochs",
            str(epochs), "--output-dir", str(out), "--verbose", verbose, *extra]


def _weights(path):
    return keras.saving.load_model(path, compile=False).get_weights()


def _same_run(a, b):
    for name in ("model.keras", "best.keras"):
        for x, y in zip(_weights(a / name), _weights(b / name)):
            np.testing.assert_array_equal(x, y)
    assert (a / "history.csv").read_text() == (b / "history.csv").read_text()


# --------------------------------------------------------------------------- bad values

@pytest.mark.parametrize("settings, message", [
    (dict(ema=1.5), "--ema must be a decay in (0, 1), e.g. 0.999; got 1.5."),
    (dict(ema=0.0), "--ema must be a decay in (0, 1), e.g. 0.999; got 0.0."),
    (dict(ema_warmup=True), "--ema-warmup needs --ema DECAY (the decay it warms up to)."),
    (dict(grad_accum_steps=1), "--grad-accum-steps must be an integer >= 2 (leave it out for "
                               "no accumulation); got 1."),
    (dict(clip_grad_norm=0.0), "--clip-grad-norm must be a positive number (leave it out for "
                               "no clipping); got 0.0."),
    (dict(clip_grad_norm=1.0, clipnorm=2.0), "--clip-grad-norm and --clipnorm conflict: clip "
                                             "the norm of all gradients together "
                                             "(--clip-grad-norm) or of each (--clipnorm)."),
    (dict(train_size=0), "--train-size must be a positive integer; got 0."),
    (dict(eval_size=-3), "--eval-size must be a positive integer; got -3."),
    (dict(eval_size=32, image_size=64), "--eval-size 32 and --image-size 64 conflict: "
                                        "--eval-size is the saved model's input size; give one "
                                        "of them."),
    (dict(loss="focal"), "--loss 'focal' is not one of: ce, bce."),
])
def test_bad_values_are_one_line_errors(settings, message):
    with pytest.raises(ConfigError) as info:
        check_settings(FitConfig(**settings))
    assert str(info.value) == message


def test_bad_values_through_fit_py(small_npz, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(_fit(small_npz, out, "--grad-accum-steps", "1")[2:]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["fit.py: error: --grad-accum-steps must be an integer >= 2 (leave it out for "
                   "no accumulation); got 1."]
    assert not out.exists()
    with pytest.raises(SystemExit):
        main(_fit(small_npz, out, "--loss", "hinge")[2:])
    assert "argument --loss: invalid choice: 'hinge' (choose from 'ce', 'bce')" in \
        capsys.readouterr().err


def test_train_size_needs_a_network_of_any_input_size():
    from kerascnn.training.model import _check_train_size

    def build(shape, tensor):  # Flatten + Dense: one input size only
        y = keras.layers.Conv2D(2, 3)(tensor)
        y = keras.layers.Flatten()(y)
        return keras.Model(tensor, keras.layers.Dense(2, activation="softmax")(y))

    model = add_preprocessing(build, image_shape=(16, 16, 3), size=16, channels=3,
                              mean=np.zeros(3), std=np.ones(3), train_size=12)
    before = [v.numpy() for v in model.variables]
    with pytest.raises(ConfigError) as info:
        _check_train_size(model, "flat", 12)
    message = str(info.value)
    assert message.startswith("--train-size 12: flat cannot train at 12x12 and evaluate at "
                              "another size (")
    assert message.endswith("); leave --train-size out.") and "\n" not in message
    for got, want in zip(model.variables, before):
        np.testing.assert_array_equal(got.numpy(), want)


def test_a_run_of_an_earlier_version_is_still_the_same_run(tmp_path):
    """run_config.json of a run started before these options existed lacks them: the same
    command still finds (and resumes) that run; with one of them set, it differs."""
    from kerascnn.training.config import identity_differences, run_identity

    identity = run_identity(FitConfig())
    new = ("clip_grad_norm", "ema", "ema_warmup", "grad_accum_steps", "loss", "train_size",
           "eval_size")
    saved = tmp_path / "run_config.json"
    saved.write_text(json.dumps({k: v for k, v in identity.items() if k not in new}))
    assert identity_differences(saved, identity) is None
    assert identity_differences(saved, run_identity(FitConfig(ema=0.99))) == ["ema"]


# --------------------------------------------------------------------------- gradient accumulation

def _no_bn_model():
    keras.utils.set_random_seed(1)
    inputs = keras.Input((6, 6, 2))
    x = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))


@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_k_micro_batches_give_the_weights_of_one_batch_of_k_times_b(optimizer):
    import tensorflow as tf

    rng = np.random.RandomState(0)
    x = rng.rand(96, 6, 6, 2).astype("float32")
    y = rng.randint(0, 3, 96)
    k, b, updates = 4, 8, 3
    result = {}
    for name, batch, accum in (("big", k * b, None), ("accumulated", b, k)):
        model = _no_bn_model()
        # a schedule that moves every step: equal only if it counts optimizer steps
        schedule = make_schedule("cosine", 0.05, steps_per_epoch=updates, epochs=2,
                                 warmup_epochs=1)
        model.compile(make_optimizer(optimizer, schedule, weight_decay=0.01,
                                     decoupled=optimizer == "adamw", global_clipnorm=0.5,
                                     gradient_accumulation_steps=accum),
                      "sparse_categorical_crossentropy")
        data = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch)
        model.fit(data, epochs=1, verbose=0, shuffle=False)
        assert int(model.optimizer.iterations) == updates
        result[name] = model.get_weights()
    for big, acc in zip(result["big"], result["accumulated"]):
        np.testing.assert_allclose(acc, big, atol=1e-5, rtol=0)
    assert not np.allclose(result["big"][0], _no_bn_model().get_weights()[0], atol=1e-3)


# --------------------------------------------------------------------------- EMA

def test_the_weight_average_moves_once_an_update_warmed_up_and_is_what_validation_sees():
    import tensorflow as tf

    rng = np.random.RandomState(0)
    x = rng.rand(32, 6, 6, 2).astype("float32")
    y = rng.randint(0, 3, 32)
    model = _no_bn_model()
    decay = 0.9
    model.compile(make_optimizer("sgd", 0.1, ema=decay, ema_warmup=True,
                                 gradient_accumulation_steps=2),
                  "sparse_categorical_crossentropy")
    seen = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append([v.numpy().copy() for v in model.trainable_variables])

    model.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(4), epochs=1, verbose=0,
              callbacks=[Record()], shuffle=False)
    # after every 2nd micro-batch an update n = 0, 1, 2, 3: the average at decay
    # min(0.9, (1 + n) / (10 + n)) (0 at the first update: the weights themselves)
    expected = None
    for n, weights in enumerate(seen[1::2]):
        m = 0.0 if n == 0 else min(decay, (1 + n) / (10 + n))
        expected = weights if expected is None else [m * e + (1 - m) * w
                                                     for e, w in zip(expected, weights)]
    averages = [a.numpy() for _, a in ema_variables(model)]
    for got, want in zip(averages, expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    live = [v.numpy().copy() for v in model.trainable_variables]
    assert not np.allclose(live[0], averages[0])
    # the end of fit() keeps the trained weights (keras would write the average over them)
    for got, want in zip(live, seen[-1]):
        np.testing.assert_array_equal(got, want)
    # validation sees the average; training continues from its own weights, bit for bit
    with averaged_weights(model):
        expected_loss = model.evaluate(x, y, verbose=0)
    loss = model.evaluate(x, y, verbose=0, callbacks=[EMAEvaluation()])
    assert loss == pytest.approx(expected_loss, rel=1e-6)
    assert loss != pytest.approx(model.evaluate(x, y, verbose=0), rel=1e-4)
    for got, want in zip(model.trainable_variables, live):
        np.testing.assert_array_equal(got.numpy(), want)


# --------------------------------------------------------------------------- BCE, FixRes layer

def test_binary_cross_entropy_on_one_hot_targets_smooths_as_the_categorical_loss():
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.9]], np.float32)
    y = np.array([[1, 0, 0], [0, 0, 1]], np.float32)
    s = 0.3
    t = y * (1 - s) + s / 3
    want = -np.mean(np.sum(t * np.log(p) + (1 - t) * np.log(1 - p), axis=-1))
    got = float(OneHotBinaryCrossentropy(label_smoothing=s)(y, p))
    assert got == pytest.approx(want, rel=1e-5)
    # a bce run's network ends in a sigmoid (classifier_activation), as the paper's
    config = FitConfig(model="resnet20_cifar", loss="bce", classes=2)
    assert config.one_hot
    from kerascnn.training.model import build_model

    model = build_model(config, size=16, classes=2, compile=False)
    assert model.layers[-1].get_config()["activation"] == "sigmoid"


def test_the_resize_layer_trains_at_one_side_and_evaluates_at_another():
    layer = TrainEvalResizing(16, 16, 12, 12, crop_to_aspect_ratio=True)
    x = np.random.RandomState(0).rand(2, 20, 20, 3).astype("float32")
    assert tuple(layer(x).shape) == (2, 16, 16, 3)  # inference, by default
    assert tuple(layer(x, training=True).shape) == (2, 12, 12, 3)
    again = TrainEvalResizing.from_config(layer.get_config())
    assert (again.train_height, again.height) == (12, 16)
    # precise BN statistics are computed at the evaluation side
    inputs = keras.Input((20, 20, 3))
    model = keras.Model(inputs, keras.layers.BatchNormalization()(layer(inputs)))
    seen = []
    model.layers[-1].call = (lambda f: lambda z, *a, **k: (seen.append(z.shape[1]),
                                                            f(z, *a, **k))[1])(
        model.layers[-1].call)
    recompute_batchnorm(model, x, batch_size=2)
    assert seen == [16] and layer.use_train_size


def test_a_fixres_model_takes_raw_images_at_the_evaluation_side():
    def build(shape, tensor):
        y = keras.layers.Conv2D(2, 3)(tensor)
        y = keras.layers.GlobalAveragePooling2D()(y)
        return keras.Model(tensor, keras.layers.Dense(2, activation="softmax")(y))

    model = add_preprocessing(lambda shape, tensor=None: build(shape, tensor),
                              image_shape=(16, 16, 3), size=16, channels=3,
                              mean=np.zeros(3), std=np.ones(3), train_size=12)
    assert isinstance(model.get_layer("preprocess_resize"), TrainEvalResizing)
    assert tuple(model.inputs[0].shape[1:]) == (16, 16, 3)


# --------------------------------------------------------------------------- recipes

def test_modern_recipes_are_data_with_sources_scaled_to_the_data():
    assert set(MODERN_RECIPES) == {"torchvision_2021", "rsb_a1", "rsb_a2", "rsb_a3"}
    for name, recipe in MODERN_RECIPES.items():
        assert recipe["source"] and recipe["description"], name
    assert "Wightman, Touvron, Jegou 2021" in MODERN_RECIPES["rsb_a2"]["source"]
    assert api.model_info("resnet18")["modern_recipes"]["rsb_a3"]["loss"] == "bce"
    config = parse_config(["--recipe", "torchvision_2021", "--model", "resnet20_cifar"])
    assert (config.optimizer, config.lr_scaling, config.lr_base_batch) == ("sgd", "linear", 1024)
    assert config.ema == 0.99998 and config.ema_warmup
    # 4577 training images: batch 64, 72 steps an epoch, 60 epochs -> 4000 steps at most
    notes = adapt_to_data(config, 4577, image_side=32)
    assert (config.batch_size, config.epochs) == (64, 56)
    assert config.warmup_epochs == 0.47  # 5/600 of 56 epochs
    assert config.ema == round(1 - 1 / (4032 / 26), 4) == 0.9936
    assert config.train_size == 25  # 32 x 176/224
    assert notes[1:] == [
        "0.5 -> 0.47 warm-up epochs (0.00833 of the run)",
        "weight average decay 0.99998 -> 0.9936 (a horizon of 155 of the 4032 updates)",
        "training side 25 for the evaluation side 32 (x0.786, FixRes)"]
    # flags given on the command line are not adapted
    config = parse_config(["--recipe", "rsb_a3", "--model", "resnet18", "--train-size", "40",
                           "--warmup-epochs", "1"])
    assert "train_size_ratio" not in config.adapt and "warmup_fraction" not in config.adapt
    adapt_to_data(config, 864, image_side=64)
    assert (config.train_size, config.warmup_epochs, config.loss) == (40, 1.0, "bce")


def test_list_recipes_shows_the_modern_recipes_with_their_sources(capsys):
    with pytest.raises(SystemExit):
        parse_config(["--list-recipes"])
    out = capsys.readouterr().out
    assert "Modern recipes (--recipe NAME), scaled to the data's size as the family defaults " \
           "are:" in out
    assert "\n    source: Vryniotis 2021, \"How to Train State-Of-The-Art Models Using " \
           "TorchVision's Latest Primitives\"" in out
    for name in MODERN_RECIPES:
        assert f"\n{name}: " in out


# --------------------------------------------------------------------------- runs, resume

def test_a_checkpoint_mid_accumulation_continues_as_the_uninterrupted_run(tmp_path):
    """The cheap guard of the runs below: the optimizer state saved after 6 micro-batches
    of an accumulation of 4 (2 of them accumulated, not applied), with the weight average,
    restored into a new model, continues to the weights and average of the run that was
    not stopped."""
    import tensorflow as tf

    rng = np.random.RandomState(0)
    x = rng.rand(64, 6, 6, 2).astype("float32")
    y = rng.randint(0, 3, 64)

    def compiled():
        model = _no_bn_model()
        schedule = make_schedule("cosine", 0.05, steps_per_epoch=1, epochs=4, warmup_epochs=1)
        model.compile(make_optimizer("adamw", schedule, weight_decay=0.01, decoupled=True,
                                     global_clipnorm=0.5, ema=0.8, ema_warmup=True,
                                     gradient_accumulation_steps=4),
                      "sparse_categorical_crossentropy")
        return model

    def data(lo, hi):
        return tf.data.Dataset.from_tensor_slices((x[lo:hi], y[lo:hi])).batch(4)

    straight = compiled()
    straight.fit(data(0, 64), epochs=1, verbose=0, shuffle=False)
    first = compiled()
    first.fit(data(0, 24), epochs=1, verbose=0, shuffle=False)  # 6 micro-batches
    accumulated = first.optimizer._accumulated_gradients[0].numpy()
    assert np.abs(accumulated).max() > 0  # in the middle of an accumulation
    first.save_weights(tmp_path / "mid.weights.h5")
    resumed = compiled()
    resumed.optimizer.build(resumed.trainable_variables)
    resumed.load_weights(tmp_path / "mid.weights.h5")
    np.testing.assert_array_equal(resumed.optimizer._accumulated_gradients[0].numpy(),
                                  accumulated)
    resumed.fit(data(24, 64), epochs=1, verbose=0, shuffle=False)
    assert int(resumed.optimizer.iterations) == int(straight.optimizer.iterations) == 4
    for a, b in zip(resumed.get_weights(), straight.get_weights()):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-7)
    for (_, a), (_, b) in zip(ema_variables(resumed), ema_variables(straight)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=0, atol=1e-7)


@pytest.mark.slow
def test_every_option_resumes_mid_accumulation_to_the_same_weights(small_npz, tmp_path):
    """A run with every new option, resumed from the checkpoint of epoch 1 (written in the
    middle of a gradient accumulation, with the weight average), ends with the weights,
    best.keras and history of the uninterrupted run."""
    ref = tmp_path / "ref"
    done = subprocess.run(_fit(small_npz, ref, *ALL_OPTIONS, verbose="2"), env=ENV,
                          timeout=900, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    for line in [
            "  steps        5 micro-batches of 32 an epoch, 10 in all; the optimizer steps once "
            "every 2 (their mean gradient, as a batch of 64): 5 updates, which the schedule "
            "counts; BatchNormalization sees micro-batches",
            "  weights      exponential moving average of the weights, decay 0.9, warmed up: "
            "min(decay, (1 + n) / (10 + n)) at update n; validation, the best epoch, precise BN "
            "and the saved models use it",
            "  loss         binary cross-entropy (sigmoid classifier, one-hot targets), label "
            "smoothing 0.1, class weights none, precision fp32",
            "  resolution   trains at 12x12, evaluates and saves at 16x16 (FixRes)"]:
        assert line in done.stdout.splitlines(), line
    assert "global gradient norm clipped to 1" in done.stdout
    metrics = json.loads((ref / "metrics.json").read_text())
    assert metrics["evaluated_weights"] == ("the exponential moving average of the weights "
                                            "(--ema 0.9, warmed up)")
    assert (metrics["grad_accum_steps"], metrics["optimizer_steps"]) == (2, 5)
    assert (metrics["loss"], metrics["train_size"], metrics["eval_size"]) == ("bce", 12, 16)
    assert metrics["clip_grad_norm"] == 1.0

    again = tmp_path / "again"
    shutil.copytree(ref, again)
    shutil.rmtree(again / "checkpoints" / "epoch-0002")
    for name in ("metrics.json", "model.keras"):
        (again / name).unlink()
    done = subprocess.run(_fit(small_npz, again, *ALL_OPTIONS), env=ENV, timeout=900,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads((again / "metrics.json").read_text())["resumed_from_epoch"] == 1
    _same_run(ref, again)


@pytest.mark.slow
def test_every_option_killed_resumes_bit_identical(small_npz, tmp_path):
    ref, killed, other = tmp_path / "ref", tmp_path / "killed", tmp_path / "other"
    subprocess.run(_fit(small_npz, ref, *ALL_OPTIONS, epochs=3), check=True, env=ENV,
                   timeout=900, capture_output=True)
    kill_inside_epoch_2(_fit(small_npz, killed, *ALL_OPTIONS, epochs=3), killed, ENV, 900)
    assert not (killed / "metrics.json").exists()
    done = subprocess.run(_fit(small_npz, killed, *ALL_OPTIONS, epochs=3), env=ENV,
                          timeout=900, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads((killed / "metrics.json").read_text())["resumed_from_epoch"] in (1, 2)
    _same_run(ref, killed)
    # another seed: other weights (the options are seeded, not constant)
    options = list(ALL_OPTIONS)
    options[options.index("--seed") + 1] = "4"
    subprocess.run(_fit(small_npz, other, *options, epochs=3), check=True, env=ENV,
                   timeout=900, capture_output=True)
    assert not np.array_equal(_weights(ref / "model.keras")[0], _weights(other / "model.keras")[0])
