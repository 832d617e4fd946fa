"""The unseen sample scenario: a sixth set of incidents, objects and questions, scoreable and selectable by name.

Like the scenario itself, these tests use nothing from the diagnosis, answering,
retrieval or evaluation code: a fact is stated when one of its `|` alternatives is a
case-insensitive substring (the rule `Question` documents).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubetrainer.cli import main
from kubetrainer.samples import unseen
from kubetrainer.samples.cluster import SCENARIOS, build_cluster, generate_cluster
from kubetrainer.samples.secrets import planted_secrets
from tests.samples.test_blind import events, items, object_text, questions_of

OTHERS = ("default", "heldout", "fresh", "blind", "sealed")


@pytest.fixture(scope="module")
def dump(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("unseen") / "dump"
    generate_cluster(out, seed=7, size="small", scenario="unseen")
    return out


def stated(text: str, fact: str) -> bool:
    return any(alternative.strip().lower() in text.lower() for alternative in fact.split("|") if alternative.strip())


def pods_named(dump: Path, namespace: str, prefix: str) -> list[dict]:
    return [p for p in items(dump, namespace, "pods") if p["metadata"]["name"].startswith(prefix)]


def test_same_seed_same_bytes_and_scenarios_differ(dump: Path, tmp_path: Path) -> None:
    generate_cluster(tmp_path / "again", seed=7, size="small", scenario="unseen")
    files = sorted(p.relative_to(dump) for p in dump.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "again") for p in (tmp_path / "again").rglob("*") if p.is_file())
    assert all((dump / f).read_bytes() == (tmp_path / "again" / f).read_bytes() for f in files)
    generate_cluster(tmp_path / "other", seed=8, size=300, scenario="unseen")
    assert (dump / "questions.jsonl").read_text() != (tmp_path / "other" / "questions.jsonl").read_text()
    assert "unseen" in SCENARIOS and set(OTHERS) <= set(SCENARIOS)


def test_ten_incidents_two_questions_each_with_two_facts(dump: Path) -> None:
    questions = questions_of(dump)
    assert len(questions) == 20 and len({q["id"] for q in questions}) == len(questions)
    incidents = [q["incident"] for q in questions]
    assert len(set(incidents)) == 10 and all(incidents.count(incident) == 2 for incident in incidents)
    assert sum(len(q["evidence"]) > 1 for q in questions) >= 5  # some answers need two objects
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
def test_unseen_incidents_do_not_reuse_the_other_scenarios(dump: Path, other: str) -> None:
    known = build_cluster(seed=7, scenario=other).questions
    unseen_questions = questions_of(dump)
    assert not {q.id for q in known} & {q["id"] for q in unseen_questions}
    assert not {q.incident for q in known} & {q["incident"] for q in unseen_questions}
    assert not {q.question for q in known} & {q["question"] for q in unseen_questions}
    known_objects = {(e.namespace, e.name) for q in known for e in q.evidence}
    known_phrases = {e.contains for q in known for e in q.evidence}
    known_namespaces = {e.namespace for q in known for e in q.evidence} - {None, "kube-system"}
    for question in unseen_questions:
        for evidence in question["evidence"]:
            assert (evidence["namespace"], evidence["name"]) not in known_objects, question["id"]
            assert evidence["contains"] not in known_phrases, question["id"]
            assert evidence["namespace"] not in known_namespaces, question["id"]


@pytest.mark.parametrize("other", OTHERS)
def test_unseen_workloads_and_namespaces_are_its_own(other: str) -> None:
    """Against everything the other scenario places, its incidents' own workloads included."""
    pods = build_cluster(seed=7, scenario=other).pods
    own = unseen.WORKLOADS + unseen.PLACED
    assert not ({w.namespace for w in own} - {"kube-system"}) & {p.namespace for p in pods}
    assert not {w.name for w in own} & {p.workload.name for p in pods}


