"""kerascnn.models_table(): the shipped cache is complete and equals a fresh computation."""

import json

import pytest

import kerascnn
from kerascnn.utils import table

from .conftest import own_models


def test_every_registered_model_has_a_cached_row():
    with open(table.CACHE_PATH, encoding="utf-8") as f:
        cached = [row["name"] for row in json.load(f)["models"]]
    assert sorted(cached) == own_models()
    assert len(cached) == len(set(cached))


def test_listing_reads_the_cache_without_building(monkeypatch):
    def fail(name):
        raise AssertionError(f"{name} was built")

    monkeypatch.setattr(table, "compute_row", fail)
    own = own_models()
    rows = [row for name in own for row in kerascnn.models_table(name)]
    assert [r["name"] for r in rows] == own
    assert all(set(r) == set(table.FIELDS) for r in rows)
    by_name = {r["name"]: r for r in rows}
    # the usual published receptive fields (Araujo et al. 2019, Distill)
    assert (by_name["resnet50"]["receptive_field"], by_name["resnet50"]["stride"]) == (483, 32)
    assert (by_name["vgg16"]["receptive_field"], by_name["vgg16"]["stride"]) == (212, 32)
    assert (by_name["alexnet"]["receptive_field"], by_name["alexnet"]["stride"]) == (195, 32)
    assert by_name["resnet50"]["input_size"] == [224, 224, 3]
    assert [r["name"] for r in kerascnn.models_table("vgg1?")] == ["vgg11", "vgg13", "vgg16",
                                                                   "vgg19"]


@pytest.mark.parametrize("name", ["lenet5", "resnet20_cifar", "squeezenet1_1", "nin_cifar"])
def test_cache_equals_a_fresh_computation(name):
    fresh = table.compute_row(name)
    assert kerascnn.models_table(name) == [fresh]
    model = kerascnn.create_model(name)
    assert fresh["params"] == model.count_params()
    assert fresh["macs"] == kerascnn.utils.count_macs(model)


def test_lenet5_row_by_hand():
    # C1 5x5 -> S2 2x2/2 -> C3 5x5 -> S4 2x2/2 -> C5 5x5: r = 5, 6, 14, 16, 32; stride 4
    (row,) = kerascnn.models_table("lenet5")
    assert (row["receptive_field"], row["stride"], row["last_spatial_layer"]) == (32, 4, "c5")
    assert row["params"] == 61706


def test_update_cache_writes_the_rows(tmp_path):
    path = tmp_path / "t.json"
    rows = table.update_cache(["lenet5"], path=str(path))
    with open(path, encoding="utf-8") as f:
        assert json.load(f)["models"] == rows == kerascnn.models_table("lenet5")


def test_update_all_regenerates_every_generated_file(monkeypatch, tmp_path, capsys):
    """One command writes the table's cache, the feature taps and the site's weight table
    (each checked current by its own test)."""
    import kerascnn.features

    calls = []
    monkeypatch.setattr(table, "update_cache", lambda log=None: calls.append("cache"))
    monkeypatch.setattr(kerascnn.features, "write_feature_info",
                        lambda: calls.append("feature_info"))
    monkeypatch.setattr(table, "update_weights_page",
                        lambda page: calls.append(("weights", page)) or True)
    page = str(tmp_path / "weights.md")
    assert table.main(["--update-all", "--weights-page", page]) == 0
    assert calls == ["cache", "feature_info", ("weights", page)]
    assert f"(updated) the weight-set table of {page}" in capsys.readouterr().out
