"""The answer engine: retrieve, match the question to findings, compose, let the model phrase, guard.

Used by `kubetrainer ask`, the server's RAG chat, the MCP ask tool, evaluation and the
quickstart, so all of them give the same answer to the same question.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from kubetrainer.answer.compose import (
    compose,
    nothing_found,
    order,
    quote,
    with_compared,
    with_listeners,
    with_passages,
    with_unflagged,
)
from kubetrainer.answer.contrast import compared_nodes
from kubetrainer.answer.guard import Verdict, check
from kubetrainer.answer.listeners import listeners
from kubetrainer.answer.match import chosen, rank_findings
from kubetrainer.answer.passages import Passage, passages
from kubetrainer.answer.phrase import Phraser, phrasing_messages
from kubetrainer.answer.sources import Sources
from kubetrainer.answer.timeline import asks_what_changed, compose_changes, in_scope
from kubetrainer.answer.unflagged import unflagged
from kubetrainer.diagnose.changes import Change
from kubetrainer.diagnose.finding import Finding
from kubetrainer.diagnose.store import read_changes
from kubetrainer.rag.prompt import describe_source
from kubetrainer.rag.retriever import Hit

CLOSEST_SHOWN = 3


@dataclass
class Answer:
    question: str
    text: str
    # model (its phrasing passed the guard) | diagnosis (the composed answer) | changes (what changed) | none
    answered_by: str
    sources: list[Hit] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    # quoted after the diagnosis, as data: the compared nodes, the status of named objects without findings, what
    # listens on a port the question names, then retrieved lines
    passages: list[Passage] = field(default_factory=list)
    model_text: str | None = None
    verdict: Verdict | None = None
    seconds: float = 0.0

    def citation_lines(self) -> list[str]:
        return [f"[{number}] {describe_source(hit.source)}" for number, hit in enumerate(self.sources, start=1)]

    def sources_json(self) -> list[dict[str, Any]]:
        return [{"number": number, **hit.to_json()} for number, hit in enumerate(self.sources, start=1)]

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.text,
            "answered_by": self.answered_by,
            "findings": [finding.to_json() for finding in self.findings],
            "data_lines": [{"line": passage.line, "source": passage.hit.source} for passage in self.passages],
            "model_text": self.model_text,
            "guard": self.verdict.to_json() if self.verdict else None,
            "seconds": round(self.seconds, 3),
            "citations": self.sources_json(),
        }


def _in_scope(namespace: str | None, node: str | None, filters: dict | None) -> bool:
    if not filters:
        return True
    for key, value in (("namespace", namespace), ("node", node)):
        wanted = filters.get(key)
        if wanted and value not in ([wanted] if isinstance(wanted, str) else wanted):
            return False
    return True


def _with_model(
    question: str, composed_text: str, findings: list[Finding], sources: Sources, phraser: Phraser
) -> tuple[str, Verdict]:
    model_text = phraser(phrasing_messages(question, composed_text))
    given = "\n".join([question, composed_text, *(hit.text for hit in sources.listed)])
    return model_text, check(model_text, findings, sources, given)


def _with_retrieved(question: str, text: str, sources: Sources, findings: list[Finding]) -> tuple[str, list[Passage]]:
    """`text` with the status of the objects the question names that no finding is about, what listens on the port
    it names, then the retrieved lines on the question it does not quote yet, and those lines; every retrieved hit
    listed."""
    named = unflagged(question, sources.chunks, findings)
    text = with_unflagged(text, named, sources)
    listening = listeners(question, sources.chunks)
    text = with_listeners(text, listening, sources)
    sources.add_retrieved()
    found = passages(question, sources.hits, text, quote)
    return with_passages(text, found, sources), [*named, *listening, *found]


class AnswerEngine:
    """Answers questions over one index (its retriever, and the findings and changes stored with it).

    `changes` defaults to those stored in the retriever's index directory (none for a retriever without one).
    """

    def __init__(self, retriever: Any, findings: list[Finding], phraser: Phraser | None = None, top_k: int = 5,
                 changes: list[Change] | None = None) -> None:
        self.retriever = retriever
        self.findings = findings
        self.phraser = phraser
        self.top_k = top_k
        directory = getattr(retriever, "directory", None)
        self.changes = changes if changes is not None else read_changes(directory) if directory else []

    def answer(self, question: str, filters: dict | None = None, top_k: int | None = None) -> Answer:
        started = time.perf_counter()
        hits = self.retriever.search(question, top_k=top_k or self.top_k, filters=filters)
        findings = [finding for finding in self.findings if _in_scope(finding.namespace, finding.node, filters)]
        matches = rank_findings(question, hits, findings, self.retriever.embedder.embed)
        picked = order(chosen(matches), self.findings)
        sources = Sources(hits, self.retriever.chunks)
        allowed = [change for change in self.changes if _in_scope(change.namespace, change.evidence.node, filters)]
        known = {name for finding in findings for name in (finding.namespace, finding.name)}
        before = [item for finding in picked[:2] for item in finding.changes]
        changed = in_scope(question, allowed, known, before) if asks_what_changed(question) else []
        if changed:
            text = compose_changes(changed, picked[:2], sources)
            sources.add_retrieved()
            return Answer(question, text, "changes", sources.listed, picked[:2], seconds=time.perf_counter() - started)
        if not picked:
            closest = nothing_found([match.finding for match in matches[:CLOSEST_SHOWN]], sources)
            text, found = _with_retrieved(question, closest, sources, findings)
            return Answer(question, text, "none", sources.listed, [], found, seconds=time.perf_counter() - started)
        composed = compose(picked, sources)
        compared = compared_nodes(picked[0], sources.chunks)
        text, found = _with_retrieved(question, with_compared(composed.text, compared, sources), sources, findings)
        answer = Answer(question, text, "diagnosis", sources.listed, picked, [*compared, *found])
        if self.phraser is not None:
            answer.model_text, answer.verdict = _with_model(question, composed.text, picked, sources, self.phraser)
            if answer.verdict.accepted:
                evidence = text[text.index("Evidence:") :]
                answer.text, answer.answered_by = f"{answer.model_text.strip()}\n\n{evidence}", "model"
        answer.seconds = time.perf_counter() - started
        return answer
