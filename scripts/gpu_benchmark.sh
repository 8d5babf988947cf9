#!/usr/bin/env bash
# kerascnn on a GPU, side by side with timm: scripts/benchmark.py on a machine that has JAX
# (with CUDA), PyTorch and timm but no TensorFlow and no network, carrying only the wheels
# keras needs beyond what is there (keras, namex, optree).
#
# Once, where pip reaches PyPI, in the repository root (the wheels are for the GPU machine's
# Python, 3.12 by default; the folder is git-ignored locally):
#     echo /.whl/ >> .git/info/exclude
#     scripts/gpu_benchmark.sh fetch            # -> .whl/ (about 2 MB)
# On the GPU machine, in the repository root, with .whl/ beside it:
#     OUT=/some/dir scripts/gpu_benchmark.sh run
# writes $OUT/gpu_benchmark.json (benchmark.py's JSON) and $OUT/gpu_benchmark.log.
#
# Settings (environment variables, defaults in brackets):
#     DEVICE [gpu]  MODELS [resnet50]  SIZE [224]  BATCH [256]  PRECISION [mixed]
#     BACKENDS [jax,torch]  STEPS [10]  ROUNDS [3]  WARMUP [3]
#     TIMM_VARIANTS [eager,channels_last,compile]  WHEELS [.whl]  PYVER [3.12] (fetch only)
#     BLOCK_TENSORFLOW [0]: 1 makes `import tensorflow` fail in every process of the run, to
#     try the script on a machine that has TensorFlow (e.g. DEVICE=cpu on a workstation).
# The issue's goal on one H100/H200: ResNet-50 at 224 in bfloat16 (mixed), JAX at least 5,000
# training images/s and at least 1.0x timm's best (AMP, channels_last, torch.compile).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WHEELS="${WHEELS:-$ROOT/.whl}"
# keras' needs (keras 3.15: absl-py, numpy, rich, namex, h5py, optree, ml-dtypes, packaging)
# that the GPU machine's image lacks; pin what this project is tested with.
KERAS_WHEELS="keras==3.15.1 namex==0.1.0 optree==0.20.0"

fetch() {
    mkdir -p "$WHEELS"
    local pyver="${PYVER:-3.12}"
    # shellcheck disable=SC2086
    python3 -m pip download --no-deps --only-binary=:all: --python-version "$pyver" \
        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        --platform manylinux1_x86_64 -d "$WHEELS" $KERAS_WHEELS
    ls -l "$WHEELS"
}

run() {
    : "${OUT:?set OUT to the folder the JSON and the log go to}"
    mkdir -p "$OUT"
    local log="$OUT/gpu_benchmark.log"
    local site
    site="$(mktemp -d /tmp/kerascnn_site.XXXXXX)"
    {
        echo "== $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname), $(nproc) CPU cores"
        command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || echo "no nvidia-smi"
        echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
    } | tee "$log"
    if ls "$WHEELS"/*.whl >/dev/null 2>&1; then
        python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
            --target "$site" "$WHEELS"/*.whl 2>&1 | tee -a "$log"
    else
        echo "no wheels in $WHEELS: using the keras already installed" | tee -a "$log"
    fi
    if [ "${BLOCK_TENSORFLOW:-0}" = 1 ]; then
        printf 'import sys\nsys.modules["tensorflow"] = None\n' > "$site/sitecustomize.py"
    fi
    export PYTHONPATH="$site:$ROOT${PYTHONPATH:+:$PYTHONPATH}"
    export PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=2
    # keras' default backend is TensorFlow: name one that is there for the checks below
    # (benchmark.py gives each of its processes its own)
    export KERAS_BACKEND="${KERAS_BACKEND:-jax}"
    python3 - <<'EOF' 2>&1 | tee -a "$log"
import importlib, sys
print("python", sys.version.split()[0])
for name in ("keras", "jax", "torch", "timm", "numpy"):
    try:
        m = importlib.import_module(name)
        print(name, getattr(m, "__version__", "?"), getattr(m, "__file__", ""))
    except Exception as exc:
        print(name, "MISSING:", type(exc).__name__, exc)
try:
    import tensorflow  # noqa: F401
    print("tensorflow: importable (this run does not use it)")
except ImportError:
    print("tensorflow: absent")
import jax
print("jax devices:", jax.devices())
EOF
    set +e
    python3 "$ROOT/scripts/benchmark.py" --models "${MODELS:-resnet50}" \
        --image-size "${SIZE:-224}" --batch-size "${BATCH:-256}" \
        --precision "${PRECISION:-mixed}" --device "${DEVICE:-gpu}" \
        --backend "${BACKENDS:-jax,torch}" --compare timm \
        --timm-variants "${TIMM_VARIANTS:-eager,channels_last,compile}" \
        --steps "${STEPS:-10}" --rounds "${ROUNDS:-3}" --warmup "${WARMUP:-3}" \
        --json "$OUT/gpu_benchmark.json" 2>&1 | tee -a "$log"
    local rc=${PIPESTATUS[0]}
    set -e
    echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); benchmark.py exit code $rc" | tee -a "$log"
    rm -rf "$site"
    return "$rc"
}

case "${1:-}" in
    fetch) fetch ;;
    run) run ;;
    *) echo "usage: scripts/gpu_benchmark.sh fetch|run (see the comments at its top)" >&2
       exit 2 ;;
esac
