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


def test_explain_keeps_only_the_bundled_models_grounded_phrasings(dump: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--explain runs the real bundled model on each finding; an explanation is shown only where the guard accepts it."""
    import os

    from kubetrainer.answer.explain import QUESTION, phrase_finding
    from kubetrainer.diagnose.finding import Finding
    from kubetrainer.models.bundled import ensure_default_llm

    cache = Path(os.environ.get("KUBETRAINER_CACHE", Path.home() / ".cache" / "kubetrainer"))
    model = ensure_default_llm(cache / "models")
    node = _json(["diagnose", "--from", str(dump), "--json", "--kind", "node"], capsys)["findings"][0]["name"]
    one_node = ["diagnose", "--from", str(dump), "--json", "--kind", "node", "--node", node]
    plain = _json(one_node, capsys)["findings"]
    report = _json([*one_node, "--explain", "--model", str(model)], capsys)
    assert [f["id"] for f in report["findings"]] == [f["id"] for f in plain] and plain
    answered = {f["id"]: f["explanation"] for f in report["findings"]}
    findings = {f.id: f for f in map(Finding.from_json, plain)}
    for finding_id, text in answered.items():
        if text is not None:  # whatever the model wrote and the command kept passes the same guard again
            verdict = phrase_finding(findings[finding_id], QUESTION, lambda messages, text=text: text).verdict
            assert verdict.accepted, (text, verdict.failures)


def test_explanations_are_kept_only_when_grounded(dump: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from kubetrainer.answer.explain import explain_findings
    from kubetrainer.diagnose.finding import Finding
    from tests.train.test_train_cluster_dataset import _looping_teacher, _restating_teacher

    findings = [Finding.from_json(f) for f in _json(["diagnose", "--from", str(dump), "--json"], capsys)["findings"]]
    restated = explain_findings(findings, _restating_teacher)
    assert restated and set(restated) <= {finding.id for finding in findings}
    assert all(text.startswith("In short, ") for text in restated.values())
    assert explain_findings(findings, _looping_teacher) == {}
