"""Read a `kubectl cluster-info dump --all-namespaces --output-directory=DIR` tree into records.

Object lists become rendered-status `object` records, events become `event`
records, and each `<ns>/<pod>/logs.txt` is split at its
`==== START logs for container C of pod NS/P ====` markers into `log` records
that name the pod, container and node. Where the files lie and how a list is parsed
live in `sources.dump_files`, shared with the GPU inventory; here the read is lenient:
a truncated JSON file or a binary log is reported with its path and skipped, and the
rest of the dump is still read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from kubetrainer.errors import UserError
from kubetrainer.records import format_ts, parse_ts, record_id
from kubetrainer.redact_keys import KeyBlock
from kubetrainer.sources.base import Problems, emit_line
from kubetrainer.sources.dump_files import (
    Lenient,
    is_dump,
    log_files,
    namespace_dirs,
    namespace_lists,
    nodes_file,
    read_objects,
)
from kubetrainer.sources.kube import records_from_list
from kubetrainer.sources.logtime import line_time

_BLOCK = re.compile(r"^==== (START|END) logs for container (\S+) of pod ([^/\s]+)/(\S+) ====$")
_BINARY_PROBE = 8192


def looks_binary(path: Path) -> bool:
    with path.open("rb") as handle:
        return b"\x00" in handle.read(_BINARY_PROBE)


def read_dump(root: Path, problems: Problems) -> Iterator[dict]:
    """Every record in the dump: nodes, then per namespace its objects, events and logs."""
    root = Path(root)
    if not is_dump(root):
        raise UserError("not a cluster-info dump directory", where=root, expected="nodes.json or <namespace>/pods.json inside (kubectl cluster-info dump --output-directory)")
    on_bad = Lenient(problems)
    if nodes_file(root).is_file():
        yield from _records("Node", read_objects(nodes_file(root), "Node", on_bad))
    for namespace_dir in namespace_dirs(root):
        pods: dict[str, dict] = {}
        for kind, path in namespace_lists(namespace_dir):
            objects = read_objects(path, kind, on_bad)
            if kind == "Pod":
                pods = {pod["metadata"]["name"]: pod for pod in objects}
            yield from _records(kind, objects)
        for logs in log_files(namespace_dir):
            yield from read_logs_txt(logs, pods, problems)


def _records(kind: str, objects: list[dict]) -> list[dict]:
    """Records of one list's objects, through the converter the live API reader uses too."""
    return records_from_list({"kind": f"{kind}List", "items": objects}, "dump")


def _pod_start(pod: dict | None) -> datetime | None:
    stamp = (pod or {}).get("status", {}).get("startTime")
    try:
        return parse_ts(stamp) if stamp else None
    except ValueError:
        return None


def read_logs_txt(path: Path, pods: dict[str, dict], problems: Problems) -> Iterator[dict]:
    """Log records from one pod's logs.txt; lines without a timestamp inherit the previous one."""
    if looks_binary(path):
        problems.skip(path, "binary data in a logs.txt")
        return
    container = namespace = pod_name = None
    node = None
    moment: datetime | None = None
    block = KeyBlock()
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if match := _BLOCK.match(line):
                starting = match.group(1) == "START"
                container, namespace, pod_name = (match.group(2), match.group(3), match.group(4)) if starting else (None, None, None)
                pod = pods.get(pod_name or "")
                node = (pod or {}).get("spec", {}).get("nodeName")
                moment = _pod_start(pod)
                block = KeyBlock()
                continue
            if container is None or not line.strip():
                continue
            moment = line_time(line, (moment.year if moment else 1970)) or moment
            stamp = format_ts(moment) if moment else "1970-01-01T00:00:00Z"
            yield emit_line(
                block,
                "log",
                stamp,
                "dump",
                line,
                id=record_id("dump", namespace or "", pod_name or "", container, str(number), stamp),
                namespace=namespace,
                pod=pod_name,
                container=container,
                node=node,
            )
