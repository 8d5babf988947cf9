#!/usr/bin/env python
"""keras-tuner search over a kerascnn model family.

    python scripts/tune.py --model-family resnet_cifar --dataset cifar10_subset \
        --data-dir ../shared/data/cifar10-subset --tuner random --max-trials 20 --epochs 5 \
        --directory tuning --project-name cifar_resnet

Run it again to resume; ``--overwrite`` starts over. Distributed:
``--chief HOST:PORT`` on one process, ``--worker ID --chief HOST:PORT`` on the
others (see kerascnn/tuning/distributed.py). The work is done by kerascnn.tuning.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from kerascnn.tuning.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
