"""`create_app(config)`: the whole server as one FastAPI app, for uvicorn and for tests."""

from __future__ import annotations

import importlib
import importlib.util
import time
from typing import Any, Callable

from fastapi import FastAPI

from kubetrainer import __version__
from kubetrainer.config import Settings
from kubetrainer.investigate.store import InvestigationStore
from kubetrainer.serve import adapters, alerts, ops, routes
from kubetrainer.serve.access import AccessGate
from kubetrainer.serve.cache import make_cache
from kubetrainer.serve.config import ServeConfig
from kubetrainer.serve.embeddings import EmbeddingService
from kubetrainer.serve.errors import install_error_handlers
from kubetrainer.serve.ingest import IngestStore
from kubetrainer.serve.limits import BodyLimit, Gate
from kubetrainer.serve.metrics import ServeMetrics
from kubetrainer.serve.registry import load_model
from kubetrainer.serve.retrieval import RagContext
from kubetrainer.serve.state import ServeState

DASHBOARD_MODULE = "kubetrainer.serve.dashboard"
INGEST_PATH = "/v1/ingest"


class LatencyMiddleware:
    """Request latency by matched route and status, for every response including streams."""

    def __init__(self, app: Any, metrics: ServeMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        status = {"code": 500}

        async def recording_send(message: dict) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            self.metrics.request_latency.labels(path, str(status["code"])).observe(time.monotonic() - started)


def build_state(config: ServeConfig) -> ServeState:
    """Load the model (once per process), open the index and the cache."""
    config.validate()
    settings = Settings(home=config.home)
    metrics = ServeMetrics()
    cache = make_cache(config.redis_url, config.cache_entries, config.cache_ttl_s)
    lm = load_model(config.model, config.adapters, settings.dir("models"), config.engine)
    rag = RagContext(config.rag_index, config.rag_top_k, settings.dir("cache")) if config.rag_index else None
    gate = Gate(config.max_concurrency, config.max_queue, config.timeout_s, metrics)
    return ServeState(config, lm, cache, metrics, gate, EmbeddingService(cache, metrics), rag,
                      IngestStore(settings.dir("harvest") / "ingest"),
                      InvestigationStore(settings.dir("investigations"), config.max_investigations))


def create_app(config: ServeConfig) -> FastAPI:
    """The server app; raises UserError for bad settings before loading anything."""
    state = build_state(config)
    app = FastAPI(title="KubeTrainer", version=__version__,
                  description="OpenAI-compatible API over the local model, with RAG over cluster records.")
    app.state.serve = state
    install_error_handlers(app, on_error=lambda kind: state.metrics.errors.labels(kind).inc())
    app.include_router(routes.router)
    app.include_router(adapters.router)
    app.include_router(ops.router)
    app.include_router(alerts.router)
    if importlib.util.find_spec(DASHBOARD_MODULE) is not None:
        app.include_router(importlib.import_module(DASHBOARD_MODULE).router)
    def limit_for(path: str) -> int:
        return config.max_ingest_bytes if path == INGEST_PATH else config.max_body_bytes

    app.add_middleware(BodyLimit, limit_for=limit_for)
    # Outside BodyLimit: a caller without a key is refused before any body is read.
    app.add_middleware(AccessGate, keys=config.api_keys, metrics_public=config.metrics_public,
                       admin_keys=config.admin_keys)
    app.add_middleware(LatencyMiddleware, metrics=state.metrics)
    return app
