"""Diagrams of registered models, the gallery, and the missing-graphviz error."""

import importlib.util
import json
import os
import re
import xml.etree.ElementTree as ET

import keras
import pytest
from keras import layers

import kerascnn
from kerascnn import registry
from kerascnn.utils.plotting import (
    GraphvizNotFoundError,
    minify_svg,
    natural_key,
    plot_architecture,
    replace_between_markers,
)

from .conftest import ROOT

SVG = "{http://www.w3.org/2000/svg}"


def _script():
    spec = importlib.util.spec_from_file_location("plot_models", ROOT / "scripts" / "plot_models.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _texts(svg_text):
    root = ET.fromstring(svg_text.encode())
    return [t.text for t in root.iter(f"{SVG}text")]


def _tiny_nested():
    inner_in = keras.Input((8, 8, 4))
    x = layers.Conv2D(4, 1, name="inner_conv")(inner_in)
    inner = keras.Model(inner_in, layers.ReLU(name="inner_relu")(x), name="block")
    inputs = keras.Input((8, 8, 3))
    x = layers.Conv2D(4, 3, padding="same", name="stem")(inputs)
    x = layers.Add(name="merge")([inner(x), x])
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inputs, layers.Dense(2, name="fc")(x), name="tiny")


def test_svg_diagram_of_nested_model_shows_shapes_names_and_inner_layers(tmp_path):
    path = plot_architecture(_tiny_nested(), tmp_path / "tiny.svg")
    texts = _texts(open(path, encoding="utf-8").read())
    for name in ("stem", "inner_conv", "inner_relu", "merge", "fc"):
        assert name in texts, name
    assert "(None, 8, 8, 4)" in texts
    assert oct(os.stat(path).st_mode & 0o777) == "0o644"


def test_png_diagram(tmp_path):
    path = plot_architecture(_tiny_nested(), tmp_path / "tiny.png")
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_bad_format(tmp_path):
    with pytest.raises(ValueError, match=r"^Diagram format must be 'svg' or 'png'; got 'pdf'\.$"):
        plot_architecture(_tiny_nested(), tmp_path / "tiny.pdf")


def test_minify_svg_keeps_the_drawing(tmp_path):
    raw = tmp_path / "raw.svg"
    keras.utils.model_to_dot(_tiny_nested(), show_shapes=True, show_layer_names=True,
                             expand_nested=True, dpi=None).write(str(raw), format="svg")
    original = raw.read_text(encoding="utf-8")
    small = minify_svg(original)
    assert small.startswith('<?xml version="1.0"')
    assert len(small) < 0.75 * len(original)
    assert [t.strip() for t in _texts(small)] == [t.strip() for t in _texts(original)]
    root = ET.fromstring(small.encode())
    # every box of the original is still drawn (as <rect> or <polygon>)
    orig_root = ET.fromstring(original.encode())
    assert len(list(root.iter(f"{SVG}path"))) == len(list(orig_root.iter(f"{SVG}path")))
    assert root.get("viewBox") == " ".join(
        str(int(float(v))) for v in orig_root.get("viewBox").split())


