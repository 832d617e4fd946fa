"""A model's reply to chat messages, decoded with the answer defaults (`params.answer_params`).

This is what phrasing a diagnosis (`answer.phrase`, `kubetrainer ask --phrase`, the server's
`rag_phrase`, `diagnose --explain`) and the eval's answers run, so the same messages give
the same text from every caller of the same engine.
"""

from __future__ import annotations

from collections.abc import Callable

from kubetrainer.generation.chat import Messages
from kubetrainer.generation.engine import Engine
from kubetrainer.generation.params import answer_params

Responder = Callable[[Messages], str]


def responder(engine: Engine, max_new_tokens: int, *, adapter: str | None = None) -> Responder:
    """The reply to `messages`, stripped: greedy with the repetition guard.

    A prompt that does not fit the context with room for the whole reply gives "" rather
    than a reply to a truncated prompt (a phrasing then leaves the composed answer standing).
    An engine that cannot ban repeated n-grams (vLLM) answers with the repetition penalty alone;
    the answer guard still refuses a reply that loops.
    """
    params = answer_params(max_new_tokens, **({} if engine.bans_repeated_ngrams else {"no_repeat_ngram_size": 0}))

    def respond(messages: Messages) -> str:
        prompt = engine.chat_ids(messages)
        if len(prompt) + max_new_tokens > engine.context_length:
            return ""
        return engine.generate(prompt, params, adapter=adapter).text.strip()

    return respond
