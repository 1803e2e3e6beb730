#!/usr/bin/env bash
# libFuzzer targets under ASan+UBSan, each for a fixed budget, from the committed seed
# corpora (copied: what the fuzzer finds stays out of the tree). A crash fails the step;
# its input becomes a regression test.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
step_timer "fuzzing"
apt-get install -y -qq --no-install-recommends clang libclang-rt-14-dev >/dev/null
budget=${CSHM_FUZZ_SECONDS:-20}
rm -rf build/fuzz
CC=clang cmake -S . -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCSHM_BUILD_FUZZERS=ON \
  -DCSHM_BUILD_TESTS=OFF -DCSHM_BUILD_TOOLS=OFF -DCSHM_SANITIZER="address;undefined" -DCSHM_WERROR=ON >/dev/null
cmake --build build/fuzz
work=$(mktemp -d /tmp/cshm-fuzz.XXXXXX)
trap 'rc=$?; rm -rf "$work"; step_end "$rc"' EXIT
for target in header keys attach; do
  mkdir -p "$work/$target"
  cp fuzz/corpus/$target/* "$work/$target/"
  (cd "$work" && "$OLDPWD/build/fuzz/fuzz/fuzz_$target" -max_total_time="$budget" -timeout=5 \
     -print_final_stats=1 "$work/$target" > "$work/$target.log" 2>&1) || {
    tail -40 "$work/$target.log"; echo "FAIL: fuzz_$target found a crash" >&2; exit 1; }
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/$target.log" | grep -o '[0-9]*$')
  echo "fuzz_$target: $runs executions in ${budget} s, no crash"
done
