#!/usr/bin/env bash
# Instructions per failed try-lock (issue 6), noise-free: callgrind counts only inside
# trylock_loop (10 000 tries in --smoke: 2000 x 5) of each profile's cshm_bench.
#   bash bench/run.sh --sections trylock && bash bench/trylock-instructions.sh build/bench-run
set -euo pipefail
dir=${1:?bench dir}
for spec in default:raw-robust default:cshm-default default:cshm-qt-legacy portable:cshm-portable; do
  prof=${spec%%:*} impl=${spec#*:}
  out=$(mktemp -d)
  extra=()
  [ "$prof" = portable ] && extra=(--no-baselines --no-qt)
  valgrind --tool=callgrind --collect-atstart=no --toggle-collect=trylock_loop \
    --callgrind-out-file="$out/cg.%p" "$dir/$prof/bench/cshm_bench" run trylock --smoke \
    --only "$impl" "${extra[@]}" >/dev/null 2>"$out/log" || { cat "$out/log"; exit 1; }
  ir=0
  for f in "$out"/cg.*; do
    n=$(awk '/^summary:/ {print $2}' "$f"); ir=$((ir + ${n:-0}))
  done
  printf '%-10s %-16s %8.1f instructions per failed try\n' "$prof" "$impl" "$(echo "$ir / 10000" | bc -l)"
  rm -rf "$out"
done
