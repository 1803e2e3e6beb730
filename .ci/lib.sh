# Sourced by .ci/steps/*.sh. step_timer NAME prints the step's duration and exit
# status when it ends. A step that needs its own EXIT trap ends it with
# `step_end "$rc"`, passing the status it saved first.
step_timer() {
  step_name=$1
  step_t0=$(date +%s)
  trap 'step_end $?' EXIT
}
step_end() {
  echo "--- $step_name: $(( $(date +%s) - step_t0 )) s (exit ${1:-0})"
}
