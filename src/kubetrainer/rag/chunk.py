"""Chunks: the retrievable units, each naming what it is about and when.

Objects become one chunk each (their record text already names the object);
events are grouped per involved object, warnings first, so the dozens of routine
Scheduled/Pulled/Started events do not crowd out the one that matters. Logs are
handled by `rag.logfold`: per container and time window, routine lines folded
into templates with counts, problems kept verbatim. Chunks about something
wrong carry `problem=True`, which retrieval uses as a prior: on-call questions
are about what is broken; their known failure signatures are explained in a
"Meaning:" line (`diagnose.knowledge`, the one catalogue of failure signatures).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from kubetrainer.diagnose.knowledge import annotate, status_looks_unhealthy
from kubetrainer.records import record_id

if TYPE_CHECKING:
    from kubetrainer.rag.logfold import LogFolder

MAX_CHUNK_CHARS = 1500  # ~ what the embedding model reads (256 word pieces); longer text is split


@dataclass
class Chunk:
    """Text plus the DESIGN.md section 5 `source` fields."""

    text: str
    kind: str  # log | event | object | metric | gpu
    namespace: str | None = None
    name: str | None = None
    node: str | None = None
    container: str | None = None
    path: str | None = None
    ts_start: str | None = None
    ts_end: str | None = None
    problem: bool = False

    @property
    def id(self) -> str:
        return record_id(self.kind, self.namespace or "", self.name or "", self.container or "", self.ts_start or "", self.text)

    def source(self) -> dict:
        return {key: value for key, value in asdict(self).items() if key not in ("text", "problem")}

    def to_json(self) -> dict:
        return {"id": self.id, **asdict(self)}

    @classmethod
    def from_json(cls, value: dict) -> Chunk:
        return cls(**{key: value.get(key) for key in cls.__dataclass_fields__})


def split_text(header: str, body: str, limit: int = MAX_CHUNK_CHARS) -> list[str]:
    """`header + body`, or several pieces each starting with the header, cut at line ends."""
    if len(header) + len(body) + 1 <= limit:
        return [f"{header}\n{body}" if header else body]
    pieces, current = [], []
    size = len(header)
    for line in body.splitlines() or [body]:
        while len(line) > limit - len(header) - 1:  # a single huge line: hard cut
            if current:
                pieces.append(current)
                current, size = [], len(header)
            cut = limit - len(header) - 1
            pieces.append([line[:cut]])
            line = line[cut:]
        if size + len(line) + 1 > limit and current:
            pieces.append(current)
            current, size = [], len(header)
        current.append(line)
        size += len(line) + 1
    if current:
        pieces.append(current)
    return [(f"{header}\n" if header else "") + "\n".join(piece) for piece in pieces]


def record_chunks(record: dict, path: str | None = None) -> list[Chunk]:
    """Chunks for one object, metric or file record (events and logs are grouped elsewhere)."""
    kind = record["kind"]
    labels = record.get("labels") or {}
    obj = record.get("object") or {}
    text = record["message"]
    if kind in ("metric", "gpu"):
        metrics = ", ".join(f"{key}={value:g}" for key, value in sorted((record.get("metrics") or {}).items()))
        text = f"{kind} sample from node {record.get('node', '?')}: {text} {metrics}".strip()
    header = ""
    if len(text) > MAX_CHUNK_CHARS:
        header, _, text = text.partition("\n") if "\n" in text[:300] else (text[:120], "", text[120:])
    problem = kind == "object" and obj.get("kind") not in ("Runbook",) and status_looks_unhealthy(record["message"])
    return [
        Chunk(
            text=piece,
            kind=kind,
            namespace=record.get("namespace") or obj.get("namespace"),
            name=obj.get("name") or record.get("pod") or record.get("node"),
            node=record.get("node"),
            container=record.get("container"),
            path=labels.get("path") or path,
            ts_start=record["ts"],
            ts_end=record["ts"],
            problem=problem,
        )
        for piece in split_text(header, text)
    ]


# The components of Kubernetes itself that report events (the kubelet, the scheduler, kube-controller-manager's
# controllers): they report most events, so naming them says little; any other reporter (cert-manager's controllers,
# the cluster autoscaler, an operator) is named on its lines, as what acted on the object.
KUBERNETES_COMPONENTS = frozenset({
    "kubelet", "default-scheduler", "kube-proxy", "kube-controller-manager", "horizontal-pod-autoscaler",
    "node-controller", "deployment-controller", "replicaset-controller", "statefulset-controller",
    "daemonset-controller", "job-controller", "cronjob-controller", "endpoint-controller", "endpointslice-controller",
    "persistentvolume-controller", "attachdetach-controller", "disruption-controller", "taint-eviction-controller",
    "service-controller", "route-controller", "cloud-node-controller", "resourcequota-controller",
    "garbage-collector-controller", "namespace-controller", "ttl-after-finished-controller", "pod-garbage-collector",
})


def event_chunks(events: list[dict], path: str | None = None) -> Iterator[Chunk]:
    """One chunk (or a few, if long) per involved object: its warnings first, then normal events."""
    groups: dict[tuple, list[dict]] = {}
    for event in events:
        labels = event.get("labels") or {}
        groups.setdefault((event.get("namespace"), labels.get("involved_kind", ""), labels.get("involved_name") or event.get("pod") or ""), []).append(event)
    for (namespace, kind, name), members in groups.items():
        members.sort(key=lambda e: ((e.get("labels") or {}).get("type") != "Warning", e["ts"]))
        nodes = sorted({e["node"] for e in members if e.get("node")})
        where = f"{namespace}/{name}" if namespace else name
        header = f"Events for {kind or 'object'} {where}" + (f" (node {', '.join(nodes)})" if nodes else "") + ":"
        lines = []
        for event in members:
            labels = event.get("labels") or {}
            prefix = f"{labels.get('type', 'Normal')} event on {kind} {where}: "
            body = event["message"][len(prefix):] if event["message"].startswith(prefix) else event["message"]
            component = labels.get("component") or ""
            by = f" by {component}" if component and component not in KUBERNETES_COMPONENTS else ""
            lines.append(f"{labels.get('type', 'Normal')} {body} [at {event['ts'][11:19]}{by}]")
        warning = any((e.get("labels") or {}).get("type") == "Warning" for e in members)
        stamps = sorted(e["ts"] for e in members)
        for text in split_text(header, "\n".join(lines)):
            yield Chunk(text=text, kind="event", namespace=namespace, name=name or None, node=nodes[0] if len(nodes) == 1 else None,
                        path=path, ts_start=stamps[0], ts_end=stamps[-1], problem=warning)


def chunk_records(records: Iterable[dict], path: str | None = None, window_minutes: float = 60.0) -> Iterator[Chunk]:
    """All chunks for a stream of records: logs folded per container and window, events per object, the rest one by one."""
    from kubetrainer.rag.logfold import LogFolder

    folder = LogFolder(window_minutes=window_minutes, path=path)
    yield from _chunks(records, folder, path)
    yield from folder.flush_all()


def chunk_more(records: Iterable[dict], folder: LogFolder, path: str | None = None) -> Iterator[Chunk]:
    """Chunks for records added to an index: as `chunk_records`, but each container's last window stays open.

    `folder` resumes the index's saved folding state: a window that received records is made
    again, and the ids of its earlier chunks are in `folder.retired` for the index to drop.
    """
    yield from _chunks(records, folder, path)
    yield from folder.flush_open()


def _chunks(records: Iterable[dict], folder: LogFolder, path: str | None) -> Iterator[Chunk]:
    events: list[dict] = []
    for record in records:
        if record["kind"] == "log":
            yield from folder.add(record)
        elif record["kind"] == "event":
            events.append(record)
        else:
            yield from map(explained, record_chunks(record, path))
    yield from map(explained, event_chunks(events, path))


def explained(chunk: Chunk) -> Chunk:
    """A problem chunk with the meaning of its known failure signatures after its header."""
    if chunk.problem:
        chunk.text = annotate(chunk.text)
    return chunk
