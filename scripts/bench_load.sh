# The load-average guard of `make bench` (sourced by scripts/bench.sh, and by its test). A
# benchmark that starts while other work keeps the CPUs busy measures that work as much as ours,
# so each one waits for a quiet machine, else is refused, else (FORCE=1) runs and says so.
#   BENCH_MAX_LOAD    the highest 1-minute load a benchmark may start at (1.5)
#   BENCH_WAIT_QUIET  seconds to wait for the load to fall before refusing (120)
#   FORCE=1           start at any load; the section in BENCHMARKS.md then names the load
#   LOADAVG_FILE      where the load is read (/proc/loadavg; the test points it at a fake)

# The 1-minute load average, as the kernel writes it ("0.42").
load_1min() {
  local one rest
  read -r one rest <"${LOADAVG_FILE:-/proc/loadavg}"
  printf '%s\n' "$one"
}

# above LOAD LIMIT: true when LOAD > LIMIT (bash compares only integers, so awk does).
above() { awk -v load="$1" -v limit="$2" 'BEGIN { exit !(load > limit) }'; }

# quiet_load: prints the 1-minute load once it is at most the limit, polling each second for up
# to BENCH_WAIT_QUIET seconds (the previous benchmark's own load takes a minute or two to decay);
# false, having printed the load, when it stayed above.
quiet_load() {
  local limit=${BENCH_MAX_LOAD:-1.5} wait=${BENCH_WAIT_QUIET:-120} load
  local deadline=$((SECONDS + wait))
  load=$(load_1min)
  if above "$load" "$limit"; then
    printf '    load %s is above %s: waiting up to %s s for it to fall\n' "$load" "$limit" "$wait" >&2
  fi
  while above "$load" "$limit" && ((SECONDS < deadline)); do
    sleep 1
    load=$(load_1min)
  done
  printf '%s\n' "$load"
  ! above "$load" "$limit"
}

# bench_one bench/bench_NAME.py: runs it with the load printed before and after. On a busy machine
# it waits, then refuses (status 2) unless FORCE=1. A forced run leaves bench/results/NAME.forced
# holding the load, which bench/assemble.py turns into a note on NAME's section; a later run at a
# quiet load removes it.
bench_one() {
  local script=$1 limit=${BENCH_MAX_LOAD:-1.5} load name marker
  name=$(basename "$script" .py)
  marker="$(dirname "$script")/results/${name#bench_}.forced"
  if [[ ${FORCE:-} == 1 ]]; then
    load=$(load_1min)
  elif ! load=$(quiet_load); then
    printf 'bench: not starting %s: 1-minute load %s is above the limit %s after %s s (FORCE=1 runs it anyway)\n' \
      "$script" "$load" "$limit" "${BENCH_WAIT_QUIET:-120}" >&2
    return 2
  fi
  printf '    load before: %s (1-minute; limit %s)\n' "$load" "$limit"
  .venv/bin/python "$script" || return $?
  printf '    load after: %s\n' "$(load_1min)"
  rm -f "$marker"
  if above "$load" "$limit"; then  # only FORCE=1 lets a benchmark start above the limit
    printf '%s\n' "$load" >"$marker"
  fi
}
