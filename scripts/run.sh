#!/usr/bin/env bash
# `make run`: the main job on the embedded default, offline; says how long it took.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
timed "main job (kubetrainer quickstart)" .venv/bin/kubetrainer quickstart "$@"
