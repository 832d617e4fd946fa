"""On-call answers scored by what they say: the expected facts, citations that hold evidence, no loops.

`kubetrainer eval --answers QUESTIONS.jsonl --index DIR` asks every question through the
answer engine (`kubetrainer.answer`, the same one `ask` and the server use) and scores:

- fact accuracy: the share of each question's expected facts the answer states
  (`|`-separated alternatives, case-insensitive), averaged over questions;
- cause with citation: the share of questions whose answer states every fact *and* cites
  a source that holds the question's expected evidence (the named object's, or the same line of
  another replica of its ReplicaSet);
- citation precision: the share of `[n]` marks that point at a source holding evidence of
  the findings the answer is built on, or the retrieved line it quotes (for answers with citations);
- degenerate rate: answers that loop (`answer.guard.loops`) or are empty;
- latency: seconds per answer, median and p90.

Questions about one incident (their `incident` field) are one conversation, asked in file order: a follow-up that
names no object ("what is different about the new revision?") is asked after the questions before it, as an on-call
engineer asks them in a chat (`AnswerEngine.answer`'s `earlier`).

Variants: `diagnosis` (the composed answer, no model), `<model>+rag` (the model phrases,
the guard decides), and `<model>` alone (the question, no cluster data), so the report
shows what retrieval, diagnosis and tuning each add.
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubetrainer.answer.engine import Answer, AnswerEngine
from kubetrainer.answer.guard import loops
from kubetrainer.answer.sources import normalized
from kubetrainer.diagnose.rollouts import POD_OF_REPLICASET
from kubetrainer.evaluate.facts import states

CITATION = re.compile(r"\[(\d+)\]")


def same_replicaset(expected: str, cited: str) -> bool:
    """Whether two pod names are replicas of one ReplicaSet (`<deployment>-<hash>-<suffix>`): the pods of one
    template log the same lines, so a question's author naming one replica does not make the sibling's identical
    line wrong evidence. Job pods are not replicas in this sense: each attempt can fail differently."""
    first, second = POD_OF_REPLICASET.match(expected), POD_OF_REPLICASET.match(cited)
    return bool(first and second) and first.group("deployment", "hash") == second.group("deployment", "hash")


def _about(item: dict, source: dict, body: str) -> bool:
    name = (source.get("source") or {}).get("name") or ""
    return item["name"] in name or item["name"] in body or same_replicaset(item["name"], name)


def cites_expected_evidence(text: str, sources: Sequence[dict], evidence: Sequence[dict]) -> bool:
    """Whether some `[n]` in `text` points at a source about an expected object (or a replica of the same
    ReplicaSet) that contains its phrase."""
    for number in {int(n) for n in CITATION.findall(text)}:
        if not 1 <= number <= len(sources):
            continue
        source = sources[number - 1]
        body = normalized(source.get("text", "")).lower()
        # the phrase is compared as the source is, whitespace runs collapsed (`Unseal Progress    0/3` in a table)
        if any(normalized(item["contains"]).lower() in body and _about(item, source, body) for item in evidence):
            return True
    return False


def citation_precision(text: str, sources: Sequence[dict], evidence_lines: Sequence[str]) -> tuple[int, int]:
    """(citations whose source holds one of `evidence_lines`, all citations) in `text`."""
    numbers = [int(n) for n in CITATION.findall(text)]
    lines = [normalized(line) for line in evidence_lines]
    good = 0
    for number in numbers:
        if 1 <= number <= len(sources):
            body = normalized(sources[number - 1].get("text", ""))
            good += any(line and line in body for line in lines)
    return good, len(numbers)


@dataclass
class Scored:
    """One question's answer in one variant, with its scores."""

    id: str
    question: str
    answer: str
    answered_by: str
    facts: dict[str, bool]
    cause_cited: bool
    citations: tuple[int, int]
    degenerate: bool
    seconds: float
    sources: list[dict] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "question": self.question, "answer": self.answer, "answered_by": self.answered_by,
                "facts": self.facts, "cause_cited": self.cause_cited, "citations_holding_evidence": self.citations[0],
                "citations": self.citations[1], "degenerate": self.degenerate, "seconds": round(self.seconds, 3)}


def score(question: dict, text: str, answered_by: str, sources: list[dict], evidence_lines: Sequence[str],
          seconds: float) -> Scored:
    facts = {fact: states(text, fact) for fact in question.get("facts") or ()}
    cited = all(facts.values()) and bool(facts) and cites_expected_evidence(text, sources, question["evidence"])
    return Scored(question["id"], question["question"], text, answered_by, facts, cited,
                  citation_precision(text, sources, evidence_lines), loops(text) or not text.strip(), seconds, sources)


