#!/usr/bin/env bash
# Builds the Rust node agent `kubetrainer-agent` (release). The cargo target directory
# lives under $KUBETRAINER_CACHE, so a fresh clone reuses earlier builds; a stamp of the
# sources makes a run with nothing changed return at once. Links the binary into .venv/bin,
# so `kubetrainer-agent` is a command in the activated virtualenv, as the README shows.
#   KUBETRAINER_AGENT_BUILD=wait        (default; `make setup-test`) build now, and first wait
#                                       for a build already running in the background
#   KUBETRAINER_AGENT_BUILD=background  (`make setup`, `make run`) start the build detached and
#                                       at low priority, and return at once: the main job uses
#                                       the agent only in `harvest --local`, which reads the
#                                       pods' logs with the Python reader until the agent exists
# One build at a time: every build holds $KUBETRAINER_CACHE/agent-build.lock (flock), and its
# output goes to $KUBETRAINER_CACHE/agent-build.log when it runs in the background.
set -euo pipefail
self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$0")/../.."
source scripts/lib.sh
[[ -d $HOME/.cargo/bin ]] && export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR="$KUBETRAINER_CACHE/cargo-target/agent"
binary="$CARGO_TARGET_DIR/release/kubetrainer-agent"
stamp="$CARGO_TARGET_DIR/.stamp-agent"
lock="$KUBETRAINER_CACHE/agent-build.lock"
log="$KUBETRAINER_CACHE/agent-build.log"
mode=${KUBETRAINER_AGENT_BUILD:-wait}
want=$( (cat cluster_agent/Cargo.toml cluster_agent/Cargo.lock schemas/redaction-vectors.json
         find cluster_agent/src -type f -print0 | sort -z | xargs -0 cat) | sha256sum | cut -c1-16)

link() { # a symlink, so a later rebuild is what the command runs
  [[ -d .venv/bin ]] || return 0
  ln -sfn "$binary" .venv/bin/kubetrainer-agent
}

up_to_date() { [[ -x $binary && -f $stamp && $(cat "$stamp") == "$want" ]]; }

build() { # with the lock held on fd 9; cargo does not keep it
  if up_to_date; then  # another build finished it while this one waited for the lock
    link
    echo "agent: up to date: $binary"
    return 0
  fi
  step "agent: cargo build --release (kubetrainer-agent)"
  nice -n 10 cargo build --release --locked --manifest-path cluster_agent/Cargo.toml 9>&- || return
  echo "$want" > "$stamp"
  link
  echo "agent: built $binary ($(du -h "$binary" | cut -f1)), linked as .venv/bin/kubetrainer-agent"
}

if [[ ${1:-} == --detached ]]; then  # the build background mode started; it inherited the lock
  detached agent build
  exit
fi

if up_to_date; then
  link
  echo "agent: up to date: $binary"
  exit 0
fi
if ! command -v cargo >/dev/null; then
  echo "agent: cargo not found; install the Rust toolchain (https://rustup.rs) and rerun make setup" >&2
  exit 1
fi
exec 9>>"$lock"
case $mode in
  background)
    start_detached agent "$log" 19 "$self" || exit 0
    echo "agent: building in the background at low priority (log: $log); until then \`harvest --local\` reads pod logs in Python"
    ;;
  wait) wait_for_lock agent "$log"; build ;;
  *) echo "agent: KUBETRAINER_AGENT_BUILD=$mode; expected wait or background" >&2; exit 2 ;;
esac
