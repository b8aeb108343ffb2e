#!/usr/bin/env bash
# Download the wheels a GPU machine without internet lacks, as CPython 3.12 manylinux x86_64 wheels
# (that machine's Python), into git-ignored folders that travel with the working tree:
#
#   scripts/device/fetch_wheels.sh train   # .whl/train: for scripts/device/train.sh, about 2.8 MB
#   scripts/device/fetch_wheels.sh bench   # .whl/bench: for scripts/device/bench.sh, about 49 MB
#
# train: pydantic 2 and what it needs (pydantic-core, annotated-types, typing-inspection,
#        typing-extensions); training needs no Ray and no ZeroMQ.
# bench: the train set, plus Ray and its dependencies without extras (click, filelock, jsonschema,
#        referencing, rpds-py, jsonschema-specifications, attrs, packaging, protobuf, requests,
#        charset-normalizer, urllib3, certifi, idna), pyzmq and zstandard. Ray's wheel (79 MB) is
#        stripped of what a Python-only cluster without dashboard, RLlib, Tune, Train, Serve or Data
#        never loads (its Java jars, the dashboard's web client and those libraries), so the tree with
#        its wheels stays under the 64 MB a call may carry. Not brought: foxglove-sdk and lz4 (the
#        benchmark records nothing and publishes zstd).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
python="${PYTHON:-$root/.venv/bin/python}"
mode="${1:-train}"
case "$mode" in
    train | bench) ;;
    *)
        echo "usage: scripts/device/fetch_wheels.sh [train|bench]" >&2
        exit 2
        ;;
esac
dest="$root/.whl/$mode"
mkdir -p "$dest"

download() {
    "$python" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d "$dest" "$@"
}

download "pydantic==2.14.4" "pydantic-core==2.50.5" "annotated-types==0.8.0" "typing-inspection==0.4.5" \
    "typing-extensions==4.16.0"
if [ "$mode" = bench ]; then
    download "ray==2.60.0" "click==8.5.1" "filelock==4.3.1" "jsonschema==4.26.0" "referencing==0.37.0" \
        "rpds-py==2026.9.1" "jsonschema-specifications==2025.9.1" "attrs==26.1.0" "packaging==26.4" \
        "protobuf==7.36.2" "requests==2.34.2" "charset-normalizer==3.5.3" "urllib3==2.8.0" \
        "certifi==2026.10.19.post1" "idna==3.20" "pyzmq==27.3.0" "zstandard==0.25.0"
    for wheel in "$dest"/ray-*.whl; do
        zip -q -d "$wheel" 'ray/jars/*' 'ray/dashboard/client/build/*' 'ray/rllib/*' 'ray/tune/*' \
            'ray/train/*' 'ray/serve/*' 'ray/data/*' 'ray/llm/*' >/dev/null 2>&1 || true
    done
fi
du -sh "$dest"
ls -l "$dest"
