"""Identifiers a failure names, found in what other objects said: where the key, request or volume came from.

A failure often quotes an id it could not resolve: the Data Protection key `{fe8b7972-...}` one
replica cannot find, a request or trace id, a volume `pvc-d0a2...`. Where another pod names the
same id (the replica that created the key, the CSI controller that failed to attach the volume)
is where the story continues, and an engineer greps every log for it. This does the same over the
lines the collector keeps: each container's opening lines and problem lines, and warning events.
The ids of a failure are those of its evidence and of its container's problem lines
(`ContainerLogs.ids`: its evidence quotes only a few lines). Pod uids are left out: they are
resolved to their pods elsewhere (`changes.resolved`).
"""

from __future__ import annotations

from collections.abc import Iterator

from kubetrainer.diagnose.collect import Collector, ids_in, readable, shape
from kubetrainer.diagnose.finding import Evidence, Finding
from kubetrainer.diagnose.knowledge import INFO, is_problem_line

TRACED_LINES = 3  # the finding's first evidence lines whose ids are traced
MAX_ELSEWHERE = 2  # lines of other objects quoted, one per object


def _kept_lines(collector: Collector) -> Iterator[Evidence]:
    for lines in collector.opening.values():
        yield from lines
    for facts in collector.objects.values():
        yield from facts.events
        for logs in facts.logs.values():
            yield from logs.errors
            yield from logs.ids.values()
            for hits in [*logs.signatures.values(), *logs.xids.values()]:
                yield from (hits.first, *hits.distinct)


def _ids_of(collector: Collector, finding: Finding) -> list[str]:
    found = [uuid for item in finding.evidence[:TRACED_LINES] for uuid in ids_in(item.text)]
    facts = collector.objects.get((finding.kind, finding.namespace, finding.name))
    if facts is not None:
        containers = [finding.container] if finding.container in facts.logs else list(facts.logs)
        found += [uuid for name in containers for uuid in facts.logs[name].ids]
    return list(dict.fromkeys(found))


def trace_identifiers(findings: list[Finding], collector: Collector) -> None:
    """Give each failure the lines of other objects that name an id it names (`Finding.elsewhere`)."""
    uids = {uid.lower() for uid in collector.pods_by_uid}
    by_id: dict[str, list[Evidence]] = {}
    for item in _kept_lines(collector):
        for found in ids_in(item.text):
            if found not in uids and item not in by_id.get(found, ()):
                by_id.setdefault(found, []).append(item)
    if not by_id:
        return
    for finding in findings:
        if finding.severity == INFO:
            continue
        said = {shape(readable(item.text)) for item in finding.evidence}
        candidates = [other for found in _ids_of(collector, finding) for other in by_id.get(found, ())
                      if (other.namespace, other.name) != (finding.namespace, finding.name)
                      and shape(readable(other.text)) not in said]
        # What another object did with the id (created, wrote, attached it) before others failing on it too;
        # one line per object.
        chosen: dict[tuple, Evidence] = {}
        for other in sorted(candidates, key=lambda item: is_problem_line(item.text)):
            chosen.setdefault((other.namespace, other.name), other)
        finding.elsewhere = list(chosen.values())[:MAX_ELSEWHERE]
