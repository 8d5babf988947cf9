"""The publisher's evaluation transform, exactly: ``preprocess_input(load_images(...))``
equals torchvision's ``Weights.transforms()``, timm's ``create_transform(
**resolve_data_config({}, model=m))``, pytorchcv's (imgclsmob's) evaluation and keras'
documented ``load_img(target_size=...)`` + ``preprocess_input`` on real photographs of odd
sizes and every format (JPEG, PNG with alpha, palette, grey, CMYK, BMP, GIF); and the
converted network gives its source's logits on that input (random weights).

The default run checks one or two sets of each publisher; the slow run every set.
"""

import csv
import math
import re

import numpy as np
import pytest

from tests._photos import make_cifar_photos, make_photos, truncated_copy

PIL = pytest.importorskip("PIL")


def _all_sets():
    from kerascnn.models import load_families
    from kerascnn.weights.core import _WEIGHT_SETS

    load_families()
    return sorted((name, tag) for name, sets in _WEIGHT_SETS.items() for tag in sets)


# One or two sets of each publisher in the default run: torchvision (V2's resize 232, and
# Inception v3's 342/299), timm (bicubic, crop 0.8975), pytorchcv (ImageNet, CIFAR-10) and
# keras (caffe's BGR, tf's [-1, 1] at 299).
DEFAULT = {("resnet50_tv", "imagenet"), ("inception_v3_tv", "imagenet"),
           ("inception_resnet_v2_timm", "imagenet"), ("alexnet_cv", "imagenet"),
           ("resnet20_cifar_b", "cifar10"), ("resnet50", "imagenet"), ("xception", "imagenet")}


@pytest.fixture(scope="module")
def photos(signs_dir, tmp_path_factory):
    return make_photos(signs_dir, tmp_path_factory.mktemp("photos"))


@pytest.fixture(scope="module")
def cifar_photos(shared_data, tmp_path_factory):
    return make_cifar_photos(shared_data, tmp_path_factory.mktemp("cifar"))


def _ws(name, tag):
    from kerascnn.weights.core import weight_sets

    return weight_sets(name)[tag]


def publisher(ws) -> str:
    if ws.source.startswith("keras:"):
        return "keras"
    if ws.source.startswith("pytorchcv:"):
        return "pytorchcv"
    if ws.source.startswith("torchvision:") or ".tv_in1k" in ws.url:
        return "torchvision"
    return "timm"


def _torchvision_weights(ws):
    tv = pytest.importorskip("torchvision.models")
    name = ws.source.split(":", 1)[1]
    found = [w for w in tv.get_model_weights(name)
             if w.url.rsplit("/", 1)[1] in ws.note + ws.url]
    assert len(found) == 1, (ws.source, ws.tag, found)
    return found[0]


def _timm_model(ws):
    timm = pytest.importorskip("timm")
    hub_id = ws.url.split("/")[4]  # https://huggingface.co/timm/{name}.{tag}/resolve/...
    return timm.create_model(hub_id, pretrained=False)


_KERAS_MODULES = {"ResNet50": "resnet", "ResNet101": "resnet", "ResNet152": "resnet",
                  "ResNet50V2": "resnet_v2", "ResNet101V2": "resnet_v2",
                  "ResNet152V2": "resnet_v2", "VGG16": "vgg16", "VGG19": "vgg19",
                  "Xception": "xception", "InceptionV3": "inception_v3",
                  "InceptionResNetV2": "inception_resnet_v2", "MobileNet": "mobilenet",
                  "DenseNet121": "densenet", "DenseNet169": "densenet",
                  "DenseNet201": "densenet"}


def _pytorchcv_row(name):
    import importlib.util
    import os

    spec = importlib.util.find_spec("pytorchcv")  # the file only: importing pytorchcv is slow
    if spec is None:
        pytest.skip("pytorchcv is not installed")
    path = os.path.join(spec.submodule_search_locations[0], "models", "common",
                        "model_metainfos.csv")
    with open(path, newline="") as f:
        return next(row for row in csv.DictReader(f) if row["model_name"] == name)


def reference_transform(ws):
    """The publisher's own transform: a function ``path -> (H, W, 3)`` float array."""
    kind = publisher(ws)
    if kind == "keras":
        import importlib

        import keras

        module = importlib.import_module(
            f"keras.applications.{_KERAS_MODULES[ws.source.split(':')[1]]}")

        def keras_transform(path):
            image = keras.utils.load_img(path, target_size=ws.crop_size)
            x = keras.utils.img_to_array(image, data_format="channels_last")
            return module.preprocess_input(x[None], data_format="channels_last")[0]
        return keras_transform
    torchvision = pytest.importorskip("torchvision")
    from torchvision.datasets.folder import pil_loader

    if kind == "torchvision":
        transform = _torchvision_weights(ws).transforms()
    elif kind == "timm":
        from timm.data import create_transform, resolve_data_config

        transform = create_transform(**resolve_data_config({}, model=_timm_model(ws)))
    else:  # imgclsmob's imagenet_val_transform / cifar10_val_transform
        T = torchvision.transforms
        name = ws.source.split(":", 1)[1]
        row = _pytorchcv_row(name)
        steps = []
        if row["test_dataset"] == "in1k":
            size = int(row["img_size"])
            steps = [T.Resize(int(math.ceil(size / float(row["img_scale"])))),
                     T.CenterCrop(size)]
            mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
        else:
            mean, std = (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)
        transform = T.Compose(steps + [T.ToTensor(), T.Normalize(mean, std)])

    def torch_transform(path):
        return transform(pil_loader(path)).numpy().transpose(1, 2, 0)
    return torch_transform


