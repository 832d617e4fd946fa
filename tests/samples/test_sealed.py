"""The sealed sample scenario: a fifth set of incidents, objects and questions, scoreable and selectable by name.

Like the scenario itself, these tests use nothing from the diagnosis, answering,
retrieval or evaluation code: a fact is stated when one of its `|` alternatives is a
case-insensitive substring (the rule `Question` documents).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubetrainer.cli import main
from kubetrainer.samples import blind, fresh, heldout, sealed
from kubetrainer.samples.cluster import SCENARIOS, build_cluster, generate_cluster
from kubetrainer.samples.secrets import planted_secrets
from kubetrainer.samples.workloads import WORKLOADS
from tests.samples.test_blind import events, items, object_text, questions_of

OTHERS = ("default", "heldout", "fresh", "blind")


@pytest.fixture(scope="module")
def dump(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sealed") / "dump"
    generate_cluster(out, seed=7, size="small", scenario="sealed")
    return out


def stated(text: str, fact: str) -> bool:
    return any(alternative.strip().lower() in text.lower() for alternative in fact.split("|") if alternative.strip())


def test_same_seed_same_bytes_and_scenarios_differ(dump: Path, tmp_path: Path) -> None:
    generate_cluster(tmp_path / "again", seed=7, size="small", scenario="sealed")
    files = sorted(p.relative_to(dump) for p in dump.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "again") for p in (tmp_path / "again").rglob("*") if p.is_file())
    assert all((dump / f).read_bytes() == (tmp_path / "again" / f).read_bytes() for f in files)
    generate_cluster(tmp_path / "other", seed=8, size=300, scenario="sealed")
    assert (dump / "questions.jsonl").read_text() != (tmp_path / "other" / "questions.jsonl").read_text()
    assert "sealed" in SCENARIOS and set(OTHERS) <= set(SCENARIOS)


def test_two_questions_per_incident_each_with_two_facts(dump: Path) -> None:
    questions = questions_of(dump)
    assert len(questions) >= 18 and len({q["id"] for q in questions}) == len(questions)
    incidents = [q["incident"] for q in questions]
    assert len(set(incidents)) >= 9 and all(incidents.count(incident) == 2 for incident in incidents)
    for question in questions:
        assert question["question"] and question["answer"] and question["evidence"]
        assert len(question["facts"]) == 2, question["id"]
        for fact in question["facts"]:
            assert fact.strip() and len(fact) <= 80, (question["id"], fact)
            assert stated(question["answer"], fact), (question["id"], fact)  # the reference answer states its own facts


def test_every_evidence_phrase_and_fact_is_in_the_dump_for_its_objects(dump: Path) -> None:
    for question in questions_of(dump):
        texts = []
        for evidence in question["evidence"]:
            text = object_text(dump, evidence["namespace"], evidence["name"])
            assert text, (question["id"], evidence["name"])
            assert evidence["contains"] in text, (question["id"], evidence)
            assert evidence["contains"].lower() not in question["question"].lower(), question["id"]
            texts.append(text)
        for fact in question["facts"]:  # a grounded answer can state every fact from its evidence
            assert stated("\n".join(texts), fact), (question["id"], fact)


@pytest.mark.parametrize("other", OTHERS)
def test_sealed_incidents_do_not_reuse_the_other_scenarios(dump: Path, other: str) -> None:
    known = build_cluster(seed=7, scenario=other).questions
    sealed_questions = questions_of(dump)
    assert not {q.id for q in known} & {q["id"] for q in sealed_questions}
    assert not {q.incident for q in known} & {q["incident"] for q in sealed_questions}
    assert not {q.question for q in known} & {q["question"] for q in sealed_questions}
    known_objects = {(e.namespace, e.name) for q in known for e in q.evidence}
    known_phrases = {e.contains for q in known for e in q.evidence}
    known_namespaces = {e.namespace for q in known for e in q.evidence} - {None, "kube-system"}
    for question in sealed_questions:
        for evidence in question["evidence"]:
            assert (evidence["namespace"], evidence["name"]) not in known_objects, question["id"]
            assert evidence["contains"] not in known_phrases, question["id"]
            assert evidence["namespace"] not in known_namespaces, question["id"]


def test_sealed_workloads_and_namespaces_are_its_own() -> None:
    others = WORKLOADS + heldout.WORKLOADS + fresh.WORKLOADS + blind.WORKLOADS
    placed = sealed.WORKLOADS + (sealed._FEED_EXPORTER, sealed._FORECAST_TRAIN)
    assert not {w.namespace for w in placed} & {w.namespace for w in others}
    assert not {w.name for w in placed} & {w.name for w in others}


def test_incidents_are_reported_the_kubernetes_way(dump: Path) -> None:
    nodes = {n["metadata"]["name"]: n for n in json.loads((dump / "nodes.json").read_text())["items"]}
    assert nodes["cpu-5"]["status"]["nodeInfo"]["osImage"] == "Ubuntu 24.04.1 LTS"
    v100 = nodes["gpu-v100-2"]["metadata"]["labels"]
    assert v100["nvidia.com/cuda.driver-version.full"] == "470.223.02" and v100["nvidia.com/cuda.runtime-version.full"] == "11.4"

    dns = [p for p in items(dump, "kube-system", "pods") if p["metadata"]["name"].startswith("coredns-")]
    (looping,) = [p for p in dns if p["status"]["containerStatuses"][0]["state"].get("waiting")]
    assert looping["spec"]["nodeName"] == "cpu-5" and all(p["spec"]["nodeName"] != "cpu-5" for p in dns if p is not looping)
    assert looping["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    forming = events(dump, "kube-system", "DNSConfigForming")
    assert forming and all(e["type"] == "Warning" and e["source"]["host"] == "cpu-5" for e in forming)
    (coredns,) = [d for d in items(dump, "kube-system", "deployments") if d["metadata"]["name"] == "coredns"]
    assert coredns["status"]["readyReplicas"] == 1

    for adjudicator in items(dump, "claims", "pods"):
        if adjudicator["metadata"]["name"].startswith("claims-adjudicator-"):
            last = adjudicator["status"]["containerStatuses"][0]["lastState"]["terminated"]
            assert last["exitCode"] == 3 and last["reason"] != "OOMKilled"  # the JVM quit, not the kernel
            assert adjudicator["spec"]["containers"][0]["resources"]["limits"]["memory"] == "2Gi"

    exporters = [p for p in items(dump, "marketing", "pods") if p["metadata"]["name"].startswith("feed-exporter-")]
    evicted = [p for p in exporters if p["status"].get("reason") == "Evicted"]
    assert len(evicted) == len(exporters) - 1 and all(p["status"]["phase"] == "Failed" for p in evicted)
    assert {p["spec"]["containers"][0]["resources"]["limits"]["ephemeral-storage"] for p in exporters} == {"1Gi"}
    assert len(events(dump, "marketing", "Evicted")) == len(evicted)

    rejected = events(dump, "payouts", "FailedCreate")
    assert rejected and {e["involvedObject"]["kind"] for e in rejected} == {"ReplicaSet"}
    assert all(e["source"]["component"] == "replicaset-controller" for e in rejected)
    old = [p for p in items(dump, "payouts", "pods") if p["metadata"]["name"].startswith("payout-scheduler-")]
    assert len(old) == 2 and all(p["status"]["phase"] == "Running" for p in old)

    rerankers = {p["spec"]["nodeName"]: p for p in items(dump, "ranking", "pods") if p["metadata"]["name"].startswith("passage-")}
    assert set(rerankers) == {"gpu-h100-0", "gpu-v100-2"}
    assert rerankers["gpu-v100-2"]["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert rerankers["gpu-h100-0"]["status"]["containerStatuses"][0]["ready"] is True
    on_v100 = [p for ns in sorted(dump.iterdir()) if ns.is_dir() for p in items(dump, ns.name, "pods")
               if p["spec"].get("nodeName") == "gpu-v100-2"]
    assert {p["metadata"]["ownerReferences"][0]["kind"] for p in on_v100} == {"DaemonSet", "ReplicaSet"}

    (detector,) = [p for p in items(dump, "shelf-vision", "pods") if p["metadata"]["name"].startswith("shelf-detector-")]
    assert detector["spec"]["nodeName"] == "gpu-h100-1"
    assert nodes["gpu-h100-1"]["metadata"]["labels"]["nvidia.com/gpu.compute.major"] == "9"

    (trainer,) = [p for p in items(dump, "forecasting", "pods") if p["metadata"]["name"].startswith("demand-forecast-train-")]
    assert trainer["status"]["phase"] == "Failed" and trainer["metadata"]["ownerReferences"][0]["kind"] == "Job"
    assert trainer["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"

    meshed = items(dump, "underwriting", "pods")
    assert meshed and all([c["name"] for c in p["spec"]["containers"]] == ["app", "istio-proxy"] for p in meshed)

    all_logs = "".join(p.read_text() for p in dump.glob("*/*/logs.txt"))
    for phrase in (
        "Terminating due to java.lang.OutOfMemoryError: Java heap space",
        "OSError: [Errno 30] Read-only file system: '/tmp/contract-",
        '[FATAL] plugin/loop: Loop (127.0.0.1:',
        "(in server root dir /data) for saving: Permission denied",
        "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk.",
        "INFO:     Uvicorn running on http://127.0.0.1:8000 (Press CTRL+C to quit)",
        "Envoy proxy is ready",
        "expecting compute 9.0 got compute 8.6, please rebuild.",
        "error: creating server: Internal - failed to load all models",
        "RuntimeError: The NVIDIA driver on your system is too old (found version 11040).",
        "ERROR: Unexpected bus error encountered in worker. This might be caused by insufficient shared memory (shm).",
    ):
        assert phrase in all_logs, phrase


def test_sealed_secrets_are_planted_for_redaction(dump: Path) -> None:
    everything = "".join(p.read_text() for p in dump.rglob("*") if p.is_file())
    values = planted_secrets(7).values()
    for kind in ("aws_access_key", "aws_secret_key", "url_password", "env_password", "bearer_token", "jwt", "slack_webhook",
                 "github_token", "openai_key"):
        assert values[kind] in everything, kind


def test_unknown_scenario_error_names_sealed() -> None:
    with pytest.raises(ValueError, match="sealed"):
        build_cluster(seed=1, scenario="sealant")


def test_cli_scenario_sealed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "dump"
    args = ["--home", str(tmp_path / "home"), "samples", "cluster", "--out", str(out), "--size", "300", "--seed", "3"]
    assert main([*args, "--scenario", "sealed"]) == 0
    text = (out / "questions.jsonl").read_text()
    assert "loop-1" in text and "zone-1" not in text and "drain-1" not in text and "oom-1" not in text and "rbac-1" not in text
    capsys.readouterr()
    assert main([*args, "--scenario", "unsealed"]) == 2
    assert "sealed" in " ".join(capsys.readouterr().err.split())
