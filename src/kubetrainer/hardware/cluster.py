"""Cluster inventory, the pure core: Node and Pod objects (dicts as the API returns them) in, inventory out.

Readers (dump directory, nodes JSON, live API) only fetch objects and hand them here,
so every source gets the same rules: schedulable means Ready and not cordoned, a GPU
is allocated when an unfinished pod bound to the node requests it (Kubernetes'
effective-request rule over init, sidecar and app containers), and a node with GPU
resources but no labels still counts, as product "unknown".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from kubetrainer.hardware.inventory import ClusterInventory, NodeGpus, NodeInventory, Taint
from kubetrainer.hardware.labels import GpuLabels, labelled_vendor, read_gpu_labels
from kubetrainer.hardware.quantity import parse_count, parse_quantity

# Whole-device resources by vendor; `nvidia.com/gpu.shared` is time-slicing with renamed resources.
GPU_RESOURCES = {
    "nvidia.com/gpu": "nvidia",
    "nvidia.com/gpu.shared": "nvidia",
    "amd.com/gpu": "amd",
    "gpu.intel.com/i915": "intel",
    "gpu.intel.com/xe": "intel",
}
MIG_PREFIX = "nvidia.com/mig-"
FINISHED_PHASES = frozenset({"Succeeded", "Failed"})


def is_gpu_resource(name: str) -> bool:
    # "/" first: cpu, memory and ephemeral-storage (most keys) have no domain and leave at once
    return "/" in name and (name in GPU_RESOURCES or name.startswith(MIG_PREFIX))


def _container_gpus(container: dict[str, Any]) -> dict[str, int] | None:
    """A container's GPU requests (None for the usual container without any); a limit alone stands for the request."""
    resources = container.get("resources")
    if not resources:
        return None
    gpus = None
    for amounts in (resources.get("limits"), resources.get("requests")):  # requests, applied last, win
        if amounts:
            for name, value in amounts.items():
                if "/" in name and is_gpu_resource(name):  # the test inline spares a call for cpu/memory
                    gpus = gpus or {}
                    gpus[name] = parse_count(value)
    return gpus


def _add(total: dict[str, int], extra: dict[str, int]) -> None:
    for name, count in extra.items():
        total[name] = total.get(name, 0) + count


def _raise_to(total: dict[str, int], floor: dict[str, int]) -> None:
    for name, count in floor.items():
        total[name] = max(total.get(name, 0), count)


def pod_gpu_requests(pod: dict[str, Any]) -> dict[str, int]:
    """The pod's effective GPU request per resource, as the scheduler computes it.

    max(app containers + restartable init (sidecar) containers, the peak of each init
    container plus the sidecars started before it), plus the pod overhead. Plain dicts,
    not Counters: this runs once per pod, 100,000 times for a 5,000-node cluster.
    """
    spec = pod.get("spec") or {}
    effective: dict[str, int] = {}
    for container in spec.get("containers") or ():
        if gpus := _container_gpus(container):
            _add(effective, gpus)
    init_containers = spec.get("initContainers")
    if init_containers:
        sidecars: dict[str, int] = {}
        peak: dict[str, int] = {}
        for container in init_containers:
            gpus = _container_gpus(container) or {}
            if container.get("restartPolicy") == "Always":
                _add(sidecars, gpus)
                _raise_to(peak, sidecars)
            else:
                during_start = dict(sidecars)
                _add(during_start, gpus)
                _raise_to(peak, during_start)
        _add(effective, sidecars)
        _raise_to(effective, peak)
    overhead = spec.get("overhead")
    if overhead:
        _add(effective, {name: parse_count(value) for name, value in overhead.items() if is_gpu_resource(name)})
    return {name: count for name, count in effective.items() if count} if effective else effective


def allocated_by_node(pods: Iterable[dict[str, Any]]) -> dict[str, Counter[str]]:
    """GPU requests summed per node over pods that are bound there and have not finished."""
    allocated: dict[str, Counter[str]] = {}
    for pod in pods:
        node = (pod.get("spec") or {}).get("nodeName")
        if not node or (pod.get("status") or {}).get("phase") in FINISHED_PHASES:
            continue
        try:
            requests = pod_gpu_requests(pod)
        except ValueError as error:
            metadata = pod.get("metadata") or {}
            raise ValueError(f"pod {metadata.get('namespace')}/{metadata.get('name')}: {error}") from error
        if requests:
            _add(allocated.setdefault(node, Counter()), requests)
    return allocated


