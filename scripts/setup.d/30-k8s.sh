#!/usr/bin/env bash
# Warms the cache of the local Kubernetes control plane used by tests/k8s (scripts/k8s/build.sh):
# the first build takes long (see README), later runs return at once.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec bash scripts/k8s/build.sh
