"""The import contract: kerascnn is a layered house.

Every module of the package has a level; a module imports only from its own level or below,
counting the imports made inside functions too, and no two modules import each other,
directly or through others (zero cycles). The levels, lowest first:

0. custom layers, the functional-graph walker, MAC counting (keras alone);
1. blocks shared by two or more families;
2. the registry (a table: it imports no family), recipes as data, weights (readers,
   converters' helpers, the one parser of ``weights=``), the one preprocessing front;
3. the families (``kerascnn/models/<family>/``) and what they share (``models.common``,
   ``models.variants``); ``kerascnn.models`` loads them all;
4. what uses models: features, inference, export, visualize, utils (MACs of a model,
   receptive fields, weight transfer);
5. the public API (``create_model``, ``list_models``, ``model_info``), the
   ``kerascnn.applications`` re-export, and the tables and diagrams generated from them;
6. data, training, tuning, the command line.
"""

from __future__ import annotations

import ast
import pathlib

import pytest

import kerascnn

PACKAGE = pathlib.Path(kerascnn.__file__).parent

LEVELS = (
    (0, ("kerascnn", "kerascnn._lazy", "kerascnn.layers", "kerascnn.graph",
         "kerascnn.utils.io", "kerascnn.utils.macs", "kerascnn.training.schedules")),
    (1, ("kerascnn.blocks",)),
    (2, ("kerascnn.registry", "kerascnn.recipes", "kerascnn.weights",
         "kerascnn.preprocessing")),
    (3, ("kerascnn.models",)),
    (4, ("kerascnn.features", "kerascnn.inference", "kerascnn.export", "kerascnn.visualize",
         "kerascnn.utils")),
    (5, ("kerascnn.api", "kerascnn.applications", "kerascnn.utils.table",
         "kerascnn.utils.plotting", "kerascnn.utils.docs")),
    (6, ("kerascnn.data", "kerascnn.training", "kerascnn.tuning", "kerascnn.cli")),
)


def package_modules(root: pathlib.Path = PACKAGE) -> dict[str, pathlib.Path]:
    """Dotted module name -> file, for every module of the package (packages by their
    ``__init__``)."""
    modules = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def imported_modules(source: str, module: str, is_package: bool = False) -> list[str]:
    """Every dotted name ``source`` (the text of ``module``) imports, function-level imports
    too; ``from a import b`` yields ``a.b`` (a submodule, or a name of ``a``)."""
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolved against the module's package
                parts = module.split(".") if is_package else module.split(".")[:-1]
                parts = parts[:len(parts) - (node.level - 1)]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module
            names += [f"{base}.{alias.name}" for alias in node.names]
    return names


def _resolve(name: str, modules) -> str | None:
    """The module an imported dotted name lands in (its longest prefix that is one)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def import_graph(modules=None) -> dict[str, set[str]]:
    """module -> the package's modules it imports (module level and inside functions)."""
    modules = modules or package_modules()
    graph = {}
    for module, path in modules.items():
        targets = set()
        for name in imported_modules(path.read_text(), module, path.name == "__init__.py"):
            if name.split(".")[0] == "kerascnn":
                target = _resolve(name, modules)
                if target and target != module:
                    targets.add(target)
        graph[module] = targets
    return graph


def level(module: str) -> int | None:
    best = None
    for lv, prefixes in LEVELS:
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and \
                    (best is None or len(prefix) > best[1]):
                best = (lv, len(prefix))
    return None if best is None else best[0]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def climbing(graph) -> list[str]:
    return sorted(f"{m} (level {level(m)}) imports {t} (level {level(t)})"
                  for m, targets in graph.items() for t in targets if level(t) > level(m))


@pytest.fixture(scope="module")
def graph():
    return import_graph()


def test_every_module_has_a_level(graph):
    assert len(graph) > 100
    assert [m for m in graph if level(m) is None] == []


def test_zero_import_cycles(graph):
    assert cycles(graph) == []


def test_no_import_climbs_a_level(graph):
    assert climbing(graph) == []


def test_the_registry_imports_no_family_and_models_import_no_training(graph):
    assert {t for t in graph["kerascnn.registry"]} <= {"kerascnn"}
    for module, targets in graph.items():
        if module.startswith("kerascnn.models"):
            assert not [t for t in targets if t.startswith(("kerascnn.training",
                                                            "kerascnn.tuning",
                                                            "kerascnn.data"))], module


def test_one_module_loads_the_families(graph):
    """Only ``kerascnn.models`` imports every family; no family imports the loader."""
    families = {m for m in graph if m.count(".") == 2 and m.startswith("kerascnn.models.")
                and (PACKAGE / "models" / m.rsplit(".", 1)[1]).is_dir()}
    assert len(families) == 15
    assert families <= graph["kerascnn.models"]
    for module, targets in graph.items():
        if module.startswith("kerascnn.models."):
            assert "kerascnn.models" not in targets, module


def test_each_family_folder_has_a_static_all():
    for folder in sorted(p for p in (PACKAGE / "models").iterdir() if p.is_dir()
                         and not p.name.startswith("_")):
        for path in [folder / "__init__.py", folder / "model.py"]:
            tree = ast.parse(path.read_text())
            declared = [n for n in tree.body if isinstance(n, ast.Assign)
                        and getattr(n.targets[0], "id", None) == "__all__"]
            assert len(declared) == 1, path
            names = ast.literal_eval(declared[0].value)  # a literal list: static
            assert names and len(names) == len(set(names)), path


# The check itself: it sees every form of import, and tells the levels apart.

@pytest.mark.parametrize("source, expected", [
    ("from kerascnn.models.common import channel_axis\n", "kerascnn.models.common"),
    ("def f():\n    import kerascnn.models.resnet\n", "kerascnn.models.resnet"),
    ("from kerascnn import models\n", "kerascnn.models"),
    ("from ..models import common\n", "kerascnn.models.common"),
    ("from ..models.common import BN_EPSILON\n", "kerascnn.models.common"),
    ("class A:\n    def f(self):\n        from kerascnn.training import run\n",
     "kerascnn.training.run"),
])
def test_the_check_sees_every_import_form(source, expected):
    modules = package_modules()
    names = imported_modules(source, "kerascnn.blocks.example")
    assert expected in {_resolve(n, modules) for n in names}


def test_the_check_finds_a_cycle_and_a_climb():
    graph = {"kerascnn.blocks.a": {"kerascnn.models.b"}, "kerascnn.models.b":
             {"kerascnn.blocks.a"}, "kerascnn.layers.c": set()}
    assert cycles(graph) == [["kerascnn.blocks.a", "kerascnn.models.b"]]
    assert climbing(graph) == ["kerascnn.blocks.a (level 1) imports kerascnn.models.b "
                               "(level 3)"]
    assert level("kerascnn.utils.macs") == 0 and level("kerascnn.utils.receptive_field") == 4
