"""The sample GPU nodes and pods are objects a real API server would accept and return."""

from __future__ import annotations

import kubernetes_validate
import pytest

from kubetrainer.samples.nodes import gpu_node, gpu_pod, sample_nodes, sample_pods


@pytest.mark.parametrize(
    "obj",
    [*sample_nodes(), *sample_pods(),
     gpu_node("mig-single", "nvidia", "NVIDIA H100 80GB", 8, mig={"1g.10gb": 7}, mig_strategy="single"),
     gpu_pod("sidecar", "ml", "n1", 1, init_gpus=2, limits_only=True)],
    ids=lambda obj: f"{obj['kind']}/{obj['metadata']['name']}",
)
def test_validates_against_the_kubernetes_schema(obj: dict) -> None:
    kubernetes_validate.validate(obj, "1.30", strict=True)


def test_samples_are_deterministic() -> None:
    assert sample_nodes() == sample_nodes() and sample_pods() == sample_pods()


def test_every_vendor_and_state_is_represented() -> None:
    nodes = sample_nodes()
    resources = {key for node in nodes for key in node["status"]["capacity"]}
    assert {"nvidia.com/gpu", "amd.com/gpu", "gpu.intel.com/i915", "nvidia.com/mig-1g.5gb"} <= resources
    assert any(node["spec"].get("unschedulable") for node in nodes)
    assert any(c["type"] == "Ready" and c["status"] != "True" for node in nodes for c in node["status"]["conditions"])
    gpu_taint = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
    assert all(gpu_taint in node["spec"].get("taints", []) for node in nodes
               if "nvidia.com/gpu" in node["status"]["capacity"])


def test_unknown_product_is_a_clear_error() -> None:
    with pytest.raises(KeyError, match="unknown GPU product"):
        gpu_node("x", "nvidia", "GTX-9999", 1)
