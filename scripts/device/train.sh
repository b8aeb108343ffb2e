#!/usr/bin/env bash
# Train synth_small on a GPU machine for a fixed wall-clock budget and score it on held-out data.
#
#   scripts/device/train.sh OUT [--minutes M] [--work DIR] [--smoke]
#
# OUT gets model.pt, log.jsonl and scores.json (see scripts/device/train_job.py); the data, the run
# folder and the predictions go to the work folder (default: OUT-work beside OUT). The machine needs
# python3 with PyTorch, timm, numba, OpenCV, SciPy, PyYAML and tqdm; pydantic and its dependencies
# come as wheels from .whl/train/ (scripts/device/fetch_wheels.sh train downloads them) when it lacks them.
# --smoke runs the same path on a CPU in under 3 minutes.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
if [ $# -lt 1 ]; then
    echo "usage: scripts/device/train.sh OUT [--minutes M] [--work DIR] [--smoke]" >&2
    exit 2
fi
python="${PYTHON:-python3}"
out="$1"
mkdir -p "$out"
if ! "$python" -c "import pydantic" 2>/dev/null; then
    shopt -s nullglob
    wheels=("$root"/.whl/train/*.whl)
    if [ ${#wheels[@]} -eq 0 ]; then
        echo "train.sh: pydantic is missing and .whl/train/ holds no wheels; run scripts/device/fetch_wheels.sh train first" >&2
        exit 2
    fi
    site="${TMPDIR:-/tmp}/vkstream-site"
    "$python" -m pip install --quiet --no-index --no-deps --target "$site" "${wheels[@]}"
    export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
exec "$python" "$root/scripts/device/train_job.py" "$@"
