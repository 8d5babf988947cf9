"""Small data: precise BatchNorm statistics, the best epoch's ranking, early stopping,
class weights, and the run's advice about a small validation split."""

import json

import keras
import numpy as np
import pytest

from kerascnn.training.callbacks import BestEpoch, RunCheckpoint, recompute_batchnorm
from kerascnn.training.cli import main


def test_recompute_batchnorm_gives_the_average_batch_statistics():
    keras.utils.set_random_seed(0)
    inp = keras.Input((6, 6, 2))
    conv = keras.layers.Conv2D(3, 3, padding="same", use_bias=False)
    bn = keras.layers.BatchNormalization(momentum=0.99)
    model = keras.Model(inp, bn(conv(inp)))
    images = np.random.RandomState(1).rand(40, 6, 6, 2).astype(np.float32) * 5
    assert recompute_batchnorm(model, images, batch_size=10) == 1
    features = np.asarray(conv(images)).reshape(4, -1, 3)  # 4 batches of 10 images
    np.testing.assert_allclose(bn.moving_mean.numpy(), features.mean(axis=(0, 1)), rtol=1e-4)
    np.testing.assert_allclose(bn.moving_variance.numpy(), features.var(axis=1).mean(axis=0),
                               rtol=1e-4)
    assert bn.momentum == 0.99  # restored


class _Model:
    stop_training = False


def _ranking(monitor, rows, patience=None, **ranking):
    ckpt = RunCheckpoint("/nonexistent", monitor=monitor, write_best=False, patience=patience,
                         **ranking)
    ckpt._save = lambda epoch: None
    ckpt.set_model(_Model())
    for epoch, logs in enumerate(rows):
        ckpt.on_epoch_begin(epoch)
        ckpt.on_epoch_end(epoch, logs)
        if ckpt.model.stop_training:
            break
    return ckpt


def test_best_epoch_ties_go_to_lower_loss_then_the_later_epoch():
    rows = [{"val_accuracy": 0.5, "val_loss": 1.0}, {"val_accuracy": 0.7, "val_loss": 0.9},
            {"val_accuracy": 0.7, "val_loss": 0.8}, {"val_accuracy": 0.7, "val_loss": 0.8},
            {"val_accuracy": 0.6, "val_loss": 0.5}]
    ckpt = _ranking("val_accuracy", rows)
    assert ckpt.best_epoch == 4 and ckpt.best_value == 0.7
    ckpt = _ranking("val_loss", rows)
    assert ckpt.best_epoch == 5 and ckpt.best_value == 0.5
    ckpt = _ranking("val_loss", rows[:4])
    assert ckpt.best_epoch == 4  # 0.8 twice: the later epoch


def test_fine_tuning_keeps_no_frozen_epoch_against_an_accurate_unfrozen_one():
    # --freeze-backbone --unfreeze-at 3, ranked by val_loss on 21 validation images: the
    # frozen phase's epoch 3 has the lowest loss, epoch 8 the best accuracy
    rows = [(1.6, 0.33), (1.3, 0.43), (1.05, 0.52),  # frozen
            (1.4, 0.48), (1.2, 0.71), (1.1, 0.76), (1.15, 0.71), (1.12, 0.81)]
    rows = [{"val_loss": loss, "val_accuracy": acc} for loss, acc in rows]
    assert _ranking("val_loss", rows).best_epoch == 3  # the loss alone
    ckpt = _ranking("val_loss", rows, val_images=21, frozen_until=3)
    # epoch 5 is as accurate as epoch 3 (0.71 >= 0.52) with every layer trained; epoch 6
    # has a clearly lower loss; epoch 8's loss is within one image's share (1.12 / 21) of
    # epoch 6's, and it is more accurate
    assert [ckpt.best_epoch, ckpt.best_value] == [8, 1.12]
    ckpt = _ranking("val_loss", rows[:4], val_images=21, frozen_until=3)
    assert ckpt.best_epoch == 3  # epoch 4 is less accurate than the frozen epoch 3
    ckpt = _ranking("val_accuracy", [{"val_loss": 0.9, "val_accuracy": 0.5},
                                     {"val_loss": 1.3, "val_accuracy": 0.5}], frozen_until=1)
    assert ckpt.best_epoch == 2  # as accurate, every layer trained: not the frozen epoch
    resumed = RunCheckpoint("/nonexistent", monitor="val_accuracy", write_best=False,
                            state=ckpt.state(2), val_images=21, frozen_until=1)
    assert resumed.best_epoch == 2 and not resumed.ranking.offer(3, {
        "val_loss": 1.4, "val_accuracy": 0.5})  # as accurate, a higher loss: 2 is kept...
    assert resumed.ranking.offer(4, {"val_loss": 1.2, "val_accuracy": 0.6})  # ...until this


