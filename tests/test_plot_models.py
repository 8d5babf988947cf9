"""Diagrams of registered models, the gallery, and the missing-graphviz error."""

import json
import os
import re
import subprocess
import xml.etree.ElementTree as ET

import keras
import pytest
from keras import layers

import kerascnn
from kerascnn import api
from kerascnn.utils.plotting import (
    GraphvizNotFoundError,
    block_groups,
    minify_svg,
    natural_key,
    plot_architecture,
    plot_blocks,
    replace_between_markers,
)

from .conftest import ROOT, load_script

SVG = "{http://www.w3.org/2000/svg}"


def _script():
    return load_script("plot_models")


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


def _blocks(name):
    groups = block_groups(kerascnn.create_model(name), kerascnn.model_info(name)["family"])
    keras.backend.clear_session()
    return groups


def test_resnet50_block_view_has_one_node_per_bottleneck_block():
    groups = _blocks("resnet50")
    # He et al. 2015, Table 1: conv2_x..conv5_x have 3, 4, 6 and 3 bottleneck blocks.
    blocks = [f"res{stage}{chr(ord('a') + i)}" for stage, n in ((2, 3), (3, 4), (4, 6), (5, 3))
              for i in range(n)]
    assert len(blocks) == 16
    assert [g["name"] for g in groups] == ["input_layer", "stem", *blocks, "head"]
    assert [g["kind"] for g in groups[:2]] == ["input", "stem"] and groups[-1]["kind"] == "head"
    by_name = {g["name"]: g for g in groups}
    # the first block of a stage has the projection shortcut: 4 convolutions, else 3
    for b in blocks:
        types = by_name[b]["types"]
        assert types.count("conv") == (4 if b.endswith("a") else 3), b
        assert types.count("add") == 1 and types.count("bn") == types.count("conv"), b
    assert by_name["res2a"]["output_shapes"] == ["56x56x256"]
    assert by_name["res5c"]["output_shapes"] == ["7x7x2048"]
    assert by_name["head"]["output_shapes"] == ["1000"]
    assert by_name["res3a"]["inputs"] == ["res2c"] and by_name["stem"]["inputs"] == ["input_layer"]
    assert sum(len(g["layers"]) for g in groups) == 177
    assert sum(g["params"] for g in groups) == 25_636_712  # trainable + BN statistics


def test_densenet121_block_view_has_four_dense_blocks_and_three_transitions():
    groups = _blocks("densenet121")
    assert [g["name"] for g in groups] == ["input_layer", "stem", "conv2", "pool2", "conv3",
                                           "pool3", "conv4", "pool4", "conv5", "head"]
    dense = [g for g in groups if g["kind"] == "dense block"]
    # Huang et al. 2017, Table 1: 6, 12, 24 and 16 layers, 58 in all, one concat each
    assert [g["types"].count("concat") for g in dense] == [6, 12, 24, 16]
    assert [g["types"].count("conv") for g in dense] == [12, 24, 48, 32]
    assert [g["name"] for g in groups if g["kind"] == "transition"] == ["pool2", "pool3",
                                                                       "pool4"]
    assert [g["output_shapes"] for g in dense] == [["56x56x256"], ["28x28x512"],
                                                   ["14x14x1024"], ["7x7x1024"]]


@pytest.mark.parametrize("name, expected", [
    # Iandola et al. 2016: fire2..fire9, max pools after fire3 and fire5 (v1.1)
    ("squeezenet1_1", ["input_layer", "stem", "fire2", "fire3", "pool3", "fire4", "fire5",
                       "pool5", "fire6", "fire7", "fire8", "fire9", "head"]),
    # Simonyan & Zisserman 2014: five conv blocks, then the classifier
    ("vgg16", ["input_layer", "block1", "block2", "block3", "block4", "block5", "head"]),
    # Szegedy et al. 2014, Table 1: inception (3a)..(5b)
    ("googlenet", ["input_layer", "stem", "inception_3a", "inception_3b", "pool3",
                   "inception_4a", "inception_4b", "inception_4c", "inception_4d",
                   "inception_4e", "pool4", "inception_5a", "inception_5b", "head"]),
    # Lin et al. 2013: three mlpconv stages
    ("nin_cifar", ["input_layer", "stage1", "pool1", "dropout1", "stage2", "pool2",
                   "dropout2", "stage3", "head"]),
    # a network without blocks: a layer with its padding or dropout
    # (torchvision's top: adaptive pooling, dropout before fc6 and fc7)
    ("alexnet_owt", ["input_layer", "conv1", "pool1", "conv2", "pool2", "conv3", "conv4",
                     "conv5", "pool5", "avgpool", "flatten", "dropout6", "fc6", "dropout7",
                     "fc7", "predictions"]),
])
def test_block_view_of_other_families(name, expected):
    assert [g["name"] for g in _blocks(name)] == expected


