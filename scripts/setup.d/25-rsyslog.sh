#!/usr/bin/env bash
# rsyslog, the trusted shipper bench/bench_agent.py measures the agent against.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
ensure_apt rsyslog
