"""The cluster a job is planned against: live (kubeconfig) or offline (`--from` a dump or nodes file)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubetrainer.hardware.cluster import build_inventory
from kubetrainer.hardware.inventory import ClusterInventory
from kubetrainer.hardware.readers import read_path
from kubetrainer.k8s.client import Cluster


@dataclass(frozen=True)
class ClusterState:
    inventory: ClusterInventory
    node_labels: dict[str, dict[str, str]]
    served_backends: set[str]


def _state(source: str, nodes: list[dict[str, Any]], pods: list[dict[str, Any]], served: set[str]) -> ClusterState:
    labels = {node["metadata"]["name"]: dict(node["metadata"].get("labels") or {}) for node in nodes}
    return ClusterState(build_inventory(source, nodes, pods), labels, served)


def from_cluster(cluster: Cluster) -> ClusterState:
    nodes, pods = cluster.nodes_and_pods()
    return _state(f"api:{cluster.host}", nodes, pods, cluster.served_backends())


def from_path(path: Path) -> ClusterState:
    """Offline planning: a dump has no API discovery, so only the plain Job backend is assumed."""
    nodes, pods = read_path(path)
    return _state(f"file:{path}", nodes, pods, {"job"})
