"""What the collector knows, saved beside an index, so records added later are diagnosed with the earlier ones.

`/v1/ingest` and `kubetrainer index` add records in batches. Diagnosing each batch on its
own misses a cause whose status arrives in one batch and its events or logs in the next;
keeping the collector's (bounded) facts and feeding each batch into them gives the findings
one batch of all the records would give. JSON, not pickle: an index directory is data.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kubetrainer import atomic
from kubetrainer.diagnose.changes import Change
from kubetrainer.diagnose.collect import Collector, ContainerLogs, ObjectFacts, SignatureHits
from kubetrainer.diagnose.finding import Evidence
from kubetrainer.diagnose.knowledge import SIGNATURE_BY_RULE

COLLECTED = "collected.json"
FORMAT = 2  # 2: start-up and last lines, changes and pod uids are kept too


def _evidence(item: Evidence | None) -> dict[str, Any] | None:
    return item.to_json() if item else None


def _hits_json(hits: SignatureHits) -> dict[str, Any]:
    return {"rule": hits.signature.rule if hits.signature else None, "first": hits.first.to_json(),
            "last": hits.last.to_json(), "count": hits.count, "context": _evidence(hits.context),
            "head": _evidence(hits.head),
            "variants": {shape: item.to_json() for shape, item in hits.variants.items()}}


def _hits(value: dict[str, Any]) -> SignatureHits:
    context = value.get("context")
    return SignatureHits(SIGNATURE_BY_RULE[value["rule"]] if value.get("rule") else None,  # type: ignore[arg-type]
                         Evidence.from_json(value["first"]), Evidence.from_json(value["last"]), value["count"],
                         Evidence.from_json(context) if context else None,
                         Evidence.from_json(value["head"]) if value.get("head") else None,
                         {shape: Evidence.from_json(item) for shape, item in value["variants"].items()})


def _logs_json(logs: ContainerLogs) -> dict[str, Any]:
    return {"errors": [item.to_json() for item in logs.errors], "error_count": logs.error_count,
            "error_variants": {shape: item.to_json() for shape, item in logs.error_variants.items()},
            "error_context": {shape: item.to_json() for shape, item in logs.error_context.items()},
            "signatures": {rule: _hits_json(hits) for rule, hits in logs.signatures.items()},
            "xids": [[code, device, _hits_json(hits)] for (code, device), hits in logs.xids.items()],
            "listening": {str(port): item.to_json() for port, item in logs.listening.items()},
            "ids": {found: item.to_json() for found, item in logs.ids.items()}}


def _logs(value: dict[str, Any]) -> ContainerLogs:
    return ContainerLogs(
        errors=[Evidence.from_json(item) for item in value["errors"]], error_count=value["error_count"],
        error_variants={shape: Evidence.from_json(item) for shape, item in value["error_variants"].items()},
        error_context={shape: Evidence.from_json(item) for shape, item in (value.get("error_context") or {}).items()},
        signatures={rule: _hits(hits) for rule, hits in value["signatures"].items() if rule in SIGNATURE_BY_RULE},
        xids={(code, device): _hits(hits) for code, device, hits in value["xids"]},
        listening={int(port): Evidence.from_json(item) for port, item in (value.get("listening") or {}).items()},
        ids={found: Evidence.from_json(item) for found, item in (value.get("ids") or {}).items()})


def _facts_json(facts: ObjectFacts) -> dict[str, Any]:
    return {"kind": facts.kind, "namespace": facts.namespace, "name": facts.name, "node": facts.node,
            "status": _evidence(facts.status), "events": [item.to_json() for item in facts.events],
            "reasons": facts.reasons, "counts": facts.counts,
            "logs": {container: _logs_json(logs) for container, logs in facts.logs.items()},
            "gpu_metrics": facts.gpu_metrics, "zone": facts.zone, "labels": facts.labels}


def _facts(value: dict[str, Any]) -> ObjectFacts:
    status = value.get("status")
    return ObjectFacts(value["kind"], value["namespace"], value["name"], value["node"],
                       Evidence.from_json(status) if status else None,
                       [Evidence.from_json(item) for item in value["events"]], value["reasons"], value["counts"],
                       {container: _logs(logs) for container, logs in value["logs"].items()}, value["gpu_metrics"],
                       value.get("zone"), value.get("labels") or {})


def save_collector(directory: Path, collector: Collector) -> None:
    body = {"format": FORMAT, "objects": [_facts_json(facts) for facts in collector.objects.values()],
            "previous": [[list(key), record] for key, record in collector.previous.items()],
            "opening": [[list(key), [item.to_json() for item in lines]] for key, lines in collector.opening.items()],
            "changes": [change.to_json() for change in collector.changes],
            "pods_by_uid": collector.pods_by_uid,
            "last": [[list(key), record] for key, record in collector.last.items()]}
    atomic.write_text(Path(directory) / COLLECTED, json.dumps(body, ensure_ascii=False, separators=(",", ":")))


def load_collector(directory: Path) -> Collector | None:
    """The collector saved in `directory`; None when there is none (or an unknown format): start afresh."""
    try:
        body = json.loads((Path(directory) / COLLECTED).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if body.get("format") != FORMAT:
        return None
    collector = Collector()
    for value in body["objects"]:
        facts = _facts(value)
        collector.objects[(facts.kind, facts.namespace, facts.name)] = facts
    collector.previous.update((tuple(key), record) for key, record in body["previous"])
    collector.opening.update((tuple(key), [Evidence.from_json(item) for item in lines]) for key, lines in body["opening"])
    collector.changes.extend(Change.from_json(value) for value in body["changes"])
    collector.pods_by_uid.update(body["pods_by_uid"])
    collector.last.update((tuple(key), record) for key, record in body["last"])
    return collector
