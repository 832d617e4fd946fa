"""Placement and manifests of `kubetrainer submit train`, on the sample GPU nodes (no cluster needed)."""

from __future__ import annotations

import json
from pathlib import Path

import kubernetes_validate
import pytest

from kubetrainer.cli import main
from kubetrainer.errors import UserError
from kubetrainer.hardware.cluster import build_inventory
from kubetrainer.k8s import submit
from kubetrainer.k8s.placement import GpuRequest, place
from kubetrainer.samples.nodes import gpu_pod, sample_nodes


def state(pods: list[dict] | None = None):
    nodes = sample_nodes()
    labels = {node["metadata"]["name"]: node["metadata"].get("labels", {}) for node in nodes}
    return build_inventory("test", nodes, pods or []), labels


def test_smallest_fitting_product_with_enough_free_gpus_wins() -> None:
    inventory, labels = state()
    placement = place(inventory, GpuRequest(gpus_per_node=8, nodes=2, bytes_per_gpu=20 * 2**30), labels)
    # Only the two H100 nodes offer 8 free GPUs on two nodes of one product.
    assert placement.product.startswith("NVIDIA H100")
    assert set(placement.nodes) == {"gpu-h100-0", "gpu-h100-1"}
    assert placement.gpu_resource == "nvidia.com/gpu"
    assert placement.node_selector == {"nvidia.com/gpu.product": labels["gpu-h100-0"]["nvidia.com/gpu.product"]}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in placement.tolerations


def test_small_job_goes_to_small_gpus_and_amd_gets_its_resource() -> None:
    inventory, labels = state()
    small = place(inventory, GpuRequest(gpus_per_node=1, bytes_per_gpu=10 * 2**30), labels)
    assert small.memory_mib is not None and small.memory_mib <= 24 * 1024
    inventory_amd = build_inventory("amd", [n for n in sample_nodes() if n["metadata"]["name"].startswith("amd-mi300x")], [])
    amd = place(inventory_amd, GpuRequest(gpus_per_node=8, bytes_per_gpu=100 * 2**30), labels)
    assert amd.gpu_resource == "amd.com/gpu" and amd.vendor == "amd"
    assert amd.tolerations == ()


def test_allocated_gpus_are_not_free() -> None:
    pods = [gpu_pod("busy", "ml", "gpu-h100-0", 8)]
    inventory, labels = state(pods)
    with pytest.raises(UserError) as error:
        place(inventory, GpuRequest(gpus_per_node=8, nodes=2, bytes_per_gpu=60 * 2**30), labels)
    message = error.value.render()
    assert "no GPU product in the cluster has 2 node(s) with 8 free GPU(s) each" in message
    assert "H100" in message


def test_impossible_request_explains_with_inventory() -> None:
    inventory, labels = state()
    with pytest.raises(UserError, match="of at least 500.0 GiB"):
        place(inventory, GpuRequest(gpus_per_node=1, bytes_per_gpu=500 * 2**30), labels)


@pytest.mark.parametrize("backend", ["job", "pytorchjob", "trainjob"])
def test_every_backend_renders_the_same_run(backend: str) -> None:
    inventory, labels = state()
    request = submit.TrainRequest(name="tune-1", dataset="/data/ds.json", gpus=4, nodes=2, namespace="ml",
                                  backend=backend, data_pvc="ml-data")
    plan = submit.plan(request, inventory, labels, {"job", "pytorchjob", "trainjob"})
    text = json.dumps(plan.objects)
    assert "--nproc" in text and '"4"' in text and "/data/ds.json" in text and "ml-data" in text
    assert "nvidia.com/gpu" in text and "/dev/shm" in text


def test_indexed_job_meets_at_pod_zero_and_validates() -> None:
    inventory, labels = state()
    request = submit.TrainRequest(name="tune-2", dataset="/data/ds.json", gpus=8, nodes=2, namespace="ml", backend="job")
    service, job = submit.plan(request, inventory, labels, {"job"}).objects
    for obj in (service, job):
        kubernetes_validate.validate(obj, "1.33.0", strict=True)
    assert service["spec"]["clusterIP"] == "None"
    pod = job["spec"]["template"]["spec"]
    env = {item["name"]: item.get("value") for item in pod["containers"][0]["env"]}
    assert env["RDZV_ENDPOINT"] == "tune-2-0.tune-2.ml.svc:29400" and env["NNODES"] == "2"
    assert pod["subdomain"] == "tune-2" and job["spec"]["completionMode"] == "Indexed"
    assert pod["containers"][0]["resources"]["limits"] == {"nvidia.com/gpu": 8}


def test_backend_choice_follows_what_the_cluster_serves() -> None:
    assert submit.choose_backend("auto", {"job"}) == "job"
    assert submit.choose_backend("auto", {"job", "pytorchjob"}) == "pytorchjob"
    assert submit.choose_backend("auto", {"job", "pytorchjob", "trainjob"}) == "trainjob"
    with pytest.raises(UserError, match="does not serve"):
        submit.choose_backend("trainjob", {"job"})


def test_bad_name_is_a_user_error() -> None:
    inventory, labels = state()
    with pytest.raises(UserError, match="DNS label"):
        submit.plan(submit.TrainRequest(name="Bad_Name", dataset="x"), inventory, labels, {"job"})


def test_cli_dry_run_from_nodes_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nodes_file = tmp_path / "nodes.json"
    nodes_file.write_text(json.dumps({"kind": "List", "items": sample_nodes()}))
    code = main(["submit", "train", "--dataset", "/data/d.json", "--gpus", "8", "--nodes", "2",
                 "--from", str(nodes_file), "-o", "json"])
    assert code == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["backend"] == "job" and len(plan["placement"]["nodes"]) == 2
    assert main(["submit", "train", "--dataset", "d", "--gpus", "64", "--from", str(nodes_file)]) == 2
    assert "no GPU product" in capsys.readouterr().err


def test_unknown_model_is_named_before_placement(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nodes_file = tmp_path / "nodes.json"
    nodes_file.write_text(json.dumps({"kind": "List", "items": sample_nodes()}))
    code = main(["submit", "train", "--dataset", "d", "--model", "no-such-model", "--from", str(nodes_file)])
    assert code == 2
    assert "no-such-model" in capsys.readouterr().err