def test_se_block_is_part_of_its_residual_block():
    groups = _blocks("se_resnet50")
    assert len(groups) == 19
    res2a = next(g for g in groups if g["name"] == "res2a")
    assert "mul" in res2a["types"] and "res2a_se_squeeze" in res2a["layers"]


def test_block_names_that_would_form_a_cycle_fall_back_to_runs(tmp_path):
    inputs = keras.Input((8, 8, 3))
    x = layers.Conv2D(4, 3, name="fire2_a")(inputs)
    x = layers.Conv2D(4, 3, name="fire3_a")(x)
    x = layers.Conv2D(4, 3, name="fire2_b")(x)
    model = keras.Model(inputs, x)
    groups = block_groups(model)
    assert [g["name"] for g in groups] == [model.layers[0].name, "fire2", "fire3", "fire2 (2)"]
    assert [g["inputs"] for g in groups[1:]] == [[model.layers[0].name], ["fire2"], ["fire3"]]
    text = open(plot_blocks(model, tmp_path / "b.svg"), encoding="utf-8").read()
    assert "fire2 (2)" in _texts(text) and "<!--" not in text and "\n" not in text


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


def test_plot_models_update_docs_on_resnet50(tmp_path, capsys):
    page = tmp_path / "docs" / "models" / "index.md"
    page.parent.mkdir(parents=True)
    page.write_text("# x\n\n<!-- models:start -->\nold\n<!-- models:end -->\nrest\n")
    learning = tmp_path / "docs" / "guides" / "training.md"
    learning.parent.mkdir(parents=True)
    learning.write_text("<!-- learning:start -->\nold\n<!-- learning:end -->\n")
    gallery = tmp_path / "docs" / "architectures.md"
    out = tmp_path / "docs" / "architectures"
    # a cached row of a model that is not registered is dropped from the gallery
    out.mkdir()
    (out / "gallery.json").write_text(json.dumps([{"name": "not_a_model"}]))
    rc = _script().main(["--models", "resnet50", "--update-docs", "--out", str(out),
                         "--gallery", str(gallery), "--models-page", str(page),
                         "--learning-page", str(learning)])
    assert rc == 0
    texts = _texts((out / "resnet50.svg").read_text(encoding="utf-8"))
    for name in ("conv1", "bn_conv1", "res2a_branch2a", "res5c_branch2c", "fc1000"):
        assert name in texts, name
    assert "(None, 7, 7, 2048)" in texts
    blocks = _texts((out / "resnet50_blocks.svg").read_text(encoding="utf-8"))
    assert "res2a" in blocks and "7x7x2048" in blocks and "res2a_branch2a" not in blocks
    md = gallery.read_text()
    assert ("| [`resnet50`](models/resnet50.md) | resnet | Deep Residual Learning for Image "
            "Recognition (2015) | 25,583,592 | 25,583,592 | 0 | 3.86 | 224x224x3 | 32 | "
            "[blocks (19)](architectures/resnet50_blocks.svg) · "
            "[layers (177)](architectures/resnet50.svg) | "
            "[![resnet50 blocks](architectures/resnet50_blocks.svg)]"
            "(architectures/resnet50_blocks.svg) |") in md
    assert "multiply-accumulates" in md and "not_a_model" not in md
    assert "plot_models.py --update-docs" in md
    assert not (out / "gallery.md").exists()
    rows = json.loads((out / "gallery.json").read_text())
    assert [r["name"] for r in rows] == ["resnet50"]
    assert rows[0]["macs"] == 3_857_973_248 and rows[0]["diagram"] == "resnet50.svg"
    assert rows[0]["blocks_diagram"] == "resnet50_blocks.svg" and rows[0]["blocks"] == 19
    text = page.read_text()
    assert "old" not in text and text.endswith("<!-- models:end -->\nrest\n")
    assert ("| [`resnet50`](resnet50.md) | resnet | Deep Residual Learning for Image "
            "Recognition (2015) | 25.6 M | 3.86 | 224x224x3 |") in text
    text = learning.read_text()
    assert "old" not in text and "| resnet_cifar | `resnet20_cifar` |" in text
    assert "resnet50: 25,583,592 params, 3.86 GMACs, blocks " in capsys.readouterr().out


def _git_status():
    return subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=ROOT,
                          capture_output=True, text=True, check=True).stdout


def test_out_writes_only_under_out_and_leaves_the_repository_clean(tmp_path, capsys):
    before = _git_status()
    docs = {p: p.stat().st_mtime_ns for p in [ROOT / "docs" / "models" / "index.md",
                                              ROOT / "docs" / "architectures.md"]}
    out = tmp_path / "d"
    assert _script().main(["--models", "lenet5", "--out", str(out)]) == 0
    assert _script().main(["--models", "nin_cifar", "--out", str(out)]) == 0
    assert _git_status() == before
    assert {p: p.stat().st_mtime_ns for p in docs} == docs
    assert sorted(os.listdir(out)) == [
        "gallery.json", "gallery.md", "lenet5.svg", "lenet5_blocks.svg", "nin_cifar.svg",
        "nin_cifar_blocks.svg"]
    md = (out / "gallery.md").read_text()
    assert "[blocks (" in md and "](lenet5_blocks.svg)" in md and "](nin_cifar.svg)" in md
    assert f"plot_models.py --out {out}" in md
    assert "wrote " + str(out / "gallery.md") in capsys.readouterr().out


