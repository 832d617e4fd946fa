"""Small builders and queries over the test cluster's pods and nodes, shared by the k8s tests."""

from __future__ import annotations

from kubernetes import client

from .conftest import wait_for

GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}


def gpu_pod(name: str, gpus: int, *, tolerate: bool = True, resource: str = "nvidia.com/gpu") -> dict:
    """A pod that asks for `gpus` whole GPUs (requests = limits, as for any extended resource)."""
    container: dict = {"name": "main", "image": "busybox"}
    if gpus:
        container["resources"] = {"limits": {resource: str(gpus)}}
    spec: dict = {"containers": [container], "restartPolicy": "Never"}
    if tolerate:
        spec["tolerations"] = [GPU_TOLERATION]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def wait_running(core: client.CoreV1Api, namespace: str, name: str) -> client.V1Pod:
    """The pod once the scheduler bound it and kwok's kubelet reported it Running."""
    return wait_for(
        lambda: (p := core.read_namespaced_pod(name, namespace)).status.phase == "Running" and p,
        what=f"pod {namespace}/{name} to run",
    )


def ready_nodes(core: client.CoreV1Api) -> dict[str, client.V1Node]:
    return {
        n.metadata.name: n
        for n in core.list_node().items
        if any(c.type == "Ready" and c.status == "True" for c in n.status.conditions or [])
    }


def gpus_in_use(core: client.CoreV1Api, resource: str = "nvidia.com/gpu") -> dict[str, int]:
    """Node name -> GPUs requested by the pods bound to it that have not finished."""
    used: dict[str, int] = {}
    for pod in core.list_pod_for_all_namespaces().items:
        if not pod.spec.node_name or pod.status.phase in ("Succeeded", "Failed"):
            continue
        for container in pod.spec.containers:
            limits = (container.resources and container.resources.limits) or {}
            used[pod.spec.node_name] = used.get(pod.spec.node_name, 0) + int(limits.get(resource, 0))
    return used


def scheduling_failures(core: client.CoreV1Api, namespace: str, name: str) -> list[str]:
    """Messages of the scheduler's FailedScheduling events for one pod."""
    events = core.list_namespaced_event(namespace, field_selector=f"involvedObject.name={name}").items
    return [e.message for e in events if e.reason == "FailedScheduling"]
