"""Alertmanager in, investigations out: `POST /v1/alerts` (webhook JSON version 4) and `GET /v1/investigations`.

Both sit under /v1, so `access.AccessGate` asks for the bearer key like every other
route (Alertmanager sends it with `http_config.authorization`), and `limits.BodyLimit`
answers 413 for a body over `max_body_bytes`. Each firing alert opens or updates the
investigation of its fingerprint, each resolved one closes it (`kubetrainer.investigate`);
with `alert_webhook_url` set, opened and closed investigations are posted to chat after
the response, so a slow chat service never delays Alertmanager.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Query, Request

from kubetrainer.investigate import notify
from kubetrainer.investigate.alerts import Alert, AlertError, parse_webhook
from kubetrainer.investigate.investigation import CLOSED, OPEN, Investigation, Outcome, investigate
from kubetrainer.serve.access import public_hit
from kubetrainer.serve.errors import APIError
from kubetrainer.serve.state import ServeState

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["alerts"])
POSTED = ("opened", "closed")  # an update is the same alert again: not worth a second message


def _state(request: Request) -> ServeState:
    state: ServeState = request.app.state.serve
    if state.rag is None or state.investigations is None:
        # 4xx, not 5xx: Alertmanager retries a 5xx, and a server started without an index never gains one.
        raise APIError(404, "alerts are investigated over an index: start the server with --rag DIR",
                       code="index_missing")
    return state


def _investigator(state: ServeState, alert: Alert, now: datetime) -> Callable[[], Investigation]:
    def run() -> Investigation:
        found = state.rag.with_index(lambda retriever, findings: investigate(alert, retriever, findings, now))
        return found.with_sources(public_hit)  # no server file paths in what is stored and served

    return run


def _post(url: str, outcomes: list[Outcome]) -> None:
    for outcome in outcomes:
        delivery = notify.post(url, notify.message(outcome.investigation))
        if not delivery.delivered:
            log.warning("investigation %s not posted after %d attempts (last status %s)", outcome.fingerprint,
                        delivery.attempts, delivery.status)


@router.post("/alerts")
async def receive_alerts(request: Request, background: BackgroundTasks) -> dict[str, Any]:
    """Alertmanager's webhook notification: each alert opens, updates or closes its investigation."""
    state = _state(request)
    try:
        payload = json.loads(await request.body())
    except ValueError as error:
        raise APIError(400, f"the body is not valid JSON: {error}", param="body", code="invalid_json") from None
    try:
        received = parse_webhook(payload)
    except AlertError as error:
        raise APIError(400, str(error), param=error.field, code="invalid_value") from None
    now = datetime.now(UTC)
    outcomes = [await asyncio.to_thread(state.investigations.receive, alert, _investigator(state, alert, now), now)
                for alert in received]
    posted = [outcome for outcome in outcomes if outcome.action in POSTED]
    if state.config.alert_webhook_url and posted:
        background.add_task(_post, state.config.alert_webhook_url, posted)
    return {"object": "list", "data": [outcome.to_json() for outcome in outcomes]}


@router.get("/investigations")
async def list_investigations(request: Request, status: str | None = Query(None, description="open or closed"),
                              limit: int = Query(50, ge=1, le=500)) -> dict[str, Any]:
    """Investigations, most recently updated first (the dashboard shows the open ones)."""
    if status not in (None, OPEN, CLOSED):
        raise APIError(400, f"status must be {OPEN!r} or {CLOSED!r}", param="status", code="invalid_value")
    store = request.app.state.serve.investigations  # listing needs no index: an empty store lists nothing
    found = store.all(status) if store is not None else []
    return {"object": "list", "total": len(found), "data": [item.to_json() for item in found[:limit]]}
