# The pinned releases of the local control plane and where their binaries are cached
# (sourced by build.sh, up.sh and down.sh; controlplane/go.mod pins the same versions).
K8S_VERSION=v1.36.3
ETCD_VERSION=v3.6.16
KWOK_VERSION=v0.8.0
HELM_VERSION=v3.21.4  # the helm release whose client-go is this Kubernetes release's

K8S_DIR="${KUBETRAINER_CACHE:-$HOME/.cache/kubetrainer}/k8s-$K8S_VERSION"
K8S_BIN="$K8S_DIR/bin"
K8S_BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok kwokctl helm)
K8S_CLUSTER_NAME=kubetrainer
