"""The blind sample scenario: a fourth set of incidents, objects and questions, scoreable and selectable by name."""

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
)
from .scenario_checks import object_text as object_text  # noqa: E402  defined here before, still imported from here
from .scenario_checks import questions_of as questions_of  # noqa: E402  defined here before, still imported from here
from .scenario_checks import scheduler_total as _scheduler_total  # noqa: E402  the name it had here

OTHERS = ("default", "heldout", "fresh")


@pytest.fixture(scope="module")
def dump(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_dump(tmp_path_factory, "blind")


def test_same_seed_same_bytes_and_scenarios_differ(dump: Path, tmp_path: Path) -> None:
    check_same_seed_same_bytes(dump, tmp_path, "blind", OTHERS)


def test_enough_incidents_and_questions_all_with_facts(dump: Path) -> None:
    check_enough_incidents_and_questions(dump, questions=18, incidents=10)


def test_every_evidence_phrase_is_in_the_dump_for_its_object(dump: Path) -> None:
    check_evidence_is_in_the_dump(dump)


@pytest.mark.parametrize("other", OTHERS)
def test_blind_incidents_do_not_reuse_the_other_scenarios(dump: Path, other: str) -> None:
    check_questions_do_not_reuse(dump, other)


def test_controllers_and_scheduling_are_reported_the_kubernetes_way(dump: Path) -> None:
    nodes = nodes_of(dump)
    assert nodes["cpu-c-0"]["spec"]["unschedulable"] is True
    assert nodes["cpu-c-0"]["metadata"]["labels"]["topology.kubernetes.io/zone"] == "us-east-1c"
    zones = {nodes[n]["metadata"]["labels"]["topology.kubernetes.io/zone"] for n in ("cpu-b-0", "cpu-b-1")}
    assert zones == {"us-east-1b"}
    on_c0 = [p for p in all_pods(dump) if p["spec"].get("nodeName") == "cpu-c-0"]
    assert on_c0 and {p["metadata"]["ownerReferences"][0]["kind"] for p in on_c0} == {"DaemonSet"}  # drained

    (replica,) = [p for p in items(dump, "telemetry", "pods") if p["metadata"]["name"] == "timescaledb-2"]
    assert replica["status"]["phase"] == "Pending" and "nodeName" not in replica["spec"]
    assert replica["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] == "data-timescaledb-2"
    unscheduled = [e for e in events(dump, "telemetry", "FailedScheduling")
                   if e["involvedObject"]["name"] == "timescaledb-2"]
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
        assert event["message"].startswith(
            f"0/{total} nodes are available: 1 node(s) didn't have free ports for the requested pod ports, ")
        assert "1 No preemption victims found for incoming pod" in event["message"]
    pending = [p for p in items(dump, "observability", "pods") if p["status"]["phase"] == "Pending"]
    assert len(pending) == 5 and all("nodeName" not in p["spec"] for p in pending)
    olds = pods_named(dump, "monitoring", "node-exporter-")
    assert sorted(p["spec"]["nodeName"] for p in olds) == ["cpu-0", "cpu-1", "cpu-b-0", "cpu-b-1", "cpu-c-0"]

    (active,) = events(dump, "crm", "JobAlreadyActive")
    assert active["involvedObject"]["kind"] == "CronJob" and active["involvedObject"]["apiVersion"] == "batch/v1"
    assert active["count"] == 2 and active["source"]["component"] == "cronjob-controller"
    (export,) = items(dump, "crm", "pods")
    assert export["status"]["phase"] == "Running" and export["metadata"]["ownerReferences"][0]["kind"] == "Job"
    assert (export["metadata"]["ownerReferences"][0]["name"] in active["message"]
            or export["status"]["startTime"] < "2026-03-13")

    rejected = events(dump, "partner-portal", "FailedCreate")
    assert rejected and {e["involvedObject"]["kind"] for e in rejected} == {"ReplicaSet"}
    assert all('violates PodSecurity "restricted:latest"' in e["message"] for e in rejected)
    (deployment,) = items(dump, "partner-portal", "deployments")
    assert deployment["status"]["readyReplicas"] == 2  # the old pods keep running

    scaled = [e for e in events(dump, "inventory", "ScalingReplicaSet")
              if e["involvedObject"]["name"] == "stock-sync-worker"]
    assert [e["message"].split(" to ")[1] for e in scaled] == ["12 from 2"]
    workers = pods_named(dump, "inventory", "stock-sync-worker-")
    assert len(workers) == 12 and len({p["metadata"]["ownerReferences"][0]["name"] for p in workers}) == 1

    (cert,) = {e["involvedObject"]["apiVersion"] for e in items(dump, "helpdesk", "events")
               if e["involvedObject"]["kind"] == "Certificate"}
    assert cert == "cert-manager.io/v1"


def test_pods_nodes_and_logs_carry_the_incidents(dump: Path) -> None:
    nodes = nodes_of(dump)
    h6 = nodes["gpu-h100-6"]["status"]
    assert h6["allocatable"]["nvidia.com/gpu"] == "0" and h6["capacity"]["nvidia.com/gpu"] == "8"

    (jenkins,) = items(dump, "ci", "pods")
    assert jenkins["spec"]["nodeName"] == "cpu-b-0" and jenkins["status"]["phase"] == "Pending"
    assert jenkins["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "ContainerCreating"
    csi = pods_named(dump, "kube-system", "ebs-csi-node-")
    broken = {p["spec"]["nodeName"] for p in csi if p["status"]["containerStatuses"][0]["state"].get("waiting")}
    assert broken == {"cpu-b-0", "cpu-b-1"} and len(csi) == 5
    assert all(p["status"]["containerStatuses"][0]["lastState"]["terminated"]["exitCode"] == 2
               for p in csi if p["spec"]["nodeName"] in broken)

    (whisper,) = items(dump, "speech", "pods")
    last = whisper["status"]["containerStatuses"][0]["lastState"]["terminated"]
    assert last["reason"] == "StartError" and last["exitCode"] == 128
    assert "driver/library version mismatch" in last["message"]
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

    check_logs_contain(dump, (
        "upstream sent too big header while reading response header from upstream",
        'pg_dump: dumping contents of table "public.activities"',
        "Existing mapping for [kubernetes.labels.app] must be of type object but found [text].",
        ("consumer poll timeout has expired. This means the time between subsequent calls to poll() was longer than "
         "the configured max.poll.interval.ms"),
        "max.poll.records = 500",
        "FATAL:  sorry, too many clients already",
        "exec /app/recs-api: exec format error",
        'level=info msg="Listening on" address=[::]:9100',
        "panic: error getting instance data from ec2 metadata or kubernetes api",
        "Failed to initialize NVML: ERROR_LIB_RM_VERSION_MISMATCH.",
        "RuntimeError: Found no NVIDIA driver on your system.",
        ('Error getting SSL certificate "helpdesk/helpdesk-tls": '
         "local SSL certificate helpdesk/helpdesk-tls was not found."),
    ))


def test_blind_secrets_are_planted_for_redaction(dump: Path) -> None:
    check_secrets_are_planted(dump, ("aws_access_key", "aws_secret_key", "url_password", "bearer_token", "jwt",
                                     "slack_webhook", "github_token", "openai_key"))


def test_unknown_scenario_error_names_blind() -> None:
    with pytest.raises(ValueError, match="blind"):
        build_cluster(seed=1, scenario="blindfold")


def test_cli_scenario_blind(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    check_cli_scenario(tmp_path, capsys, "blind", "deaf", ("zone-1",), absent=("drain-1", "oom-1", "rbac-1"),
                       count=None)
