"""The cluster-info dump reader: objects, events and logs become redacted records; bad files are skipped."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest

from kubetrainer.errors import UserError
from kubetrainer.sources.base import Problems
from kubetrainer.sources.dump import read_dump

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "record.schema.json").read_text())


@pytest.fixture(scope="module")
def records(sample_dump: Path) -> list[dict]:
    problems = Problems()
    found = list(read_dump(sample_dump, problems))
    assert problems.items == []
    return found


def test_every_record_is_schema_v1_with_unique_ids(records: list[dict]) -> None:
    for record in records[:: max(1, len(records) // 300)]:
        jsonschema.validate(record, SCHEMA)
    assert len({r["id"] for r in records}) == len(records)
    assert {r["kind"] for r in records} == {"object", "event", "log"}


def test_logs_name_pod_container_node_and_keep_their_time(records: list[dict]) -> None:
    trace = [r for r in records if r["kind"] == "log" and "CUDA out of memory" in r["message"]]
    assert len(trace) == 1
    line = trace[0]
    assert line["namespace"] == "ml-training" and line["pod"].startswith("llama-finetune-") and line["container"] == "app"
    assert line["node"] and line["ts"].startswith("2026-03-14T")
    frames = [r for r in records if r.get("pod") == line["pod"] and r["message"].startswith("  File ")]
    assert frames and all(frame["ts"] == line["ts"] for frame in frames)


def test_object_status_and_events_are_readable(records: list[dict]) -> None:
    pods = [r for r in records if r["kind"] == "object" and r["object"]["kind"] == "Pod"]
    oom = next(r for r in pods if "OOMKilled" in r["message"])
    assert "feature-extractor" in oom["message"] and "exit code 137" in oom["message"] and "7 restarts" in oom["message"]
    node = next(r for r in records if r["kind"] == "object" and r["object"]["kind"] == "Node" and "NotReady" in r["message"])
    assert node["node"] == node["object"]["name"]
    event = next(r for r in records if r["kind"] == "event" and "Insufficient nvidia.com/gpu" in r["message"])
    assert event["labels"]["involved_kind"] == "Pod" and event["labels"]["reason"] == "FailedScheduling"
    assert "ml-training/ddp-pretrain" in event["message"] and "(seen 57 times)" in event["message"]


def test_secrets_in_logs_are_redacted_and_counted(records: list[dict]) -> None:
    redacted = [r for r in records if r.get("redactions")]
    assert len(redacted) >= 9
    assert all("[REDACTED:" in r["message"] for r in redacted)


def test_truncated_json_and_binary_logs_are_reported_and_skipped(sample_dump: Path, tmp_path: Path) -> None:
    broken = tmp_path / "dump"
    shutil.copytree(sample_dump, broken)
    pods_json = broken / "web" / "pods.json"
    pods_json.write_text(pods_json.read_text()[:500])
    binary_log = next((broken / "data").glob("*/logs.txt"))
    binary_log.write_bytes(b"\x7fELF\x00\x00\x01binary")
    problems = Problems()
    records = list(read_dump(broken, problems))
    assert any(str(pods_json) in p and "invalid JSON" in p for p in problems.items)
    assert any(str(binary_log) in p and "binary" in p for p in problems.items)
    assert any(r.get("namespace") == "web" and r["kind"] == "log" for r in records)


def test_a_directory_that_is_not_a_dump_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError):
        list(read_dump(tmp_path, Problems()))
