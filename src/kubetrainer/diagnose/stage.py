"""`kubetrainer diagnose` as a stage: read records from one place, diagnose, select what was asked for.

`read` is the only I/O; `select` is pure, so the filters are tested without a cluster.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kubetrainer.diagnose.engine import diagnose
from kubetrainer.diagnose.finding import Finding
from kubetrainer.diagnose.knowledge import SEVERITY_ORDER
from kubetrainer.errors import UserError
from kubetrainer.sources.base import Problems

KINDS = ("Pod", "Node", "PersistentVolumeClaim", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job",
         "HorizontalPodAutoscaler", "Service")
_KIND_ALIASES = {alias: kind for kind in KINDS for alias in (kind.lower(), kind.lower() + "s")}
_KIND_ALIASES |= {"pvc": "PersistentVolumeClaim", "pvcs": "PersistentVolumeClaim", "hpa": "HorizontalPodAutoscaler",
                  "deploy": "Deployment", "sts": "StatefulSet", "ds": "DaemonSet", "rs": "ReplicaSet", "no": "Node",
                  "po": "Pod"}


@dataclass
class Diagnosis:
    findings: list[Finding]
    records: int
    problems: list[str] = field(default_factory=list)  # inputs that were skipped, `path[:line]: why`


def records_from(source: Path | None, kubeconfig: str | None, problems: Problems) -> Iterator[dict]:
    """Records from a dump, records JSONL, CRI log tree or files (`source`), else the live cluster."""
    if source is not None:
        from kubetrainer.sources.auto import records_from_path

        if not Path(source).exists():
            raise UserError("no such file or directory", where=source,
                            expected="a cluster-info dump directory, a records JSONL file or a /var/log/pods tree")
        return records_from_path(Path(source), problems)
    from kubetrainer.sources.api import read_api

    return read_api(kubeconfig or None, problems)


def read(source: Path | None, kubeconfig: str | None) -> Diagnosis:
    problems = Problems()
    counted = 0

    def counting(records: Iterator[dict]) -> Iterator[dict]:
        nonlocal counted
        for record in records:
            counted += 1
            yield record

    findings = diagnose(counting(records_from(source, kubeconfig, problems)))
    if counted == 0:
        where = source if source is not None else "the cluster"
        raise UserError("no records to diagnose", where=where, expected="objects, events or logs")
    return Diagnosis(findings, counted, problems.items)


def kind_name(text: str) -> str:
    """`pods`, `pod`, `Pod`, `po` -> `Pod`; anything else is a UserError naming --kind."""
    found = _KIND_ALIASES.get(text.lower())
    if found is None:
        raise UserError(f"unknown kind {text!r}", where="--kind", expected=", ".join(KINDS))
    return found


def severity_at_least(text: str) -> int:
    if text not in SEVERITY_ORDER:
        raise UserError(f"unknown severity {text!r}", where="--severity", expected=", ".join(SEVERITY_ORDER))
    return SEVERITY_ORDER[text]


def select(findings: Sequence[Finding], *, namespaces: Sequence[str] = (), nodes: Sequence[str] = (),
           kinds: Sequence[str] = (), severity: str = "info") -> list[Finding]:
    """The findings in those namespaces, on those nodes, of those kinds, at least that severe."""
    wanted_kinds = {kind_name(kind) for kind in kinds}
    ceiling = severity_at_least(severity)
    return [
        finding for finding in findings
        if (not namespaces or finding.namespace in namespaces)
        and (not nodes or finding.node in nodes)
        and (not wanted_kinds or finding.kind in wanted_kinds)
        and SEVERITY_ORDER.get(finding.severity, 9) <= ceiling
    ]
