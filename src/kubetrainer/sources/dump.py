"""Read a `kubectl cluster-info dump --all-namespaces --output-directory=DIR` tree into records.

Object lists become rendered-status `object` records, events become `event`
records, and each `<ns>/<pod>/logs.txt` is split at its
`==== START logs for container C of pod NS/P ====` markers into `log` records
that name the pod, container and node. A truncated JSON file or a binary log is
reported with its path and skipped; the rest of the dump is still read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from kubetrainer.errors import UserError
from kubetrainer.records import format_ts, parse_ts, record_id
from kubetrainer.redact_keys import KeyBlock
from kubetrainer.sources.base import Problems, emit_line
from kubetrainer.sources.kube import records_from_list
from kubetrainer.sources.logtime import line_time

LIST_FILES = ("nodes", "events", "pods", "services", "deployments", "replicasets", "daemonsets", "replication-controllers", "statefulsets", "jobs")
_BLOCK = re.compile(r"^==== (START|END) logs for container (\S+) of pod ([^/\s]+)/(\S+) ====$")
_BINARY_PROBE = 8192


def is_dump(path: Path) -> bool:
    """A directory that looks like a cluster-info dump (nodes.json or namespace dirs with pods.json)."""
    return path.is_dir() and ((path / "nodes.json").is_file() or any(path.glob("*/pods.json")))


def load_json(path: Path, problems: Problems) -> dict | None:
    """Parse one JSON file; a truncated, binary or non-object file is reported and gives None."""
    try:
        value = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        problems.skip(path, "not UTF-8 text (binary data?)")
        return None
    except json.JSONDecodeError as error:
        problems.skip(path, f"invalid JSON at line {error.lineno} ({error.msg})")
        return None
    if not isinstance(value, dict):
        problems.skip(path, f"expected a JSON object, got {type(value).__name__}")
        return None
    return value


def looks_binary(path: Path) -> bool:
    with path.open("rb") as handle:
        return b"\x00" in handle.read(_BINARY_PROBE)


def read_dump(root: Path, problems: Problems) -> Iterator[dict]:
    """Every record in the dump: nodes, then per namespace its objects, events and logs."""
    root = Path(root)
    if not is_dump(root):
        raise UserError("not a cluster-info dump directory", where=root, expected="nodes.json or <namespace>/pods.json inside (kubectl cluster-info dump --output-directory)")
    if (root / "nodes.json").is_file() and (document := load_json(root / "nodes.json", problems)):
        yield from records_from_list(document, "dump")
    for namespace_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        pods: dict[str, dict] = {}
        for name in LIST_FILES[1:]:
            path = namespace_dir / f"{name}.json"
            if not path.is_file() or (document := load_json(path, problems)) is None:
                continue
            if name == "pods":
                pods = {item.get("metadata", {}).get("name"): item for item in document.get("items", []) if isinstance(item, dict)}
            yield from records_from_list(document, "dump")
        for logs in sorted(namespace_dir.glob("*/logs.txt")):
            yield from read_logs_txt(logs, pods, problems)


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
