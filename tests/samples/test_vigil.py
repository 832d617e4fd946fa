"""The vigil sample scenario: a ninth set of incidents, objects and questions, scoreable and selectable by name.

Like the scenario itself, these tests use nothing from the diagnosis, answering,
retrieval or evaluation code (not even through other test modules): a fact is stated
when one of its `|` alternatives is a case-insensitive substring (the rule `Question`
documents). Checks against the other scenarios only ever report a category, never the
other scenario's content, since some of those are held out.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubetrainer.cli import main
from kubetrainer.samples import vigil
from kubetrainer.samples.cluster import SCENARIOS, build_cluster, generate_cluster
from kubetrainer.samples.secrets import planted_secrets

BEFORE = ("default", "heldout", "fresh", "blind", "sealed", "unseen", "reserve", "drill")


@pytest.fixture(scope="module")
def dump(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("vigil") / "dump"
    generate_cluster(out, seed=7, size="small", scenario="vigil")
    return out


def stated(text: str, fact: str) -> bool:
    return any(alternative.strip().lower() in text.lower() for alternative in fact.split("|") if alternative.strip())


def questions_of(dump: Path) -> list[dict]:
    return [json.loads(line) for line in (dump / "questions.jsonl").read_text().splitlines()]


def items(dump: Path, namespace: str, kind: str) -> list[dict]:
    return json.loads((dump / namespace / f"{kind}.json").read_text())["items"]


def events(dump: Path, namespace: str, reason: str) -> list[dict]:
    return [e for e in items(dump, namespace, "events") if e["reason"] == reason]


def pods_named(dump: Path, namespace: str, prefix: str) -> list[dict]:
    return [p for p in items(dump, namespace, "pods") if p["metadata"]["name"].startswith(prefix)]


def nodes_of(dump: Path) -> dict[str, dict]:
    return {n["metadata"]["name"]: n for n in json.loads((dump / "nodes.json").read_text())["items"]}


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return []


def object_text(dump: Path, namespace: str | None, name: str) -> str:
    """Everything the dump says about one object: its events, its pod object and logs, or its node object."""
    parts: list[str] = []
    directories = [dump / namespace] if namespace else sorted(p for p in dump.iterdir() if p.is_dir())
    for directory in directories:
        parts += [t for e in items(dump, directory.name, "events") if e["involvedObject"]["name"] == name
                  for t in _strings(e)]
        parts += [t for p in items(dump, directory.name, "pods") if p["metadata"]["name"] == name for t in _strings(p)]
        if (directory / name / "logs.txt").is_file():
            parts.append((directory / name / "logs.txt").read_text())
    if namespace is None:
        parts += [t for node in json.loads((dump / "nodes.json").read_text())["items"]
                  if node["metadata"]["name"] == name for t in _strings(node)]
    return "\n".join(parts)


def test_same_seed_same_bytes_and_scenarios_differ(dump: Path, tmp_path: Path) -> None:
    generate_cluster(tmp_path / "again", seed=7, size="small", scenario="vigil")
    files = sorted(p.relative_to(dump) for p in dump.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "again") for p in (tmp_path / "again").rglob("*") if p.is_file())
    assert all((dump / f).read_bytes() == (tmp_path / "again" / f).read_bytes() for f in files)
    generate_cluster(tmp_path / "other", seed=8, size=300, scenario="vigil")
    assert (dump / "questions.jsonl").read_text() != (tmp_path / "other" / "questions.jsonl").read_text()
    # vigil is appended: the scenarios that were there keep their positions
    assert SCENARIOS[: len(BEFORE) + 1] == (*BEFORE, "vigil")


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
            assert stated(question["answer"], fact), (question["id"], fact)  # the reference answer states its facts


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


def test_the_same_seed_gives_the_same_questions_in_memory() -> None:
    first, second = build_cluster(seed=11, scenario="vigil"), build_cluster(seed=11, scenario="vigil")
    assert [q.to_json() for q in first.questions] == [q.to_json() for q in second.questions]
    assert first.events == second.events


@pytest.mark.parametrize("other", BEFORE)
def test_vigil_does_not_reuse_the_other_scenarios(dump: Path, other: str) -> None:
    """Only booleans reach the assertions: a failure names the category, not the other scenario's content."""
    known = build_cluster(seed=7, scenario=other)
    mine = questions_of(dump)
    mine_evidence = [e for q in mine for e in q["evidence"]]
    same_ids = bool({q.id for q in known.questions} & {q["id"] for q in mine})
    same_incidents = bool({q.incident for q in known.questions} & {q["incident"] for q in mine})
    same_questions = bool({q.question for q in known.questions} & {q["question"] for q in mine})
    known_objects = {(e.namespace, e.name) for q in known.questions for e in q.evidence}
    known_phrases = {e.contains for q in known.questions for e in q.evidence}
    known_namespaces = {e.namespace for q in known.questions for e in q.evidence} - {None, "kube-system"}
    same_objects = any((e["namespace"], e["name"]) in known_objects for e in mine_evidence)
    same_phrases = any(e["contains"] in known_phrases for e in mine_evidence)
    same_namespaces = any(e["namespace"] in known_namespaces for e in mine_evidence)
    own = vigil.WORKLOADS + vigil.PLACED
    shared_pod_namespaces = bool(({w.namespace for w in own} - {"kube-system"}) & {p.namespace for p in known.pods})
    shared_workloads = bool({w.name for w in own} & {p.workload.name for p in known.pods})
    assert not same_ids, f"a question id is shared with {other}"
    assert not same_incidents, f"an incident name is shared with {other}"
    assert not same_questions, f"a question is shared with {other}"
    assert not same_objects, f"an evidence object is shared with {other}"
    assert not same_phrases, f"an evidence phrase is shared with {other}"
    assert not same_namespaces, f"an evidence namespace is shared with {other}"
    assert not shared_pod_namespaces, f"a namespace of vigil's workloads has pods in {other}"
    assert not shared_workloads, f"a workload name is shared with {other}"


