"""`kubetrainer detect --kubeconfig` reads the simulated GPUs of the live cluster correctly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from kubernetes import client

from .conftest import Cluster
from .workloads import gpu_pod, ready_nodes, wait_running

pytestmark = pytest.mark.k8s

WHOLE_GPU = {"nvidia": "nvidia.com/gpu", "amd": "amd.com/gpu", "intel": "gpu.intel.com/i915"}


def _detect_json(cluster: Cluster, home: Path) -> dict:
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("kubetrainer")), "--home", str(home), "detect",
         "--kubeconfig", str(cluster.kubeconfig), "--no-local", "--json"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_detect_reports_allocated_and_free_gpus(
    cluster: Cluster, api: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    core = client.CoreV1Api(api)
    core.create_namespaced_pod(namespace, gpu_pod("nvidia-pair", 2))
    core.create_namespaced_pod(namespace, gpu_pod("nvidia-trio", 3))
    core.create_namespaced_pod(namespace, gpu_pod("amd-one", 1, tolerate=False, resource="amd.com/gpu"))
    bound: dict[str, int] = {}
    for name in ("nvidia-pair", "nvidia-trio", "amd-one"):
        pod = wait_running(core, namespace, name)
        limits = pod.spec.containers[0].resources.limits
        bound[pod.spec.node_name] = bound.get(pod.spec.node_name, 0) + sum(int(v) for v in limits.values())

    found = _detect_json(cluster, tmp_path)

    nodes = {n["name"]: n for n in found["nodes"]}
    api_nodes = {n.metadata.name: n for n in core.list_node().items}
    assert set(nodes) == set(api_nodes)
    checked = 0
    for name, node in nodes.items():
        gpus = node["gpus"]
        resource = gpus and WHOLE_GPU[gpus["vendor"]]
        allocatable = api_nodes[name].status.allocatable or {}
        if not gpus or resource not in allocatable:
            continue  # CPU-only, or MIG slices instead of whole GPUs
        assert gpus["count"] == int(allocatable[resource]), name
        assert gpus["allocated"] == bound.get(name, 0), name
        assert gpus["free"] == gpus["count"] - gpus["allocated"], name
        checked += 1
    assert checked >= 5
    assert {name for name, node in nodes.items() if node["ready"]} == set(ready_nodes(core))
    assert sum(s["allocated"] for s in found["summary"]) == sum(bound.values())
