"""Perplexity on held-out text with a sliding window, as in Hugging Face's perplexity guide.

A text longer than the model's context is scored in overlapping windows: each window
starts `stride` tokens after the previous one and only its tokens not scored before
count, so every token is predicted once and (with stride < window) with up to
`window - stride` tokens of context. Texts are scored separately (no context leaks
from one held-out example into the next) and the negative log-likelihood is summed
over all predicted tokens before exponentiating, so long texts weigh by their length.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Window:
    """Tokens [begin, end) go through the model; those from `score_from` on are scored."""

    begin: int
    end: int
    score_from: int


def windows(n_tokens: int, window: int, stride: int) -> list[Window]:
    """The sliding windows over a sequence of n_tokens; every token after the first is scored once.

    The first token has no context, so it is never predicted (as in the HF guide).
    """
    if window < 2:
        raise ValueError(f"window must be at least 2 tokens, got {window}")
    if not 1 <= stride <= window:
        raise ValueError(f"stride must be between 1 and the window ({window}), got {stride}")
    spans: list[Window] = []
    scored_until = 1  # token 0 is context only
    begin = 0
    while scored_until < n_tokens:
        end = min(begin + window, n_tokens)
        spans.append(Window(begin=begin, end=end, score_from=scored_until))
        scored_until = end
        # keep at least one token of context, so the window's first scored token has a prediction
        begin = min(begin + stride, end - 1)
    return spans


@dataclass(frozen=True)
class Perplexity:
    perplexity: float
    nll_sum: float
    tokens: int

    def to_json(self) -> dict:
        return {"perplexity": self.perplexity, "mean_nll": self.nll_sum / self.tokens, "tokens": self.tokens}


def context_length(model, default: int = 1024) -> int:
    """The model's context window from its config (the names differ by architecture)."""
    config = getattr(model, "config", None)
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 1:
            return value
    return default


def perplexity(
    model,
    tokenizer,
    texts: Sequence[str],
    *,
    window: int | None = None,
    stride: int | None = None,
    on_text: Callable[[], None] | None = None,
) -> Perplexity:
    """Perplexity of `model` over `texts`; window defaults to the context (at most 1024), stride to half of it."""
    import torch

    window = window or min(context_length(model), 1024)
    stride = stride or max(1, window // 2)
    device = next(model.parameters()).device
    nll_sum = 0.0
    tokens = 0
    model.eval()
    with torch.no_grad():
        for text in texts:
            # a chat template usually writes the BOS token itself: do not add a second one
            bos = getattr(tokenizer, "bos_token", None)
            add_special = not (bos and text.startswith(bos))
            ids = tokenizer(text, return_tensors="pt", add_special_tokens=add_special)["input_ids"][0].to(device)
            for span in windows(len(ids), window, stride):
                chunk = ids[span.begin : span.end].unsqueeze(0)
                logits = model(input_ids=chunk).logits[0, :-1].float()
                targets = chunk[0, 1:]
                log_probs = torch.log_softmax(logits, dim=-1).gather(1, targets.unsqueeze(1)).squeeze(1)
                first = span.score_from - span.begin - 1  # logits[i] predicts token begin+i+1
                nll_sum -= float(log_probs[first:].sum())
                tokens += len(log_probs) - first
            if on_text:
                on_text()
    if tokens == 0:
        raise ValueError("no tokens to score: every held-out text is shorter than two tokens")
    return Perplexity(perplexity=math.exp(nll_sum / tokens), nll_sum=nll_sum, tokens=tokens)
