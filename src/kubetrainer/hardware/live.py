"""The live cluster reader: list Nodes and unfinished Pods through the project's one client adapter.

A thin adapter over `hardware.cluster`: `k8s.client.Cluster` pages through both lists
(limit/continue, so a 5,000-node cluster is never one giant response) and keeps the raw
JSON dicts, the same shape the offline readers see. It needs only `list` on nodes and
pods, and never touches Secrets.
"""

from __future__ import annotations

from kubetrainer.hardware.cluster import build_inventory
from kubetrainer.hardware.inventory import ClusterInventory
from kubetrainer.k8s.client import Cluster


def inventory_from_api(kubeconfig: str | None = None, *, context: str | None = None) -> ClusterInventory:
    """The GPU inventory of a live cluster (kubeconfig, or in-cluster when run in a pod)."""
    cluster = Cluster.open(kubeconfig, context)
    try:
        nodes, pods = cluster.nodes_and_pods()
    finally:
        cluster.api_client.close()
    return build_inventory(f"api:{cluster.host}", nodes, pods)
