"""One alert investigated: the findings in its scope, the answer engine's cited summary, the events before it.

`investigate` is the whole investigation over an open index (its retriever and the
findings stored with it), with no I/O of its own, so the server, the CLI and the tests
all produce the same investigation for the same alert. The lifecycle (`opened`,
`refreshed`, `closed`) is pure data in, data out: Alertmanager re-sends an alert on
every group interval, and a re-sent alert must update its investigation, not add one.

Everything that came from outside (labels, annotations) or will be shown elsewhere (the
summary) is redacted here, once, so the store, the API and the Slack post all hold the
redacted text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from kubetrainer.answer.engine import AnswerEngine
from kubetrainer.diagnose.finding import Finding
from kubetrainer.investigate.alerts import Alert
from kubetrainer.investigate.scope import Scope, resolve, scope_of, select
from kubetrainer.rag.chunk import Chunk
from kubetrainer.records import parse_ts
from kubetrainer.redact import redact_text

OPEN, CLOSED = "open", "closed"
CONTEXT_WINDOW = timedelta(hours=1)  # events and logs this long before the alert started
CONTEXT_HITS = 6
Phraser = Callable[[list[dict[str, str]]], str]


def _stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@dataclass
class Investigation:
    fingerprint: str
    alert: str  # the alertname
    status: str  # open | closed
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: str
    scope: dict[str, Any]
    summary: str  # the answer engine's text, with [n] marks resolving to `citations`
    answered_by: str  # model | diagnosis | none, as the answer engine says
    citations: list[dict[str, Any]]
    findings: list[dict[str, Any]]  # finding JSON plus `role`: named (by the alert's labels) | neighbour
    context: list[dict[str, Any]]  # events and logs of the window before the alert
    window: dict[str, str]  # since, until (and `note` when the index ends before the alert)
    opened_at: str
    updated_at: str
    ends_at: str | None = None
    closed_at: str | None = None
    received: int = 1  # how many times Alertmanager sent this alert while it was open
    generator_url: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The stored fields, plus `objects` and `cause` as tables and the dashboard show them."""
        return {**asdict(self), "objects": self.objects(), "cause": self.cause()}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Investigation:
        return cls(**{key: value[key] for key in cls.__dataclass_fields__ if key in value})

    def cause(self) -> str:
        """The first line of the summary: the direct sentence saying what is wrong."""
        return self.summary.strip().splitlines()[0] if self.summary.strip() else ""

    def objects(self) -> str:
        """`pod feature-extractor-1, node gpu-3`: what the alert names, for a table or a chat message."""
        return ", ".join(f"{key} {value}" for key, value in self.scope.items() if isinstance(value, str)) or "cluster"

    def with_sources(self, show: Callable[[dict[str, Any]], dict[str, Any]]) -> Investigation:
        """The same investigation with each citation and context hit passed through `show` (the server hides paths)."""
        return replace(self, citations=[show(hit) for hit in self.citations], context=[show(hit) for hit in self.context])


def question_for(alert: Alert, scope: Scope) -> str:
    """The question an on-call engineer would ask about the alert, naming its objects for the answer engine."""
    headline = alert.headline().rstrip(".")
    return f"Why is {alert.name} firing for {scope.describe()}? {headline}."


def context_window(starts_at: datetime, chunks: Sequence[Chunk]) -> dict[str, str]:
    """The hour before the alert started, or before the index's newest record if the index ends earlier.

    An index is a snapshot: when it was built before the alert fired, its last hour is the
    closest view of what led up to it, and the window says so.
    """
    ends = [parse_ts(chunk.ts_end) for chunk in chunks if chunk.ts_end]
    newest = max(ends, default=starts_at)
    until = min(starts_at, newest)
    window = {"since": _stamp(until - CONTEXT_WINDOW), "until": _stamp(until)}
    if until < starts_at:
        window["note"] = f"the index ends at {_stamp(newest)}, before the alert started"
    return window


def _redacted(values: dict[str, str]) -> dict[str, str]:
    return {key: redact_text(value)[0] for key, value in values.items()}


def investigate(alert: Alert, retriever: Any, findings: Sequence[Finding], now: datetime, *,
                phraser: Phraser | None = None, top_k: int = 5) -> Investigation:
    """Investigate `alert` over an index: scope its labels, pick findings, ask the answer engine, gather context."""
    scope = resolve(scope_of(alert.labels), findings)
    named, neighbours = select(findings, scope)
    question = question_for(alert, scope)
    answer = AnswerEngine(retriever, [*named, *neighbours], phraser, top_k).answer(question, filters=scope.filters())
    window = context_window(alert.starts_at, retriever.chunks)
    hits = retriever.search(question, top_k=CONTEXT_HITS, filters={
        **scope.context_filters(), "kind": ["event", "log"], "since": window["since"], "until": window["until"]})
    stamp = _stamp(now)
    return Investigation(
        fingerprint=alert.fingerprint,
        alert=alert.name,
        status=OPEN if alert.firing else CLOSED,
        labels=_redacted(alert.labels),
        annotations=_redacted(alert.annotations),
        starts_at=_stamp(alert.starts_at),
        scope=scope.to_json(),
        summary=redact_text(answer.text)[0],
        answered_by=answer.answered_by,
        citations=answer.sources_json(),
        findings=[{**finding.to_json(), "role": role} for role, group in (("named", named), ("neighbour", neighbours))
                  for finding in group],
        context=[hit.to_json() for hit in hits],
        window=window,
        opened_at=stamp,
        updated_at=stamp,
        ends_at=_stamp(alert.ends_at) if alert.ends_at else None,
        closed_at=None if alert.firing else stamp,
        generator_url=alert.generator_url,
    )


def refreshed(held: Investigation, fresh: Investigation) -> Investigation:
    """A re-sent (or re-fired) alert: the fresh investigation, keeping when it was first opened and counting it."""
    return replace(fresh, opened_at=held.opened_at, received=held.received + 1)


def closed(held: Investigation, alert: Alert, now: datetime) -> Investigation:
    """A resolved alert closes its investigation; what it found stays."""
    ended = alert.ends_at or now
    return replace(held, status=CLOSED, ends_at=_stamp(ended), closed_at=_stamp(now), updated_at=_stamp(now))


@dataclass
class Outcome:
    """What one alert of a notification did: opened, updated, closed, or nothing (`unknown` resolved alert)."""

    fingerprint: str
    alert: str
    action: str  # opened | updated | closed | unknown
    investigation: Investigation | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        body = {"fingerprint": self.fingerprint, "alert": self.alert, "action": self.action}
        if self.investigation is not None:
            body |= {"status": self.investigation.status, "summary": self.investigation.summary}
        return body


def receive(held: Investigation | None, alert: Alert, run: Callable[[], Investigation], now: datetime) -> Outcome:
    """What one received alert does to the investigation held for its fingerprint (`run` investigates it afresh)."""
    if not alert.firing:
        if held is None:
            return Outcome(alert.fingerprint, alert.name, "unknown")
        return Outcome(alert.fingerprint, alert.name, "closed", closed(held, alert, now))
    if held is None:
        return Outcome(alert.fingerprint, alert.name, "opened", run())
    return Outcome(alert.fingerprint, alert.name, "updated", refreshed(held, run()))
