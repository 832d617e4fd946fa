"""Investigations posted where the team works: a Slack-compatible incoming webhook (`{"text": ...}`).

Slack, Mattermost, Rocket.Chat and Discord's `/slack` endpoints all take this body. The
message is built (pure) from the stored investigation, which is redacted already. Chat
services throttle and blip, so `post` retries connection errors, 429 and 5xx with
exponential back-off (honouring a short Retry-After); any other 4xx is our mistake and
is not retried.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import httpx

from kubetrainer.investigate.investigation import OPEN, Investigation
from kubetrainer.rag.prompt import describe_source

log = logging.getLogger(__name__)
MAX_TEXT = 3500  # Slack shows about 4000 characters of a message before folding it
MAX_SOURCES = 5
ATTEMPTS = 4
FIRST_BACKOFF_S = 1.0
MAX_WAIT_S = 30.0


def message(investigation: Investigation) -> dict[str, Any]:
    """The chat message for an opened or updated investigation (its cited summary) or a closed one (one line)."""
    title = f"*{investigation.alert}* ({investigation.objects()})"
    if investigation.status != OPEN:
        return {"text": f":white_check_mark: {title} resolved; investigation closed."}
    sources = [f"[{hit['number']}] {describe_source(hit['source'])}" for hit in investigation.citations[:MAX_SOURCES]]
    body = investigation.summary + ("\n\nSources:\n" + "\n".join(sources) if sources else "")
    text = f":rotating_light: {title} is firing\n{body}"
    return {"text": text if len(text) <= MAX_TEXT else text[:MAX_TEXT - 1] + "…"}


@dataclass
class Delivery:
    attempts: int
    status: int | None  # the last HTTP status, None when no answer came
    delivered: bool


def _wait(attempt: int, response: httpx.Response | None, first_backoff_s: float) -> float:
    retry_after = response.headers.get("retry-after", "") if response is not None else ""
    if retry_after.isdigit():
        return min(float(retry_after), MAX_WAIT_S)
    return min(first_backoff_s * 2 ** (attempt - 1), MAX_WAIT_S)


def post(url: str, body: dict[str, Any], *, attempts: int = ATTEMPTS, first_backoff_s: float = FIRST_BACKOFF_S,
         timeout_s: float = 10.0) -> Delivery:
    """POST `body` as JSON to `url`, retrying what may pass on a later try; never raises."""
    response: httpx.Response | None = None
    for attempt in range(1, attempts + 1):
        try:
            response = httpx.post(url, json=body, timeout=timeout_s)
        except httpx.HTTPError as error:
            log.warning("alert notification attempt %d failed: %s", attempt, type(error).__name__)
            response = None
        else:
            if response.is_success:
                return Delivery(attempt, response.status_code, True)
            if response.status_code != 429 and response.status_code < 500:
                log.warning("alert notification refused with HTTP %d; not retried", response.status_code)
                return Delivery(attempt, response.status_code, False)
        if attempt < attempts:
            time.sleep(_wait(attempt, response, first_backoff_s))
    return Delivery(attempts, response.status_code if response is not None else None, False)
