"""Fine-tuning: a run's network initialised from pretrained weights, its backbone frozen.

``fit.py --weights TAG|PATH`` builds the network once, from pretrained weights, with a
new classifier for the data's classes: a tag of the model's weight sets
(``kerascnn.model_info(name)["weights"]``) or a file, read as the constructors' ``weights=``
(:func:`kerascnn.weights.loading.resolve_weights`): converted (``.safetensors``, ``.pth``,
``.pt``, ``.bin``, ``.zip``) or keras' own (``.keras``, ``.weights.h5``, ``.h5``) of the
same architecture (every layer is loaded by name, and the
classifier too when its shape fits; a classifier for other classes is left new, any
other layer that does not fit is an error). The network then sees its inputs
normalised as the weights were trained: the weight set's mean and std, or those of a
``.keras`` file's preprocessing layer (other ``.keras``/``.weights.h5`` files: the
data's own statistics).

``--freeze-backbone`` freezes every layer but the classifier (the weighted layers
nearest each output): ``trainable=False``, and in Keras 3 a BatchNormalization layer
that is not trainable runs in inference mode even in ``fit`` (its moving statistics
stay as loaded and normalise the batch; PreciseBatchNorm and ``model(x, training=True)``
respect it too), which is what fine-tuning needs. ``--unfreeze-at N`` trains the
classifier alone for N epochs, then every layer, BatchNormalization included (its
statistics then follow the new data, as torchvision's and timm's fine-tuning scripts
do; Keras' own transfer-learning guide keeps them frozen for the very small batches it
trains with), with a new optimizer at the learning rate times ``--unfreeze-lr-factor``.
"""

from __future__ import annotations

import os

import numpy as np

__all__ = ["FineTuneError", "check_weights", "classifier_layers",
           "pretrained_network", "copy_by_name", "freeze_backbone", "unfreeze",
           "weights_normalization", "weights_model_kwargs", "load_keras_file"]

PREPROCESSING_PREFIX = "preprocess_"


class FineTuneError(ValueError):
    """Weights that cannot initialise the run's network (one-line message)."""


def _resolve(model_name: str, weights: str):
    """``(kind, value)`` of ``--weights``: :func:`kerascnn.weights.loading.resolve_weights`,
    the one reading of a weights value, its errors as FineTuneError."""
    from kerascnn.weights.loading import resolve_weights

    try:
        return resolve_weights(model_name, weights, argument="--weights")
    except ValueError as e:
        raise FineTuneError(str(e)) from None


def check_weights(model_name: str, weights: str) -> str:
    """Checks ``--weights`` before anything is read or written; returns ``"tag"``,
    ``"checkpoint"`` or ``"keras"``. Raises FineTuneError (one line)."""
    kind, _ = _resolve(model_name, weights)
    if kind == "checkpoint":
        from kerascnn.weights.loading import source_of

        try:
            source_of(model_name)
        except ValueError as e:
            raise FineTuneError(f"--weights {weights}: {e}") from None
    return kind


def classifier_layers(model) -> list:
    """The classifier: for each output, the weighted layers nearest it (walking back
    through weightless ops: activations, pooling, flatten, casts)."""
    from kerascnn.graph import inbound_layers, producer

    found, seen = [], set()
    stack = [op for op in map(producer, model.outputs) if op is not None]
    while stack:
        op = stack.pop()
        if id(op) in seen:
            continue
        seen.add(id(op))
        if op.weights:
            found.append(op)
            continue
        stack.extend(inbound_layers(op))
    order = {id(layer): i for i, layer in enumerate(model.layers)}
    return sorted(found, key=lambda layer: order.get(id(layer), 0))


def _weighted(model):
    return [layer for layer in model.layers
            if layer.weights and not layer.name.startswith(PREPROCESSING_PREFIX)]


