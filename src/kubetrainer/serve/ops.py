"""Operations routes: liveness, readiness, Prometheus metrics, and the ingest endpoint."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from kubetrainer.serve.access import check_key
from kubetrainer.serve.errors import APIError
from kubetrainer.serve.state import ServeState

router = APIRouter()


def _state(request: Request) -> ServeState:
    return request.app.state.serve


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
async def readyz(request: Request) -> JSONResponse:
    """Readiness: model loaded, index open, cache reachable; 503 naming what is not."""
    state = _state(request)
    checks = {"model": state.lm is not None, "index": state.rag is not None if state.config.rag_index else True,
              "cache": state.cache.ping()}
    ready = all(checks.values())
    return JSONResponse({"status": "ready" if ready else "not ready", "checks": checks,
                         "model": state.lm.model_id, "adapters": list(state.lm.adapters),
                         "cache": state.cache.backend}, status_code=200 if ready else 503)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    return Response(generate_latest(_state(request).metrics.registry), media_type=CONTENT_TYPE_LATEST)


@router.post("/v1/ingest")
async def ingest(request: Request) -> dict[str, Any]:
    """NDJSON records (optionally gzip), bearer key required; see `serve.ingest`."""
    state = _state(request)
    check_key(request.headers, state.config.api_keys, required=True)
    if state.ingest is None:
        raise APIError(503, "ingest is not enabled on this server", code="ingest_disabled")
    from kubetrainer.serve.ingest import decode_body

    data = decode_body(await request.body(), request.headers.get("content-encoding"), state.config.max_ingest_bytes)
    result = await state.run(lambda _: state.ingest_batch(data))
    for outcome, count in (("accepted", len(result.records)), ("duplicate", result.duplicates),
                           ("rejected", len(result.rejected))):
        state.metrics.ingested.labels(outcome).inc(count)
    if result.rejected and not result.records and not result.duplicates:
        first = result.rejected[0]
        raise APIError(400, f"no valid record; line {first['line']}: {first['error']}", param="body",
                       code="invalid_records")
    return result.to_json()
