"""The documentation site's generated pages (``python3 -m kerascnn.utils.docs --update``):
current with the registry, one per registered model with every item a model page promises,
family pages with their variants and the open-ended families' name patterns, and the executed
notebooks rendered. Nothing is built (no model, no site): seconds."""

import json

import nbformat
import pytest

from kerascnn.utils import docs

from .conftest import ROOT


@pytest.fixture(scope="module")
def sources():
    return docs._Sources()


@pytest.fixture(scope="module")
def generated():
    return docs.generate()


def test_generated_pages_are_current():
    assert docs.stale_files() == [], (
        "the site's generated pages are stale: python3 -m kerascnn.utils.docs --update")


def test_one_page_per_registered_model_with_every_section(sources, generated):
    assert len(sources.names) == 96
    sections = ["## Paper", "## Size and cost", "## Inputs and receptive field",
                "## Feature taps", "## Diagrams", "## Weight sets", "## Training", "## Example"]
    for name in sources.names:
        page = generated[f"docs/models/{name}.md"]
        assert [s for s in sections if s not in page] == [], name
        assert f"# `{name}`" in page and f'kerascnn.create_model("{name}"' in page, name
        assert f"python3 scripts/fit.py --model {name} --dataset " in page, name
        assert f"](../architectures/{name}_blocks.svg)" in page, name
        assert "](https://" in page or "](http://" in page, name  # the paper's link
    nav = generated["mkdocs.yml"]
    assert all(f"- {n}: models/{n}.md\n" in nav for n in sources.names)


def test_the_resnet50_page_states_each_fact(generated):
    page = generated["docs/models/resnet50.md"]
    for text in [
        "K. He, X. Zhang, S. Ren, J. Sun, [*Deep Residual Learning for Image Recognition*]"
        "(https://arxiv.org/abs/1512.03385), CVPR 2016.",
        "The network follows: Table 1 (ImageNet).",
        "(`convention`): bottleneck v1 as keras.applications (conv biases, option B "
        "projections, stride on the first 1x1).",
        "| Trainable parameters | 25,583,592 | 25,583,592 | +0 |",
        "| MACs (one image, 224x224x3) | 3.858 G | 3.800 G | +1.5% |",
        "Reference MACs: He et al., Table 1.",
        "- Default input: 224x224x3; smallest height and width accepted: 32.",
        "(`res5c_relu`): 483 pixels at stride 32.",
        "| 0 | `conv1_relu` | 64 | 2 |", "| 4 | `res5c_relu` | 2048 | 32 |",
        "![Block diagram of resnet50](../architectures/resnet50_blocks.svg)",
        "[resnet50.svg](../architectures/resnet50.svg)",
        "### `imagenet`", "| `source` | keras:ResNet50 |", "| `top1` | 74.9 |",
        "| `license` | MIT (ported from Kaiming He's release) |",
        "| `optimizer` | adamw |", "`--recipe paper` is `imagenet_resnet`",
        "| resnet:signs_resnet50 | SIGNS 64px |  | 30 | 32 | 19.9 min | 1.7 | 0.975 | 0.167 |",
        'pretrained = kerascnn.create_model("resnet50", weights="imagenet")',
        "python3 scripts/fit.py --model resnet50 --dataset signs --data-dir "
        "../shared/data/signs/64x64_SIGNS --image-size 64",
    ]:
        assert text in page, text


def test_a_cifar_model_follows_the_cifar_section_and_trains_on_cifar(generated):
    page = generated["docs/models/resnet56_cifar.md"]
    assert "The network follows: Section 4.2 (CIFAR-10)." in page
    assert "| MACs (one image, 32x32x3) |" in page and "not published" in page
    assert ("python3 scripts/fit.py --model resnet56_cifar --dataset cifar10_subset "
            "--data-dir ../shared/data/cifar10-subset\n") in page


