#!/usr/bin/env python
"""Evaluate a trained model as the classic papers do (single crop, 10-crop, multi-scale, dense), or a pretrained weight set on ImageNet-style validation data.

    python scripts/evaluate.py --model-path runs/r/best.keras --dataset signs \\
        --data-dir ../shared/data/signs/64x64_SIGNS --mode 10crop
    python scripts/evaluate.py --model resnet50_tv --weights imagenet \\
        --data ~/imagenet/val --results-csv docs/pretrained_results.csv

Pretrained (``--model NAME --weights TAG|FILE --data DIR``): DIR holds one folder per
WordNet id, or the flat ``ILSVRC2012_val_*.JPEG`` with a ground-truth file
(``--ground-truth``; see kerascnn/data/imagenet.py). Each image goes through the weight
set's own evaluation transform (its publisher's resize, centre crop and normalization;
a FILE takes the model's default set's), decoded in ``--workers`` processes; top-1 and
top-5 are printed with their 95 % intervals and the published figures, and with
``--results-csv`` appended there as a row. Unreadable images are one line each and left
out (exit status 1); a folder without images, unknown WordNet ids or a ground truth that
does not match the images stop it before any work.

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
    p.add_argument("--model-path", default=None,
                   help="a .keras file, or a run directory (the model its metrics.json "
                        "scored); needs --dataset")
    p.add_argument("--dataset", default=None, help="as fit.py's --dataset")
    g = p.add_argument_group("pretrained weights on ImageNet-style validation data")
    g.add_argument("--model", default=None, metavar="NAME",
                   help="a registered model name (instead of --model-path)")
    g.add_argument("--weights", default="imagenet", metavar="TAG|FILE",
                   help="a weight set tag of the model, or a downloaded .pth/.safetensors "
                        "checkpoint (default: imagenet)")
    g.add_argument("--data", default=None, metavar="DIR",
                   help="WordNet-id folders, or a flat folder of ILSVRC2012_val_*.JPEG")
    g.add_argument("--ground-truth", default=None, metavar="FILE",
                   help="labels of a flat folder: LOC_val_solution.csv or 'FILE WNID' lines")
    g.add_argument("--limit", type=positive_int, default=None,
                   help="score only the first N images")
    g.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1),
                   help="processes decoding images (0: in the main process)")
    g.add_argument("--results-csv", default=None, metavar="PATH",
                   help="append the result as a row to this CSV")
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


def _pretrained_weight_set(name, weights):
    """``(model name, WeightSet whose transform is used, weights label)``."""
    from kerascnn.api import get_spec
    from kerascnn.weights.core import weight_sets
    from kerascnn.weights.loading import resolve_weights

    name = get_spec(name).name
    kind, value = resolve_weights(name, weights, argument="--weights")
    if kind == "tag":
        return name, value, value.tag
    if kind != "checkpoint":
        raise ValueError(f"--weights {weights}: evaluate.py --model takes a weight set tag or "
                         "a .pth/.safetensors checkpoint, not a keras file")
    sets = weight_sets(name)
    ws = sets.get("imagenet") or (next(iter(sets.values())) if len(sets) == 1 else None)
    if ws is None:
        raise ValueError(f"--weights {weights}: {name} has no default weight set whose "
                         "transform to use")
    return name, ws, os.path.basename(value)


def main_pretrained(args) -> int:
    import datetime

    from kerascnn.data import DataError
    from kerascnn.data.imagenet import (
        append_result,
        check_results_csv,
        find_validation,
        result_row,
        validate,
    )

    prog = "evaluate.py"
    if args.model_path is not None or args.dataset is not None:
        print(f"{prog}: error: --model (pretrained weights) and --model-path/--dataset (a "
              "trained run) are two modes; give one", file=sys.stderr)
        return 2
    if args.data is None:
        print(f"{prog}: error: --model needs --data DIR (ImageNet-style validation images)",
              file=sys.stderr)
        return 2
    try:
        name, ws, label = _pretrained_weight_set(args.model, args.weights)
        if ws.classes != 1000:
            raise ValueError(f"{name}'s {ws.tag} set has {ws.classes} classes; --data "
                             "validates ImageNet-1k (1,000-class) weight sets")
        if args.results_csv is not None:
            check_results_csv(args.results_csv)
        paths, labels, layout = find_validation(args.data, args.ground_truth, args.limit)
    except (DataError, ValueError) as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    import keras

    import kerascnn

    print(f"{prog}: {name} --weights {label}: {len(paths)} images ({layout}); transform: "
          f"{ws.transform}; {max(args.workers, 0)} loader processes", flush=True)
    try:
        model = kerascnn.create_model(name, weights=args.weights, classifier_activation=None)
    except ValueError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    result = validate(model, paths, labels, ws, batch_size=args.batch_size,
                      workers=max(args.workers, 0),
                      on_error=lambda line: print(f"{prog}: {line}", file=sys.stderr,
                                                  flush=True))

    def published(ours, theirs):
        return "" if theirs is None else f" (published {theirs:.3f}, difference " \
                                         f"{ours - theirs:+.3f})"

    print(f"top-1 {result['top1']:.3f} % (95 % interval {result['top1_interval'][0]:.3f}-"
          f"{result['top1_interval'][1]:.3f}){published(result['top1'], ws.top1)}")
    print(f"top-5 {result['top5']:.3f} % (95 % interval {result['top5_interval'][0]:.3f}-"
          f"{result['top5_interval'][1]:.3f}){published(result['top5'], ws.top5)}")
    print(f"{result['images']} images scored, {result['unreadable']} unreadable; "
          f"{result['images_per_second']:.1f} images/s end to end, the network alone "
          f"{result['model_images_per_second']:.1f} images/s; waited "
          f"{result['wait_seconds']:.1f} s of {result['seconds']:.1f} s for the loader")
    if args.results_csv is not None:
        row = result_row(name, label, ws, result, layout, keras.backend.backend(),
                         datetime.date.today().isoformat())
        try:
            append_result(args.results_csv, row)
        except OSError as e:
            print(f"{prog}: error: cannot write --results-csv {args.results_csv}: "
                  f"{e.strerror or type(e).__name__} (the result is printed above)",
                  file=sys.stderr)
            return 2
        print(f"-> {args.results_csv}")
    return 1 if result["unreadable"] else 0


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.model is not None:
        return main_pretrained(args)
    if args.model_path is None or args.dataset is None:
        print("evaluate.py: error: give --model-path and --dataset (a trained run), or "
              "--model and --data (pretrained weights)", file=sys.stderr)
        return 2
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
