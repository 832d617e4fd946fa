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

# The pids kwokctl recorded, read before it deletes them with the cluster.
started=()
for f in "$pids"/*.pid; do
  [[ -e $f ]] && started+=("$(tr -cd 0-9 <"$f")")
done
if [[ -x $K8S_BIN/kwokctl && -d $KWOK_WORKDIR/clusters/$K8S_CLUSTER_NAME ]]; then
  "$K8S_BIN/kwokctl" delete cluster --name "$K8S_CLUSTER_NAME" --kubeconfig "$dir/kubeconfig" >/dev/null 2>&1 || true
fi
# Return only once every one of them has exited; what is left after 15 s is killed.
for pid in "${started[@]}"; do
  [[ -n $pid ]] || continue
  for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" || true; fi
done
rm -rf "$KWOK_WORKDIR" "$dir/kubeconfig"
echo "cluster stopped ($dir)"
