"""The automatic augmentation policies and keras-backed layers of ``--augment``
(randaugment, trivialaugment, augmix, autoaugment, random_erasing, color_jitter): seeded by
the (seed, epoch, batch) seed alone, range, shape and dtype kept, resumable, parse errors."""

import numpy as np
import pytest
import tensorflow as tf

from kerascnn.data import augment as A
from kerascnn.data import make_dataset
from kerascnn.data.plan import AugmentPlan, parse_augment

from .conftest import load_script

SPECS = ("randaugment", "randaugment:1:30", "trivialaugment", "augmix", "autoaugment",
         "random_erasing:1", "color_jitter")


@pytest.fixture(scope="module")
def cifar(shared_data):
    with np.load(shared_data / "cifar10-subset" / "cifar10_subset.npz", allow_pickle=False) as f:
        return f["x_train"][:64], f["y_train"][:64]


@pytest.fixture(scope="module")
def batch(cifar):
    return tf.constant(cifar[0][:8].astype(np.float32) / 255.0)


@pytest.fixture
def eager():
    """The operations' tf.functions run eagerly: tracing them for each layer would cost more
    than the test (the draws are stateless either way; the pipeline tests run them traced)."""
    tf.config.run_functions_eagerly(True)
    yield
    tf.config.run_functions_eagerly(False)


@pytest.mark.parametrize("spec", SPECS)
def test_policy_is_a_function_of_the_seed_and_keeps_range_shape_dtype(spec, batch, eager):
    layer, = A.build_augmentation(spec, (32, 32), seed=0)
    seed, other = tf.constant([3, 4]), tf.constant([3, 5])
    out = layer.augment(batch, seed)
    assert out.shape == batch.shape and out.dtype == tf.float32
    out = out.numpy()
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert not np.array_equal(out, batch.numpy())
    np.testing.assert_array_equal(out, layer.augment(batch, seed).numpy())
    assert not np.array_equal(out, layer.augment(batch, other).numpy())
    # no state in the layer: another one (from its config, another base seed) gives the same
    again = layer.__class__.from_config({**layer.get_config(), "seed": 7})
    assert again.get_config() == {**layer.get_config(), "seed": 7}
    np.testing.assert_array_equal(out, again.augment(batch, seed).numpy())


def test_the_names_parse_to_their_full_form():
    assert parse_augment("randaugment") == ["randaugment:2:9"]
    assert parse_augment("cifar, RandAugment:3,random_erasing:0.25") == [
        "pad_crop", "flip", "randaugment:3:9", "random_erasing:0.25"]
    assert parse_augment("random_erasing,trivialaugment,randaugment:2:9,randaugment") == [
        "random_erasing:0.5", "trivialaugment", "randaugment:2:9"]
    assert parse_augment("augmix,autoaugment,color_jitter") == [
        "augmix", "autoaugment", "color_jitter"]
    assert AugmentPlan.parse("randaugment:1:5").names == ("randaugment:1:5",)
    names = [la.name for la in A.build_augmentation(
        "random_erasing,mixup,color_jitter,randaugment,flip,crop", (32, 32))]
    assert names == ["crop", "flip", "randaugment", "color_jitter", "random_erasing", "mixup"]
    layer = A.build_augmentation("randaugment:3:12,random_erasing:0.25", (32, 32))
    assert (layer[0].num_ops, layer[0].magnitude, layer[1].probability) == (3, 12, 0.25)


