#!/usr/bin/env bash
# The uncontended lock enters no kernel: 1e6 lock+unlock pairs under strace must make
# no more system calls than one pair does (DESIGN.md §6). Counts, not timings.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
step_timer "syscalls of uncontended lock pairs"
helper=build/default/tests/cshm_test_helper
[ -x "$helper" ] || cmake --workflow --preset test >/dev/null
count() { # $1 = pairs; prints the total number of system calls
  local out key="cshm-ci-syscalls-$$-$RANDOM"
  out=$(strace -f -c -o /dev/stdout "$helper" "$key" create:4096 "pairs:$1" detach)
  echo "$out" >&2
  echo "$out" | awk '$NF == "total" { print $(NF-2) }'
}
one=$(count 1)
million=$(count 1000000)
echo "system calls: 1 pair -> $one, 1000000 pairs -> $million"
if (( million > one )); then
  echo "FAIL: uncontended lock/unlock pairs make system calls" >&2
  exit 1
fi
