"""Leaf modules stay leaves: blocks and layers never import kerascnn.applications."""

import ast
import pathlib

import pytest

import kerascnn

PACKAGE = pathlib.Path(kerascnn.__file__).parent


def imported_modules(source: str, module: str) -> list[str]:
    """Every module ``source`` (the text of ``module``) imports, function-level ones too."""
    modules = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import, resolved against the module's package
                parts = module.split(".")[:-node.level]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module
            modules.append(base)
            modules += [f"{base}.{alias.name}" for alias in node.names]
    return modules


def applications_imports(source: str, module: str) -> list[str]:
    return [m for m in imported_modules(source, module)
            if m == "kerascnn.applications" or m.startswith("kerascnn.applications.")]


def leaf_files():
    return sorted(p for folder in ("blocks", "layers") for p in (PACKAGE / folder).glob("*.py"))


def test_leaf_modules_are_found():
    names = {p.relative_to(PACKAGE).as_posix() for p in leaf_files()}
    assert {"blocks/__init__.py", "blocks/common.py", "blocks/residual.py",
            "layers/__init__.py", "layers/lrn.py"} <= names


@pytest.mark.parametrize("path", leaf_files(), ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_blocks_and_layers_do_not_import_applications(path):
    module = ".".join(("kerascnn",) + path.relative_to(PACKAGE).with_suffix("").parts)
    assert applications_imports(path.read_text(), module) == []


@pytest.mark.parametrize("source", [
    "from kerascnn.applications.common import channel_axis\n",
    "def f():\n    import kerascnn.applications.resnet\n",
    "from kerascnn import applications\n",
    "from ..applications import common\n",
    "from ..applications.common import BN_EPSILON\n",
])
def test_the_check_catches_every_import_form(source):
    assert applications_imports(source, "kerascnn.blocks.example") != []


def test_the_check_passes_blocks_common():
    assert applications_imports("from kerascnn.blocks.common import conv_bn\n"
                                "from . import common\n", "kerascnn.blocks.example") == []
