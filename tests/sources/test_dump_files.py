"""One dump, two readers: the GPU inventory and the records must see the same files, and treat a broken one alike.

Both go through `sources.dump_files`; these tests fail if either grows its own idea of
the dump layout or of what a broken list file is.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubetrainer.errors import UserError
from kubetrainer.hardware.readers import read_dump as read_inventory_objects
from kubetrainer.samples.nodes import gpu_node, gpu_pod
from kubetrainer.sources.base import Problems
from kubetrainer.sources.dump import read_dump as read_records
from kubetrainer.sources.dump_files import Lenient, is_dump, read_objects, strict
from tests.hardware.dumps import write_dump

BREAKAGES = {
    "truncated": lambda data: data[: len(data) // 2],
    "binary": lambda data: b"\x7fELF\x00\xff\xfe",
    "not a list": lambda data: b'"just a string"',
}


def two_namespace_dump(root: Path) -> Path:
    pods = [gpu_pod("train-0", "ml", "g0", 2), gpu_pod("train-1", "ml", "g0", 1), gpu_pod("web-0", "web", "g1", 1)]
    return write_dump(root, [gpu_node("g0", "nvidia", "Tesla-T4", 4), gpu_node("g1", "nvidia", "Tesla-T4", 4)], pods)


def break_file(path: Path, how: str) -> None:
    path.write_bytes(BREAKAGES[how](path.read_bytes()))


def pod_records(records: list[dict]) -> set[str]:
    return {r["pod"] for r in records if r["kind"] == "object" and r["object"]["kind"] == "Pod"}


def test_both_readers_see_the_same_nodes_and_pods(tmp_path: Path) -> None:
    dump = two_namespace_dump(tmp_path / "dump")
    assert is_dump(dump)
    nodes, pods = read_inventory_objects(dump)
    records = list(read_records(dump, Problems()))
    assert {pod["metadata"]["name"] for pod in pods} == pod_records(records) == {"train-0", "train-1", "web-0"}
    assert {node["metadata"]["name"] for node in nodes} == {r["node"] for r in records if r["object"]["kind"] == "Node"}


@pytest.mark.parametrize("how", sorted(BREAKAGES))
def test_a_broken_pods_file_is_skipped_alike_when_lenient(tmp_path: Path, how: str) -> None:
    dump = two_namespace_dump(tmp_path / "dump")
    broken = dump / "ml" / "pods.json"
    break_file(broken, how)
    inventory_problems, record_problems = Problems(), Problems()
    _, pods = read_inventory_objects(dump, Lenient(inventory_problems))
    records = list(read_records(dump, record_problems))
    assert inventory_problems.items == record_problems.items
    assert len(record_problems.items) == 1 and record_problems.items[0].startswith(f"{broken}: ")
    assert {pod["metadata"]["name"] for pod in pods} == pod_records(records) == {"web-0"}


@pytest.mark.parametrize("how", sorted(BREAKAGES))
def test_a_broken_pods_file_stops_a_strict_read_naming_the_file(tmp_path: Path, how: str) -> None:
    dump = two_namespace_dump(tmp_path / "dump")
    broken = dump / "ml" / "pods.json"
    break_file(broken, how)
    with pytest.raises(UserError) as caught:
        read_inventory_objects(dump)
    assert caught.value.where.startswith(str(broken))
    with pytest.raises(UserError) as again:
        read_objects(broken, "Pod", strict)
    assert (again.value.where, again.value.what) == (caught.value.where, caught.value.what)


def test_an_item_without_a_name_is_dropped_alike_when_lenient(tmp_path: Path) -> None:
    dump = two_namespace_dump(tmp_path / "dump")
    pods_file = dump / "ml" / "pods.json"
    document = json.loads(pods_file.read_text())
    document["items"][0]["metadata"].pop("name")
    pods_file.write_text(json.dumps(document))
    inventory_problems, record_problems = Problems(), Problems()
    _, pods = read_inventory_objects(dump, Lenient(inventory_problems))
    records = list(read_records(dump, record_problems))
    assert inventory_problems.items == record_problems.items == [f"{pods_file}: item 0 is not a Kubernetes object with metadata.name, skipped"]
    assert {pod["metadata"]["name"] for pod in pods} == pod_records(records) == {"train-1", "web-0"}
