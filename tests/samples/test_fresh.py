"""The fresh sample scenario: a third set of incidents, objects and questions, scoreable and selectable by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubetrainer.samples.cluster import build_cluster

# before the import below: the shared checks' asserts then report their operands, as they did when inline here
pytest.register_assert_rewrite("tests.samples.scenario_checks")

from .scenario_checks import (  # noqa: E402
    all_pods,
    check_cli_scenario,
    check_enough_incidents_and_questions,
    check_evidence_is_in_the_dump,
    check_logs_contain,
    check_questions_do_not_reuse,
    check_same_seed_same_bytes,
    check_secrets_are_planted,
    events,
    generate_dump,
    items,
    nodes_of,
    pods_named,
    scheduler_total,
)

OTHERS = ("default", "heldout")


@pytest.fixture(scope="module")
def dump(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_dump(tmp_path_factory, "fresh")


def test_same_seed_same_bytes_and_scenarios_differ(dump: Path, tmp_path: Path) -> None:
    check_same_seed_same_bytes(dump, tmp_path, "fresh", OTHERS)


def test_enough_incidents_and_questions_all_with_facts(dump: Path) -> None:
    check_enough_incidents_and_questions(dump, questions=16, incidents=9)


def test_every_evidence_phrase_is_in_the_dump_for_its_object(dump: Path) -> None:
    check_evidence_is_in_the_dump(dump)


@pytest.mark.parametrize("other", OTHERS)
def test_fresh_incidents_do_not_reuse_the_other_scenarios(dump: Path, other: str) -> None:
    check_questions_do_not_reuse(dump, other)


def test_incidents_are_reported_the_kubernetes_way(dump: Path) -> None:
    nodes = nodes_of(dump)
    assert nodes["cpu-3"]["spec"]["unschedulable"] is True
    assert "node.kubernetes.io/unschedulable" in {t["key"] for t in nodes["cpu-3"]["spec"]["taints"]}
    zookeeper = {p["metadata"]["name"]: p for p in items(dump, "streaming", "pods")}
    assert zookeeper["zookeeper-1"]["spec"]["nodeName"] == "cpu-3"
    on_cpu3 = [p for p in all_pods(dump) if p["spec"].get("nodeName") == "cpu-3"]
    owners = {p["metadata"]["ownerReferences"][0]["kind"] for p in on_cpu3 if p["metadata"]["name"] != "zookeeper-1"}
    assert owners == {"DaemonSet"}  # the drain evicted everything else

    (deadline,) = events(dump, "analytics", "DeadlineExceeded")
    assert deadline["involvedObject"]["kind"] == "Job" and deadline["involvedObject"]["apiVersion"] == "batch/v1"
    assert deadline["source"]["component"] == "job-controller" and deadline["type"] == "Warning"
    assert not items(dump, "analytics", "pods")  # the job controller deleted the pod

    thumbs = pods_named(dump, "media", "thumbnailer-")
    assert {p["status"]["containerStatuses"][0]["lastState"]["terminated"]["exitCode"] for p in thumbs} == {139}
    assert all(p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "CrashLoopBackOff" for p in thumbs)
    tokens = items(dump, "identity", "pods")
    assert {p["status"]["containerStatuses"][0]["lastState"]["terminated"]["exitCode"] for p in tokens} == {2}

    (rabbit,) = [p for p in items(dump, "messaging", "pods") if p["metadata"]["name"] == "rabbitmq-1"]
    assert rabbit["status"]["phase"] == "Pending" and rabbit["spec"]["nodeName"] == "cpu-1"
    assert rabbit["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "ContainerCreating"
    (attach,) = events(dump, "messaging", "FailedAttachVolume")
    assert attach["source"]["component"] == "attachdetach-controller"
    volume = attach["message"].split('"')[1]
    assert volume.startswith("pvc-") and nodes["cpu-4"]["status"]["volumesAttached"]

    assert nodes["gpu-h100-4"]["status"]["allocatable"]["nvidia.com/gpu"] == "7"
    amd = nodes["amd-mi300x-1"]
    assert amd["status"]["allocatable"]["amd.com/gpu"] == "0"
    assert amd["status"]["nodeInfo"]["kernelVersion"] == "6.8.0-1015-aws"
    folds = {p["metadata"]["name"][:13]: p for p in items(dump, "biosim", "pods")}
    assert folds["fold-screen-0"]["spec"]["nodeName"] == "amd-mi300x-0"
    assert folds["fold-screen-1"]["status"]["phase"] == "Pending"
    (unscheduled,) = events(dump, "biosim", "FailedScheduling")
    assert scheduler_total(unscheduled["message"]) == (len(nodes), len(nodes))

    (pull,) = [p for p in items(dump, "growth", "pods") if p["spec"]["containers"][0]["image"].startswith("harbor.")]
    assert pull["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "ImagePullBackOff"
    assert "imagePullSecrets" not in pull["spec"]
    created = events(dump, "notifications", "FailedCreate")
    assert created and created[0]["involvedObject"]["kind"] == "ReplicaSet"
    assert "no endpoints available" in created[0]["message"]
    assert not pods_named(dump, "gatekeeper-system", "gatekeeper-controller-manager")
    (database,) = [p for p in items(dump, "orders", "pods") if p["metadata"]["name"] == "orders-db-0"]
    assert database["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] == "data-orders-db-0"

    check_logs_contain(dump, (
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
    ))


def test_fresh_secrets_are_planted_for_redaction(dump: Path) -> None:
    check_secrets_are_planted(dump, ("aws_access_key", "aws_secret_key", "url_password", "bearer_token", "jwt",
                                     "slack_webhook"))


def test_unknown_scenario_error_names_fresh() -> None:
    with pytest.raises(ValueError, match="fresh"):
        build_cluster(seed=1, scenario="freshest")


def test_cli_scenario_fresh(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    check_cli_scenario(tmp_path, capsys, "fresh", "stale", ("drain-1",), absent=("oom-1", "rbac-1"), count=None)
