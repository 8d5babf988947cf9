#!/usr/bin/env python
"""Evaluate a trained model as the seeds describe: single crop, 10-crop, multi-scale, dense.

    python scripts/evaluate.py --model-path runs/r/model.keras --dataset signs \
        --data-dir ../shared/data/signs/64x64_SIGNS --mode 10crop

Writes ``eval.json`` (accuracy, mode, scales, images) beside the model unless
``--output`` says where. The normalisation is the run's (``metrics.json`` beside
the model) or, without it, the training split's per-channel statistics.
"""

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _scales(text):
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated sizes, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive sizes, got {text!r}")
    return values


def build_parser():
    from kerascnn.data.evaluation import MODES

    p = _OneLineParser(prog="evaluate.py", description=__doc__.splitlines()[0])
    p.add_argument("--model-path", required=True, help="model.keras (or its run directory)")
    p.add_argument("--dataset", required=True, help="as fit.py's --dataset")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--mode", default="single", choices=MODES)
    p.add_argument("--scales", type=_scales, default=None,
                   help="test scales Q (shorter side), comma separated; default per mode")
    p.add_argument("--split", default="test", choices=("train", "val", "test"))
    p.add_argument("--image-size", type=int, default=None,
                   help="crop size (default: the model's input size)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seed", type=int, default=None, help="default: the run's seed, else 0")
    p.add_argument("--val-fraction", type=float, default=None)
    p.add_argument("--strict", action="store_true")
    p.add_argument("--output", default=None, help="default: eval.json beside the model")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    import keras
    import numpy as np

    from kerascnn.data import DataError, channel_stats, load_source
    from kerascnn.data.evaluation import evaluate
    from kerascnn.utils.io import write_json_atomic

    path = args.model_path
    if os.path.isdir(path):
        path = os.path.join(path, "model.keras")
    if not os.path.isfile(path):
        print(f"evaluate.py: error: no model file {path}", file=sys.stderr)
        return 2
    run_dir = os.path.dirname(os.path.abspath(path))
    metrics = {}
    if os.path.isfile(os.path.join(run_dir, "metrics.json")):
        with open(os.path.join(run_dir, "metrics.json")) as f:
            metrics = json.load(f)
    seed = args.seed if args.seed is not None else metrics.get("seed", 0)
    val_fraction = (args.val_fraction if args.val_fraction is not None
                    else metrics.get("val_fraction", 0.1))
    model = keras.models.load_model(path)
    size = args.image_size or model.input.shape[1]
    channels = model.input.shape[-1]
    try:
        source = load_source(args.dataset, args.data_dir, val_fraction, seed, strict=args.strict)
        if args.split not in source.splits:
            raise DataError(f"{args.dataset} has no {args.split} split.")
        norm = metrics.get("normalization")
        if norm:
            mean = np.asarray(norm["mean"], np.float32)
            std = np.asarray(norm["std"], np.float32)
        else:
            mean, std = channel_stats(source.splits["train"][0], channels)
        x, y = source.splits[args.split]
        result = evaluate(model, x, y, args.mode, image_size=size, mean=mean, std=std,
                          channels=channels, scales=args.scales, batch_size=args.batch_size)
    except (DataError, ValueError) as e:
        print(f"evaluate.py: error: {e}", file=sys.stderr)
        return 2
    result.update({"model_path": os.path.abspath(path), "dataset": args.dataset,
                   "split": args.split, "image_size": int(size), "scales": args.scales})
    out = args.output or os.path.join(run_dir, "eval.json")
    write_json_atomic(out, result)
    print(f"{args.mode} accuracy on {args.dataset} {args.split}: {result['accuracy']:.4f} "
          f"({result['images']} images) -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
