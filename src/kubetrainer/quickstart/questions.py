"""The quickstart's on-call questions, taken from the sample cluster with their known evidence."""

from __future__ import annotations

from typing import Any

from kubetrainer.quickstart.plan import QUESTION_IDS, SAMPLE_SEED


def quickstart_questions(limit: int) -> list[dict[str, Any]]:
    """The first `limit` of QUESTION_IDS as `{id, question, answer, evidence}` (no files written)."""
    from kubetrainer.samples.cluster import build_cluster

    by_id = {question.id: question.to_json() for question in build_cluster(seed=SAMPLE_SEED).questions}
    return [by_id[key] for key in QUESTION_IDS[:limit]]


def cites_evidence(sources: list[dict[str, Any]], evidence: list[dict[str, Any]]) -> bool:
    """Whether any cited source names an object the question's evidence names."""
    wanted = {(item.get("namespace"), item.get("name")) for item in evidence}
    for source in sources:
        name = source.get("name") or source.get("pod") or ""
        for namespace, evidence_name in wanted:
            if evidence_name and evidence_name in name and (namespace is None or source.get("namespace") == namespace):
                return True
    return False
