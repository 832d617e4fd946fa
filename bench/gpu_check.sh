#!/usr/bin/env bash
# The GPU checks, for any machine with an NVIDIA GPU: each script in bench/gpu/ runs
# the real path (NVML, bf16 training steps, peak memory, the agent's NVML telemetry)
# and writes its figures to $OUT (default bench/results/gpu).
set -uo pipefail
cd "$(dirname "$0")/.."
export OUT="${OUT:-bench/results/gpu}"
mkdir -p "$OUT"
status=0
for check in bench/gpu/check_*; do
  [[ -e $check ]] || continue
  echo "==> $check"
  case $check in
    *.py) .venv/bin/python "$check" || status=1 ;;
    *.sh) bash "$check" || status=1 ;;
  esac
done
exit $status
