"""How a failing container is configured: its pod's images and its env settings, quoted from its pod's status record.

"Why didn't it follow the failover?" is answered by `REDIS_ADDR=redis-node-0...:6379` (hard-wired to one
node); "why is ClickHouse refusing its inserts?" by `CH_BATCH_MAX_ROWS=1`. The first thing an engineer reads
after the error is `kubectl describe pod`'s Environment. The pod record lists each container's settings
(`sources.render`, secret-looking ones withheld), so a failing container's finding carries its clause,
stated as how it is configured, never as the cause; and the images the pod runs, which say the release
("which version did it?"). A container that was never created (its image could not be pulled) has no
settings to speak of.
"""

from __future__ import annotations

from collections.abc import Mapping

from kubetrainer.diagnose.collect import ObjectFacts
from kubetrainer.diagnose.finding import Evidence, Finding
from kubetrainer.diagnose.knowledge import INFO
from kubetrainer.diagnose.status import parse_pod

NEVER_CREATED = frozenset({"image-pull"})


def attach_settings(findings: list[Finding], objects: Mapping[tuple, ObjectFacts]) -> None:
    """Give each failing container's finding its pod's images and its container's env clause from the pod's status
    record."""
    for finding in findings:
        if finding.kind != "Pod" or finding.container is None or finding.severity == INFO:
            continue
        if finding.rule in NEVER_CREATED:
            continue
        facts = objects.get(("Pod", finding.namespace, finding.name))
        record = facts.status if facts else None
        if record is None:
            continue
        status = parse_pod(record.text)
        images = f"images {', '.join(status.images)}" if status.images else ""
        quoted = {item.text for item in finding.evidence}
        clauses = [clause for clause in (images, status.env.get(finding.container, "")) if clause
                   and not any(clause in text for text in quoted)]
        finding.settings = [Evidence(clause, record.kind, record.namespace, record.name, finding.container,
                                     record.node, record.ts, record.record) for clause in clauses]