def score_engine_answer(question: dict, answer: Answer) -> Scored:
    sources = answer.sources_json()
    lines = [item.text for finding in answer.findings for item in finding.lines]
    lines += [passage.line for passage in answer.passages]  # a retrieved line's mark points at the source holding it
    return score(question, answer.text, answer.answered_by, sources, lines, answer.seconds)


def summarize(name: str, rows: Sequence[Scored]) -> dict[str, Any]:
    seconds = sorted(row.seconds for row in rows)
    good = sum(row.citations[0] for row in rows)
    total = sum(row.citations[1] for row in rows)
    with_facts = [row for row in rows if row.facts]
    return {
        "variant": name,
        "questions": len(rows),
        "fact_accuracy": statistics.fmean(sum(row.facts.values()) / len(row.facts) for row in with_facts) if with_facts else None,
        "cause_with_citation": sum(row.cause_cited for row in rows) / len(rows) if rows else None,
        "citation_precision": good / total if total else None,
        "degenerate_rate": sum(row.degenerate for row in rows) / len(rows) if rows else None,
        "model_phrasing_accepted": sum(row.answered_by == "model" for row in rows) / len(rows) if rows else None,
        "latency_median_s": statistics.median(seconds) if seconds else None,
        "latency_p90_s": seconds[min(len(seconds) - 1, int(0.9 * len(seconds)))] if seconds else None,
    }


def conversations(questions: Sequence[dict]) -> list[tuple[dict, list[str]]]:
    """Each question with the earlier questions of its conversation, oldest first: those before it in the file
    about the same incident (its `incident` field); none for a question without one."""
    asked: dict[str, list[str]] = {}
    paired = []
    for question in questions:
        incident = question.get("incident")
        earlier = asked.setdefault(incident, []) if incident else []
        paired.append((question, list(earlier)))
        earlier.append(question["question"])
    return paired


def run_engine(name: str, engine: AnswerEngine, questions: Sequence[dict],
               advance: Callable[[], None] = lambda: None) -> tuple[dict[str, Any], list[Scored]]:
    rows = []
    for question, earlier in conversations(questions):
        rows.append(score_engine_answer(question, engine.answer(question["question"], earlier=earlier)))
        advance()
    return summarize(name, rows), rows


def run_model_alone(name: str, generate: Callable[[list[dict[str, str]]], str], questions: Sequence[dict],
                    advance: Callable[[], None] = lambda: None) -> tuple[dict[str, Any], list[Scored]]:
    """The model answering from the question alone (after the earlier questions of its conversation): what it knows
    without the cluster's data."""
    rows = []
    for question, earlier in conversations(questions):
        started = time.perf_counter()
        text = generate([{"role": "user", "content": "\n".join([*earlier, question["question"]])}])
        rows.append(score(question, text, "model", [], [], time.perf_counter() - started))
        advance()
    return summarize(name, rows), rows


@dataclass(frozen=True)
class AnswerEvalSettings:
    max_new_tokens: int = 64
    top_k: int = 5
    model_questions: int | None = None  # how many questions the model variants answer (generation is the slow part)


def evaluate_answers(questions: Sequence[dict], engine: AnswerEngine, candidates: Sequence[Any],
                     settings: AnswerEvalSettings, track: Callable[[str, int], Callable[[], None]]) -> dict[str, Any]:
    """`diagnosis` on every question; for each candidate model, `<role>+rag` (phrasing, guarded) and `<role>` alone."""
    from kubetrainer.answer.phrase import hf_phraser

    summary, rows = run_engine("diagnosis", engine, questions, track("diagnosis: answering", len(questions)))
    variants, answers = [summary], {"diagnosis": rows}
    subset = list(questions[: settings.model_questions] if settings.model_questions else questions)
    for candidate in candidates:
        with candidate.active() as model:
            phraser = hf_phraser(model, candidate.tokenizer, settings.max_new_tokens)
            phrased = AnswerEngine(engine.retriever, engine.findings, phraser, settings.top_k)
            with_rag = f"{candidate.role}+rag"
            for name, (summary, rows) in (
                (with_rag, run_engine(with_rag, phrased, subset, track(f"{with_rag}: answering", len(subset)))),
                (candidate.role, run_model_alone(candidate.role, phraser, subset, track(f"{candidate.role}: answering", len(subset)))),
            ):
                variants.append({**summary, "model": candidate.ref})
                answers[name] = rows
    return {"variants": variants, "answers": {name: [row.to_json() for row in rows] for name, rows in answers.items()}}
