"""The OpenAI response shapes, built from plain values (no I/O, no model)."""

from __future__ import annotations

import math
import time
import uuid
from typing import Any

from kubetrainer.generation.engine import Generation, TokenLogprob

FINGERPRINT = "kubetrainer"


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


def _chat_logprobs(logprobs: list[TokenLogprob]) -> dict[str, Any]:
    def entry(token: str, logprob: float) -> dict[str, Any]:
        return {"token": token, "logprob": logprob, "bytes": list(token.encode("utf-8"))}

    return {"content": [{**entry(item.token, item.logprob), "top_logprobs": [entry(t, lp) for t, lp in item.top]}
                        for item in logprobs], "refusal": None}


def chat_response(model: str, generation: Generation, content: str, sources: list[dict] | None) -> dict[str, Any]:
    """A `chat.completion` object; `sources` is our extra field (clients ignore it)."""
    choice = {"index": 0, "message": {"role": "assistant", "content": content, "refusal": None},
              "logprobs": _chat_logprobs(generation.logprobs) if generation.logprobs is not None else None,
              "finish_reason": generation.finish_reason}
    body: dict[str, Any] = {"id": new_id("chatcmpl"), "object": "chat.completion", "created": int(time.time()),
                            "model": model, "system_fingerprint": FINGERPRINT, "choices": [choice],
                            "usage": usage(generation.prompt_tokens, generation.completion_tokens)}
    if sources is not None:
        body["sources"] = sources
    return body


def chat_chunk(chunk_id: str, created: int, model: str, delta: dict[str, Any], finish_reason: str | None,
               **extra: Any) -> dict[str, Any]:
    """One `chat.completion.chunk` of a stream."""
    return {"id": chunk_id, "object": "chat.completion.chunk", "created": created, "model": model,
            "system_fingerprint": FINGERPRINT,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}], **extra}


def completion_logprobs(items: list[TokenLogprob], start_offset: int = 0) -> dict[str, Any]:
    """The legacy completions `logprobs` object: tokens, token_logprobs, top_logprobs, text_offset."""
    tokens, token_logprobs, top_logprobs, offsets = [], [], [], []
    offset = start_offset
    for item in items:
        tokens.append(item.token)
        token_logprobs.append(None if math.isnan(item.logprob) else item.logprob)
        top_logprobs.append(dict(item.top) if item.top else None)
        offsets.append(offset)
        offset += len(item.token)
    return {"tokens": tokens, "token_logprobs": token_logprobs, "top_logprobs": top_logprobs, "text_offset": offsets}


def completion_response(model: str, choices: list[dict[str, Any]], prompt_tokens: int,
                        completion_tokens: int) -> dict[str, Any]:
    return {"id": new_id("cmpl"), "object": "text_completion", "created": int(time.time()), "model": model,
            "system_fingerprint": FINGERPRINT, "choices": choices, "usage": usage(prompt_tokens, completion_tokens)}


def completion_chunk(chunk_id: str, created: int, model: str, text: str, finish_reason: str | None) -> dict[str, Any]:
    return {"id": chunk_id, "object": "text_completion", "created": created, "model": model,
            "system_fingerprint": FINGERPRINT,
            "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": finish_reason}]}


def model_list(model_ids: list[str], created: int) -> dict[str, Any]:
    return {"object": "list",
            "data": [{"id": model_id, "object": "model", "created": created, "owned_by": "kubetrainer", "parent": None}
                     for model_id in model_ids]}
