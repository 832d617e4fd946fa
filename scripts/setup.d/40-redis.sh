#!/usr/bin/env bash
# Redis for the serve tests: the cluster-wide response/embedding cache backend
# (`kubetrainer serve --redis redis://...`). The tests start their own
# redis-server on a free loopback port; nothing runs as a system service.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
ensure_apt redis-server
