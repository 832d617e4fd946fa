#!/usr/bin/env bash
# Builds the Rust node agent `kubetrainer-agent` (release). The cargo target directory
# lives under $KUBETRAINER_CACHE, so a fresh clone reuses earlier builds; a stamp of the
# sources makes a run with nothing changed return at once. Links the binary into .venv/bin,
# so `kubetrainer-agent` is a command in the activated virtualenv, as the README shows.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib.sh
[[ -d $HOME/.cargo/bin ]] && export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR="$KUBETRAINER_CACHE/cargo-target/agent"
binary="$CARGO_TARGET_DIR/release/kubetrainer-agent"
stamp="$CARGO_TARGET_DIR/.stamp-agent"
want=$( (cat cluster_agent/Cargo.toml cluster_agent/Cargo.lock schemas/redaction-vectors.json
         find cluster_agent/src -type f -print0 | sort -z | xargs -0 cat) | sha256sum | cut -c1-16)

link() { # a symlink, so a later rebuild is what the command runs
  [[ -d .venv/bin ]] || return 0
  ln -sfn "$binary" .venv/bin/kubetrainer-agent
}

if [[ -x $binary && -f $stamp && $(cat "$stamp") == "$want" ]]; then
  link
  echo "agent: up to date: $binary"
  exit 0
fi
if ! command -v cargo >/dev/null; then
  echo "agent: cargo not found; install the Rust toolchain (https://rustup.rs) and rerun make setup" >&2
  exit 1
fi
step "agent: cargo build --release (kubetrainer-agent)"
nice -n 10 cargo build --release --locked --manifest-path cluster_agent/Cargo.toml
echo "$want" > "$stamp"
link
echo "agent: built $binary ($(du -h "$binary" | cut -f1)), linked as .venv/bin/kubetrainer-agent"
