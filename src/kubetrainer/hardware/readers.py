"""Offline readers: a `kubectl cluster-info dump` directory or a nodes JSON/YAML file -> inventory.

They only load and check the objects; the rules live in `hardware.cluster`. Input a
user typed a path to is checked up front, and a broken file gives a `UserError` naming
the file (and line for bad JSON) instead of a traceback.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from kubetrainer.errors import UserError
from kubetrainer.hardware.cluster import build_inventory
from kubetrainer.hardware.inventory import ClusterInventory

ACCEPTED = "a `kubectl cluster-info dump --output-directory` directory, or a file from `kubectl get nodes -o json`"


def _load(path: Path) -> Any:
    try:
        text = path.read_bytes()
    except OSError as error:
        raise UserError(f"cannot read the file: {error.strerror}", where=path, expected=ACCEPTED) from error
    if path.suffix in (".yaml", ".yml"):
        import yaml

        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as error:
            line = getattr(getattr(error, "problem_mark", None), "line", None)
            where = f"{path}:{line + 1}" if line is not None else path
            raise UserError(f"not valid YAML ({getattr(error, 'problem', error)})", where=where,
                            expected="a Kubernetes List or Node in YAML") from error
    try:
        return orjson.loads(text)  # a 5,000-node dump is ~75 MB of JSON: 2-3x faster than json.loads
    except json.JSONDecodeError as error:  # orjson's error is a subclass, with the same line and column
        raise UserError(f"not valid JSON ({error.msg})", where=f"{path}:{error.lineno}:{error.colno}",
                        expected="a Kubernetes List, NodeList or Node object") from error


def _objects(path: Path, default_kind: str) -> list[dict[str, Any]]:
    """The objects a file holds (a List, a typed list, a bare JSON array, or one object), each with a kind.

    API list responses leave `kind` off their items, so an item without one takes the
    list's kind ("NodeList" -> "Node") or `default_kind`.
    """
    data = _load(path)
    if isinstance(data, dict) and isinstance(data.get("items"), list):
        items, list_kind = data["items"], str(data.get("kind") or "")
        item_kind = list_kind.removesuffix("List") if list_kind not in ("", "List") else default_kind
    elif isinstance(data, dict) and data.get("kind") in ("Node", "Pod"):
        items, item_kind = [data], default_kind
    elif isinstance(data, list):
        items, item_kind = data, default_kind
    else:
        raise UserError("not a Kubernetes object or list", where=path,
                        expected="a List/NodeList with `items`, a JSON array of Nodes, or one Node")
    for position, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance((item.get("metadata") or {}).get("name"), str):
            raise UserError(f"item {position} is not a Kubernetes object with metadata.name", where=path,
                            expected="objects as `kubectl get -o json` prints them")
        item.setdefault("kind", item_kind)
    return items


def _of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [item for item in objects if item["kind"] == kind]


def read_dump(directory: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Nodes and pods of a cluster-info dump: `nodes.json` and every `<namespace>/pods.json`."""
    nodes_file = directory / "nodes.json"
    if not nodes_file.is_file():
        raise UserError("no nodes.json in this directory", where=directory, expected=ACCEPTED,
                        hint="make one with `kubectl cluster-info dump --all-namespaces --output-directory=DIR`")
    nodes = _of_kind(_objects(nodes_file, "Node"), "Node")
    pods = [pod for pods_file in sorted(directory.glob("*/pods.json")) for pod in _of_kind(_objects(pods_file, "Pod"), "Pod")]
    return nodes, pods


def read_objects_file(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Nodes (and any pods, as `kubectl get nodes,pods -A -o json` writes) from one file."""
    objects = _objects(path, "Node")
    nodes = _of_kind(objects, "Node")
    if objects and not nodes:
        raise UserError("the file holds no Node objects", where=path, expected=ACCEPTED)
    return nodes, _of_kind(objects, "Pod")


def inventory_from_path(path: str | Path) -> ClusterInventory:
    """The GPU inventory of a cluster-info dump directory or a nodes JSON/YAML file."""
    path = Path(path)
    with _no_gc_pauses():
        return _inventory(path)


@contextmanager
def _no_gc_pauses() -> Iterator[None]:
    """Build the object graph without the cyclic GC rescanning it: a 5,000-node dump is millions of
    dicts and none of them form cycles, so collecting meanwhile only costs time (a third of it)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _inventory(path: Path) -> ClusterInventory:
    if path.is_dir():
        source, (nodes, pods) = f"dump:{path}", read_dump(path)
    elif path.exists():
        source, (nodes, pods) = f"file:{path}", read_objects_file(path)
    else:
        raise UserError("no such file or directory", where=path, expected=ACCEPTED)
    try:
        return build_inventory(source, nodes, pods)
    except ValueError as error:
        raise UserError(str(error), where=path, expected="resource quantities like \"8\", \"3500m\" or \"64Gi\"") from error
