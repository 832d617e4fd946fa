#!/usr/bin/env bash
# `make cold`: a cold start measured honestly on this machine. A fresh clone of this
# repository's HEAD (committed work only) into a temporary directory, with every cache the
# set-up and the tests use empty and inside that directory, then `make run` and `make test`,
# each timed; at the end the per-step times the set-up printed ("<--" lines) and the load
# average before and after each step.
#   COLD_STEPS="run test"  (default) the make targets to run, in order; COLD_STEPS=run stops
#                          after `make run`
#   COLD_DIR=DIR           where to work (default: a new directory from mktemp -d)
#   COLD_KEEP=1            keep the clone and caches (default: only the logs are kept)
# Emptied: KUBETRAINER_CACHE (the agent's cargo target, the control plane with its GOMODCACHE
# and GOCACHE), PIP_CACHE_DIR, CARGO_HOME (crates registry), GOPATH/GOMODCACHE/GOCACHE,
# XDG_CACHE_HOME, HF_HOME, MPLCONFIGDIR and the data home (KUBETRAINER_HOME). Not emptied:
# the toolchains (python3, rustup's toolchain, go) and Debian packages, which are installed
# system-wide; on a brand-new machine the apt parts add their download time.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
source "$repo/scripts/lib.sh"

steps=${COLD_STEPS:-run test}
dir=${COLD_DIR:-$(mktemp -d /tmp/kubetrainer-cold.XXXXXX)}
mkdir -p "$dir/logs"
dir=$(cd "$dir" && pwd)
[[ -e $dir/clone ]] && { echo "cold.sh: $dir/clone exists; use an empty COLD_DIR" >&2; exit 2; }

export KUBETRAINER_CACHE="$dir/cache/kubetrainer" PIP_CACHE_DIR="$dir/cache/pip" \
  CARGO_HOME="$dir/cargo" GOPATH="$dir/go" GOMODCACHE="$dir/go/pkg/mod" GOCACHE="$dir/cache/go-build" \
  XDG_CACHE_HOME="$dir/cache" HF_HOME="$dir/cache/huggingface" MPLCONFIGDIR="$dir/cache/matplotlib" \
  KUBETRAINER_HOME="$dir/home"
unset CARGO_TARGET_DIR KUBETRAINER_AGENT_BIN VIRTUAL_ENV KUBETRAINER_TEST_KUBECONFIG
# rustup's `cargo` proxy lives in ~/.cargo/bin; with CARGO_HOME moved it still finds the
# toolchain through RUSTUP_HOME, so pin that to where it is now.
export RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}"
mkdir -p "$KUBETRAINER_CACHE" "$PIP_CACHE_DIR" "$CARGO_HOME" "$GOMODCACHE" "$GOCACHE" "$KUBETRAINER_HOME"

load() { cut -d' ' -f1-3 /proc/loadavg; }
summary="$dir/logs/summary.txt"
: > "$summary"
note() { echo "$*" | tee -a "$summary"; }

note "cold start of $(git -C "$repo" rev-parse --short HEAD) in $dir on $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
start=$EPOCHREALTIME
note "clone: $(timed "git clone" git clone -q "$repo" "$dir/clone" 2>&1 | sed 's/\x1b\[[0-9;]*m//g')"
status=0
for target in $steps; do
  log="$dir/logs/make-$target.log"
  before=$(load)
  step "cold: make $target (log: $log)"
  rc=0
  timed "make $target" make -C "$dir/clone" "$target" 2>&1 | tee "$log" || rc=$?
  { echo "make $target (load average before: $before; after: $(load))"
    grep -a -- '<--\|set-up (.*) done in' "$log" | sed 's/\x1b\[[0-9;]*m//g; s/^/  /'
  } >> "$summary"
  if ((rc != 0)); then status=$rc; break; fi
done
note "total: $(elapsed "$start")"
# `make run` leaves the agent building in the background (setup.core.d/20-agent.sh): let it
# finish before the clean-up, and keep its log and how long it took.
if [[ -e $KUBETRAINER_CACHE/agent-build.log ]]; then
  flock "$KUBETRAINER_CACHE/agent-build.lock" true
  cp "$KUBETRAINER_CACHE/agent-build.log" "$dir/logs/"
  note "$(tail -1 "$KUBETRAINER_CACHE/agent-build.log")"
fi
if [[ ${COLD_KEEP:-} != 1 ]]; then
  chmod -R u+w "$dir" 2>/dev/null || true  # Go's module cache is read-only
  find "$dir" -mindepth 1 -maxdepth 1 ! -name logs -exec rm -rf {} +
fi
step "cold: summary ($summary)"
cat "$summary"
exit $status
