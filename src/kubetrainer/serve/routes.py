"""The OpenAI-compatible routes: chat, completions, embeddings, models."""

from __future__ import annotations

import asyncio
import base64
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from kubetrainer.generation.engine import Generation, TokenStream
from kubetrainer.generation.params import SamplingParams
from kubetrainer.generation.respond import responder
from kubetrainer.serve import answers
from kubetrainer.serve.budget import fit_budget
from kubetrainer.serve.errors import APIError
from kubetrainer.serve.retrieval import answer_sources, citation_footer
from kubetrainer.serve.schemas import ChatRequest, CompletionRequest, EmbeddingRequest, _Sampling
from kubetrainer.serve.state import ServeState, sse

router = APIRouter(prefix="/v1")
DEFAULT_CHAT_TOKENS = 256
DEFAULT_COMPLETION_TOKENS = 16  # OpenAI's default for /v1/completions
PHRASING_TOKENS = 96
CACHE_HEADER = "x-kubetrainer-cache"


def serve_state(request: Request) -> ServeState:
    """The app's state (the caller's key was checked by `access.AccessGate` before any route ran)."""
    return request.app.state.serve


def _params(body: _Sampling, max_new_tokens: int, top_logprobs: int | None) -> SamplingParams:
    """The request's own decoding parameters (OpenAI's defaults where it sent none; no repetition guard)."""
    temperature = 1.0 if body.temperature is None else body.temperature
    return SamplingParams(max_new_tokens=max_new_tokens, temperature=temperature, top_p=body.top_p or 1.0,
                          stop=body.stops(), seed=body.seed, top_logprobs=top_logprobs,
                          frequency_penalty=body.frequency_penalty or 0.0, presence_penalty=body.presence_penalty or 0.0)


def _cacheable(body: _Sampling) -> bool:
    """Only deterministic answers are cached: replaying a sampled one would change its meaning."""
    return not body.stream and (body.temperature == 0 or body.seed is not None)


def _admit(request: Request, body: ChatRequest | CompletionRequest,
           route: str) -> tuple[ServeState, str | None, str | None, JSONResponse | None]:
    """Key check, parameter check, adapter choice, and the cached answer when there is one."""
    state = serve_state(request)
    body.check()
    adapter = state.lm.adapter_for(body.model)
    if not _cacheable(body):
        return state, adapter, None, None
    key = state.answer_key(route, body.model_dump(exclude={"user", "stream", "stream_options"}))
    hit = state.cached_answer(key)
    return state, adapter, key, JSONResponse(hit, headers={CACHE_HEADER: "hit"}) if hit is not None else None


def _fresh(state: ServeState, key: str | None, body: dict[str, Any]) -> JSONResponse:
    if key is not None:
        state.store_answer(key, body)
    return JSONResponse(body, headers={CACHE_HEADER: "miss" if key is not None else "off"})


@router.get("/models")
async def list_models(request: Request) -> dict[str, Any]:
    """The base, every adapter as it is now (`parent`: the base, as vLLM lists its LoRA modules), the embedder."""
    state = serve_state(request)
    lm = state.lm
    served = lm.model_ids
    listing = answers.model_list([*served, state.embeddings.model_id], lm.created)
    for entry in listing["data"][: len(served)]:
        entry["engine"] = lm.engine_name  # which inference engine generates for this id
        entry["parent"] = lm.model_id if entry["id"] != lm.model_id else None
    return listing


@router.post("/chat/completions", response_model=None)
async def chat_completions(body: ChatRequest, request: Request) -> JSONResponse | StreamingResponse:
    arrived = time.monotonic()
    state, adapter, key, hit = _admit(request, body, "chat")
    if hit is not None:
        return hit
    messages = [{"role": "system" if m.role == "developer" else m.role, "content": m.text()} for m in body.messages]
    if state.rag is not None and body.rag and any(m["role"] == "user" for m in messages):
        return await _rag_answer(state, body, key, messages, adapter)
    engine = state.lm.engine
    input_ids = engine.chat_ids(messages)
    field = "max_completion_tokens" if body.max_completion_tokens is not None else "max_tokens"
    max_new = _budget(state, len(input_ids), getattr(body, field), field, DEFAULT_CHAT_TOKENS)
    params = _params(body, max_new, (body.top_logprobs or 0) if body.logprobs else None)
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        stack = await state.hold_slot()
        cancel = threading.Event()
        stream = engine.stream(input_ids, params, adapter=adapter, cancel=cancel)
        events = _chat_events(state, stream, cancel, stack, arrived, body.model, include_usage)
        return StreamingResponse(events, media_type="text/event-stream", headers={"cache-control": "no-cache"})
    generation = await state.run(lambda cancel: engine.generate(input_ids, params, adapter=adapter, cancel=cancel),
                                 request)
    state.record_tokens(generation.prompt_tokens, generation.completion_tokens, time.monotonic() - arrived)
    return _fresh(state, key, answers.chat_response(body.model, generation, generation.text, None))


