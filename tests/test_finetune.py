"""Fine-tuning: fit.py --weights, --freeze-backbone, --unfreeze-at and the finetune recipe."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

import kerascnn
from kerascnn.training import finetune
from kerascnn.training.cli import main, parse_config
from tests._weights import randomize_weights

from .conftest import ROOT, SMALL_MODEL, SMALL_SIZE

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
HEAD = "predictions"


def _signs_slice(signs_dir, root, per_label):
    """SIGNS' photos, ``per_label`` of each label per split (train, val, test)."""
    for split, n in per_label.items():
        os.makedirs(root / f"{split}_signs")
        files = sorted(os.listdir(signs_dir / f"{split}_signs"))
        for label in "012345":
            for f in [f for f in files if f[0] == label][:n]:
                shutil.copy(signs_dir / f"{split}_signs" / f, root / f"{split}_signs" / f)
    return root


def _pretrained_file(path, fmt=".weights.h5"):
    """A network of the run's architecture for 10 classes, every weight and BN statistic
    random (a fresh model's gamma 1, mean 0, variance 1 would hide a BN that moves)."""
    model = kerascnn.create_model(SMALL_MODEL, classes=10,
                                  input_shape=(SMALL_SIZE, SMALL_SIZE, 3))
    randomize_weights(model, seed=7)
    if fmt == ".keras":
        model.save(path)
    else:
        model.save_weights(path)
    return {layer.name: [w.numpy() for w in layer.weights] for layer in model.layers
            if layer.weights}


@pytest.fixture(scope="module")
def fine_tuned(signs_dir, tmp_path_factory):
    """A finished 3-epoch fine-tuning run (backbone frozen for 2 epochs) on a SIGNS slice."""
    root = tmp_path_factory.mktemp("finetune")
    data = _signs_slice(signs_dir, root / "signs", {"train": 16, "val": 5, "test": 4})
    weights = root / "r20_10classes.weights.h5"
    initial = _pretrained_file(weights)
    cmd = _cmd(data, root / "ref", weights)
    proc = subprocess.run(cmd, env=ENV, timeout=900, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {"data": data, "weights": weights, "initial": initial, "ref": root / "ref",
            "root": root}


def _cmd(data, out, weights, *extra):
    return [sys.executable, str(ROOT / "scripts" / "fit.py"), "--model", SMALL_MODEL,
            "--dataset", "signs", "--data-dir", str(data), "--image-size", str(SMALL_SIZE),
            "--batch-size", "32", "--epochs", "3", "--weights", str(weights),
            "--freeze-backbone", "--unfreeze-at", "2", "--deterministic", "--seed", "1",
            "--augment", "flip", "--output-dir", str(out), "--verbose", "0", *extra]


def _checkpoint(run_dir, epoch):
    """{layer name: [arrays]} of a run's checkpoint (read by layer, into the run's network)."""
    model = keras.models.load_model(run_dir / "best.keras", compile=False)
    path = run_dir / "checkpoints" / f"epoch-{epoch:04d}" / "training.weights.h5"
    return {name: [value for _, value in pairs]
            for name, pairs in finetune._h5_layers(model, path).items()}


def _same(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a, b))


def test_frozen_backbone_and_its_bn_statistics_do_not_move(fine_tuned):
    ref, initial = fine_tuned["ref"], fine_tuned["initial"]
    metrics = json.loads((ref / "metrics.json").read_text())
    assert metrics["epochs"] == 3 and metrics["classes"] == 6
    assert (metrics["weights"], metrics["freeze_backbone"], metrics["unfreeze_at"]) == (
        str(fine_tuned["weights"]), True, 2)
    frozen, unfrozen = _checkpoint(ref, 2), _checkpoint(ref, 3)  # after epochs 2 and 3
    backbone = [name for name in frozen if name != HEAD]
    assert len(backbone) == 38 and sum(name.endswith("_bn") for name in backbone) == 19
    for name in backbone:  # kernels, gammas, betas, moving means and variances as loaded
        assert _same(frozen[name], initial[name]), name
    # the new head (6 classes, not the file's 10) trained
    assert frozen[HEAD][0].shape == (64, 6) and initial[HEAD][0].shape == (64, 10)
    assert not _same(frozen[HEAD], unfrozen[HEAD])
    # after unfreezing every layer trains, BatchNormalization statistics included
    bns = [n for n in backbone if n.endswith("_bn")]
    for name in backbone:
        assert not _same(frozen[name], unfrozen[name]), name
    for name in bns:  # gamma, beta, moving mean, moving variance each moved
        assert all(not np.array_equal(a, b) for a, b in zip(frozen[name], unfrozen[name]))
    # the saved model takes raw images, normalised with the data's statistics
    model = keras.models.load_model(ref / "model.keras")
    assert all(layer.trainable for layer in model.layers if layer.weights
               and not layer.name.startswith("preprocess_"))


