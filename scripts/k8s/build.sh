#!/usr/bin/env bash
# Builds, once, the binaries of the local test control plane from their own Go modules and
# caches them outside the clone under $KUBETRAINER_CACHE/k8s-<version>/bin:
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl  (k8s.io/kubernetes)
#   etcd                                                              (go.etcd.io/etcd/server/v3)
#   kwok, kwokctl                                                     (sigs.k8s.io/kwok)
#   helm                                                              (helm.sh/helm/v3)
# Each of the four parts has its own stamp (bin/.stamp-<part>): a hash of its go.mod/go.sum
# (and sources), the packages, the flags and ldflags it is built with. A part whose stamp
# matches is not rebuilt, so changing one (say helm's ldflags) rebuilds that part only, and a
# run with nothing changed returns in milliseconds. The first build takes a long time on a
# small machine (see README); it prints how many packages are compiled as it goes.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../lib.sh"
source "$here/versions.sh"

mkdir -p "$K8S_BIN" "$K8S_DIR/logs"
log="$K8S_DIR/logs/build.log"
export GOMODCACHE="$K8S_DIR/gomod" GOCACHE="$K8S_DIR/gocache"
export GOFLAGS="-trimpath -mod=readonly" CGO_ENABLED=0 GOTOOLCHAIN=local
common="GOFLAGS=$GOFLAGS CGO_ENABLED=$CGO_ENABLED -p 2 -ldflags=-s -w"  # part of every stamp
minor=${K8S_VERSION#v1.}; minor=${minor%%.*}

kube_flags() { # the -X flags Kubernetes' own build sets, so `--version` reports the release
  local pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    printf -- '-X %s.gitVersion=%s -X %s.gitMajor=1 -X %s.gitMinor=%s -X %s.gitTreeState=clean ' \
      "$pkg" "$K8S_VERSION" "$pkg" "$pkg" "$minor" "$pkg"
  done
}

helm_flags() { # what helm's release Makefile sets: its version, and the Kubernetes version its
  # client-go is for (v0.N -> 1.N), the default of `helm template` and of lint's deprecation
  # rules (unset, both say 1.20 and a chart's `kubeVersion: >=1.27` fails without --kube-version)
  local client_go major kminor
  client_go=$(awk '$1 == "k8s.io/client-go" { print $2 }' "$here/helm/go.mod")
  client_go=${client_go#v}; major=$(( ${client_go%%.*} + 1 )); kminor=${client_go#*.}; kminor=${kminor%%.*}
  printf -- '-X helm.sh/helm/v3/internal/version.version=%s ' "$HELM_VERSION"
  printf -- '-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=%s -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=%s ' \
    "$major" "$kminor"
  printf -- '-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=%s -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=%s' \
    "$major" "$kminor"
}

# The parts: name | module dir | ldflags | packages | binaries
parts=(
  "kube|kube|$(kube_flags)|k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl|kube-apiserver kube-controller-manager kube-scheduler kubectl"
  "etcd|etcd||.|etcd"
  "kwok|kwok|-X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v} -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=${K8S_VERSION#v}|sigs.k8s.io/kwok/cmd/kwok sigs.k8s.io/kwok/cmd/kwokctl|kwok kwokctl"
  "helm|helm|$(helm_flags)|helm.sh/helm/v3/cmd/helm|helm"
)

key() { # key DIR LDFLAGS PACKAGES
  (cat "$here/$1"/go.mod "$here/$1"/go.sum; find "$here/$1" -name '*.go' -print0 | sort -z | xargs -0r cat
   printf '%s\n' "$common" "$2" "$3") | sha256sum | cut -c1-16
}

# Caches built before the per-part stamps have one .stamp for everything. Under this value
# (the previous build.sh, these same versions), kube, etcd and kwok were built from exactly the
# inputs whose keys are listed here, so they are kept; helm is rebuilt (its ldflags changed).
legacy_stamp=d8e1fb8a8ef8ce73
declare -A legacy_keys=([kube]=bb5e4a97090d2ac0 [etcd]=34bdb5e11c784d44 [kwok]=8d6d6fadc5f201a8)

up_to_date() { # up_to_date NAME KEY BINARIES: the binaries are there and built from KEY
  local b
  for b in $3; do [[ -x $K8S_BIN/$b ]] || return 1; done
  if [[ ! -f $K8S_BIN/.stamp-$1 && -f $K8S_BIN/.stamp && $(cat "$K8S_BIN/.stamp") == "$legacy_stamp" \
        && ${legacy_keys[$1]:-} == "$2" ]]; then
    echo "$2" > "$K8S_BIN/.stamp-$1"
  fi
  [[ -f $K8S_BIN/.stamp-$1 && $(cat "$K8S_BIN/.stamp-$1") == "$2" ]]
}

stale=()
check() {
  local part name dir flags packages binaries
  stale=()
  for part in "${parts[@]}"; do
    IFS='|' read -r name dir flags packages binaries <<<"$part"
    up_to_date "$name" "$(key "$dir" "$flags" "$packages")" "$binaries" || stale+=("$part")
  done
}
check
((${#stale[@]})) || { echo "k8s: up to date: $K8S_BIN"; exit 0; }

# One build at a time: `make setup-test`, `make cluster-up` and pytest may all ask at once.
exec 9>"$K8S_DIR/.build.lock"
flock 9
check
((${#stale[@]})) || { echo "k8s: up to date: $K8S_BIN"; exit 0; }

names=("${stale[@]%%|*}")
step "k8s: to build: ${names[*]} (the other parts are up to date)"
command -v go >/dev/null || { echo "build.sh: the go command is needed to build the control plane" >&2; exit 1; }

build() { # build NAME DIR LDFLAGS PACKAGES BINARIES
  local name=$1 dir=$2 ldflags=$3 packages=$4 list total
  list=$(mktemp)
  step "k8s: $name: fetching its Go modules (log: $log)"
  # shellcheck disable=SC2086 # the packages are words
  (cd "$here/$dir" && go list -deps $packages 2>&1 >"$list") | tee -a "$log" \
    | progress "$name" "modules downloaded" "" '^go: downloading ' \
    || { tail -20 "$log" >&2; rm -f "$list"; exit 1; }
  total=$(wc -l <"$list"); rm -f "$list"
  step "k8s: building $5 ($total packages, compiled unless in GOCACHE)"
  # shellcheck disable=SC2086
  (cd "$here/$dir" && nice -n 10 go build -v -p 2 -ldflags="-s -w $ldflags" -o "$K8S_BIN/" $packages 2>&1) \
    | tee -a "$log" | progress "$name" "packages compiled" "$total" '^[A-Za-z0-9_./~+-]+$' \
    || { tail -20 "$log" >&2; exit 1; }
  echo "$(key "$dir" "$ldflags" "$packages")" > "$K8S_BIN/.stamp-$name"
}

start=$EPOCHREALTIME
for part in "${stale[@]}"; do
  IFS='|' read -r name dir flags packages binaries <<<"$part"
  timed "k8s: $name" build "$name" "$dir" "$flags" "$packages" "$binaries"
done
rm -f "$K8S_BIN/.stamp"  # the single stamp of earlier caches; every part has its own now
step "k8s: built in $(elapsed "$start"); bin $(du -sh "$K8S_BIN" | cut -f1), whole cache $(du -sh "$K8S_DIR" | cut -f1)"
