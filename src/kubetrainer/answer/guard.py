"""Accept a model's phrasing only when it is grounded: the cause stated, citations real, nothing invented, no loops.

The model phrases, it never decides. Its text replaces the composed answer only if
every check passes; each failed check is reported by name, so `--json` shows why a
phrasing was refused.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from kubetrainer.answer.sources import Sources
from kubetrainer.diagnose.finding import Finding

CITATION = re.compile(r"\[(\d+)\]")
# Names as Kubernetes writes them: lower-case words joined by - or . (pods, images, hosts, nodes).
OBJECT_NAME = re.compile(r"\b[a-z0-9]+(?:[-.][a-z0-9]+){2,}\b|\b[a-z]+[0-9]*-[a-z0-9]+\b")
NGRAM = 4
MIN_DISTINCT_NGRAMS = 0.5
MAX_SENTENCE_REPEATS = 3
MIN_LENGTH = 20


@dataclass
class Verdict:
    accepted: bool
    failures: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"accepted": self.accepted, "failures": self.failures}


def loops(text: str) -> bool:
    """Degenerate output: most of its word 4-grams are repeats, or one sentence is said three times or more.

    Quoting a log line twice (in the cause and as evidence) is not a loop; "The above
    answers are correct." four times, or `v1.2.0-v1.2.0-v1.2.0...`, is.
    """
    words = re.findall(r"\w+", text.lower())
    grams = [tuple(words[i:i + NGRAM]) for i in range(len(words) - NGRAM + 1)]
    if len(grams) >= 2 * NGRAM and len(set(grams)) < MIN_DISTINCT_NGRAMS * len(grams):
        return True
    sentences = Counter(s.strip().lower() for s in re.split(r"(?<=[.!?])\s+", text) if len(s.strip()) > 12)
    return bool(sentences) and max(sentences.values()) >= MAX_SENTENCE_REPEATS


def invented_names(text: str, allowed_text: str) -> list[str]:
    """Object-like names in `text` that appear nowhere in what the model was given."""
    allowed = allowed_text.lower()
    return sorted({name for name in OBJECT_NAME.findall(text.lower()) if name not in allowed})


def check(text: str, findings: Sequence[Finding], sources: Sources, given: str) -> Verdict:
    """Whether `text` may stand as the answer for `findings` (lead first); `given` is everything the model saw."""
    failures = []
    lead = findings[0]
    if len(text.strip()) < MIN_LENGTH:
        failures.append("empty")
    if loops(text):
        failures.append("repetition")
    lowered = text.lower()
    if not any(term.lower() in lowered for term in lead.terms):
        failures.append("cause not stated")
    numbers = [int(n) for n in CITATION.findall(text)]
    if not numbers:
        failures.append("no citation")
    evidence = [item.text for finding in findings for item in finding.lines]
    for number in numbers:
        if not any(sources.holds(number, line) for line in evidence):
            failures.append(f"citation [{number}] holds no evidence")
    if numbers and not any(sources.holds(number, item.text) for number in numbers for item in lead.evidence):
        failures.append("the cause's evidence is not cited")
    invented = invented_names(text, given)
    if invented:
        failures.append(f"names not in the sources: {', '.join(invented[:3])}")
    return Verdict(not failures, failures)