def _load_into(model, source: dict, path, model_name: str) -> list[str]:
    """Assigns ``source`` (layer name -> [(role, array)]) to ``model``'s weighted layers;
    returns the classifier layers left new (their shapes differ, or the file has none)."""
    from kerascnn.weights.transfer import weight_roles

    head = {layer.name for layer in classifier_layers(model)}
    skipped, used = [], set()
    for layer in _weighted(model):
        roles = weight_roles(layer)
        theirs = source.get(layer.name)
        if theirs is None:
            if layer.name in head:
                skipped.append(layer.name)
                continue
            raise FineTuneError(f"--weights {path}: the file has no layer {layer.name!r}; it "
                                f"is not a {model_name} as this run builds it.")
        used.add(layer.name)
        theirs = dict(theirs)
        mine = {role: tuple(var.shape) for role, var in roles}
        shapes = {role: tuple(np.shape(value)) for role, value in theirs.items()}
        if set(mine) != set(shapes):
            raise FineTuneError(f"--weights {path}: layer {layer.name!r} holds "
                                f"{sorted(shapes)} in the file, {sorted(mine)} here.")
        if mine != shapes:
            if layer.name in head:
                skipped.append(layer.name)
                continue
            role = next(r for r in mine if mine[r] != shapes[r])
            raise FineTuneError(
                f"--weights {path}: layer {layer.name!r} has {role} of shape {shapes[role]} in "
                f"the file, {mine[role]} in {model_name} as this run builds it (only the "
                "classifier may differ: check --image-size and the model arguments).")
        for role, var in roles:
            var.assign(np.asarray(theirs[role], dtype=var.dtype))
    extra = sorted(set(source) - used - set(skipped))
    if extra:
        raise FineTuneError(f"--weights {path}: the file's layer {extra[0]!r} has no place in "
                            f"{model_name} as this run builds it ({len(extra)} such layers).")
    return skipped


def _keras_layers(model) -> dict:
    from kerascnn.weights.transfer import weight_roles

    return {layer.name: [(role, var.numpy()) for role, var in weight_roles(layer)]
            for layer in _weighted(model)}


def _h5_layers(model, path) -> dict:
    """A ``.weights.h5`` file's arrays by ``model``'s layer names: Keras writes each layer
    under its class name in snake case and a running number (``conv2d_3``), in the order
    of ``model.layers``, so the file of a model of the same architecture lines up."""
    import h5py
    from keras.src.utils import naming

    from kerascnn.weights.transfer import weight_roles

    out, counts = {}, {}
    with h5py.File(path, "r") as f:
        stored = f["layers"] if "layers" in f else {}
        for layer in model.layers:
            if layer.name.startswith(PREPROCESSING_PREFIX):
                continue  # not in the network's file, nor in its numbering
            base = naming.to_snake_case(type(layer).__name__)
            n = counts.get(base, 0)
            counts[base] = n + 1
            key = base if n == 0 else f"{base}_{n}"
            if not layer.weights:
                continue
            if key not in stored or "vars" not in stored[key]:
                continue
            group = stored[key]["vars"]
            values = [np.asarray(group[str(i)]) for i in range(len(group))]
            roles = [role for role, _ in weight_roles(layer)]
            if len(values) != len(roles):
                raise FineTuneError(f"--weights {path}: {key} holds {len(values)} arrays, "
                                    f"layer {layer.name!r} has {len(roles)}.")
            out[layer.name] = list(zip(roles, values))
    return out


def load_keras_file(model, path, model_name: str) -> list[str]:
    """Loads a ``.keras`` or ``.weights.h5`` file of ``model``'s architecture by layer name;
    returns the names of the classifier layers left new (another number of classes)."""
    path = os.fspath(path)
    if path.endswith(".keras"):
        import keras

        import kerascnn  # noqa: F401  (kerascnn's layers, for the file's config)

        try:
            source = _keras_layers(keras.saving.load_model(path, compile=False))
        except (ValueError, TypeError, OSError) as e:
            raise FineTuneError(f"--weights {path}: unreadable .keras file "
                                f"({str(e).splitlines()[0][:160]}).") from None
    else:
        try:
            source = _h5_layers(model, path)
        except OSError as e:
            raise FineTuneError(f"--weights {path}: unreadable .weights.h5 file "
                                f"({str(e).splitlines()[0][:160]}).") from None
    return _load_into(model, source, path, model_name)


