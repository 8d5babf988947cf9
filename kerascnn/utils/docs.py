"""The documentation site's model pages, generated from the registry.

One command writes a page per registered model (``docs/models/<name>.md``), a page per
family with its variants in one table (``docs/families/<family>.md``), the families' index
and the site navigation's model section (between ``# models-nav:start`` and
``# models-nav:end`` in ``mkdocs.yml``)::

    python3 -m kerascnn.utils.docs --update     # rewrite the pages (seconds: nothing is built)
    python3 -m kerascnn.utils.docs --check      # exit 1 and name the stale files
    python3 -m kerascnn.utils.docs --notebooks  # execute notebooks/ and render them (slow)

Nothing is built: a page reads ``kerascnn.model_info(name)`` (paper, convention, reference
counts, feature taps, weight sets, recipe), the model table's cache
(:func:`kerascnn.utils.table.models_table`: params, MACs, receptive field), the diagram
gallery's rows (``docs/architectures/gallery.json``), the learning benchmark's results
(``docs/learning_results.csv``) and, where it exists, ``docs/pretrained_results.csv``
(measured accuracy of weight sets: any columns, rows matched by ``model``). Weight sets are
rendered from every key ``model_info`` gives, so a new key shows up without a change here.
``tests/test_docs_pages.py`` checks that the committed pages are current.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import sys

__all__ = ["PAPERS", "PAPER_MACS", "generate", "update", "stale_files", "model_page",
           "family_page", "render_notebooks"]

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCS = os.path.join(ROOT, "docs")
NAV_START, NAV_END = "# models-nav:start", "# models-nav:end"

# The papers' full citations: title -> (authors, venue, link, what the network follows when
# the variant's own summary does not name a table or figure).
PAPERS = {
    "Gradient-Based Learning Applied to Document Recognition": (
        "Y. LeCun, L. Bottou, Y. Bengio, P. Haffner", "Proceedings of the IEEE 86(11), 1998",
        "http://yann.lecun.com/exdb/publis/pdf/lecun-98.pdf", "Figure 2"),
    "ImageNet Classification with Deep Convolutional Neural Networks": (
        "A. Krizhevsky, I. Sutskever, G. E. Hinton", "NeurIPS 2012",
        "https://papers.nips.cc/paper/2012/hash/c399862d3b9d6b76c8436e924a68c45b-Abstract.html",
        "Figure 2 and Section 3"),
    "One weird trick for parallelizing convolutional neural networks": (
        "A. Krizhevsky", "arXiv:1404.5997, 2014", "https://arxiv.org/abs/1404.5997",
        "the single-tower network, as torchvision builds it"),
    "Visualizing and Understanding Convolutional Networks": (
        "M. D. Zeiler, R. Fergus", "ECCV 2014", "https://arxiv.org/abs/1311.2901", "Figure 3"),
    "Network In Network": (
        "M. Lin, Q. Chen, S. Yan", "ICLR 2014", "https://arxiv.org/abs/1312.4400",
        "Figure 2"),
    "Very Deep Convolutional Networks for Large-Scale Image Recognition": (
        "K. Simonyan, A. Zisserman", "ICLR 2015", "https://arxiv.org/abs/1409.1556",
        "Table 1 (configurations A-E)"),
    "Going Deeper with Convolutions": (
        "C. Szegedy, W. Liu, Y. Jia, P. Sermanet, S. Reed, D. Anguelov, D. Erhan, "
        "V. Vanhoucke, A. Rabinovich", "CVPR 2015", "https://arxiv.org/abs/1409.4842",
        "Table 1"),
    "Batch Normalization: Accelerating Deep Network Training by Reducing Internal Covariate "
    "Shift": (
        "S. Ioffe, C. Szegedy", "ICML 2015", "https://arxiv.org/abs/1502.03167",
        "Figure 5 (the appendix's Inception table)"),
    "Rethinking the Inception Architecture for Computer Vision": (
        "C. Szegedy, V. Vanhoucke, S. Ioffe, J. Shlens, Z. Wojna", "CVPR 2016",
        "https://arxiv.org/abs/1512.00567", "Table 1"),
    "Inception-v4, Inception-ResNet and the Impact of Residual Connections on Learning": (
        "C. Szegedy, S. Ioffe, V. Vanhoucke, A. A. Alemi", "AAAI 2017",
        "https://arxiv.org/abs/1602.07261", "Figures 3-18"),
    "Xception: Deep Learning with Depthwise Separable Convolutions": (
        "F. Chollet", "CVPR 2017", "https://arxiv.org/abs/1610.02357", "Figure 5"),
    "Deep Residual Learning for Image Recognition": (
        "K. He, X. Zhang, S. Ren, J. Sun", "CVPR 2016", "https://arxiv.org/abs/1512.03385",
        "Table 1 (ImageNet); Section 4.2 (CIFAR-10)"),
    "Identity Mappings in Deep Residual Networks": (
        "K. He, X. Zhang, S. Ren, J. Sun", "ECCV 2016", "https://arxiv.org/abs/1603.05027",
        "Figure 4(e) (full pre-activation units)"),
    "Wide Residual Networks": (
        "S. Zagoruyko, N. Komodakis", "BMVC 2016", "https://arxiv.org/abs/1605.07146",
        "Table 1"),
    "Aggregated Residual Transformations for Deep Neural Networks": (
        "S. Xie, R. Girshick, P. Dollár, Z. Tu, K. He", "CVPR 2017",
        "https://arxiv.org/abs/1611.05431", "Table 1 (ImageNet); Section 5.3 (CIFAR)"),
    "Densely Connected Convolutional Networks": (
        "G. Huang, Z. Liu, L. van der Maaten, K. Q. Weinberger", "CVPR 2017",
        "https://arxiv.org/abs/1608.06993", "Table 1 (ImageNet); Table 2 (CIFAR)"),
    "Squeeze-and-Excitation Networks": (
        "J. Hu, L. Shen, G. Sun", "CVPR 2018", "https://arxiv.org/abs/1709.01507", "Table 1"),
    "SqueezeNet: AlexNet-level accuracy with 50x fewer parameters and <0.5MB model size": (
        "F. N. Iandola, S. Han, M. W. Moskewicz, K. Ashraf, W. J. Dally, K. Keutzer",
        "arXiv:1602.07360, 2016", "https://arxiv.org/abs/1602.07360", "Table 1"),
    "MobileNets: Efficient Convolutional Neural Networks for Mobile Vision Applications": (
        "A. G. Howard, M. Zhu, B. Chen, D. Kalenichenko, W. Wang, T. Weyand, M. Andreetto, "
        "H. Adam", "arXiv:1704.04861, 2017", "https://arxiv.org/abs/1704.04861", "Table 1"),
    "ShuffleNet: An Extremely Efficient Convolutional Neural Network for Mobile Devices": (
        "X. Zhang, X. Zhou, M. Lin, J. Sun", "CVPR 2018", "https://arxiv.org/abs/1707.01083",
        "Table 1"),
}

# Multiply-accumulates the papers publish (their "FLOPs"), with where: name -> (MACs, where).
PAPER_MACS = {
    "resnet18": (1.8e9, "He et al., Table 1"),
    "resnet34": (3.6e9, "He et al., Table 1"),
    "resnet50": (3.8e9, "He et al., Table 1"),
    "resnet101": (7.6e9, "He et al., Table 1"),
    "resnet152": (11.3e9, "He et al., Table 1"),
    "resnet50_tv": (3.8e9, "He et al., Table 1 (v1; torchvision's v1.5 strides the 3x3)"),
    "resnet101_tv": (7.6e9, "He et al., Table 1 (v1; torchvision's v1.5 strides the 3x3)"),
    "resnet152_tv": (11.3e9, "He et al., Table 1 (v1; torchvision's v1.5 strides the 3x3)"),
    "resnext50_32x4d": (4.2e9, "Xie et al., Table 1"),
    "se_resnet50": (3.87e9, "Hu et al., Table 2"),
    "se_resnet101": (7.60e9, "Hu et al., Table 2"),
    "se_resnet152": (11.32e9, "Hu et al., Table 2"),
    "se_resnext50_32x4d": (4.25e9, "Hu et al., Table 2"),
    "googlenet": (1.5e9, "Szegedy et al., Section 1 (a budget of 1.5 billion multiply-adds)"),
    "mobilenet": (569e6, "Howard et al., Table 8"),
    "shufflenet_g1": (143e6, "Zhang et al., Table 1"),
    "shufflenet_g2": (140e6, "Zhang et al., Table 1"),
    "shufflenet_g3": (137e6, "Zhang et al., Table 1"),
    "shufflenet_g4": (133e6, "Zhang et al., Table 1"),
    "shufflenet_g8": (137e6, "Zhang et al., Table 1"),
}

# The open-ended families: the name pattern, what it means, and which names are valid.
PATTERNS = {
    "resnet_cifar": (
        "resnet{6n+2}_cifar[_b]",
        "Any depth 6n+2 (n >= 1) names the CIFAR ResNet of He et al., Section 4.2: a 3x3 "
        "stem of 16 filters, three stages of n basic blocks with 16, 32 and 64 filters, "
        "global average pooling and the classifier. `_b` takes option B (projection) "
        "shortcuts instead of option A (zero-padded identity). `resnet20_cifar` (n=3), "
        "`resnet56_cifar` (n=9), `resnet110_cifar` (n=18) and `resnet1202_cifar` (n=200) are "
        "the paper's rows; `resnet26_cifar` is as valid, `resnet21_cifar` is refused."),
    "preact_resnet_cifar": (
        "preact_resnet{6n+2}_cifar",
        "Any depth 6n+2 names the pre-activation CIFAR ResNet of He et al. (Identity Mappings): "
        "the same three stages of n basic blocks as `resnet{6n+2}_cifar`, each unit BN-ReLU-"
        "conv, with option B shortcuts. The 164- and 1001-layer bottleneck networks are fixed "
        "names."),
    "wide_resnet_cifar": (
        "wrn{d}_{k}_cifar",
        "WRN-d-k of Zagoruyko and Komodakis: depth d = 6n+4 (n basic pre-activation blocks per "
        "stage) and widening factor k (stage widths 16k, 32k, 64k). `wrn28_10_cifar` is "
        "WRN-28-10; `wrn16_8_cifar` and `wrn40_4_cifar` are other rows of the paper's tables; "
        "any d = 6n+4 and k >= 1 is valid."),
    "densenet": (
        "densenet[_bc]{L}[_k{k}]_cifar",
        "The CIFAR DenseNets of Huang et al., Table 2: depth L with three dense blocks of "
        "(L-4)/3 layers (DenseNet) or (L-4)/6 bottleneck layers (DenseNet-BC, `_bc`, with "
        "compression 0.5), growth rate k. Without `_k` a depth takes the paper's growth rate "
        "(L=40: 12, L=100: 12, BC L=190: 40, BC L=250: 24; other depths 12): "
        "`densenet40_cifar`, `densenet100_k24_cifar`, `densenet_bc100_cifar` are the paper's "
        "rows."),
}

FAMILY_TITLES = {
    "alexnet": "AlexNet and ZFNet", "densenet": "DenseNet", "inception": "Inception",
    "lenet": "LeNet", "mobilenet": "MobileNet", "nin": "Network in Network",
    "preact_resnet_cifar": "Pre-activation ResNet (CIFAR)", "resnet": "ResNet",
    "resnet_cifar": "ResNet (CIFAR)", "resnet_v2": "ResNet v2", "resnext": "ResNeXt",
    "resnext_cifar": "ResNeXt (CIFAR)", "senet": "SENet", "shufflenet": "ShuffleNet",
    "squeezenet": "SqueezeNet", "vgg": "VGG", "wide_resnet": "Wide ResNet",
    "wide_resnet_cifar": "Wide ResNet (CIFAR)",
}

DATA_DIRS = {"signs": "../shared/data/signs/64x64_SIGNS", "mnist": "../shared/data/mnist",
             "cifar10_subset": "../shared/data/cifar10-subset"}
GENERATED = ("<!-- Generated by `python3 -m kerascnn.utils.docs --update` from the registry; "
             "do not edit by hand. -->\n")


def _natural(name: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def _int(value) -> str:
    return "" if value is None else f"{int(value):,}"


def _shape(shape) -> str:
    return "x".join(str(d) for d in shape)


def _macs(value) -> str:
    return f"{value / 1e9:.3f} G" if value >= 1e8 else f"{value / 1e6:.1f} M"


def _cell(value) -> str:
    if isinstance(value, float):
        text = f"{value:g}"
    elif isinstance(value, (list, tuple)):
        text = ", ".join(_cell(v) for v in value)
    elif isinstance(value, dict):
        text = ", ".join(f"{k}={_cell(v)}" for k, v in value.items()) or "{}"
    elif value is None:
        text = "—"
    else:
        text = str(value)
    if isinstance(value, str) and value.startswith(("https://", "http://")):
        return f"<{value}>"
    return text.replace("|", "\\|").replace("\n", " ")


def _data_name(row: dict) -> str:
    from kerascnn.utils.plotting import DATA_NAMES

    size = f" {row['image_size']}px" if row.get("image_size") else ""
    return DATA_NAMES.get(row["data"], row["data"]) + size


def _read_csv(path) -> list[dict]:
    if not os.path.exists(path):
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


class _Sources:
    """What the pages are generated from, read once."""

    def __init__(self, docs: str = DOCS):
        import kerascnn
        from kerascnn.api import get_spec
        from kerascnn.utils.table import models_table

        # only the package's own models (tests register throw-away ones)
        self.names = [n for n in kerascnn.list_models()
                      if get_spec(n).entrypoint.__module__.startswith("kerascnn.")]
        self.info = {n: kerascnn.model_info(n) for n in self.names}
        self.specs = {n: get_spec(n) for n in self.names}
        self.table = {r["name"]: r for r in models_table()}
        gallery = os.path.join(docs, "architectures", "gallery.json")
        with open(gallery, encoding="utf-8") as f:
            self.gallery = {r["name"]: r for r in json.load(f)}
        self.learning = _read_csv(os.path.join(docs, "learning_results.csv"))
        self.pretrained = _read_csv(os.path.join(docs, "pretrained_results.csv"))
        self.families = {}
        for n in self.names:
            self.families.setdefault(self.info[n]["family"], []).append(n)
        for members in self.families.values():
            members.sort(key=_natural)


def _citation(paper: dict) -> str:
    authors, venue, url, _ = PAPERS.get(paper["title"], ("", "", "", ""))
    text = f"*{paper['title']}*"
    if url:
        text = f"[{text}]({url})"
    return ", ".join(p for p in (authors, text, venue or str(paper["year"])) if p)


def _follows(name: str, info: dict, summary: str) -> str:
    if re.search(r"\b(table|figure|figures|section)\b", summary, re.IGNORECASE):
        return summary
    default = PAPERS.get(info["paper"]["title"], ("", "", "", ""))[3]
    parts = default.split("; ")
    if len(parts) > 1:  # "Table 1 (ImageNet); Section 4.2 (CIFAR-10)": the one that applies
        cifar = "cifar" in name
        default = next((p for p in parts if ("CIFAR" in p) == cifar), default)
    return f"{summary} ({default})" if summary and default else summary or default


def _example_command(name: str, info: dict, learned: list[dict]) -> str:
    if learned:
        row = learned[0]
        data, size = row["data"], row["image_size"]
    elif info["default_input_shape"][-1] == 1:
        data, size = "mnist", str(info["default_input_shape"][0])
    elif info["default_input_shape"][0] <= 32:
        data, size = "cifar10_subset", ""
    else:
        data, size = "signs", str(max(64, info["min_input_size"]))
    if data not in DATA_DIRS:
        data, size = "signs", "64"
    line = f"python3 scripts/fit.py --model {name} --dataset {data} --data-dir {DATA_DIRS[data]}"
    if size:
        line += f" --image-size {size}"
    return line


def model_page(name: str, src: _Sources) -> str:
    info, spec = src.info[name], src.specs[name]
    row, gal = src.table.get(name, {}), src.gallery.get(name, {})
    family = info["family"]
    out = [GENERATED, f"# `{name}`\n"]
    summary = spec.summary or ""
    out.append(f"{summary[:1].upper() + summary[1:] + '. ' if summary else ''}"
               f"Family: [{FAMILY_TITLES.get(family, family)}](../families/{family}.md).\n")

    out.append("## Paper\n")
    out.append(f"{_citation(info['paper'])}.\n")
    follows = _follows(name, info, summary)
    if follows:
        out.append(f"The network follows: {follows}.\n")
    if info["convention"]:
        out.append(f"Where the code chooses (`convention`): {info['convention']}.\n")
    if info["keras_twin"]:
        out.append(f"Identical to `keras.applications.{info['keras_twin']}` "
                   "(the tests transfer the weights and compare outputs).\n")

    out.append("## Size and cost\n")
    out.append("| | kerascnn | Reference | Difference |\n| --- | ---: | ---: | ---: |")
    params = gal.get("params")
    ref = info["reference_params"]
    diff = "" if params is None or ref is None else f"{params - ref:+,}"
    out.append(f"| Trainable parameters | {_int(params)} | {_int(ref)} | {diff} |")
    macs = row.get("macs")
    paper_macs = PAPER_MACS.get(name)
    if macs is not None:
        if paper_macs:
            d = round((macs - paper_macs[0]) / paper_macs[0], 3) + 0.0  # no "-0.0%"
            out.append(f"| MACs (one image, {_shape(row['input_size'])}) | {_macs(macs)} | "
                       f"{_macs(paper_macs[0])} | {d:+.1%} |")
        else:
            out.append(f"| MACs (one image, {_shape(row['input_size'])}) | {_macs(macs)} | "
                       "not published | |")
    out.append("")
    notes = []
    if info["reference_source"]:
        notes.append(f"Reference parameters: {info['reference_source']}"
                     + (f" (keras `count_params()`: {_int(info['reference_keras_params'])})"
                        if info["reference_keras_params"] else "") + ".")
    if paper_macs:
        notes.append(f"Reference MACs: {paper_macs[1]}.")
    notes.append("MACs are multiply-accumulates (the papers' \"FLOPs\"; arithmetic FLOPs are "
                 "twice as many), counted by `kerascnn.utils.count_macs`.")
    out.append(" ".join(notes) + "\n")

    out.append("## Inputs and receptive field\n")
    out.append(f"- Default input: {_shape(info['default_input_shape'])}; smallest height and "
               f"width accepted: {info['min_input_size']}.")
    if row:
        out.append(f"- Receptive field of the last spatial layer (`{row['last_spatial_layer']}`): "
                   f"{row['receptive_field']} pixels at stride {row['stride']}.")
    if gal:
        out.append(f"- {gal.get('layers', 0):,} layers, {gal.get('blocks', 0)} blocks.")
    out.append("")

    out.append("## Feature taps\n")
    out.append(f"`kerascnn.create_model(\"{name}\", features_only=True)` returns these outputs "
               "(`model_info(name)[\"feature_info\"]`):\n")
    out.append("| Index | Layer | Channels | Stride |\n| ---: | --- | ---: | ---: |")
    for tap in info["feature_info"]:
        out.append(f"| {tap['index']} | `{tap['layer']}` | {tap['channels']} | {tap['stride']} |")
    out.append("")

    out.append("## Diagrams\n")
    if gal.get("blocks_diagram"):
        out.append(f"![Block diagram of {name}](../architectures/{gal['blocks_diagram']})\n")
    if gal.get("diagram"):
        out.append(f"The layer-level diagram (`keras.utils.plot_model`, {gal['layers']:,} "
                   f"layers): [{gal['diagram']}](../architectures/{gal['diagram']}).\n")
    elif gal:
        out.append(f"No layer-level diagram: {gal.get('layers', 0):,} layers are too many to "
                   "draw usefully (`scripts/plot_models.py --max-layers 0` draws it).\n")

    out.append("## Weight sets\n")
    if info["weights"]:
        out.append(f"`kerascnn.create_model(\"{name}\", weights=TAG)` loads one "
                   "(downloaded once into the Keras cache); every field `model_info` gives:\n")
        for tag, ws in info["weights"].items():
            out.append(f"### `{tag}`\n")
            out.append("| Field | Value |\n| --- | --- |")
            for key, value in ws.items():
                out.append(f"| `{key}` | {_cell(value)} |")
            out.append("")
            measured = [r for r in src.pretrained
                        if r.get("model") == name and r.get("tag", tag) == tag]
            if measured:
                out.append("Measured (`docs/pretrained_results.csv`):\n")
                out.append(_rows_table(measured))
    else:
        out.append("None published: the model trains from scratch "
                   "(`--weights PATH` takes a compatible `.keras` file).\n")

    out.append("## Training\n")
    recipe = info["recipe"]
    if recipe:
        out.append(f"Default recipe (fit.py without `--recipe`): {recipe.get('description', '')}"
                   f"{'; `--recipe paper` is `' + info['paper_recipe'] + '`' if info['paper_recipe'] else ''}.\n")
        out.append("| Setting | Value |\n| --- | --- |")
        for key, value in recipe.items():
            if key != "description":
                out.append(f"| `{key}` | {_cell(value)} |")
        out.append("")
    else:
        out.append("The family has no default recipe.\n")
    learned = [r for r in src.learning if r["model"] == name]
    if learned:
        out.append("Measured by `scripts/bench_learning.py` on two CPU cores "
                   "(`docs/learning_results.csv`; load: the machine's one-minute load average):\n")
        out.append("| Row | Data | Flags | Epochs | Batch | Time | Load | Test acc. | Majority |")
        out.append("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for r in learned:
            data = _data_name(r)
            acc = f"{float(r['test_accuracy']):.3f}" if r.get("test_accuracy") else "not finished"
            minutes = f"{float(r['wall_seconds']) / 60:.1f} min" if r.get("wall_seconds") else ""
            flags = f"`{r['flags']}`" if r.get("flags") else ""
            out.append(f"| {r['row']} | {data} | {flags} | {r['epochs']} | {r['batch_size']} | "
                       f"{minutes} | {r.get('load', '')} | {acc} | "
                       f"{float(r['majority_baseline']):.3f} |")
        out.append("")
    else:
        fam_rows = [r for r in src.learning if r["family"] == family and not r.get("flags")]
        if fam_rows:
            out.append(f"Not measured; the family's measured member is "
                       f"[`{fam_rows[0]['model']}`]({fam_rows[0]['model']}.md).\n")
        else:
            out.append("Not measured yet (`scripts/bench_learning.py --only "
                       f"{family} --out FILE` measures the family's smallest member).\n")

    out.append("## Example\n")
    shape = info["default_input_shape"]
    out.append("```python")
    out.append("import kerascnn\n")
    out.append(f"model = kerascnn.create_model(\"{name}\", classes=10)  # input {_shape(shape)}")
    if info["weights"]:
        tag = next(iter(info["weights"]))
        out.append(f"pretrained = kerascnn.create_model(\"{name}\", weights=\"{tag}\")")
    out.append(f"backbone = kerascnn.create_model(\"{name}\", features_only=True)")
    out.append("```\n")
    out.append("```bash")
    out.append(_example_command(name, info, learned))
    out.append("```\n")
    return "\n".join(out)


def _rows_table(rows: list[dict]) -> str:
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "| " + " | ".join("---" for _ in keys) + " |"]
    for r in rows:
        lines.append("| " + " | ".join(_cell(r.get(k, "")) for k in keys) + " |")
    return "\n".join(lines) + "\n"


def family_page(family: str, src: _Sources) -> str:
    names = src.families[family]
    title = FAMILY_TITLES.get(family, family)
    out = [GENERATED, f"# {title}\n"]
    papers = []
    for n in names:
        if src.info[n]["paper"] not in papers:
            papers.append(src.info[n]["paper"])
    out.append("Papers: " + "; ".join(_citation(p) + "." for p in papers) + "\n")
    if family in PATTERNS:
        pattern, text = PATTERNS[family]
        out.append(f"## Names: `{pattern}`\n")
        out.append(f"{text} The table lists the registered examples; "
                   f"`kerascnn.create_model(NAME)` builds any valid name.\n")
    out.append("## Variants\n")
    out.append("| Model | Params | Reference | GMACs | Input | RF | Weights | Learns |")
    out.append("| --- | ---: | ---: | ---: | --- | ---: | --- | --- |")
    for n in names:
        info, gal, row = src.info[n], src.gallery.get(n, {}), src.table.get(n, {})
        weights = ", ".join(f"`{t}`" for t in info["weights"]) or ""
        learned = [r for r in src.learning if r["model"] == n and not r.get("flags")
                   and r.get("test_accuracy")]
        learns = (f"{float(learned[0]['test_accuracy']):.3f} ({_data_name(learned[0])})"
                  if learned else "")
        gmacs = f"{row['macs'] / 1e9:.2f}" if row else ""
        out.append(f"| [`{n}`](../models/{n}.md) | {_int(gal.get('params'))} | "
                   f"{_int(info['reference_params'])} | {gmacs} | "
                   f"{_shape(info['default_input_shape'])} | {row.get('receptive_field', '')} | "
                   f"{weights} | {learns} |")
    out.append("")
    out.append("Params: trainable parameters of the default build; Reference: the reference "
               "table's count; GMACs: multiply-accumulates of one image at the default input, "
               "in billions; RF: receptive field of the last spatial layer in pixels; Learns: "
               "the test accuracy fit.py's defaults reached (`docs/learning_results.csv`).\n")
    return "\n".join(out)


def families_index(src: _Sources) -> str:
    out = [GENERATED, "# Families\n",
           "Each family page lists its variants in one table; each model has its own page.\n",
           "| Family | Models | Papers |", "| --- | ---: | --- |"]
    for family in sorted(src.families):
        names = src.families[family]
        titles = []
        for n in names:
            t = src.info[n]["paper"]["title"]
            if t not in titles:
                titles.append(t)
        out.append(f"| [{FAMILY_TITLES.get(family, family)}]({family}.md) | {len(names)} | "
                   f"{'; '.join(titles)} |")
    return "\n".join(out) + "\n"


def nav_block(src: _Sources) -> str:
    lines = [NAV_START, "  - Models:", "      - Overview: models/index.md",
             "      - Which model for a small data set: guides/choosing.md",
             "      - Weight sets: models/weights.md",
             "      - Diagram gallery: architectures.md",
             "      - Families: families/index.md"]
    for family in sorted(src.families):
        lines.append(f"      - {FAMILY_TITLES.get(family, family)}:")
        lines.append(f"          - Overview: families/{family}.md")
        for n in src.families[family]:
            lines.append(f"          - {n}: models/{n}.md")
    lines.append(NAV_END)
    return "\n".join(lines)


def generate(root: str = ROOT) -> dict[str, str]:
    """``{path relative to root: text}`` of every generated file (nothing is written)."""
    src = _Sources(os.path.join(root, "docs"))
    files = {f"docs/models/{n}.md": model_page(n, src) for n in src.names}
    files.update({f"docs/families/{f}.md": family_page(f, src) for f in src.families})
    files["docs/families/index.md"] = families_index(src)
    with open(os.path.join(root, "mkdocs.yml"), encoding="utf-8") as f:
        config = f.read()
    i, j = config.find(NAV_START), config.find(NAV_END)
    if i < 0 or j < i:
        raise ValueError(f"mkdocs.yml has no {NAV_START} ... {NAV_END} markers.")
    files["mkdocs.yml"] = config[:i] + nav_block(src) + config[j + len(NAV_END):]
    return files


def _orphans(root: str, files: dict) -> list[str]:
    """Generated pages of models or families no longer registered."""
    found = []
    for folder in ("docs/models", "docs/families"):
        path = os.path.join(root, folder)
        for entry in sorted(os.listdir(path)) if os.path.isdir(path) else []:
            rel = f"{folder}/{entry}"
            if entry.endswith(".md") and rel not in files:
                with open(os.path.join(path, entry), encoding="utf-8") as f:
                    if f.read().startswith(GENERATED):
                        found.append(rel)
    return found


def stale_files(root: str = ROOT) -> list[str]:
    """The generated files that differ from a fresh generation (or are missing / orphaned)."""
    files = generate(root)
    stale = []
    for rel, text in files.items():
        path = os.path.join(root, rel)
        if not os.path.exists(path):
            stale.append(rel)
            continue
        with open(path, encoding="utf-8") as f:
            if f.read() != text:
                stale.append(rel)
    return stale + _orphans(root, files)


def update(root: str = ROOT) -> list[str]:
    """Writes every generated file that changed (atomically) and removes orphaned pages;
    returns the paths written or removed."""
    from kerascnn.utils.io import atomic_write

    files = generate(root)
    changed = []
    for rel, text in files.items():
        path = os.path.join(root, rel)
        old = None
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                old = f.read()
        if old != text:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            atomic_write(path, text)
            changed.append(rel)
    for rel in _orphans(root, files):
        os.remove(os.path.join(root, rel))
        changed.append(rel)
    return changed


_LOG_NOISE = re.compile(r"^(WARNING: All log messages before absl|[IWE]\d{4} \d\d:\d\d:\d\d|"
                        r"To enable the following instructions|WARNING: All log messages)")


def _drop_log_noise(nb) -> None:
    """Removes TensorFlow's C++ start-up log lines (stderr) from the outputs."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                lines = [line for line in output["text"].splitlines(keepends=True)
                         if not _LOG_NOISE.match(line)]
                if not "".join(lines).strip():
                    continue
                output["text"] = "".join(lines)
            kept.append(output)
        cell["outputs"] = kept


