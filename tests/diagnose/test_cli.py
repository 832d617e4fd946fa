"""`kubetrainer diagnose` on a cluster-info dump: every planted incident found, filters, JSON, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubetrainer.cli import main
from kubetrainer.records import make_record, write_jsonl
from kubetrainer.samples.cluster import generate_cluster


@pytest.fixture(scope="module")
def dump(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("diagnose") / "dump"
    generate_cluster(out, seed=0, size="small")
    return out


def _json(args: list[str], capsys: pytest.CaptureFixture[str]) -> dict:
    assert main(args) == 0
    return json.loads(capsys.readouterr().out)


def test_every_planted_incident_is_found_with_its_evidence(dump: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = _json(["diagnose", "--from", str(dump), "--json"], capsys)
    assert report["records"] > 3000 and report["skipped"] == []
    findings = report["findings"]
    evidence = " ".join(item["text"] for finding in findings for item in finding["evidence"])
    for question in (json.loads(line) for line in (dump / "questions.jsonl").read_text().splitlines()):
        for item in question["evidence"]:
            about = [f for f in findings if item["name"] in (f["name"], *(e.get("name") for e in f["evidence"]))]
            assert about, (question["id"], item)
            assert any(item["contains"] in e["text"] for f in about for e in f["evidence"]) or item["contains"] in evidence, \
                (question["id"], item)


def test_filters_and_kind_aliases(dump: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nodes = _json(["diagnose", "--from", str(dump), "--kind", "no", "--json"], capsys)["findings"]
    assert nodes and {f["kind"] for f in nodes} == {"Node"}
    pods = _json(["diagnose", "--from", str(dump), "--kind", "pods", "-n", "web", "--severity", "critical", "--json"], capsys)
    assert pods["findings"] and all(f["kind"] == "Pod" and f["namespace"] == "web" and f["severity"] == "critical"
                                    for f in pods["findings"])


def test_table_names_object_cause_evidence_and_fix(dump: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagnose", "--from", str(dump), "--kind", "pvc"]) == 0
    out = capsys.readouterr().out
    assert "Persist" in out and "fast-ssd" in out and "fix:" in out and "1 findings" in out


@pytest.mark.parametrize(("args", "message"), [
    (["--kind", "gizmo"], "--kind: unknown kind 'gizmo'"),
    (["--severity", "loud"], "--severity: unknown severity 'loud'"),
])
def test_bad_options_are_one_line_and_exit_2(dump: Path, args: list[str], message: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagnose", "--from", str(dump), *args]) == 2
    assert message in capsys.readouterr().err


def test_missing_source_and_empty_records_are_user_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagnose", "--from", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert "no such file or directory" in err and err.count("\n") == 1, "one line"
    empty = tmp_path / "empty.jsonl"
    write_jsonl(empty, [])
    assert main(["diagnose", "--from", str(empty)]) == 2
    assert "no records to diagnose" in capsys.readouterr().err
    healthy = tmp_path / "healthy.jsonl"
    write_jsonl(healthy, [make_record("log", "2026-03-14T10:00:00Z", "agent", "GET /healthz 200", namespace="web", pod="a")])
    assert main(["diagnose", "--from", str(healthy)]) == 0
    assert "No problems found in 1 records." in capsys.readouterr().out
