"""Parsing Alertmanager's payloads: the webhook (version 4), the v2 API list, one alert; errors name the field."""

from __future__ import annotations

import pytest

from kubetrainer.investigate.alerts import AlertError, label_fingerprint, parse_any, parse_api_alerts, parse_webhook

LABELS = {"alertname": "KubePodCrashLooping", "namespace": "web", "pod": "api-1", "container": "app"}


def webhook(*alerts: dict, status: str = "firing") -> dict:
    """Alertmanager 0.25's webhook body, as documented (prometheus.io/docs/alerting/latest/configuration/#webhook_config)."""
    return {"version": "4", "groupKey": '{}:{alertname="KubePodCrashLooping"}', "truncatedAlerts": 0, "status": status,
            "receiver": "kubetrainer", "groupLabels": {"alertname": "KubePodCrashLooping"}, "commonLabels": {},
            "commonAnnotations": {}, "externalURL": "http://alertmanager:9093", "alerts": list(alerts)}


def alert(**overrides: object) -> dict:
    body = {"status": "firing", "labels": LABELS, "annotations": {"summary": "api-1 is crash looping"},
            "startsAt": "2026-12-01T05:00:00.123456789Z", "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph?g0.expr=x", "fingerprint": "c0ffee0123456789"}
    return {**body, **overrides}


def test_webhook_alerts_keep_what_an_investigation_needs() -> None:
    (parsed,) = parse_webhook(webhook(alert()))
    assert parsed.fingerprint == "c0ffee0123456789" and parsed.firing and parsed.name == "KubePodCrashLooping"
    assert parsed.starts_at.isoformat() == "2026-12-01T05:00:00.123456+00:00"  # nanoseconds cut to microseconds
    assert parsed.ends_at is None  # Alertmanager's zero time means "not ended"
    assert parsed.headline() == "api-1 is crash looping"
    resolved = parse_webhook(webhook(alert(status="resolved", endsAt="2026-12-01T05:10:00Z"), status="resolved"))[0]
    assert not resolved.firing and resolved.ends_at.minute == 10


def test_v2_api_alerts_are_firing_and_hand_written_alerts_get_a_stable_fingerprint() -> None:
    listed = alert(status={"state": "active", "silencedBy": [], "inhibitedBy": []}, receivers=[{"name": "x"}])
    (parsed,) = parse_api_alerts([listed])
    assert parsed.firing and parsed.fingerprint == "c0ffee0123456789"
    (bare,) = parse_any({"labels": LABELS, "startsAt": "2026-12-01T05:00:00Z"})
    assert bare.firing and bare.fingerprint == label_fingerprint(LABELS) == parse_any([{**bare.to_json(), "fingerprint": None}])[0].fingerprint
    assert [a.name for a in parse_any(webhook(alert(), alert(fingerprint="beef")))] == ["KubePodCrashLooping"] * 2


@pytest.mark.parametrize(("payload", "field"), [
    ([], "body"),
    ({"version": "3", "alerts": [alert()]}, "version"),
    (webhook(), "alerts"),
    ({**webhook(), "alerts": "many"}, "alerts"),
    (webhook(alert(), "not an alert"), "alerts[1]"),
    (webhook(alert(labels="pod=api-1")), "alerts[0].labels"),
    (webhook(alert(labels={})), "alerts[0].labels"),
    (webhook(alert(labels={"pod": 7})), "alerts[0].labels"),
    (webhook(alert(status="pending")), "alerts[0].status"),
    (webhook(alert(startsAt="yesterday")), "alerts[0].startsAt"),
    (webhook(alert(startsAt=None)), "alerts[0].startsAt"),
    (webhook(alert(endsAt=12)), "alerts[0].endsAt"),
    (webhook(alert(annotations=["x"])), "alerts[0].annotations"),
    (webhook(alert(fingerprint="../../etc/passwd")), "alerts[0].fingerprint"),
])
def test_malformed_webhooks_name_the_field(payload: object, field: str) -> None:
    with pytest.raises(AlertError) as caught:
        parse_webhook(payload)
    assert caught.value.field == field and str(caught.value).startswith(f"{field}: ")
