"""What one app holds for its lifetime, and the two ways requests use the model.

`run` executes blocking model work in a worker thread while holding a generation
slot, under the request timeout; `deltas` does the same for a token stream. Both
cancel the model between two tokens when the time is up or the client has gone.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any, TypeVar

from starlette.requests import Request

from kubetrainer.generation.engine import TokenStream, UnknownAdapter
from kubetrainer.investigate.store import InvestigationStore
from kubetrainer.serve.cache import Cache, content_key
from kubetrainer.serve.config import ServeConfig
from kubetrainer.serve.embeddings import EmbeddingService
from kubetrainer.serve.errors import APIError, unknown_model
from kubetrainer.serve.ingest import IngestResult, IngestStore
from kubetrainer.serve.limits import Gate
from kubetrainer.serve.metrics import ServeMetrics
from kubetrainer.serve.registry import LoadedModel
from kubetrainer.serve.retrieval import RagContext

T = TypeVar("T")
_END = object()


@dataclass
class ServeState:
    config: ServeConfig
    lm: LoadedModel
    cache: Cache
    metrics: ServeMetrics
    gate: Gate
    embeddings: EmbeddingService
    rag: RagContext | None = None
    ingest: IngestStore | None = None
    investigations: InvestigationStore | None = None

    def fingerprint(self) -> list[Any]:
        """What makes two identical requests give different answers: model, adapters (with the revision of their
        weights, so an adapter loaded again never meets answers cached for the old one), index."""
        revisions = sorted(self.lm.adapter_revisions.items())
        return [self.lm.model_id, revisions, self.rag.version() if self.rag else None]

    async def run(self, work: Callable[[threading.Event], T], request: Request | None = None) -> T:
        """`work(cancel)` in a thread holding a generation slot until it ends, times out, or `request`'s client leaves.

        The slot is let go only once the thread has stopped (`cancel` stops the model between two
        tokens), so the next request gets the model at once: a client that hung up used to keep
        its slot until the timeout, and a timed-out thread went on generating beside the next one.
        """
        cancel = threading.Event()
        async with self.gate.slot():
            job = asyncio.ensure_future(asyncio.to_thread(work, cancel))
            hang_up = asyncio.ensure_future(_hung_up(request)) if request is not None else None
            try:
                done, _ = await asyncio.wait([task for task in (job, hang_up) if task], timeout=self.config.timeout_s,
                                             return_when=asyncio.FIRST_COMPLETED)
            finally:
                if hang_up is not None:
                    hang_up.cancel()
                if not job.done():
                    cancel.set()
                    await asyncio.wait([job])
            if job in done:
                return job.result()
            if hang_up in done:
                raise APIError(499, "the client closed the connection before the answer was ready",
                               code="client_closed")
            raise APIError(504, f"request timed out after {self.config.timeout_s:g}s", code="timeout")

    async def hold_slot(self) -> AsyncExitStack:
        """A generation slot for a stream; the stream's generator closes the stack when done."""
        stack = AsyncExitStack()
        await stack.enter_async_context(self.gate.slot())
        return stack

    async def deltas(self, stream: TokenStream, cancel: threading.Event, arrived: float) -> AsyncIterator[str]:
        """The stream's text deltas, recording time to first token and tokens/s; stops at the timeout."""
        deadline = arrived + self.config.timeout_s
        iterator: Iterator[str] = iter(stream)
        first_at = None
        while (delta := await _next(iterator)) is not _END:
            if first_at is None:
                first_at = time.monotonic()
                self.metrics.time_to_first_token.observe(first_at - arrived)
            if time.monotonic() > deadline:
                cancel.set()
                raise APIError(504, f"stream timed out after {self.config.timeout_s:g}s", code="timeout")
            yield delta
        self.record_tokens(stream.prompt_tokens, stream.completion_tokens, time.monotonic() - (first_at or arrived))

    def ingest_batch(self, data: bytes) -> IngestResult:
        """Store a batch of records and add the new ones to the open index."""
        assert self.ingest is not None
        result = self.ingest.ingest(data)
        if result.records and self.rag is not None:
            self.rag.add_records(result.records)
        return result

    def record_tokens(self, prompt_tokens: int, completion_tokens: int, seconds: float) -> None:
        self.metrics.tokens.labels("prompt").inc(prompt_tokens)
        self.metrics.tokens.labels("completion").inc(completion_tokens)
        if completion_tokens and seconds > 0:
            self.metrics.tokens_per_second.observe(completion_tokens / seconds)

    def answer_key(self, route: str, request: dict[str, Any]) -> str:
        return content_key("answer", route, self.fingerprint(), request)

    def cached_answer(self, key: str) -> dict[str, Any] | None:
        value = self.cache.get(key)
        self.metrics.cache.labels("answer", "hit" if value is not None else "miss").inc()
        return json.loads(value) if value is not None else None

    def store_answer(self, key: str, body: dict[str, Any]) -> None:
        self.cache.set(key, json.dumps(body).encode())


async def _next(iterator: Iterator[str]) -> str | object:
    """The stream's next delta from a worker thread; an adapter removed before the stream started is a 404."""
    try:
        return await asyncio.to_thread(next, iterator, _END)
    except UnknownAdapter as error:
        raise unknown_model(error) from error


async def _hung_up(request: Request) -> None:
    """Returns once the client disconnects: its body was read, so the next message is the disconnect."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


def sse(payload: dict[str, Any] | str) -> str:
    """One server-sent event in the OpenAI stream format."""
    return f"data: {payload if isinstance(payload, str) else json.dumps(payload)}\n\n"
