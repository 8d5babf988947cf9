"""The same models with the same weights on one Keras backend: one process per backend.

    KERAS_BACKEND=tensorflow python tests/_backend_outputs.py reference DIR MODEL...
    KERAS_BACKEND=jax python tests/_backend_outputs.py follow DIR MODEL...

``reference`` builds each model at a small input (its smallest allowed, at least 32), gives
every weight and BatchNorm statistic a random value (seeded), and writes into DIR the
weights (``MODEL.weights.h5``), the input (``MODEL.input.npy``), the whole model
(``MODEL.keras``) and its inference-mode logits (``MODEL.<backend>.npy``). ``follow``, with
TensorFlow made unimportable, builds the same model on its own backend, loads those weights
and writes its logits (``MODEL.<backend>.npy``), and loads the .keras file saved on the
reference backend and writes what it predicts (``MODEL.<backend>.keras.npy``). tests/test_backend_equality.py
compares them; run by hand with a list of models, then ``compare DIR MODEL...`` prints the
largest difference of each backend relative to the largest |logit|.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

BACKENDS = ("tensorflow", "jax", "torch")
TOLERANCE = 1e-4  # of the largest |logit|


def input_shape(name):
    import kerascnn

    info = kerascnn.model_info(name)
    height, width, channels = info["default_input_shape"]
    side = max(32, info["min_input_size"] or 0)
    return (min(side, height), min(side, width), channels)


def build(name):
    """``name`` at its small input; at its default one where the classifier fixes the size
    (AlexNet's and VGG's flatten)."""
    import kerascnn

    for shape in (input_shape(name), kerascnn.model_info(name)["default_input_shape"]):
        kwargs = {"input_shape": tuple(shape), "classes": 10}
        try:
            try:
                return kerascnn.create_model(name, classifier_activation=None, **kwargs)
            except TypeError:  # a model without a classifier_activation argument
                return kerascnn.create_model(name, **kwargs)
        except ValueError as e:  # the small size is refused: try the default one
            refused = e
    raise ValueError(f"{name}: no input size to build it at") from refused


def randomize(model, seed):
    """Every weight random: kernels by fan-in, BN gamma and variance in [0.5, 1.5], BN mean
    and beta and biases N(0, 0.2) (so a BN applied in training mode, or wrongly, shows)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    for w in model.weights:
        if "variance" in w.path or "gamma" in w.path:
            value = rng.uniform(0.5, 1.5, size=w.shape)
        elif len(w.shape) >= 2:
            value = rng.normal(0.0, np.sqrt(2.0 / int(np.prod(w.shape[:-1]))), size=w.shape)
        else:
            value = rng.normal(0.0, 0.2, size=w.shape)
        w.assign(value.astype(w.dtype))


def logits(model, x):
    import keras
    import numpy as np

    # On torch, predict_on_batch: what users call, without autograd, where Conv2D keeps its
    # kernels in torch's layout. Elsewhere the eager call (JAX would compile every model).
    if keras.backend.backend() == "torch":
        y = model.predict_on_batch(x)
    else:
        y = model(x, training=False)
    y = y[0] if isinstance(y, (list, tuple)) else y
    return np.asarray(keras.ops.convert_to_numpy(y), np.float64)


def reference(directory, names):
    import keras
    import numpy as np

    backend = keras.backend.backend()
    for i, name in enumerate(names):
        model = build(name)
        randomize(model, seed=i)
        x = np.random.default_rng(100 + i).uniform(0, 1, (2, *model.inputs[0].shape[1:]))
        x = x.astype("float32")
        np.save(os.path.join(directory, f"{name}.input.npy"), x)
        model.save_weights(os.path.join(directory, f"{name}.weights.h5"))
        model.save(os.path.join(directory, f"{name}.keras"))
        np.save(os.path.join(directory, f"{name}.{backend}.npy"), logits(model, x))
        print(f"{name}: {backend} reference", flush=True)


def follow(directory, names):
    import keras
    import numpy as np

    backend = keras.backend.backend()
    for name in names:
        x = np.load(os.path.join(directory, f"{name}.input.npy"))
        model = build(name)
        model.load_weights(os.path.join(directory, f"{name}.weights.h5"))
        np.save(os.path.join(directory, f"{name}.{backend}.npy"), logits(model, x))
        loaded = keras.saving.load_model(os.path.join(directory, f"{name}.keras"))
        np.save(os.path.join(directory, f"{name}.{backend}.keras.npy"), logits(loaded, x))
        print(f"{name}: {backend} done", flush=True)


def differences(directory, name, reference_backend="tensorflow"):
    """{"<backend>" or "<backend>.keras": max |difference| / max |reference logit|}."""
    import numpy as np

    ref = np.load(os.path.join(directory, f"{name}.{reference_backend}.npy"))
    scale = float(np.max(np.abs(ref))) or 1.0
    out = {}
    for backend in BACKENDS:
        for suffix in ("", ".keras"):
            path = os.path.join(directory, f"{name}.{backend}{suffix}.npy")
            if os.path.exists(path) and (backend != reference_backend or suffix):
                out[backend + suffix] = float(np.max(np.abs(np.load(path) - ref))) / scale
    return out


def main(argv):
    mode, directory, names = argv[0], argv[1], argv[2:]
    if mode == "follow":  # JAX and torch need no TensorFlow: prove it, model by model
        from tests._no_tensorflow_check import _Blocker

        sys.meta_path.insert(0, _Blocker())
    if mode == "reference":
        reference(directory, names)
    elif mode == "follow":
        follow(directory, names)
    elif mode == "compare":
        for name in names:
            print(name, " ".join(f"{k} {v:.2e}" for k, v in differences(directory, name).items()))
    else:
        raise SystemExit(f"unknown mode {mode!r}: reference, follow or compare")


if __name__ == "__main__":
    main(sys.argv[1:])
