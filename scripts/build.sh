#!/bin/bash
# build.sh — configure and build duct into build/ (the executable is build/duct).
# Extra arguments go to cmake, e.g. scripts/build.sh -DDUCT_SANITIZE=ON
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${DUCT_BUILD:-build}
cmake -S . -B "$BUILD" -G Ninja "$@"
ninja -C "$BUILD"
