"""Protection for a shared server: body size limits, bounded concurrency (keys: `serve.access`).

Generation is expensive, so at most `slots` requests generate at once and at most
`max_queue` wait; beyond that a client gets 429 at once (its cue to back off)
instead of piling up until everything times out.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from kubetrainer.serve.errors import APIError
from kubetrainer.serve.metrics import ServeMetrics


class Gate:
    """`slots` concurrent generations, a bounded queue, and a wait limit."""

    def __init__(self, slots: int, max_queue: int, wait_s: float, metrics: ServeMetrics) -> None:
        self.slots = slots
        self.max_queue = max_queue
        self.wait_s = wait_s
        self.metrics = metrics
        self.waiting = 0
        self.running = 0
        self._semaphore = asyncio.Semaphore(slots)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self.running >= self.slots and self.waiting >= self.max_queue:
            raise APIError(429, f"server busy: {self.running} running and {self.waiting} queued; retry later",
                           code="queue_full")
        self.waiting += 1
        self.metrics.queue_depth.set(self.waiting)
        try:
            await asyncio.wait_for(self._semaphore.acquire(), self.wait_s)
        except TimeoutError as error:
            raise APIError(429, f"no generation slot within {self.wait_s:g}s; retry later",
                           code="queue_timeout") from error
        finally:
            self.waiting -= 1
            self.metrics.queue_depth.set(self.waiting)
        self.running += 1
        self.metrics.in_flight.set(self.running)
        try:
            yield
        finally:
            self.running -= 1
            self.metrics.in_flight.set(self.running)
            self._semaphore.release()


class BodyLimit:
    """ASGI middleware: 413 for a body over the limit of its path, declared or streamed."""

    def __init__(self, app: Any, limit_for: Callable[[str], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _send_too_large(send, limit)
            return
        seen = 0

        async def limited_receive() -> dict:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise APIError(413, f"request body over {limit} bytes", code="request_too_large")
            return message

        await self.app(scope, limited_receive, send)


async def _send_too_large(send: Callable, limit: int) -> None:
    body = json.dumps(APIError(413, f"request body over {limit} bytes", code="request_too_large").body()).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
