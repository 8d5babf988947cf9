"""The training engine: distribution, recipes, schedules, resume, failures."""

import json
import os
import socket
import subprocess
import sys

import keras
import numpy as np
import pytest

from kerascnn.training.callbacks import latest_checkpoint
from kerascnn.training.cli import main, parse_config
from kerascnn.training.config import FitConfig, TrainingFailed
from kerascnn.training.optim import WarmupSchedule, apply_l2, make_schedule
from kerascnn.training.run import run

from .conftest import ROOT, SMALL_MODEL, SMALL_SIZE, kill_inside_epoch_2

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}


def _fit_cmd(signs_dir, out, *extra):
    return [sys.executable, str(ROOT / "scripts" / "fit.py"), "--model", SMALL_MODEL,
            "--dataset", "signs", "--data-dir", str(signs_dir), "--image-size", str(SMALL_SIZE),
            "--batch-size", "64", "--output-dir", str(out), "--verbose", "0", *extra]


def _weights(path):
    return keras.models.load_model(path).get_weights()


# --------------------------------------------------------------------------- recipes, schedules

def test_recipe_fills_unset_flags_and_explicit_flags_win():
    config = parse_config(["--recipe", "cifar_resnet", "--epochs", "3"])
    assert (config.optimizer, config.learning_rate, config.momentum) == ("sgd", 0.1, 0.9)
    assert (config.weight_decay, config.weight_decay_mode) == (1e-4, "l2")
    assert config.schedule == "step" and tuple(config.lr_steps) == (0.5, 0.75)
    assert config.batch_size == 128 and config.epochs == 3
    config = parse_config(["--recipe", "inception"])
    assert config.label_smoothing == 0.1 and config.aux_loss_weight == 0.3
    assert config.optimizer == "rmsprop" and config.schedule == "exponential"


def test_list_recipes_and_unknown_recipe(capsys):
    with pytest.raises(SystemExit) as info:
        parse_config(["--list-recipes"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for name in ("cifar_resnet", "densenet_cifar", "alexnet", "inception", "signs"):
        assert f"{name}:" in out
    assert "resnet_cifar (paper: cifar_resnet):" in out  # the family defaults
    with pytest.raises(SystemExit) as info:
        parse_config(["--recipe", "imagenet_magic"])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("fit.py: error: Unknown recipe 'imagenet_magic'; allowed: default, "
                          "paper, none or alexnet, cifar_resnet, densenet_cifar, ")
    assert err.endswith(" (see --list-recipes).")


def test_schedules():
    step = make_schedule("step", 0.1, steps_per_epoch=10, epochs=10, lr_steps=(0.5, 0.75))
    assert isinstance(step, keras.optimizers.schedules.PiecewiseConstantDecay)
    values = [float(step(s)) for s in (0, 49, 50, 74, 75, 99)]
    np.testing.assert_allclose(values, [0.1, 0.1, 0.01, 0.01, 0.001, 0.001], rtol=1e-6)
    cosine = make_schedule("cosine", 0.1, steps_per_epoch=10, epochs=10)
    assert float(cosine(0)) == pytest.approx(0.1) and float(cosine(100)) == pytest.approx(0.0)
    expo = make_schedule("exponential", 0.045, steps_per_epoch=10, epochs=10, decay_rate=0.94,
                         decay_epochs=2)
    assert float(expo(19)) == pytest.approx(0.045) and float(expo(20)) == pytest.approx(0.0423)
    warm = make_schedule("constant", 0.2, steps_per_epoch=10, epochs=5, warmup_epochs=1)
    assert isinstance(warm, WarmupSchedule)
    np.testing.assert_allclose([float(warm(s)) for s in (0, 4, 9, 30)], [0.02, 0.1, 0.2, 0.2],
                               rtol=1e-6)
    # cosine warms up with keras' own CosineDecay(warmup_target, warmup_steps)
    cos = make_schedule("cosine", 0.2, steps_per_epoch=10, epochs=5, warmup_epochs=1)
    assert isinstance(cos, keras.optimizers.schedules.CosineDecay)
    np.testing.assert_allclose([float(cos(s)) for s in (0, 5, 10, 50)], [0.0, 0.1, 0.2, 0.0],
                               atol=1e-7)


def test_l2_weight_decay_is_half_wd_squared_norm():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3),
                              keras.layers.BatchNormalization()])
    assert apply_l2(model, 1e-2) == 1  # the kernel only: no bias, no BN
    kernel = model.layers[0].kernel.numpy()
    assert float(sum(model.losses)) == pytest.approx(0.5e-2 * float((kernel ** 2).sum()),
                                                     rel=1e-5)


