"""How to decode one request, and the defaults that suit small models when they answer.

Small models (SmolLM2 135M, a LoRA on it) loop when decoded greedily: the same clause
again and again until the token budget runs out. Answers (phrasing a diagnosis, the
eval's answers) are therefore decoded with a repetition guard on by default: no
repeated 4-grams and a repetition penalty of 1.15 (`answer_params`). The OpenAI routes
keep the request's own parameters (no guard unless the client asks for one with
`frequency_penalty` / `presence_penalty`), because a client that sends them expects
exactly what it asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

NO_REPEAT_NGRAM = 4
REPETITION_PENALTY = 1.15


@dataclass(frozen=True)
class SamplingParams:
    """How to decode one prompt.

    temperature 0 is greedy; above 0, tokens are drawn (top-p when below 1) from the
    request's own random generator seeded by `seed` (None: a fresh seed). `top_logprobs`
    None means no log-probabilities at all. `frequency_penalty` and `presence_penalty`
    are OpenAI's (subtracted from a token's logit per earlier occurrence in the
    completion, and once if it occurred at all); `repetition_penalty` (scales down the
    logit of every token already in prompt or completion, 1.0 = off) and `no_repeat_ngram_size`
    (0 = off) are the guard small models need. An engine that cannot honour a parameter
    refuses the request rather than ignoring it.
    """

    max_new_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    top_logprobs: int | None = None
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    repetition_penalty: float = 1.0
    no_repeat_ngram_size: int = 0


def answer_params(max_new_tokens: int, **overrides: Any) -> SamplingParams:
    """Greedy with the repetition guard: what answers are decoded with unless told otherwise."""
    defaults: dict[str, Any] = {"temperature": 0.0, "repetition_penalty": REPETITION_PENALTY,
                                "no_repeat_ngram_size": NO_REPEAT_NGRAM}
    return SamplingParams(max_new_tokens=max_new_tokens, **{**defaults, **overrides})
