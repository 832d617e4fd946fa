"""The blind sample scenario: a fourth set of incidents, objects and questions, scoreable and selectable by name."""

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
    out = tmp_path_factory.mktemp("blind") / "dump"
    generate_cluster(out, seed=7, size="small", scenario="blind")
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


def events(dump: Path, namespace: str, reason: str) -> list[dict]:
    return [e for e in items(dump, namespace, "events") if e["reason"] == reason]


def _scheduler_total(message: str) -> tuple[int, int]:
    """(N of '0/N nodes are available', the sum of the per-reason counts) of a FailedScheduling message."""
    head = message.split(". preemption:")[0]
    total = int(re.match(r"0/(\d+) nodes are available: ", head).group(1))
    return total, sum(int(n) for n in re.findall(r"(?:: |, )(\d+) ", head))


def test_same_seed_same_bytes_and_scenarios_differ(dump: Path, tmp_path: Path) -> None:
    generate_cluster(tmp_path / "again", seed=7, size="small", scenario="blind")
    files = sorted(p.relative_to(dump) for p in dump.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "again") for p in (tmp_path / "again").rglob("*") if p.is_file())
    assert all((dump / f).read_bytes() == (tmp_path / "again" / f).read_bytes() for f in files)
    generate_cluster(tmp_path / "other", seed=8, size=300, scenario="blind")
    assert (dump / "questions.jsonl").read_text() != (tmp_path / "other" / "questions.jsonl").read_text()
    assert "blind" in SCENARIOS and {"default", "heldout", "fresh"} <= set(SCENARIOS)


def test_enough_incidents_and_questions_all_with_facts(dump: Path) -> None:
    questions = questions_of(dump)
    assert len(questions) >= 18 and len({q["id"] for q in questions}) == len(questions)
    assert len({q["incident"] for q in questions}) >= 10
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


@pytest.mark.parametrize("other", ["default", "heldout", "fresh"])
def test_blind_incidents_do_not_reuse_the_other_scenarios(dump: Path, other: str) -> None:
    known = build_cluster(seed=7, scenario=other).questions
    blind = questions_of(dump)
    assert not {q.id for q in known} & {q["id"] for q in blind}
    assert not {q.incident for q in known} & {q["incident"] for q in blind}
    assert not {q.question for q in known} & {q["question"] for q in blind}
    known_objects = {(e.namespace, e.name) for q in known for e in q.evidence}
    known_phrases = {e.contains for q in known for e in q.evidence}
    known_namespaces = {e.namespace for q in known for e in q.evidence} - {None, "kube-system"}
    for question in blind:
        for evidence in question["evidence"]:
            assert (evidence["namespace"], evidence["name"]) not in known_objects, question["id"]
            assert evidence["contains"] not in known_phrases, question["id"]
            assert evidence["namespace"] not in known_namespaces, question["id"]


