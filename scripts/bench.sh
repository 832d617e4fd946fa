#!/usr/bin/env bash
# `make bench`: every benchmark in bench/ (each measures ours and a baseline in one run),
# then BENCHMARKS.md is rewritten from their sections. `make bench ONLY=detect` runs one.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
for script in bench/bench_*.py; do
  [[ -e $script ]] || continue
  [[ -z ${ONLY:-} || $script == *"$ONLY"* ]] || continue
  step "bench: $script"
  .venv/bin/python "$script"
done
.venv/bin/python bench/assemble.py
