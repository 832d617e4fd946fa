#!/usr/bin/env bash
# Builds the Rust node agent `kubetrainer-agent` (release). The cargo target directory
# lives under $KUBETRAINER_CACHE, so a fresh clone reuses earlier builds; a stamp of the
# sources makes a run with nothing changed return at once. Prints where the binary is.
# Also installs rsyslog, the trusted shipper bench/bench_agent.py measures against.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib.sh
ensure_apt rsyslog
[[ -d $HOME/.cargo/bin ]] && export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR="$KUBETRAINER_CACHE/cargo-target/agent"
binary="$CARGO_TARGET_DIR/release/kubetrainer-agent"
stamp="$CARGO_TARGET_DIR/.stamp-agent"
want=$( (cat cluster_agent/Cargo.toml cluster_agent/Cargo.lock schemas/redaction-vectors.json
         find cluster_agent/src -type f -print0 | sort -z | xargs -0 cat) | sha256sum | cut -c1-16)
if [[ -x $binary && -f $stamp && $(cat "$stamp") == "$want" ]]; then
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
echo "agent: built $binary ($(du -h "$binary" | cut -f1))"