def _budget(state: ServeState, prompt_tokens: int, asked: int | None, field: str, default: int) -> int:
    """Completion tokens for a request: the number it asked for, refused beyond the server's limit or the model's
    context (OpenAI's answer, where a quiet cut would hide the mistake); without one, `default` cut to fit."""
    limit = state.config.max_new_tokens_limit
    if asked is None:
        return fit_budget(state.lm.engine, prompt_tokens, min(default, limit))
    if asked > limit:
        raise APIError(400, f"{field} is too large: {asked}. This server allows at most {limit} completion tokens.",
                       param=field, code="invalid_value")
    return fit_budget(state.lm.engine, prompt_tokens, asked, requested=field)


def _completion_budget(state: ServeState, body: CompletionRequest, prompt_tokens: int) -> int:
    asked = body.max_tokens if "max_tokens" in body.model_fields_set else None
    return _budget(state, prompt_tokens, asked, "max_tokens", DEFAULT_COMPLETION_TOKENS)


async def _rag_answer(state: ServeState, body: ChatRequest, key: str | None, messages: list[dict[str, str]],
                      adapter: str | None) -> JSONResponse | StreamingResponse:
    """A chat turn answered by the answer engine: the diagnosis decides, the model only phrases (`rag_phrase`)."""
    *earlier, question = [m["content"] for m in messages if m["role"] == "user"]  # a follow-up is about their subject
    # the served model as the answer engine's phrasing step, decoded as every answer is (greedy, repetition guard)
    phraser = responder(state.lm.engine, PHRASING_TOKENS, adapter=adapter) if body.rag_phrase else None
    answer = await asyncio.to_thread(state.rag.answer, question, body.rag_top_k, phraser, earlier)
    sources = answer_sources(answer)
    content = answer.text + citation_footer(sources)
    engine = state.lm.engine
    generation = Generation(content, engine.count_tokens(question), engine.count_tokens(content), "stop")
    extra = {"answered_by": answer.answered_by, "findings": [finding.to_json() for finding in answer.findings]}
    if not body.stream:
        return _fresh(state, key, {**answers.chat_response(body.model, generation, content, sources), **extra})
    chunk_id, created = answers.new_id("chatcmpl"), int(time.time())
    events = [{**answers.chat_chunk(chunk_id, created, body.model, {"role": "assistant", "content": ""}, None),
               "sources": sources, **extra}]
    events += [answers.chat_chunk(chunk_id, created, body.model, {"content": line}, None)
               for line in content.splitlines(keepends=True)]
    events.append(answers.chat_chunk(chunk_id, created, body.model, {}, "stop"))
    if body.stream_options and body.stream_options.include_usage:
        events.append({**events[-1], "choices": [],
                       "usage": answers.usage(generation.prompt_tokens, generation.completion_tokens)})

    async def stream() -> AsyncIterator[str]:
        for event in events:
            yield sse(event)
        yield sse("[DONE]")

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"cache-control": "no-cache"})


async def _events(state: ServeState, stream: TokenStream, cancel: threading.Event, stack: AsyncExitStack,
                  arrived: float, opening: list[dict], chunk: Callable[[str], dict],
                  closing: Callable[[], list[dict]]) -> AsyncIterator[str]:
    """The SSE body of a stream: opening chunks, one chunk per delta, closing chunks, [DONE].

    An error after the headers went out (a timeout) is sent as an error event, as OpenAI does.
    """
    try:
        for event in opening:
            yield sse(event)
        try:
            async for delta in state.deltas(stream, cancel, arrived):
                yield sse(chunk(delta))
        except APIError as error:
            state.metrics.errors.labels(error.code or error.error_type).inc()
            yield sse(error.body())
            return
        for event in closing():
            yield sse(event)
        yield sse("[DONE]")
    finally:
        cancel.set()
        await stack.aclose()


def _chat_events(state: ServeState, stream: TokenStream, cancel: threading.Event, stack: AsyncExitStack,
                 arrived: float, model: str, include_usage: bool) -> AsyncIterator[str]:
    chunk_id, created = answers.new_id("chatcmpl"), int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return answers.chat_chunk(chunk_id, created, model, delta, finish)

    def closing() -> list[dict[str, Any]]:
        events = [chunk({}, stream.finish_reason)]
        if include_usage:
            events.append({**chunk({}), "choices": [], "usage": answers.usage(stream.prompt_tokens, stream.completion_tokens)})
        return events

    opening = [chunk({"role": "assistant", "content": ""})]
    return _events(state, stream, cancel, stack, arrived, opening, lambda delta: chunk({"content": delta}), closing)


