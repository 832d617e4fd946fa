"""The fresh sample scenario: a third set of incidents, objects and questions, scoreable and selectable by name."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from kubetrainer.cli import main
from kubetrainer.evaluate.facts import states
from kubetrainer.samples.cluster import SCENARIOS, build_cluster, generate_cluster
from kubetrainer.samples.secrets import planted_secrets


@pytest.fixture(scope="module")
def dump(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fresh") / "dump"
    generate_cluster(out, seed=7, size="small", scenario="fresh")
    return out


def questions_of(dump: Path) -> list[dict]:
    return [json.loads(line) for line in (dump / "questions.jsonl").read_text().splitlines()]


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return []


def object_text(dump: Path, namespace: str | None, name: str) -> str:
    """Everything the dump says about one object: its events, its pod object, its logs, its node object."""
    parts: list[str] = []
    namespaces = [dump / namespace] if namespace else sorted(p for p in dump.iterdir() if p.is_dir())
    for directory in namespaces:
        for event in json.loads((directory / "events.json").read_text())["items"]:
            if event["involvedObject"]["name"] == name:
                parts += _strings(event)
        parts += [t for pod in json.loads((directory / "pods.json").read_text())["items"] if pod["metadata"]["name"] == name for t in _strings(pod)]
        if (directory / name / "logs.txt").is_file():
            parts.append((directory / name / "logs.txt").read_text())
    if namespace is None:
        parts += [t for node in json.loads((dump / "nodes.json").read_text())["items"] if node["metadata"]["name"] == name for t in _strings(node)]
    return "\n".join(parts)


def items(dump: Path, namespace: str, kind: str) -> list[dict]:
    return json.loads((dump / namespace / f"{kind}.json").read_text())["items"]


def test_same_seed_same_bytes_and_scenarios_differ(dump: Path, tmp_path: Path) -> None:
    generate_cluster(tmp_path / "again", seed=7, size="small", scenario="fresh")
    files = sorted(p.relative_to(dump) for p in dump.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "again") for p in (tmp_path / "again").rglob("*") if p.is_file())
    assert all((dump / f).read_bytes() == (tmp_path / "again" / f).read_bytes() for f in files)
    generate_cluster(tmp_path / "other", seed=8, size=300, scenario="fresh")
    assert (dump / "questions.jsonl").read_text() != (tmp_path / "other" / "questions.jsonl").read_text()
    assert "fresh" in SCENARIOS and {"default", "heldout"} <= set(SCENARIOS)


def test_enough_incidents_and_questions_all_with_facts(dump: Path) -> None:
    questions = questions_of(dump)
    assert len(questions) >= 16 and len({q["id"] for q in questions}) == len(questions)
    assert len({q["incident"] for q in questions}) >= 9
    for question in questions:
        assert question["question"] and question["answer"] and question["evidence"]
        assert 1 <= len(question["facts"]) <= 3, question["id"]
        for fact in question["facts"]:
            assert fact.strip() and len(fact) <= 80, (question["id"], fact)
            assert states(question["answer"], fact), (question["id"], fact)  # the reference answer states its own facts


def test_every_evidence_phrase_is_in_the_dump_for_its_object(dump: Path) -> None:
    for question in questions_of(dump):
        for evidence in question["evidence"]:
            text = object_text(dump, evidence["namespace"], evidence["name"])
            assert text, (question["id"], evidence["name"])
            assert evidence["contains"] in text, (question["id"], evidence)
            assert evidence["contains"].lower() not in question["question"].lower(), question["id"]


@pytest.mark.parametrize("other", ["default", "heldout"])
def test_fresh_incidents_do_not_reuse_the_other_scenarios(dump: Path, other: str) -> None:
    known = build_cluster(seed=7, scenario=other).questions
    fresh = questions_of(dump)
    assert not {q.id for q in known} & {q["id"] for q in fresh}
    assert not {q.incident for q in known} & {q["incident"] for q in fresh}
    assert not {q.question for q in known} & {q["question"] for q in fresh}
    known_objects = {(e.namespace, e.name) for q in known for e in q.evidence}
    known_phrases = {e.contains for q in known for e in q.evidence}
    known_namespaces = {e.namespace for q in known for e in q.evidence} - {None, "kube-system"}
    for question in fresh:
        for evidence in question["evidence"]:
            assert (evidence["namespace"], evidence["name"]) not in known_objects, question["id"]
            assert evidence["contains"] not in known_phrases, question["id"]
            assert evidence["namespace"] not in known_namespaces, question["id"]


def test_incidents_are_reported_the_kubernetes_way(dump: Path) -> None:
    nodes = {n["metadata"]["name"]: n for n in json.loads((dump / "nodes.json").read_text())["items"]}
    assert nodes["cpu-3"]["spec"]["unschedulable"] is True
    assert "node.kubernetes.io/unschedulable" in {t["key"] for t in nodes["cpu-3"]["spec"]["taints"]}
    zookeeper = {p["metadata"]["name"]: p for p in items(dump, "streaming", "pods")}
    assert zookeeper["zookeeper-1"]["spec"]["nodeName"] == "cpu-3"
    everywhere = [p for ns in sorted(dump.iterdir()) if ns.is_dir() for p in items(dump, ns.name, "pods")]
    on_cpu3 = [p for p in everywhere if p["spec"].get("nodeName") == "cpu-3"]
    owners = {p["metadata"]["ownerReferences"][0]["kind"] for p in on_cpu3 if p["metadata"]["name"] != "zookeeper-1"}
    assert owners == {"DaemonSet"}  # the drain evicted everything else

    analytics = items(dump, "analytics", "events")
    (deadline,) = [e for e in analytics if e["reason"] == "DeadlineExceeded"]
    assert deadline["involvedObject"]["kind"] == "Job" and deadline["involvedObject"]["apiVersion"] == "batch/v1"
    assert deadline["source"]["component"] == "job-controller" and deadline["type"] == "Warning"
    assert not items(dump, "analytics", "pods")  # the job controller deleted the pod

    thumbs = [p for p in items(dump, "media", "pods") if p["metadata"]["name"].startswith("thumbnailer-")]
    assert {p["status"]["containerStatuses"][0]["lastState"]["terminated"]["exitCode"] for p in thumbs} == {139}
    assert all(p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "CrashLoopBackOff" for p in thumbs)
    tokens = items(dump, "identity", "pods")
    assert {p["status"]["containerStatuses"][0]["lastState"]["terminated"]["exitCode"] for p in tokens} == {2}

    (rabbit,) = [p for p in items(dump, "messaging", "pods") if p["metadata"]["name"] == "rabbitmq-1"]
    assert rabbit["status"]["phase"] == "Pending" and rabbit["spec"]["nodeName"] == "cpu-1"
    assert rabbit["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "ContainerCreating"
    (attach,) = [e for e in items(dump, "messaging", "events") if e["reason"] == "FailedAttachVolume"]
    assert attach["source"]["component"] == "attachdetach-controller"
    volume = attach["message"].split('"')[1]
    assert volume.startswith("pvc-") and nodes["cpu-4"]["status"]["volumesAttached"]

    assert nodes["gpu-h100-4"]["status"]["allocatable"]["nvidia.com/gpu"] == "7"
    amd = nodes["amd-mi300x-1"]
    assert amd["status"]["allocatable"]["amd.com/gpu"] == "0" and amd["status"]["nodeInfo"]["kernelVersion"] == "6.8.0-1015-aws"
    folds = {p["metadata"]["name"][:13]: p for p in items(dump, "biosim", "pods")}
    assert folds["fold-screen-0"]["spec"]["nodeName"] == "amd-mi300x-0" and folds["fold-screen-1"]["status"]["phase"] == "Pending"
    (unscheduled,) = [e for e in items(dump, "biosim", "events") if e["reason"] == "FailedScheduling"]
    head = unscheduled["message"].split(". preemption:")[0]
    total = int(re.match(r"0/(\d+) nodes are available: ", head).group(1))
    assert total == len(nodes) and sum(int(n) for n in re.findall(r"(?:: |, )(\d+) ", head)) == total

    (pull,) = [p for p in items(dump, "growth", "pods") if p["spec"]["containers"][0]["image"].startswith("harbor.")]
    assert pull["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "ImagePullBackOff"
    assert "imagePullSecrets" not in pull["spec"]
    created = [e for e in items(dump, "notifications", "events") if e["reason"] == "FailedCreate"]
    assert created and created[0]["involvedObject"]["kind"] == "ReplicaSet" and "no endpoints available" in created[0]["message"]
    assert not any(p["metadata"]["name"].startswith("gatekeeper-controller-manager") for p in items(dump, "gatekeeper-system", "pods"))
    (database,) = [p for p in items(dump, "orders", "pods") if p["metadata"]["name"] == "orders-db-0"]
    assert database["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] == "data-orders-db-0"

    all_logs = "".join(p.read_text() for p in dump.glob("*/*/logs.txt"))
    for phrase in (
        "Cannot evict pod as it would violate the pod's disruption budget.",
        "Fatal Python error: Segmentation fault",
        "panic: runtime error: invalid memory address or nil pointer dereference",
        "accept4: too many open files",
        'could not extend file "base/16384/24673.3": No space left on device',
        'FATAL:  password authentication failed for user "loyalty_app"',
        "Changes detected in 'loyalty-db-credentials' of type 'SECRET' in namespace 'loyalty'",
        "RuntimeError: CUDA error: uncorrectable ECC error encountered",
        "XidCriticalError: Xid=48",
        "modprobe: FATAL: Module amdgpu not found in directory /lib/modules/6.8.0-1015-aws",
        "x509: certificate signed by unknown authority",
    ):
        assert phrase in all_logs, phrase


def test_fresh_secrets_are_planted_for_redaction(dump: Path) -> None:
    everything = "".join(p.read_text() for p in dump.rglob("*") if p.is_file())
    values = planted_secrets(7).values()
    for kind in ("aws_access_key", "aws_secret_key", "url_password", "bearer_token", "jwt", "slack_webhook"):
        assert values[kind] in everything, kind


def test_unknown_scenario_error_names_fresh() -> None:
    with pytest.raises(ValueError, match="fresh"):
        build_cluster(seed=1, scenario="freshest")


def test_cli_scenario_fresh(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "dump"
    args = ["--home", str(tmp_path / "home"), "samples", "cluster", "--out", str(out), "--size", "300", "--seed", "3"]
    assert main([*args, "--scenario", "fresh"]) == 0
    text = (out / "questions.jsonl").read_text()
    assert "drain-1" in text and "oom-1" not in text and "rbac-1" not in text
    capsys.readouterr()
    assert main([*args, "--scenario", "stale"]) == 2
    assert "fresh" in " ".join(capsys.readouterr().err.split())
