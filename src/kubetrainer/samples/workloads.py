"""The sample cluster's normal workloads: what a busy mixed web + ML cluster runs.

Plain data: the generator places these on nodes, gives them routine logs in the
listed style, and the incidents then break a few of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ContainerSpec:
    name: str
    image: str
    style: str  # a key of samples.noise.STYLES
    weight: float = 1.0  # share of the cluster's log volume
    env: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Workload:
    namespace: str
    name: str
    kind: str  # Deployment | DaemonSet | StatefulSet | Job
    containers: tuple[ContainerSpec, ...]
    replicas: int = 1
    gpu_vendor: str | None = None  # nvidia | amd | intel: run only on those nodes
    gpus: int = 0
    port: int | None = None
    labels: dict[str, str] = field(default_factory=dict)


def _one(
    namespace: str,
    name: str,
    kind: str,
    image: str,
    style: str,
    *,
    replicas: int = 1,
    gpu_vendor: str | None = None,
    gpus: int = 0,
    port: int | None = None,
    weight: float = 1.0,
) -> Workload:
    """A workload with one container (DaemonSets name it after themselves, apps call it `app`)."""
    container = ContainerSpec(name.split("-")[0] if kind == "DaemonSet" else "app", image, style, weight)
    return Workload(namespace, name, kind, (container,), replicas, gpu_vendor, gpus, port)


WORKLOADS: tuple[Workload, ...] = (
    _one("kube-system", "coredns", "Deployment", "registry.k8s.io/coredns/coredns:v1.11.1", "coredns", replicas=2, port=53, weight=2.0),
    _one("kube-system", "kube-proxy", "DaemonSet", "registry.k8s.io/kube-proxy:v1.30.2", "controller", weight=0.3),
    _one("kube-system", "nvidia-device-plugin-daemonset", "DaemonSet", "nvcr.io/nvidia/k8s-device-plugin:v0.15.0", "controller", gpu_vendor="nvidia", weight=0.2),
    _one("kube-system", "metrics-server", "Deployment", "registry.k8s.io/metrics-server/metrics-server:v0.7.1", "controller", port=443, weight=0.5),
    _one("gpu-operator", "nvidia-dcgm-exporter", "DaemonSet", "nvcr.io/nvidia/k8s/dcgm-exporter:3.3.5-3.4.1-ubuntu22.04", "gpu-exporter", gpu_vendor="nvidia", weight=1.0),
    _one("ingress-nginx", "ingress-nginx-controller", "Deployment", "registry.k8s.io/ingress-nginx/controller:v1.10.1", "nginx", replicas=2, port=443, weight=6.0),
    _one("cert-manager", "cert-manager", "Deployment", "quay.io/jetstack/cert-manager-controller:v1.14.5", "controller", weight=0.5),
    _one("web", "storefront", "Deployment", "registry.example.com/shop/storefront:4.12.0", "nginx", replicas=3, port=8080, weight=8.0),
    _one("web", "catalog-api", "Deployment", "registry.example.com/shop/catalog-api:2.3.1", "json-api", replicas=2, port=8080, weight=5.0),
    _one("web", "checkout-api", "Deployment", "registry.example.com/shop/checkout-api:3.8.0", "json-api", replicas=2, port=8080, weight=3.0),
    _one("web", "notification-worker", "Deployment", "registry.example.com/shop/notification-worker:1.4.2", "worker", weight=1.5),
    _one("web", "redis", "StatefulSet", "docker.io/library/redis:7.2.4", "redis", port=6379, weight=0.5),
    _one("data", "kafka-consumer", "Deployment", "registry.example.com/data/kafka-consumer:0.9.7", "worker", replicas=2, weight=3.0),
    _one("data", "etl-runner", "Deployment", "registry.example.com/data/etl-runner:2.3.8", "worker", weight=1.0),
    _one("data", "postgres", "StatefulSet", "docker.io/library/postgres:16.2", "worker", port=5432, weight=0.5),
    _one("ml-training", "feature-extractor", "Deployment", "registry.example.com/ml/feature-extractor:1.2.0", "worker", weight=1.5),
    _one("ml-training", "llama-finetune", "Job", "registry.example.com/ml/trainer:2026.02", "training", gpu_vendor="nvidia", gpus=1, weight=2.0),
    _one("ml-training", "resnet-train", "Job", "registry.example.com/ml/trainer:2026.02", "training", gpu_vendor="amd", gpus=1, weight=1.5),
    _one("ml-training", "ddp-pretrain", "Job", "registry.example.com/ml/trainer:2026.02", "training", gpu_vendor="nvidia", gpus=8),
    _one("inference", "llm-gateway", "Deployment", "registry.example.com/ml/llm-gateway:0.6.3", "json-api", replicas=2, port=8000, weight=2.0),
    _one("inference", "vllm-server", "Deployment", "docker.io/vllm/vllm-openai:v0.6.3", "json-api", gpu_vendor="nvidia", gpus=1, port=8000, weight=2.0),
    _one("inference", "embeddings", "Deployment", "registry.example.com/ml/embeddings:1.1.0", "json-api", gpu_vendor="intel", gpus=1, port=8000, weight=1.0),
    _one("monitoring", "prometheus", "StatefulSet", "quay.io/prometheus/prometheus:v2.51.0", "controller", port=9090, weight=1.0),
    _one("monitoring", "grafana", "Deployment", "docker.io/grafana/grafana:10.4.2", "json-api", port=3000, weight=1.0),
)
