#!/usr/bin/env bash
# `make bench`: every benchmark in bench/ (each measures ours and a baseline in one run),
# then BENCHMARKS.md is rewritten from their sections. `make bench ONLY=detect` runs one.
# Each starts only below a 1-minute load of 1.5 (it waits a while; FORCE=1 starts it anyway,
# marked): see scripts/bench_load.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
source scripts/bench_load.sh
for script in bench/bench_*.py; do
  [[ -e $script ]] || continue
  [[ -z ${ONLY:-} || $script == *"$ONLY"* ]] || continue
  step "bench: $script"
  bench_one "$script"
done
.venv/bin/python bench/assemble.py
