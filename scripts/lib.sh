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