def test_out_or_update_docs_is_required(tmp_path, capsys):
    assert _script().main(["--models", "lenet5"]) == 2
    assert capsys.readouterr().err == (
        "error: give --out DIR (diagrams and their gallery, nothing else written) or "
        "--update-docs (regenerate docs/architectures and the site's tables)\n")
    assert _script().main(["--update-docs", "--out", str(tmp_path / "d"),
                           "--gallery", str(tmp_path / "g" / "a.md")]) == 2
    assert "--out must lie under" in capsys.readouterr().err
    assert _script().main(["--update-docs", "--no-gallery"]) == 2
    assert not (tmp_path / "d").exists()


def test_models_over_max_layers_get_only_the_block_view(tmp_path, capsys):
    out = tmp_path / "d"
    out.mkdir()
    (out / "resnet20_cifar.svg").write_text("stale")
    rc = _script().main(["--models", "resnet20_cifar", "--out", str(out), "--max-layers", "50"])
    assert rc == 0
    assert not (out / "resnet20_cifar.svg").exists()
    assert (out / "resnet20_cifar_blocks.svg").exists()
    [row] = json.loads((out / "gallery.json").read_text())
    assert row["diagram"] is None and row["layers"] == len(
        kerascnn.create_model("resnet20_cifar").layers) > 50
    # input, stem, 3 stages of 3 basic blocks, head
    assert row["blocks"] == 12 and row["blocks_diagram"] == "resnet20_cifar_blocks.svg"
    assert (f"[blocks (12)](resnet20_cifar_blocks.svg) · layers not drawn ({row['layers']}) |"
            in (out / "gallery.md").read_text())
    assert f"layers not drawn ({row['layers']} layers > --max-layers 50)" in \
        capsys.readouterr().out
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
                if api.get_spec(n).entrypoint.__module__.startswith("kerascnn.")]
    assert "resnet50" in packaged and "resnet20_cifar" in packaged
    missing = [n for n in packaged if n not in by_name]
    assert not missing, ("not in the gallery: " + ", ".join(missing) +
                         "; run python3 scripts/plot_models.py --models NAME")
    md = (ROOT / "docs" / "architectures.md").read_text()
    table = (ROOT / "docs" / "models" / "index.md").read_text()
    for name, row in by_name.items():
        assert f"| [`{name}`](models/{name}.md) |" in md, name
        assert f"| [`{name}`]({name}.md) |" in table, name
        # every model has a block view; a layer-level one unless it is too deep to draw
        # usefully (plot_models --max-layers)
        assert row["blocks_diagram"] == f"{name}_blocks.svg", name
        assert (ROOT / "docs" / "architectures" / row["blocks_diagram"]).exists(), name
        if row["diagram"] is None:
            assert row["layers"] > 2000, name
        else:
            assert row["diagram"] == f"{name}.svg", name
            assert (ROOT / "docs" / "architectures" / row["diagram"]).exists(), name
    # He et al. 2015, Sec. 4.2: resnet1202 is 3 stages of 200 basic blocks
    assert by_name["resnet1202_cifar"]["blocks"] == 1 + 1 + 600 + 1
    assert by_name["resnet50"]["blocks"] == 19 and by_name["densenet121"]["blocks"] == 10
    sizes = [p.stat().st_size for p in (ROOT / "docs" / "architectures").glob("*.svg")]
    assert max(sizes) < 1_000_000
    drawn = {f"{r['name']}_blocks.svg" for r in rows} | {r["diagram"] for r in rows}
    assert {p.name for p in (ROOT / "docs" / "architectures").glob("*.svg")} == drawn - {None}


@pytest.mark.slow
def test_every_registered_model_can_be_drawn(tmp_path):
    names = kerascnn.list_models()
    assert _script().main(["--out", str(tmp_path), "--no-gallery", "--max-layers", "0"]) == 0
    for name in names:
        for path in (tmp_path / f"{name}.svg", tmp_path / f"{name}_blocks.svg"):
            text = path.read_text(encoding="utf-8")
            assert re.search(r"<svg\b", text) and _texts(text), path.name


def test_readme_opens_with_the_two_commands():
    text = (ROOT / "README.md").read_text()
    assert text.startswith("# kerascnn\n\n```bash\n")
    block = text.split("```bash\n", 1)[1].split("```", 1)[0].splitlines()
    assert len(block) == 2 and block[1] == "python3 -m pytest"
    assert block[0].endswith('python3 -m pip install -e ".[dev]" && python3 scripts/fit.py '
                             "--epochs 3")
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert block[0] in ci and block[1] in ci  # CI runs the README's commands as written
    assert len(text.splitlines()) < 200
