#!/usr/bin/env python
"""Top classes of a trained model, or of pretrained weights, for image files: one line per image.

    python scripts/predict.py --model-path runs/r/best.keras photo.jpg more_photos/ \\
        --top-k 3 --json predictions.json
    python scripts/predict.py --model resnet50_tv --weights imagenet photo.jpg

With ``--model NAME --weights TAG|FILE`` the images go through the weight set's own
evaluation transform (its publisher's resize, centre crop and normalization; a
checkpoint FILE takes the model's default set's) and ImageNet sets' classes are named
(``decode_predictions``: WordNet id and name).

The model is one that fit.py or tune.py saved (a .keras file, or a run
directory: the model its metrics.json describes); it takes raw images and holds
its preprocessing and class names. Folders are walked recursively for PNG, JPEG,
GIF and BMP files, in sorted order. Each image is decoded to the model's
channels; a model with a fixed input size gets it resized with the largest
central crop of that aspect, a resizing model gets it as it is. Unreadable files
are reported on stderr one line each and skipped: the exit status is then 1. So
are files that are not regular files (a FIFO, a link to a device) and images
whose header gives more pixels than --max-pixels. The --json destination is
checked before anything is predicted.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from kerascnn.cli import OneLineParser, positive_int  # noqa: E402
from kerascnn.inference import MAX_PIXELS  # noqa: E402

PROG = "predict.py"


def build_parser():
    p = OneLineParser(prog=PROG, description=__doc__.splitlines()[0])
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--model-path",
                       help="a .keras file saved by fit.py or tune.py, or a run directory")
    which.add_argument("--model", metavar="NAME",
                       help="a registered model name, with --weights (pretrained weights)")
    p.add_argument("--weights", default="imagenet", metavar="TAG|FILE",
                   help="with --model: a weight set tag or a .pth/.safetensors checkpoint "
                        "(default: imagenet)")
    p.add_argument("images", nargs="+", metavar="IMAGE_OR_DIR",
                   help="image files and folders (walked recursively)")
    p.add_argument("--top-k", type=positive_int, default=5,
                   help="classes shown per image (at most the model's classes)")
    p.add_argument("--json", default=None, metavar="FILE",
                   help="also write the predictions as JSON to FILE")
    p.add_argument("--batch-size", type=positive_int, default=32)
    p.add_argument("--max-pixels", type=positive_int, default=MAX_PIXELS,
                   help="images with more pixels (width x height, read from the file's "
                        "header) are refused before they are decoded")
    return p


def check_destination(path):
    """None if a file can be written at ``path`` (missing folders are made), else why not."""
    if os.path.isdir(path):
        return f"--json {path} is a directory; give a file name"
    if os.path.exists(path) and not os.path.isfile(path):
        return f"--json {path} exists and is not a regular file; give a file name"
    folder = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(folder):
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    if not os.path.isdir(folder):
        return f"--json {path}: {folder} is a file, not a folder"
    if not os.access(folder, os.W_OK | os.X_OK):
        return (f"--json {path}: the folder {folder} is not writable (read-only or no "
                "permission)")
    return None


def format_line(result) -> str:
    return f"{result['file']}: " + ", ".join(
        f"{t['class']} {t['probability']:.4f}" for t in result["top_k"])


def predict_pretrained(args):
    """``(results, unreadable)`` of ``--model NAME --weights TAG|FILE``."""
    import numpy as np

    import kerascnn
    from kerascnn.inference import InferenceError, list_images, top_k
    from kerascnn.preprocessing import imagenet_classes
    from kerascnn.weights.core import weight_sets
    from kerascnn.weights.loading import resolve_weights
    from kerascnn.weights.transform import load_batch

    name = kerascnn.api.get_spec(args.model).name
    try:
        kind, value = resolve_weights(name, args.weights, argument="--weights")
    except ValueError as e:
        raise InferenceError(str(e)) from None
    sets = weight_sets(name)
    ws = value if kind == "tag" else sets.get("imagenet") or next(iter(sets.values()), None)
    if ws is None:
        raise InferenceError(f"{name} has no weight set whose transform to use")
    try:
        model = kerascnn.create_model(name, weights=args.weights)
    except ValueError as e:
        raise InferenceError(str(e)) from None
    units = int(model.outputs[0].shape[-1])
    names = [f"{wnid} {label}" for wnid, label in imagenet_classes()] if units == 1000 \
        else [f"class {i}" for i in range(units)]
    files = list_images(args.images)
    results, unreadable = [], []
    for start in range(0, len(files), args.batch_size):
        chunk = files[start:start + args.batch_size]
        x, kept, errors = load_batch(chunk, list(range(len(chunk))), ws)
        for line in errors:
            unreadable.append(line)
            print(f"{PROG}: {line}", file=sys.stderr, flush=True)
        if not len(x):
            continue
        probabilities = np.asarray(model.predict_on_batch(x), np.float32)
        results.extend({"file": chunk[i], "top_k": top_k(p, names, args.top_k)}
                       for i, p in zip(kept, probabilities))
    return results, unreadable


def main(argv=None):
    args = build_parser().parse_args(argv)
    problem = check_destination(args.json) if args.json is not None else None
    if problem:
        print(f"{PROG}: error: {problem}", file=sys.stderr)
        return 2
    if args.model is not None:
        from kerascnn.inference import InferenceError, list_images

        if not list_images(args.images):
            print(f"{PROG}: error: no image files (PNG, JPEG, GIF, BMP) in "
                  f"{', '.join(args.images)}", file=sys.stderr)
            return 2
        try:
            results, unreadable = predict_pretrained(args)
        except (InferenceError, ValueError) as e:
            print(f"{PROG}: error: {e}", file=sys.stderr)
            return 2
        return _finish(args, results, unreadable)
    from kerascnn.inference import InferenceError, list_images, load_trained, predict_files

    if not list_images(args.images):
        print(f"{PROG}: error: no image files (PNG, JPEG, GIF, BMP) in "
              f"{', '.join(args.images)}", file=sys.stderr)
        return 2
    try:
        model = load_trained(args.model_path)
        if not any(layer.name == "preprocess_normalize" for layer in model.layers):
            print(f"{PROG}: note: {args.model_path} has no preprocessing layers (not saved by "
                  "fit.py or tune.py); it is given the raw 0-255 pixels", file=sys.stderr)
        results, unreadable = predict_files(
            model, args.images, top=args.top_k, batch_size=args.batch_size,
            max_pixels=args.max_pixels,
            on_error=lambda message: print(f"{PROG}: {message}", file=sys.stderr, flush=True))
    except InferenceError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    return _finish(args, results, unreadable)


def _finish(args, results, unreadable):
    for result in results:
        print(format_line(result))
    if args.json is not None:
        from kerascnn.utils.io import write_json_atomic

        try:
            write_json_atomic(args.json, results)
        except OSError as e:
            print(f"{PROG}: error: cannot write --json {args.json}: "
                  f"{e.strerror or type(e).__name__} (the predictions are printed above)",
                  file=sys.stderr)
            return 2
    return 1 if unreadable else 0


if __name__ == "__main__":
    sys.exit(main())
