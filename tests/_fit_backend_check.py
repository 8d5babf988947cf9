"""fit.py on one backend, in its own process: KERAS_BACKEND=jax python tests/_fit_backend_check.py
DATA.npz OUT_DIR. Three runs of a tiny ResNet on a tiny set with --deterministic and precise
BN: 2 epochs straight; 1 epoch; that run resumed to 2 epochs. Prints one JSON line: the
backends' metrics, whether the resumed run ends bit-identical to the straight one, and what
precise BN did (layers recomputed, whether their moving statistics moved)."""

import contextlib
import io
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main(data, out):
    import keras
    import numpy as np

    from kerascnn.training import callbacks
    from kerascnn.training.cli import main as fit

    seen = []
    real = callbacks.recompute_batchnorm

    def recompute(model, images, batch_size=64):
        bn = next(x for x in model._flatten_layers(include_self=False, recursive=True)
                  if isinstance(x, keras.layers.BatchNormalization))
        before = np.array(keras.ops.convert_to_numpy(bn.moving_mean))
        n = real(model, images, batch_size)
        after = np.array(keras.ops.convert_to_numpy(bn.moving_mean))
        seen.append({"layers": n, "images": len(images),
                     "moved": bool(np.abs(after - before).max() > 1e-6)})
        return n

    callbacks.recompute_batchnorm = recompute
    base = ["--model", "resnet20_cifar", "--n", "1", "--num-filters", "4", "--dataset", data,
            "--image-size", "16", "--batch-size", "16", "--deterministic", "--seed", "3",
            "--precise-bn", "32", "--schedule", "constant", "--verbose", "0"]
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        codes = [fit([*base, "--epochs", "2", "--output-dir", os.path.join(out, "ref")]),
                 fit([*base, "--epochs", "1", "--output-dir", os.path.join(out, "cut")]),
                 fit([*base, "--epochs", "2", "--resume", "--output-dir",
                      os.path.join(out, "cut")])]
    ref, cut = (json.load(open(os.path.join(out, d, "metrics.json"))) for d in ("ref", "cut"))
    a, b = (keras.saving.load_model(os.path.join(out, d, "model.keras")).get_weights()
            for d in ("ref", "cut"))
    same = len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))
    history = [open(os.path.join(out, d, "history.csv")).read() for d in ("ref", "cut")]
    print(json.dumps({
        "codes": codes, "backend": ref["backend"], "precise_bn_images": ref["precise_bn_images"],
        "resumed_from_epoch": cut.get("resumed_from_epoch"), "identical_weights": same,
        "identical_history": history[0] == history[1], "precise_bn": seen,
        "checkpoints": sorted(os.listdir(os.path.join(out, "ref", "checkpoints"))),
        "stderr": [line for line in err.getvalue().splitlines() if line.startswith("fit.py")],
    }))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