def pretrained_network(model_name: str, weights: str, *, input_shape, classes, kwargs,
                       input_tensor=None):
    """The registry model, ``input_shape`` and ``classes``, built once with ``weights``
    loaded and a new classifier where the weights have other classes; built on
    ``input_tensor`` when given (the run's preprocessing in front: one flat graph)."""
    from kerascnn import api

    kind = check_weights(model_name, weights)
    spec = api.get_spec(model_name)
    if input_tensor is not None:
        kwargs = {**kwargs, "input_tensor": input_tensor}
    try:
        if kind == "keras":
            model = spec.build(input_shape=input_shape, classes=classes, **kwargs)
            load_keras_file(model, weights, model_name)
        else:
            model = spec.build(input_shape=input_shape, classes=classes, weights=weights,
                               **kwargs)
    except FineTuneError:
        raise
    except ValueError as e:
        raise FineTuneError(f"--weights {weights}: {str(e).splitlines()[0]}") from None
    return model


def copy_by_name(src, dst) -> int:
    """Copies every weighted layer of ``src`` into the layer of the same name in ``dst``
    (the same network built twice: alone, and on the run's preprocessing)."""
    from kerascnn.weights.transfer import WeightCopyError, copy_weights_by_name

    try:
        return len(copy_weights_by_name(
            src, dst, same_layers=True,
            where=lambda layer: not layer.name.startswith(PREPROCESSING_PREFIX)))
    except WeightCopyError as e:
        if e.layer is None:
            raise FineTuneError(f"the pretrained {src.name} and the run's network differ in "
                                "their layers (a weight set that needs other model "
                                "arguments?).") from None
        raise FineTuneError(f"the pretrained {src.name}'s layer {e.layer!r} does not fit the "
                            "run's network (a weight set that needs other model "
                            "arguments?).") from None


def weights_model_kwargs(model_name: str, weights: str) -> dict:
    """The constructor arguments a weight set's layout needs (``WeightSet.model_kwargs``)."""
    kind, ws = _resolve(model_name, weights)
    return dict(ws.model_kwargs) if kind == "tag" else {}


def weights_normalization(model_name: str, weights: str):
    """(mean, std) the weights were trained with (0..1 scale), or None when unknown."""
    from kerascnn.weights.core import weight_sets

    kind, value = _resolve(model_name, weights)
    if kind == "tag":
        return tuple(value.mean), tuple(value.std)
    sets = weight_sets(model_name)
    if kind == "checkpoint":
        from kerascnn.weights.loading import source_of

        source = source_of(model_name)
        ws = sets.get("imagenet") if "imagenet" in sets and sets["imagenet"].source == source \
            else next((s for s in sets.values() if s.source == source), None)
        return (tuple(ws.mean), tuple(ws.std)) if ws is not None else None
    if weights.endswith(".keras"):
        import zipfile

        try:
            import json

            with zipfile.ZipFile(weights) as archive:
                config = json.loads(archive.read("config.json"))
        except (OSError, KeyError, ValueError, zipfile.BadZipFile):
            return None
        for layer in config.get("config", {}).get("layers", []):
            if layer.get("config", {}).get("name") == f"{PREPROCESSING_PREFIX}normalize":
                c = layer["config"]
                if c.get("mean") is None or c.get("variance") is None:
                    return None
                mean = np.ravel(np.asarray(c["mean"], np.float64))
                std = np.sqrt(np.ravel(np.asarray(c["variance"], np.float64)))
                return tuple(float(v) for v in mean), tuple(float(v) for v in std)
    return None


def freeze_backbone(model) -> list[str]:
    """Freezes every layer of ``model`` but its classifier and preprocessing; returns the
    names of the layers frozen. A frozen BatchNormalization runs in inference mode. A
    network nested as one layer is frozen inside, but for its own classifier."""
    import keras

    head = {id(layer) for layer in classifier_layers(model)}
    frozen = []
    for layer in model.layers:
        if layer.name.startswith(PREPROCESSING_PREFIX):
            continue
        if id(layer) in head:
            if isinstance(layer, keras.Model) and getattr(layer, "outputs", None):
                frozen += freeze_backbone(layer)
            continue
        if layer.weights and layer.trainable:
            layer.trainable = False
            frozen.append(layer.name)
    return frozen


def unfreeze(model) -> int:
    """Makes every layer but the preprocessing trainable again; returns how many changed."""
    count = 0
    for layer in model.layers:
        if layer.name.startswith(PREPROCESSING_PREFIX) or layer.trainable:
            continue
        layer.trainable = True
        count += 1
    return count