def ours(ws, paths):
    import kerascnn

    return kerascnn.applications.preprocess_input(kerascnn.load_images(paths, weights=ws),
                                                  weights=ws)


def _check_set(name, tag, photos, cifar_photos):
    ws = _ws(name, tag)
    files = cifar_photos if ws.classes == 10 else photos
    reference = reference_transform(ws)
    got = ours(ws, list(files.values()))
    assert got.shape == (len(files),) + ws.crop_size + (3,)
    for (kind, path), x in zip(files.items(), got):
        expected = reference(str(path))
        assert expected.shape == x.shape, (kind, expected.shape, x.shape)
        diff = float(np.abs(x - expected).max())
        assert diff <= 1e-3, f"{name}/{tag} on {kind}: max |diff| {diff:.3g}"


@pytest.mark.parametrize("name, tag", [
    pytest.param(name, tag, id=f"{name}-{tag}",
                 marks=() if (name, tag) in DEFAULT else pytest.mark.slow)
    for name, tag in _all_sets()])
def test_transform_equals_the_publishers(name, tag, photos, cifar_photos):
    _check_set(name, tag, photos, cifar_photos)


def test_every_set_is_checked_and_default_covers_every_publisher():
    sets = _all_sets()
    assert len(sets) == 71
    assert {publisher(_ws(*s)) for s in DEFAULT} == {"torchvision", "timm", "pytorchcv",
                                                     "keras"}


def test_weight_set_records_the_transform():
    import kerascnn

    info = kerascnn.model_info("resnet50_tv")["weights"]
    v2, v1 = info["imagenet"], info["imagenet_v1"]
    assert (v2["resize_size"], v2["crop_size"], v2["interpolation"]) == (232, (224, 224),
                                                                       "bilinear")
    assert v2["crop_pct"] == 224 / 232 and v1["resize_size"] == 256
    assert (v2["top1"], v2["top5"], v2["num_params"]) == (80.858, 95.434, 25557032)
    assert v2["recipe"] == "https://github.com/pytorch/vision/issues/3995#issuecomment-1013906621"
    assert v2["transform"] == ("RGB, resize shorter side to 232 (bilinear), centre crop "
                               "224x224, x/255, mean (0.485, 0.456, 0.406), std (0.229, "
                               "0.224, 0.225)")
    timm_set = kerascnn.model_info("inception_resnet_v2_timm")["weights"]["imagenet"]
    assert (timm_set["resize_size"], timm_set["interpolation"]) == (333, "bicubic")
    assert timm_set["top5"] is None and timm_set["num_params"] == 55843464
    keras_set = kerascnn.model_info("resnet50")["weights"]["imagenet"]
    assert (keras_set["resize_mode"], keras_set["interpolation"], keras_set["channel_order"],
            keras_set["top5"], keras_set["num_params"]) == ("squash", "nearest", "BGR", 92.1,
                                                            25636712)
    cv = kerascnn.model_info("shufflenet_g3")["weights"]["imagenet"]
    assert (cv["top1"], cv["top5"], cv["num_params"], cv["resize_size"]) == (
        65.61, 86.52, 1865728, 256)
    assert cv["recipe"].startswith("pytorchcv's training log https://github.com/osmr/")


def test_published_metadata_matches_the_installed_publishers():
    """torchvision's meta and timm's parameter counts, for the sets of the default run."""
    tv = _torchvision_weights(_ws("resnet50_tv", "imagenet"))
    ws = _ws("resnet50_tv", "imagenet")
    metrics = tv.meta["_metrics"]["ImageNet-1K"]
    assert (ws.top1, ws.top5, ws.num_params, ws.recipe, ws.resize_size) == (
        metrics["acc@1"], metrics["acc@5"], tv.meta["num_params"], tv.meta["recipe"],
        tv.transforms().resize_size[0])
    row = _pytorchcv_row("alexnet")
    assert _ws("alexnet_cv", "imagenet").num_params == int(row["net_weights"])


@pytest.mark.slow
@pytest.mark.parametrize("name, tag", _all_sets())
def test_published_metadata_of_every_set(name, tag):
    ws = _ws(name, tag)
    kind = publisher(ws)
    assert ws.license and ws.top1 is not None and ws.num_params
    if kind == "torchvision":
        tv = _torchvision_weights(ws)
        metrics = tv.meta["_metrics"]["ImageNet-1K"]
        assert (ws.top1, ws.top5, ws.num_params, ws.recipe) == (
            metrics["acc@1"], metrics["acc@5"], tv.meta["num_params"], tv.meta["recipe"])
    elif kind == "timm":
        m = _timm_model(ws)
        assert ws.num_params == sum(p.numel() for p in m.parameters())
        assert ws.license.lower() == m.pretrained_cfg["license"]
    elif kind == "pytorchcv":
        assert ws.num_params == int(_pytorchcv_row(ws.source.split(":", 1)[1])["net_weights"])


