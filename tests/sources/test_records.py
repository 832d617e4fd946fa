"""kubetrainer.records: schema-v1 records, stable ids, tolerant JSONL reading, atomic writing."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import jsonschema
import pytest

from kubetrainer.errors import UserError
from kubetrainer.records import format_ts, iter_jsonl, make_record, record_id, write_jsonl

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "record.schema.json").read_text())


def test_record_id_is_stable_hex_and_order_sensitive() -> None:
    first = record_id("dump", "event", "x")
    assert first == record_id("dump", "event", "x")
    assert len(first) == 32 and int(first, 16) >= 0
    assert first != record_id("event", "dump", "x")
    assert record_id("ab", "c") != record_id("a", "bc")


@pytest.mark.parametrize(
    "kind, extra",
    [
        ("log", {"namespace": "ml", "pod": "p", "container": "c", "stream": "stderr", "node": "n1"}),
        ("event", {"namespace": "ml", "labels": {"reason": "BackOff"}}),
        ("object", {"object": {"apiVersion": "v1", "kind": "Pod", "name": "p", "namespace": "ml", "summary": "Running"}}),
        ("object", {"object": {"apiVersion": "v1", "kind": "Pod", "name": "p", "summary": "Running",
                               "quota": {"pods": 1, "requests.cpu": 0.5}}}),
        ("gpu", {"node": "n1", "metrics": {"temperature_c": 71, "util": 0.5}}),
    ],
)
def test_make_record_matches_the_json_schema(kind: str, extra: dict) -> None:
    record = make_record(kind, "2026-01-02T03:04:05.123456789Z", "dump", "hello", redactions=0, **extra)
    jsonschema.validate(record, SCHEMA)
    assert record["ts"] == "2026-01-02T03:04:05.123456Z"


def test_make_record_same_content_same_id_and_none_dropped() -> None:
    one = make_record("log", "2026-01-02T03:04:05Z", "file", "line", pod="p", node=None)
    two = make_record("log", datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc), "file", "line", pod="p")
    assert one == two and "node" not in one
    assert make_record("log", "2026-01-02T03:04:05Z", "file", "other", pod="p")["id"] != one["id"]
    assert make_record("log", 0, "file", "x", id="ab" * 8)["id"] == "ab" * 8


@pytest.mark.parametrize(
    "kind, source, fields",
    [("nope", "dump", {}), ("log", "nope", {}), ("object", "dump", {}), ("metric", "agent", {}), ("log", "dump", {"colour": "x"})],
)
def test_make_record_rejects_bad_calls(kind: str, source: str, fields: dict) -> None:
    with pytest.raises(ValueError):
        make_record(kind, None, source, "m", **fields)


def test_format_ts_forms() -> None:
    assert format_ts(0) == "1970-01-01T00:00:00Z"
    assert format_ts("2026-03-01T10:00:00+02:00") == "2026-03-01T08:00:00Z"
    assert format_ts(datetime(2026, 3, 1, 10, 0, 0, 500000)) == "2026-03-01T10:00:00.5Z"
    with pytest.raises(ValueError):
        format_ts("yesterday")


def test_write_then_iter_round_trip(tmp_path: Path) -> None:
    records = [make_record("log", i, "agent", f"line {i}") for i in range(5)]
    path = tmp_path / "out" / "records.jsonl"
    assert write_jsonl(path, records) == 5
    assert list(iter_jsonl(path)) == records
    assert not [p for p in path.parent.iterdir() if p.name != "records.jsonl"]


def test_iter_jsonl_skips_bad_lines_and_reports_path_and_line(tmp_path: Path) -> None:
    good = make_record("event", 0, "api", "ok")
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(
        (json.dumps(good) + "\n").encode()
        + b'{"v": 1, "id": "ab\n'  # truncated JSON
        + b"\xff\xfe\x00binary\n"
        + (json.dumps({**good, "v": 2}) + "\n").encode()
        + b"[1, 2]\n"
        + b"\n"
        + (json.dumps({"v": 1, "kind": "log"}) + "\n").encode()
        + (json.dumps(good) + "\n").encode()
    )
    reports: list[str] = []
    assert list(iter_jsonl(path, on_error=reports.append)) == [good, good]
    assert [r.split(": ", 1)[0] for r in reports] == [f"{path}:{n}" for n in (2, 3, 4, 5, 7)]
    assert "invalid JSON" in reports[0] and "binary" in reports[1] and "version" in reports[2]


def test_iter_jsonl_missing_file_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError) as caught:
        list(iter_jsonl(tmp_path / "absent.jsonl"))
    assert "absent.jsonl" in caught.value.render()
