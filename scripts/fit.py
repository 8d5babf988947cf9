#!/usr/bin/env python
"""Train a kerascnn model on real data.

    python scripts/fit.py                      # the default: Fashion-MNIST
    python scripts/fit.py --model resnet50 --dataset signs \
        --data-dir ../shared/data/signs/64x64_SIGNS --image-size 64 --epochs 20

See ``python scripts/fit.py --help``; the work is done by kerascnn.training.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from kerascnn.training.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
