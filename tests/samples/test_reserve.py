"""The reserve sample scenario: an eighth set of incidents, objects and questions, written blind as a held-out set.

Like the scenario itself, these tests use nothing from the diagnosis, answering,
retrieval or evaluation code: a fact is stated when one of its `|` alternatives is a
case-insensitive substring (the rule `Question` documents).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kubetrainer.cli import main
from kubetrainer.samples import blind, drill, fresh, heldout, reserve, sealed, unseen
from kubetrainer.samples.cluster import SCENARIOS, build_cluster, generate_cluster
from kubetrainer.samples.secrets import planted_secrets
from kubetrainer.samples.workloads import WORKLOADS
from tests.samples.test_blind import events, items, questions_of

# test_drill's checks are scenario-agnostic (they read only the dump and the other scenarios); imported under
# names pytest does not collect, so they run here only against reserve's dump.
from tests.samples.test_drill import test_drill_incidents_do_not_reuse_the_other_scenarios as check_not_reused
from tests.samples.test_drill import (
    test_every_evidence_phrase_and_fact_is_in_the_dump_for_its_objects as check_evidence,
)
from tests.samples.test_drill import test_two_questions_per_incident_each_with_two_facts as check_questions_and_facts

OTHERS = ("default", "heldout", "fresh", "blind", "sealed", "unseen", "drill")
_PLACED = (reserve._BACKFILL, reserve._MIGRATE)


@pytest.fixture(scope="module")
def dump(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reserve") / "dump"
    generate_cluster(out, seed=7, size="small", scenario="reserve")
    return out


def pods_named(dump: Path, namespace: str, prefix: str) -> list[dict]:
    return [p for p in items(dump, namespace, "pods") if p["metadata"]["name"].startswith(prefix)]


def cpus(quantity: str) -> float:
    return float(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def logs(dump: Path, namespace: str, pod: dict) -> str:
    return (dump / namespace / pod["metadata"]["name"] / "logs.txt").read_text()


def test_same_seed_same_bytes_and_scenarios_differ(dump: Path, tmp_path: Path) -> None:
    generate_cluster(tmp_path / "again", seed=7, size="small", scenario="reserve")
    files = sorted(p.relative_to(dump) for p in dump.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "again") for p in (tmp_path / "again").rglob("*") if p.is_file())
    assert all((dump / f).read_bytes() == (tmp_path / "again" / f).read_bytes() for f in files)
    generate_cluster(tmp_path / "other", seed=8, size=300, scenario="reserve")
    assert (dump / "questions.jsonl").read_text() != (tmp_path / "other" / "questions.jsonl").read_text()
    # reserve sits just before drill (which stays last): the scenarios before it keep their positions
    assert SCENARIOS[: len(OTHERS) + 1] == (*OTHERS[:-1], "reserve", "drill")  # later scenarios are appended


def test_two_questions_per_incident_each_with_two_facts(dump: Path) -> None:
    check_questions_and_facts(dump)  # 20 questions, 10 incidents, 2 facts each, stated by the reference answer
    assert len({q["question"] for q in questions_of(dump)}) == 20


def test_every_evidence_phrase_and_fact_is_in_the_dump_for_its_objects(dump: Path) -> None:
    check_evidence(dump)


@pytest.mark.parametrize("other", OTHERS)
def test_reserve_incidents_do_not_reuse_the_other_scenarios(dump: Path, other: str) -> None:
    check_not_reused(dump, other)


def test_reserve_workloads_nodes_and_namespaces_are_its_own() -> None:
    others = (
        WORKLOADS
        + heldout.WORKLOADS
        + fresh.WORKLOADS
        + blind.WORKLOADS
        + sealed.WORKLOADS
        + unseen.WORKLOADS
        + drill.WORKLOADS
    )
    placed = reserve.WORKLOADS + _PLACED
    assert not ({w.namespace for w in placed} - {"kube-system"}) & {w.namespace for w in others}
    assert not {w.name for w in placed} & {w.name for w in others}
    other_nodes = {
        n["metadata"]["name"] for s in (heldout, fresh, blind, sealed, unseen, drill) for n in s.scenario_nodes()
    }
    assert not set(reserve._RESERVED) & other_nodes
    assert not {"cpu-h-0", "cpu-h-1"} & other_nodes


def test_incidents_are_reported_the_kubernetes_way(dump: Path) -> None:
    nodes = {n["metadata"]["name"]: n for n in json.loads((dump / "nodes.json").read_text())["items"]}
    node_events = [e for e in items(dump, "default", "events") if e["involvedObject"]["kind"] == "Node"]
    assert all(
        "namespace" not in e["involvedObject"] and e["involvedObject"]["apiVersion"] == "v1" for e in node_events
    )
    reserved = [
        p
        for ns in sorted(dump.iterdir())
        if ns.is_dir()
        for p in items(dump, ns.name, "pods")
        if p["spec"].get("nodeName") in reserve._RESERVED
    ]
    assert all(p["metadata"]["ownerReferences"][0]["kind"] in ("DaemonSet", "Job", "ReplicaSet") for p in reserved)

    # quota-exhausted: the surge pod is never created; the quota arithmetic adds up from the pods' requests
    ledger = items(dump, "rewards", "pods")
    running = [c for p in ledger if p["status"]["phase"] == "Running" for c in p["spec"]["containers"]]
    assert sum(cpus(c["resources"]["requests"]["cpu"]) for c in running) == 24
    backfill = [p for p in ledger if p["metadata"]["name"].startswith("tier-recalc-backfill-")]
    assert len(backfill) == 10 and {p["metadata"]["ownerReferences"][0]["apiVersion"] for p in backfill} == {"batch/v1"}
    points = [p for p in ledger if p["metadata"]["name"].startswith("points-ledger-")]
    assert len(points) == 3 and {p["spec"]["containers"][0]["image"] for p in points} == {
        "registry.example.com/rewards/points-ledger:7.4.0"
    }
    refused = events(dump, "rewards", "FailedCreate")
    assert refused and {e["involvedObject"]["kind"] for e in refused} == {"ReplicaSet"}
    assert all(e["type"] == "Warning" and e["source"]["component"] == "replicaset-controller" for e in refused)
    assert all(
        re.search(r'pods "points-ledger-\w{10}-\w{5}" is forbidden: exceeded quota', e["message"]) for e in refused
    )
    assert {e["involvedObject"]["name"] for e in refused} not in (
        {p["metadata"]["ownerReferences"][0]["name"]} for p in points
    )

    # webhook-unavailable: every admission controller pod was OOMKilled at 384Mi; the scale-up created nothing
    kyverno = pods_named(dump, "kyverno", "kyverno-admission-controller-")
    assert len(kyverno) == 3
    for pod in kyverno:
        status = pod["status"]["containerStatuses"][0]
        assert status["state"]["waiting"]["reason"] == "CrashLoopBackOff"
        assert status["lastState"]["terminated"]["reason"] == "OOMKilled"
        assert status["lastState"]["terminated"]["exitCode"] == 137
        assert pod["spec"]["containers"][0]["resources"]["limits"]["memory"] == "384Mi"
    ooms = [e for e in node_events if e["reason"] == "OOMKilling"]
    assert sorted(e["source"]["host"] for e in ooms) == sorted(p["spec"]["nodeName"] for p in kyverno)
    assert all(e["source"]["component"] == "kernel-monitor" and "(kyverno)" in e["message"] for e in ooms)
    assert len(pods_named(dump, "imaging", "thumb-renderer-")) == 4
    (webhook,) = events(dump, "imaging", "FailedCreate")
    assert webhook["message"].startswith("Error creating: Internal error occurred: failed calling webhook")

    # dns-search-expansion: twelve replicas; node-local-dns on their nodes times out on search-expanded names
    quotes = pods_named(dump, "freight", "quote-engine-")
    assert len(quotes) == 12 and len({p["metadata"]["ownerReferences"][0]["name"] for p in quotes}) == 1
    caches = {p["spec"]["nodeName"]: p for p in pods_named(dump, "kube-system", "node-local-dns-")}
    for node in {p["spec"]["nodeName"] for p in quotes}:
        text = logs(dump, "kube-system", caches[node])
        address = nodes[node]["status"]["addresses"][0]["address"]
        assert f"read udp {address}:" in text and ".ec2.internal. " in text

    # node-clock-skew: cpu-h-2 rebooted, NTPProblem is True there only; its session-api pod logs 4m12s behind
    conditions = {name: {c["type"]: c for c in node["status"]["conditions"]} for name, node in nodes.items()}
    ntp = [e for e in node_events if e["reason"] == "NTPIsDown"]
    assert [e["source"] for e in ntp] == [{"component": "ntp-custom-plugin-monitor", "host": "cpu-h-2"}]
    assert [name for name, c in conditions.items() if c["NTPProblem"]["status"] == "True"] == ["cpu-h-2"]
    assert conditions["cpu-h-2"]["NTPProblem"]["reason"] == "NTPIsDown"
    rebooted = [e for e in node_events if e["reason"] == "Rebooted"]
    assert len(rebooted) == 1 and nodes["cpu-h-2"]["status"]["nodeInfo"]["bootID"] in rebooted[0]["message"]
    sessions = {p["spec"]["nodeName"]: p for p in pods_named(dump, "member-auth", "session-api-")}
    skewed = sessions["cpu-h-2"]["status"]["containerStatuses"][0]
    assert skewed["restartCount"] == 1 and skewed["lastState"]["terminated"]["exitCode"] == 255
    for line in logs(dump, "member-auth", sessions["cpu-h-2"]).splitlines():
        if '"server_time"' in line:
            entry = json.loads(line)
            assert entry["iat"] - entry["server_time"] > 240

    # migration-lock-queue: the migration Job runs on; the report holds the lock; the app's queries are cancelled
    (migrate,) = pods_named(dump, "marketplace", "listing-api-db-migrate-")
    assert migrate["status"]["phase"] == "Running"
    (report,) = pods_named(dump, "marketplace", "seller-payouts-report-")
    nine_thirty = int(datetime(2026, 3, 14, 9, 30, tzinfo=UTC).timestamp()) // 60  # the CronJob's Job name suffix
    assert report["metadata"]["ownerReferences"][0]["name"] == f"seller-payouts-report-{nine_thirty}"
    db_log = logs(dump, "marketplace", pods_named(dump, "marketplace", "marketplace-db-")[0])
    assert db_log.count("still waiting for AccessShareLock") == db_log.count(
        "canceling statement due to statement timeout"
    )

    # rocm-arch-mismatch: three pods of today's Job failed on the MI300X node with SIGABRT; yesterday's succeeded
    ranking = items(dump, "search-ranking", "pods")
    failed = [p for p in ranking if p["status"]["phase"] == "Failed"]
    assert len(failed) == 3 and {p["spec"]["nodeName"] for p in failed} == {"amd-mi300x-5"}
    assert {p["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] for p in failed} == {134}
    (succeeded,) = [p for p in ranking if p["status"]["phase"] == "Succeeded"]
    assert succeeded["spec"]["nodeName"] == "amd-mi250x-3"
    assert {p["spec"]["containers"][0]["resources"]["limits"]["amd.com/gpu"] for p in ranking} == {"8"}
    assert nodes["amd-mi300x-5"]["metadata"]["creationTimestamp"] == reserve.MI300X_JOINED

    # readiness-route-removed: the surge pod runs without restarts but is not ready; the probe asks /ready
    services = pods_named(dump, "stays", "availability-svc-")
    (new,) = [p for p in services if p["spec"]["containers"][0]["image"].endswith(":2.9.0")]
    assert (
        new["status"]["containerStatuses"][0]["restartCount"] == 0
        and not new["status"]["containerStatuses"][0]["ready"]
    )
    assert new["spec"]["containers"][0]["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert sum(p["status"]["containerStatuses"][0]["ready"] for p in services) == 3

    # irsa-fallback: both dispatcher pods crash-loop, run as the default service account and carry no role env
    dispatchers = items(dump, "media-pipeline", "pods")
    assert len(dispatchers) == 2
    for pod in dispatchers:
        assert pod["spec"]["serviceAccountName"] == "default"
        assert not {"AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"} & {
            e["name"] for e in pod["spec"]["containers"][0]["env"]
        }
        assert pod["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "CrashLoopBackOff"

    # checkpoint-volume-full: the trainer and the janitor mount the same claim; both failed
    speech = items(dump, "speech-lab", "pods")
    assert {p["status"]["phase"] for p in speech} == {"Failed"}
    assert {v["persistentVolumeClaim"]["claimName"] for p in speech for v in p["spec"]["volumes"]} == {"speech-ckpt"}
    cron = [e for e in items(dump, "speech-lab", "events") if e["involvedObject"]["kind"] == "CronJob"]
    assert cron and {e["involvedObject"]["apiVersion"] for e in cron} == {"batch/v1"}

    # egress-policy: Flux's events are on the Kustomization; the old replica serves, the new one crash-loops
    flux = [e for e in items(dump, "genai", "events") if e["involvedObject"]["kind"] == "Kustomization"]
    assert {e["involvedObject"]["apiVersion"] for e in flux} == {"kustomize.toolkit.fluxcd.io/v1"}
    assert {e["source"]["component"] for e in flux} == {"kustomize-controller"}
    summarizers = pods_named(dump, "genai", "doc-summarizer-")
    assert sorted(p["status"]["containerStatuses"][0]["ready"] for p in summarizers) == [False, True]

    all_logs = "".join(p.read_text() for p in dump.glob("*/*/logs.txt"))
    for phrase in (
        "claimed member range",
        '"create kube client..." logger="setup.kube-client"',
        "[ERROR] plugin/errors: 2 ",
        "Read and execute 20260314093000/u",
        '"hipErrorNoBinaryForGpu: Unable to find code object for all current devices!"',
        "* Listening on http://0.0.0.0:3000",
        "Found credentials from IAM Role: eks-general-node-role",
        "RuntimeError: [enforce fail at inline_container.cc:595] . unexpected pos",
        "Error: DownloadError",
        "[DEP0040] DeprecationWarning",
    ):
        assert phrase in all_logs, phrase


def test_reserve_secrets_are_planted_for_redaction(dump: Path) -> None:
    everything = "".join(p.read_text() for p in dump.rglob("*") if p.is_file())
    values = planted_secrets(7).values()
    kinds = ("aws_access_key", "aws_secret_key", "url_password", "env_password", "bearer_token", "jwt", "slack_webhook")
    for kind in kinds + ("github_token", "openai_key", "google_api_key"):
        assert values[kind] in everything, kind


def test_unknown_scenario_error_names_reserve() -> None:
    with pytest.raises(ValueError, match="reserve"):
        build_cluster(seed=1, scenario="reserved")


def test_cli_scenario_reserve(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "dump"
    args = ["--home", str(tmp_path / "home"), "samples", "cluster", "--out", str(out), "--size", "300", "--seed", "3"]
    assert main([*args, "--scenario", "reserve"]) == 0
    text = (out / "questions.jsonl").read_text()
    assert "ledger-quota-1" in text and "sysctl-1" not in text and "mount-1" not in text
    capsys.readouterr()
    assert main([*args, "--scenario", "reserv"]) == 2
    assert "reserve" in " ".join(capsys.readouterr().err.split())
