"""One finding phrased by a model under the answer guard: `diagnose --explain`, and a distillation teacher.

The finding is composed on its own (its evidence cited as numbered sources), the model is given
the phrasing prompt the answer engine uses, and its text counts only when the guard accepts it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kubetrainer.answer.compose import Composed, compose
from kubetrainer.answer.guard import Verdict, check
from kubetrainer.answer.phrase import Phraser, phrasing_messages
from kubetrainer.answer.sources import Sources
from kubetrainer.diagnose.finding import Finding

QUESTION = "What is wrong, and what should I do?"


@dataclass
class Phrasing:
    composed: Composed  # the finding alone, composed: what the model was asked to phrase
    prompt: list[dict[str, str]]
    text: str  # the model's reply
    verdict: Verdict


def phrase_finding(finding: Finding, question: str, phraser: Phraser) -> Phrasing:
    """The model's phrasing of `finding` as the answer to `question`, with the guard's verdict on it."""
    sources = Sources([])
    composed = compose([finding], sources)
    prompt = phrasing_messages(question, composed.text)
    text = phraser(prompt)
    return Phrasing(composed, prompt, text, check(text, [finding], sources, f"{question}\n{composed.text}"))


def explain_findings(findings: Sequence[Finding], phraser: Phraser) -> dict[str, str]:
    """Finding id -> the model's explanation, for the findings whose explanation passed the guard."""
    phrasings = {finding.id: phrase_finding(finding, QUESTION, phraser) for finding in findings}
    return {key: phrasing.text for key, phrasing in phrasings.items() if phrasing.verdict.accepted}
