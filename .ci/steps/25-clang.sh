#!/usr/bin/env bash
# The whole suite built with clang, warnings as errors.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
step_timer "clang"
rm -rf build/clang
CC=clang cmake -S . -B build/clang -G Ninja -DCSHM_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/clang
ctest --test-dir build/clang --output-on-failure -j2
