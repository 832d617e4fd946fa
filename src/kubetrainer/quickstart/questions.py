"""The quickstart's on-call questions, taken from the sample cluster with their known evidence."""

from __future__ import annotations

from typing import Any

from kubetrainer.quickstart.plan import QUESTION_IDS, SAMPLE_SEED


def quickstart_questions(limit: int) -> list[dict[str, Any]]:
    """The first `limit` of QUESTION_IDS as `{id, question, answer, evidence, facts}` (no files written)."""
    from kubetrainer.samples.cluster import build_cluster

    by_id = {question.id: question.to_json() for question in build_cluster(seed=SAMPLE_SEED).questions}
    return [by_id[key] for key in QUESTION_IDS[:limit]]
