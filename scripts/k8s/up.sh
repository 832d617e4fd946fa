#!/usr/bin/env bash
# Starts the local test control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler and the kwok controller, all real processes from the cached build) on
# loopback with free ports, waits until it is ready, creates the simulated nodes, and
# returns with everything running in the background.
#   usage: up.sh [CLUSTER_DIR]   (default: .cluster in the clone)
# The kubeconfig is CLUSTER_DIR/kubeconfig; kwokctl's own state (certificates, the
# service-account key, pid files, logs) lives in CLUSTER_DIR/kwok. Stop it with down.sh.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
source "$here/versions.sh"
dir="$(realpath -m "${1:-$repo/.cluster}")"
kubeconfig="$dir/kubeconfig"
export KWOK_WORKDIR="$dir/kwok"
export PATH="$K8S_BIN:$PATH"
# kwokctl takes every binary from the cache, so it never tries to download one.
export KWOK_KUBE_APISERVER_BINARY="$K8S_BIN/kube-apiserver" KWOK_ETCD_BINARY="$K8S_BIN/etcd" \
  KWOK_KUBE_CONTROLLER_MANAGER_BINARY="$K8S_BIN/kube-controller-manager" \
  KWOK_KUBE_SCHEDULER_BINARY="$K8S_BIN/kube-scheduler" KWOK_CONTROLLER_BINARY="$K8S_BIN/kwok" \
  KWOK_KUBECTL_BINARY="$K8S_BIN/kubectl"

for b in "${K8S_BINARIES[@]}"; do
  if [[ ! -x $K8S_BIN/$b ]]; then
    echo "up.sh: $K8S_BIN/$b is not built; run \`make cluster-up\` or \`make setup-test\` (or scripts/k8s/build.sh) first" >&2
    exit 1
  fi
done

if [[ -f $kubeconfig ]] && kubectl --kubeconfig "$kubeconfig" get --raw /readyz >/dev/null 2>&1; then
  echo "cluster already running; kubeconfig: $kubeconfig"
  exit 0
fi
[[ -d $KWOK_WORKDIR ]] && bash "$here/down.sh" "$dir" >/dev/null 2>&1 || true
mkdir -p "$dir"

start=$(date +%s%N)
if ! kwokctl create cluster --name "$K8S_CLUSTER_NAME" --config "$here/kwokctl.yaml" \
    --kubeconfig "$kubeconfig" --wait 120s --timeout 180s >"$dir/up.log" 2>&1; then
  cp -r "$KWOK_WORKDIR/clusters/$K8S_CLUSTER_NAME/logs" "$dir/failed-logs" 2>/dev/null || true
  bash "$here/down.sh" "$dir" >/dev/null 2>&1 || true
  echo "up.sh: kwokctl create cluster failed (log: $dir/up.log, component logs: $dir/failed-logs):" >&2
  tail -20 "$dir/up.log" >&2
  exit 1
fi
python="$repo/.venv/bin/python"
[[ -x $python ]] || python=python3
"$python" "$here/nodes.py" --kubeconfig "$kubeconfig"
echo "cluster ready in $(( ($(date +%s%N) - start) / 1000000 )) ms; kubeconfig: $kubeconfig"
