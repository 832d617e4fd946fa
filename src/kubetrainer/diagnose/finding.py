"""A finding: one thing that is wrong with one object, its cause in plain words, and the lines that prove it.

Findings are plain data so they can be written next to an index, sent over the API,
rendered as a table, and turned into training targets without the rules that made them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from kubetrainer.diagnose.knowledge import SEVERITY_ORDER
from kubetrainer.records import record_id


@dataclass(frozen=True)
class Evidence:
    """One verbatim line (or status fragment) and the record it came from."""

    text: str
    kind: str  # the record kind: log | event | object | gpu | metric
    namespace: str | None = None
    name: str | None = None  # the object the record is about (pod, node, claim...)
    container: str | None = None
    node: str | None = None
    ts: str | None = None
    record: str | None = None  # the record id
    about: str | None = None  # what the line names only by id, resolved: `by pod shop/web-7d9f-x2` for a pod uid
    since: str | None = None  # a repeated event's first occurrence (its firstTimestamp; `ts` is its last)

    def to_json(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value is not None}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Evidence:
        return cls(**{key: value.get(key) for key in cls.__dataclass_fields__})


# The fields of a Finding that hold quoted lines (`Evidence`), written and read as lists of objects.
LINE_LISTS = ("evidence", "changes", "startup", "elsewhere", "before", "succeeded", "settings")


@dataclass
class Finding:
    """What is wrong (`cause`), why it matters (`meaning`), what to do (`fix`), and the proof (`evidence`).

    `terms`: words any correct statement of the cause contains (at least one), which the
    answer guard checks a model's text against. `related`: ids of findings this one
    explains or is explained by (pod -> node -> GPU, pending pod -> claim). `changes`: what
    changed shortly before it nearby (a scale-up, a rollout, a preemption), stated as such,
    never as its cause. `startup`: what the program (and the previous version still serving)
    reported as it started that bears on the failure (`diagnose.startup`); `before`: the last lines it logged before
    its first failure, what it was doing, and `succeeded` the last time before that it reported the failing
    operation done (an upload, a save: what a resume or a retry starts from) (`diagnose.startup`); `settings`: its container's env settings, from its
    pod's status record (`diagnose.settings`). `addressed`: the pods and
    Services (`namespace/name`) its evidence names by IP, such as a proxy's upstream (`diagnose.addresses`).
    `elsewhere`: lines of other objects naming an id its evidence names (`diagnose.identifiers`).
    """

    rule: str
    severity: str
    kind: str
    namespace: str | None
    name: str
    cause: str
    meaning: str
    fix: str
    terms: tuple[str, ...]
    evidence: list[Evidence] = field(default_factory=list)
    node: str | None = None
    container: str | None = None
    gpu: str | None = None
    count: int = 1  # how many times the evidence was seen
    related: list[str] = field(default_factory=list)
    changes: list[Evidence] = field(default_factory=list)
    startup: list[Evidence] = field(default_factory=list)
    addressed: list[str] = field(default_factory=list)
    elsewhere: list[Evidence] = field(default_factory=list)
    before: list[Evidence] = field(default_factory=list)
    succeeded: list[Evidence] = field(default_factory=list)
    settings: list[Evidence] = field(default_factory=list)

    @property
    def id(self) -> str:
        return record_id(
            "finding", self.rule, self.kind, self.namespace or "", self.name, self.container or "", self.gpu or ""
        )[:16]

    @property
    def subject(self) -> str:
        """`Pod web/api-1 on node cpu-3`, `Node gpu-3`: how the object is named in answers and tables."""
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        on = f" on node {self.node}" if self.node and self.kind == "Pod" else ""
        return f"{self.kind} {where}{on}"

    @property
    def description(self) -> str:
        """The text a question is compared with: what is wrong, what it means, and its first evidence line (the
        index embeds it next to its chunks, so answering a question does not)."""
        first = f" {self.evidence[0].text}" if self.evidence else ""
        return f"{self.subject}: {self.cause}. {self.meaning}.{first}"

    @property
    def lines(self) -> list[Evidence]:
        """Every line the finding may quote: its evidence, what changed before it, what it reported at start and just
        before it failed, when it last did what failed, its settings, and what other objects said about the ids it names."""
        return [*self.evidence, *self.changes, *self.startup, *self.before, *self.succeeded, *self.settings,
                *self.elsewhere]

    def sort_key(self) -> tuple:
        return (SEVERITY_ORDER.get(self.severity, 9), self.kind, self.namespace or "", self.name, self.rule)

    def add_evidence(self, item: Evidence, limit: int = 4) -> None:
        if all(existing.text != item.text for existing in self.evidence) and len(self.evidence) < limit:
            self.evidence.append(item)

    def to_json(self) -> dict[str, Any]:
        body = asdict(self)
        body["terms"] = list(self.terms)
        body.update({key: [item.to_json() for item in getattr(self, key)] for key in LINE_LISTS})
        return {"id": self.id, **body}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Finding:
        fields = {key: value.get(key) for key in cls.__dataclass_fields__ if key in value}
        fields["terms"] = tuple(value.get("terms") or ())
        fields.update({key: [Evidence.from_json(item) for item in value.get(key) or []] for key in LINE_LISTS})
        fields["related"] = list(value.get("related") or [])
        return cls(**fields)
