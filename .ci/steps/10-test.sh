#!/usr/bin/env bash
# The README's test command, exactly as a user runs it (CI=true turns warnings into errors).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
step_timer "test (README command)"
rm -rf build/default
cmake --workflow --preset test