@pytest.mark.parametrize("spec, message", [
    ("randaugment:2:x", "randaugment:2:x: M (magnitude) must be an integer from 0 to 30; "
                        "got 'x'."),
    ("randaugment:2:31", "randaugment:2:31: M (magnitude) must be an integer from 0 to 30; "
                         "got '31'."),
    ("randaugment:0", "randaugment:0: N (operations) must be an integer from 1 to 10; "
                      "got '0'."),
    ("randaugment:1.5:9", "randaugment:1.5:9: N (operations) must be an integer from 1 to 10; "
                          "got '1.5'."),
    ("randaugment:1:2:3", "randaugment:1:2:3: randaugment takes at most 2 values "
                          "(randaugment[:N[:M]]); got 3."),
    ("random_erasing:1.5", "random_erasing:1.5: P (probability) must be a number in (0, 1]; "
                           "got '1.5'."),
    ("random_erasing:0", "random_erasing:0: P (probability) must be a number in (0, 1]; "
                         "got '0'."),
    ("random_erasing:0.1:2", "random_erasing:0.1:2: random_erasing takes at most 1 value "
                             "(random_erasing[:P]); got 2."),
    ("augmix:3", "augmix:3: augmix takes no parameters."),
    ("flip:2", "flip:2: flip takes no parameters."),
    ("randaugment,randaugment:1:5", "randaugment is given twice (randaugment:2:9 and "
                                    "randaugment:1:5); give it once."),
])
def test_parse_errors_are_one_line(spec, message):
    with pytest.raises(ValueError) as e:
        parse_augment(spec)
    assert str(e.value) == message


def test_unknown_names_list_the_parametrised_forms():
    with pytest.raises(ValueError) as e:
        parse_augment("randaugmnet:2:9")
    assert str(e.value).endswith(
        "mixup, cutmix, randaugment[:N[:M]], trivialaugment, augmix, autoaugment, "
        "random_erasing[:P], color_jitter (comma separated).")
    assert str(e.value).startswith("Unknown augmentation 'randaugmnet:2:9'; allowed: presets")


def _epoch(ds):
    return np.concatenate([x.numpy() for x, _ in ds])


def test_a_resumed_epoch_gets_identical_batches(cifar):
    """Through the tf.data pipeline (traced there, not eager); the other policies draw
    from the same seed the same way (test_policy_is_a_function_of_the_seed...)."""
    x, y = cifar[0][:32], cifar[1][:32]
    kw = dict(batch_size=16, training=True, seed=5,
              augment="flip,color_jitter,random_erasing:0.5")  # the cheapest to trace
    running = make_dataset(x, y, **kw)
    epoch0, epoch1 = _epoch(running), _epoch(running)
    assert epoch1.shape == (32, 32, 32, 3)
    assert epoch1.min() >= 0.0 and epoch1.max() <= 255.0
    resumed = make_dataset(x, y, epoch=1, **kw)
    np.testing.assert_array_equal(_epoch(resumed), epoch1)
    assert not np.array_equal(epoch0, epoch1)
    assert not np.array_equal(_epoch(make_dataset(x, y, epoch=1, **{**kw, "seed": 6})), epoch1)


def test_grayscale_images_are_augmented_as_rgb_and_come_back_gray():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (8, 16, 16, 1), dtype=np.uint8)
    ds = make_dataset(x, np.arange(8) % 2, batch_size=8, training=True, seed=0, epoch=0,
                      augment="trivialaugment")
    out = next(iter(ds))[0].numpy()
    assert out.shape == (8, 16, 16, 1) and 0 <= out.min() and out.max() <= 255.0


def test_random_erasing_erases_about_p_of_the_images(batch, eager):
    images = tf.tile(batch, [8, 1, 1, 1])  # 64
    out = A.RandomErasing(0.25).augment(images, tf.constant([1, 1])).numpy()
    erased = int(np.sum(np.any(out != images.numpy(), axis=(1, 2, 3))))
    assert 6 <= erased <= 26  # 16 expected


def test_autoaugment_policy_has_25_sub_policies_of_two_steps():
    assert len(A.IMAGENET_POLICY) == 25 and all(len(p) == 2 for p in A.IMAGENET_POLICY)
    assert A.IMAGENET_POLICY[0] == (("posterize", 0.4, 8), ("rotate", 0.6, 9))
    assert A.IMAGENET_POLICY[-1] == (("equalize", 0.8, None), ("equalize", 0.6, None))


@pytest.mark.slow  # importing torchvision takes seconds
def test_autoaugment_policy_is_torchvisions_imagenet_policy():
    tv = pytest.importorskip("torchvision.transforms.autoaugment")
    names = {"ShearX": "shear_x", "AutoContrast": "autocontrast"}
    theirs = tv.AutoAugment(tv.AutoAugmentPolicy.IMAGENET).policies
    ours = tuple(tuple((names.get(n, n.lower()), p, m) for n, p, m in sub) for sub in theirs)
    assert ours == A.IMAGENET_POLICY


