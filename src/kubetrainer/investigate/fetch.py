"""Alerts for the CLI: the firing ones from Alertmanager's v2 API, or the ones in a JSON file.

The two I/O edges of `kubetrainer investigate`; parsing is `alerts.py`'s. Failures are
`UserError`s naming the URL or file, since both are the user's input.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import httpx

from kubetrainer.errors import UserError
from kubetrainer.investigate.alerts import Alert, AlertError, parse_any, parse_api_alerts


def label_matchers(pairs: Sequence[str]) -> list[str]:
    """`--label k=v` options as Alertmanager matchers (`k="v"`)."""
    matchers = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UserError(f"not a label matcher: {pair!r}", where="--label", expected="NAME=VALUE")
        matchers.append(f'{key.strip()}="{value}"')
    return matchers


def fetch_alerts(base_url: str, labels: Sequence[str] = (), timeout_s: float = 15.0) -> list[Alert]:
    """The active (not silenced, not inhibited) alerts of the Alertmanager at `base_url` matching `labels`."""
    params = [("active", "true"), ("silenced", "false"), ("inhibited", "false")]
    params += [("filter", matcher) for matcher in label_matchers(labels)]
    url = f"{base_url.rstrip('/')}/api/v2/alerts"
    try:
        response = httpx.get(url, params=params, timeout=timeout_s)
        response.raise_for_status()
        return parse_api_alerts(response.json())
    except httpx.HTTPStatusError as error:
        raise UserError(f"Alertmanager answered HTTP {error.response.status_code}: {error.response.text[:200]}",
                        where=url) from None
    except httpx.HTTPError as error:
        raise UserError(f"cannot reach Alertmanager: {error}", where=url,
                        expected="the Alertmanager base URL, e.g. http://alertmanager:9093") from None
    except ValueError as error:  # not JSON, or an AlertError
        raise UserError(f"not Alertmanager's alert list: {error}", where=url) from None


def read_alerts(path: Path) -> list[Alert]:
    """The alerts in a file: a webhook payload, a v2 API list, or one alert."""
    try:
        payload = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise UserError(f"cannot read the alert file: {error.strerror}", where=path) from None
    except ValueError as error:
        raise UserError(f"not JSON: {error}", where=path) from None
    try:
        return parse_any(payload)
    except AlertError as error:
        raise UserError(str(error), where=path,
                        expected="an Alertmanager webhook payload, a /api/v2/alerts list, or one alert") from None
