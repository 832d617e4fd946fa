"""Alerts as Alertmanager sends and lists them: the webhook payload (version 4) and the v2 API's alerts.

Parsing is pure and strict about the fields an investigation needs (labels, status,
startsAt), and lenient about the rest, so a payload from a newer Alertmanager still
works. Every refusal names the field (`alerts[2].labels`), which the server returns
as the 400's `param` and the CLI as the error's place.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kubetrainer.records import parse_ts

WEBHOOK_VERSION = "4"
FIRING, RESOLVED = "firing", "resolved"
# Alertmanager writes the zero time for "not ended yet".
_UNSET_YEAR = 1


class AlertError(ValueError):
    """A payload that is not an alert; `field` is where, in JSON path form."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Alert:
    fingerprint: str
    status: str  # firing | resolved
    labels: dict[str, str]
    starts_at: datetime
    annotations: dict[str, str] = field(default_factory=dict)
    ends_at: datetime | None = None
    generator_url: str | None = None

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "alert")

    @property
    def firing(self) -> bool:
        return self.status == FIRING

    def headline(self) -> str:
        """What the alert says in one line: its summary annotation, else its description, else its name."""
        return self.annotations.get("summary") or self.annotations.get("description") or self.name

    def to_json(self) -> dict[str, Any]:
        return {"fingerprint": self.fingerprint, "status": self.status, "labels": self.labels,
                "annotations": self.annotations, "startsAt": _stamp(self.starts_at),
                "endsAt": _stamp(self.ends_at) if self.ends_at else None, "generatorURL": self.generator_url}


def _stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def label_fingerprint(labels: dict[str, str]) -> str:
    """A stable id from the label set, for alerts written by hand without Alertmanager's fingerprint."""
    return hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16]


def _strings(value: Any, where: str, *, required: bool) -> dict[str, str]:
    if value is None and not required:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise AlertError(where, "must be an object of string values")
    if required and not value:
        raise AlertError(where, "must name at least one label")
    return dict(value)


def _time(value: Any, where: str, *, required: bool) -> datetime | None:
    if value in (None, "") and not required:
        return None
    if not isinstance(value, str):
        raise AlertError(where, "must be an RFC 3339 time")
    try:
        moment = parse_ts(value)
    except ValueError as error:
        raise AlertError(where, str(error)) from None
    return None if moment.year == _UNSET_YEAR and not required else moment


def parse_alert(value: Any, where: str, status: str | None = None) -> Alert:
    """One alert of a webhook payload (`status` a string) or of the v2 API (`status.state`).

    The v2 API lists only alerts still active, so its alerts are firing unless their
    end time has passed (which is how Alertmanager itself marks them resolved).
    """
    if not isinstance(value, dict):
        raise AlertError(where, "must be an object")
    labels = _strings(value.get("labels"), f"{where}.labels", required=True)
    raw_status = value.get("status", status)
    if isinstance(raw_status, dict):  # v2 API: {"state": "active" | "suppressed" | "unprocessed"}
        raw_status = FIRING
    if raw_status not in (FIRING, RESOLVED):
        raise AlertError(f"{where}.status", f"must be {FIRING!r} or {RESOLVED!r}")
    fingerprint = value.get("fingerprint") or label_fingerprint(labels)
    if not isinstance(fingerprint, str) or not fingerprint.isalnum():
        raise AlertError(f"{where}.fingerprint", "must be letters and digits")
    generator = value.get("generatorURL")
    return Alert(
        fingerprint=fingerprint,
        status=raw_status,
        labels=labels,
        annotations=_strings(value.get("annotations"), f"{where}.annotations", required=False),
        starts_at=_time(value.get("startsAt"), f"{where}.startsAt", required=True),
        ends_at=_time(value.get("endsAt"), f"{where}.endsAt", required=False),
        generator_url=generator if isinstance(generator, str) and generator else None,
    )


def parse_webhook(payload: Any) -> list[Alert]:
    """The alerts of an Alertmanager webhook notification (JSON version 4)."""
    if not isinstance(payload, dict):
        raise AlertError("body", "must be a JSON object (Alertmanager's webhook payload)")
    if str(payload.get("version")) != WEBHOOK_VERSION:
        raise AlertError("version", f"must be {WEBHOOK_VERSION!r} (Alertmanager's webhook format)")
    alerts = payload.get("alerts")
    if not isinstance(alerts, list) or not alerts:
        raise AlertError("alerts", "must be a non-empty list")
    group_status = payload.get("status")
    return [parse_alert(alert, f"alerts[{number}]", group_status) for number, alert in enumerate(alerts)]


def parse_api_alerts(payload: Any) -> list[Alert]:
    """The alerts listed by Alertmanager's `GET /api/v2/alerts`."""
    if not isinstance(payload, list):
        raise AlertError("body", "must be a JSON list (Alertmanager's /api/v2/alerts)")
    return [parse_alert(alert, f"[{number}]") for number, alert in enumerate(payload)]


def parse_any(payload: Any) -> list[Alert]:
    """A webhook payload, a v2 API list, or one alert of either form (`kubetrainer investigate --alert`)."""
    if isinstance(payload, list):
        return parse_api_alerts(payload)
    if isinstance(payload, dict) and "alerts" in payload:
        return parse_webhook(payload)
    return [parse_alert(payload, "alert", FIRING)]
