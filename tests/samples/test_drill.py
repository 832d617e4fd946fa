"""The drill sample scenario: a seventh set of incidents, objects and questions, scoreable and selectable by name.

Like the scenario itself, these tests use nothing from the diagnosis, answering,
retrieval or evaluation code: a fact is stated when one of its `|` alternatives is a
case-insensitive substring (the rule `Question` documents).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kubetrainer.samples import blind, drill, fresh, heldout, sealed
from kubetrainer.samples.cluster import build_cluster
from kubetrainer.samples.workloads import WORKLOADS

# before the import below: the shared checks' asserts then report their operands, as they did when inline here
pytest.register_assert_rewrite("tests.samples.scenario_checks")

from .scenario_checks import (  # noqa: E402
    all_pods,
    check_cli_scenario,
    check_evidence_and_facts_are_in_the_dump,
    check_logs_contain,
    check_questions_do_not_reuse,
    check_same_seed_same_bytes,
    check_secrets_are_planted,
    check_ten_incidents_two_questions_each_with_two_facts,
    events,
    generate_dump,
    items,
    nodes_of,
    pods_named,
    scheduler_total,
)

OTHERS = ("default", "heldout", "fresh", "blind", "sealed")  # the ones drill must not reuse: not unseen
BEFORE = ("default", "heldout", "fresh", "blind", "sealed", "unseen", "reserve")  # the scenarios before drill


@pytest.fixture(scope="module")
def dump(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_dump(tmp_path_factory, "drill")


def test_same_seed_same_bytes_and_scenarios_differ(dump: Path, tmp_path: Path) -> None:
    check_same_seed_same_bytes(dump, tmp_path, "drill", BEFORE)


def test_two_questions_per_incident_each_with_two_facts(dump: Path) -> None:
    check_ten_incidents_two_questions_each_with_two_facts(dump)


def test_every_evidence_phrase_and_fact_is_in_the_dump_for_its_objects(dump: Path) -> None:
    check_evidence_and_facts_are_in_the_dump(dump)


@pytest.mark.parametrize("other", OTHERS)
def test_drill_incidents_do_not_reuse_the_other_scenarios(dump: Path, other: str) -> None:
    check_questions_do_not_reuse(dump, other)


def test_drill_workloads_and_namespaces_are_its_own() -> None:
    others = WORKLOADS + heldout.WORKLOADS + fresh.WORKLOADS + blind.WORKLOADS + sealed.WORKLOADS
    placed = drill.WORKLOADS + (drill._AWS_NODE, drill._CONFORMER, drill._CTR_FINETUNE)
    assert not ({w.namespace for w in placed} - {"kube-system"}) & {w.namespace for w in others}
    assert not {w.name for w in placed} & {w.name for w in others}
    other_nodes = {n["metadata"]["name"] for s in (heldout, fresh, blind, sealed) for n in s.scenario_nodes()}
    assert not set(drill._RESERVED) & other_nodes


def test_incidents_are_reported_the_kubernetes_way(dump: Path) -> None:
    nodes = nodes_of(dump)
    node_events = [e for e in items(dump, "default", "events") if e["involvedObject"]["kind"] == "Node"]
    assert all(
        "namespace" not in e["involvedObject"] and e["involvedObject"]["apiVersion"] == "v1" for e in node_events
    )

    # configmap-mount: the surge pod waits in ContainerCreating; the old ReplicaSet keeps serving
    (stuck,) = [p for p in pods_named(dump, "tickets", "seat-map-api-") if p["status"]["phase"] == "Pending"]
    status = stuck["status"]["containerStatuses"][0]
    assert status["state"]["waiting"]["reason"] == "ContainerCreating" and status["imageID"] == ""
    assert stuck["spec"]["nodeName"] == "cpu-1" and stuck["spec"]["containers"][0]["image"].endswith(":4.3.0")
    mounts = events(dump, "tickets", "FailedMount")
    assert mounts and all(
        e["type"] == "Warning" and e["source"] == {"component": "kubelet", "host": "cpu-1"} for e in mounts
    )
    serving = [p for p in pods_named(dump, "tickets", "seat-map-api-") if p["status"]["phase"] == "Running"]
    assert len(serving) == 3 and all(p["status"]["containerStatuses"][0]["ready"] for p in serving)
    assert {p["metadata"]["ownerReferences"][0]["name"] for p in serving} != {
        stuck["metadata"]["ownerReferences"][0]["name"]
    }

    # cni-ip-exhaustion: only the two new replicas and DaemonSets on the new node, none of them with an IP yet
    assert nodes["cpu-d-0"]["metadata"]["labels"]["topology.kubernetes.io/zone"] == "us-east-1d"
    on_new = [p for p in all_pods(dump) if p["spec"].get("nodeName") == "cpu-d-0"]
    assert {p["metadata"]["ownerReferences"][0]["kind"] for p in on_new} == {"DaemonSet", "ReplicaSet"}
    waiting = [p for p in on_new if p["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet"]
    assert len(waiting) == 2 and all(p["metadata"]["name"].startswith("telematics-ingest-") for p in waiting)
    assert all(p["status"]["phase"] == "Pending" for p in waiting)
    assert all(p["metadata"]["creationTimestamp"] > nodes["cpu-d-0"]["metadata"]["creationTimestamp"] for p in on_new)
    sandboxes = events(dump, "fleet", "FailedCreatePodSandBox")
    assert len(sandboxes) == 2 and all(e["source"]["host"] == "cpu-d-0" and e["count"] > 100 for e in sandboxes)
    aws = pods_named(dump, "kube-system", "aws-node-")
    assert sorted(p["spec"]["nodeName"] for p in aws) == ["cpu-0", "cpu-1", "cpu-d-0"]

    # rendezvous-timeout: an Indexed Job's two workers, never running at the same time
    workers = sorted(items(dump, "asr-research", "pods"), key=lambda p: p["metadata"]["name"])
    assert [p["metadata"]["name"][: len("conformer-pretrain-0")] for p in workers] == [
        "conformer-pretrain-0",
        "conformer-pretrain-1",
    ]
    assert all(
        p["metadata"]["ownerReferences"][0] | {"name": "-"}
        == {"apiVersion": "batch/v1", "kind": "Job", "name": "-", "controller": True}
        for p in workers
    )
    assert [p["spec"]["nodeName"] for p in workers] == ["gpu-h100-7", "gpu-h100-8"]
    ended = [p["status"]["containerStatuses"][0]["state"]["terminated"] for p in workers]
    assert all(p["status"]["phase"] == "Failed" for p in workers) and {t["exitCode"] for t in ended} == {1}
    assert ended[0]["finishedAt"] < ended[1]["startedAt"]
    assert nodes["gpu-h100-8"]["metadata"]["creationTimestamp"] == "2026-03-14T11:06:00Z"
    assert all(p["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "8" for p in workers)
    (failed_indexes,) = events(dump, "asr-research", "FailedIndexes")
    assert failed_indexes["involvedObject"]["apiVersion"] == "batch/v1" and failed_indexes["type"] == "Warning"

    # gpu-admission: the kubelet rejected two pods right after it restarted; two replacements run on the same node
    assert nodes["gpu-l40s-0"]["metadata"]["labels"]["nvidia.com/gpu.product"] == "NVIDIA-L40S"
    ocr = items(dump, "doc-ai", "pods")
    assert {p["spec"]["nodeName"] for p in ocr} == {"gpu-l40s-0"}
    rejected = [p for p in ocr if p["status"]["phase"] == "Failed"]
    assert len(rejected) == 2 and all(p["status"]["reason"] == "UnexpectedAdmissionError" for p in rejected)
    assert all(p["status"]["message"].startswith("Pod was rejected: Allocate failed due to") for p in rejected)
    assert sum(p["status"]["phase"] == "Running" and p["status"]["containerStatuses"][0]["ready"] for p in ocr) == 2
    restarted = [e for e in node_events if e["involvedObject"]["name"] == "gpu-l40s-0" and e["reason"] == "Starting"]
    assert (
        restarted
        and restarted[0]["message"] == "Starting kubelet."
        and restarted[0]["source"]["component"] == "kubelet"
    )
    assert all(e["source"]["component"] == "kubelet" for e in events(dump, "doc-ai", "UnexpectedAdmissionError"))

    # leader-election: both replicas restart, each after losing the Lease; the Lease's events alternate
    operators = items(dump, "searchops", "pods")
    assert len(operators) == 2
    for operator in operators:
        manager = operator["status"]["containerStatuses"][0]
        assert manager["restartCount"] >= 4 and manager["state"].get("running")
        assert manager["lastState"]["terminated"]["exitCode"] == 1
        assert "leader election lost" in manager["lastState"]["terminated"]["message"]
    leases = [e for e in items(dump, "searchops", "events") if e["involvedObject"]["kind"] == "Lease"]
    assert {e["involvedObject"]["apiVersion"] for e in leases} == {"coordination.k8s.io/v1"}
    assert {e["reason"] for e in leases} == {"LeaderElection"}
    became = [e for e in leases if e["message"].endswith(" became leader")]
    stopped = [e for e in leases if e["message"].endswith(" stopped leading")]
    assert len(became) == len(stopped) + 1 and len(stopped) >= 9
    restarts = sum(o["status"]["containerStatuses"][0]["restartCount"] for o in operators)
    assert restarts == len(stopped)

    # sysctl-forbidden: every pod of the new ReplicaSet is rejected by a kubelet, the old ones serve
    gateways = items(dump, "realtime", "pods")
    forbidden = [p for p in gateways if p["status"]["phase"] == "Failed"]
    assert len(forbidden) == 16 and len(gateways) == 19
    assert {p["status"]["reason"] for p in forbidden} == {"SysctlForbidden"}
    assert {p["status"]["message"] for p in forbidden} == {
        'Pod was rejected: forbidden sysctl: "net.core.somaxconn" not allowlisted'
    }
    assert len({p["metadata"]["ownerReferences"][0]["name"] for p in forbidden}) == 1
    created = [e for e in events(dump, "realtime", "SuccessfulCreate") if e["involvedObject"]["kind"] == "ReplicaSet"]
    assert sum(e["count"] for e in created) == len(forbidden)
    assert all(e["source"]["component"] == "kubelet" for e in events(dump, "realtime", "SysctlForbidden"))

    # pid-limit: the broken replica runs (no restart) but is not ready; memory is not the limit
    rates = items(dump, "clearing", "pods")
    fx = [p for p in rates if p["metadata"]["name"].startswith("fx-rates-service-")]
    assert {p["spec"]["containers"][0]["resources"]["limits"]["memory"] for p in fx} == {"2Gi"}
    assert sorted(p["status"]["containerStatuses"][0]["ready"] for p in fx) == [False, True]
    assert all(
        p["status"]["phase"] == "Running" and p["status"]["containerStatuses"][0]["restartCount"] == 0 for p in fx
    )
    assert all(e["type"] == "Warning" for e in events(dump, "clearing", "Unhealthy"))

    # kv-cache: the new replica crash-loops on one L4, the old one serves on the other
    llms = {p["spec"]["nodeName"]: p for p in pods_named(dump, "copilot", "support-llm-")}
    assert set(llms) == {"gpu-l4-0", "gpu-l4-1"}
    assert llms["gpu-l4-1"]["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert llms["gpu-l4-1"]["status"]["containerStatuses"][0]["lastState"]["terminated"]["exitCode"] == 1
    assert llms["gpu-l4-0"]["status"]["containerStatuses"][0]["ready"] is True
    assert {nodes[n]["metadata"]["labels"]["nvidia.com/gpu.product"] for n in llms} == {"NVIDIA-L4"}

    # gpu-preemption: the preemptor is a running bid-scorer pod; the fine-tune's replacement is unschedulable
    scorers = items(dump, "ads-serving", "pods")
    assert len(scorers) == 5 and {p["spec"]["nodeName"] for p in scorers} == {"gpu-a100-5"}
    (pending,) = items(dump, "ads-training", "pods")
    assert "nodeName" not in pending["spec"] and pending["status"]["phase"] == "Pending"
    (scheduled,) = [c for c in pending["status"]["conditions"] if c["type"] == "PodScheduled"]
    assert scheduled["status"] == "False" and scheduled["reason"] == "Unschedulable"
    preempted = sorted(events(dump, "ads-training", "Preempted"), key=lambda e: e["lastTimestamp"])
    assert len(preempted) == 2 and all(e["source"]["component"] == "default-scheduler" for e in preempted)
    latest = preempted[-1]["message"].split()[3]
    assert latest in {p["metadata"]["uid"] for p in scorers}
    assert all(e["involvedObject"]["name"] not in {p["metadata"]["name"] for p in all_pods(dump)} for e in preempted)
    for failing in events(dump, "ads-training", "FailedScheduling"):
        total, counted = scheduler_total(failing["message"])
        assert total == counted == len(nodes)
        assert "1 Insufficient nvidia.com/gpu" in failing["message"]

    # sidecar-order: the app container restarted once or twice, right at the start; the sidecar never did
    workers = pods_named(dump, "remittance", "transfer-worker-")
    assert len(workers) == 3
    for worker in workers:
        assert [c["name"] for c in worker["spec"]["containers"]] == ["app", "pgbouncer"]
        app, bouncer = worker["status"]["containerStatuses"]
        assert app["restartCount"] in (1, 2) and bouncer["restartCount"] == 0
        assert app["lastState"]["terminated"]["exitCode"] == 1
        assert "Connection refused" in app["lastState"]["terminated"]["message"]
        assert app["state"]["running"]["startedAt"] < "2026-03-14T09:42:00Z"

    check_logs_contain(dump, (
        "InsufficientFreeAddressesInSubnet: There are not enough free addresses in subnet 'subnet-0d4e7b2a91c3f8e65'",
        "DataStore has no available IP/Prefix addresses",
        "torch.distributed.elastic.rendezvous.api.RendezvousTimeoutError",
        "The connection to the C10d store has failed.",
        "inotify: /var/lib/kubelet/device-plugins/kubelet.sock created, restarting.",
        "Registered device plugin for 'nvidia.com/gpu' with Kubelet",
        "due to client-side throttling, not priority and fairness",
        "Maximum Processes Limit: 1024",
        "java.lang.OutOfMemoryError: unable to create native thread",
        "is larger than the maximum number of tokens that can be stored in KV cache (29648)",
        "Input prompt (",
        "Waiting for PostgreSQL backend to be accessible",
        "listening on 0.0.0.0:6432",
    ))


def test_drill_secrets_are_planted_for_redaction(dump: Path) -> None:
    check_secrets_are_planted(dump, ("aws_access_key", "aws_secret_key", "url_password", "env_password",
                                     "bearer_token", "jwt", "slack_webhook", "github_token", "openai_key"))


def test_unknown_scenario_error_names_drill() -> None:
    with pytest.raises(ValueError, match="drill"):
        build_cluster(seed=1, scenario="drills")


def test_cli_scenario_drill(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    check_cli_scenario(tmp_path, capsys, "drill", "dril", ("sysctl-1",), absent=("loop-1", "zone-1", "drain-1"),
                       count=None)
