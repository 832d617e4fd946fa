"""The cluster inventory rules: readiness, taints, allocation, MIG, sharing, summary."""

from __future__ import annotations

from collections import Counter

import pytest

from kubetrainer.hardware.cluster import allocated_by_node, build_inventory, pod_gpu_requests
from kubetrainer.hardware.inventory import NodeInventory, Taint
from kubetrainer.hardware.quantity import parse_count, parse_quantity
from kubetrainer.samples.nodes import gpu_node, gpu_pod, sample_nodes, sample_pods


@pytest.fixture(scope="module")
def nodes() -> dict[str, NodeInventory]:
    inventory = build_inventory("test", sample_nodes(), sample_pods())
    return {node.name: node for node in inventory.nodes}


def test_every_sample_node_is_listed_sorted() -> None:
    inventory = build_inventory("test", sample_nodes(), [])
    names = [node.name for node in inventory.nodes]
    assert names == sorted(names) and len(names) == len(sample_nodes())


def test_ready_cordoned_and_notready(nodes: dict[str, NodeInventory]) -> None:
    assert nodes["gpu-h100-0"].ready and nodes["gpu-h100-0"].schedulable
    cordoned = nodes["gpu-v100-cordoned-0"]
    assert cordoned.ready and not cordoned.schedulable
    down = nodes["gpu-t4-notready-0"]
    assert not down.ready and not down.schedulable


def test_taints_are_listed(nodes: dict[str, NodeInventory]) -> None:
    assert Taint("nvidia.com/gpu", "NoSchedule", "present") in nodes["gpu-h100-0"].taints
    assert str(nodes["gpu-h100-0"].taints[0]) == "nvidia.com/gpu=present:NoSchedule"
    assert "node.kubernetes.io/unschedulable" in {t.key for t in nodes["gpu-v100-cordoned-0"].taints}
    assert "node.kubernetes.io/unreachable" in {t.key for t in nodes["gpu-t4-notready-0"].taints}
    assert nodes["cpu-0"].taints == ()


def test_cpu_and_memory_are_allocatable(nodes: dict[str, NodeInventory]) -> None:
    assert nodes["cpu-0"].cpu == 15.5  # "15500m"
    assert nodes["cpu-0"].memory_bytes == 65856108 * 1024
    assert nodes["cpu-0"].gpus is None


def test_allocation_counts_running_pods_with_init_rule(nodes: dict[str, NodeInventory]) -> None:
    h100 = nodes["gpu-h100-0"].gpus
    # 4 + max(2 app, 3 init) = 7; the Succeeded pod does not count
    assert (h100.count, h100.capacity, h100.allocated, h100.free) == (8, 8, 7, 1)
    assert nodes["gpu-h100-1"].gpus.allocated == 0  # only a Failed pod there
    assert nodes["gpu-a100-0"].gpus.allocated == 8  # limits without requests
    assert nodes["amd-mi300x-0"].gpus.allocated == 4
    assert nodes["intel-max-0"].gpus.allocated == 1


def test_unbound_and_finished_pods_are_not_counted() -> None:
    pods = [
        gpu_pod("pending", "ml", None, 8),
        gpu_pod("done", "ml", "n1", 8, phase="Succeeded"),
        gpu_pod("failed", "ml", "n1", 8, phase="Failed"),
        gpu_pod("starting", "ml", "n1", 1, phase="Pending"),
    ]
    assert allocated_by_node(pods) == {"n1": Counter({"nvidia.com/gpu": 1})}


def test_effective_request_with_sidecars_and_overhead() -> None:
    pod = gpu_pod("p", "ml", "n1", 2)
    pod["spec"]["initContainers"] = [
        {"name": "sidecar", "restartPolicy": "Always", "resources": {"requests": {"nvidia.com/gpu": "1"}}},
        {"name": "init", "resources": {"requests": {"nvidia.com/gpu": "4"}}},
    ]
    # init runs beside the sidecar started before it: 1 + 4 = 5 > app 2 + sidecar 1
    assert pod_gpu_requests(pod) == Counter({"nvidia.com/gpu": 5})
    pod["spec"]["initContainers"][1]["resources"]["requests"]["nvidia.com/gpu"] = "1"
    assert pod_gpu_requests(pod) == Counter({"nvidia.com/gpu": 3})
    pod["spec"]["overhead"] = {"cpu": "250m", "nvidia.com/gpu": "1"}
    assert pod_gpu_requests(pod) == Counter({"nvidia.com/gpu": 4})


