#!/usr/bin/env bash
# ThreadSanitizer on the suites that start threads - lock, segment, process, hostile, wait -
# in the default and the portable profile. Any report fails the step (halt_on_error=1).
# Processes are TSan's blind spot (the chaos test covers them); no suppression file is
# needed: see the clocklock note below.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
step_timer "tsan"
apt-get install -y -qq --no-install-recommends clang libclang-rt-14-dev >/dev/null
suites=(lock segment process hostile wait)
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1"
for profile in default portable; do
  dir=build/tsan-$profile
  rm -rf "$dir"
  if [ "$profile" = portable ]; then
    options=(-DCSHM_POSIX_PORTABLE=ON)
  else
    # TSan (clang 14, gcc 12) does not intercept pthread_mutex_clocklock: a timed lock
    # is invisible to it, and its unlock is reported as "unlock of an unlocked mutex".
    # So build the library's fallback for glibc < 2.30, pthread_mutex_timedlock, which
    # TSan intercepts: the lock differs from the production build in that call only.
    options=(-DCSHM_POSIX_PORTABLE=OFF -DCSHM_HAVE_CLOCKLOCK=OFF)
  fi
  CC=clang cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCSHM_WERROR=ON \
    -DCSHM_SANITIZER=thread -DCSHM_BUILD_TOOLS=OFF "${options[@]}" >/dev/null
  cmake --build "$dir" --target cshm_test_helper "${suites[@]/#/test_}"
  if [ "$profile" = default ] && grep -q CSHM_HAVE_CLOCKLOCK "$dir/build.ninja"; then
    echo "FAIL: the TSan build still uses pthread_mutex_clocklock" >&2
    exit 1
  fi
  regex="^($(IFS='|'; echo "${suites[*]}"))\$"
  ctest --test-dir "$dir" -R "$regex" --output-on-failure
  echo "tsan ($profile): ${suites[*]}: no report"
done
