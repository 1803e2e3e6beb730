# Sourced by .ci/steps/*.sh: step_timer prints the step's duration when it ends.
step_timer() {
  local name=$1 t0
  t0=$(date +%s)
  # shellcheck disable=SC2064
  trap "echo \"--- $name: \$(( \$(date +%s) - $t0 )) s (exit \$?)\"" EXIT
}
