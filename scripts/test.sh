#!/bin/bash
# test.sh — install what is missing, build, run the whole suite (unit tests,
# real FUSE mounts, diod, the kernel's 9P client in a VM). Exit status is
# ctest's. Needs root (FUSE mounts, apt-get).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
# -j2: the integration tests run in two lanes (tests/CMakeLists.txt)
exec ctest --test-dir build --output-on-failure --timeout 300 -j2 </dev/null