def _diagrams_by_content(root: str) -> dict:
    folder = os.path.join(root, "docs", "architectures")
    found = {}
    for entry in sorted(os.listdir(folder)):
        if entry.endswith(".svg"):
            with open(os.path.join(folder, entry), "rb") as f:
                found.setdefault(f.read(), entry)
    return found


def render_notebooks(root: str = ROOT, execute: bool = True, timeout: int = 3600,
                     executed_dir: str | None = None) -> list[str]:
    """Executes every notebook of ``notebooks/`` (or reads the executed copies in
    ``executed_dir``, skipping those it lacks) and writes each as Markdown with its figures
    under ``docs/notebooks/``; returns the pages written."""
    import glob

    import nbformat
    from nbconvert import MarkdownExporter

    from kerascnn.utils.io import atomic_write

    out_dir = os.path.join(root, "docs", "notebooks")
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for path in sorted(glob.glob(os.path.join(root, "notebooks", "*.ipynb"))):
        stem = os.path.splitext(os.path.basename(path))[0]
        if executed_dir:
            executed = os.path.join(executed_dir, f"{stem}.ipynb")
            if not os.path.exists(executed):
                print(f"skipped {stem}: no {executed}", file=sys.stderr)
                continue
            nb = nbformat.read(executed, as_version=4)
        else:
            nb = nbformat.read(path, as_version=4)
            if execute:
                from nbclient import NotebookClient

                NotebookClient(nb, timeout=timeout, resources={
                    "metadata": {"path": os.path.dirname(path)}}).execute()
        _drop_log_noise(nb)
        body, resources = MarkdownExporter().from_notebook_node(
            nb, resources={"output_files_dir": f"{stem}_files"})
        diagrams = _diagrams_by_content(root)
        for name, data in resources.get("outputs", {}).items():
            same = diagrams.get(data) if name.endswith(".svg") else None
            if same:  # a diagram the site has already: link it rather than ship it twice
                body = body.replace(f"]({name})", f"](../architectures/{same})")
                continue
            target = os.path.join(out_dir, name)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as f:
                f.write(data)
        header = (f"<!-- Rendered from notebooks/{stem}.ipynb, executed, by "
                  "`python3 -m kerascnn.utils.docs --notebooks`. -->\n\n")
        page = os.path.join(out_dir, f"{stem}.md")
        atomic_write(page, header + body)
        written.append(os.path.relpath(page, root))
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m kerascnn.utils.docs",
        description="Generate the documentation site's model and family pages from the "
                    "registry.")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--update", action="store_true",
                       help="rewrite docs/models/, docs/families/ and mkdocs.yml's model nav")
    group.add_argument("--check", action="store_true",
                       help="exit 1 naming the generated files that are stale")
    group.add_argument("--notebooks", action="store_true",
                       help="execute notebooks/*.ipynb and render them into docs/notebooks/ "
                            "(slow: they train)")
    parser.add_argument("--executed-dir", default=None,
                        help="with --notebooks: render the executed copies in this folder "
                             "instead of executing")
    args = parser.parse_args(argv)
    if args.update:
        changed = update()
        print(f"{len(changed)} generated file(s) changed" +
              "".join(f"\n  {p}" for p in changed))
        return 0
    if args.check:
        stale = stale_files()
        for rel in stale:
            print(f"stale: {rel}", file=sys.stderr)
        if stale:
            print("run: python3 -m kerascnn.utils.docs --update", file=sys.stderr)
        return 1 if stale else 0
    for page in render_notebooks(executed_dir=args.executed_dir):
        print(f"wrote {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