def test_incidents_are_reported_the_kubernetes_way(dump: Path) -> None:
    nodes = {n["metadata"]["name"]: n for n in json.loads((dump / "nodes.json").read_text())["items"]}
    for name in unseen.SPOT_NODES:
        assert nodes[name]["metadata"]["labels"]["eks.amazonaws.com/capacityType"] == "SPOT"
        on_spot = [p for ns in sorted(dump.iterdir()) if ns.is_dir() for p in items(dump, ns.name, "pods")
                   if p["spec"].get("nodeName") == name]
        running = [p for p in on_spot if p["status"]["phase"] == "Running"]
        assert {p["metadata"]["ownerReferences"][0]["kind"] for p in running} == {"DaemonSet"}
    stuck = [p for p in pods_named(dump, "adserving", "bid-router-") if p["status"]["phase"] == "Pending"]
    assert len(stuck) == 3 and {p["spec"]["nodeName"] for p in stuck} == set(unseen.SPOT_NODES)
    assert all(p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "ContainerCreating" for p in stuck)
    sandbox = events(dump, "adserving", "FailedCreatePodSandBox")
    assert len(sandbox) == 3 and all(e["type"] == "Warning" and e["source"]["component"] == "kubelet" for e in sandbox)

    primary, standby = sorted(pods_named(dump, "insights", "analytics-pg-"), key=lambda p: p["metadata"]["name"])
    assert standby["status"]["phase"] == "Running" and standby["status"]["containerStatuses"][0]["ready"]
    assert primary["metadata"]["creationTimestamp"] < standby["metadata"]["creationTimestamp"]  # the standby came back
    (deleted,) = events(dump, "insights", "SuccessfulDelete")
    assert deleted["involvedObject"]["kind"] == "StatefulSet" and standby["metadata"]["name"] in deleted["message"]

    (vllm,) = pods_named(dump, "assistant", "support-copilot-")
    assert vllm["spec"]["nodeName"] == "karpenter-a10g-0"
    status = vllm["status"]["containerStatuses"][0]
    assert status["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert status["lastState"]["terminated"]["exitCode"] == 1

    attempts = pods_named(dump, "product-ml", "attr-classifier-train-")
    assert len(attempts) == 2 and all(p["status"]["phase"] == "Failed" for p in attempts)
    assert {e["involvedObject"]["kind"] for e in events(dump, "product-ml", "BackoffLimitExceeded")} == {"Job"}

    assert not items(dump, "translation", "pods")  # preemption deleted the victim: only events are left of it
    (preempted,) = events(dump, "translation", "Preempted")
    assert preempted["source"]["component"] == "default-scheduler" and preempted["type"] == "Normal"
    victim = preempted["involvedObject"]
    assert victim["kind"] == "Pod" and victim["name"].startswith("nmt-distill-")
    asr = {p["metadata"]["uid"]: p for p in pods_named(dump, "voice", "realtime-asr-")}
    assert asr[preempted["message"].split()[3]]["spec"]["nodeName"] == "gpu-h100-1"
    assert {e["involvedObject"]["kind"] for e in events(dump, "translation", "BackoffLimitExceeded")} == {"Job"}
    gpus = {node: 0 for node in ("gpu-h100-0", "gpu-h100-1")}
    for pod in items(dump, "voice", "pods"):
        if pod["status"]["phase"] == "Running" and pod["spec"].get("nodeName") in gpus:
            requests = pod["spec"]["containers"][0]["resources"]["requests"]
            gpus[pod["spec"]["nodeName"]] += int(requests["nvidia.com/gpu"])
    assert gpus == {"gpu-h100-0": 8, "gpu-h100-1": 1}  # the full H100s that made preemption the only way in

    rejected = events(dump, "fraud", "FailedCreate")
    assert rejected and {e["involvedObject"]["kind"] for e in rejected} == {"ReplicaSet"}
    assert all(p["status"]["phase"] == "Running" for p in pods_named(dump, "fraud", "fraud-features-"))

    failed = [p for p in pods_named(dump, "markets", "tick-gateway-") if p["status"]["phase"] == "Failed"]
    assert len(failed) > 10 and {p["status"]["reason"] for p in failed} == {"SysctlForbidden"}
    assert len(events(dump, "markets", "SysctlForbidden")) == len(failed)

    (caller,) = pods_named(dump, "genomics", "variant-calling-")
    assert caller["status"]["phase"] == "Pending" and caller["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"]
    assert events(dump, "genomics", "VolumePermissionChangeInProgress")
    assert events(dump, "genomics", "SuccessfulAttachVolume")  # attached: the wait is the kubelet's, not the CSI's

    statuses = [p["status"]["containerStatuses"][0] for p in pods_named(dump, "maps", "tile-server-")]
    (crashing,) = [status for status in statuses if status["restartCount"]]
    assert crashing["lastState"]["terminated"]["exitCode"] == 101  # a Rust panic

    all_logs = "".join(p.read_text() for p in dump.glob("*/*/logs.txt"))
    for phrase in (
        "FATAL:  could not receive data from WAL stream: ERROR:  requested WAL segment 000000010000002A0000003F",
        "HINT:  Consider increasing the configuration parameter \"max_wal_size\".",
        "Storing keys in a directory '/home/app/.aspnet/DataProtection-Keys' that may not be persisted outside of the "
        "container.",
        "Cookies was not authenticated. Failure message: Unprotect ticket failed",
        "ValueError: The model's max seq len (131072) is larger than the maximum number of tokens",
        "PIL.UnidentifiedImageError: cannot identify image file '/data/catalog-images/2026-03/part-0117/",
        "InsufficientFreeAddressesInSubnet: The specified subnet does not have enough free addresses",
        "Number of files: 11,842,210 (reg: 11,790,118, dir: 52,092)",
        "failed to bind 0.0.0.0:80: Os { code: 13, kind: PermissionDenied, message: \"Permission denied\" }",
    ):
        assert phrase in all_logs, phrase


def test_unseen_secrets_are_planted_for_redaction(dump: Path) -> None:
    everything = "".join(p.read_text() for p in dump.rglob("*") if p.is_file())
    values = planted_secrets(7).values()
    for kind in ("aws_access_key", "aws_secret_key", "url_password", "env_password", "bearer_token", "jwt",
                 "slack_webhook", "github_token", "openai_key", "google_api_key"):
        assert values[kind] in everything, kind


def test_unknown_scenario_error_names_unseen() -> None:
    with pytest.raises(ValueError, match="unseen"):
        build_cluster(seed=1, scenario="unsent")


def test_cli_scenario_unseen(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def args(out: Path) -> list[str]:
        return ["--home", str(tmp_path / "home"), "samples", "cluster", "--out", str(out), "--size", "300",
                "--seed", "3"]

    assert main([*args(tmp_path / "dump"), "--scenario", "unseen"]) == 0
    text = (tmp_path / "dump" / "questions.jsonl").read_text()
    ids = {json.loads(line)["id"] for line in text.splitlines()}
    assert "wal-1" in ids and not {"loop-1", "zone-1", "drain-1", "rbac-1", "oom-1"} & ids
    capsys.readouterr()
    assert main([*args(tmp_path / "other"), "--scenario", "foreseen"]) == 2
    assert "unseen" in " ".join(capsys.readouterr().err.split())
