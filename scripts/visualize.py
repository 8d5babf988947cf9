#!/usr/bin/env python
"""See what a trained model looks at: Grad-CAM, saliency, occlusion, feature maps, filters.

    python scripts/visualize.py --model-path runs/r/model.keras --method gradcam \
        --out viz/ images/cat.jpg images/dog.png

Methods: ``gradcam`` (Selvaraju et al. 2017, "Grad-CAM"), ``saliency`` (Simonyan et al. 2014,
"Deep Inside Convolutional Networks"), ``occlusion`` (Zeiler & Fergus 2014, "Visualizing and
Understanding Convolutional Networks"), ``feature_maps`` (a layer's activations) and
``filters`` (a convolution's kernels; needs no image). Each image is resized to the model's
input size and fed as pixel values 0-255 (the model's own preprocessing layers do the rest);
``--rescale``, ``--mean`` and ``--std`` feed ``(x * rescale - mean) / std`` instead.
Writes one PNG per image (``STEM_METHOD.png``) under ``--out`` and nothing anywhere else.
Exit status 1 if an image could not be read (each reported on one line), 2 on bad arguments.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

METHODS = ("gradcam", "saliency", "occlusion", "feature_maps", "filters")


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _floats(text):
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}")
    return values


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def build_parser():
    p = _OneLineParser(prog="visualize.py", description=__doc__.splitlines()[0])
    p.add_argument("--model-path", required=True, help="a saved model (.keras)")
    p.add_argument("--method", required=True, choices=METHODS)
    p.add_argument("--layer", default=None,
                   help="layer name (gradcam: default the last spatial layer; required for "
                        "feature_maps and filters)")
    p.add_argument("--class-index", type=int, default=None,
                   help="class to explain (default: the predicted class)")
    p.add_argument("--patch", type=_positive_int, default=None,
                   help="occlusion: side of the gray square (default: 1/8 of the image)")
    p.add_argument("--stride", type=_positive_int, default=None,
                   help="occlusion: step of the square (default: half the patch)")
    p.add_argument("--max-maps", type=_positive_int, default=64,
                   help="feature_maps / filters: at most this many panels")
    p.add_argument("--rescale", type=float, default=1.0, help="multiply pixels (0-255) by this")
    p.add_argument("--mean", type=_floats, default=None, help="subtract, per channel")
    p.add_argument("--std", type=_floats, default=None, help="divide by, per channel")
    p.add_argument("--out", required=True, help="directory for the PNGs")
    p.add_argument("images", nargs="*", metavar="IMAGE", help="image files")
    return p


def _check(args, parser):
    if not os.path.isfile(args.model_path):
        parser.error(f"no model file {args.model_path}")
    if args.method != "filters" and not args.images:
        parser.error(f"--method {args.method} needs at least one IMAGE")
    if args.method in ("feature_maps", "filters") and not args.layer:
        parser.error(f"--method {args.method} needs --layer NAME")
    if args.class_index is not None and args.class_index < 0:
        parser.error(f"--class-index must be >= 0, got {args.class_index}")


def _load_image(path, size, channels):
    import keras
    import numpy as np

    color_mode = "grayscale" if channels == 1 else "rgb"
    image = keras.utils.load_img(path, color_mode=color_mode, target_size=size)
    return np.asarray(keras.utils.img_to_array(image), dtype="float32")


def _out_path(out_dir, stem, method, used):
    name = f"{stem}_{method}"
    if name in used:
        name = f"{name}_{len(used)}"
    used.add(name)
    return os.path.join(out_dir, f"{name}.png")


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    _check(args, parser)

    import keras
    import numpy as np

    import kerascnn  # noqa: F401  (registers the custom layers before loading)
    from kerascnn import visualize as viz

    try:
        model = keras.saving.load_model(args.model_path, compile=False)
    except Exception as e:  # noqa: BLE001  (any load failure is reported on one line)
        print(f"visualize.py: error: cannot load {args.model_path}: "
              f"{str(e).splitlines()[0] if str(e) else type(e).__name__}", file=sys.stderr)
        return 2
    os.makedirs(args.out, exist_ok=True)
    try:
        if args.method == "filters":
            kernels = viz.filters(model, args.layer)[:args.max_maps]
            path = viz.save_grid(kernels, os.path.join(args.out, f"filters_{args.layer}.png"),
                                 title=f"{args.layer}: {len(kernels)} filters")
            print(path)
            return 0
        size = tuple(model.inputs[0].shape[1:3])
        size = None if None in size else size
        channels = model.inputs[0].shape[-1]
        failed, used = 0, set()
        for file in args.images:
            try:
                image = _load_image(file, size, channels)
            except Exception as e:  # noqa: BLE001  (unreadable files are skipped)
                print(f"visualize.py: cannot read {file}: {e}", file=sys.stderr)
                failed += 1
                continue
            x = image * args.rescale
            if args.mean is not None:
                x = x - np.asarray(args.mean, dtype="float32")
            if args.std is not None:
                x = x / np.asarray(args.std, dtype="float32")
            stem = os.path.splitext(os.path.basename(file))[0]
            path = _out_path(args.out, stem, args.method, used)
            path = _run(viz, model, args, image, x, path)
            print(path)
        return 1 if failed else 0
    except ValueError as e:
        print(f"visualize.py: error: {e}", file=sys.stderr)
        return 2


def _run(viz, model, args, image, x, path):
    import numpy as np

    out = model.predict(x[None], verbose=0)
    out = out[0] if isinstance(out, (list, tuple)) else out
    cls = int(np.argmax(out[0])) if args.class_index is None else args.class_index
    title = f"class {cls}"
    if args.method == "gradcam":
        layer = args.layer or viz.default_layer(model)
        heat = viz.grad_cam(model, x, cls, layer_name=layer)[0]
        return viz.overlay(image, heat, path, title=f"Grad-CAM ({layer}), {title}")
    if args.method == "saliency":
        heat = viz.saliency(model, x, cls)[0]
        return viz.overlay(image, heat, path, title=f"saliency, {title}")
    if args.method == "occlusion":
        side = min(x.shape[:2])
        patch = args.patch or max(side // 8, 1)
        stride = args.stride or max(patch // 2, 1)
        heat = viz.occlusion_sensitivity(model, x, cls, patch=patch, stride=stride)
        return viz.overlay(image, heat, path,
                           title=f"occlusion {patch}px/{stride}px: probability drop, {title}")
    maps = viz.feature_maps(model, x, args.layer)
    panels = np.moveaxis(maps, -1, 0)[:args.max_maps]
    return viz.save_grid(panels, path, title=f"{args.layer}: {len(panels)} of "
                                             f"{maps.shape[-1]} maps")


if __name__ == "__main__":
    sys.exit(main())
