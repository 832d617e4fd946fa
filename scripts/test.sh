#!/usr/bin/env bash
# Every test suite: each part in scripts/test.d/ (Rust, ...) and then pytest.
# Fails on the first failing suite; pytest's "no tests collected" (exit 5) fails too.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

for part in scripts/test.d/*.sh; do
  [[ -e $part ]] || continue
  step "suite: $part"
  bash "$part"
done

step "suite: pytest"
.venv/bin/python -m pytest "$@"
