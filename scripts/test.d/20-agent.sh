#!/usr/bin/env bash
# The agent's Rust tests (CRI parser, tracker, redaction vectors, sinks, telemetry parsers).
# Its integration tests run the release binary from pytest (tests/agent/).
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib.sh
[[ -d $HOME/.cargo/bin ]] && export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR="$KUBETRAINER_CACHE/cargo-target/agent"
nice -n 10 cargo test --locked --manifest-path cluster_agent/Cargo.toml
