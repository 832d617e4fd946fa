"""Sliding-window perplexity: the windows cover every token once, and the number is right."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from kubetrainer.evaluate.perplexity import perplexity, windows

TEXT = "The node gpu-a100-0 reported Xid 79: the GPU has fallen off the bus. " * 3


@given(st.integers(0, 300), st.integers(2, 64), st.data())
def test_windows_score_every_token_once_with_context(n_tokens: int, window: int, data: st.DataObject) -> None:
    stride = data.draw(st.integers(1, window))
    spans = windows(n_tokens, window, stride)
    scored = [token for span in spans for token in range(span.score_from, span.end)]
    assert scored == list(range(1, n_tokens))
    for span in spans:
        assert span.end - span.begin <= window
        assert span.begin < span.score_from < span.end  # at least one token of context


def test_windows_reject_bad_sizes() -> None:
    with pytest.raises(ValueError, match="window"):
        windows(10, 1, 1)
    with pytest.raises(ValueError, match="stride"):
        windows(10, 4, 5)


def _reference_nll(model, ids: torch.Tensor) -> tuple[float, int]:
    """The plain way: one forward pass over the whole text with HF's own shifted loss."""
    with torch.no_grad():
        loss = model(input_ids=ids.unsqueeze(0), labels=ids.unsqueeze(0)).loss
    return float(loss) * (len(ids) - 1), len(ids) - 1


def test_single_window_matches_the_models_own_loss(tiny_lm) -> None:
    model, tokenizer = tiny_lm
    ids = tokenizer(TEXT, return_tensors="pt")["input_ids"][0]
    assert len(ids) <= 256
    nll, count = _reference_nll(model, ids)
    result = perplexity(model, tokenizer, [TEXT], window=256, stride=64)
    assert result.tokens == count
    assert result.perplexity == pytest.approx(math.exp(nll / count), rel=1e-4)


def test_sliding_window_differs_only_by_lost_context(tiny_lm) -> None:
    model, tokenizer = tiny_lm
    full = perplexity(model, tokenizer, [TEXT], window=256, stride=64)
    sliding = perplexity(model, tokenizer, [TEXT], window=16, stride=8)
    assert sliding.tokens == full.tokens
    assert sliding.perplexity != pytest.approx(full.perplexity, rel=1e-6)  # less context, another number
    assert 1.0 < sliding.perplexity < 10 * len(tokenizer)


def test_texts_are_weighted_by_their_length(tiny_lm) -> None:
    model, tokenizer = tiny_lm
    short, long = "Pod OOMKilled.", TEXT
    each = [perplexity(model, tokenizer, [text], window=256) for text in (short, long)]
    both = perplexity(model, tokenizer, [short, long], window=256)
    assert both.tokens == sum(part.tokens for part in each)
    assert both.nll_sum == pytest.approx(sum(part.nll_sum for part in each), rel=1e-5)


def test_no_scorable_tokens_is_an_error(tiny_lm) -> None:
    model, tokenizer = tiny_lm
    with pytest.raises(ValueError, match="no tokens"):
        perplexity(model, tokenizer, [""], window=16)
