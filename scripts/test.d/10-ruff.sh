#!/usr/bin/env bash
# Lint: errors that are bugs (pyproject.toml [tool.ruff]: syntax, undefined and unused names, import order).
set -euo pipefail
cd "$(dirname "$0")/../.."
.venv/bin/ruff check src tests bench infra_training