def test_operations_at_strength_zero_are_the_identity(batch, eager):
    """RandAugment's M=0 (AutoAugment's level 0): rotation 0, shear 0, translation 0,
    enhancement factor 1, posterize to 8 bits. (Solarize at threshold 255 inverts the pixels
    of value 255, as torchvision's does; auto-contrast and equalize take no magnitude.)"""
    for name in ("rotate", "shear_x", "shear_y", "translate_x", "translate_y", "contrast",
                 "color", "brightness", "sharpness", "posterize"):
        out = A._op_at(name, 0.0)(batch, tf.constant([1, 2])).numpy()
        np.testing.assert_allclose(out, batch.numpy(), atol=2e-6, err_msg=name)


def test_visualize_writes_the_grid_of_augmented_training_images(signs_dir, tmp_path):
    import PIL.Image

    script = load_script("visualize")
    out = tmp_path / "out"
    assert script.main(["--augment", "color_jitter,random_erasing:0.5", "--dataset",
                        "signs", "--data-dir", str(signs_dir), "--rows", "3", "--draws", "4",
                        "--out", str(out)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    png, = out.iterdir()
    assert png.name == "augment_color_jitter-random_erasing-0.5.png"
    with PIL.Image.open(png) as image:
        image.load()
        assert image.format == "PNG"
        width, height = image.size
    # 5 columns (as read + 4 epochs) of 1.5 inch at 100 dpi, 3 rows, a title; cut to the
    # drawn box (601 x 440 with matplotlib 3.10)
    assert 540 <= width <= 700 and 390 <= height <= 520, image.size
    grid = script.augmented_grid(np.zeros((2, 8, 8, 1), np.uint8) + 128, np.array([0, 1]),
                                 AugmentPlan.parse("flip"), (8, 8), 3, 0, num_classes=2)
    assert grid.shape == (8, 8, 8, 1)
    np.testing.assert_allclose(grid, 128 / 255, atol=1e-6)


def test_visualize_augment_errors_are_one_line(tmp_path, capsys):
    script = load_script("visualize")
    assert script.main(["--augment", "randaugment:2:x", "--dataset", "signs", "--out",
                        str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.strip() == (
        "visualize.py: error: --augment: randaugment:2:x: M (magnitude) must be an integer "
        "from 0 to 30; got 'x'.")
    with pytest.raises(SystemExit) as e:
        script.main(["--augment", "flip", "--out", str(tmp_path / "o")])
    assert e.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "visualize.py: error: --augment needs --dataset NAME (and --data-dir DIR)")
    with pytest.raises(SystemExit):
        script.main(["--out", str(tmp_path / "o"), "a.png"])
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "visualize.py: error: --model-path and --method are required (or --augment SPEC "
        "--dataset NAME to see augmented training images)")
    assert not (tmp_path / "o").exists()


def test_fit_refuses_a_bad_parameter_in_one_line(signs_dir, tmp_path, capsys):
    from kerascnn.training.cli import main

    from .conftest import SMALL_MODEL

    out = tmp_path / "run"
    assert main(["--model", SMALL_MODEL, "--dataset", "signs", "--data-dir", str(signs_dir),
                 "--output-dir", str(out), "--augment", "flip,randaugment:2:x"]) == 2
    assert capsys.readouterr().err.strip() == (
        "fit.py: error: --augment: randaugment:2:x: M (magnitude) must be an integer from 0 to "
        "30; got 'x'.")


@pytest.mark.slow  # traces every policy's graph in tf.data: minutes on 2 shared cores
@pytest.mark.parametrize("spec", ["randaugment:2:9", "trivialaugment", "augmix", "autoaugment"])
def test_a_resumed_epoch_gets_identical_batches_under_each_policy(spec, cifar):
    x, y = cifar[0][:32], cifar[1][:32]
    kw = dict(batch_size=16, training=True, seed=5, augment=f"flip,{spec}")
    running = make_dataset(x, y, **kw)
    _epoch(running)
    epoch1 = _epoch(running)
    np.testing.assert_array_equal(_epoch(make_dataset(x, y, epoch=1, **kw)), epoch1)
