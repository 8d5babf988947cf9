#!/usr/bin/env python
"""See what a trained model looks at: Grad-CAM, saliency, occlusion, feature maps, filters.

    python scripts/visualize.py --model-path runs/r --method gradcam \
        --out viz/ images/cat.jpg images/dog.png
    python scripts/visualize.py --augment randaugment:2:9 --dataset signs \
        --data-dir ../shared/data/signs/64x64_SIGNS --out viz/

``--augment SPEC`` (no model) shows what a model is fed instead: a grid of the first
``--rows`` training images of ``--dataset`` (rows), each as read (first column) and as the
``--augment`` layers of fit.py make it in epochs 0, 1, ... (``--draws`` columns; the seed of
epoch e is the one fit.py's batch 0 of epoch e uses under ``--seed``), at ``--image-size``
(default: the images' own), shown unscaled. Writes ``augment_SPEC.png`` under ``--out``.

Methods: ``gradcam`` (Selvaraju et al. 2017, "Grad-CAM"), ``saliency`` (Simonyan et al. 2014,
"Deep Inside Convolutional Networks"), ``occlusion`` (Zeiler & Fergus 2014, "Visualizing and
Understanding Convolutional Networks"), ``feature_maps`` (a layer's activations) and
``filters`` (a convolution's kernels; needs no image). Each image is resized to the model's
input size and fed as pixel values 0-255 (the model's own preprocessing layers do the rest);
``--rescale``, ``--mean`` and ``--std`` feed ``(x * rescale - mean) / std`` instead.
``--model-path`` is a .keras file or a run directory (the model its metrics.json describes),
as for predict.py. Grad-CAM's default layer is the deepest map of at least 7x7 (a note on
stderr says when none is). Figures are titled with the class names the model carries
(``class I`` without them). Writes one PNG per image (``STEM_METHOD.png``) under ``--out``
and nothing anywhere else.
Exit status 1 if an image could not be read (each reported on one line), 2 on bad arguments.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from kerascnn.cli import OneLineParser, positive_int  # noqa: E402

METHODS = ("gradcam", "saliency", "occlusion", "feature_maps", "filters")


def _floats(text):
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}")
    return values


def build_parser():
    p = OneLineParser(prog="visualize.py", description=__doc__.splitlines()[0])
    p.add_argument("--model-path", default=None,
                   help="a .keras file (saved by fit.py or tune.py, or any model), or a run "
                        "directory (required unless --augment)")
    p.add_argument("--method", default=None, choices=METHODS,
                   help="required unless --augment")
    p.add_argument("--layer", default=None,
                   help="layer name (gradcam: default the deepest map of at least 7x7; "
                        "required for feature_maps and filters)")
    p.add_argument("--class-index", type=int, default=None,
                   help="class to explain (default: the predicted class)")
    p.add_argument("--patch", type=positive_int, default=None,
                   help="occlusion: side of the gray square (default: 1/8 of the image)")
    p.add_argument("--stride", type=positive_int, default=None,
                   help="occlusion: step of the square (default: half the patch)")
    p.add_argument("--max-maps", type=positive_int, default=64,
                   help="feature_maps / filters: at most this many panels")
    p.add_argument("--rescale", type=float, default=1.0, help="multiply pixels (0-255) by this")
    p.add_argument("--mean", type=_floats, default=None, help="subtract, per channel")
    p.add_argument("--std", type=_floats, default=None, help="divide by, per channel")
    p.add_argument("--out", required=True, help="directory for the PNGs")
    a = p.add_argument_group("augmented training images (--augment; no model)")
    a.add_argument("--augment", default=None, metavar="SPEC",
                   help="an --augment value of fit.py (preset or comma list, e.g. "
                        "randaugment:2:9,random_erasing:0.25)")
    a.add_argument("--dataset", default=None,
                   help="the data set whose training images are shown (as fit.py's --dataset)")
    a.add_argument("--data-dir", default=None, help="its folder (as fit.py's --data-dir)")
    a.add_argument("--image-size", type=positive_int, default=None,
                   help="side of the augmented images (default: the images' own)")
    a.add_argument("--rows", type=positive_int, default=8,
                   help="rows: the first ROWS training images")
    a.add_argument("--draws", type=positive_int, default=6,
                   help="columns: augmented versions (epochs 0, 1, ...) of each image")
    a.add_argument("--seed", type=int, default=0, help="fit.py's --seed")
    p.add_argument("images", nargs="*", metavar="IMAGE", help="image files")
    return p


def _check(args, parser):
    if args.augment is not None:
        if args.model_path or args.method or args.images:
            parser.error("--augment shows training images: give it without --model-path, "
                         "--method or IMAGE files")
        if not args.dataset:
            parser.error("--augment needs --dataset NAME (and --data-dir DIR)")
        return
    if not args.model_path or not args.method:
        parser.error("--model-path and --method are required (or --augment SPEC --dataset "
                     "NAME to see augmented training images)")
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


def _error(message) -> int:
    print(f"visualize.py: error: {message}", file=sys.stderr)
    return 2


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    _check(args, parser)
    if args.augment is not None:
        return _augment_grid(args)
    from kerascnn.inference import InferenceError, class_names_of, load_trained, model_file

    try:
        model_file(args.model_path)  # before keras loads: a wrong path fails at once
        model = load_trained(args.model_path)
    except InferenceError as e:
        return _error(e)
    from kerascnn import visualize as viz

    os.makedirs(args.out, exist_ok=True)
    try:
        if args.method == "filters":
            kernels = viz.filters(model, args.layer)[:args.max_maps]
            path = viz.save_grid(kernels, os.path.join(args.out, f"filters_{args.layer}.png"),
                                 title=f"{args.layer}: {len(kernels)} filters")
            print(path)
            return 0
        return _each_image(viz, model, args, class_names_of(model))
    except ValueError as e:
        return _error(e)


def _each_image(viz, model, args, names):
    import numpy as np

    size = tuple(model.inputs[0].shape[1:3])
    size = None if None in size else size
    channels = model.inputs[0].shape[-1]
    failed, used, layers = 0, set(), {}
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
        print(_run(viz, model, args, image, x, path, names, layers))
    return 1 if failed else 0


def _gradcam_layer(viz, model, args, size, layers):
    """--layer, or the default layer at the image's size (one note per size at most)."""
    if args.layer:
        return args.layer
    if size not in layers:
        layers[size] = viz.default_layer(model, size, on_note=lambda note: print(
            f"visualize.py: note: {note}", file=sys.stderr))
    return layers[size]


