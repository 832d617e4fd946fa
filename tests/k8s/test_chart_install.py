"""`helm install` of the KubeTrainer chart into the local control plane; kwok plays the kubelets."""

from __future__ import annotations

from pathlib import Path

import pytest
from kubernetes import client

from .conftest import Cluster, wait_for

CHART = Path(__file__).resolve().parents[2] / "helm" / "kubetrainer"
pytestmark = pytest.mark.k8s


def test_chart_installs_and_workloads_become_ready(cluster: Cluster, api: client.ApiClient, namespace: str) -> None:
    cluster.run("helm", "install", "kt", str(CHART), "--namespace", namespace,
                # No storage provisioner in the test cluster; the operator's namespace is per test.
                "--set", "server.persistence.enabled=false",
                "--set", "operator.enabled=true", "--set", f"operator.namespace={namespace}",
                "--set", "operator.createNamespace=false", "--wait=false")
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)

    ready_nodes = [n for n in core.list_node().items
                   if any(c.type == "Ready" and c.status == "True" for c in n.status.conditions or [])]
    assert ready_nodes

    def agents_ready() -> bool:
        return apps.read_namespaced_daemon_set("kt-kubetrainer-agent", namespace).status.number_ready == len(ready_nodes)

    # Every Ready node runs an agent (GPU taints are tolerated); the NotReady node's pod never runs.
    wait_for(agents_ready, what=f"an agent on each of the {len(ready_nodes)} Ready nodes", timeout_s=120)
    for name in ("kt-kubetrainer", "kt-kubetrainer-operator"):
        wait_for(lambda name=name: (apps.read_namespaced_deployment(name, namespace).status.ready_replicas or 0) >= 1,
                 what=f"deployment {name} to be ready", timeout_s=120)
    endpoints = wait_for(lambda: client.DiscoveryV1Api(api).list_namespaced_endpoint_slice(
        namespace, label_selector="kubernetes.io/service-name=kt-kubetrainer").items, what="the server's endpoints")
    assert any(ep.conditions.ready for slice_ in endpoints for ep in slice_.endpoints or [])
    secret_names = [s.metadata.name for s in core.list_namespaced_secret(namespace).items]
    assert "kt-kubetrainer-api-key" in secret_names
    cluster.run("helm", "uninstall", "kt", "--namespace", namespace)
