"""Investigations over the sample cluster's index: cause and citations, the window before the alert,
the lifecycle (opened, updated, closed) in the store, its bound, and redaction of what came from outside."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kubetrainer.investigate.alerts import Alert, parse_any
from kubetrainer.investigate.investigation import CLOSED, OPEN, Investigation, context_window, investigate
from kubetrainer.investigate.store import InvestigationStore, pruned
from kubetrainer.rag.chunk import Chunk

NOW = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
SECRET = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"


def crash_alert(pod: str, status: str = "firing", fingerprint: str = "a1b2c3d4e5f60718", **annotations: str) -> Alert:
    return parse_any({"fingerprint": fingerprint, "status": status, "startsAt": "2026-03-14T12:00:00Z",
                      "labels": {"alertname": "KubePodCrashLooping", "namespace": "ml-training", "pod": pod,
                                 "container": "app", "job": "kube-state-metrics", "severity": "warning"},
                      "annotations": {"summary": "The feature extractor keeps restarting.", **annotations}})[0]


def test_the_investigation_names_the_cause_and_cites_the_lines_that_prove_it(sample_index, retriever) -> None:
    pod = sample_index.oom_pod
    found = investigate(crash_alert(pod.name), retriever, sample_index.findings, NOW)
    assert found.status == OPEN and found.answered_by == "diagnosis"
    assert "OOMKilled" in found.cause() and pod.name in found.cause()
    cited = {int(number) for number in re.findall(r"\[(\d+)\]", found.summary)}
    assert cited and cited <= {hit["number"] for hit in found.citations}
    by_number = {hit["number"]: hit for hit in found.citations}
    quotes = re.findall(r'^- "(.+)" \[(\d+)\]$', found.summary, re.MULTILINE)
    assert quotes and all(text in by_number[int(number)]["text"] for text, number in quotes)
    roles = {(f["rule"], f["name"]): f["role"] for f in found.findings}
    assert roles[("oom-killed", pod.name)] == "named"
    assert roles[("replicas-short", "feature-extractor")] == "neighbour"  # the Deployment short of its replica
    # the pod's own events and logs from the hour before the alert
    assert found.window == {"since": "2026-03-14T10:59:00Z", "until": "2026-03-14T11:59:00Z",
                            "note": "the index ends at 2026-03-14T11:59:00Z, before the alert started"}
    assert found.context and {hit["source"]["name"] for hit in found.context} == {pod.name}
    assert {hit["source"]["kind"] for hit in found.context} <= {"event", "log"}
    assert Investigation.from_json(found.to_json()) == found


def test_the_window_is_the_hour_before_the_alert_when_the_index_reaches_it() -> None:
    chunks = [Chunk("x", "log", ts_start="2026-12-01T04:00:00Z", ts_end="2026-12-01T05:59:00Z")]
    assert context_window(datetime(2026, 12, 1, 5, 30, tzinfo=UTC), chunks) == {
        "since": "2026-12-01T04:30:00Z", "until": "2026-12-01T05:30:00Z"}


def test_resent_alerts_update_resolved_close_and_unknown_resolved_do_nothing(sample_index, retriever,
                                                                           tmp_path: Path) -> None:
    store = InvestigationStore(tmp_path / "investigations", limit=10)
    pod = sample_index.oom_pod.name
    runs = []

    def receive(alert: Alert, at: datetime):
        def run() -> Investigation:
            runs.append(alert.fingerprint)
            return investigate(alert, retriever, sample_index.findings, at)
        return store.receive(alert, run, at)

    assert receive(crash_alert(pod), NOW).action == "opened"
    later = NOW + timedelta(minutes=5)
    updated = receive(crash_alert(pod), later)
    assert updated.action == "updated" and updated.investigation.received == 2
    (held,) = store.all()
    assert held.opened_at == "2026-12-01T06:00:00Z" and held.updated_at == "2026-12-01T06:05:00Z"
    assert receive(crash_alert(pod, status="resolved"), later + timedelta(minutes=1)).action == "closed"
    (held,) = store.all()
    assert held.status == CLOSED and held.closed_at == "2026-12-01T06:06:00Z" and "OOMKilled" in held.summary
    assert store.all(OPEN) == [] and store.all(CLOSED) == [held]
    assert receive(crash_alert(pod, status="resolved", fingerprint="ffff"), later).action == "unknown"
    assert runs == ["a1b2c3d4e5f60718"] * 2  # closing does not re-investigate
    assert sorted(path.name for path in store.directory.iterdir()) == ["a1b2c3d4e5f60718.json"]  # no temp files


def test_the_store_is_bounded_closed_ones_go_first(sample_index, retriever, tmp_path: Path) -> None:
    store = InvestigationStore(tmp_path, limit=2)
    pod = sample_index.oom_pod.name
    done = investigate(crash_alert(pod), retriever, sample_index.findings, NOW)
    for number, fingerprint in enumerate(("aa", "bb", "cc")):
        store.receive(crash_alert(pod, fingerprint=fingerprint), lambda f=fingerprint: _as(done, f),
                      NOW + timedelta(minutes=number))
    store.receive(crash_alert(pod, status="resolved", fingerprint="cc"), lambda: done, NOW + timedelta(minutes=9))
    store.receive(crash_alert(pod, fingerprint="dd"), lambda: _as(done, "dd"), NOW + timedelta(minutes=10))
    assert sorted(item.fingerprint for item in store.all()) == ["bb", "dd"]  # cc closed, then aa oldest
    items = [_as(done, name) for name in "abc"]
    items[1].status = CLOSED
    assert [item.fingerprint for item in pruned(items, 1)] == ["b", "a"]


def _as(done: Investigation, fingerprint: str) -> Investigation:
    return Investigation.from_json({**done.to_json(), "fingerprint": fingerprint})


def test_what_came_from_outside_is_redacted(sample_index, retriever) -> None:
    alert = crash_alert(sample_index.oom_pod.name, description=f"debug with token {SECRET}")
    found = investigate(alert, retriever, sample_index.findings, NOW)
    assert SECRET not in str(found.to_json()) and "[REDACTED:github_token]" in found.annotations["description"]
