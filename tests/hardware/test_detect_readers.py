"""Offline inputs: cluster-info dump directories and nodes files, good and broken."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from kubetrainer.errors import UserError
from kubetrainer.hardware import inventory_from_path
from kubetrainer.samples.nodes import gpu_node, gpu_pod, sample_nodes, sample_pods
from tests.hardware.dumps import write_dump


def test_dump_directory(tmp_path: Path) -> None:
    inventory = inventory_from_path(write_dump(tmp_path / "dump", sample_nodes(), sample_pods()))
    assert inventory.source == f"dump:{tmp_path / 'dump'}"
    nodes = {node.name: node for node in inventory.nodes}
    assert len(nodes) == len(sample_nodes())
    assert nodes["gpu-h100-0"].gpus.allocated == 7
    assert nodes["gpu-a100-mig-0"].gpus.mig["devices"]["1g.5gb"]["allocated"] == 1


def test_api_list_items_without_kind(tmp_path: Path) -> None:
    """The API server leaves `kind` off list items; the list's kind stands for them."""
    nodes = [dict(node) for node in sample_nodes()[:2]]
    for node in nodes:
        node.pop("kind")
    inventory = inventory_from_path(write_dump(tmp_path / "dump", nodes, []))
    assert [node.name for node in inventory.nodes] == ["gpu-h100-0", "gpu-h100-1"]


@pytest.mark.parametrize(
    "shape",
    ["kubectl-list", "nodelist", "single", "array"],
)
def test_nodes_file_shapes(tmp_path: Path, shape: str) -> None:
    nodes = sample_nodes()[:3]
    document = {
        "kubectl-list": {"apiVersion": "v1", "kind": "List", "items": nodes, "metadata": {"resourceVersion": ""}},
        "nodelist": {"apiVersion": "v1", "kind": "NodeList", "items": nodes},
        "single": nodes[0],
        "array": nodes,
    }[shape]
    path = tmp_path / "nodes.json"
    path.write_text(json.dumps(document))
    inventory = inventory_from_path(path)
    assert inventory.source == f"file:{path}"
    assert len(inventory.nodes) == (1 if shape == "single" else 3)


def test_nodes_and_pods_in_one_file(tmp_path: Path) -> None:
    """`kubectl get nodes,pods -A -o json` mixes both kinds in one List."""
    path = tmp_path / "cluster.json"
    path.write_text(json.dumps({"kind": "List", "items": [gpu_node("g", "nvidia", "Tesla-T4", 4),
                                                          gpu_pod("p", "ml", "g", 3)]}))
    (node,) = inventory_from_path(path).nodes
    assert (node.gpus.allocated, node.gpus.free) == (3, 1)


def test_yaml_nodes_file(tmp_path: Path) -> None:
    path = tmp_path / "nodes.yaml"
    path.write_text(yaml.safe_dump({"kind": "List", "items": sample_nodes()[:1]}))
    assert inventory_from_path(path).nodes[0].gpus.product == "NVIDIA H100 80GB"


def test_empty_node_list_is_an_empty_cluster(tmp_path: Path) -> None:
    path = tmp_path / "nodes.json"
    path.write_text('{"kind": "NodeList", "items": []}')
    inventory = inventory_from_path(path)
    assert inventory.nodes == () and inventory.summary == ()


def error_for(path: Path) -> UserError:
    with pytest.raises(UserError) as caught:
        inventory_from_path(path)
    return caught.value


def test_missing_path(tmp_path: Path) -> None:
    error = error_for(tmp_path / "nope.json")
    assert error.where == str(tmp_path / "nope.json") and "no such file" in error.what


def test_bad_json_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "nodes.json"
    path.write_text('{"kind": "NodeList",\n "items": [\n  {"metadata": {"name": "a"}},,\n]}')
    error = error_for(path)
    assert error.where == f"{path}:3:31" and "not valid JSON" in error.what


def test_bad_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "nodes.yaml"
    path.write_text("kind: List\nitems:\n  - metadata: {name: [unclosed\n")
    error = error_for(path)
    assert error.where.startswith(f"{path}:") and "not valid YAML" in error.what


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('"just a string"', "not a Kubernetes object or list"),
        ('{"kind": "Service", "metadata": {"name": "x"}}', "not a Kubernetes object or list"),
        ('{"kind": "List", "items": [{"kind": "Node", "metadata": {}}]}', "item 0 is not a Kubernetes object"),
        ('{"kind": "List", "items": [42]}', "item 0 is not a Kubernetes object"),
        ('{"kind": "PodList", "items": [{"metadata": {"name": "p"}}]}', "holds no Node objects"),
    ],
)
def test_wrong_content_names_the_file(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "input.json"
    path.write_text(content)
    error = error_for(path)
    assert error.where == str(path) and message in error.what


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "nodes.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    assert error_for(path).where.startswith(str(path))


def test_bad_quantity_names_file_and_node(tmp_path: Path) -> None:
    node = gpu_node("broken", "nvidia", "Tesla-T4", 1)
    node["status"]["allocatable"]["nvidia.com/gpu"] = "one"
    path = tmp_path / "nodes.json"
    path.write_text(json.dumps({"kind": "NodeList", "items": [node]}))
    error = error_for(path)
    assert error.where == str(path) and "node broken" in error.what


def test_dump_directory_without_nodes_json(tmp_path: Path) -> None:
    error = error_for(tmp_path)
    assert error.where == str(tmp_path) and "nodes.json" in error.what and error.hint


def test_broken_pods_file_in_dump_is_named(tmp_path: Path) -> None:
    dump = write_dump(tmp_path / "dump", sample_nodes()[:1], [gpu_pod("p", "ml", "gpu-h100-0", 1)])
    (dump / "ml" / "pods.json").write_text("{oops")
    assert error_for(dump).where.startswith(str(dump / "ml" / "pods.json"))
