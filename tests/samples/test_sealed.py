"""The sealed sample scenario: a fifth set of incidents, objects and questions, scoreable and selectable by name.

Like the scenario itself, these tests use nothing from the diagnosis, answering,
retrieval or evaluation code: a fact is stated when one of its `|` alternatives is a
case-insensitive substring (the rule `Question` documents).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kubetrainer.samples import blind, fresh, heldout, sealed
from kubetrainer.samples.cluster import build_cluster
from kubetrainer.samples.workloads import WORKLOADS

# before the import below: the shared checks' asserts then report their operands, as they did when inline here
pytest.register_assert_rewrite("tests.samples.scenario_checks")

from .scenario_checks import (  # noqa: E402
    all_pods,
    check_cli_scenario,
    check_enough_incidents_and_questions,
    check_evidence_and_facts_are_in_the_dump,
    check_logs_contain,
    check_questions_do_not_reuse,
    check_same_seed_same_bytes,
    check_secrets_are_planted,
    events,
    generate_dump,
    items,
    nodes_of,
    pods_named,
)

OTHERS = ("default", "heldout", "fresh", "blind")


@pytest.fixture(scope="module")
def dump(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_dump(tmp_path_factory, "sealed")


def test_same_seed_same_bytes_and_scenarios_differ(dump: Path, tmp_path: Path) -> None:
    check_same_seed_same_bytes(dump, tmp_path, "sealed", OTHERS)


def test_two_questions_per_incident_each_with_two_facts(dump: Path) -> None:
    check_enough_incidents_and_questions(dump, questions=18, incidents=9, facts=(2, 2), pairs=True)


def test_every_evidence_phrase_and_fact_is_in_the_dump_for_its_objects(dump: Path) -> None:
    check_evidence_and_facts_are_in_the_dump(dump)


@pytest.mark.parametrize("other", OTHERS)
def test_sealed_incidents_do_not_reuse_the_other_scenarios(dump: Path, other: str) -> None:
    check_questions_do_not_reuse(dump, other)


def test_sealed_workloads_and_namespaces_are_its_own() -> None:
    others = WORKLOADS + heldout.WORKLOADS + fresh.WORKLOADS + blind.WORKLOADS
    placed = sealed.WORKLOADS + (sealed._FEED_EXPORTER, sealed._FORECAST_TRAIN)
    assert not {w.namespace for w in placed} & {w.namespace for w in others}
    assert not {w.name for w in placed} & {w.name for w in others}


def test_incidents_are_reported_the_kubernetes_way(dump: Path) -> None:
    nodes = nodes_of(dump)
    assert nodes["cpu-5"]["status"]["nodeInfo"]["osImage"] == "Ubuntu 24.04.1 LTS"
    v100 = nodes["gpu-v100-2"]["metadata"]["labels"]
    assert v100["nvidia.com/cuda.driver-version.full"] == "470.223.02"
    assert v100["nvidia.com/cuda.runtime-version.full"] == "11.4"

    dns = pods_named(dump, "kube-system", "coredns-")
    (looping,) = [p for p in dns if p["status"]["containerStatuses"][0]["state"].get("waiting")]
    assert looping["spec"]["nodeName"] == "cpu-5"
    assert all(p["spec"]["nodeName"] != "cpu-5" for p in dns if p is not looping)
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

    exporters = pods_named(dump, "marketing", "feed-exporter-")
    evicted = [p for p in exporters if p["status"].get("reason") == "Evicted"]
    assert len(evicted) == len(exporters) - 1 and all(p["status"]["phase"] == "Failed" for p in evicted)
    assert {p["spec"]["containers"][0]["resources"]["limits"]["ephemeral-storage"] for p in exporters} == {"1Gi"}
    assert len(events(dump, "marketing", "Evicted")) == len(evicted)

    rejected = events(dump, "payouts", "FailedCreate")
    assert rejected and {e["involvedObject"]["kind"] for e in rejected} == {"ReplicaSet"}
    assert all(e["source"]["component"] == "replicaset-controller" for e in rejected)
    old = pods_named(dump, "payouts", "payout-scheduler-")
    assert len(old) == 2 and all(p["status"]["phase"] == "Running" for p in old)

    rerankers = {p["spec"]["nodeName"]: p for p in pods_named(dump, "ranking", "passage-")}
    assert set(rerankers) == {"gpu-h100-0", "gpu-v100-2"}
    assert rerankers["gpu-v100-2"]["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert rerankers["gpu-h100-0"]["status"]["containerStatuses"][0]["ready"] is True
    on_v100 = [p for p in all_pods(dump) if p["spec"].get("nodeName") == "gpu-v100-2"]
    assert {p["metadata"]["ownerReferences"][0]["kind"] for p in on_v100} == {"DaemonSet", "ReplicaSet"}

    (detector,) = pods_named(dump, "shelf-vision", "shelf-detector-")
    assert detector["spec"]["nodeName"] == "gpu-h100-1"
    assert nodes["gpu-h100-1"]["metadata"]["labels"]["nvidia.com/gpu.compute.major"] == "9"

    (trainer,) = pods_named(dump, "forecasting", "demand-forecast-train-")
    assert trainer["status"]["phase"] == "Failed" and trainer["metadata"]["ownerReferences"][0]["kind"] == "Job"
    assert trainer["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"

    meshed = items(dump, "underwriting", "pods")
    assert meshed and all([c["name"] for c in p["spec"]["containers"]] == ["app", "istio-proxy"] for p in meshed)

    check_logs_contain(dump, (
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
    ))


def test_sealed_secrets_are_planted_for_redaction(dump: Path) -> None:
    check_secrets_are_planted(dump, ("aws_access_key", "aws_secret_key", "url_password", "env_password",
                                     "bearer_token", "jwt", "slack_webhook", "github_token", "openai_key"))


def test_unknown_scenario_error_names_sealed() -> None:
    with pytest.raises(ValueError, match="sealed"):
        build_cluster(seed=1, scenario="sealant")


def test_cli_scenario_sealed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    check_cli_scenario(tmp_path, capsys, "sealed", "unsealed", ("loop-1",),
                       absent=("zone-1", "drain-1", "oom-1", "rbac-1"), count=None)
