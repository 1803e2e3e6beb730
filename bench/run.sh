#!/usr/bin/env bash
# The benchmark of issue 8 in one run: builds bench/ twice (the default profile and the
# portable one, -DCSHM_POSIX_PORTABLE=ON; Release), runs every section of both builds,
# interleaved section by section so that both see the same machine, and prints one
# table with ratios and the targets. JSON lines go to build/bench-run/results.jsonl.
#
#   bash bench/run.sh                    full counts (about 2 minutes on 2 cores)
#   bash bench/run.sh --smoke            tiny counts: proves it runs (CI); numbers mean nothing
#   bash bench/run.sh --sections "lock handoff"
#
# Environment: CSHM_BENCH_DIR (default build/bench-run) holds both builds and the results;
# CSHM_BENCH_SIDECAR_BASE (default /tmp) is where the portable profile keeps its sidecars.
# Exit status: 0, or 1 when a correctness check failed (lost update, exclusion
# violated, wrong bytes read back, a leftover object) or a build or run broke. Missed
# speed targets never fail the run: they are reported.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
dir=${CSHM_BENCH_DIR:-$root/build/bench-run}
mode=()
sections="meta lock trylock handoff contention wake lifecycle big many key notify idle"
while (( $# )); do
  case $1 in
    --smoke) mode=(--smoke) ;;
    --sections) sections="meta $2"; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
for profile in default portable; do
  portable=OFF
  [ "$profile" = portable ] && portable=ON
  if [ ! -f "$dir/$profile/CMakeCache.txt" ]; then
    cmake -S "$root" -B "$dir/$profile" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
      -DCSHM_BUILD_TESTS=OFF -DCSHM_BUILD_TOOLS=OFF -DCSHM_BUILD_BENCH=ON \
      -DCSHM_POSIX_PORTABLE=$portable >/dev/null
  fi
  cmake --build "$dir/$profile" --target cshm_bench >/dev/null
done

results=$dir/results.jsonl
: >"$results"
status=0
for section in $sections; do
  # The raw baselines and the Qt-legacy rows run in the default build only.
  "$dir/default/bench/cshm_bench" run "$section" "${mode[@]}" >>"$results" || status=1
  "$dir/portable/bench/cshm_bench" run "$section" --no-baselines --no-qt "${mode[@]}" \
    >>"$results" || status=1
done

"$dir/default/bench/cshm_bench" report --json-out "$results" "$results" | tee "$dir/results.txt" ||
  status=1
echo "JSON lines: $results; table: $dir/results.txt"
exit $status
