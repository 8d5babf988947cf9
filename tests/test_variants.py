"""Variants declared one way: a Variant table and one register_variants call per family."""

import ast
import importlib
import inspect
import pathlib

import pytest

import kerascnn
from kerascnn import api, registry
from kerascnn.models.variants import Variant

from .conftest import own_models

MODELS = pathlib.Path(kerascnn.__file__).parent / "models"
TABLE_FAMILIES = ("alexnet", "inception_v4", "resnet", "resnet_v2", "vgg", "densenet", "squeezenet",
                  "shufflenet", "googlenet", "inception_v3", "xception", "lenet", "nin",
                  "mobilenet", "cifar_resnet")
# cifar_resnet's rows keep their arguments as registry kwargs (record_arguments=True: model_info
# reports n, block, ...).
RECORDED = ("cifar_resnet",)


def _tables():
    for family in TABLE_FAMILIES:
        module = importlib.import_module(f"kerascnn.models.{family}.model")
        for variant in module.VARIANTS:
            yield module, variant


@pytest.mark.parametrize("module, variant", list(_tables()),
                         ids=[v.name for _, v in _tables()])
def test_each_row_is_one_registered_exported_documented_constructor(module, variant):
    assert isinstance(variant, Variant)
    constructor = getattr(module, variant.constructor)
    assert constructor is module.REGISTERED[variant.name]
    assert variant.constructor in module.__all__
    family = module.__name__.split(".")[2]
    package = importlib.import_module(f"kerascnn.models.{family}")
    assert variant.constructor in package.__all__
    assert getattr(package, variant.constructor) is constructor
    recorded = family in RECORDED
    assert getattr(kerascnn.applications, variant.constructor) is constructor
    assert variant.constructor in kerascnn.applications.__all__
    spec = api.get_spec(variant.name)
    assert spec.entrypoint is constructor and spec.constructor == variant.constructor
    assert spec.kwargs == (variant.arguments if recorded else {})
    assert spec.paper == variant.paper
    assert spec.keras_twin == variant.keras_twin and spec.convention == variant.convention
    assert constructor.__name__ == variant.constructor
    assert constructor.__doc__.startswith("Instantiates ")
    assert "seed" not in constructor.__doc__.lower()
    parameters = inspect.signature(constructor).parameters
    assert parameters["name"].default == variant.name
    assert parameters["classes"].default == variant.classes


def test_variant_arguments_are_defaults_the_options_override():
    vgg16 = kerascnn.applications.VGG16
    assert inspect.signature(vgg16).parameters["dropout"].default == 0.0
    model = vgg16(include_top=False, input_shape=(32, 32, 3), dropout=0.5)
    assert model.name == "vgg16"
    se = inspect.signature(kerascnn.applications.SEResNet50).parameters["se_ratio"]
    assert se.default == 16


def test_unknown_argument_is_one_line_error():
    with pytest.raises(ValueError, match=r"^ResNet50\(\) got unknown argument\(s\) "
                                         r"blocks_per_stage, foo; its own options are: shortcut, "
                                         r"se_ratio, stochastic_depth, stochastic_depth_mode, "
                                         r"bn_epsilon\.$"):
        kerascnn.applications.ResNet50(foo=1, blocks_per_stage=(1, 1, 1, 1))
    with pytest.raises(ValueError, match=r"^ShuffleNetG3\(\) got unknown argument\(s\) groups; "
                                         r"its own options are: bn_epsilon\.$"):
        kerascnn.applications.ShuffleNetG3(groups=8)
    with pytest.raises(ValueError, match=r"^Xception\(\) got unknown argument\(s\) foo; "
                                         r"its own options are: none\.$"):
        kerascnn.applications.Xception(foo=1)


def test_no_family_declares_variants_another_way():
    # The former plumbing: private `_variant` factories and hand-kept constructor maps.
    for path in sorted(MODELS.glob("*/model.py")):
        tree = ast.parse(path.read_text())
        names = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
        names |= {t.id for node in ast.walk(tree) if isinstance(node, ast.Assign)
                  for t in node.targets if isinstance(t, ast.Name)}
        assert not {"_variant", "_imagenet_variant", "_CONSTRUCTORS"} & names, path.parent.name


def _register_model_calls(path):
    tree = ast.parse(path.read_text())
    return [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Call)
            and getattr(node.func, "id", getattr(node.func, "attr", None)) == "register"]


def test_every_listed_name_is_a_variant_row_or_a_pattern():
    rows = {}
    for path in sorted(MODELS.glob("*/model.py")):
        module = importlib.import_module(f"kerascnn.models.{path.parent.name}.model")
        for variant in getattr(module, "VARIANTS", ()):
            assert variant.name not in rows, variant.name
            rows[variant.name] = getattr(module, variant.constructor)
    for name in own_models():
        if name in registry._MODELS:  # a fixed name: the constructor register_variants built
            assert name in rows, f"{name} is registered outside a Variant table"
            assert registry._MODELS[name].entrypoint is rows[name], name
        else:  # a listed example of an open-ended family
            assert any(regex.fullmatch(name) and factory(regex.fullmatch(name))
                       for regex, factory, _ in registry._PATTERNS), name
    assert set(rows) <= set(registry._MODELS)


def test_only_the_variants_module_registers():
    package = pathlib.Path(kerascnn.__file__).parent
    calls = {path.relative_to(package).as_posix(): _register_model_calls(path)
             for path in sorted(package.rglob("*.py"))}
    assert {name: lines for name, lines in calls.items() if lines} == \
        {"models/variants.py": _register_model_calls(MODELS / "variants.py")}
    assert _register_model_calls(MODELS / "variants.py")
