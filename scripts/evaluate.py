#!/usr/bin/env python
"""Evaluate a trained model as the classic papers do: single crop, 10-crop, multi-scale, dense.

    python scripts/evaluate.py --model-path runs/r/best.keras --dataset signs \\
        --data-dir ../shared/data/signs/64x64_SIGNS --mode 10crop

The model is one that fit.py or tune.py saved: it takes raw images and holds its
preprocessing. Given a run directory, the model that its metrics.json describes
is scored. The data may hold just the scored split (a single ``test_*.h5``, a
folder of class subfolders). Images are converted to the model's channels as
predict.py converts them (grey <-> RGB). Writes ``eval.json`` (accuracy, mode,
scales, images) beside the model unless ``--output`` says where.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from kerascnn.cli import OneLineParser, positive_int  # noqa: E402

MODES = ("single", "10crop", "multiscale", "dense")


def _scales(text):
    import argparse

    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated sizes, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive sizes, got {text!r}")
    return values


def build_parser():
    p = OneLineParser(prog="evaluate.py", description=__doc__.splitlines()[0])
    p.add_argument("--model-path", required=True,
                   help="a .keras file, or a run directory (the model its metrics.json scored)")
    p.add_argument("--dataset", required=True, help="as fit.py's --dataset")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--mode", default="single", choices=MODES)
    p.add_argument("--scales", type=_scales, default=None,
                   help="test scales Q (shorter side), comma separated; default per mode")
    p.add_argument("--split", default="test", choices=("train", "val", "test"))
    p.add_argument("--image-size", type=int, default=None,
                   help="crop size (default: the network's input size)")
    p.add_argument("--batch-size", type=positive_int, default=32)
    p.add_argument("--seed", type=int, default=None, help="default: the run's seed, else 0")
    p.add_argument("--val-fraction", type=float, default=None,
                   help="default: the run's (the val split carved from train)")
    p.add_argument("--strict", action="store_true")
    p.add_argument("--output", default=None, help="default: eval.json beside the model")
    return p


def _model_path(path):
    """(model file, run metrics or {})."""
    import json

    run_dir = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    metrics = {}
    metrics_path = os.path.join(run_dir, "metrics.json")
    if os.path.isfile(metrics_path):
        try:
            with open(metrics_path, encoding="utf-8") as f:
                metrics = json.load(f)
        except (OSError, ValueError) as e:
            if not os.path.isdir(path):
                return path, {}  # the file was named: the run's defaults are not needed
            raise ValueError(f"{metrics_path} is unreadable ({type(e).__name__}); pass the "
                             "model file itself (--model-path RUN/best.keras).") from None
        if not isinstance(metrics, dict):
            if not os.path.isdir(path):
                return path, {}
            raise ValueError(f"{metrics_path} is not a kerascnn metrics file.")
    if os.path.isdir(path):
        from kerascnn.inference import run_model_name

        name = run_model_name(metrics_path, metrics.get("model_file"))  # a name, not a path
        path = os.path.join(path, name or "model.keras")
    return path, metrics


def _converted(x, channels, batch=256):
    """uint8 (N, H, W, C) images as float32 with ``channels``, converted as predict.py
    converts an image (grey <-> RGB, alpha dropped)."""
    import numpy as np

    from kerascnn.inference import to_channels

    out = np.empty(x.shape[:-1] + (channels,), np.float32)
    for start in range(0, len(x), batch):
        out[start:start + batch] = to_channels(x[start:start + batch].astype(np.float32),
                                               channels)
    return out


def _check_channels(path, model_channels, data_channels):
    """Images of ``data_channels`` can be given to a model of ``model_channels``."""
    if model_channels != data_channels and (model_channels not in (1, 3, 4)
                                            or data_channels not in (1, 2, 3, 4)):
        raise ValueError(f"{path} takes {model_channels}-channel images, the data has "
                         f"{data_channels} channels; only grey, grey + alpha, RGB and RGBA "
                         "images are converted to a model's 1, 3 or 4 channels")


def main(argv=None):
    args = build_parser().parse_args(argv)
    from kerascnn.cli import missing_extra

    problem = missing_extra("evaluate.py", ("tensorflow", "tensorflow_datasets"))
    if problem:
        print(f"evaluate.py: error: {problem}", file=sys.stderr)
        return 2
    try:
        path, metrics = _model_path(args.model_path)
    except ValueError as e:  # InferenceError too
        print(f"evaluate.py: error: {e}", file=sys.stderr)
        return 2
    if not os.path.isfile(path):
        print(f"evaluate.py: error: no model file {path}", file=sys.stderr)
        return 2
    import keras

    import kerascnn  # noqa: F401  (kerascnn's layers, for loading)
    from kerascnn.data import DataError
    from kerascnn.data.evaluation import evaluate
    from kerascnn.training.config import ConfigError, FitConfig
    from kerascnn.training.data import prepare_data
    from kerascnn.training.model import preprocessing_of
    from kerascnn.training.report import score
    from kerascnn.utils.io import write_json_atomic

    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as e:  # noqa: BLE001  (zip, h5 and deserialization errors alike)
        print(f"evaluate.py: error: cannot load {path}: {type(e).__name__}: "
              f"{str(e).splitlines()[0][:160] if str(e) else 'unreadable'} (a truncated or "
              "foreign file?)", file=sys.stderr)
        return 2
    prep = preprocessing_of(model)
    if prep is None:
        print(f"evaluate.py: error: {path} has no preprocessing layers (it was not saved by "
              "fit.py or tune.py of this version); retrain it with scripts/fit.py.",
              file=sys.stderr)
        return 2
    size = args.image_size or prep["size"]
    config = FitConfig(dataset=args.dataset, data_dir=args.data_dir, strict=args.strict,
                       seed=args.seed if args.seed is not None else metrics.get("seed", 0),
                       val_fraction=(args.val_fraction if args.val_fraction is not None
                                     else metrics.get("val_fraction", 0.1)))
    try:
        require = ("train", "val") if args.split == "val" else (args.split,)
        data = prepare_data(config, require=require)
        channels, have = prep["input_shape"][-1], data.image_shape[-1]
        _check_channels(path, channels, have)
        if args.mode == "single" and args.scales is None and size == prep["size"]:
            ds = data.eval_dataset(args.split, batch_size=args.batch_size, size=size)
            if channels != have:
                from kerascnn.inference import to_channels

                ds = ds.map(lambda x, *rest: (to_channels(x, channels), *rest))
            result = {"mode": "single", "images": data.info.split_sizes[args.split]}
            scored = score(model, ds, data.labels(args.split), data.num_classes)
            result.update({k: v for k, v in scored.items() if k != "predicted"})
        else:
            x, y = data.data.split(args.split) if data.data.in_memory else (
                data.data.sample(args.split, 10 ** 9), data.labels(args.split))
            if channels != have:
                x = _converted(x, channels)
            result = evaluate(model, x, y, args.mode, image_size=size, scales=args.scales,
                              batch_size=args.batch_size)
    except (DataError, ConfigError, ValueError) as e:
        print(f"evaluate.py: error: {e}", file=sys.stderr)
        return 2
    result.update({"model_path": os.path.abspath(path), "dataset": args.dataset,
                   "split": args.split, "image_size": int(size), "scales": args.scales})
    out = args.output or os.path.join(os.path.dirname(os.path.abspath(path)), "eval.json")
    write_json_atomic(out, result)
    print(f"{args.mode} accuracy of {os.path.basename(path)} on {args.dataset} {args.split}: "
          f"{result['accuracy']:.4f} ({result['images']} images) -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
