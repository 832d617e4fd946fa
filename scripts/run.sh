#!/usr/bin/env bash
# `make run`: the main job on the embedded default, offline.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/kubetrainer quickstart "$@"
