"""The held-out sample scenario: other incidents, other objects, scoreable facts, selectable by name."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from kubetrainer.cli import main
from kubetrainer.samples.cluster import build_cluster, generate_cluster

# before the import below: the shared checks' asserts then report their operands, as they did when inline here
pytest.register_assert_rewrite("tests.samples.scenario_checks")

from .scenario_checks import (  # noqa: E402
    check_enough_incidents_and_questions,
    check_evidence_is_in_the_dump,
    check_logs_contain,
    check_questions_do_not_reuse,
    check_same_seed_same_bytes,
    check_secrets_are_planted,
    events,
    generate_dump,
    items,
    logs_of,
    nodes_of,
    pods_named,
    stated,
)

# The default scenario's questions before facts were added (seed 0): id, question, answer,
# incident and evidence must stay exactly these. sha256 of the sorted-key JSON lines without "facts".
DEFAULT_IDS = ["oom-1", "oom-2", "config-1", "config-2", "image-1", "probe-1", "pvc-1", "cuda-1", "cuda-2", "dns-1",
               "cert-1", "pressure-1", "notready-1", "xid-1", "sched-1", "sched-2"]
DEFAULT_DIGEST = "fb92ab32b8dae03f013bcbe0a4364654b828a69c005184c2705c351ba04c861f"


@pytest.fixture(scope="module")
def dump(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_dump(tmp_path_factory, "heldout")


def test_same_seed_same_bytes_and_scenarios_differ(dump: Path, tmp_path: Path) -> None:
    check_same_seed_same_bytes(dump, tmp_path, "heldout", ("default",))
    generate_cluster(tmp_path / "default", seed=7, size="small")
    assert (dump / "questions.jsonl").read_text() != (tmp_path / "default" / "questions.jsonl").read_text()


def test_enough_incidents_and_questions_all_with_facts(dump: Path) -> None:
    check_enough_incidents_and_questions(dump, questions=16, incidents=9)


def test_every_evidence_phrase_is_in_the_dump_for_its_object(dump: Path) -> None:
    check_evidence_is_in_the_dump(dump)


def test_held_out_incidents_do_not_reuse_the_default_ones(dump: Path) -> None:
    check_questions_do_not_reuse(dump, "default")


def test_incidents_are_reported_the_kubernetes_way(dump: Path) -> None:
    hpa = [e for e in items(dump, "search", "events") if e["involvedObject"]["kind"] == "HorizontalPodAutoscaler"]
    assert {e["reason"] for e in hpa} == {"FailedGetResourceMetric", "FailedComputeMetricsReplicas"}
    assert all(e["involvedObject"]["apiVersion"] == "autoscaling/v2"
               and e["source"]["component"] == "horizontal-pod-autoscaler" for e in hpa)
    quota = events(dump, "ledger", "FailedCreate")
    assert quota[0]["involvedObject"]["kind"] == "ReplicaSet"
    assert "is forbidden: exceeded quota: ledger-compute" in quota[0]["message"]
    ledger_api = next(d for d in items(dump, "ledger", "deployments") if d["metadata"]["name"] == "ledger-api")
    assert ledger_api["spec"]["replicas"] == 4 and ledger_api["status"]["readyReplicas"] == 2

    (worker,) = pods_named(dump, "billing", "invoice-worker")
    (init,) = worker["status"]["initContainerStatuses"]
    assert worker["status"]["phase"] == "Pending" and worker["spec"]["initContainers"][0]["name"] == "db-migrate"
    assert init["state"]["waiting"]["reason"] == "CrashLoopBackOff" and init["lastState"]["terminated"]["exitCode"] == 1
    assert worker["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "PodInitializing"
    logs = logs_of(dump, "billing", worker["metadata"]["name"])
    # init containers first, like kubectl
    assert logs.index("container db-migrate of pod") < logs.index("container app of pod")

    (indexer,) = pods_named(dump, "search", "search-indexer")
    assert indexer["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "CreateContainerConfigError"
    (notebook,) = pods_named(dump, "ml-research", "vision-notebook")
    assert notebook["status"]["phase"] == "Pending" and "nodeName" not in notebook["spec"]
    assert notebook["spec"]["containers"][0]["resources"]["requests"]["nvidia.com/mig-3g.40gb"] == "1"
    training = pods_named(dump, "ml-research", "moe-pretrain-")
    assert len(training) == 2 and {p["status"]["phase"] for p in training} == {"Failed"}
    assert {p["spec"]["nodeName"] for p in training} == {"gpu-h100-2", "gpu-h100-3"}

    nodes = nodes_of(dump)
    ntp = [c for c in nodes["cpu-2"]["status"]["conditions"] if c["type"] == "NTPProblem"]
    assert ntp and ntp[0]["status"] == "True" and ntp[0]["reason"] == "NTPIsDown"
    assert nodes["gpu-a100-mig-0"]["metadata"]["labels"]["nvidia.com/mig.config.state"] == "failed"

    renderer = events(dump, "reporting", "Killing")
    assert renderer and renderer[0]["message"].endswith("failed liveness probe, will be restarted")
    check_logs_contain(dump, (
        ('is forbidden: User "system:serviceaccount:ops:db-backup-operator" '
         'cannot list resource "persistentvolumeclaims" in API group ""'),
        "Watchdog caught collective operation timeout: WorkNCCL(SeqNum=48213, OpType=ALLREDUCE",
        "ran for 6000", "i/o timeout", "certificate is not yet valid", "bind: permission denied",
        "unsupported MIG Device specified 3g.40gb",
    ))


def test_held_out_secrets_are_planted_for_redaction(dump: Path) -> None:
    check_secrets_are_planted(dump, ("aws_access_key", "aws_secret_key", "url_password", "bearer_token",
                                     "github_token", "slack_webhook"))


def test_default_questions_are_unchanged_except_for_facts() -> None:
    questions = [q.to_json() for q in build_cluster(seed=0).questions]
    assert [q["id"] for q in questions] == DEFAULT_IDS
    assert all(set(q) == {"id", "question", "answer", "incident", "evidence", "facts"} for q in questions)
    for question in questions:
        assert 1 <= len(question["facts"]) <= 3, question["id"]
        assert all(stated(question["answer"], fact) for fact in question["facts"]), question["id"]
    stripped = "".join(json.dumps({k: v for k, v in q.items() if k != "facts"}, sort_keys=True) + "\n"
                       for q in questions)
    assert hashlib.sha256(stripped.encode()).hexdigest() == DEFAULT_DIGEST


def test_unknown_scenario_is_a_value_error_naming_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="default, heldout"):
        build_cluster(seed=1, scenario="holdout")
    with pytest.raises(ValueError, match="unknown sample scenario"):
        generate_cluster(tmp_path / "x", seed=1, size=100, scenario="")
    assert not (tmp_path / "x").exists()


def test_cli_scenario_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "dump"
    args = ["--home", str(tmp_path / "home"), "samples", "cluster", "--out", str(out), "--size", "300", "--seed", "3"]
    assert main([*args, "--scenario", "heldout"]) == 0
    assert "rbac-1" in (out / "questions.jsonl").read_text() and "oom-1" not in (out / "questions.jsonl").read_text()
    assert main([*args, "--scenario", "default", "--force"]) == 0  # the same --out again: ours to replace
    assert "oom-1" in (out / "questions.jsonl").read_text()
    capsys.readouterr()
    assert main([*args, "--scenario", "production"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "--scenario" in err and "heldout" in err
