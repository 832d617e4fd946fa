"""Top-p for the llama.cpp engine: the partial sort keeps exactly the set a full sort keeps."""

from __future__ import annotations

import numpy as np
import pytest

from kubetrainer.generation.llamacpp import NUCLEUS_CANDIDATES, _nucleus


def full_sort_nucleus(probabilities: np.ndarray, top_p: float) -> np.ndarray:
    order = np.argsort(-probabilities)
    ranked = probabilities[order]
    kept = np.zeros_like(probabilities)
    inside = order[np.cumsum(ranked) - ranked < top_p]
    kept[inside] = probabilities[inside]
    return kept / kept.sum()


@pytest.mark.parametrize("sharpness", [0.1, 1.0, 8.0])  # flat (falls back to the full sort) to peaked (partial)
@pytest.mark.parametrize("top_p", [0.5, 0.9, 0.99])
def test_nucleus_matches_a_full_sort(sharpness: float, top_p: float) -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(size=4 * NUCLEUS_CANDIDATES) * sharpness
    probabilities = np.exp(logits - logits.max())
    probabilities /= probabilities.sum()
    kept = _nucleus(probabilities, top_p)
    np.testing.assert_allclose(kept, full_sort_nucleus(probabilities, top_p))
    assert kept.sum() == pytest.approx(1.0) and (kept > 0).sum() >= 1


def test_nucleus_keeps_the_likeliest_token_even_when_it_alone_exceeds_top_p() -> None:
    probabilities = np.full(1000, 0.05 / 999)
    probabilities[17] = 0.95
    kept = _nucleus(probabilities, 0.9)
    assert kept[17] == 1.0 and kept.sum() == 1.0
