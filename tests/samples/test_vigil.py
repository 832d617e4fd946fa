"""The vigil sample scenario: a ninth set of incidents, objects and questions, scoreable and selectable by name.

Like the scenario itself, these tests use nothing from the diagnosis, answering,
retrieval or evaluation code (not even through other test modules): a fact is stated
when one of its `|` alternatives is a case-insensitive substring (the rule `Question`
documents). Checks against the other scenarios only ever report a category, never the
other scenario's content, since some of those are held out.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kubetrainer.samples import vigil
from kubetrainer.samples.cluster import build_cluster

# before the import below: the shared checks' asserts then report their operands, as they did when inline here
pytest.register_assert_rewrite("tests.samples.scenario_checks")

from .scenario_checks import (  # noqa: E402
    all_pods,
    check_cli_scenario,
    check_does_not_reuse,
    check_every_namespace_belongs_to_a_workload,
    check_evidence_and_facts_are_in_the_dump,
    check_logs_contain,
    check_same_seed_same_bytes,
    check_same_seed_same_questions_in_memory,
    check_secrets_are_planted,
    check_ten_incidents_two_questions_each_with_two_facts,
    events,
    generate_dump,
    items,
    nodes_of,
    pods_named,
)

BEFORE = ("default", "heldout", "fresh", "blind", "sealed", "unseen", "reserve", "drill")


@pytest.fixture(scope="module")
def dump(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_dump(tmp_path_factory, "vigil")


def test_same_seed_same_bytes_and_scenarios_differ(dump: Path, tmp_path: Path) -> None:
    check_same_seed_same_bytes(dump, tmp_path, "vigil", BEFORE)


def test_ten_incidents_two_questions_each_with_two_facts(dump: Path) -> None:
    check_ten_incidents_two_questions_each_with_two_facts(dump)


def test_every_evidence_phrase_and_fact_is_in_the_dump_for_its_objects(dump: Path) -> None:
    check_evidence_and_facts_are_in_the_dump(dump)


def test_the_same_seed_gives_the_same_questions_in_memory() -> None:
    check_same_seed_same_questions_in_memory("vigil")


@pytest.mark.parametrize("other", BEFORE)
def test_vigil_does_not_reuse_the_other_scenarios(dump: Path, other: str) -> None:
    check_does_not_reuse(dump, "vigil", vigil, other)


def test_every_namespace_in_the_dump_belongs_to_a_workload(dump: Path) -> None:
    check_every_namespace_belongs_to_a_workload(dump, vigil)


def test_incidents_are_reported_the_kubernetes_way(dump: Path) -> None:
    nodes = nodes_of(dump)
    for name in vigil.H200_NODES:
        assert nodes[name]["status"]["allocatable"]["nvidia.com/gpu"] == "8"
        assert nodes[name]["metadata"]["labels"]["nvidia.com/gpu.product"] == "NVIDIA-H200"
    orca = sorted(pods_named(dump, "llm-foundry", "orca-70b-pretrain-"), key=lambda p: p["metadata"]["name"])
    assert [p["spec"]["nodeName"] for p in orca] == list(vigil.H200_NODES)
    assert all(p["status"]["phase"] == "Failed" for p in orca)
    assert all(p["spec"]["containers"][0]["resources"]["requests"]["nvidia.com/gpu"] == "8" for p in orca)
    everywhere = all_pods(dump)
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
    hung = events(dump, "default", "TaskHung")
    assert hung and all(e["involvedObject"]["kind"] == "Node" and e["source"]["component"] == "kernel-monitor"
                        for e in hung)

    check_logs_contain(dump, (
        "Watchdog caught collective operation timeout: WorkNCCL(SeqNum=",
        "with status=12 opcode=0 len=0 vendor err 129 (Recv) hca mlx5_4",
        "ncclSystemError: System call (e.g. socket, malloc) or external library call failed or device error.",
        "Tesla T4 with CUDA capability sm_75 is not compatible with the current PyTorch installation.",
        "RuntimeError: CUDA error: no kernel image is available for execution on the device",
        "exceeded quota: ci-compute, requested: requests.cpu=2, used: requests.cpu=30500m, limited: requests.cpu=32",
        'org.postgresql.util.PSQLException: ERROR: prepared statement "S_',
        "Shutdown broker because all log dirs in /bitnami/kafka/data have failed",
        'Migrating schema "public" to version "57 - backfill entry hashes"',
    ))


def test_vigil_secrets_are_planted_for_redaction(dump: Path) -> None:
    check_secrets_are_planted(dump)


def test_unknown_scenario_error_names_vigil() -> None:
    with pytest.raises(ValueError, match="vigil"):
        build_cluster(seed=1, scenario="vigilant")


def test_cli_scenario_vigil(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    check_cli_scenario(tmp_path, capsys, "vigil", "vigils", ("ibrail-1", "pleg-2"))
