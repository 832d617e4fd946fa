#!/usr/bin/env bash
# Stops every process up.sh started for CLUSTER_DIR (default: .cluster) and removes its state.
#   usage: down.sh [CLUSTER_DIR]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
source "$here/versions.sh"
dir="$(realpath -m "${1:-$repo/.cluster}")"
export KWOK_WORKDIR="$dir/kwok"
pids="$KWOK_WORKDIR/clusters/$K8S_CLUSTER_NAME/pids"

if [[ -x $K8S_BIN/kwokctl && -d $KWOK_WORKDIR/clusters/$K8S_CLUSTER_NAME ]]; then
  "$K8S_BIN/kwokctl" delete cluster --name "$K8S_CLUSTER_NAME" --kubeconfig "$dir/kubeconfig" >/dev/null 2>&1 || true
fi
# Whatever kwokctl could not stop (a half-created cluster): end it by the pid it recorded.
if [[ -d $pids ]]; then
  for f in "$pids"/*.pid; do
    [[ -e $f ]] || continue
    kill "$(cat "$f")" 2>/dev/null || true
  done
fi
rm -rf "$KWOK_WORKDIR" "$dir/kubeconfig"
echo "cluster stopped ($dir)"