def test_controllers_and_scheduling_are_reported_the_kubernetes_way(dump: Path) -> None:
    nodes = {n["metadata"]["name"]: n for n in json.loads((dump / "nodes.json").read_text())["items"]}
    assert nodes["cpu-c-0"]["spec"]["unschedulable"] is True
    assert nodes["cpu-c-0"]["metadata"]["labels"]["topology.kubernetes.io/zone"] == "us-east-1c"
    assert {nodes[n]["metadata"]["labels"]["topology.kubernetes.io/zone"] for n in ("cpu-b-0", "cpu-b-1")} == {"us-east-1b"}
    everywhere = [p for ns in sorted(dump.iterdir()) if ns.is_dir() for p in items(dump, ns.name, "pods")]
    on_c0 = [p for p in everywhere if p["spec"].get("nodeName") == "cpu-c-0"]
    assert on_c0 and {p["metadata"]["ownerReferences"][0]["kind"] for p in on_c0} == {"DaemonSet"}  # drained

    (replica,) = [p for p in items(dump, "telemetry", "pods") if p["metadata"]["name"] == "timescaledb-2"]
    assert replica["status"]["phase"] == "Pending" and "nodeName" not in replica["spec"]
    assert replica["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] == "data-timescaledb-2"
    unscheduled = [e for e in events(dump, "telemetry", "FailedScheduling") if e["involvedObject"]["name"] == "timescaledb-2"]
    (zone,) = unscheduled
    total, counted = _scheduler_total(zone["message"])
    assert total == counted == len(nodes) and "2 node(s) were unschedulable" in zone["message"]
    assert f"{total} Preemption is not helpful for scheduling" in zone["message"]
    (scale_up,) = events(dump, "telemetry", "NotTriggerScaleUp")
    assert scale_up["source"]["component"] == "cluster-autoscaler"

    ports = events(dump, "observability", "FailedScheduling")
    assert len(ports) == 5  # the five CPU nodes where the old exporter runs
    for event in ports:
        total, counted = _scheduler_total(event["message"])
        assert total == counted == len(nodes)
        assert event["message"].startswith(f"0/{total} nodes are available: 1 node(s) didn't have free ports for the requested pod ports, ")
        assert "1 No preemption victims found for incoming pod" in event["message"]
    pending = [p for p in items(dump, "observability", "pods") if p["status"]["phase"] == "Pending"]
    assert len(pending) == 5 and all("nodeName" not in p["spec"] for p in pending)
    olds = [p for p in items(dump, "monitoring", "pods") if p["metadata"]["name"].startswith("node-exporter-")]
    assert sorted(p["spec"]["nodeName"] for p in olds) == ["cpu-0", "cpu-1", "cpu-b-0", "cpu-b-1", "cpu-c-0"]

    (active,) = events(dump, "crm", "JobAlreadyActive")
    assert active["involvedObject"]["kind"] == "CronJob" and active["involvedObject"]["apiVersion"] == "batch/v1"
    assert active["count"] == 2 and active["source"]["component"] == "cronjob-controller"
    (export,) = items(dump, "crm", "pods")
    assert export["status"]["phase"] == "Running" and export["metadata"]["ownerReferences"][0]["kind"] == "Job"
    assert export["metadata"]["ownerReferences"][0]["name"] in active["message"] or export["status"]["startTime"] < "2026-03-13"

    rejected = events(dump, "partner-portal", "FailedCreate")
    assert rejected and {e["involvedObject"]["kind"] for e in rejected} == {"ReplicaSet"}
    assert all('violates PodSecurity "restricted:latest"' in e["message"] for e in rejected)
    (deployment,) = items(dump, "partner-portal", "deployments")
    assert deployment["status"]["readyReplicas"] == 2  # the old pods keep running

    scaled = [e for e in events(dump, "inventory", "ScalingReplicaSet") if e["involvedObject"]["name"] == "stock-sync-worker"]
    assert [e["message"].split(" to ")[1] for e in scaled] == ["12 from 2"]
    workers = [p for p in items(dump, "inventory", "pods") if p["metadata"]["name"].startswith("stock-sync-worker-")]
    assert len(workers) == 12 and len({p["metadata"]["ownerReferences"][0]["name"] for p in workers}) == 1

    (cert,) = {e["involvedObject"]["apiVersion"] for e in items(dump, "helpdesk", "events") if e["involvedObject"]["kind"] == "Certificate"}
    assert cert == "cert-manager.io/v1"


def test_pods_nodes_and_logs_carry_the_incidents(dump: Path) -> None:
    nodes = {n["metadata"]["name"]: n for n in json.loads((dump / "nodes.json").read_text())["items"]}
    h6 = nodes["gpu-h100-6"]["status"]
    assert h6["allocatable"]["nvidia.com/gpu"] == "0" and h6["capacity"]["nvidia.com/gpu"] == "8"

    (jenkins,) = items(dump, "ci", "pods")
    assert jenkins["spec"]["nodeName"] == "cpu-b-0" and jenkins["status"]["phase"] == "Pending"
    assert jenkins["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "ContainerCreating"
    csi = [p for p in items(dump, "kube-system", "pods") if p["metadata"]["name"].startswith("ebs-csi-node-")]
    broken = {p["spec"]["nodeName"] for p in csi if p["status"]["containerStatuses"][0]["state"].get("waiting")}
    assert broken == {"cpu-b-0", "cpu-b-1"} and len(csi) == 5
    assert all(p["status"]["containerStatuses"][0]["lastState"]["terminated"]["exitCode"] == 2
               for p in csi if p["spec"]["nodeName"] in broken)

    (whisper,) = items(dump, "speech", "pods")
    last = whisper["status"]["containerStatuses"][0]["lastState"]["terminated"]
    assert last["reason"] == "StartError" and last["exitCode"] == 128 and "driver/library version mismatch" in last["message"]
    assert whisper["spec"]["nodeName"] == "gpu-h100-6"

    (backfill,) = items(dump, "merch-ml", "pods")
    assert backfill["status"]["phase"] == "Failed"
    resources = backfill["spec"]["containers"][0]["resources"]
    assert "nvidia.com/gpu" not in resources["requests"] and "nvidia.com/gpu" not in resources.get("limits", {})
    assert nodes[backfill["spec"]["nodeName"]]["status"]["allocatable"]["nvidia.com/gpu"] != "0"

    recs = [p for p in items(dump, "recommendations", "pods") if p["spec"]["containers"][0]["image"].endswith(":2.0.0")]
    (broken_recs,) = recs
    assert broken_recs["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert all(nodes[p["spec"]["nodeName"]]["metadata"]["labels"]["kubernetes.io/arch"] == "amd64" for p in recs)

    all_logs = "".join(p.read_text() for p in dump.glob("*/*/logs.txt"))
    for phrase in (
        "upstream sent too big header while reading response header from upstream",
        'pg_dump: dumping contents of table "public.activities"',
        "Existing mapping for [kubernetes.labels.app] must be of type object but found [text].",
        ("consumer poll timeout has expired. This means the time between subsequent calls to poll() was longer than the configured "
        "max.poll.interval.ms"),
        "max.poll.records = 500",
        "FATAL:  sorry, too many clients already",
        "exec /app/recs-api: exec format error",
        'level=info msg="Listening on" address=[::]:9100',
        "panic: error getting instance data from ec2 metadata or kubernetes api",
        "Failed to initialize NVML: ERROR_LIB_RM_VERSION_MISMATCH.",
        "RuntimeError: Found no NVIDIA driver on your system.",
        'Error getting SSL certificate "helpdesk/helpdesk-tls": local SSL certificate helpdesk/helpdesk-tls was not found.',
    ):
        assert phrase in all_logs, phrase


def test_blind_secrets_are_planted_for_redaction(dump: Path) -> None:
    everything = "".join(p.read_text() for p in dump.rglob("*") if p.is_file())
    values = planted_secrets(7).values()
    for kind in ("aws_access_key", "aws_secret_key", "url_password", "bearer_token", "jwt", "slack_webhook", "github_token", "openai_key"):
        assert values[kind] in everything, kind


def test_unknown_scenario_error_names_blind() -> None:
    with pytest.raises(ValueError, match="blind"):
        build_cluster(seed=1, scenario="blindfold")


def test_cli_scenario_blind(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "dump"
    args = ["--home", str(tmp_path / "home"), "samples", "cluster", "--out", str(out), "--size", "300", "--seed", "3"]
    assert main([*args, "--scenario", "blind"]) == 0
    text = (out / "questions.jsonl").read_text()
    assert "zone-1" in text and "drain-1" not in text and "oom-1" not in text and "rbac-1" not in text
    capsys.readouterr()
    assert main([*args, "--scenario", "deaf"]) == 2
    assert "blind" in " ".join(capsys.readouterr().err.split())
