# Shared helpers for the project's shell scripts (sourced, not run).

# Build caches live outside the clone so a fresh clone (CI) reuses them.
export KUBETRAINER_CACHE="${KUBETRAINER_CACHE:-$HOME/.cache/kubetrainer}"
mkdir -p "$KUBETRAINER_CACHE"

# What is being done now (one line; `timed` says how long it took).
step() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }

# Seconds since a start taken from $EPOCHREALTIME, as "12.3s" or "4m05s".
elapsed() {
  local us=$(( ${EPOCHREALTIME/[.,]/} - ${1/[.,]/} ))
  if (( us < 60000000 )); then printf '%d.%ds' $((us / 1000000)) $((us / 100000 % 10))
  else printf '%dm%02ds' $((us / 60000000)) $((us / 1000000 % 60)); fi
}

# timed LABEL COMMAND...: runs COMMAND, then prints "<-- LABEL: done in 12.3s" (or "failed
# after"), the line scripts/cold.sh collects into its per-step summary. Keeps COMMAND's status.
timed() {
  local label=$1 start=$EPOCHREALTIME rc=0
  shift
  "$@" || rc=$?
  if ((rc == 0)); then printf '\033[1;32m<--\033[0m %s: done in %s\n' "$label" "$(elapsed "$start")"
  else printf '\033[1;31m<--\033[0m %s: failed (exit %d) after %s\n' "$label" "$rc" "$(elapsed "$start")"; fi
  return $rc
}

# progress LABEL NOUN TOTAL PATTERN: counts the input lines matching PATTERN and says so every
# 30 s and at the end, so a long step is never silent (tee the lines themselves to a log first).
progress() {
  local label=$1 noun=$2 total=$3 pattern=$4 n=0 line start=$EPOCHREALTIME next=$((SECONDS + 30)) of=""
  [[ -n $total ]] && of=" of up to $total"
  while :; do
    if IFS= read -r -t 5 line; then
      [[ $line =~ $pattern ]] && n=$((n + 1))
    elif (($? <= 128)); then
      break  # end of input (a timeout returns > 128)
    fi
    if ((SECONDS >= next)); then
      printf '    %s: %d %s%s so far (%s)\n' "$label" "$n" "$noun" "$of" "$(elapsed "$start")"
      next=$((SECONDS + 30))
    fi
  done
  printf '    %s: %d %s%s (%s)\n' "$label" "$n" "$noun" "$of" "$(elapsed "$start")"
}

# pip_install LABEL ARGS...: `.venv/bin/pip install ARGS`, its output kept in .venv/pip.log,
# a progress line every 30 s on the terminal, and the end of the log if it fails.
pip_install() {
  local label=$1
  shift
  .venv/bin/pip install --progress-bar off "$@" 2>&1 | tee -a .venv/pip.log \
    | progress "$label" "packages collected" "" '^Collecting ' \
    || { tail -20 .venv/pip.log >&2; return 1; }
}

# Install Debian packages that are missing; `apt-get update` only when needed.
ensure_apt() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  step "apt: installing ${missing[*]}"
  local sudo=""
  [[ $(id -u) == 0 ]] || sudo="sudo"
  if ! $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
    $sudo apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# The builds that run in the background (the agent, the control plane, llama-cpp-python) share one
# protocol: the script opens its lock file on fd 9 (`exec 9>>LOCK`) and whoever holds the flock is
# the one build; a detached copy of the script (`SCRIPT --detached`) inherits the lock and keeps it
# until it exits, so a later caller waits for exactly that build.

# start_detached LABEL LOG NICE SCRIPT: start `SCRIPT --detached` in its own session at nice NICE,
# its output in LOG, holding the lock; returns 1 (saying so) when a build already holds it.
start_detached() {
  local label=$1 log=$2 nice=$3 script=$4
  if ! flock -n 9; then
    echo "$label: already being built in the background (log: $log)"
    return 1
  fi
  setsid nice -n "$nice" bash "$script" --detached </dev/null >"$log" 2>&1 9>&9 &
}

# wait_for_lock LABEL LOG: returns holding the lock, after a line a minute with LOG's last line
# while a background build holds it.
wait_for_lock() {
  local label=$1 log=$2 start=$EPOCHREALTIME
  flock -n 9 && return 0
  echo "$label: waiting for the build running in the background (log: $log)"
  until flock -w 60 9; do
    printf '    %s: still building (%s): %s\n' "$label" "$(elapsed "$start")" \
      "$(tail -1 "$log" 2>/dev/null | sed 's/\x1b\[[0-9;]*m//g; s/^ *//' | cut -c1-100)"
  done
}

# detached LABEL COMMAND...: the --detached mode's body: COMMAND, then how it ended and how long it took.
detached() {
  local label=$1 start=$EPOCHREALTIME rc=0
  shift
  "$@" || rc=$?
  echo "$label: background build $( ((rc == 0)) && echo done || echo "failed (exit $rc)") after $(elapsed "$start")"
  return $rc
}
