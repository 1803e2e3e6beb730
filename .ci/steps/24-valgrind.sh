#!/usr/bin/env bash
# valgrind memcheck of the single-process suites in a default (non-sanitizer) build: no
# memory error, no definite or indirect leak, no descriptor the suite opened left open
# at exit. Helpers the suites spawn run natively (--trace-children=no); forked children
# (which die on purpose, e.g. writing to read-only memory) are not reported on.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
step_timer "valgrind"
apt-get install -y -qq --no-install-recommends valgrind >/dev/null
suites=(names format api segment lock hostile)
dir=build/valgrind
rm -rf "$dir"
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCSHM_WERROR=ON -DCSHM_BUILD_TOOLS=OFF >/dev/null
cmake --build "$dir" --target cshm_test_helper "${suites[@]/#/test_}"
logs=$dir/logs # removed with the build directory by the next run
mkdir -p "$logs"
export CSHM_TEST_HELPER=$PWD/$dir/tests/cshm_test_helper # as ctest sets it

# Descriptors open at exit that the program opened (valgrind 3.19 lists them but does
# not count them as errors): every one not "<inherited from parent>".
leaked_fds() {
  awk '/Open file descriptor [0-9]+:/ { what = $0; getline
         if ($0 !~ /inherited from parent/) { print what; print; bad = 1 } }
       END { exit !bad }' "$1"
}

failed=()
for suite in "${suites[@]}"; do
  t0=$(date +%s)
  rc=0
  valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
    --show-leak-kinds=definite,indirect --track-fds=yes --trace-children=no \
    --child-silent-after-fork=yes --log-file="$logs/$suite.valgrind" \
    "$dir/tests/test_$suite" >"$logs/$suite.out" 2>&1 || rc=$?
  fds_left=false
  if leaked_fds "$logs/$suite.valgrind" >"$logs/$suite.fds"; then
    fds_left=true
  fi
  if [ $rc -ne 0 ] || $fds_left; then
    cat "$logs/$suite.out" "$logs/$suite.valgrind" "$logs/$suite.fds"
    echo "FAIL: $suite under valgrind (exit $rc; 99 = memcheck errors)" >&2
    failed+=("$suite")
  else
    echo "valgrind $suite: $(grep -c '^\[       OK \]' "$logs/$suite.out") tests, no error, no leak," \
      "no descriptor left ($(( $(date +%s) - t0 )) s)"
  fi
done
if (( ${#failed[@]} )); then
  echo "FAIL: ${failed[*]}" >&2
  exit 1
fi
