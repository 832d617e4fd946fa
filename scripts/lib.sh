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