def _prompt_ids(state: ServeState, prompt: str | list[int]) -> tuple[list[int], str]:
    engine = state.lm.engine
    if isinstance(prompt, str):
        return engine.encode(prompt), prompt
    if not prompt or any(not 0 <= token < engine.vocab_size for token in prompt):
        raise APIError(400, f"token ids must be in 0..{engine.vocab_size - 1}", param="prompt", code="invalid_value")
    return prompt, engine.decode(prompt)


def _complete_one(state: ServeState, body: CompletionRequest, input_ids: list[int], prompt_text: str,
                  adapter: str | None, cancel: threading.Event) -> tuple[dict[str, Any], Generation]:
    """One choice of a completions request: generation, echo and log-probabilities."""
    max_new = _completion_budget(state, body, len(input_ids))
    params = _params(body, max_new, body.logprobs)
    if max_new:
        generation = state.lm.engine.generate(input_ids, params, adapter=adapter, cancel=cancel)
    else:
        generation = Generation("", len(input_ids), 0, "length", [] if body.logprobs is not None else None)
    echoed = prompt_text if body.echo else ""
    logprobs = None
    if body.logprobs is not None:
        scored = state.lm.engine.prompt_logprobs(input_ids, body.logprobs, adapter=adapter) if body.echo else []
        logprobs = answers.completion_logprobs([*scored, *(generation.logprobs or [])])
    choice = {"text": echoed + generation.text, "index": 0, "logprobs": logprobs, "finish_reason": generation.finish_reason}
    return choice, generation


@router.post("/completions", response_model=None)
async def completions(body: CompletionRequest, request: Request) -> JSONResponse | StreamingResponse:
    arrived = time.monotonic()
    state, adapter, key, hit = _admit(request, body, "completions")
    if hit is not None:
        return hit
    prompts = [_prompt_ids(state, prompt) for prompt in body.prompts()]
    if body.stream:
        if len(prompts) != 1:
            raise APIError(400, "stream: true takes a single prompt", param="prompt", code="invalid_value")
        input_ids = prompts[0][0]
        max_new = _completion_budget(state, body, len(input_ids))
        stack = await state.hold_slot()
        cancel = threading.Event()
        stream = state.lm.engine.stream(input_ids, _params(body, max_new, None), adapter=adapter, cancel=cancel)
        events = _completion_events(state, stream, cancel, stack, arrived, body.model)
        return StreamingResponse(events, media_type="text/event-stream", headers={"cache-control": "no-cache"})
    choices, prompt_tokens, completion_tokens = [], 0, 0
    for index, (input_ids, prompt_text) in enumerate(prompts):
        choice, generation = await state.run(
            lambda cancel, ids=input_ids, text=prompt_text: _complete_one(state, body, ids, text, adapter, cancel),
            request)
        choices.append({**choice, "index": index})
        prompt_tokens += generation.prompt_tokens
        completion_tokens += generation.completion_tokens
    state.record_tokens(prompt_tokens, completion_tokens, time.monotonic() - arrived)
    return _fresh(state, key, answers.completion_response(body.model, choices, prompt_tokens, completion_tokens))


def _completion_events(state: ServeState, stream: TokenStream, cancel: threading.Event, stack: AsyncExitStack,
                       arrived: float, model: str) -> AsyncIterator[str]:
    chunk_id, created = answers.new_id("cmpl"), int(time.time())

    def chunk(text: str, finish: str | None = None) -> dict[str, Any]:
        return answers.completion_chunk(chunk_id, created, model, text, finish)

    return _events(state, stream, cancel, stack, arrived, [], chunk, lambda: [chunk("", stream.finish_reason)])


@router.post("/embeddings")
async def embeddings(body: EmbeddingRequest, request: Request) -> dict[str, Any]:
    state = serve_state(request)
    if body.model not in state.embeddings.ids():
        raise APIError(404, f"The model '{body.model}' does not exist; embeddings: {state.embeddings.model_id}",
                       param="model", code="model_not_found")
    texts = body.texts()
    vectors, tokens = await state.run(lambda _: state.embeddings.embed(texts))
    if body.dimensions is not None and body.dimensions != len(vectors[0]):
        raise APIError(400, f"this model gives {len(vectors[0])} dimensions", param="dimensions",
                       code="unsupported_parameter")
    encode = ((lambda v: base64.b64encode(v.tobytes()).decode()) if body.encoding_format == "base64"
              else (lambda v: [float(x) for x in v]))
    return {"object": "list", "model": state.embeddings.model_id,
            "data": [{"object": "embedding", "index": i, "embedding": encode(v)} for i, v in enumerate(vectors)],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
