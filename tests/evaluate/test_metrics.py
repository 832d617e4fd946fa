"""QA metrics against the SQuAD script's behaviour and rouge-score's definition."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubetrainer.evaluate.metrics import exact_match, normalize_answer, rouge_l, score_answers, token_f1


def test_normalisation_drops_case_punctuation_articles() -> None:
    assert normalize_answer("The  Node, is NotReady!") == "node is notready"
    assert normalize_answer("an apple a day") == "apple day"


def test_exact_match_ignores_normalised_differences() -> None:
    assert exact_match("The GPU fell off the bus.", "gpu fell off bus") == 1.0
    assert exact_match("GPU fell off", "gpu fell off bus") == 0.0


def test_token_f1_partial_overlap() -> None:
    # prediction "gpu fell off" vs reference "gpu fell off bus": precision 1, recall 3/4
    assert token_f1("GPU fell off", "the GPU fell off the bus") == pytest.approx(2 * 0.75 / 1.75)
    assert token_f1("completely different", "gpu fell off") == 0.0
    assert token_f1("", "") == 1.0 and token_f1("", "x") == 0.0


def test_token_f1_counts_repeated_tokens_once_each() -> None:
    # SQuAD uses multiset overlap: "oom oom" vs "oom" shares one token
    assert token_f1("oom oom", "oom") == pytest.approx(2 * 0.5 * 1 / 1.5)


def test_rouge_l_uses_longest_common_subsequence() -> None:
    assert rouge_l("pod was killed", "pod was killed") == pytest.approx(1.0)
    # LCS of "pod killed restarted" and "pod was killed" is "pod killed": P=R=2/3
    assert rouge_l("pod killed restarted", "pod was killed") == pytest.approx(2 / 3)
    assert rouge_l("xyz", "pod was killed") == 0.0


def test_score_answers_takes_best_reference_and_averages() -> None:
    scores = score_answers(["node is notready", "wrong"], [["NotReady node", "the node is NotReady"], ["right"]])
    assert scores["exact_match"] == pytest.approx(0.5)
    assert scores["count"] == 2
    assert 0.5 <= scores["f1"] <= 1.0


def test_score_answers_rejects_misaligned_inputs() -> None:
    with pytest.raises(ValueError, match="2 predictions for 1"):
        score_answers(["a", "b"], [["a"]])
    with pytest.raises(ValueError, match="no questions"):
        score_answers([], [])


@given(st.text(max_size=40), st.text(max_size=40))
def test_metrics_are_bounded_and_exact_match_implies_full_f1(prediction: str, reference: str) -> None:
    f1 = token_f1(prediction, reference)
    assert 0.0 <= f1 <= 1.0
    if exact_match(prediction, reference):
        assert f1 == 1.0
    assert token_f1(prediction, reference) == pytest.approx(token_f1(reference, prediction))
