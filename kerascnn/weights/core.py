"""The shared core of weight conversion: weight sets as data, state dicts read
without torch where possible, and role-by-role assignment into Keras layers.

A *weight set* (:class:`WeightSet`) says where a checkpoint comes from and what it
expects of its inputs. A *converter* copies a PyTorch ``state_dict`` (read into a
:class:`StateDict` of numpy arrays) into a kerascnn model, layer by layer, by the
keras layer's name and the role of each weight (kernel, bias, gamma, beta, moving
mean, moving variance): never by position. Every converter is registered for the
``source`` prefix of the weight sets it reads (``"torchvision:resnet"`` serves
``torchvision:resnet50``, ``torchvision:resnet18``, ...).

Layout conventions handled here:

* convolution kernels: PyTorch ``(out, in/groups, kh, kw)`` -> Keras ``(kh, kw, in/groups, out)``;
  depthwise ``(channels*mult, 1, kh, kw)`` -> ``(kh, kw, channels, mult)``;
* dense kernels: ``(out, in)`` -> ``(in, out)``; after a flatten, PyTorch's rows run over
  (channels, height, width) and Keras' over (height, width, channels):
  :func:`set_dense` with ``chw=(c, h, w)`` reorders them;
* BatchNormalization: ``weight, bias, running_mean, running_var`` -> ``gamma, beta,
  moving_mean, moving_variance``; a Keras BN without scale or centre must meet a
  checkpoint without that tensor (or with the identity value), otherwise the
  conversion refuses; the epsilon must equal the source's (checked by the converter
  through ``expect_epsilon``).
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Callable, Iterable

import numpy as np

__all__ = [
    "WeightSet",
    "WeightsError",
    "StateDict",
    "read_state_dict",
    "register_converter",
    "converter_for",
    "register_weight_sets",
    "weight_sets",
    "models_with_weight_sets",
    "set_conv",
    "set_depthwise",
    "set_bn",
    "set_dense",
    "set_conv_as_dense",
    "set_dense_as_conv",
    "set_weights_by_role",
    "layer",
]


# What several publishers share: timm's Hugging Face hub file of a model, ImageNet's and
# CIFAR-10's channel statistics (of x / 255).
TIMM_HUB = "https://huggingface.co/timm/{}/resolve/main/model.safetensors"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2023, 0.1994, 0.2010)


# How the publishers resize before the centre crop, and the interpolations kerascnn applies
# as PIL does (see :mod:`kerascnn.weights.transform`).
RESIZE_MODES = ("shorter", "squash")
INTERPOLATIONS = ("bilinear", "bicubic", "nearest")


class WeightsError(ValueError):
    """A weights file or tag that cannot be loaded into a model (one-line message)."""


@dataclasses.dataclass(frozen=True)
class WeightSet:
    """One published checkpoint a kerascnn model can load.

    Attributes:
        tag: the name ``weights=`` takes (``"imagenet"`` is each model's default
            ImageNet set; others e.g. ``"cifar10"``).
        source: the constructor whose ``state_dict`` layout the file has:
            ``"torchvision:resnet50"``, ``"timm:legacy_seresnet50"``,
            ``"pytorchcv:resnet20_cifar10"``, ``"keras:ResNet50"``.
        url: where the file is published (safetensors where the publisher has it).
        sha256: the file's hash where the publisher gives one (else None).
        file_hash: a hash of another kind the publisher gives instead (keras.applications'
            md5 sums; ``keras.utils.get_file`` checks md5 or sha256 by its length).
        classes: number of classes of the classifier.
        input_size: ``(height, width, channels)`` the publisher evaluated at (its
            height and width are the centre crop: :attr:`crop_size`).
        mean, std: per-channel normalization of ``x / 255`` (RGB order).
        interpolation: resize interpolation of the publisher's evaluation (``"bilinear"``,
            ``"bicubic"``: PIL's, antialiased; ``"nearest"``).
        crop_pct: centre-crop fraction of the publisher's evaluation (crop / resize);
            None: ``crop / resize_size``.
        resize_size: the shorter side the image is resized to before the centre crop
            (torchvision's ``Weights.transforms().resize_size``); None: timm's rule,
            ``floor(crop / crop_pct)``, filled in when the set is made.
        resize_mode: ``"shorter"`` (resize the shorter side to ``resize_size``, keeping the
            aspect ratio, then centre crop: torchvision, timm, pytorchcv) or ``"squash"``
            (resize straight to the crop size, as ``keras.utils.load_img(target_size=...)``
            in keras.applications' documented use).
        channel_order: ``"RGB"`` or ``"BGR"`` (keras' caffe-mode files) of the network's input.
        top1, top5: top-1 and top-5 accuracy (percent) the publisher reports, None where
            it publishes none.
        recipe: the training recipe as the publisher names or links it ("" if none).
        num_params: the parameter count the publisher gives (or its model definition
            counts), None if unknown.
        license: the weights' licence as the publisher states it.
        model_kwargs: constructor arguments the weights need beyond the variant's
            (rarely: the layout is fixed by the registered variant).
        note: what a user should know (e.g. a convention that differs).
    """

    tag: str
    source: str
    url: str
    classes: int
    input_size: tuple
    mean: tuple = IMAGENET_MEAN
    std: tuple = IMAGENET_STD
    interpolation: str = "bilinear"
    crop_pct: float | None = 0.875
    top1: float | None = None
    license: str = ""
    sha256: str | None = None
    file_hash: str | None = None
    model_kwargs: dict = dataclasses.field(default_factory=dict)
    note: str = ""
    resize_size: int | None = None
    resize_mode: str = "shorter"
    channel_order: str = "RGB"
    top5: float | None = None
    recipe: str = ""
    num_params: int | None = None

    def __post_init__(self):
        if self.resize_mode not in RESIZE_MODES:
            raise ValueError(f"WeightSet {self.tag!r}: resize_mode must be one of "
                             f"{', '.join(RESIZE_MODES)}; got {self.resize_mode!r}.")
        if self.channel_order not in ("RGB", "BGR"):
            raise ValueError(f"WeightSet {self.tag!r}: channel_order must be 'RGB' or 'BGR'; "
                             f"got {self.channel_order!r}.")
        if self.interpolation not in INTERPOLATIONS:
            raise ValueError(f"WeightSet {self.tag!r}: interpolation must be one of "
                             f"{', '.join(INTERPOLATIONS)}; got {self.interpolation!r}.")
        if self.crop_pct is None:  # given by resize_size (torchvision's sets)
            if self.resize_size is None:
                raise ValueError(f"WeightSet {self.tag!r}: crop_pct or resize_size is needed.")
            object.__setattr__(self, "crop_pct", min(self.crop_size) / self.resize_size)
        if self.resize_size is None:
            crop = min(self.crop_size)
            size = crop if self.resize_mode == "squash" else math.floor(crop / self.crop_pct)
            object.__setattr__(self, "resize_size", int(size))

    @property
    def crop_size(self) -> tuple:
        """``(height, width)`` of the centre crop: the network's input."""
        return tuple(int(v) for v in self.input_size[:2])

    @property
    def transform(self) -> str:
        """The publisher's evaluation transform in one line."""
        h, w = self.crop_size
        if self.resize_mode == "squash":
            resize = f"resize to {h}x{w} ({self.interpolation}, aspect ratio not kept)"
        else:
            resize = (f"resize shorter side to {self.resize_size} ({self.interpolation}), "
                      f"centre crop {h}x{w}")
        return (f"RGB, {resize}, x/255, mean {tuple(self.mean)}, std {tuple(self.std)}"
                + (", channels reversed to BGR" if self.channel_order == "BGR" else ""))

    def as_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out["input_size"] = tuple(self.input_size)
        out["mean"], out["std"] = tuple(self.mean), tuple(self.std)
        out["crop_size"] = self.crop_size
        out["transform"] = self.transform
        return out

    @property
    def file_name(self) -> str:
        """The file's name in the Keras cache: the URL's last part; for a Hugging Face hub
        file (``.../{owner}/{repo}/resolve/{revision}/model.safetensors``, a name every
        repository shares) ``{owner}--{repo}--{file}``."""
        return cache_file_name(self.url)

    @property
    def hash(self) -> str | None:
        """The hash ``keras.utils.get_file`` checks: sha256 where published, else ``file_hash``."""
        return self.sha256 or self.file_hash


def cache_file_name(url: str) -> str:
    """The name a downloaded ``url`` has in the Keras cache (see :attr:`WeightSet.file_name`)."""
    from urllib.parse import urlparse

    parts = [p for p in urlparse(url).path.split("/") if p]
    if "resolve" in parts and parts.index("resolve") >= 2:
        i = parts.index("resolve")
        return "--".join(parts[i - 2:i] + ["_".join(parts[i + 2:])])
    return parts[-1] if parts else "download"


# ---------------------------------------------------------------------------------------------
# Registries: weight sets by model name, converters by source prefix.

_WEIGHT_SETS: dict[str, dict[str, WeightSet]] = {}
_CONVERTERS: dict[str, Callable] = {}


def register_weight_sets(model_name: str, *sets: WeightSet) -> None:
    """Declares the weight sets a registered model can load (called by the source modules)."""
    table = _WEIGHT_SETS.setdefault(model_name, {})
    for ws in sets:
        if ws.tag in table and table[ws.tag] != ws:
            raise ValueError(f"{model_name}: weight set {ws.tag!r} declared twice")
        table[ws.tag] = ws


def weight_sets(model_name: str) -> dict[str, WeightSet]:
    """The weight sets of ``model_name`` (tag -> :class:`WeightSet`), {} if none (each family
    registers its own when :mod:`kerascnn.models` loads it)."""
    return dict(_WEIGHT_SETS.get(model_name, {}))


def models_with_weight_sets() -> list[str]:
    """The names of every model that has at least one weight set, sorted."""
    return sorted(name for name, sets in _WEIGHT_SETS.items() if sets)


def register_converter(source_prefix: str, convert: Callable) -> Callable:
    """Registers ``convert(sd, model, *, skip_classifier)`` for sources starting with
    ``source_prefix`` (``"torchvision:resnet"``); the longest matching prefix wins."""
    _CONVERTERS[source_prefix] = convert
    return convert


def converter_for(source: str) -> Callable:
    matches = [p for p in _CONVERTERS if source.startswith(p)]
    if not matches:
        raise WeightsError(f"No converter reads the layout {source!r}; known: "
                           f"{', '.join(sorted(_CONVERTERS)) or 'none'}.")
    return _CONVERTERS[max(matches, key=len)]


# ---------------------------------------------------------------------------------------------
# State dicts.

class StateDict:
    """A checkpoint's tensors as numpy arrays, with a record of what was used.

    ``take(key)`` returns a tensor and marks it used; :meth:`check_all_used` refuses a
    conversion that left tensors behind (a layer the keras model lacks), so a
    layout mismatch cannot pass silently. Every tensor a converter takes is a weight:
    one that is not floating point, or holds NaN or infinite values, is refused by
    name (integer buffers such as BatchNorm's ``num_batches_tracked`` are never taken).
    """

    def __init__(self, tensors: dict, origin: str = "state dict"):
        self.tensors = {k: np.asarray(v) for k, v in tensors.items()}
        self.origin = origin
        self.used: set[str] = set()

    def __contains__(self, key) -> bool:
        return key in self.tensors

    def __len__(self) -> int:
        return len(self.tensors)

    def keys(self):
        return self.tensors.keys()

    def take(self, key: str) -> np.ndarray:
        if key not in self.tensors:
            near = sorted(k for k in self.tensors if k.split(".")[0] == key.split(".")[0])[:6]
            raise WeightsError(f"{self.origin} has no tensor {key!r}"
                               + (f" (near: {', '.join(near)})" if near else "") + ".")
        value = self.tensors[key]
        if not np.issubdtype(value.dtype, np.floating):
            raise WeightsError(f"{self.origin}: tensor {key!r} is {value.dtype}, a float weight "
                               "is expected.")
        bad = int(value.size - np.count_nonzero(np.isfinite(value)))
        if bad:
            raise WeightsError(f"{self.origin}: tensor {key!r} holds {bad} NaN or infinite "
                               f"values (of {value.size}): a damaged checkpoint.")
        self.used.add(key)
        return value

    def get(self, key: str, default=None):
        return self.take(key) if key in self.tensors else default

    def skip(self, *prefixes: str) -> None:
        """Marks every tensor under ``prefixes`` as deliberately not loaded."""
        for key in self.tensors:
            if any(key == p or key.startswith(p + ".") for p in prefixes):
                self.used.add(key)

    def unused(self) -> list[str]:
        ignorable = ("num_batches_tracked",)
        return sorted(k for k in self.tensors if k not in self.used
                      and not k.endswith(ignorable))

    def check_all_used(self) -> None:
        left = self.unused()
        if left:
            shown = ", ".join(left[:5]) + (f" and {len(left) - 5} more" if len(left) > 5 else "")
            raise WeightsError(f"{len(left)} tensors of {self.origin} have no place in the "
                               f"model: {shown}.")

    def prefixes(self, depth: int = 1) -> list[str]:
        """The distinct first ``depth`` dotted parts of the keys, in checkpoint order."""
        seen = {}
        for key in self.tensors:
            seen.setdefault(".".join(key.split(".")[:depth]), None)
        return list(seen)


def _unwrap(obj: dict) -> dict:
    for key in ("state_dict", "model", "model_state", "net"):
        if isinstance(obj.get(key), dict) and len(obj) <= 8:
            obj = obj[key]
    prefix = "module."
    if obj and all(k.startswith(prefix) for k in obj):
        obj = {k[len(prefix):]: v for k, v in obj.items()}
    return obj


def read_state_dict(path) -> StateDict:
    """Reads a checkpoint's tensors: ``.safetensors`` with the safetensors package (no
    torch, nothing unpickled); ``.pth``/``.pt``/``.bin`` with ``torch.load(weights_only=True)``."""
    path = os.fspath(path)
    name = os.path.basename(path)
    if path.endswith(".zip"):
        return _read_zipped(path)
    if path.endswith(".safetensors"):
        try:
            from safetensors.numpy import load_file
        except ImportError:
            raise WeightsError(f"Reading {name} needs the safetensors package: "
                               "pip install safetensors (or kerascnn[convert]).") from None
        try:
            tensors = load_file(path)
        except Exception as e:  # a damaged or truncated file
            raise WeightsError(f"{path} is not a readable safetensors file "
                               f"({type(e).__name__}: {e}).") from None
        return StateDict(_unwrap(tensors), origin=name)
    if path.endswith((".pth", ".pt", ".bin")):
        try:
            import torch
        except ImportError:
            raise WeightsError(f"Reading {name} needs torch: pip install 'kerascnn[convert]' "
                               "(or give a .safetensors file, read without torch).") from None
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:
            raise WeightsError(f"{path} is not a torch checkpoint that loads with "
                               f"weights_only=True ({type(e).__name__}: {e}).") from None
        if not isinstance(obj, dict):
            raise WeightsError(f"{path} holds a {type(obj).__name__}, not a state dict.")
        obj = _unwrap(obj)
        return StateDict({k: v.detach().float().numpy() if v.is_floating_point()
                          else v.numpy() for k, v in obj.items()
                          if hasattr(v, "numpy")}, origin=name)
    raise WeightsError(f"Unknown checkpoint type {name!r}: allowed .safetensors, .pth, .pt, "
                       ".bin (also zipped: .pth.zip), .keras, .weights.h5.")


# A checkpoint of weights hardly compresses (float noise): a member that would expand more
# than this many times (and past ZIP_CHECKED_BYTES) is a damaged or hostile zip.
ZIP_MAX_RATIO = 20
ZIP_CHECKED_BYTES = 16 << 20


def _read_zipped(path: str) -> StateDict:
    """A checkpoint published zipped (pytorchcv's ``.pth.zip``): the one checkpoint inside,
    read from a temporary copy that is removed afterwards. The member's sizes are checked
    before anything is extracted: its expansion, and the room in the temporary folder."""
    import zipfile
    import zlib

    suffixes = (".safetensors", ".pth", ".pt", ".bin")
    try:
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.infolist() if m.filename.endswith(suffixes)]
            if len(members) != 1:
                raise WeightsError(f"{path} must hold exactly one checkpoint "
                                   f"({', '.join(suffixes)}); it holds {len(members)}.")
            sd = _read_member(path, archive, members[0])
    except (zipfile.BadZipFile, zlib.error, EOFError) as e:
        raise WeightsError(f"{path} is not a readable zip file ({e}).") from None
    sd.origin = os.path.basename(path)
    return sd


def _read_member(path: str, archive, member) -> StateDict:
    import shutil
    import tempfile

    name, size = member.filename, member.file_size
    if size > ZIP_CHECKED_BYTES and size > ZIP_MAX_RATIO * max(member.compress_size, 1):
        raise WeightsError(f"{path}: its member {name!r} would expand from "
                           f"{member.compress_size} to {size} bytes "
                           f"({size // max(member.compress_size, 1)} times), more than a "
                           "checkpoint compresses: a damaged or hostile zip (unzip it yourself "
                           "if you trust it).")
    temp_root = tempfile.gettempdir()
    free = shutil.disk_usage(temp_root).free
    if size > free:
        raise WeightsError(f"{path}: extracting {name!r} needs {size} bytes in the temporary "
                           f"folder {temp_root}, which has {free} free; set TMPDIR to a folder "
                           "with room.")
    tmp = None
    try:
        try:
            tmp = tempfile.mkdtemp(prefix="kerascnn-zip-")
            inner = os.path.join(tmp, os.path.basename(name))
            with archive.open(member) as src, open(inner, "wb") as dst:
                shutil.copyfileobj(src, dst)
        except OSError as e:
            raise WeightsError(f"{path}: cannot extract {name!r} into the temporary folder "
                               f"{temp_root}: {e.strerror or type(e).__name__}; set TMPDIR to "
                               "a folder with room.") from None
        return read_state_dict(inner)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Assignment by role.

_ROLE_SUFFIX = {"kernel": "kernel", "bias": "bias", "gamma": "gamma", "beta": "beta",
                "moving_mean": "moving_mean", "moving_variance": "moving_variance",
                "depthwise_kernel": "depthwise_kernel", "pointwise_kernel": "pointwise_kernel"}


def layer(model, name: str):
    """The model's layer ``name``, with a one-line error naming near names."""
    try:
        return model.get_layer(name)
    except ValueError:
        near = [lyr.name for lyr in model.layers if name.split("_")[0] in lyr.name][:6]
        raise WeightsError(f"The model {model.name!r} has no layer {name!r}"
                           + (f" (near: {', '.join(near)})" if near else "") + ".") from None


def _role(variable) -> str:
    path = getattr(variable, "path", None) or variable.name
    return path.rsplit("/", 1)[-1].split(":")[0]


def set_weights_by_role(keras_layer, **values) -> None:
    """Assigns ``values`` (role -> array) to the layer's weights of those roles.

    Every weight of the layer must be given, each with its exact shape: a layer
    that would be left half-initialised is refused.
    """
    weights = {_role(w): w for w in keras_layer.weights}
    missing = sorted(set(weights) - set(values))
    extra = sorted(set(values) - set(weights))
    if missing or extra:
        raise WeightsError(
            f"Layer {keras_layer.name!r} has weights {sorted(weights)}; the checkpoint gives "
            f"{sorted(values)}" + (f" (missing {missing})" if missing else "")
            + (f" (no place for {extra})" if extra else "") + ".")
    for role, value in values.items():
        var = weights[role]
        value = np.asarray(value, dtype=np.float32)
        if tuple(var.shape) != value.shape:
            raise WeightsError(f"Layer {keras_layer.name!r}: {role} has shape "
                               f"{tuple(var.shape)}, the checkpoint's {value.shape}.")
        var.assign(value)


def conv_kernel(w: np.ndarray) -> np.ndarray:
    """PyTorch ``(out, in/groups, kh, kw)`` -> Keras ``(kh, kw, in/groups, out)``."""
    return np.transpose(w, (2, 3, 1, 0))


def set_conv(keras_layer, sd: StateDict, prefix: str) -> None:
    """A Conv2D from ``{prefix}.weight`` (and ``{prefix}.bias`` when the layer has one)."""
    values = {"kernel": conv_kernel(sd.take(f"{prefix}.weight"))}
    if getattr(keras_layer, "use_bias", False):
        values["bias"] = sd.take(f"{prefix}.bias")
    elif f"{prefix}.bias" in sd:
        raise WeightsError(f"{sd.origin}: {prefix} has a bias, layer {keras_layer.name!r} "
                           "has none (build the layout the weights need).")
    set_weights_by_role(keras_layer, **values)


def set_depthwise(keras_layer, sd: StateDict, prefix: str) -> None:
    """A DepthwiseConv2D from a grouped PyTorch conv with groups == in_channels."""
    w = sd.take(f"{prefix}.weight")  # (channels * mult, 1, kh, kw)
    out, _, kh, kw = w.shape
    channels = keras_layer.input.shape[-1] if hasattr(keras_layer, "input") else None
    mult = out // channels
    values = {"kernel": np.transpose(w.reshape(channels, mult, kh, kw), (2, 3, 0, 1))}
    if getattr(keras_layer, "use_bias", False):
        values["bias"] = sd.take(f"{prefix}.bias")
    set_weights_by_role(keras_layer, **values)


def set_bn(keras_layer, sd: StateDict, prefix: str, expect_epsilon: float | None = None) -> None:
    """A BatchNormalization from ``{prefix}.weight/bias/running_mean/running_var``.

    A keras BN without scale (or centre) accepts a checkpoint whose weight is all
    ones (bias all zeros) or absent; anything else is refused. ``expect_epsilon``
    checks the layer's epsilon against the source's.
    """
    if expect_epsilon is not None and not np.isclose(keras_layer.epsilon, expect_epsilon,
                                                     rtol=0, atol=1e-12):
        raise WeightsError(f"Layer {keras_layer.name!r} has epsilon {keras_layer.epsilon}, "
                           f"the source {expect_epsilon}.")
    values = {"moving_mean": sd.take(f"{prefix}.running_mean"),
              "moving_variance": sd.take(f"{prefix}.running_var")}
    for role, key, identity, flag in (("gamma", "weight", 1.0, "scale"),
                                      ("beta", "bias", 0.0, "center")):
        name = f"{prefix}.{key}"
        if getattr(keras_layer, flag, True):
            values[role] = sd.take(name)
        elif name in sd and not np.allclose(sd.take(name), identity):
            raise WeightsError(f"{sd.origin}: {name} is not {identity}, layer "
                               f"{keras_layer.name!r} has {flag}=False.")
    set_weights_by_role(keras_layer, **values)


def set_dense(keras_layer, sd: StateDict, prefix: str, chw: Iterable[int] | None = None) -> None:
    """A Dense from a Linear ``(out, in)``; ``chw``: the (channels, height, width) of the
    flattened feature map before it, whose PyTorch (C, H, W) row order is turned into
    Keras' (H, W, C)."""
    w = sd.take(f"{prefix}.weight")
    if chw is not None:
        c, h, wd = chw
        w = w.reshape(w.shape[0], c, h, wd).transpose(0, 2, 3, 1).reshape(w.shape[0], -1)
    values = {"kernel": w.T}
    if getattr(keras_layer, "use_bias", False):
        values["bias"] = sd.take(f"{prefix}.bias")
    set_weights_by_role(keras_layer, **values)


def set_conv_as_dense(keras_layer, sd: StateDict, prefix: str) -> None:
    """A Dense from a 1x1 Conv2D ``(out, in, 1, 1)`` (SE blocks written as convolutions)."""
    w = sd.take(f"{prefix}.weight")
    values = {"kernel": w.reshape(w.shape[0], w.shape[1]).T}
    if getattr(keras_layer, "use_bias", False):
        values["bias"] = sd.take(f"{prefix}.bias")
    set_weights_by_role(keras_layer, **values)


def set_dense_as_conv(keras_layer, sd: StateDict, prefix: str) -> None:
    """A 1x1 Conv2D from a Linear ``(out, in)``."""
    w = sd.take(f"{prefix}.weight")
    values = {"kernel": w.T.reshape(1, 1, w.shape[1], w.shape[0])}
    if getattr(keras_layer, "use_bias", False):
        values["bias"] = sd.take(f"{prefix}.bias")
    set_weights_by_role(keras_layer, **values)


# ---------------------------------------------------------------------------------------------
# Shared by several families' converters.

def set_basic_conv(model, sd: StateDict, keras_name: str, prefix: str,
                   epsilon: float = 1e-3) -> None:
    """A convolution without bias and its BN (torchvision's ``BasicConv2d``, timm's
    ``ConvNormAct``: ``{prefix}.conv``, ``{prefix}.bn``) into ``keras_name`` and its
    ``{keras_name}_bn``; ``epsilon``: the source's BN epsilon (the Inception nets' 1e-3)."""
    set_conv(layer(model, keras_name), sd, f"{prefix}.conv")
    set_bn(layer(model, f"{keras_name}_bn"), sd, f"{prefix}.bn", expect_epsilon=epsilon)


def _weighted_layers(model) -> set[str]:
    return {lyr.name for lyr in model.layers if lyr.weights}


def check_all_filled(model, filled, left_out=()) -> None:
    """Refuses a conversion that left weighted layers of the model at their initial values
    (a keras model deeper than the checkpoint); ``left_out``: layers deliberately not
    loaded (a new classifier)."""
    missing = sorted(_weighted_layers(model) - set(filled) - set(left_out))
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more"
                                          if len(missing) > 5 else "")
        raise WeightsError(f"The checkpoint has no weights for {len(missing)} layers of "
                           f"{model.name!r}: {shown}.")
