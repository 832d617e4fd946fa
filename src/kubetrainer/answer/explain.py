"""`diagnose --explain`: the model phrases each finding, under the same guard as answers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kubetrainer.answer.compose import compose
from kubetrainer.answer.guard import check
from kubetrainer.answer.phrase import hf_phraser, phrasing_messages
from kubetrainer.answer.sources import Sources
from kubetrainer.diagnose.finding import Finding

QUESTION = "What is wrong, and what should I do?"


def explain_findings(findings: Sequence[Finding], model: Any, tokenizer: Any) -> dict[str, str]:
    """Finding id -> the model's explanation, for the findings whose explanation passed the guard."""
    phraser = hf_phraser(model, tokenizer)
    accepted = {}
    for finding in findings:
        sources = Sources([])
        composed = compose([finding], sources)
        text = phraser(phrasing_messages(QUESTION, composed.text))
        if check(text, [finding], sources, f"{QUESTION}\n{composed.text}").accepted:
            accepted[finding.id] = text
    return accepted