def test_killed_across_the_unfreeze_epoch_resumes_bit_identical(fine_tuned):
    killed = fine_tuned["root"] / "killed"
    cmd = _cmd(fine_tuned["data"], killed, fine_tuned["weights"])
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 900
    while not (killed / "checkpoints" / "epoch-0002" / "state.json").exists():
        assert proc.poll() is None and time.time() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)  # at the switch: epoch 3 trains every layer
    proc.wait()
    assert not (killed / "checkpoints" / "epoch-0003").exists()
    done = subprocess.run(cmd, env=ENV, timeout=900, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((killed / "metrics.json").read_text())
    assert metrics["resumed_from_epoch"] == 2
    ref = fine_tuned["ref"]
    for a, b in zip(keras.models.load_model(ref / "model.keras").get_weights(),
                    keras.models.load_model(killed / "model.keras").get_weights()):
        np.testing.assert_array_equal(a, b)
    assert (ref / "history.csv").read_text() == (killed / "history.csv").read_text()


@pytest.mark.parametrize("argv, message", [
    (["--unfreeze-at", "2"], "--unfreeze-at needs --freeze-backbone (without it every layer "
                             "trains from the first epoch)."),
    (["--freeze-backbone", "--unfreeze-at", "3", "--weights", "{file}"],
     "--unfreeze-at 3 must be in 1..2 (the epochs with a frozen backbone, fewer than "
     "--epochs 3)."),
    (["--freeze-backbone"], "--freeze-backbone needs --weights TAG|PATH: a frozen backbone "
                            "keeps the weights it starts from."),
    (["--recipe", "finetune", "--epochs", "10"], "--freeze-backbone (set by --recipe finetune) needs --weights "
                               "TAG|PATH: a frozen backbone keeps the weights it starts from."),
    (["--weights", "imagenet_21k"], "--weights for resnet20_cifar must be None (random "
                                    "initialization) or a .keras/.weights.h5 file of this "
                                    "architecture"),
    (["--weights", "{missing}"], "--weights file {missing} does not exist."),
    (["--weights", "{bad_suffix}"], "--weights file {bad_suffix} has an unknown type: "
                                    "resnet20_cifar takes "),
    (["--unfreeze-lr-factor", "0"], "--unfreeze-lr-factor must be in (0, 1]; got 0.0."),
])
def test_bad_combinations_one_line_exit_2_nothing_written(argv, message, tmp_path, capsys):
    files = {"file": tmp_path / "w.weights.h5", "missing": tmp_path / "none.safetensors",
             "bad_suffix": tmp_path / "w.npz"}
    files["file"].write_bytes(b"")
    files["bad_suffix"].write_bytes(b"")
    argv = [a.format(**files) for a in argv]
    message = message.format(**files)
    out = tmp_path / "run"
    code = main(["--model", SMALL_MODEL, "--epochs", "3", "--output-dir", str(out), *argv])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith(f"fit.py: error: {message}"), err
    assert not out.exists()


def test_other_architecture_file_is_refused_naming_the_layer(signs_dir, tmp_path, capsys):
    data = _signs_slice(signs_dir, tmp_path / "signs", {"train": 2, "val": 1, "test": 1})
    other = kerascnn.create_model("resnet32_cifar", classes=10, input_shape=(32, 32, 3))
    other.save(tmp_path / "r32.keras")
    code = main(["--model", SMALL_MODEL, "--dataset", "signs", "--data-dir", str(data),
                 "--image-size", "32", "--epochs", "2", "--weights", str(tmp_path / "r32.keras"),
                 "--output-dir", str(tmp_path / "run"), "--verbose", "0"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert err.startswith(f"fit.py: error: --weights {tmp_path / 'r32.keras'}: the file's layer ")
    assert "has no place in resnet20_cifar as this run builds it" in err
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_keras_file_loads_all_but_a_classifier_of_other_classes(tmp_path):
    initial = _pretrained_file(tmp_path / "w.keras", fmt=".keras")
    model = finetune.pretrained_network(SMALL_MODEL, str(tmp_path / "w.keras"),
                                        input_shape=(32, 32, 3), classes=6, kwargs={})
    for layer in model.layers:
        if layer.weights and layer.name != HEAD:
            assert _same([w.numpy() for w in layer.weights], initial[layer.name]), layer.name
    assert model.get_layer(HEAD).kernel.shape == (64, 6)
    # the same classes: the classifier is loaded too
    same = finetune.pretrained_network(SMALL_MODEL, str(tmp_path / "w.keras"),
                                       input_shape=(32, 32, 3), classes=10, kwargs={})
    assert _same([w.numpy() for w in same.get_layer(HEAD).weights], initial[HEAD])


def test_frozen_batch_norm_runs_in_inference_mode():
    model = kerascnn.create_model(SMALL_MODEL, classes=6, input_shape=(32, 32, 3))
    randomize_weights(model)
    assert [layer.name for layer in finetune.classifier_layers(model)] == [HEAD]
    frozen = finetune.freeze_backbone(model)
    assert HEAD not in frozen and len(frozen) == 38  # 19 convolutions, 19 BNs
    assert {v.path.split("/")[0] for v in model.trainable_variables} == {HEAD}
    bn = model.get_layer("stage1_block1_1_bn")
    before = [bn.moving_mean.numpy(), bn.moving_variance.numpy()]
    x = np.random.default_rng(0).normal(size=(8, 32, 32, 3)).astype("float32")
    # training=True: a frozen BN normalises with its moving statistics and keeps them
    np.testing.assert_allclose(np.asarray(model(x, training=True)),
                               np.asarray(model(x, training=False)), rtol=1e-5, atol=1e-6)
    assert _same(before, [bn.moving_mean.numpy(), bn.moving_variance.numpy()])
    assert finetune.unfreeze(model) == 38
    model(x, training=True)
    assert not np.array_equal(before[0], bn.moving_mean.numpy())


def test_finetune_recipe():
    config = parse_config(["--recipe", "finetune", "--weights", "x.safetensors"])
    assert (config.freeze_backbone, config.unfreeze_at, config.unfreeze_lr_factor) == (
        True, 5, 0.1)
    assert (config.optimizer, config.learning_rate, config.epochs) == ("adam", 1e-3, 10)
    config = parse_config(["--recipe", "finetune", "--unfreeze-at", "3"])
    assert config.unfreeze_at == 3


def test_a_weight_set_tag_is_checked_and_gives_its_normalization(monkeypatch):
    from kerascnn.weights import core

    toy = core.WeightSet(tag="toy", source="keras:toy", url="https://example.org/toy.h5",
                         classes=10, input_size=(32, 32, 3), mean=(0.5, 0.5, 0.5),
                         std=(0.25, 0.25, 0.25), model_kwargs={"bn_epsilon": 1e-5})
    core.weight_sets(SMALL_MODEL)  # the sources registered first
    monkeypatch.setitem(core._WEIGHT_SETS, SMALL_MODEL, {"toy": toy})
    assert finetune.check_weights(SMALL_MODEL, "toy") == "tag"
    assert finetune.weights_normalization(SMALL_MODEL, "toy") == ((0.5,) * 3, (0.25,) * 3)
    assert finetune.weights_model_kwargs(SMALL_MODEL, "toy") == {"bn_epsilon": 1e-5}
    with pytest.raises(finetune.FineTuneError, match=r"^This architecture has no ImageNet "
                                                     r"weights \(resnet20_cifar\): --weights "
                                                     r"must be None \(random initialization\), "
                                                     r"a tag \('toy'\) or "):
        finetune.check_weights(SMALL_MODEL, "imagenet")