def test_weight_sets_show_every_key_and_measured_rows(sources):
    """A key model_info gains (eval transform, top-5, ...) appears without a change to the
    generator, and a row of docs/pretrained_results.csv shows under its set."""
    info = sources.info["resnet50"]
    saved = (json.dumps(info["weights"]), list(sources.pretrained))
    try:
        info["weights"]["imagenet"]["top5"] = 92.16
        info["weights"]["imagenet"]["eval_transform"] = {"resize": 256, "crop": 224}
        sources.pretrained[:] = [{"model": "resnet50", "tag": "imagenet", "top1": "74.88",
                                  "images": "50000"},
                                 {"model": "vgg16", "tag": "imagenet", "top1": "1"}]
        page = docs.model_page("resnet50", sources)
    finally:
        info["weights"] = json.loads(saved[0])
        sources.pretrained[:] = saved[1]
    assert "| `top5` | 92.16 |" in page
    assert "| `eval_transform` | resize=256, crop=224 |" in page
    assert "Measured (`docs/pretrained_results.csv`):" in page
    assert "| model | tag | top1 | images |" in page
    assert "| resnet50 | imagenet | 74.88 | 50000 |" in page and "| vgg16 |" not in page


def test_family_pages_group_variants_and_explain_open_ended_names(generated):
    resnet = generated["docs/families/resnet.md"]
    assert "| [`resnet50`](../models/resnet50.md) | 25,583,592 | 25,583,592 | 3.86 | " \
           "224x224x3 | 483 | `imagenet` | 0.975 (SIGNS 64px) |" in resnet
    for family, pattern in [("resnet_cifar", "resnet{6n+2}_cifar[_b]"),
                            ("preact_resnet_cifar", "preact_resnet{6n+2}_cifar"),
                            ("wide_resnet_cifar", "wrn{d}_{k}_cifar"),
                            ("densenet", "densenet[_bc]{L}[_k{k}]_cifar")]:
        assert f"## Names: `{pattern}`" in generated[f"docs/families/{family}.md"], family
    assert "`resnet26_cifar` is as valid, `resnet21_cifar` is refused" in \
        generated["docs/families/resnet_cifar.md"]


def test_the_patterns_the_pages_explain_are_the_registrys():
    """What the family pages say of the open-ended names holds (registry records only,
    nothing built)."""
    from kerascnn.api import get_spec

    assert get_spec("resnet26_cifar").family == "resnet_cifar"
    with pytest.raises(ValueError, match="resnet21_cifar"):
        get_spec("resnet21_cifar")
    assert get_spec("wrn22_2_cifar").family == "wide_resnet_cifar"
    assert "k=12" in get_spec("densenet_bc130_cifar").convention


def test_check_names_the_stale_files(tmp_path, capsys):
    assert docs.main(["--check"]) == 0
    with pytest.raises(SystemExit) as exit_info:
        docs.main([])
    assert exit_info.value.code == 2
    assert "one of the arguments --update --check --notebooks is required" in \
        capsys.readouterr().err


def test_every_notebook_is_rendered_executed():
    """docs/notebooks/ holds each notebook's every code cell, run (outputs present):
    ``python3 -m kerascnn.utils.docs --notebooks`` after changing a notebook."""
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        page = (ROOT / "docs" / "notebooks" / f"{path.stem}.md").read_text(encoding="utf-8")
        assert page.startswith(f"<!-- Rendered from notebooks/{path.stem}.ipynb, executed"), \
            path.name
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code" and cell.source.strip():
                assert cell.source.strip() in page, (
                    f"{path.name} changed since it was rendered: python3 -m "
                    f"kerascnn.utils.docs --notebooks")
        outside_code = page.split("```")[::2]  # the text between fenced code blocks
        outputs = [line for part in outside_code for line in part.splitlines()
                   if line.startswith("    ") or line.startswith(("![", "<pre", "<div"))]
        assert outputs, f"{path.name}: rendered without outputs (not executed)"