def test_missing_graphviz_is_one_line_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` here
    expected = ("graphviz is not installed (no `dot` on PATH); install it with: apt-get install "
                "-y graphviz (macOS: brew install graphviz; conda: conda install graphviz)")
    with pytest.raises(GraphvizNotFoundError) as info:
        plot_architecture(_tiny_nested(), tmp_path / "x.svg")
    assert str(info.value) == expected
    assert _script().main(["--models", "resnet50", "--out", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {expected}\n"
    assert not (tmp_path / "d").exists()


def test_plot_models_script_on_resnet50(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text("# x\n\n<!-- models:start -->\nold\n<!-- models:end -->\nrest\n")
    gallery = tmp_path / "docs" / "architectures.md"
    out = tmp_path / "docs" / "architectures"
    # a cached row of a model that is not registered is dropped from the gallery
    out.mkdir(parents=True)
    (out / "gallery.json").write_text(json.dumps([{"name": "not_a_model"}]))
    rc = _script().main(["--models", "resnet50", "--out", str(out), "--gallery", str(gallery),
                         "--readme", str(readme)])
    assert rc == 0
    texts = _texts((out / "resnet50.svg").read_text(encoding="utf-8"))
    for name in ("conv1", "bn_conv1", "res2a_branch2a", "res5c_branch2c", "fc1000"):
        assert name in texts, name
    assert "(None, 7, 7, 2048)" in texts
    md = gallery.read_text()
    assert ("| `resnet50` | resnet | Deep Residual Learning for Image Recognition (2015) | "
            "25,583,592 | 25,583,592 | 0 | 3.86 | 224x224x3 | 32 | "
            "[svg](architectures/resnet50.svg) |") in md
    assert "multiply-accumulates" in md and "not_a_model" not in md
    rows = json.loads((out / "gallery.json").read_text())
    assert [r["name"] for r in rows] == ["resnet50"]
    assert rows[0]["macs"] == 3_857_973_248 and rows[0]["diagram"] == "resnet50.svg"
    text = readme.read_text()
    assert "old" not in text and text.endswith("<!-- models:end -->\nrest\n")
    assert ("| `resnet50` | resnet | Deep Residual Learning for Image Recognition (2015) | "
            "25.6 M | 3.86 | 224x224x3 |") in text
    assert "resnet50: 25,583,592 params, 3.86 GMACs" in capsys.readouterr().out


def test_models_over_max_layers_are_not_drawn(tmp_path, capsys):
    out = tmp_path / "d"
    out.mkdir()
    (out / "resnet20_cifar.svg").write_text("stale")
    rc = _script().main(["--models", "resnet20_cifar", "--out", str(out), "--max-layers", "50",
                         "--gallery", str(tmp_path / "g.md"), "--readme", ""])
    assert rc == 0
    assert not (out / "resnet20_cifar.svg").exists()
    [row] = json.loads((out / "gallery.json").read_text())
    assert row["diagram"] is None and row["layers"] == len(
        kerascnn.create_model("resnet20_cifar").layers) > 50
    assert f"| not drawn ({row['layers']} layers) |" in (tmp_path / "g.md").read_text()
    assert f"not drawn ({row['layers']} layers > --max-layers 50)" in capsys.readouterr().out
    assert _script().main(["--max-layers", "-1", "--out", str(out)]) == 2
    assert capsys.readouterr().err == (
        "error: --max-layers must be >= 0 (0 draws every model); got -1\n")


def test_unknown_pattern(tmp_path, capsys):
    assert _script().main(["--models", "nothing*", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err == "error: no registered model matches 'nothing*'\n"


def test_replace_between_markers_needs_markers():
    with pytest.raises(ValueError, match="Markers <a> ... <b> not found"):
        replace_between_markers("text", "x", "<a>", "<b>")


def test_natural_order():
    assert sorted(["resnet152", "resnet50", "resnet101"], key=natural_key) == \
        ["resnet50", "resnet101", "resnet152"]


def test_committed_gallery_lists_every_registered_model():
    """The gallery is regenerated in the change that adds a model."""
    rows = json.loads((ROOT / "docs" / "architectures" / "gallery.json").read_text())
    by_name = {r["name"]: r for r in rows}
    # Other test modules register throw-away models; only the package's own count.
    packaged = [n for n in kerascnn.list_models()
                if registry.get_spec(n).constructor.__module__.startswith("kerascnn.")]
    assert "resnet50" in packaged and "resnet20_cifar" in packaged
    missing = [n for n in packaged if n not in by_name]
    assert not missing, ("not in the gallery: " + ", ".join(missing) +
                         "; run python3 scripts/plot_models.py --models NAME")
    md = (ROOT / "docs" / "architectures.md").read_text()
    readme = (ROOT / "README.md").read_text()
    for name, row in by_name.items():
        assert f"| `{name}` |" in md and f"| `{name}` |" in readme, name
        if row["diagram"] is None:  # too deep to draw usefully (plot_models --max-layers)
            assert row["layers"] > 2000, name
        else:
            assert (ROOT / "docs" / "architectures" / row["diagram"]).exists(), name
    sizes = [p.stat().st_size for p in (ROOT / "docs" / "architectures").glob("*.svg")]
    assert max(sizes) < 1_000_000


@pytest.mark.slow
def test_every_registered_model_can_be_drawn(tmp_path):
    names = kerascnn.list_models()
    assert _script().main(["--out", str(tmp_path), "--no-gallery", "--max-layers", "0"]) == 0
    for name in names:
        text = (tmp_path / f"{name}.svg").read_text(encoding="utf-8")
        assert re.search(r"<svg\b", text) and _texts(text), name


def test_readme_opens_with_the_two_commands():
    text = (ROOT / "README.md").read_text()
    assert text.startswith("# kerascnn\n\n```bash\n")
    block = text.split("```bash\n", 1)[1].split("```", 1)[0].splitlines()
    assert len(block) == 2 and block[1] == "python3 -m pytest"
    assert block[0].endswith('python3 -m pip install -e ".[dev]" && python3 scripts/fit.py')
    assert text.index("<!-- models:start -->") < text.index("<!-- models:end -->")
