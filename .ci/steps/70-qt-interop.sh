#!/usr/bin/env bash
# Qt wire interop (issue 7): real Qt 5.15 and Qt 6.4 (Debian's qtbase5-dev and
# qt6-base-dev) against cshm, in the default and the portable profile: both directions,
# the shared lock, life cycles and crashes, nothing left behind (tests/interop
# qt_interop), and the differential test of Qt's nativeKey() against
# cshm_native_key_for() (qt_names). Both Qt versions must be found: a build that
# silently skipped one would prove nothing.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
step_timer "qt interop"
cd "$(dirname "$0")/../.."

export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq --no-install-recommends qtbase5-dev qt6-base-dev g++ >/dev/null

targets=(qt5_probe qt6_probe cshm_qt_peer test_qt_interop test_qt_names)
for profile in default portable; do
  dir=build/qt-interop-$profile
  rm -rf "$dir"
  mkdir -p "$dir"
  portable=OFF
  [ "$profile" = portable ] && portable=ON
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCSHM_WERROR=ON \
    -DCSHM_BUILD_TESTS=ON -DCSHM_BUILD_TOOLS=OFF -DCSHM_POSIX_PORTABLE=$portable \
    >"$dir/configure.log"
  grep "Qt interop tests" "$dir/configure.log" || true
  for qt in 5 6; do
    if ! grep -q "Qt interop tests: Qt $qt\." "$dir/configure.log"; then
      echo "FAIL: Qt $qt was not found: the interop suite would skip it" >&2
      exit 1
    fi
  done
  cmake --build "$dir" --target "${targets[@]}"
  log=$dir/interop.log
  if ! ctest --test-dir "$dir" -L interop -V >"$log" 2>&1; then
    cat "$log"
    echo "FAIL: the Qt interop suite ($profile profile)" >&2
    exit 1
  fi
  # What ran: each scenario, and the differential test's counts.
  grep -cE '^[0-9]+: \[       OK \]' "$log" | sed "s/^/qt interop ($profile): scenarios and checks passed: /"
  grep -E 'names compared' "$log" | sed "s/^[0-9]*: /qt interop ($profile): /"
done