def _class_label(names, index) -> str:
    name = names[index] if 0 <= index < len(names) else f"class {index}"
    return name if name == f"class {index}" else f"{name} (class {index})"


def _run(viz, model, args, image, x, path, names, layers):
    import numpy as np

    out = model.predict(x[None], verbose=0)
    out = out[0] if isinstance(out, (list, tuple)) else out
    cls = int(np.argmax(out[0])) if args.class_index is None else args.class_index
    title = _class_label(names, cls)
    if args.method == "gradcam":
        layer = _gradcam_layer(viz, model, args, tuple(x.shape[:2]), layers)
        heat = viz.grad_cam(model, x, cls, layer=layer)[0]
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


def _augment_grid(args) -> int:
    """The grid of ``--augment``: rows of training images, as read then augmented."""
    import re

    import numpy as np

    from kerascnn.data import DataError, load
    from kerascnn.data.plan import AugmentPlan

    try:
        plan = AugmentPlan.parse(args.augment)
    except ValueError as e:
        return _error(f"--augment: {e}")
    try:
        data = load(args.dataset, args.data_dir, require=("train",))
        images, labels = data.split("train")
    except DataError as e:
        return _error(e)
    except TypeError:  # a streamed split: no arrays to index
        return _error(f"--augment shows in-memory data sets; {args.dataset} is streamed.")
    images, labels = np.asarray(images[:args.rows]), np.asarray(labels[:args.rows])
    size = ((args.image_size,) * 2 if args.image_size else tuple(images.shape[1:3]))
    grid = augmented_grid(images, labels, plan, size, args.draws, args.seed,
                          num_classes=len(data.info.class_names))
    from kerascnn import visualize as viz

    os.makedirs(args.out, exist_ok=True)
    slug = re.sub(r"[^a-z0-9_.]+", "-", plan.spec.lower()).strip("-") or "none"
    titles = ["as read"] + [f"epoch {e}" for e in range(args.draws)]
    titles += [""] * (len(grid) - len(titles))
    path = viz.save_grid(grid, os.path.join(args.out, f"augment_{slug}.png"),
                         ncols=args.draws + 1, titles=titles, rescale=False,
                         title=f"--augment {plan.spec} ({data.info.name}, seed {args.seed})")
    print(path)
    return 0


def augmented_grid(images, labels, plan, size, draws, seed, num_classes):
    """(rows * (draws + 1), h, w, c) panels in [0, 1]: each image resized to ``size``,
    then augmented with the seed of batch 0 of epochs 0..draws-1 (as fit.py's pipeline)."""
    import numpy as np
    import tensorflow as tf

    from kerascnn.data.augment import apply_augmentation, build_augmentation, pca_lighting_stats
    from kerascnn.data.pipeline import _epoch_seed

    pca = pca_lighting_stats(images, seed=seed) if plan.needs_pca else None
    layers = build_augmentation(plan, size, pca=pca, seed=seed)
    x = tf.constant(images, tf.float32) / 255.0
    if x.shape[-1] == 1 and any(getattr(la, "needs_rgb", False) or la.name in
                                ("lighting", "saturation") for la in layers):
        x = tf.repeat(x, 3, axis=-1)
    y = tf.one_hot(labels, num_classes)
    columns = [tf.image.resize(x, size)]
    for e in range(draws):
        batch_seed = tf.random.experimental.stateless_fold_in(
            _epoch_seed(seed, tf.constant(e, tf.int64)), 0)
        columns.append(apply_augmentation(layers, x, y, batch_seed, size)[0])
    panels = np.stack([c.numpy() for c in columns], axis=1)  # (rows, draws + 1, h, w, c)
    return np.clip(panels.reshape((-1,) + panels.shape[2:]), 0.0, 1.0)


if __name__ == "__main__":
    sys.exit(main())
