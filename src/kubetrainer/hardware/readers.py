"""Offline readers: a `kubectl cluster-info dump` directory or a nodes JSON/YAML file -> inventory.

They only pick the nodes and pods; the dump's layout and the parsing of its lists live
in `sources.dump_files` (shared with the records reader), the rules in `hardware.cluster`.
Input a user typed a path to is read strictly: a broken file gives a `UserError` naming
the file (and line for bad JSON) instead of a traceback or a silently smaller cluster.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kubetrainer.errors import UserError
from kubetrainer.hardware.cluster import build_inventory
from kubetrainer.hardware.inventory import ClusterInventory
from kubetrainer.sources.dump_files import OnBadFile, list_files, nodes_file, read_objects, strict

ACCEPTED = "a `kubectl cluster-info dump --output-directory` directory, or a file from `kubectl get nodes -o json`"


def _of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [item for item in objects if item["kind"] == kind]


def read_dump(directory: Path, on_bad: OnBadFile = strict) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Nodes and pods of a cluster-info dump: `nodes.json` and every `<namespace>/pods.json`.

    Strict by default (planning on part of a cluster would place jobs wrongly); `on_bad`
    is the same policy the records reader takes, so both can read one dump alike.
    """
    nodes_path = nodes_file(directory)
    if not nodes_path.is_file():
        raise UserError("no nodes.json in this directory", where=directory, expected=ACCEPTED,
                        hint="make one with `kubectl cluster-info dump --all-namespaces --output-directory=DIR`")
    nodes = _of_kind(read_objects(nodes_path, "Node", on_bad), "Node")
    pods = [pod for path in list_files(directory, "pods") for pod in _of_kind(read_objects(path, "Pod", on_bad), "Pod")]
    return nodes, pods


def read_objects_file(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Nodes (and any pods, as `kubectl get nodes,pods -A -o json` writes) from one file."""
    objects = read_objects(path, "Node", strict, lone_kinds=("Pod",))
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


def read_path(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Nodes and pods of whatever a user named with `--from`: a dump directory or a nodes file."""
    if path.is_dir():
        return read_dump(path)
    if path.exists():
        return read_objects_file(path)
    raise UserError("no such file or directory", where=path, expected=ACCEPTED)


def _inventory(path: Path) -> ClusterInventory:
    nodes, pods = read_path(path)
    try:
        return build_inventory(f"{'dump' if path.is_dir() else 'file'}:{path}", nodes, pods)
    except ValueError as error:
        raise UserError(str(error), where=path, expected="resource quantities like \"8\", \"3500m\" or \"64Gi\"") from error
