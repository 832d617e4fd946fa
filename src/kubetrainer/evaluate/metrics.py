"""Question-answering metrics: exact match, token F1 (SQuAD normalisation) and ROUGE-L.

Exact match and F1 follow the official SQuAD v1.1 evaluation script, so our numbers
compare with published ones; ROUGE-L comes from Google's `rouge-score` package.
A prediction may be scored against several acceptable references: the best one counts.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """Lower case, drop punctuation and English articles, collapse whitespace (SQuAD)."""
    lowered = text.lower()
    no_punctuation = "".join(char for char in lowered if char not in _PUNCTUATION)
    no_articles = _ARTICLES.sub(" ", no_punctuation)
    return " ".join(no_articles.split())


def exact_match(prediction: str, reference: str) -> float:
    """1.0 when the normalised strings are identical, else 0.0."""
    return float(normalize_answer(prediction) == normalize_answer(reference))


def token_f1(prediction: str, reference: str) -> float:
    """Harmonic mean of token precision and recall over normalised bags of words.

    Two empty answers agree (1.0); one empty answer against a non-empty one scores 0.0,
    as in SQuAD v2's script.
    """
    predicted = normalize_answer(prediction).split()
    expected = normalize_answer(reference).split()
    if not predicted or not expected:
        return float(predicted == expected)
    common = Counter(predicted) & Counter(expected)
    overlap = sum(common.values())
    if overlap == 0:
        return 0.0
    precision = overlap / len(predicted)
    recall = overlap / len(expected)
    return 2 * precision * recall / (precision + recall)


@lru_cache(maxsize=1)
def _rouge_scorer():  # building the scorer loads the stemmer; do it once
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F-measure (longest common subsequence, Porter-stemmed tokens)."""
    return float(_rouge_scorer().score(reference, prediction)["rougeL"].fmeasure)


def best_over_references(metric, prediction: str, references: Sequence[str]) -> float:
    """The metric against the most favourable reference (SQuAD's multi-answer rule)."""
    if not references:
        raise ValueError("a question needs at least one reference answer")
    return max(metric(prediction, reference) for reference in references)


QA_METRICS = {"exact_match": exact_match, "f1": token_f1, "rouge_l": rouge_l}


def score_answers(predictions: Sequence[str], references: Sequence[Sequence[str]]) -> dict[str, float]:
    """Mean exact match, token F1 and ROUGE-L over aligned predictions and references."""
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} questions")
    if not predictions:
        raise ValueError("no questions to score")
    totals = {
        name: sum(best_over_references(metric, prediction, refs) for prediction, refs in zip(predictions, references))
        for name, metric in QA_METRICS.items()
    }
    return {name: total / len(predictions) for name, total in totals.items()} | {"count": len(predictions)}
