#!/usr/bin/env bash
# Builds, once, the binaries of the local test control plane and caches them outside the clone
# under $KUBETRAINER_CACHE/k8s-<version>/bin:
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl  (k8s.io/kubernetes)
#   etcd                                                              (go.etcd.io/etcd/server/v3)
#   kwok, kwokctl                                                     (sigs.k8s.io/kwok)
#   helm                                                              (helm.sh/helm/v3)
# All eight come from one Go module (controlplane/) and one `go build`: the packages they share
# (k8s.io/api, client-go, apimachinery, grpc, protobuf, otel, ...) then exist in one version and
# compile once, which is about 40% less Go source than four modules with their own versions.
# A stamp (bin/.stamp) holds a hash of the module, the flags and the ldflags; when it matches,
# a run returns in milliseconds. The first build takes long on a small machine (see README);
# it prints how many packages are compiled as it goes.
#   build.sh               build now; first wait for a build already running
#   build.sh --background  (`make setup-test`) start the build detached at low priority and
#                          return at once: the tests that need the binaries wait for it
#                          (tests/conftest.py runs build.sh, which waits), the others run meanwhile
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
self="$here/$(basename "$0")"
source "$here/../lib.sh"
source "$here/versions.sh"

mkdir -p "$K8S_BIN" "$K8S_DIR/logs"
log="$K8S_DIR/logs/build.log"
background_log="$K8S_DIR/logs/background.log"
module="$here/controlplane"
export GOMODCACHE="$K8S_DIR/gomod" GOCACHE="$K8S_DIR/gocache"
export GOFLAGS="-trimpath -mod=readonly" CGO_ENABLED=0 GOTOOLCHAIN=local
packages="k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager
  k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl ./etcd
  sigs.k8s.io/kwok/cmd/kwok sigs.k8s.io/kwok/cmd/kwokctl helm.sh/helm/v3/cmd/helm"
minor=${K8S_VERSION#v1.}; minor=${minor%%.*}

ldflags() { # the -X flags the projects' own release builds set
  local pkg
  # Kubernetes: `--version` reports the release.
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    printf -- '-X %s.gitVersion=%s -X %s.gitMajor=1 -X %s.gitMinor=%s -X %s.gitTreeState=clean ' \
      "$pkg" "$K8S_VERSION" "$pkg" "$pkg" "$minor" "$pkg"
  done
  printf -- '-X sigs.k8s.io/kwok/pkg/consts.Version=%s -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=%s ' \
    "${KWOK_VERSION#v}" "${K8S_VERSION#v}"
  # helm: its version, and the Kubernetes version of its client-go (pinned to K8S_VERSION here),
  # the default of `helm template` and of lint's deprecation rules; unset, both say 1.20 and a
  # chart's `kubeVersion: >=1.27` fails without --kube-version.
  printf -- '-X helm.sh/helm/v3/internal/version.version=%s ' "$HELM_VERSION"
  for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
    printf -- '-X %s.k8sVersionMajor=1 -X %s.k8sVersionMinor=%s ' "$pkg" "$pkg" "$minor"
  done
}
flags="-s -w $(ldflags)"

want=$( (cat "$module"/go.mod "$module"/go.sum; find "$module" -name '*.go' -print0 | sort -z | xargs -0r cat
         printf '%s\n' "GOFLAGS=$GOFLAGS CGO_ENABLED=$CGO_ENABLED" "$flags" "$packages") | sha256sum | cut -c1-16)

up_to_date() {
  local b
  for b in "${K8S_BINARIES[@]}"; do [[ -x $K8S_BIN/$b ]] || return 1; done
  [[ -f $K8S_BIN/.stamp && $(cat "$K8S_BIN/.stamp") == "$want" ]]
}

build() { # with the lock held on fd 9
  local list total start=$EPOCHREALTIME
  if up_to_date; then echo "k8s: up to date: $K8S_BIN"; return 0; fi
  command -v go >/dev/null || { echo "build.sh: the go command is needed to build the control plane" >&2; return 1; }
  step "k8s: fetching the Go modules of ${K8S_BINARIES[*]} (log: $log)"
  list=$(mktemp)
  # shellcheck disable=SC2086 # the packages are words
  (cd "$module" && go list -deps $packages 2>&1 >"$list" 9>&-) | tee -a "$log" \
    | progress "k8s" "modules downloaded" "" '^go: downloading ' \
    || { tail -20 "$log" >&2; rm -f "$list"; return 1; }
  total=$(wc -l <"$list"); rm -f "$list"
  step "k8s: building ${K8S_BINARIES[*]} ($total packages, compiled unless in GOCACHE)"
  # shellcheck disable=SC2086
  (cd "$module" && nice -n 10 go build -v -p 2 -ldflags="$flags" -o "$K8S_BIN/" $packages 2>&1 9>&-) \
    | tee -a "$log" | progress "k8s" "packages compiled" "$total" '^[A-Za-z0-9_./~+-]+$' \
    || { tail -20 "$log" >&2; return 1; }
  echo "$want" > "$K8S_BIN/.stamp"
  step "k8s: built in $(elapsed "$start"); bin $(du -sh "$K8S_BIN" | cut -f1), whole cache $(du -sh "$K8S_DIR" | cut -f1)"
}

if [[ ${1:-} == --detached ]]; then  # the background build; it inherited the lock on fd 9
  detached k8s build
  exit
fi

up_to_date && { echo "k8s: up to date: $K8S_BIN"; exit 0; }
# One build at a time: `make setup-test`, `make cluster-up` and pytest may all ask at once.
exec 9>>"$K8S_DIR/.build.lock"
case ${1:-} in
  --background)
    start_detached k8s "$background_log" 0 "$self" || exit 0
    echo "k8s: building the control plane in the background (log: $background_log); the tests that need it wait for it"
    ;;
  "") wait_for_lock k8s "$background_log"; build ;;
  *) echo "usage: build.sh [--background]" >&2; exit 2 ;;
esac