def _gpu_counts(resources: dict[str, Any]) -> Counter[str]:
    return Counter({name: parse_count(value) for name, value in resources.items() if is_gpu_resource(name)})


def _mig_devices(
    capacity: Counter[str], allocatable: Counter[str], allocated: Counter[str], identity: GpuLabels
) -> dict[str, dict[str, int | None]]:
    devices: dict[str, dict[str, int | None]] = {}
    for resource in sorted(set(capacity) | set(allocatable)):
        if not resource.startswith(MIG_PREFIX):
            continue
        profile = resource.removeprefix(MIG_PREFIX)
        devices[profile] = {
            "capacity": capacity[resource],
            "allocatable": allocatable[resource],
            "allocated": allocated[resource],
            "memory_mib": identity.mig_memory_mib.get(profile) or _profile_memory_mib(profile),
        }
    return devices


def _profile_memory_mib(profile: str) -> int | None:
    """Memory of a MIG profile from its name ("1g.10gb" -> 10240) when GFD did not label it."""
    _, _, size = profile.partition(".")
    return int(size.removesuffix("gb")) * 1024 if size.endswith("gb") and size[:-2].isdigit() else None


def node_gpus(node: dict[str, Any], allocated: Counter[str]) -> NodeGpus | None:
    """The node's GPU group: the vendor with the most devices, or the labelled one if none registered."""
    status = node.get("status") or {}
    labels = (node.get("metadata") or {}).get("labels") or {}
    capacity = _gpu_counts(status.get("capacity") or {})
    allocatable = _gpu_counts(status.get("allocatable") or status.get("capacity") or {})
    per_vendor: Counter[str] = Counter()
    for resource, count in capacity.items():
        per_vendor["nvidia" if resource.startswith(MIG_PREFIX) else GPU_RESOURCES[resource]] += count or 0
    vendor = max(per_vendor, key=lambda name: per_vendor[name]) if per_vendor else labelled_vendor(labels)
    if vendor is None:
        return None
    identity = read_gpu_labels(labels, vendor)
    whole = [resource for resource, owner in GPU_RESOURCES.items() if owner == vendor]
    mig = _mig_devices(capacity, allocatable, allocated, identity) if vendor == "nvidia" else {}
    mig_on = bool(mig) or identity.mig_strategy in ("single", "mixed")
    return NodeGpus(
        vendor=vendor,
        product=identity.product,
        count=sum(allocatable[resource] for resource in whole),
        capacity=sum(capacity[resource] for resource in whole),
        allocated=sum(allocated[resource] for resource in whole),
        memory_mib=identity.memory_mib,
        compute_capability=identity.compute_capability,
        family=identity.family,
        runtime=identity.runtime,
        runtime_version=identity.runtime_version,
        driver_version=identity.driver_version,
        mig={"strategy": identity.mig_strategy, "devices": mig} if mig_on else None,
        sharing=identity.sharing,
    )


def node_inventory(node: dict[str, Any], allocated: Counter[str] | None = None) -> NodeInventory:
    """One Node object as inventory; `allocated` is its pods' GPU requests (see `allocated_by_node`)."""
    spec = node.get("spec") or {}
    status = node.get("status") or {}
    resources = status.get("allocatable") or status.get("capacity") or {}
    ready = any(
        condition.get("type") == "Ready" and condition.get("status") == "True"
        for condition in status.get("conditions") or ()
    )
    return NodeInventory(
        name=node["metadata"]["name"],
        ready=ready,
        schedulable=ready and not spec.get("unschedulable", False),
        taints=tuple(
            Taint(key=taint.get("key", ""), effect=taint.get("effect", ""), value=taint.get("value") or None)
            for taint in spec.get("taints") or ()
        ),
        cpu=parse_quantity(resources.get("cpu", 0)),
        memory_bytes=int(parse_quantity(resources.get("memory", 0))),
        gpus=node_gpus(node, allocated or Counter()),
    )


def build_inventory(source: str, nodes: Iterable[dict[str, Any]], pods: Iterable[dict[str, Any]]) -> ClusterInventory:
    """The inventory of a cluster from its Node and Pod objects, nodes sorted by name.

    A malformed quantity raises ValueError naming the node or pod; readers turn it into
    a UserError naming their file.
    """
    allocated = allocated_by_node(pods)
    inventory = []
    for node in nodes:
        name = node["metadata"]["name"]
        try:
            inventory.append(node_inventory(node, allocated.get(name)))
        except ValueError as error:
            raise ValueError(f"node {name}: {error}") from error
    return ClusterInventory.of(source, tuple(sorted(inventory, key=lambda node: node.name)))
