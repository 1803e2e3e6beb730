#!/usr/bin/env bash
# Instructions per failed try-lock (issue 6), noise-free: callgrind counts only inside
# trylock_loop (10 000 tries in --smoke: 2000 x 5) of each profile's cshm_bench.
#   bash bench/run.sh --sections trylock && bash bench/trylock-instructions.sh build/bench-run
#   bash bench/trylock-instructions.sh --budget 2.5 build/bench-smoke
# --budget R: also fail (exit 1) when cshm-default costs more than R times raw-robust,
# the glibc robust mutex's own trylock. Instruction counts are deterministic, so this
# is a regression check that a noisy machine cannot trip.
set -euo pipefail
budget=
if [ "${1:-}" = --budget ]; then
  budget=${2:?ratio}
  shift 2
fi
dir=${1:?bench dir}

# instructions PROFILE IMPL: instructions per failed try, one decimal.
instructions() {
  local prof=$1 impl=$2 out ir=0 n f
  out=$(mktemp -d)
  local extra=()
  [ "$prof" = portable ] && extra=(--no-baselines --no-qt)
  valgrind --tool=callgrind --collect-atstart=no --toggle-collect=trylock_loop \
    --callgrind-out-file="$out/cg.%p" "$dir/$prof/bench/cshm_bench" run trylock --smoke \
    --only "$impl" "${extra[@]}" >/dev/null 2>"$out/log" || { cat "$out/log" >&2; rm -rf "$out"; return 1; }
  for f in "$out"/cg.*; do
    n=$(awk '/^summary:/ {print $2}' "$f"); ir=$((ir + ${n:-0}))
  done
  rm -rf "$out"
  awk -v ir="$ir" 'BEGIN { printf "%.1f", ir / 10000 }'
}

declare -A per_try
for spec in default:raw-robust default:cshm-default default:cshm-qt-legacy portable:cshm-portable; do
  prof=${spec%%:*} impl=${spec#*:}
  per_try[$impl]=$(instructions "$prof" "$impl")
  printf '%-10s %-16s %8.1f instructions per failed try\n' "$prof" "$impl" "${per_try[$impl]}"
done

[ -n "$budget" ] || exit 0
raw=${per_try[raw-robust]} ours=${per_try[cshm-default]}
ratio=$(awk -v a="$ours" -v b="$raw" 'BEGIN { printf "%.2f", a / b }')
echo "cshm-default / raw-robust: $ours / $raw = ${ratio}x (budget ${budget}x)"
if awk -v r="$ratio" -v b="$budget" 'BEGIN { exit !(r > b) }'; then
  echo "FAIL: a failed cshm_try_lock costs ${ratio}x the raw robust trylock (budget ${budget}x)" >&2
  exit 1
fi