# --------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("argv, message", [
    (["--resume", "--overwrite"], "--resume and --overwrite conflict: choose one."),
    (["--classes", "10", "--dataset", "signs"], "--classes 10 disagrees with signs, which has 6 classes."),
    (["--jit-compile", "on"], "--jit-compile on needs a GPU"),
    (["--label-smoothing", "1.5"], "--label-smoothing must be in [0, 1); got 1.5."),
    (["--augment", "flip,twirl"], "--augment: Unknown augmentation 'twirl'"),
    (["--lr-steps", "0.5,1.5"], "--lr-steps must be fractions in (0, 1); got [0.5, 1.5]."),
    (["--strategy", "tpu"], "argument --strategy: invalid choice: 'tpu'"),
])
def test_bad_training_flags(argv, message, signs_dir, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["--model", SMALL_MODEL, "--dataset", "signs", "--data-dir", str(signs_dir),
            "--output-dir", str(out)] + argv
    with pytest.raises(SystemExit) as info:
        sys.exit(main(argv))
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not out.exists() or not any(
        f for f in os.listdir(out) if f not in ("run_config.json",))


def test_output_dir_with_a_different_run_is_refused(signs_dir, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "run_config.json").write_text(json.dumps({"model": "something_else"}))
    rc = main(["--model", SMALL_MODEL, "--output-dir", str(out)])
    assert rc == 2
    err = capsys.readouterr().err
    assert f"--output-dir {out} already holds a different run (run_config.json; differs in: " \
           "adapt, aug" in err  # the keys listed, sorted
    assert "; choose another directory, or pass --overwrite to start over or --resume to " \
           "continue it." in err


# --------------------------------------------------------------------------- outputs, resume, NaN

def test_run_outputs_and_nan_keeps_last_good_checkpoint(signs_dir, tmp_path):
    out = tmp_path / "run"
    base = dict(model=SMALL_MODEL, dataset="signs", data_dir=str(signs_dir),
                image_size=SMALL_SIZE, batch_size=64, output_dir=str(out), verbose=0)
    metrics = run(FitConfig(epochs=1, **base))
    for name in ("best.keras", "model.keras", "history.csv", "metrics.json", "curves.png",
                 "confusion.png", "run_config.json"):
        assert (out / name).is_file(), name
    assert os.listdir(out / "logs")  # TensorBoard events
    assert latest_checkpoint(out / "checkpoints")[0] == 1
    assert metrics["evaluated"] == "best validation epoch (1)" and metrics["best_epoch"] == 1
    assert metrics["model_file"] == "best.keras"

    # Continue with a learning rate that makes the loss explode: the run stops, names the
    # epoch and step, and keeps the epoch-1 checkpoint.
    with pytest.raises(TrainingFailed,
                       match=r"loss became NaN or infinite at epoch 2, step \d+; training "
                             r"stopped and the last good checkpoint is .*epoch-0001"):
        run(FitConfig(epochs=2, optimizer="sgd", learning_rate=1e12,
                                    schedule="constant", resume=True, **base))
    assert latest_checkpoint(out / "checkpoints")[0] == 1
    state = json.loads((out / "checkpoints" / "epoch-0001" / "state.json").read_text())
    assert state["epoch"] == 1 and len(state["history"]) == 1


def test_killed_run_resumes_bit_identical(signs_dir, tmp_path):
    extra = ("--epochs", "3", "--deterministic", "--augment", "flip,pad_crop", "--seed", "3")
    ref, killed = tmp_path / "ref", tmp_path / "killed"
    subprocess.run(_fit_cmd(signs_dir, ref, *extra), check=True, env=ENV, timeout=600,
                   capture_output=True)

    kill_inside_epoch_2(_fit_cmd(signs_dir, killed, *extra), killed, ENV, 600)
    assert not (killed / "metrics.json").exists()

    done = subprocess.run(_fit_cmd(signs_dir, killed, *extra), env=ENV, timeout=600,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    metrics = json.loads((killed / "metrics.json").read_text())
    assert metrics["resumed_from_epoch"] in (1, 2)
    for a, b in zip(_weights(ref / "model.keras"), _weights(killed / "model.keras")):
        np.testing.assert_array_equal(a, b)
    assert (ref / "history.csv").read_text() == (killed / "history.csv").read_text()


# --------------------------------------------------------------------------- distribution

MIRRORED_BN = r"""
import json, os
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras, numpy as np
from kerascnn.training.strategy import get_strategy, sync_batchnorm

def build():
    keras.utils.set_random_seed(0)
    x = keras.Input((8, 8, 3))
    y = keras.layers.Conv2D(4, 3, padding="same")(x)
    y = keras.layers.BatchNormalization(momentum=0.5)(y)
    y = keras.layers.GlobalAveragePooling2D()(y)
    return keras.Model(x, keras.layers.Dense(3, activation="softmax")(y))

rng = np.random.RandomState(0)
x = rng.rand(16, 8, 8, 3).astype("float32"); x[8:] *= 5  # the two halves differ
y = rng.randint(0, 3, 16)
mirrored = get_strategy("mirrored")
out = {}
for name, strategy, sync in (("single", get_strategy("default"), False),
                             ("synced", mirrored, True), ("unsynced", mirrored, False)):
    with strategy.scope():
        model = build()
        if sync:
            sync_batchnorm(model)
        model.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    model.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(16), epochs=1, verbose=0)
    bn = [l for l in model.layers if isinstance(l, keras.layers.BatchNormalization)][0]
    out[name] = dict(replicas=strategy.num_replicas_in_sync,
                     mean=bn.moving_mean.numpy().tolist(), var=bn.moving_variance.numpy().tolist())
print(json.dumps(out))
"""


def test_mirrored_two_cpus_sync_bn_matches_single_device():
    proc = subprocess.run([sys.executable, "-c", MIRRORED_BN], env=ENV, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["single"]["replicas"] == 1 and out["synced"]["replicas"] == 2
    for key in ("mean", "var"):
        np.testing.assert_allclose(out["synced"][key], out["single"][key], atol=1e-5)
    # Without synchronization each replica's statistics differ from the global batch's.
    assert np.abs(np.subtract(out["unsynced"]["mean"], out["single"]["mean"])).max() > 1e-2


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.mark.slow
def test_two_workers_on_loopback_finish_a_short_fit(signs_dir, tmp_path):
    out = tmp_path / "run"
    cluster = {"worker": [f"127.0.0.1:{p}" for p in _free_ports(2)]}
    procs = []
    for i in range(2):
        env = {**ENV, "TF_CONFIG": json.dumps({"cluster": cluster,
                                               "task": {"type": "worker", "index": i}})}
        procs.append(subprocess.Popen(
            _fit_cmd(signs_dir, out, "--epochs", "1", "--strategy", "multiworker"), env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = [p.communicate(timeout=900) for p in procs]
    assert procs[0].returncode == 0, outputs[0][1][-2000:]
    chief = json.loads((out / "metrics.json").read_text())
    worker = json.loads((out / "worker-1" / "metrics.json").read_text())
    assert chief["replicas"] == 2 and chief["chief"] and not worker["chief"]
    assert chief["test_accuracy"] == worker["test_accuracy"]
    for a, b in zip(_weights(out / "model.keras"), _weights(out / "worker-1" / "model.keras")):
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_jax_backend_data_parallel_over_two_devices(signs_dir, tmp_path):
    pytest.importorskip("jax")
    out = tmp_path / "run"
    env = {**ENV, "KERAS_BACKEND": "jax", "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    proc = subprocess.run(_fit_cmd(signs_dir, out, "--epochs", "1"), env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["backend"] == "jax" and metrics["replicas"] == 2
    assert metrics["strategy"] == "JaxDataParallel"
