"""Cluster records -> grounded training data: Q/A pairs about incidents plus the anomalies' raw text.

Pure functions over record dicts (DESIGN.md section 4). An *incident* is everything the
records say about one object (a pod, a node): its events, its rendered status and its
log anomalies. Each incident yields questions an operator asks (why does it restart, why
is it pending, what does the node's condition mean, which GPU failed, what happened)
answered only from that evidence, quoted. Records are redacted before anything is
derived from them, and the split is by incident and time: the latest incidents go to
eval whole, so no incident's facts leak from train into eval.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubetrainer import atomic
from kubetrainer.errors import Unavailable, UserError

ANOMALY = re.compile(
    r"\b(error|fatal|panic|exception|traceback|oom|out of memory|killed|failed|failure|timeout|refused|xid|nvrm|segfault|unhealthy|crashloop)\b",
    re.IGNORECASE,
)
GPU_FAILURE = re.compile(r"\b(xid|nvrm|fell off the bus|ecc error|gpu has fallen|unhealthy gpu|gpu \d+ (?:failed|lost))\b", re.IGNORECASE)
RESTART = re.compile(r"crashloopbackoff|oomkilled|back-off restarting|\d+ restarts|last terminated", re.IGNORECASE)
PENDING = re.compile(r"failedscheduling|\bpending\b|insufficient|didn't match|untolerated taint", re.IGNORECASE)
CONDITION_MEANINGS = {
    "NotReady": "the kubelet stopped reporting healthy; new pods are not scheduled there and running ones may be evicted",
    "MemoryPressure": "the node is low on memory; the kubelet evicts pods, lowest priority first, until it recovers",
    "DiskPressure": "the node's root or image filesystem is nearly full; the kubelet garbage-collects images and evicts pods",
    "PIDPressure": "the node is running out of process ids; the kubelet evicts pods to free them",
    "NetworkUnavailable": "the node's network is not configured; pods there cannot reach the cluster network",
}
MAX_EVIDENCE = 6  # lines quoted in an answer: enough to ground it, short enough to learn
MAX_TEXT_LINES = 64  # lines of raw anomaly text per incident (continued pre-training keeps more)


@dataclass
class Incident:
    """What the records say about one object."""

    kind: str
    namespace: str | None
    name: str
    first_ts: str = "9999"
    node: str | None = None
    status: str | None = None
    events: list[str] = field(default_factory=list)
    anomalies: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return "/".join(part for part in (self.kind, self.namespace, self.name) if part)

    @property
    def label(self) -> str:
        return f"{self.kind.lower()} {self.namespace + '/' if self.namespace else ''}{self.name}"


def _subject(record: dict[str, Any]) -> tuple[str, str | None, str] | None:
    labels, obj = record.get("labels") or {}, record.get("object") or {}
    if record["kind"] == "object" and obj.get("name"):
        return obj.get("kind", "Object"), obj.get("namespace"), obj["name"]
    if record["kind"] == "event" and labels.get("involved_name"):
        return labels.get("involved_kind") or "Object", record.get("namespace"), labels["involved_name"]
    if record.get("pod"):
        return "Pod", record.get("namespace"), record["pod"]
    if record.get("node"):
        return "Node", None, record["node"]
    return None


def group_incidents(records: Iterable[dict[str, Any]]) -> list[Incident]:
    """Redacted records grouped by the object they are about, ordered by first sighting."""
    from kubetrainer.redact import redact_record

    incidents: dict[tuple, Incident] = {}
    for raw in records:
        record = redact_record(raw)
        subject = _subject(record)
        if subject is None:
            continue
        incident = incidents.setdefault(subject, Incident(*subject))
        incident.first_ts = min(incident.first_ts, record.get("ts") or "9999")
        incident.node = incident.node or record.get("node")
        message = (record.get("message") or "").strip()
        if record["kind"] == "object":
            incident.status = (record.get("object") or {}).get("summary") or message
        elif record["kind"] == "event" and message not in incident.events:
            incident.events.append(message)
        elif ANOMALY.search(message) and message not in incident.anomalies:
            incident.anomalies.append(message)
    return sorted(incidents.values(), key=lambda incident: (incident.first_ts, incident.key))


def _evidence(incident: Incident, pattern: re.Pattern[str] | None = None) -> list[str]:
    lines = ([f"Status: {incident.status}"] if incident.status else []) + [f"Event: {e}" for e in incident.events]
    lines += [f"Log: {line}" for line in incident.anomalies]
    return [line for line in lines if pattern is None or line.startswith("Status") or pattern.search(line)][:MAX_EVIDENCE]


def _answer(lead: str, evidence: list[str]) -> str:
    return lead + "\n\nEvidence from the cluster:\n" + "\n".join(f"- {line}" for line in evidence)


def _restart_cause(incident: Incident) -> str:
    text = " ".join([incident.status or "", *incident.events, *incident.anomalies])
    for cause, explanation in (
        ("OOMKilled", "it is killed for exceeding its memory limit (OOMKilled); raise the limit or fix the leak"),
        ("CrashLoopBackOff", "its container keeps exiting and the kubelet backs off between restarts (CrashLoopBackOff)"),
        ("Liveness probe failed", "its liveness probe fails, so the kubelet restarts it"),
    ):
        if cause.lower() in text.lower():
            return explanation
    return "its container keeps terminating"


def questions(incident: Incident) -> list[tuple[str, str]]:
    """(question, grounded answer) pairs this incident supports; none when the evidence is silent."""
    everything = " ".join([incident.status or "", *incident.events, *incident.anomalies])
    pairs: list[tuple[str, str]] = []
    if incident.kind == "Pod" and RESTART.search(everything):
        pairs.append((f"Why does pod {incident.namespace}/{incident.name} keep restarting?",
                      _answer(f"Pod {incident.namespace}/{incident.name} restarts because {_restart_cause(incident)}.", _evidence(incident, RESTART))))
    if incident.kind == "Pod" and PENDING.search(everything):
        reasons = [e for e in incident.events if PENDING.search(e)] or [incident.status or "it is not scheduled"]
        pairs.append((f"Why is pod {incident.namespace}/{incident.name} Pending?",
                      _answer(f"The scheduler cannot place it: {reasons[-1]}", _evidence(incident, PENDING))))
    if incident.kind == "Node":
        meanings = [f"{name}: {meaning}" for name, meaning in CONDITION_MEANINGS.items()
                    if name in (incident.status or "") and (name == "NotReady" or f"{name}=True" in (incident.status or ""))]
        if meanings:
            pairs.append((f"What does the condition of node {incident.name} mean?", _answer("; ".join(meanings) + ".", _evidence(incident))))
    if GPU_FAILURE.search(everything):
        node = incident.node or incident.name
        failures = [line for line in _evidence(incident) if GPU_FAILURE.search(line)]
        pairs.append((f"Which GPU failed on node {node}?", _answer(f"The GPU reported in: {failures[0].split(': ', 1)[-1]}", failures)))
    warnings = [e for e in incident.events if e.startswith("Warning")]
    if (warnings or incident.anomalies) and not pairs:
        pairs.append((f"What happened to {incident.label}?", _answer(f"{incident.label.capitalize()} had {len(warnings)} warning events and {len(incident.anomalies)} log anomalies.", _evidence(incident))))
    return pairs


def incident_examples(incident: Incident) -> list[dict[str, Any]]:
    """Chat Q/A examples and raw anomaly text for one incident, each tagged with it."""
    meta = {"incident": incident.key, "ts": incident.first_ts}
    examples = [
        {"messages": [{"role": "user", "content": question}, {"role": "assistant", "content": answer}], "meta": {**meta, "type": "qa"}}
        for question, answer in questions(incident)
    ]
    lines = [e for e in incident.events if e.startswith("Warning")] + incident.anomalies
    if examples and lines:
        examples.append({"text": "\n".join(lines[:MAX_TEXT_LINES]), "meta": {**meta, "type": "text"}})
    return examples


def split_by_incident(incidents: list[Incident], eval_fraction: float) -> tuple[list[Incident], list[Incident]]:
    """The earliest incidents train, the latest evaluate; an incident never straddles the split."""
    useful = [incident for incident in incidents if questions(incident)]
    if len(useful) < 2 or eval_fraction == 0:
        return useful, []
    held = min(max(1, round(len(useful) * eval_fraction)), len(useful) - 1)
    return useful[: len(useful) - held], useful[len(useful) - held :]


def build_dataset(records: Iterable[dict[str, Any]], *, eval_fraction: float, source: str) -> dict[str, Any]:
    """The cluster_texts.json document (docs/datasets.md) from records."""
    train, evaluation = split_by_incident(group_incidents(records), eval_fraction)
    return {
        "version": 1,
        "source": source,
        "built": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "train": [example for incident in train for example in incident_examples(incident)],
        "eval": [example for incident in evaluation for example in incident_examples(incident)],
    }


def read_records(source: Path) -> list[dict[str, Any]]:
    """Records from a records JSONL file, or from a cluster-info dump / log tree via kubetrainer.sources."""
    if not source.exists():
        raise UserError("the source does not exist", where=source, expected="a records JSONL file or a cluster-info dump directory")
    if source.is_file() and source.suffix == ".jsonl":
        from kubetrainer.records import iter_jsonl

        return list(iter_jsonl(source))
    try:
        from kubetrainer.sources.auto import records_from_path
        from kubetrainer.sources.base import Problems
    except ImportError as error:
        raise Unavailable(f"reading {source} needs kubetrainer.sources ({error})", hint="pass a records .jsonl file") from None
    return list(records_from_path(source, Problems()))


def build_from_source(source: Path, out: Path, *, eval_fraction: float) -> dict[str, Any]:
    """Read, build, write atomically; the counts."""
    records = read_records(source)
    document = build_dataset(records, eval_fraction=eval_fraction, source=str(source))
    if not document["train"]:
        raise UserError("the records describe no incident to learn from", where=source, expected="events, pod/node status or log errors")
    atomic.write_json(out, document)
    return {"out": str(out), "records": len(records), "train": len(document["train"]), "eval": len(document["eval"])}
