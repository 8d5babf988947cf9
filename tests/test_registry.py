"""Registry behaviour and errors."""

import re

import pytest

import kerascnn
from kerascnn import registry
from kerascnn.models.variants import pattern_member, register_model


def test_list_models_sorted_and_filtered():
    names = kerascnn.list_models()
    assert names == sorted(names)
    assert {"resnet50", "resnet101", "resnet152"} <= set(names)
    assert kerascnn.list_models("resnet1*") == sorted(
        n for n in names if n.startswith("resnet1"))
    assert kerascnn.list_models("no_such_family*") == []


def test_names_are_lower_snake():
    for name in kerascnn.list_models():
        assert re.fullmatch(r"[a-z][a-z0-9_]*", name), name


def test_unknown_model_names_close_matches():
    with pytest.raises(ValueError, match=r"Unknown model 'resnet5'\. Closest registered names: "
                                         r"resnet50"):
        kerascnn.create_model("resnet5")


def test_non_string_name():
    with pytest.raises(ValueError, match="Model name must be a string"):
        kerascnn.create_model(50)


def test_model_info_fields():
    for name in kerascnn.list_models():
        info = kerascnn.model_info(name)
        assert info["name"] == name
        assert set(info) >= {"family", "paper", "default_input_shape", "min_input_size",
                             "reference_params", "convention"}
        assert isinstance(info["paper"]["title"], str) and info["paper"]["title"]
        assert 1980 <= info["paper"]["year"] <= 2030
        assert len(info["default_input_shape"]) == 3
        assert info["min_input_size"] >= 1


def test_model_info_without_reference_row():
    # A pattern name that is not listed (ResNet-38 is in no paper's table) has no row.
    info = kerascnn.model_info("resnet38_cifar")
    assert (info["reference_params"], info["reference_source"]) == (None, None)
    assert "resnet38_cifar" not in kerascnn.list_models()


def test_register_rejects_duplicates_and_bad_names():
    with pytest.raises(ValueError, match="already registered"):
        register_model("resnet50", kerascnn.applications.ResNet50, family="resnet",
                       paper=("x", 2015))
    with pytest.raises(ValueError, match=r"lower_snake \(\[a-z\]\[a-z0-9_\]\*\); got 'ResNet50'"):
        pattern_member("ResNet50", kerascnn.applications.ResNet50, family="resnet",
                       paper=("x", 2015))


def test_pattern_registration_resolves_open_ended_names():
    calls = []

    def factory(match):
        n = int(match.group(1))
        calls.append(n)
        if n % 2:
            return None
        return pattern_member(match.group(0), kerascnn.applications.ResNet50,
                              family="testfamily", paper=("t", 2020))

    registry.register_pattern(r"zztest(\d+)", factory, examples=("zztest2",))
    try:
        assert "zztest2" in kerascnn.list_models("zztest*")
        assert kerascnn.model_info("zztest4")["family"] == "testfamily"
        with pytest.raises(ValueError, match="Unknown model 'zztest3'"):
            kerascnn.model_info("zztest3")
    finally:
        registry._PATTERNS.pop()


def test_create_model_passes_kwargs():
    model = kerascnn.create_model("resnet50", include_top=False, input_shape=(32, 32, 3),
                                  pooling="max")
    assert model.output.shape == (None, 2048)
    assert model.name == "resnet50"
