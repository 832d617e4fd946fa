#!/usr/bin/env bash
# Starts the build of the local Kubernetes control plane (scripts/k8s/build.sh) in the
# background, first in the test set so that it runs while the rest is set up and while the
# tests that do not need it run; the ones that do wait for it. Returns at once, and when the
# binaries are cached (every run after the first on a machine) does nothing.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec bash scripts/k8s/build.sh --background
