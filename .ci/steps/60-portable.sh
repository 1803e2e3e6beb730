#!/usr/bin/env bash
# The portable POSIX profile (the macOS/FreeBSD code paths) on Linux: the whole suite,
# and a check that the build references none of what macOS lacks.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
step_timer "portable profile"
rm -rf build/portable
cmake --preset portable -DCSHM_WERROR=ON -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null
cmake --build --preset portable

# Functions: nothing undefined in the library that only Linux has.
forbidden_functions='pthread_mutex_consistent|pthread_mutexattr_setrobust|linkat'
if nm -A build/portable/src/libcshm.a | grep -E " U ($forbidden_functions)\$"; then
  echo "FAIL: the portable library calls functions macOS lacks" >&2
  exit 1
fi
# Macros leave no symbol: look for them in every source the library compiles.
sources=$(grep -o '"file": *"[^"]*"' build/portable/compile_commands.json | sed 's/.*"\([^"]*\)"$/\1/' |
          grep '/src/' | sort -u)
if grep -nE 'F_OFD_SETLK|F_OFD_GETLK|O_TMPFILE|pthread_mutex_consistent|pthread_mutexattr_setrobust' $sources; then
  echo "FAIL: the portable build compiles Linux-only mechanisms" >&2
  exit 1
fi
# The futex is Linux-only too, but the wait primitive (sys.h cshm__sys_word_wait) must
# be some OS's: on Linux the portable profile builds src/posix/word_futex.c, the stand-in
# for macOS's word_darwin.c and FreeBSD's word_umtx.c, which only build there. So the
# futex is allowed in that one file and nowhere else (its calls, constants, header).
if grep -nE 'SYS_futex|FUTEX_[A-Z]|linux/futex\.h|(^|[^a-z_])futex *\(' $(echo "$sources" | grep -v '/src/posix/word_futex\.c$'); then
  echo "FAIL: a portable source other than src/posix/word_futex.c uses the futex" >&2
  exit 1
fi
echo "forbidden-symbol check: passed ($(echo "$sources" | wc -l) sources, no Linux-only mechanism)"

ctest --preset portable

# The portable lock's target is at most 3x the default Linux lock: reported as a ratio
# from one run (a benchmark, not a test: the machine is shared and noisy).
for profile in default portable; do
  cmake -S . -B "build/bench-$profile" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCSHM_BUILD_TESTS=OFF \
    -DCSHM_BUILD_TOOLS=OFF -DCSHM_BUILD_BENCH=ON \
    -DCSHM_POSIX_PORTABLE=$([ $profile = portable ] && echo ON || echo OFF) >/dev/null
  cmake --build "build/bench-$profile" >/dev/null
done
read -r default_median _ < <(build/bench-default/bench/cshm_bench_lock_pairs 1000000)
read -r portable_median _ < <(build/bench-portable/bench/cshm_bench_lock_pairs 1000000)
awk -v d="$default_median" -v p="$portable_median" \
  'BEGIN { printf "uncontended lock+unlock: portable/default = %.2f (target <= 3)\n", p / d }'
