"""The answer engine: retrieve, match the question to findings, compose, let the model phrase, guard.

Used by `kubetrainer ask`, the server's RAG chat, the MCP ask tool, evaluation and the
quickstart, so all of them give the same answer to the same question.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
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
from kubetrainer.answer.match import Match, chosen, names_an_object, rank_findings
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


def subject(question: str, earlier: Sequence[str], findings: Sequence[Finding]) -> str:
    """What to look for: the question, and when it names no object of the findings, the latest earlier question of
    the conversation that does (else the latest) before it, as a person reads a follow-up."""
    if not earlier or names_an_object(question, findings):
        return question
    before = next((text for text in reversed(earlier) if names_an_object(text, findings)), earlier[-1])
    return f"{before}\n{question}"


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

    def answer(self, question: str, filters: dict | None = None, top_k: int | None = None,
               earlier: Sequence[str] = ()) -> Answer:
        """The answer to `question`; `earlier`: the conversation's earlier questions, oldest first, whose subject a
        follow-up that names no object of its own is about ("what is different about the new revision?")."""
        started = time.perf_counter()
        findings = [finding for finding in self.findings if _in_scope(finding.namespace, finding.node, filters)]
        about, hits, matches = self._matched(question, earlier, findings, filters, top_k or self.top_k)
        picked = order(chosen(matches), self.findings)
        sources = Sources(hits, self.retriever.chunks)
        allowed = [change for change in self.changes if _in_scope(change.namespace, change.evidence.node, filters)]
        known = {name for finding in findings for name in (finding.namespace, finding.name)}
        changed = in_scope(about, allowed, known, picked[:2]) if asks_what_changed(question) else []
        if changed:
            text = compose_changes(changed, picked[:2], sources)
            sources.add_retrieved()
            return Answer(question, text, "changes", sources.listed, picked[:2], seconds=time.perf_counter() - started)
        if not picked:
            closest = nothing_found([match.finding for match in matches[:CLOSEST_SHOWN]], sources)
            text, found = _with_retrieved(about, closest, sources, findings)
            return Answer(question, text, "none", sources.listed, [], found, seconds=time.perf_counter() - started)
        composed = compose(picked, sources)
        compared = compared_nodes(picked[0], sources.chunks)
        text, found = _with_retrieved(about, with_compared(composed.text, compared, sources), sources, findings)
        answer = Answer(question, text, "diagnosis", sources.listed, picked, [*compared, *found])
        if self.phraser is not None:
            answer.model_text, answer.verdict = _with_model(question, composed.text, picked, sources, self.phraser)
            if answer.verdict.accepted:
                evidence = text[text.index("Evidence:") :]
                answer.text, answer.answered_by = f"{answer.model_text.strip()}\n\n{evidence}", "model"
        answer.seconds = time.perf_counter() - started
        return answer

    def _matched(self, question: str, earlier: Sequence[str], findings: list[Finding], filters: dict | None,
                 top_k: int) -> tuple[str, list[Hit], list[Match]]:
        """What the question is about (`subject`), the hits retrieved for it and the findings ranked by it. A
        follow-up's own best finding stands when it is related to the conversation's (the DNS cache behind a
        client's failed lookups: "is it our DNS?"); otherwise the conversation's subject decides."""
        about = subject(question, earlier, findings)
        hits = self.retriever.search(about, top_k=top_k, filters=filters)
        matches = rank_findings(about, hits, findings, self.retriever.embedder.embed)
        if about == question:
            return about, hits, matches
        own_hits = self.retriever.search(question, top_k=top_k, filters=filters)
        own = rank_findings(question, own_hits, findings, self.retriever.embedder.embed)
        own_best, best = chosen(own)[:1], chosen(matches)[:1]
        if own_best and best and (own_best[0].id in best[0].related or own_best[0].id == best[0].id):
            return question, own_hits, own
        return about, hits, matches
