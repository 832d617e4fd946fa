"""The real kube-scheduler places GPU pods by free nvidia.com/gpu and by the GPU taint."""

from __future__ import annotations

import pytest
from kubernetes import client

from .conftest import wait_for
from .workloads import gpu_pod, gpus_in_use, ready_nodes, scheduling_failures, wait_running

pytestmark = pytest.mark.k8s


def _free_gpus(core: client.CoreV1Api) -> dict[str, int]:
    """Free whole NVIDIA GPUs of the nodes the scheduler may use (Ready and not cordoned)."""
    used = gpus_in_use(core)
    return {
        name: int((node.status.allocatable or {}).get("nvidia.com/gpu", 0)) - used.get(name, 0)
        for name, node in ready_nodes(core).items()
        if not node.spec.unschedulable
    }


def test_two_gpu_pod_lands_on_a_tainted_node_with_two_free_gpus(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    free = _free_gpus(core)

    core.create_namespaced_pod(namespace, gpu_pod("two-gpus", 2))
    pod = wait_running(core, namespace, "two-gpus")

    assert free[pod.spec.node_name] >= 2
    node = core.read_node(pod.spec.node_name)
    assert {(t.key, t.effect) for t in node.spec.taints or []} >= {("nvidia.com/gpu", "NoSchedule")}
    assert gpus_in_use(core)[pod.spec.node_name] >= 2


def test_gpu_pod_without_toleration_stays_pending(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    core.create_namespaced_pod(namespace, gpu_pod("no-toleration", 1, tolerate=False))

    messages = wait_for(lambda: scheduling_failures(core, namespace, "no-toleration"), what="FailedScheduling")
    assert "untolerated taint" in messages[0] and "nvidia.com/gpu" in messages[0]
    assert core.read_namespaced_pod("no-toleration", namespace).status.phase == "Pending"


def test_oversized_gpu_pod_stays_pending_with_failed_scheduling(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    most = max(_free_gpus(core).values())
    core.create_namespaced_pod(namespace, gpu_pod("too-big", most + 1))

    messages = wait_for(lambda: scheduling_failures(core, namespace, "too-big"), what="FailedScheduling")
    assert "Insufficient nvidia.com/gpu" in messages[0]
    pod = core.read_namespaced_pod("too-big", namespace)
    assert pod.status.phase == "Pending" and pod.spec.node_name is None


def test_scheduler_counts_free_gpus_until_they_run_out(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    fits = sum(n // 2 for n in _free_gpus(core).values())
    assert fits >= 2
    for i in range(fits + 1):
        core.create_namespaced_pod(namespace, gpu_pod(f"pair-{i}", 2))

    def running_pods() -> list[client.V1Pod]:
        return [p for p in core.list_namespaced_pod(namespace).items if p.status.phase == "Running"]

    wait_for(lambda: len(running_pods()) == fits, what=f"{fits} two-GPU pods to run")
    pending = [p for p in core.list_namespaced_pod(namespace).items if p.status.phase == "Pending"]
    assert len(pending) == 1 and pending[0].spec.node_name is None
    name = pending[0].metadata.name
    failures = wait_for(lambda: scheduling_failures(core, namespace, name), what=f"FailedScheduling for {name}")
    assert "Insufficient nvidia.com/gpu" in failures[0]
    assert all(n >= 0 for n in _free_gpus(core).values())


def test_amd_gpu_pod_lands_on_the_amd_node(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    core.create_namespaced_pod(namespace, gpu_pod("amd", 1, tolerate=False, resource="amd.com/gpu"))
    pod = wait_running(core, namespace, "amd")

    allocatable = core.read_node(pod.spec.node_name).status.allocatable
    assert int(allocatable["amd.com/gpu"]) >= 1


def test_not_ready_node_is_reported_not_ready_and_gets_no_pods(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    nodes = core.list_node().items
    not_ready = [n.metadata.name for n in nodes if n.metadata.name not in ready_nodes(core)]
    assert len(not_ready) == 1
    wait_for(
        lambda: any(t.effect == "NoExecute" for t in core.read_node(not_ready[0]).spec.taints or []),
        what="the node lifecycle controller to taint the NotReady node NoExecute",
    )

    core.create_namespaced_pod(namespace, gpu_pod("anywhere", 0))
    assert wait_running(core, namespace, "anywhere").spec.node_name != not_ready[0]
