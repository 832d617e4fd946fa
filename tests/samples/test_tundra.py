"""The tundra sample scenario: a tenth set of incidents, objects and questions, scoreable and selectable by name.

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
from kubetrainer.samples import tundra
from kubetrainer.samples.cluster import SCENARIOS, build_cluster, generate_cluster
from kubetrainer.samples.secrets import planted_secrets

BEFORE = ("default", "heldout", "fresh", "blind", "sealed", "unseen", "reserve", "drill", "vigil", "ember")


@pytest.fixture(scope="module")
def dump(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tundra") / "dump"
    generate_cluster(out, seed=7, size="small", scenario="tundra")
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
    generate_cluster(tmp_path / "again", seed=7, size="small", scenario="tundra")
    files = sorted(p.relative_to(dump) for p in dump.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "again") for p in (tmp_path / "again").rglob("*") if p.is_file())
    assert all((dump / f).read_bytes() == (tmp_path / "again" / f).read_bytes() for f in files)
    generate_cluster(tmp_path / "other", seed=8, size=300, scenario="tundra")
    assert (dump / "questions.jsonl").read_text() != (tmp_path / "other" / "questions.jsonl").read_text()
    # tundra is appended: the scenarios that were there keep their positions
    assert SCENARIOS[: len(BEFORE) + 1] == (*BEFORE, "tundra")


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
    first, second = build_cluster(seed=11, scenario="tundra"), build_cluster(seed=11, scenario="tundra")
    assert [q.to_json() for q in first.questions] == [q.to_json() for q in second.questions]
    assert first.events == second.events


@pytest.mark.parametrize("other", BEFORE)
def test_tundra_does_not_reuse_the_other_scenarios(dump: Path, other: str) -> None:
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
    own = tundra.WORKLOADS + tundra.PLACED
    shared_pod_namespaces = bool(({w.namespace for w in own} - {"kube-system"}) & {p.namespace for p in known.pods})
    shared_workloads = bool({w.name for w in own} & {p.workload.name for p in known.pods})
    assert not same_ids, f"a question id is shared with {other}"
    assert not same_incidents, f"an incident name is shared with {other}"
    assert not same_questions, f"a question is shared with {other}"
    assert not same_objects, f"an evidence object is shared with {other}"
    assert not same_phrases, f"an evidence phrase is shared with {other}"
    assert not same_namespaces, f"an evidence namespace is shared with {other}"
    assert not shared_pod_namespaces, f"a namespace of tundra's workloads has pods in {other}"
    assert not shared_workloads, f"a workload name is shared with {other}"


def test_every_namespace_in_the_dump_belongs_to_a_workload(dump: Path) -> None:
    from kubetrainer.samples.workloads import WORKLOADS

    known = {w.namespace for w in WORKLOADS + tundra.WORKLOADS + tundra.PLACED} | {"default"}
    assert {p.name for p in dump.iterdir() if p.is_dir()} <= known


def test_incidents_are_reported_the_kubernetes_way(dump: Path) -> None:
    nodes = nodes_of(dump)
    everywhere = [p for ns in sorted(dump.iterdir()) if ns.is_dir() for p in items(dump, ns.name, "pods")]
    all_logs = "".join(p.read_text() for p in dump.glob("*/*/logs.txt"))

    def env(pod: dict, container: int = 0) -> dict[str, str]:
        return {e["name"]: e["value"] for e in pod["spec"]["containers"][container].get("env", [])}

    def scheduling_message(namespace: str, name: str) -> str:
        (event,) = [e for e in events(dump, namespace, "FailedScheduling") if e["involvedObject"]["name"] == name]
        assert event["source"]["component"] == "default-scheduler" and event["type"] == "Warning"
        message = event["message"]
        assert message.startswith(f"0/{len(nodes)} nodes are available: ")  # one verdict per node
        found = message.split(": ", 1)[1].split(". preemption")[0]
        assert len(nodes) <= sum(int(part.split(" ", 1)[0]) for part in found.split(", "))
        return message

    # 1. ExternalDNS: the public instance assumes the staging role, the private one its own
    (public,) = pods_named(dump, "edge-dns", "external-dns-public-")
    (private,) = pods_named(dump, "edge-dns", "external-dns-private-")
    assert env(public)["AWS_ROLE_ARN"].endswith(":role/external-dns-staging-use1")
    assert env(private)["AWS_ROLE_ARN"].endswith(":role/external-dns-private-prod-use1")
    assert public["status"]["phase"] == "Running" and public["status"]["containerStatuses"][0]["ready"]

    # 2. auth-gateway: 8 pods on the racked nodes, 2 Pending; the r16 nodes have no rack label
    for name in tundra.BURST_NODES:
        assert "topology.acme.io/rack" not in nodes[name]["metadata"]["labels"]
        assert nodes[name]["metadata"]["creationTimestamp"] == "2026-03-14T08:40:00Z"
    for name, rack in tundra.RACK_NODES.items():
        assert nodes[name]["metadata"]["labels"]["topology.acme.io/rack"] == rack
    gateways = pods_named(dump, "card-auth", "auth-gateway-")
    assert len(gateways) == 10 and len({p["metadata"]["ownerReferences"][0]["name"] for p in gateways}) == 1
    placed = sorted(p["spec"]["nodeName"] for p in gateways if "nodeName" in p["spec"])
    assert placed == sorted(name for name in tundra.RACK_NODES for _ in range(2))
    pending = [p for p in gateways if "nodeName" not in p["spec"]]
    assert len(pending) == 2 and all(p["status"]["phase"] == "Pending" for p in pending)
    for pod in pending:
        message = scheduling_message("card-auth", pod["metadata"]["name"])
        assert "2 node(s) didn't match pod topology spread constraints (missing required label)" in message
        assert "4 Insufficient cpu" in message
    labelers = [p for p in items(dump, "bm-platform", "pods")]
    assert sorted(p["spec"]["nodeName"] for p in labelers) == sorted([*tundra.RACK_NODES, *tundra.BURST_NODES])

    # 3. Scylla: members 0-2 on the NVMe nodes, member 3 Pending on its unbound claim; the new node is smaller
    scylla = {p["metadata"]["name"]: p for p in pods_named(dump, "profile-store", "scylla-profiles-")}
    assert [scylla[f"scylla-profiles-{i}"]["spec"]["nodeName"] for i in range(3)] == list(tundra.NVME_NODES)
    member = scylla["scylla-profiles-3"]
    assert member["status"]["phase"] == "Pending" and "nodeName" not in member["spec"]
    assert member["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] == "data-scylla-profiles-3"
    assert "4 node(s) didn't find available persistent volumes to bind" in scheduling_message(
        "profile-store", "scylla-profiles-3")
    (waiting,) = events(dump, "profile-store", "WaitForFirstConsumer")
    assert waiting["involvedObject"]["kind"] == "PersistentVolumeClaim"
    assert waiting["source"]["component"] == "persistentvolume-controller"
    assert nodes[tundra.SMALL_NVME]["metadata"]["labels"]["node.kubernetes.io/instance-type"] == "i4i.2xlarge"
    assert all(nodes[n]["metadata"]["labels"]["node.kubernetes.io/instance-type"] == "i4i.4xlarge"
               for n in tundra.NVME_NODES)

    # 4. the sandbox job asks for no GPU, sets NVIDIA_VISIBLE_DEVICES=all and shares the node with the rerank pods
    (ablation,) = items(dump, "ds-sandbox", "pods")
    assert ablation["spec"]["nodeName"] == tundra.SANDBOX_NODE
    assert env(ablation)["NVIDIA_VISIBLE_DEVICES"] == "all"
    assert "nvidia.com/gpu" not in ablation["spec"]["containers"][0]["resources"]["requests"]
    rerank = pods_named(dump, "ranking-ml", "search-rerank-xl-")
    assert len(rerank) == 4 and {p["spec"]["nodeName"] for p in rerank} == {tundra.SANDBOX_NODE}
    assert all(p["spec"]["containers"][0]["resources"]["requests"]["nvidia.com/gpu"] == "1" for p in rerank)

    # 5. the containerd upgrade: one node reports it, runs the newer containerd, and its embedder has no GPU
    (restart,) = [e for e in items(dump, "default", "events") if e["reason"] == "ContainerdStart"]
    assert restart["involvedObject"] == {"kind": "Node", "name": tundra.RELOADED, "apiVersion": "v1"}
    assert restart["source"]["component"] == "systemd-monitor"
    runtimes = {name: node["status"]["nodeInfo"]["containerRuntimeVersion"] for name, node in nodes.items()}
    assert runtimes.pop(tundra.RELOADED) == "containerd://1.7.27" and set(runtimes.values()) == {"containerd://1.7.19"}
    embedders = pods_named(dump, "media-embed", "frame-embedder-")
    assert sorted(p["spec"]["nodeName"] for p in embedders) == sorted(tundra.A10G_NODES)
    assert all(p["status"]["phase"] == "Running" and p["status"]["containerStatuses"][0]["ready"] for p in embedders)

    # 6. the MPIJob: three workers on the Horovod nodes, worker-3 Pending, the launcher Job out of retries
    workers = {p["metadata"]["name"]: p for p in pods_named(dump, "vision-train", "detr-hvd-r50-worker-")}
    assert [workers[f"detr-hvd-r50-worker-{i}"]["spec"]["nodeName"] for i in range(3)] == list(tundra.HVD_NODES)
    assert all(p["metadata"]["ownerReferences"][0]["kind"] == "MPIJob" for p in workers.values())
    assert workers["detr-hvd-r50-worker-3"]["status"]["phase"] == "Pending"
    assert workers["detr-hvd-r50-worker-3"]["spec"]["containers"][0]["resources"]["requests"]["nvidia.com/gpu"] == "8"
    assert "Insufficient nvidia.com/gpu" in scheduling_message("vision-train", "detr-hvd-r50-worker-3")
    launchers = pods_named(dump, "vision-train", "detr-hvd-r50-launcher-")
    assert len(launchers) == 7 and all(p["status"]["phase"] == "Failed" for p in launchers)
    assert all(p["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 1 for p in launchers)
    (exhausted,) = events(dump, "vision-train", "BackoffLimitExceeded")
    assert exhausted["involvedObject"]["name"] == "detr-hvd-r50-launcher"

    # 7. the new ReplicaSet is refused by the Priority admission plugin; the old pods keep running
    refused = events(dump, "fraud-scoring", "FailedCreate")
    assert refused and {e["involvedObject"]["kind"] for e in refused} == {"ReplicaSet"}
    assert all("no PriorityClass with name business-critical was found" in e["message"] for e in refused)
    risk = pods_named(dump, "fraud-scoring", "txn-risk-scorer-")
    assert len(risk) == 3 and all(p["status"]["phase"] == "Running" for p in risk)

    # 8. claims-pg crash-loops in initdb on the node with hugepages; it requests none
    (pg,) = items(dump, "claims-intake", "pods")
    assert pg["spec"]["nodeName"] == tundra.HUGEPAGE_NODE
    status = pg["status"]["containerStatuses"][0]
    assert status["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert status["lastState"]["terminated"]["exitCode"] == 1
    assert "hugepages-2Mi" not in pg["spec"]["containers"][0]["resources"]["requests"]
    hugepage_node = nodes[tundra.HUGEPAGE_NODE]
    assert hugepage_node["status"]["allocatable"]["hugepages-2Mi"] == "16Gi"
    assert hugepage_node["metadata"]["labels"]["acme.io/tuning-profile"] == "dpdk-edge"
    assert not any("hugepages-2Mi" in n["status"]["allocatable"] for name, n in nodes.items()
                   if name != tundra.HUGEPAGE_NODE)

    # 9. Vault Agent: the new namespace's pods wait in their init container, the old ones run
    for pod in items(dump, "partner-billing", "pods"):
        assert pod["status"]["phase"] == "Pending"
        (init,) = pod["status"]["initContainerStatuses"]
        assert init["name"] == "vault-agent-init" and "running" in init["state"]
        assert {c["state"]["waiting"]["reason"] for c in pod["status"]["containerStatuses"]} == {"PodInitializing"}
    for pod in items(dump, "billing-core", "pods"):
        assert pod["status"]["phase"] == "Running"
        assert pod["status"]["initContainerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"

    # 10. the deploy job failed once, with Helm's error
    (deploy,) = pods_named(dump, "quoting", "quote-pricer-deploy-1187-")
    assert deploy["status"]["phase"] == "Failed" and deploy["spec"]["restartPolicy"] == "Never"
    assert deploy["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 1
    assert all(p["status"]["phase"] == "Running" for p in pods_named(dump, "quoting", "quote-pricer-")
               if p is not deploy and not p["metadata"]["name"].startswith("quote-pricer-deploy"))

    # the nodes that joined today carry only DaemonSet pods (and the pods of the incidents pinned there)
    for name in (*tundra.BURST_NODES, tundra.SMALL_NVME):
        kinds = {p["metadata"]["ownerReferences"][0]["kind"] for p in everywhere if p["spec"].get("nodeName") == name}
        assert kinds == {"DaemonSet"}, name

    for phrase in (
        "caused by: AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity",
        "no LLDP neighbor seen on uplink; not setting rack label",
        'Found new volume at host path "/mnt/fast-disks/nvme1n1" with capacity 1844115128320',
        "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate",
        "nvidia-smi failed (exit 255): Failed to initialize NVML: Unknown Error",
        "RuntimeError: No CUDA GPUs are available",
        "ssh: Could not resolve hostname detr-hvd-r50-worker-3.detr-hvd-r50.vision-train.svc: Name or service not known",
        "ORTE was unable to reliably start one or more daemons.",
        "message: 'pruned'\" application=gitops/platform-baseline kind=PriorityClass name=business-critical",
        "running bootstrap script ... Bus error (core dumped)",
        "vm.nr_hugepages = 8192",
        "  | * namespace not authorized",
        "agent.auth.handler: authentication successful, sending token to sinks",
        'no matches for kind "HorizontalPodAutoscaler" in version "autoscaling/v2beta2"',
    ):
        assert phrase in all_logs, phrase


def test_tundra_secrets_are_planted_for_redaction(dump: Path) -> None:
    everything = "".join(p.read_text() for p in dump.rglob("*") if p.is_file())
    values = planted_secrets(7).values()
    for kind in ("aws_access_key", "aws_secret_key", "url_password", "env_password", "bearer_token", "jwt",
                 "slack_webhook", "github_token", "openai_key", "google_api_key"):
        assert values[kind] in everything, kind
    questions = (dump / "questions.jsonl").read_text()
    assert not any(value in questions for value in values.values())


def test_unknown_scenario_error_names_tundra() -> None:
    with pytest.raises(ValueError, match="tundra"):
        build_cluster(seed=1, scenario="tundras")


def test_cli_scenario_tundra(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def args(out: Path) -> list[str]:
        return ["--home", str(tmp_path / "home"), "samples", "cluster", "--out", str(out), "--size", "300",
                "--seed", "3"]

    assert main([*args(tmp_path / "dump"), "--scenario", "tundra"]) == 0
    text = (tmp_path / "dump" / "questions.jsonl").read_text()
    ids = {json.loads(line)["id"] for line in text.splitlines()}
    assert "irsa-1" in ids and "helmapi-2" in ids and len(ids) == 20
    capsys.readouterr()
    assert main([*args(tmp_path / "other"), "--scenario", "tundras"]) == 2
    assert "tundra" in " ".join(capsys.readouterr().err.split())
