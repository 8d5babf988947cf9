"""The notebooks run top to bottom (smoke settings) and are committed without outputs.

``KERASCNN_NOTEBOOK_SMOKE=1`` makes each notebook train on a few batches only.
"""

import importlib.util
import os

import nbformat
import pytest

import kerascnn

from .conftest import DATA, ROOT

NOTEBOOKS = ROOT / "notebooks"

# notebook -> (registry names, modules) it needs, and the data folder it reads
NEEDS = {
    "01_quick_start.ipynb": ((["resnet50"], []), "signs"),
    "02_architecture_tour.ipynb": (([], []), None),
    "03_cifar_residual_dense.ipynb": ((["resnet20_cifar", "densenet40_cifar"], []),
                                      "cifar10-subset"),
    "04_tuner_search.ipynb": ((["resnet20_cifar"], ["kerascnn.tuning"]), "cifar10-subset"),
    "05_transfer_and_visualization.ipynb": ((["resnet20_cifar"], ["kerascnn.visualize"]),
                                            "signs"),
}


def _missing(names, modules):
    registered = set(kerascnn.list_models())
    missing = [n for n in names if n not in registered]
    missing += [m for m in modules if importlib.util.find_spec(m) is None]
    return missing


def _execute(name, monkeypatch):
    from nbclient import NotebookClient

    (names, modules), data = NEEDS[name]
    assert not _missing(names, modules), f"{name} needs {_missing(names, modules)}"
    if data and not (DATA / data).exists():
        pytest.skip(f"{DATA / data} is not available")
    monkeypatch.setenv("KERASCNN_NOTEBOOK_SMOKE", "1")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()
    return nb


def _text(nb):
    out = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            out.append(o.get("text", "") or str(o.get("data", {}).get("text/plain", "")))
    return "\n".join(out)


def test_notebooks_listed_and_stripped():
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == sorted(NEEDS)
    for name in NEEDS:
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        nbformat.validate(nb)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, name
        source = "\n".join(c.source for c in nb.cells)
        assert "import kerascnn" in source and "KERASCNN_SHARED" in source, name


@pytest.mark.slow
def test_01_quick_start(monkeypatch):
    text = _text(_execute("01_quick_start.ipynb", monkeypatch))
    assert "23,600,006 parameters" in text  # ResNet-50, 6 classes, BN statistics included
    assert "test accuracy" in text


@pytest.mark.slow
def test_02_architecture_tour(monkeypatch):
    text = _text(_execute("02_architecture_tour.ipynb", monkeypatch))
    assert "resnet50" in text and "3.86 GMACs measured,   3.8 published, +1.5 %" in text


@pytest.mark.slow
def test_03_cifar_residual_dense(monkeypatch):
    text = _text(_execute("03_cifar_residual_dense.ipynb", monkeypatch))
    assert "resnet20_cifar" in text and "densenet40_cifar" in text


@pytest.mark.slow
def test_04_tuner_search(monkeypatch):
    text = _text(_execute("04_tuner_search.ipynb", monkeypatch))
    assert "best hyperparameters:" in text


@pytest.mark.slow
def test_05_transfer_and_visualization(monkeypatch):
    text = _text(_execute("05_transfer_and_visualization.ipynb", monkeypatch))
    assert "layers copied and frozen" in text and "SIGNS test accuracy after transfer" in text
    assert "Grad-CAM layer:" in text and "largest drop of the true class's probability" in text


def test_notebook_prerequisites_named():
    assert _missing(["resnet50"], ["kerascnn.utils"]) == []
    assert _missing(["no_such_model"], ["kerascnn.no_such_module"]) == \
        ["no_such_model", "kerascnn.no_such_module"]
    assert os.fspath(NOTEBOOKS).endswith("notebooks")
