# Shared helpers for the project's shell scripts (sourced, not run).

# Build caches live outside the clone so a fresh clone (CI) reuses them.
export KUBETRAINER_CACHE="${KUBETRAINER_CACHE:-$HOME/.cache/kubetrainer}"
mkdir -p "$KUBETRAINER_CACHE"

step() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }

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
