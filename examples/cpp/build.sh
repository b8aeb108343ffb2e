#!/usr/bin/env bash
# Builds the C++ planner client (vkstream_listen, vkstream_decode) into examples/cpp/build/.
#
#   examples/cpp/build.sh              install missing Debian packages, then configure and build
#   examples/cpp/build.sh --deps-only  only install missing Debian packages
#
# Packages are installed with apt-get as root (or through sudo) only when dpkg lacks them, so a
# second run installs nothing. JOBS (default 2) sets the build's parallelism.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
packages=(
    cmake g++ make pkg-config
    libzmq3-dev cppzmq-dev   # ZeroMQ and its C++ binding
    libmsgpack-cxx-dev       # msgpack-cxx, header-only
    libzstd-dev liblz4-dev libpng-dev
    libssl-dev               # SHA-256 in vkstream_decode's checksums
)

case "${1:-}" in
    "" | --deps-only) ;;
    *) echo "build.sh: error: unknown argument '$1' (use --deps-only or nothing)" >&2; exit 2 ;;
esac

missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done
if ((${#missing[@]})); then
    if [[ $(id -u) -eq 0 ]]; then
        sudo=()
    elif command -v sudo >/dev/null; then
        sudo=(sudo)
    else
        echo "build.sh: error: packages missing and not root: apt-get install ${missing[*]}" >&2
        exit 1
    fi
    echo "build.sh: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[[ "${1:-}" == --deps-only ]] && exit 0

# A build folder configured for another checkout (the repository was moved or copied) starts afresh.
cache="$here/build/CMakeCache.txt"
if [[ -f "$cache" ]] && ! grep -qxF "CMAKE_HOME_DIRECTORY:INTERNAL=$here" "$cache"; then
    rm -rf "$here/build"
fi
cmake -S "$here" -B "$here/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$here/build" -j "${JOBS:-2}"
