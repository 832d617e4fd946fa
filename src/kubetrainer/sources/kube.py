"""Kubernetes objects and events (as JSON dicts) -> records; shared by the dump and live API readers."""

from __future__ import annotations

from typing import Any

from kubetrainer.hardware.quantity import parse_quantity
from kubetrainer.records import parse_ts
from kubetrainer.redact_keys import KeyBlock
from kubetrainer.sources.base import emit, emit_line
from kubetrainer.sources.render import RENDERERS, render_event

NEVER_READ = frozenset({"Secret"})
TERMINATION_LINES = 80  # the kubelet keeps at most 80 lines (or 2048 bytes) of a FallbackToLogsOnError message
FINISHED_PHASES = frozenset({"Succeeded", "Failed"})  # pods a ResourceQuota no longer counts
_TIME_KEYS = ("lastTransitionTime", "startedAt", "finishedAt", "lastProbeTime", "lastHeartbeatTime", "startTime", "completionTime")


def _times(value: Any) -> list[str]:
    if isinstance(value, dict):
        found = [v for k, v in value.items() if k in _TIME_KEYS and isinstance(v, str)]
        for nested in value.values():
            found += _times(nested)
        return found
    if isinstance(value, list):
        return [t for item in value for t in _times(item)]
    return []


def observed_at(obj: dict) -> str | None:
    """The newest status timestamp: when what the summary says last changed."""
    stamps = _times(obj.get("status", {})) + [obj.get("metadata", {}).get("creationTimestamp") or ""]
    parsed = []
    for stamp in stamps:
        try:
            parsed.append((parse_ts(stamp), stamp))
        except ValueError:
            continue
    return max(parsed)[1] if parsed else None


def object_record(obj: dict, source: str) -> dict | None:
    """A rendered-status `object` record, or None for kinds we do not render (and never for Secrets)."""
    kind = obj.get("kind", "")
    renderer = RENDERERS.get(kind)
    if kind in NEVER_READ or renderer is None:
        return None
    meta = obj.get("metadata", {})
    summary = renderer(obj)
    node = meta.get("name") if kind == "Node" else obj.get("spec", {}).get("nodeName")
    return emit(
        "object",
        observed_at(obj) or "1970-01-01T00:00:00Z",
        source,
        summary,
        namespace=meta.get("namespace"),
        node=node,
        pod=meta.get("name") if kind == "Pod" else None,
        object={"apiVersion": obj.get("apiVersion", "v1"), "kind": kind, "name": meta.get("name", ""),
                "namespace": meta.get("namespace"), "uid": meta.get("uid"), "summary": summary,
                **({"quota": usage} if kind == "Pod" and (usage := quota_usage(obj)) else {})},
        labels=meta.get("labels") or None,
    )


def quota_usage(pod: dict) -> dict[str, float]:
    """What a running or pending pod holds of its namespace's ResourceQuota, in the quota's own names
    (`pods`: 1, `requests.cpu` in cores, `requests.memory` in bytes, `limits.nvidia.com/gpu`...); {} for a
    finished pod.

    Kept out of the rendered summary on purpose (every pod has requests; a question about memory or CPU
    should not pull in every pod): only the quota rule reads it, to say who holds an exhausted quota. The
    effective value is the larger of the app containers' sum and the largest init container, as the
    API server counts it; unparseable quantities are skipped.
    """
    if (pod.get("status") or {}).get("phase") in FINISHED_PHASES:
        return {}
    spec = pod.get("spec") or {}
    usage: dict[str, float] = {"pods": 1.0}
    for bound in ("requests", "limits"):
        app = _summed(spec.get("containers") or [], bound)
        for init in spec.get("initContainers") or []:
            for resource, value in _summed([init], bound).items():
                app[resource] = max(app.get(resource, 0.0), value)
        usage.update({f"{bound}.{resource}": value for resource, value in app.items()})
    return usage


def _summed(containers: list[dict], bound: str) -> dict[str, float]:
    total: dict[str, float] = {}
    for container in containers:
        for resource, quantity in ((container.get("resources") or {}).get(bound) or {}).items():
            try:
                total[resource] = total.get(resource, 0.0) + parse_quantity(quantity)
            except ValueError:
                continue
    return total


def event_record(event: dict, source: str) -> dict:
    """An `event` record keeping the involved object's kind, namespace and name with reason and message."""
    involved = event.get("involvedObject") or event.get("regarding") or {}
    meta = event.get("metadata", {})
    stamp = event.get("lastTimestamp") or event.get("eventTime") or meta.get("creationTimestamp") or "1970-01-01T00:00:00Z"
    reporter = (event.get("source") or {}).get("host")
    host = involved.get("name") if involved.get("kind") == "Node" else reporter
    labels = {
        "reason": event.get("reason") or "",
        "type": event.get("type") or "Normal",
        "involved_kind": involved.get("kind") or "",
        "involved_name": involved.get("name") or "",
    }
    if event.get("firstTimestamp"):
        labels["first_seen"] = event["firstTimestamp"]
    # who reported it: `source.component` (core/v1), `reportingComponent`/`reportingController` (events.k8s.io/v1)
    component = ((event.get("source") or {}).get("component") or event.get("reportingComponent")
                 or event.get("reportingController"))
    if component:
        labels["component"] = component
    return emit(
        "event",
        stamp,
        source,
        render_event(event),
        namespace=involved.get("namespace") or meta.get("namespace"),
        node=host or None,
        pod=involved.get("name") if involved.get("kind") == "Pod" else None,
        labels=labels,
    )


def records_from_list(document: dict, source: str) -> list[dict]:
    """Records from a List (PodList, EventList...) or a single object."""
    items = document.get("items") if "items" in document else [document]
    records = []
    for item in items or []:
        if not isinstance(item, dict):
            continue
        if item.get("kind") == "Event" or (document.get("kind") == "EventList" and "involvedObject" in item):
            records.append(event_record(item, source))
        else:
            if "kind" not in item and document.get("kind", "").endswith("List"):
                item = {**item, "kind": document["kind"][: -len("List")]}
            record = object_record(item, source)
            if record:
                records.append(record)
            if item.get("kind") == "Pod":
                records += previous_run_records(item, source)
    return records


def previous_run_records(pod: dict, source: str) -> list[dict]:
    """Log records from the termination messages of containers that failed and now run again.

    The kubelet keeps the end of a failed run's log in `lastState.terminated.message`
    (terminationMessagePolicy FallbackToLogsOnError, or what the program wrote to
    /dev/termination-log). A dump's logs are the current run's, so for a container
    running again this is the only record of why it failed. A waiting or terminated
    container's logs already are that run's, so its message would repeat them.
    """
    meta, spec = pod.get("metadata", {}), pod.get("spec", {})
    status = pod.get("status", {})
    records = []
    for container in [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]:
        ended = ((container.get("lastState") or {}).get("terminated") or {})
        if "running" not in (container.get("state") or {}) or not str(ended.get("message") or "").strip():
            continue
        block = KeyBlock()
        for line in str(ended["message"]).splitlines()[-TERMINATION_LINES:]:
            if line.strip():
                records.append(emit_line(block, "log", ended.get("finishedAt") or observed_at(pod) or "1970-01-01T00:00:00Z",
                                         source, line, namespace=meta.get("namespace"), node=spec.get("nodeName"),
                                         pod=meta.get("name"), container=container.get("name"),
                                         labels={"run": "previous"}))
    return records
