"""Each family's default recipe as registry data: fit.py uses it when no --recipe is given,
flags on the command line win, and batch size and epochs follow the data's size."""

import dataclasses
import json

import numpy as np
import pytest

from kerascnn import api
from kerascnn.training import recipes as training_recipes
from kerascnn.training.cli import parse_config
from kerascnn.training.config import (
    ConfigError,
    FitConfig,
    check_settings,
    resolve_recipe,
)
from kerascnn.training.recipes import RECIPES, adapt_to_data

from .conftest import own_models

FIELDS = {f.name for f in dataclasses.fields(FitConfig)}


def test_every_family_has_a_default_recipe_of_known_settings():
    families = {api.get_spec(name).family for name in own_models()}
    recipes = training_recipes.family_recipes()
    assert families <= set(recipes), families - set(recipes)
    for family in families:
        entry = recipes[family]
        default = entry["default"]
        assert set(default) - {"description"} <= FIELDS, family
        assert entry["paper"] in RECIPES, family
        config = FitConfig()
        for key, value in default.items():
            if key != "description":
                setattr(config, key, value)
        check_settings(config)  # every value is one fit.py accepts
    for recipe in RECIPES.values():
        assert set(recipe) - {"description", "source"} <= FIELDS


def test_model_info_reports_the_family_recipe():
    info = api.model_info("lenet5")
    assert info["recipe"]["optimizer"] == "adam" and info["recipe"]["learning_rate"] == 3e-3
    assert info["paper_recipe"] == "lenet"
    assert api.model_info("resnet56_cifar")["recipe"] == \
        training_recipes.family_recipes("resnet_cifar")["default"]  # pattern names too
    assert api.model_info("se_resnet50")["paper_recipe"] == "senet"


def test_no_recipe_flag_means_the_family_default_and_every_flag_wins():
    config = parse_config(["--model", "lenet5", "--dataset", "mnist"])
    assert config.recipe == "default"
    assert (config.optimizer, config.learning_rate, config.batch_size) == ("adam", 3e-3, 64)
    assert config.adapt["min_steps"] == 1500
    # a flag given at the parser's own default value still wins over the recipe
    config = parse_config(["--model", "lenet5", "--batch-size", "128", "--epochs", "2",
                           "--learning-rate", "0.001"])
    assert (config.batch_size, config.epochs, config.learning_rate) == (128, 2, 1e-3)
    assert config.adapt is None  # nothing left to adapt
    config = parse_config(["--model", "resnet20_cifar", "--epochs", "3"])
    assert config.optimizer == "adamw" and config.bn_momentum == 0.9
    assert set(config.adapt) == {"min_steps_per_epoch", "min_batch"}  # the batch still adapts
    paper = parse_config(["--model", "resnet20_cifar", "--recipe", "paper"])
    assert (paper.optimizer, paper.learning_rate, paper.weight_decay_mode) == ("sgd", 0.1, "l2")
    assert paper.adapt is None
    bare = parse_config(["--model", "resnet20_cifar", "--recipe", "none"])
    assert (bare.optimizer, bare.batch_size, bare.epochs) == ("adam", 128, 2)


def test_resolve_recipe_names():
    assert resolve_recipe(None, "lenet5") == (None, None)
    assert resolve_recipe("signs", "lenet5") == ("signs", RECIPES["signs"])
    label, recipe = resolve_recipe("paper", "googlenet")
    assert label == "inception (inception paper)" and recipe is RECIPES["inception"]
    assert resolve_recipe("default", "densenet121")[0] == "densenet default"
    with pytest.raises(ConfigError, match="Unknown recipe 'fast'"):
        resolve_recipe("fast", "lenet5")


def test_batch_and_epochs_follow_the_data_size():
    rule = dict(min_steps_per_epoch=20, min_batch=16, min_steps=800, max_steps=4000)
    small = FitConfig(batch_size=64, epochs=30, adapt=rule)
    notes = adapt_to_data(small, 864)  # SIGNS: 14 steps at 64 -> 32 (27 steps an epoch)
    assert (small.batch_size, small.epochs) == (32, 30)
    assert notes == ["batch 64 -> 32 (at least 20 steps an epoch)"]
    tiny = FitConfig(batch_size=64, epochs=30, adapt=rule)
    notes = adapt_to_data(tiny, 200)  # 13 steps at the smallest batch: more epochs
    assert (tiny.batch_size, tiny.epochs) == (16, 62)
    assert notes == ["batch 64 -> 16 (the recipe's smallest batch: 13 steps an epoch, fewer "
                     "than the 20 it aims at)", "30 -> 62 epochs (at least 800 steps of 13 "
                     "an epoch)"]
    big = FitConfig(batch_size=64, epochs=30, adapt=rule)
    notes = adapt_to_data(big, 54000)  # 844 steps an epoch: 5 epochs
    assert (big.batch_size, big.epochs) == (64, 5)
    assert notes == ["30 -> 5 epochs (at most about 4000 steps of 844 an epoch)"]
    fixed = FitConfig(batch_size=64, epochs=30)  # no rule: nothing changes
    assert adapt_to_data(fixed, 200) == [] and (fixed.batch_size, fixed.epochs) == (64, 30)


@pytest.fixture()
def tiny_npz(tmp_path):
    rng = np.random.RandomState(0)
    x = rng.randint(0, 255, (90, 16, 16, 3)).astype(np.uint8)
    y = np.arange(90) % 3
    path = tmp_path / "tiny.npz"
    np.savez(path, x_train=x[:60], y_train=y[:60], x_test=x[60:], y_test=y[60:])
    return path


def test_a_run_states_the_adaptation_and_the_same_command_finds_its_run(tiny_npz, tmp_path,
                                                                      capsys):
    from kerascnn.training.cli import main

    out = tmp_path / "run"
    argv = ["--model", "resnet20_cifar", "--n", "1", "--num-filters", "4", "--dataset",
            str(tiny_npz), "--image-size", "16", "--output-dir", str(out), "--verbose", "1",
            "--recipe", "signs"]
    # a named recipe has no adaptation; the family default has: check with a tiny rule
    from kerascnn.training import cli

    real = cli.apply_recipe

    def with_rule(config, given):
        config = real(config, given)
        config.epochs, config.adapt = 1, dict(min_steps_per_epoch=4, min_batch=8, min_steps=6,
                                              max_steps=6)
        return config

    cli.apply_recipe = with_rule
    try:
        assert main(argv) == 0
        printed = capsys.readouterr().out
        adapted = ["batch 32 -> 16 (at least 4 steps an epoch)",
                   "1 -> 2 epochs (at least 6 steps of 4 an epoch)"]
        lines = printed.splitlines()
        assert ("fit.py: settings of this run (recipe signs, adapted to the data; flags given "
                "on the command line win; --list-recipes):") in lines
        assert f"  epochs       2 (adapted to 54 training images: {adapted[1]})" in lines
        assert f"  batch        16 (adapted to 54 training images: {adapted[0]})" in lines
        metrics = json.loads((out / "metrics.json").read_text())
        assert metrics["batch_size"] == 16 and metrics["epochs"] == 2
        assert metrics["recipe_adapted"] == adapted
        # run_config.json holds the command (before adaptation): the same command again
        # finds its finished run, not "a different run"
        assert json.loads((out / "run_config.json").read_text())["batch_size"] == 32
        assert main(argv) == 2
        assert "already holds a finished run" in capsys.readouterr().err
    finally:
        cli.apply_recipe = real
