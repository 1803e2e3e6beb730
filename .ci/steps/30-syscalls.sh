#!/usr/bin/env bash
# System calls on the hot paths, counted under strace (counts, not timings):
# - the uncontended lock enters no kernel: 1e6 lock+unlock pairs must make no more
#   system calls than one pair does (DESIGN.md §6);
# - one attach+detach of a segment someone else holds (Linux default profile): the
#   stat family at most twice (the owner check before the lock, the link count after
#   it) and no geteuid (cached: segment_linux.c). Measured as the difference between
#   1001 and 1 pairs, divided by 1000, as root and as "nobody".
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
step_timer "syscalls of uncontended lock pairs and of attach+detach"
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

# attach+detach: "name calls" per system call of a run with $2 pairs, by user $1.
calls_of() {
  local key="cshm-ci-syscalls-$$-$RANDOM" run=("$helper")
  if [ "$1" != root ]; then
    # nobody cannot enter the build tree everywhere: run a copy from a fresh directory
    local dir
    dir=$(mktemp -d /tmp/cshm-ci-syscalls-XXXXXX)
    chmod 755 "$dir"
    cp "$helper" "$dir/helper"
    run=(setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$dir/helper")
  fi
  strace -f -c -o /dev/stdout "${run[@]}" "$key" create:4096 "attach-cycles:$2" detach |
    awk '$1 ~ /^[0-9.]+$/ && $NF != "total" { print $NF, $4 }'
  if [ "$1" != root ]; then rm -rf "$dir"; fi
}
per_attach() { # $1 = user; prints "name calls-per-attach+detach", one per line
  join -a 2 -e 0 -o 0,1.2,2.2 <(calls_of "$1" 1 | sort) <(calls_of "$1" 1001 | sort) |
    awk '{ d = ($3 - $2) / 1000; if (d > 0) printf "%s %g\n", $1, d }'
}
for user in root nobody; do
  if [ "$user" = root ] && [ "$(id -u)" != 0 ]; then continue; fi
  if [ "$user" = nobody ] && { [ "$(id -u)" != 0 ] || ! id nobody >/dev/null 2>&1; }; then
    echo "attach+detach as nobody: skipped (needs root and a user nobody)"
    continue
  fi
  table=$(per_attach "$user")
  echo "system calls of one attach+detach as $user:"
  echo "$table" | sed 's/^/  /'
  total=$(echo "$table" | awk '{ t += $2 } END { print t + 0 }')
  stats=$(echo "$table" | awk '$1 ~ /^(fstat|newfstatat|statx|stat|lstat)$/ { t += $2 } END { print t + 0 }')
  euid=$(echo "$table" | awk '$1 == "geteuid" { t += $2 } END { print t + 0 }')
  echo "  total $total; stat family $stats; geteuid $euid"
  if [ "$stats" != 2 ] || [ "$euid" != 0 ]; then
    echo "FAIL: attach+detach as $user makes $stats stat-family calls (want 2) and" \
      "$euid geteuid (want 0)" >&2
    exit 1
  fi
done
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
