#!/usr/bin/env bash
# The benchmark (bench/, issue 8) with tiny counts, so that it never rots: it must
# build in both profiles, run every section, pass its correctness checks (exact
# counters, mutual exclusion, bytes read back, nothing left behind) and print its
# table. No timing assertion: the machine is shared and the counts are tiny. The
# instruction count of a failed try-lock is checked against its budget (callgrind).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
step_timer "benchmark smoke run"
export CSHM_BENCH_DIR=build/bench-smoke
ours() { ls /dev/shm | grep -cE '^(cshm_cshmben_|cshm_cshmexa_|cshm-bench-)' || true; }
before=$(ours)
bash bench/run.sh --smoke >"$CSHM_BENCH_DIR.txt" 2>"$CSHM_BENCH_DIR.err" || {
  cat "$CSHM_BENCH_DIR.txt" "$CSHM_BENCH_DIR.err" >&2
  echo "FAIL: the benchmark broke or a correctness check failed" >&2
  exit 1
}
cat "$CSHM_BENCH_DIR.txt"
for line in '^lock: ' '^try-lock failure: ' '^handoff \(handoff\)' '^contention: ' '^wake: ' '^lifecycle: ' '^big: ' \
            '^many: ' '^key: ' '^notify \(wake\)' '^notify \(pingpong\)' '^idle: ' \
            '^targets: ' '^correctness: .*, 0 failed$'; do
  grep -qE "$line" "$CSHM_BENCH_DIR.txt" || { echo "FAIL: the table lacks /$line/" >&2; exit 1; }
done
grep -q '"bench":"target"' "$CSHM_BENCH_DIR/results.jsonl" || { echo "FAIL: no JSON lines" >&2; exit 1; }
# The ring-buffer example (examples/ring.c), both profiles, a small count: it must move
# every record in order with wait/notify and with polling (it exits 1 otherwise).
for profile in default portable; do
  cmake --build "$CSHM_BENCH_DIR/$profile" --target cshm_example_ring >/dev/null
  "$CSHM_BENCH_DIR/$profile/examples/cshm_example_ring" --count 20000 ||
    { echo "FAIL: examples/ring.c ($profile profile)" >&2; exit 1; }
done
after=$(ours)
if (( after > before )); then
  echo "FAIL: the benchmark left $((after - before)) shared-memory objects in /dev/shm" >&2
  exit 1
fi
# The one speed figure that is deterministic: callgrind's instructions per failed
# try-lock (issue 6). A polling loop must cost close to the raw robust trylock.
command -v valgrind >/dev/null ||
  apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends valgrind >/dev/null
bash bench/trylock-instructions.sh --budget 3.6 "$CSHM_BENCH_DIR"
echo "benchmark smoke run: every section ran, correctness checks passed, nothing left behind"
