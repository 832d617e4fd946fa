"""Retrieval quality against questions whose evidence is known: recall@k, MRR, nDCG@k.

A questions file is JSONL: `{"id", "question", "evidence": [{"namespace", "name",
"contains"}], ...}` (the sample cluster writes one). A hit is evidence when it
is about the named object (its source namespace and name) and its text contains
the phrase, case-insensitively; so any chunking can be scored, one line per
chunk or folded windows alike.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from kubetrainer.errors import UserError


class Searchable(Protocol):
    def search(self, text: str, top_k: int = 5) -> list[Any]: ...


def load_questions(path: Path) -> list[dict]:
    """Questions with evidence; a malformed line is a UserError naming path:line."""
    path = Path(path)
    if not path.is_file():
        raise UserError("questions file not found", where=path, expected="a JSONL file of {id, question, evidence}")
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as error:
            raise UserError(f"invalid JSON ({error.msg})", where=f"{path}:{number}") from None
        evidence = item.get("evidence") if isinstance(item, dict) else None
        if not isinstance(item, dict) or not isinstance(item.get("question"), str) or not evidence or not all(isinstance(e, dict) and e.get("name") and e.get("contains") for e in evidence):
            raise UserError("not a question with evidence", where=f"{path}:{number}", expected='{"question": str, "evidence": [{"namespace", "name", "contains"}]}')
        questions.append({"id": item.get("id", f"line-{number}"), **item})
    if not questions:
        raise UserError("no questions", where=path)
    return questions


def matches(evidence: dict, source: dict, text: str) -> bool:
    if evidence.get("namespace") and source.get("namespace") != evidence["namespace"]:
        return False
    return source.get("name") == evidence["name"] and evidence["contains"].lower() in text.lower()


def score_question(question: dict, hits: Sequence[Any], ks: Sequence[int]) -> dict:
    """recall@k, reciprocal rank and nDCG@k for one question's ranked hits."""
    evidence = question["evidence"]
    credited: set[int] = set()
    gains = []
    first_rank = None
    found_by_rank = []  # evidence items credited within the first r hits
    for rank, hit in enumerate(hits, start=1):
        found = {i for i, item in enumerate(evidence) if matches(item, hit.source, hit.text)}
        if found and first_rank is None:
            first_rank = rank
        new = found - credited
        gains.append(1.0 if new else 0.0)
        credited |= new
        found_by_rank.append(len(credited))
    result: dict[str, Any] = {"id": question["id"], "first_relevant_rank": first_rank, "rr": 1.0 / first_rank if first_rank else 0.0}
    for k in ks:
        seen = found_by_rank[min(k, len(found_by_rank)) - 1] if found_by_rank else 0
        result[f"recall@{k}"] = seen / len(evidence)
        dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains[:k]))
        ideal = sum(1.0 / math.log2(i + 2) for i in range(min(k, len(evidence))))
        result[f"ndcg@{k}"] = dcg / ideal if ideal else 0.0
    return result


def retrieval_metrics(questions_path: Path, retriever: Searchable, ks: Sequence[int] = (1, 5, 10)) -> dict:
    """Mean recall@k, MRR and nDCG@k over the questions, plus the per-question scores."""
    questions = load_questions(questions_path)
    per_question = [score_question(q, retriever.search(q["question"], top_k=max(ks)), ks) for q in questions]
    summary: dict[str, Any] = {"questions": len(per_question), "mrr": sum(q["rr"] for q in per_question) / len(per_question)}
    for k in ks:
        summary[f"recall@{k}"] = sum(q[f"recall@{k}"] for q in per_question) / len(per_question)
        summary[f"ndcg@{k}"] = sum(q[f"ndcg@{k}"] for q in per_question) / len(per_question)
    summary["per_question"] = per_question
    return summary
