"""The Python redactor against every shared vector, plus the record and extension rules."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from kubetrainer.errors import UserError
from kubetrainer.redact import (
    VECTORS_PATH,
    Pattern,
    Redactor,
    default_redactor,
    parse_extra_pattern,
    redact_record,
    redact_text,
)

DOCUMENT = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))
VECTORS = DOCUMENT["vectors"]


@pytest.mark.parametrize("vector", VECTORS, ids=[vector["name"] for vector in VECTORS])
def test_shared_vector(vector: dict) -> None:
    redacted, counts = redact_text(vector["text"])
    assert redacted == vector["expected"]
    assert counts == Counter(vector["counts"])


def test_every_pattern_type_has_a_positive_vector() -> None:
    covered = {name for vector in VECTORS for name in vector["counts"]}
    assert {pattern["type"] for pattern in DOCUMENT["patterns"]} <= covered


def test_vectors_include_negatives() -> None:
    assert sum(1 for vector in VECTORS if not vector["counts"]) >= 10


def test_keywords_never_change_the_result() -> None:
    shared = default_redactor()
    without_keywords = Redactor((Pattern(p.type, p.regex, not_secrets=p.not_secrets) for p in shared.patterns),
                                shared.entropy)
    for vector in VECTORS:
        assert without_keywords.redact_text(vector["text"]) == redact_text(vector["text"]), vector["name"]


def test_redaction_is_idempotent() -> None:
    for vector in VECTORS:
        again, counts = redact_text(vector["expected"])
        assert again == vector["expected"], vector["name"]
        assert not counts, vector["name"]


def test_record_fields_scrubbed_and_counted() -> None:
    record = {
        "v": 1,
        "id": "ab" * 8,
        "kind": "object",
        "ts": "2026-11-29T04:00:00Z",
        "source": "api",
        "message": "DB_PASSWORD=hunter2 and AKIAIOSFODNN7EXAMPLE",
        "object": {"apiVersion": "v1", "kind": "Pod", "name": "p", "summary": "env token=abc123"},
        "labels": {"team": "ml", "hook": "https://hooks.slack.com/services/T0/B0/XYZ"},
        "redactions": 1,
    }
    scrubbed = redact_record(record)
    assert scrubbed["message"] == "DB_PASSWORD=[REDACTED:secret_pair] and [REDACTED:aws_access_key_id]"
    assert scrubbed["object"]["summary"] == "env token=[REDACTED:secret_pair]"
    assert scrubbed["labels"] == {"team": "ml", "hook": "[REDACTED:slack_webhook]"}
    assert scrubbed["redactions"] == 1 + 4
    assert record["message"].startswith("DB_PASSWORD=hunter2"), "the input must not be changed"
    assert record["object"]["summary"] == "env token=abc123"


def test_record_without_secrets_gets_zero() -> None:
    scrubbed = redact_record({"kind": "log", "message": "all good"})
    assert scrubbed == {"kind": "log", "message": "all good", "redactions": 0}


def test_user_supplied_pattern_runs_after_shared_ones() -> None:
    redactor = default_redactor().with_extra([parse_extra_pattern(r"employee_id=EMP-\d{6}")])
    text, counts = redactor.redact_text("user EMP-123456 with password=letmein")
    assert text == "user [REDACTED:employee_id] with password=[REDACTED:secret_pair]"
    assert counts == Counter({"employee_id": 1, "secret_pair": 1})


def test_user_pattern_with_secret_group_keeps_context() -> None:
    redactor = Redactor([parse_extra_pattern(r"pin=pin:(?P<secret>\d{4})")])
    assert redactor.redact_text("pin:1234 pin:12")[0] == "pin:[REDACTED:pin] pin:12"


@pytest.mark.parametrize(
    ("spec", "message"),
    [("no-equals-sign", "TYPE=REGEX"), ("Bad-Name=x", "invalid redaction type name"), ("ok=(", "invalid regex")],
)
def test_bad_user_pattern_is_a_user_error(spec: str, message: str) -> None:
    with pytest.raises(UserError) as caught:
        parse_extra_pattern(spec)
    assert message in caught.value.render()


def test_missing_pattern_file_is_a_user_error(tmp_path) -> None:
    with pytest.raises(UserError) as caught:
        Redactor.from_file(tmp_path / "nope.json")
    assert "nope.json" in caught.value.render()
