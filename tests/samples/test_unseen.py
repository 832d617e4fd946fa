"""The unseen sample scenario: a sixth set of incidents, objects and questions, scoreable and selectable by name.

Like the scenario itself, these tests use nothing from the diagnosis, answering,
retrieval or evaluation code: a fact is stated when one of its `|` alternatives is a
case-insensitive substring (the rule `Question` documents).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kubetrainer.samples import unseen
from kubetrainer.samples.cluster import build_cluster

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
    check_workloads_do_not_reuse,
    events,
    generate_dump,
    items,
    nodes_of,
    pods_named,
)

OTHERS = ("default", "heldout", "fresh", "blind", "sealed")


@pytest.fixture(scope="module")
def dump(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_dump(tmp_path_factory, "unseen")


def test_same_seed_same_bytes_and_scenarios_differ(dump: Path, tmp_path: Path) -> None:
    check_same_seed_same_bytes(dump, tmp_path, "unseen", OTHERS)


def test_ten_incidents_two_questions_each_with_two_facts(dump: Path) -> None:
    check_ten_incidents_two_questions_each_with_two_facts(dump)


def test_every_evidence_phrase_and_fact_is_in_the_dump_for_its_objects(dump: Path) -> None:
    check_evidence_and_facts_are_in_the_dump(dump)


@pytest.mark.parametrize("other", OTHERS)
def test_unseen_incidents_do_not_reuse_the_other_scenarios(dump: Path, other: str) -> None:
    check_questions_do_not_reuse(dump, other)


@pytest.mark.parametrize("other", OTHERS)
def test_unseen_workloads_and_namespaces_are_its_own(other: str) -> None:
    check_workloads_do_not_reuse("unseen", unseen, other)


def test_incidents_are_reported_the_kubernetes_way(dump: Path) -> None:
    nodes = nodes_of(dump)
    for name in unseen.SPOT_NODES:
        assert nodes[name]["metadata"]["labels"]["eks.amazonaws.com/capacityType"] == "SPOT"
        on_spot = [p for p in all_pods(dump) if p["spec"].get("nodeName") == name]
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

    check_logs_contain(dump, (
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
    ))


def test_unseen_secrets_are_planted_for_redaction(dump: Path) -> None:
    check_secrets_are_planted(dump)


def test_unknown_scenario_error_names_unseen() -> None:
    with pytest.raises(ValueError, match="unseen"):
        build_cluster(seed=1, scenario="unsent")


def test_cli_scenario_unseen(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    check_cli_scenario(tmp_path, capsys, "unseen", "foreseen", ("wal-1",),
                       absent=("loop-1", "zone-1", "drain-1", "rbac-1", "oom-1"), count=None)
