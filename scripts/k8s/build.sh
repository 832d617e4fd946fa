#!/usr/bin/env bash
# Builds, once, the binaries of the local test control plane from their own Go modules and
# caches them outside the clone under $KUBETRAINER_CACHE/k8s-<version>/bin:
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl  (k8s.io/kubernetes)
#   etcd                                                              (go.etcd.io/etcd/server/v3)
#   kwok, kwokctl                                                     (sigs.k8s.io/kwok)
#   helm                                                              (helm.sh/helm/v3)
# A stamp of the go.mod/go.sum files and this script makes a second run return in
# milliseconds. The first build takes a long time on a small machine (see README).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../lib.sh"
source "$here/versions.sh"

mkdir -p "$K8S_BIN" "$K8S_DIR/logs"
stamp="$K8S_BIN/.stamp"
want=$(cat "$here"/versions.sh "$here"/build.sh "$here"/{kube,etcd,kwok,helm}/go.{mod,sum} \
  "$here"/etcd/main.go | sha256sum | cut -c1-16)

all_built() {
  local b
  for b in "${K8S_BINARIES[@]}"; do [[ -x $K8S_BIN/$b ]] || return 1; done
  [[ -f $stamp && $(cat "$stamp") == "$want" ]]
}
all_built && exit 0

# One build at a time: `make setup`, `make cluster-up` and pytest may all ask at once.
exec 9>"$K8S_DIR/.build.lock"
flock 9
all_built && exit 0

command -v go >/dev/null || { echo "build.sh: the go command is needed to build the control plane" >&2; exit 1; }
export GOMODCACHE="$K8S_DIR/gomod" GOCACHE="$K8S_DIR/gocache"
export GOFLAGS="-trimpath -mod=readonly" CGO_ENABLED=0 GOTOOLCHAIN=local
minor=${K8S_VERSION#v1.}; minor=${minor%%.*}

version_flags() { # the -X flags Kubernetes' own build sets, so `--version` reports the release
  local pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    printf -- '-X %s.gitVersion=%s -X %s.gitMajor=1 -X %s.gitMinor=%s -X %s.gitTreeState=clean ' \
      "$pkg" "$K8S_VERSION" "$pkg" "$pkg" "$minor" "$pkg"
  done
}

build() { # build <module dir> <ldflags> <package>...
  local dir=$1 ldflags=$2; shift 2
  step "k8s: building $(printf '%s ' "${@##*/}")(log: $K8S_DIR/logs/build.log)"
  (cd "$here/$dir" && nice -n 10 go build -p 2 -ldflags="-s -w $ldflags" -o "$K8S_BIN/" "$@") \
    >>"$K8S_DIR/logs/build.log" 2>&1 || { tail -20 "$K8S_DIR/logs/build.log" >&2; exit 1; }
}

start=$(date +%s)
build kube "$(version_flags)" k8s.io/kubernetes/cmd/{kube-apiserver,kube-controller-manager,kube-scheduler,kubectl}
build etcd "" .
build kwok "-X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v} -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=${K8S_VERSION#v}" \
  sigs.k8s.io/kwok/cmd/kwok sigs.k8s.io/kwok/cmd/kwokctl
build helm "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" helm.sh/helm/v3/cmd/helm
seconds=$(( $(date +%s) - start ))
echo "$want" > "$stamp"
step "k8s: built in ${seconds}s; bin $(du -sh "$K8S_BIN" | cut -f1), whole cache $(du -sh "$K8S_DIR" | cut -f1)"