def test_a_near_tie_of_a_small_split_goes_to_the_more_accurate_epoch():
    rows = [{"val_loss": 0.69, "val_accuracy": 0.62}, {"val_loss": 0.70, "val_accuracy": 0.81},
            {"val_loss": 0.60, "val_accuracy": 0.71}]
    assert _ranking("val_loss", rows[:2], val_images=21).best_epoch == 2  # 0.01 < 0.70 / 21
    assert _ranking("val_loss", rows[:2], val_images=1000).best_epoch == 1  # 0.01 > 0.7 / 1000
    assert _ranking("val_loss", rows, val_images=21).best_epoch == 3  # a clearly lower loss
    # a checkpoint of an older version stored the loss alone: compared by loss
    ranking = BestEpoch("val_loss", [-0.69], 1, val_images=21)
    assert not ranking.offer(2, rows[1]) and ranking.epoch == 1
    assert not ranking.offer(3, {"val_loss": float("nan"), "val_accuracy": 0.9})


def test_early_stopping_counts_from_the_checkpointed_best_epoch():
    rows = [{"val_accuracy": a, "val_loss": 1.0} for a in (0.5, 0.8, 0.7, 0.7, 0.9, 0.6)]
    ckpt = _ranking("val_accuracy", rows, patience=2)
    assert ckpt.best_epoch == 2 and ckpt.stopped_early == 4 and len(ckpt.history) == 4
    resumed = RunCheckpoint("/nonexistent", monitor="val_accuracy", write_best=False,
                            patience=2, state=ckpt.state(3))
    assert resumed.best_epoch == 2 and resumed.best_value == 0.8


@pytest.fixture(scope="module")
def squares(tmp_path_factory):
    """An easy, unbalanced 2-class set: a bright square or none, on noise (24x24)."""
    rng = np.random.RandomState(0)
    y = (rng.rand(700) < 0.25).astype(np.int64)  # one image in four is class 1
    x = rng.randint(0, 100, (700, 24, 24, 3)).astype(np.uint8)
    for i in np.flatnonzero(y):
        r, c = rng.randint(0, 16, 2)
        x[i, r:r + 8, c:c + 8] = 250
    path = tmp_path_factory.mktemp("squares") / "squares.npz"
    np.savez(path, x_train=x[:600], y_train=y[:600], x_test=x[600:], y_test=y[600:])
    return path, y[:600]


def test_class_weights_are_balanced(squares):
    from kerascnn.training.config import FitConfig
    from kerascnn.training.data import prepare_data

    path, y = squares
    data = prepare_data(FitConfig(dataset=str(path), val_fraction=0.2))
    train_labels = data.labels("train")
    counts = np.bincount(train_labels)
    weights = data.class_weights()
    assert weights == {c: len(train_labels) / (2 * counts[c]) for c in (0, 1)}
    assert weights[1] > 1 > weights[0]