def test_every_namespace_in_the_dump_belongs_to_a_workload(dump: Path) -> None:
    from kubetrainer.samples.workloads import WORKLOADS

    known = {w.namespace for w in WORKLOADS + vigil.WORKLOADS + vigil.PLACED} | {"default"}
    assert {p.name for p in dump.iterdir() if p.is_dir()} <= known


def test_incidents_are_reported_the_kubernetes_way(dump: Path) -> None:
    nodes = nodes_of(dump)
    for name in vigil.H200_NODES:
        assert nodes[name]["status"]["allocatable"]["nvidia.com/gpu"] == "8"
        assert nodes[name]["metadata"]["labels"]["nvidia.com/gpu.product"] == "NVIDIA-H200"
    orca = sorted(pods_named(dump, "llm-foundry", "orca-70b-pretrain-"), key=lambda p: p["metadata"]["name"])
    assert [p["spec"]["nodeName"] for p in orca] == list(vigil.H200_NODES)
    assert all(p["status"]["phase"] == "Failed" for p in orca)
    assert all(p["spec"]["containers"][0]["resources"]["requests"]["nvidia.com/gpu"] == "8" for p in orca)
    everywhere = [p for ns in sorted(dump.iterdir()) if ns.is_dir() for p in items(dump, ns.name, "pods")]
    on_h200 = [p for p in everywhere if p["spec"].get("nodeName") in vigil.H200_NODES]
    assert {p["metadata"]["ownerReferences"][0]["kind"] for p in on_h200} == {"DaemonSet", "Job"}
    ended = {p["spec"]["nodeName"]: p["status"]["containerStatuses"][0]["state"]["terminated"]["finishedAt"]
             for p in orca}
    assert ended[vigil.BAD_RAIL_NODE] == min(ended.values())  # the bad rail's node failed first, the rest timed out
    (failed_indexes,) = events(dump, "llm-foundry", "FailedIndexes")
    assert failed_indexes["involvedObject"]["kind"] == "Job"
    assert failed_indexes["source"]["component"] == "job-controller"

    sam = pods_named(dump, "seg-research", "sam2-hq-finetune-")
    assert len(sam) == 3 and all(p["status"]["phase"] == "Failed" for p in sam)
    assert all(p["spec"]["nodeName"] == "gpu-h100-1" and "volumes" not in p["spec"] for p in sam)  # no /dev/shm mount
    gpu_h100_1 = [p for p in everywhere if p["spec"].get("nodeName") == "gpu-h100-1"
                  and p["metadata"]["ownerReferences"][0]["kind"] != "DaemonSet"]
    assert {p["metadata"]["name"] for p in gpu_h100_1} == {p["metadata"]["name"] for p in sam}

    captions = pods_named(dump, "alt-text", "alt-caption-infer-")
    crashing = [p for p in captions if p["status"]["containerStatuses"][0]["state"].get("waiting")]
    assert len(crashing) == 1 and crashing[0]["spec"]["nodeName"] == vigil.T4_NODE
    assert crashing[0]["status"]["containerStatuses"][0]["lastState"]["terminated"]["exitCode"] == 3  # uvicorn
    assert {p["spec"]["nodeName"] for p in captions if p not in crashing} == {"karpenter-a10g-0"}
    assert nodes[vigil.T4_NODE]["metadata"]["labels"]["nvidia.com/gpu.compute.major"] == "7"

    k6 = pods_named(dump, "gitlab-ci", "k6-checkout-soak-")
    runner_requests = [p["spec"]["containers"][0]["resources"]["requests"]["cpu"]
                       for p in pods_named(dump, "gitlab-ci", "gitlab-runner-shared-")]
    assert len(k6) == 14 and runner_requests == ["500m"]
    assert all(p["spec"]["containers"][0]["resources"]["requests"]["cpu"] == "2" for p in k6)  # 14 x 2 + 0.5 = 30.5

    (kyverno,) = items(dump, "platform-policy", "pods")
    last = kyverno["status"]["containerStatuses"][0]["lastState"]["terminated"]
    assert last["reason"] == "OOMKilled" and last["exitCode"] == 137
    rejected = events(dump, "fx-pricing", "FailedCreate")
    assert rejected and {e["involvedObject"]["kind"] for e in rejected} == {"ReplicaSet"}
    assert all(p["status"]["phase"] == "Running" for p in items(dump, "fx-pricing", "pods"))

    (bouncer,) = pods_named(dump, "consumer-lending", "loans-pgbouncer-")
    env = {e["name"]: e["value"] for e in bouncer["spec"]["containers"][0]["env"]}
    assert env["PGBOUNCER_POOL_MODE"] == "transaction"

    brokers = {p["metadata"]["name"]: p for p in pods_named(dump, "web-analytics", "clicks-kafka-")}
    assert sorted(brokers) == ["clicks-kafka-0", "clicks-kafka-1", "clicks-kafka-2"]
    status = brokers["clicks-kafka-2"]["status"]["containerStatuses"][0]
    assert status["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert status["lastState"]["terminated"]["exitCode"] == 1
    assert all(brokers[n]["status"]["containerStatuses"][0]["ready"] for n in ("clicks-kafka-0", "clicks-kafka-1"))

    ledger = [p for p in pods_named(dump, "treasury-core", "gl-ledger-")
              if p["spec"]["containers"][0]["image"].endswith(":7.3.0")]
    (new,) = ledger
    assert new["status"]["containerStatuses"][0]["lastState"]["terminated"]["exitCode"] == 143
    killed = [e for e in events(dump, "treasury-core", "Killing")
              if e["involvedObject"]["name"] == new["metadata"]["name"]]
    assert killed and killed[0]["count"] == new["status"]["containerStatuses"][0]["restartCount"]

    hpa = [e for e in items(dump, "product-discovery", "events")
           if e["involvedObject"]["kind"] == "HorizontalPodAutoscaler"]
    assert {e["reason"] for e in hpa} == {"FailedGetResourceMetric", "FailedComputeMetricsReplicas"}
    assert all(e["involvedObject"]["apiVersion"] == "autoscaling/v2" and e["type"] == "Warning" for e in hpa)
    for pod in items(dump, "product-discovery", "pods"):
        assert "cpu" not in pod["spec"]["containers"][0]["resources"]["requests"]

    stalled = nodes[vigil.STALLED_NODE]
    (ready,) = [c for c in stalled["status"]["conditions"] if c["type"] == "Ready"]
    assert ready["status"] == "False" and ready["reason"] == "KubeletNotReady"
    assert {t["effect"] for t in stalled["spec"]["taints"]} == {"NoSchedule", "NoExecute"}
    on_stalled = [p for p in everywhere if p["spec"].get("nodeName") == vigil.STALLED_NODE]
    assert {p["metadata"]["ownerReferences"][0]["kind"] for p in on_stalled} == {"DaemonSet", "ReplicaSet"}
    geocoders = pods_named(dump, "geo-services", "address-geocoder-")
    assert len(geocoders) == 5 and len({p["metadata"]["ownerReferences"][0]["name"] for p in geocoders}) == 1
    evicted = events(dump, "geo-services", "TaintManagerEviction")
    assert len(evicted) == 2 and all(e["source"]["component"] == "taint-eviction-controller" for e in evicted)
    hung = [e for e in items(dump, "default", "events") if e["reason"] == "TaskHung"]
    assert hung and all(e["involvedObject"]["kind"] == "Node" and e["source"]["component"] == "kernel-monitor"
                        for e in hung)

    all_logs = "".join(p.read_text() for p in dump.glob("*/*/logs.txt"))
    for phrase in (
        "Watchdog caught collective operation timeout: WorkNCCL(SeqNum=",
        "with status=12 opcode=0 len=0 vendor err 129 (Recv) hca mlx5_4",
        "ncclSystemError: System call (e.g. socket, malloc) or external library call failed or device error.",
        "Tesla T4 with CUDA capability sm_75 is not compatible with the current PyTorch installation.",
        "RuntimeError: CUDA error: no kernel image is available for execution on the device",
        "exceeded quota: ci-compute, requested: requests.cpu=2, used: requests.cpu=30500m, limited: requests.cpu=32",
        'org.postgresql.util.PSQLException: ERROR: prepared statement "S_',
        "Shutdown broker because all log dirs in /bitnami/kafka/data have failed",
        'Migrating schema "public" to version "57 - backfill entry hashes"',
    ):
        assert phrase in all_logs, phrase


def test_vigil_secrets_are_planted_for_redaction(dump: Path) -> None:
    everything = "".join(p.read_text() for p in dump.rglob("*") if p.is_file())
    values = planted_secrets(7).values()
    for kind in ("aws_access_key", "aws_secret_key", "url_password", "env_password", "bearer_token", "jwt",
                 "slack_webhook", "github_token", "openai_key", "google_api_key"):
        assert values[kind] in everything, kind
    questions = (dump / "questions.jsonl").read_text()
    assert not any(value in questions for value in values.values())


def test_unknown_scenario_error_names_vigil() -> None:
    with pytest.raises(ValueError, match="vigil"):
        build_cluster(seed=1, scenario="vigilant")


def test_cli_scenario_vigil(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def args(out: Path) -> list[str]:
        return ["--home", str(tmp_path / "home"), "samples", "cluster", "--out", str(out), "--size", "300",
                "--seed", "3"]

    assert main([*args(tmp_path / "dump"), "--scenario", "vigil"]) == 0
    text = (tmp_path / "dump" / "questions.jsonl").read_text()
    ids = {json.loads(line)["id"] for line in text.splitlines()}
    assert "ibrail-1" in ids and "pleg-2" in ids and len(ids) == 20
    capsys.readouterr()
    assert main([*args(tmp_path / "other"), "--scenario", "vigils"]) == 2
    assert "vigil" in " ".join(capsys.readouterr().err.split())
