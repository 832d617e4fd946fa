"""How many completion tokens a request gets, refused the way OpenAI refuses it when it cannot fit.

The one piece of generation that is the HTTP server's own: the decoding itself is the
generation engine's (`generation.hf`, through `LoadedModel.engine`).
"""

from __future__ import annotations

from kubetrainer.generation.engine import Engine
from kubetrainer.serve.errors import APIError


def fit_budget(engine: Engine, prompt_tokens: int, max_new_tokens: int, requested: str | None = None) -> int:
    """The completion tokens to generate: the context must hold the prompt and, when the client asked for a
    number (`requested` names its field), that number too; a number the server chose is cut to fit.

    A request beyond the context is refused as OpenAI refuses it (400 context_length_exceeded)
    rather than quietly answered with fewer tokens than asked for.
    """
    if prompt_tokens == 0:
        raise APIError(400, "the prompt is empty; nothing to continue from", param="prompt", code="invalid_value")
    context = engine.context_length
    room = context - prompt_tokens
    if room < 0 or (room == 0 and max_new_tokens > 0):
        raise APIError(400, f"This model's maximum context length is {context} tokens, "
                            f"but the prompt has {prompt_tokens}", param="messages", code="context_length_exceeded")
    if requested and max_new_tokens > room:
        raise APIError(400, f"This model's maximum context length is {context} tokens. However, you "
                            f"requested {prompt_tokens + max_new_tokens} tokens ({prompt_tokens} in the prompt, {max_new_tokens} "
                            f"in the completion). Please reduce the length of the prompt or {requested}.",
                       param=requested, code="context_length_exceeded")
    return min(max_new_tokens, room)