def test_mig_mixed_devices_and_allocation(nodes: dict[str, NodeInventory]) -> None:
    gpus = nodes["gpu-a100-mig-0"].gpus
    assert gpus.product == "NVIDIA A100 40GB" and gpus.count == 0
    assert gpus.mig["strategy"] == "mixed"
    assert gpus.mig["devices"]["1g.5gb"] == {"capacity": 16, "allocatable": 16, "allocated": 1, "memory_mib": 4864}
    assert gpus.mig["devices"]["3g.20gb"]["allocated"] == 1


def test_mig_single_strategy_is_its_own_product() -> None:
    node = gpu_node("mig-single", "nvidia", "NVIDIA H100 80GB", 8, mig={"1g.10gb": 7}, mig_strategy="single")
    (inventory,) = build_inventory("t", [node], []).nodes
    assert inventory.gpus.product == "NVIDIA H100 80GB MIG 1g.10gb"
    assert inventory.gpus.memory_mib == 9856 and inventory.gpus.count == 56
    assert inventory.gpus.mig == {"strategy": "single", "devices": {}}


def test_time_slicing_reports_replicas(nodes: dict[str, NodeInventory]) -> None:
    shared = nodes["gpu-t4-shared-0"].gpus
    assert shared.product == "NVIDIA T4 16GB" and shared.count == 4
    assert shared.sharing == {"strategy": "time-slicing", "replicas": 4}


def test_unlabelled_gpu_node_counts_as_unknown(nodes: dict[str, NodeInventory]) -> None:
    gpus = nodes["gpu-unlabelled-0"].gpus
    assert (gpus.vendor, gpus.product, gpus.count, gpus.memory_mib) == ("nvidia", "unknown", 8, None)


def test_labels_without_device_plugin_show_zero_gpus() -> None:
    node = gpu_node("no-plugin", "nvidia", "NVIDIA L4 24GB", 1)
    del node["status"]["capacity"]["nvidia.com/gpu"], node["status"]["allocatable"]["nvidia.com/gpu"]
    (inventory,) = build_inventory("t", [node], []).nodes
    assert inventory.gpus.product == "NVIDIA L4 24GB" and inventory.gpus.capacity == 0


def test_cordoned_capacity_is_counted_but_not_free() -> None:
    summary = {row.product: row for row in build_inventory("t", sample_nodes(), sample_pods()).summary}
    v100 = summary["NVIDIA V100 16GB"]
    assert (v100.nodes, v100.capacity, v100.allocatable, v100.free) == (1, 8, 8, 0)
    h100 = summary["NVIDIA H100 80GB"]
    assert (h100.nodes, h100.allocatable, h100.allocated, h100.free) == (2, 16, 7, 9)
    assert summary["NVIDIA A100 40GB MIG 1g.5gb"].free == 15
    assert "NVIDIA A100 40GB" not in summary  # every GPU there is cut into MIG slices
    assert summary["unknown"].allocatable == 8
    memories = [row.memory_mib or 0 for row in summary.values()]
    assert memories == sorted(memories, reverse=True)


def test_malformed_quantity_names_the_node() -> None:
    node = gpu_node("bad-node", None, None, 0)
    node["status"]["allocatable"]["cpu"] = "lots"
    with pytest.raises(ValueError, match="node bad-node: not a Kubernetes quantity: 'lots'"):
        build_inventory("t", [node], [])
    pod = gpu_pod("bad-pod", "ml", "bad-node", 1)
    pod["spec"]["containers"][0]["resources"]["requests"]["nvidia.com/gpu"] = "two"
    with pytest.raises(ValueError, match="pod ml/bad-pod"):
        build_inventory("t", [], [pod])


@pytest.mark.parametrize(
    ("text", "value"),
    [("8", 8.0), ("3500m", 3.5), ("1.5Gi", 1.5 * 2**30), ("1056762384Ki", 1056762384 * 1024), ("2k", 2000.0),
     ("1e3", 1000.0), ("250u", 250e-6), (4, 4.0)],
)
def test_quantities(text: str | int, value: float) -> None:
    assert parse_quantity(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["", "lots", "8 GPUs", "1.5GiB", "Ki"])
def test_bad_quantities(text: str) -> None:
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        parse_quantity(text)
    assert parse_count("16") == 16
