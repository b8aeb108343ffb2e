#!/usr/bin/env bash
# vkstream bench on a GPU machine: synth_small and kitti_r50 at 1248x384, fp32 / bf16 / compiled,
# 1-16 streams, bare loop, naive loop and the pipeline at 10 Hz, in under 6 minutes.
#
#   scripts/device/bench.sh OUT [--smoke] [--budget-s S]
#
# OUT gets bench.json and bench.md (and runs/ with each run's JSON). The machine needs python3 with
# PyTorch, timm, numba, OpenCV, SciPy, msgpack, PyYAML and tqdm; Ray, pyzmq, pydantic and the rest come
# as wheels from .whl/bench/ (scripts/device/fetch_wheels.sh bench downloads them) when it lacks them.
# --smoke runs the same path on a CPU with the tiny preset.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
if [ $# -lt 1 ]; then
    echo "usage: scripts/device/bench.sh OUT [--smoke] [--budget-s S]" >&2
    exit 2
fi
python="${PYTHON:-python3}"
out="$1"
mkdir -p "$out"
if ! "$python" -c "import ray, zmq, pydantic" 2>/dev/null; then
    shopt -s nullglob
    wheels=("$root"/.whl/bench/*.whl)
    if [ ${#wheels[@]} -eq 0 ]; then
        echo "bench.sh: Ray, pyzmq or pydantic is missing and .whl/bench/ holds no wheels;" \
            "run scripts/device/fetch_wheels.sh bench first" >&2
        exit 2
    fi
    site="${TMPDIR:-/tmp}/vkstream-bench-site"
    "$python" -m pip install --quiet --no-index --no-deps --target "$site" "${wheels[@]}"
    export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
    export PATH="$site/bin:$PATH"
fi
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
cd "$root"
exec "$python" "$root/scripts/device/bench_job.py" "$@"
