#!/usr/bin/env python
"""Export a trained model for serving: TensorFlow SavedModel, TFLite or ONNX.

    python scripts/export.py --model-path runs/r/best.keras --format onnx --output model.onnx

The exported model takes what the Keras model takes, raw images as float32
0-255 of shape (batch, H, W, C), and gives the class probabilities (main output,
inference mode). A model whose input is (None, None, C) resizes images itself
and is exported with that dynamic shape; --input-size H W fixes it. The output
(a SavedModel directory, a .tflite or .onnx file) is written atomically. ONNX
needs the export extra: pip install "kerascnn[export]".
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from kerascnn.cli import OneLineParser, positive_int  # noqa: E402

PROG = "export.py"
FORMATS = ("saved_model", "tflite", "onnx")  # kerascnn.export.FORMATS, without importing TF


def build_parser():
    p = OneLineParser(prog=PROG, description=__doc__.splitlines()[0])
    p.add_argument("--model-path", required=True,
                   help="a .keras file saved by fit.py or tune.py, or a run directory")
    p.add_argument("--format", required=True, choices=FORMATS)
    p.add_argument("--output", required=True,
                   help="the SavedModel directory, or the .tflite / .onnx file")
    p.add_argument("--input-size", type=positive_int, nargs=2, default=None,
                   metavar=("H", "W"),
                   help="fixed input size for a model whose input is (None, None, C) "
                        "(default: dynamic)")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    from kerascnn.cli import missing_extra

    problem = missing_extra(PROG, ("tensorflow",), extra="export")
    if problem:
        print(f"{PROG}: error: {problem}", file=sys.stderr)
        return 2
    from kerascnn.export import ExportError, export_model, require_onnx
    from kerascnn.inference import InferenceError, load_trained

    try:
        if args.format == "onnx":
            require_onnx()  # before loading the model
        model = load_trained(args.model_path)
        output = export_model(model, args.format, args.output, args.input_size)
    except (ExportError, InferenceError) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"{PROG}: error: cannot write {args.output}: {e.strerror or e}", file=sys.stderr)
        return 2
    shape = tuple(model.inputs[0].shape[1:]) if args.input_size is None else (
        *args.input_size, model.inputs[0].shape[-1])
    print(f"{args.format} export of {os.path.basename(args.model_path.rstrip(os.sep))} "
          f"(input (batch, {', '.join(str(s) for s in shape)}) float32 0-255) -> {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
