#!/usr/bin/env bash
# Prometheus and Alertmanager for the alert tests (tests/investigate/): the end-to-end test
# starts both itself on free loopback ports with temporary configs, so a rule fires through
# Prometheus and Alertmanager into `kubetrainer serve`'s /v1/alerts. Nothing runs as a service.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
ensure_apt prometheus prometheus-alertmanager
