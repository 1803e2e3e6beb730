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

# The portable profile's failing try_lock is rate-limited too: against a lock another
# process holds, 100000 failing tries may probe the owner's liveness now and then
# (at most every 10 ms), never once per try (it was 3 system calls a try).
portable_helper=build/portable/tests/cshm_test_helper
[ -x "$portable_helper" ] || { cmake --preset portable >/dev/null && cmake --build build/portable -j2 >/dev/null; }
key="cshm-ci-trylock-$$-$RANDOM"
ready=$(mktemp -u "/tmp/cshm-ci-trylock-$$-XXXXXX")
"$portable_helper" "$key" create:4096 lock "touch:$ready" "wait-gone:$ready" unlock detach &
holder=$!
for _ in $(seq 1000); do [ -e "$ready" ] && break; sleep 0.01; done
[ -e "$ready" ] || { echo "FAIL: the lock holder did not start" >&2; kill "$holder"; exit 1; }
tries() { # $1 = failing try-locks; prints the total number of system calls
  local out
  out=$(strace -f -c -o /dev/stdout "$portable_helper" "$key" attach "try-lock-busy:$1" detach)
  echo "$out" >&2
  echo "$out" | awk '$NF == "total" { print $(NF-2) }'
}
try_one=$(tries 1) && try_many=$(tries 100000) || { rm -f "$ready"; wait "$holder"; exit 1; }
rm -f "$ready"
wait "$holder"
echo "portable try_lock system calls: 1 failing try -> $try_one, 100000 -> $try_many"
if (( try_many - try_one > 1000 )); then
  echo "FAIL: failing try-locks make system calls per try (limit: 1000 for 100000 tries)" >&2
  exit 1
fi