def test_formats_and_sizes_torchvision_resize_rounding(photos):
    """The longer side is truncated as torchvision's Resize computes it; the GIF's first
    frame counts; alpha is dropped, not blended."""
    from PIL import Image

    from kerascnn.weights.transform import load_image, open_rgb, resized_size

    assert resized_size(301, 257, 232) == (271, 232)
    assert resized_size(233, 350, 256) == (256, 384)
    gif = open_rgb(photos["gif"])
    with Image.open(photos["gif"]) as first:
        assert np.array_equal(np.asarray(gif), np.asarray(first.convert("RGB")))
    with Image.open(photos["rgba_png"]) as image:
        rgb = np.asarray(image)[..., :3]
    assert np.array_equal(np.asarray(open_rgb(photos["rgba_png"])), rgb)
    ws = _ws("resnet18", "imagenet")
    assert load_image(photos["square"], ws).shape == (224, 224, 3)


def test_unreadable_images_are_one_line_and_the_rest_go_on(photos, tmp_path):
    import kerascnn
    from kerascnn.weights.transform import ImageError

    bad = truncated_copy(photos["jpeg"], tmp_path / "cut.jpg")
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    truncated = rf"^cannot read {bad}: image file is truncated \(\d+ bytes not processed\) " \
                r"\(a damaged or truncated file\?\)$"
    with pytest.raises(ImageError, match=truncated):
        kerascnn.load_images([photos["jpeg"], bad], "resnet18")
    lines = []
    x = kerascnn.load_images([bad, photos["jpeg"], text, photos["png"]], "resnet18",
                             on_error=lines.append)
    assert x.shape == (2, 224, 224, 3)
    assert len(lines) == 2 and re.match(truncated, lines[0])
    assert lines[1] == f"cannot read {text}: not a JPEG, PNG, GIF, BMP, TIFF, WebP or PPM image"


# Converted logits on the transform's output: torchvision, timm and pytorchcv (keras'
# twins are keras.applications' own graphs, compared in tests/test_resnet.py and others).
def _logit_cases():
    tv = pytest.importorskip("torchvision.models")
    timm = pytest.importorskip("timm")
    cv = pytest.importorskip("pytorchcv.model_provider")
    from tests._torch import damp_residual_branches

    return {
        "resnet18": (lambda: tv.resnet18(), {}),
        "se_resnet50": (lambda: timm.create_model("legacy_seresnet50"), {
            "calibrate": True,
            "prepare": lambda m: damp_residual_branches(m, r"\.bn3\.(weight|bias)$")}),
        "nin_cifar_cv": (lambda: cv.get_model("nin_cifar10", pretrained=False), {}),
        "alexnet_cv": (lambda: cv.get_model("alexnet", pretrained=False), {}),
        "inception_v3_tv": (lambda: tv.inception_v3(weights=None, init_weights=False,
                                                    aux_logits=True, transform_input=True),
                            {}),
    }


@pytest.mark.parametrize("name", [
    "nin_cifar_cv",
    pytest.param("resnet18", marks=pytest.mark.slow),
    pytest.param("se_resnet50", marks=pytest.mark.slow),
    pytest.param("alexnet_cv", marks=pytest.mark.slow),
    pytest.param("inception_v3_tv", marks=pytest.mark.slow)])
def test_converted_logits_on_the_transform_output(name, photos, cifar_photos, tmp_path):
    from tests._torch import assert_same_logits

    build, kwargs = _logit_cases()[name]
    ws = _ws(name, "cifar10" if name.endswith("_cifar_cv") else "imagenet")
    files = cifar_photos if ws.classes == 10 else photos
    x = ours(ws, [files[k] for k in list(files)[:2]])
    assert_same_logits(name, build(), (ws.crop_size[0],), tmp_path, images=x, **kwargs)


@pytest.mark.parametrize("name", ["resnet50", "xception", "densenet121", "resnet18",
                                  "inception_v4_timm", "resnet20_cifar_b"])
def test_numpy_normalize_equals_preprocess_input(name):
    """The loader's workers normalize with numpy alone: the same numbers as
    preprocess_input (keras' caffe mode: BGR, mean subtracted, unscaled)."""
    import kerascnn
    from kerascnn.weights.core import weight_sets
    from kerascnn.weights.transform import normalize

    ws = next(iter(weight_sets(name).values()))
    x = np.random.default_rng(0).uniform(0, 255, size=(2, 5, 7, 3)).astype(np.float32)
    expected = kerascnn.applications.preprocess_input(x, weights=ws)
    np.testing.assert_allclose(normalize(x, ws), expected, rtol=0, atol=2e-5)
