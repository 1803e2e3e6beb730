# Sourced by .ci/steps/*.sh. step_timer NAME prints the step's duration and exit
# status when it ends; a step that needs its own EXIT trap calls step_end from it.
step_timer() {
  step_name=$1
  step_t0=$(date +%s)
  trap step_end EXIT
}
step_end() {
  local rc=$?
  echo "--- $step_name: $(( $(date +%s) - step_t0 )) s (exit $rc)"
}
