"""Read kubelet's container logs: `/var/log/pods/<ns>_<pod>_<uid>/<container>/<n>.log` (CRI format).

Each line is `<RFC3339Nano> <stdout|stderr> <P|F> <text>`; `P` marks a partial
line that continues in the next entry, `F` a full one. Partials are joined so a
long line is one record.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from kubetrainer.errors import UserError
from kubetrainer.records import format_ts, record_id
from kubetrainer.redact_keys import KeyBlock
from kubetrainer.sources.base import Problems, emit_line
from kubetrainer.sources.dump import looks_binary

_CRI = re.compile(r"^(\S+) (stdout|stderr) ([PF]) ?(.*)$")
_POD_DIR = re.compile(r"^([^_]+)_([^_]+)_([0-9a-fA-F-]+)$")


def is_pods_dir(path: Path) -> bool:
    return path.is_dir() and any(_POD_DIR.match(p.name) for p in path.iterdir() if p.is_dir())


def read_pods_dir(root: Path, problems: Problems, node: str | None = None) -> Iterator[dict]:
    """Every container log under a /var/log/pods-style tree."""
    root = Path(root)
    if not root.is_dir():
        raise UserError("pods log directory not found", where=root, expected="a directory like /var/log/pods")
    for pod_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        match = _POD_DIR.match(pod_dir.name)
        if not match:
            problems.skip(pod_dir, "not a <namespace>_<pod>_<uid> directory")
            continue
        namespace, pod, _uid = match.groups()
        for log_file in sorted(pod_dir.glob("*/*.log")):
            yield from read_cri_file(log_file, problems, namespace=namespace, pod=pod, container=log_file.parent.name, node=node)


def read_cri_file(path: Path, problems: Problems, *, namespace: str, pod: str, container: str, node: str | None) -> Iterator[dict]:
    """Records of one CRI log file; malformed lines are reported with path:line and skipped."""
    if looks_binary(path):
        problems.skip(path, "binary data in a CRI log file")
        return
    pending: list[str] = []
    blocks = {"stdout": KeyBlock(), "stderr": KeyBlock()}  # a key printed on one stream is open on that stream only
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            match = _CRI.match(line)
            if not match:
                problems.skip(f"{path}:{number}", "not a CRI log line (<time> <stream> <P|F> <text>)")
                continue
            stamp, stream, tag, text = match.groups()
            pending.append(text)
            if tag == "P":
                continue
            message, pending = "".join(pending), []
            try:
                ts = format_ts(stamp)
            except ValueError:
                problems.skip(f"{path}:{number}", f"bad timestamp {stamp!r}")
                continue
            yield emit_line(
                blocks[stream],
                "log",
                ts,
                "file",
                message,
                id=record_id("cri", namespace, pod, container, path.name, str(number), ts),
                namespace=namespace,
                pod=pod,
                container=container,
                stream=stream,
                node=node,
            )