def test_precise_bn_images_are_a_random_mix_of_the_classes(tmp_path):
    """A folder data set is read class by class: the images for precise BN statistics
    are drawn at random over the training split, in mixed order, fixed by the seed."""
    from kerascnn.training.config import FitConfig
    from kerascnn.training.data import prepare_data

    y = np.repeat(np.arange(4), 150)  # sorted by class, as a folder is read
    x = np.broadcast_to((y * 60)[:, None, None, None], (600, 8, 8, 1)).astype(np.uint8)
    path = tmp_path / "sorted.npz"
    np.savez(path, x_train=x[:500], y_train=y[:500], x_test=x[500:], y_test=y[500:])
    data = prepare_data(FitConfig(dataset=str(path), val_fraction=0.0), require=("train",))
    drawn = data.bn_images(64)
    assert drawn.shape == (64, 8, 8, 1) and drawn.dtype == np.float32
    classes = drawn[:, 0, 0, 0] // 60
    assert set(classes) == {0, 1, 2, 3} and (np.diff(classes) < 0).any()  # not class by class
    np.testing.assert_array_equal(drawn, data.bn_images(64))  # fixed by the seed
    assert len(data.bn_images(1000)) == 500  # at most the whole split


def test_precise_bn_images_are_augmented_as_in_training(tmp_path):
    """Precise BN statistics come from the images as the training pipeline feeds them:
    with ``pad_crop``, shifted crops with zero borders (one draw, fixed by the seed); with
    no augmentation, the training images themselves."""
    from kerascnn.training.config import FitConfig
    from kerascnn.training.data import prepare_data

    rng = np.random.default_rng(0)
    x = rng.integers(1, 256, (300, 16, 16, 3)).astype(np.uint8)  # no zero pixel anywhere
    y = rng.integers(0, 3, 300)
    path = tmp_path / "images.npz"
    np.savez(path, x_train=x[:200], y_train=y[:200], x_test=x[200:], y_test=y[200:])
    plain = prepare_data(FitConfig(dataset=str(path), val_fraction=0.0), require=("train",))
    drawn = plain.bn_images(100)
    train_images = {im.astype(np.float32).tobytes() for im in x[:200]}
    assert all(im.tobytes() in train_images for im in drawn)
    padded = prepare_data(FitConfig(dataset=str(path), val_fraction=0.0, augment="pad_crop"),
                          require=("train",))
    shifted = padded.bn_images(100, size=16)
    assert shifted.shape == (100, 16, 16, 3) and shifted.dtype == np.float32
    zero_rows = (shifted == 0).all(axis=(2, 3)).any(axis=1)  # a padded border row
    zero_cols = (shifted == 0).all(axis=(1, 3)).any(axis=1)
    assert 50 < (zero_rows | zero_cols).sum() <= 100  # most crops are shifted
    assert not any(im.tobytes() in train_images for im in shifted[zero_rows | zero_cols])
    np.testing.assert_array_equal(shifted, padded.bn_images(100, size=16))  # seeded


def test_a_small_run_uses_precise_bn_and_ranks_by_loss(squares, tmp_path, capsys):
    path, _ = squares
    out = tmp_path / "run"
    code = main(["--model", "resnet20_cifar", "--dataset", str(path), "--epochs", "3",
                 "--batch-size", "32", "--val-fraction", "0.2", "--class-weight", "balanced",
                 "--output-dir", str(out), "--verbose", "0"])
    assert code == 0
    printed = capsys.readouterr().out
    assert ("fit.py: the validation split has only 120 images (accuracy moves in steps of "
            "0.008); best.keras is ranked by val_loss (--monitor auto): raise --val-fraction "
            "for a more reliable choice.") in printed
    metrics = json.loads((out / "metrics.json").read_text())
    # precise BN: 512 images, at most the 480 of the training split
    assert metrics["monitor"] == "val_loss" and metrics["precise_bn_images"] == 480
    assert metrics["class_weight"] == "balanced"
    history = [json.loads(json.dumps(r)) for r in
               __import__("csv").DictReader((out / "history.csv").open())]
    losses = [float(r["val_loss"]) for r in history]
    assert metrics["best_epoch"] == 1 + int(np.argmin(losses))
    # precise BN: validation follows training from the first epochs (the majority class
    # alone scores 0.75)
    assert max(float(r["val_accuracy"]) for r in history) > 0.9, history
    assert metrics["test_accuracy"] > 0.9
