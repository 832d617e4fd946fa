"""The held-out sample scenario: other incidents, other objects, scoreable facts, selectable by name."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from kubetrainer.cli import main
from kubetrainer.evaluate.facts import states
from kubetrainer.samples.cluster import SCENARIOS, build_cluster, generate_cluster
from kubetrainer.samples.secrets import planted_secrets

# The default scenario's questions before facts were added (seed 0): id, question, answer,
# incident and evidence must stay exactly these. sha256 of the sorted-key JSON lines without "facts".
DEFAULT_IDS = ["oom-1", "oom-2", "config-1", "config-2", "image-1", "probe-1", "pvc-1", "cuda-1", "cuda-2", "dns-1",
               "cert-1", "pressure-1", "notready-1", "xid-1", "sched-1", "sched-2"]
DEFAULT_DIGEST = "fb92ab32b8dae03f013bcbe0a4364654b828a69c005184c2705c351ba04c861f"


@pytest.fixture(scope="module")
def dump(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("heldout") / "dump"
    generate_cluster(out, seed=7, size="small", scenario="heldout")
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


def test_same_seed_same_bytes_and_scenarios_differ(dump: Path, tmp_path: Path) -> None:
    generate_cluster(tmp_path / "again", seed=7, size="small", scenario="heldout")
    files = sorted(p.relative_to(dump) for p in dump.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "again") for p in (tmp_path / "again").rglob("*") if p.is_file())
    assert all((dump / f).read_bytes() == (tmp_path / "again" / f).read_bytes() for f in files)
    generate_cluster(tmp_path / "default", seed=7, size="small")
    assert (dump / "questions.jsonl").read_text() != (tmp_path / "default" / "questions.jsonl").read_text()
    assert SCENARIOS[:2] == ("default", "heldout")


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


def test_held_out_incidents_do_not_reuse_the_default_ones(dump: Path) -> None:
    default = build_cluster(seed=7)
    heldout = questions_of(dump)
    assert not {q.id for q in default.questions} & {q["id"] for q in heldout}
    assert not {q.question for q in default.questions} & {q["question"] for q in heldout}
    default_objects = {(e.namespace, e.name) for q in default.questions for e in q.evidence}
    default_phrases = {e.contains for q in default.questions for e in q.evidence}
    for question in heldout:
        for evidence in question["evidence"]:
            assert (evidence["namespace"], evidence["name"]) not in default_objects, question["id"]
            assert evidence["contains"] not in default_phrases, question["id"]


def test_incidents_are_reported_the_kubernetes_way(dump: Path) -> None:
    def items(namespace: str, kind: str) -> list[dict]:
        return json.loads((dump / namespace / f"{kind}.json").read_text())["items"]

    hpa = [e for e in items("search", "events") if e["involvedObject"]["kind"] == "HorizontalPodAutoscaler"]
    assert {e["reason"] for e in hpa} == {"FailedGetResourceMetric", "FailedComputeMetricsReplicas"}
    assert all(e["involvedObject"]["apiVersion"] == "autoscaling/v2" and e["source"]["component"] == "horizontal-pod-autoscaler" for e in hpa)
    quota = [e for e in items("ledger", "events") if e["reason"] == "FailedCreate"]
    assert quota[0]["involvedObject"]["kind"] == "ReplicaSet" and "is forbidden: exceeded quota: ledger-compute" in quota[0]["message"]
    ledger_api = next(d for d in items("ledger", "deployments") if d["metadata"]["name"] == "ledger-api")
    assert ledger_api["spec"]["replicas"] == 4 and ledger_api["status"]["readyReplicas"] == 2

    (worker,) = [p for p in items("billing", "pods") if p["metadata"]["name"].startswith("invoice-worker")]
    (init,) = worker["status"]["initContainerStatuses"]
    assert worker["status"]["phase"] == "Pending" and worker["spec"]["initContainers"][0]["name"] == "db-migrate"
    assert init["state"]["waiting"]["reason"] == "CrashLoopBackOff" and init["lastState"]["terminated"]["exitCode"] == 1
    assert worker["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "PodInitializing"
    logs = (dump / "billing" / worker["metadata"]["name"] / "logs.txt").read_text()
    assert logs.index("container db-migrate of pod") < logs.index("container app of pod")  # init containers first, like kubectl

    (indexer,) = [p for p in items("search", "pods") if p["metadata"]["name"].startswith("search-indexer")]
    assert indexer["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "CreateContainerConfigError"
    (notebook,) = [p for p in items("ml-research", "pods") if p["metadata"]["name"].startswith("vision-notebook")]
    assert notebook["status"]["phase"] == "Pending" and "nodeName" not in notebook["spec"]
    assert notebook["spec"]["containers"][0]["resources"]["requests"]["nvidia.com/mig-3g.40gb"] == "1"
    training = [p for p in items("ml-research", "pods") if p["metadata"]["name"].startswith("moe-pretrain-")]
    assert len(training) == 2 and {p["status"]["phase"] for p in training} == {"Failed"}
    assert {p["spec"]["nodeName"] for p in training} == {"gpu-h100-2", "gpu-h100-3"}

    nodes = {n["metadata"]["name"]: n for n in json.loads((dump / "nodes.json").read_text())["items"]}
    ntp = [c for c in nodes["cpu-2"]["status"]["conditions"] if c["type"] == "NTPProblem"]
    assert ntp and ntp[0]["status"] == "True" and ntp[0]["reason"] == "NTPIsDown"
    assert nodes["gpu-a100-mig-0"]["metadata"]["labels"]["nvidia.com/mig.config.state"] == "failed"

    renderer = [e for e in items("reporting", "events") if e["reason"] == "Killing"]
    assert renderer and renderer[0]["message"].endswith("failed liveness probe, will be restarted")
    all_logs = "".join(p.read_text() for p in dump.glob("*/*/logs.txt"))
    for phrase in (
        'is forbidden: User "system:serviceaccount:ops:db-backup-operator" cannot list resource "persistentvolumeclaims" in API group ""',
        "Watchdog caught collective operation timeout: WorkNCCL(SeqNum=48213, OpType=ALLREDUCE",
        "ran for 6000", "i/o timeout", "certificate is not yet valid", "bind: permission denied",
        "unsupported MIG Device specified 3g.40gb",
    ):
        assert phrase in all_logs, phrase


def test_held_out_secrets_are_planted_for_redaction(dump: Path) -> None:
    everything = "".join(p.read_text() for p in dump.rglob("*") if p.is_file())
    values = planted_secrets(7).values()
    for kind in ("aws_access_key", "aws_secret_key", "url_password", "bearer_token", "github_token", "slack_webhook"):
        assert values[kind] in everything, kind


def test_default_questions_are_unchanged_except_for_facts() -> None:
    questions = [q.to_json() for q in build_cluster(seed=0).questions]
    assert [q["id"] for q in questions] == DEFAULT_IDS
    assert all(set(q) == {"id", "question", "answer", "incident", "evidence", "facts"} for q in questions)
    for question in questions:
        assert 1 <= len(question["facts"]) <= 3 and all(states(question["answer"], fact) for fact in question["facts"]), question["id"]
    stripped = "".join(json.dumps({k: v for k, v in q.items() if k != "facts"}, sort_keys=True) + "\n" for q in questions)
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
