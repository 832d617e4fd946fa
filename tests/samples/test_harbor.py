"""The harbor sample scenario: a fifteenth set of incidents, objects and questions, scoreable and selectable by name.

Like the scenario itself, these tests use nothing from the diagnosis, answering,
retrieval or evaluation code (not even through other test modules): a fact is stated
when one of its `|` alternatives is a case-insensitive substring (the rule `Question`
documents). Checks against the other scenarios only ever report a category, never the
other scenario's content, since some of those are held out.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kubetrainer.samples import harbor
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
    env_of,
    events,
    generate_dump,
    items,
    logs_of,
    nodes_of,
    pods_named,
    status_of,
)

BEFORE = ("default", "heldout", "fresh", "blind", "sealed", "unseen", "reserve", "drill", "vigil", "ember", "tundra",
          "quarry", "cobalt", "lumen")


@pytest.fixture(scope="module")
def dump(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_dump(tmp_path_factory, "harbor")


def test_same_seed_same_bytes_and_scenarios_differ(dump: Path, tmp_path: Path) -> None:
    check_same_seed_same_bytes(dump, tmp_path, "harbor", BEFORE)


def test_ten_incidents_two_questions_each_with_two_facts(dump: Path) -> None:
    check_ten_incidents_two_questions_each_with_two_facts(dump)


def test_every_evidence_phrase_and_fact_is_in_the_dump_for_its_objects(dump: Path) -> None:
    check_evidence_and_facts_are_in_the_dump(dump)


def test_question_ids_are_prefixed(dump: Path) -> None:
    ids = [json.loads(line)["id"] for line in (dump / "questions.jsonl").read_text().splitlines()]
    assert ids and all(qid.startswith("hb-") for qid in ids)


def test_the_same_seed_gives_the_same_questions_in_memory() -> None:
    check_same_seed_same_questions_in_memory("harbor")


@pytest.mark.parametrize("other", BEFORE)
def test_harbor_does_not_reuse_the_other_scenarios(dump: Path, other: str) -> None:
    check_does_not_reuse(dump, "harbor", harbor, other)


def test_every_namespace_in_the_dump_belongs_to_a_workload(dump: Path) -> None:
    check_every_namespace_belongs_to_a_workload(dump, harbor)


def _owner(pod: dict) -> dict:
    return pod["metadata"]["ownerReferences"][0]


def test_nodes_and_placement(dump: Path) -> None:
    nodes = nodes_of(dump)
    everywhere = all_pods(dump)
    for name in harbor.ARM_NODES:  # Graviton nodes that joined at 08:41: nothing on them started earlier
        node = nodes[name]
        assert node["metadata"]["labels"]["kubernetes.io/arch"] == "arm64"
        assert node["status"]["nodeInfo"]["architecture"] == "arm64"
        assert node["metadata"]["creationTimestamp"] == "2026-03-14T08:41:00Z"
        on_node = [p for p in everywhere if p["spec"].get("nodeName") == name]
        assert all(p["status"]["startTime"] >= "2026-03-14T08:41" for p in on_node)
        assert {p["metadata"]["name"].rsplit("-", 2)[0] for p in on_node if _owner(p)["kind"] != "DaemonSet"} <= \
            {"crane-telemetry"}
    for name in harbor.WIN_NODES:  # Windows: tainted, no Linux DaemonSet pods, only the EDI pool's pods
        node = nodes[name]
        assert node["metadata"]["labels"]["kubernetes.io/os"] == "windows"
        assert node["status"]["nodeInfo"]["operatingSystem"] == "windows"
        assert {"key": "os", "value": "windows", "effect": "NoSchedule"} in node["spec"]["taints"]
        on_node = [p for p in everywhere if p["spec"].get("nodeName") == name]
        assert on_node and {p["metadata"]["namespace"] for p in on_node} == {"port-edi"}
    for name in harbor.GPU_NODES:  # the L4 pool runs dispatch-ai and the GPU DaemonSets only
        on_node = [p for p in everywhere if p["spec"].get("nodeName") == name]
        assert all(p["metadata"]["namespace"] == "dispatch-ai" or _owner(p)["kind"] == "DaemonSet" for p in on_node)
    drivers = {name: nodes[name]["metadata"]["labels"]["nvidia.com/cuda.driver-version.full"]
               for name in harbor.GPU_NODES}
    assert drivers == {"gpu-l4-a-01": "535.161.08", "gpu-l4-a-02": "535.161.08", "gpu-l4-b-01": "560.35.03"}


def test_seccomp_and_admission_incidents_are_reported_the_kubernetes_way(dump: Path) -> None:
    # 1. The seccomp profile: the new ReplicaSet's one pod cannot be created; the old pods run; spod has no v3 file.
    translators = pods_named(dump, "customs-docs", "edi-translator-")
    assert len(translators) == 3 and len({_owner(p)["name"] for p in translators}) == 2
    new = [p for p in translators if p["spec"]["containers"][0]["image"].endswith(":3.0.0")]
    assert len(new) == 1 and new[0]["status"]["phase"] == "Pending"
    waiting = status_of(new[0], "translator")["state"]["waiting"]
    assert waiting["reason"] == "CreateContainerError" and "cannot load seccomp profile" in waiting["message"]
    assert all(status_of(p, "translator")["ready"] for p in translators if p not in new)
    failed = [e for e in events(dump, "customs-docs", "Failed")
              if e["involvedObject"]["name"] == new[0]["metadata"]["name"]]
    assert len(failed) == 1 and failed[0]["message"].startswith("Error: failed to create containerd container: ")
    daemons = pods_named(dump, "security-profiles-operator", "spod-")
    assert {p["spec"]["nodeName"] for p in daemons} >= {"cpu-0", "cpu-1"} and all(
        _owner(p)["kind"] == "DaemonSet" for p in daemons)
    for pod in daemons:
        text = logs_of(dump, "security-profiles-operator", pod["metadata"]["name"])
        assert "operator/customs-docs/edi-translator.json" in text and "edi-translator-v3" not in text

    # 2. Kyverno: the 11:00 Job of the CronJob never gets a pod; the earlier runs ran the signed 2.7.3.
    eleven = datetime(2026, 3, 14, 11, 0, tzinfo=UTC)
    job = f"ams-manifest-export-{int(eleven.timestamp()) // 60}"
    runs = pods_named(dump, "manifest-export", "ams-manifest-export-")
    assert len(runs) == 3 and all(p["status"]["phase"] == "Succeeded" for p in runs)
    assert all(p["spec"]["containers"][0]["image"].endswith(":2.7.3") for p in runs)
    assert not [p for p in runs if _owner(p)["name"] == job]
    denied = events(dump, "manifest-export", "FailedCreate")
    assert denied and all(e["involvedObject"] == {"kind": "Job", "name": job, "apiVersion": "batch/v1",
                                                  "namespace": "manifest-export"} for e in denied)
    assert all('admission webhook "mutate.kyverno.svc-fail" denied the request' in e["message"] for e in denied)
    assert all(":2.8.0:" in e["message"] for e in denied)
    (policy,) = [e for e in items(dump, "default", "events") if e["involvedObject"]["kind"] == "ClusterPolicy"]
    assert policy["reason"] == "PolicyViolation" and "(blocked)" in policy["message"]


def test_identity_and_database_incidents(dump: Path) -> None:
    # 3. IRSA: two pods carry the web identity env, the one recreated at 08:12 does not and uses the node role.
    proofs = pods_named(dump, "last-mile", "delivery-proof-api-")
    assert len(proofs) == 3 and len({_owner(p)["name"] for p in proofs}) == 1
    for pod in proofs:
        recreated = pod["status"]["startTime"] == "2026-03-14T08:12:00Z"
        assert ("AWS_ROLE_ARN" in env_of(pod)) != recreated
        text = logs_of(dump, "last-mile", pod["metadata"]["name"])
        assert ("(AccessDenied)" in text) == recreated and ('" 201 Created' in text) != recreated
    assert sum(p["status"]["startTime"] == "2026-03-14T08:12:00Z" for p in proofs) == 1

    # 4. CloudNativePG: the primary archives until 06:14 and fails after; the tariff database keeps archiving.
    members = {p["metadata"]["name"]: p for p in pods_named(dump, "consignment-data", "consignments-pg-")}
    assert sorted(members) == ["consignments-pg-1", "consignments-pg-2", "consignments-pg-3"]
    for name, pod in members.items():
        assert _owner(pod)["kind"] == "Cluster" and pod["status"]["initContainerStatuses"][0]["name"] == \
            "bootstrap-controller"
        claims = [v["persistentVolumeClaim"]["claimName"] for v in pod["spec"]["volumes"]]
        assert claims == [name, f"{name}-wal"]
    lines = [json.loads(line) for line in logs_of(dump, "consignment-data", "consignments-pg-1").splitlines()
             if line.startswith("{")]
    archived = [line["ts"] for line in lines if line["msg"] == "Archived WAL file"]
    failed = [line["ts"] for line in lines if line["msg"] == "Error invoking barman-cloud-wal-archive"]
    assert archived[-1].startswith("2026-03-14T06:14") and failed and min(failed) > archived[-1]
    assert all(line["logging_pod"] == "consignments-pg-1" for line in lines)
    for replica in ("consignments-pg-2", "consignments-pg-3"):
        assert "wal-archive" not in logs_of(dump, "consignment-data", replica)
    rates = logs_of(dump, "tariff-data", "rates-pg-1")
    assert "Archived WAL file" in rates and "InvalidAccessKeyId" not in rates


def test_kafka_dns_and_windows_incidents(dump: Path) -> None:
    # 5. The consumers stop on the authorization error; only the coordinator broker logs the denials.
    printers = pods_named(dump, "fleet-events", "label-printer-")
    assert len(printers) == 2 and all(status_of(p, "app")["restartCount"] == 0 and status_of(p, "app")["ready"]
                                      for p in printers)
    for pod in printers:
        text = logs_of(dump, "fleet-events", pod["metadata"]["name"])
        assert text.count("Fatal consumer exception; stopping container") == 1
        assert env_of(pod)["SPRING_KAFKA_CONSUMER_GROUP_ID"] == "label-printing-v2"
    brokers = {p["metadata"]["name"]: p for p in pods_named(dump, "fleet-events", "fleet-kafka-kafka-")}
    assert sorted(brokers) == ["fleet-kafka-kafka-0", "fleet-kafka-kafka-1", "fleet-kafka-kafka-2"]
    assert all(_owner(p)["kind"] == "StrimziPodSet" for p in brokers.values())
    for name in brokers:
        count = logs_of(dump, "fleet-events", name).count("is Denied operation = READ")
        assert count == (2 if name == "fleet-kafka-kafka-1" else 0)

    # 6. gate-ocr: lookups of the corporate zone fail from 10:10; the node-local caches time out on the old resolvers.
    gates = pods_named(dump, "yard-ops", "gate-ocr-")
    assert len(gates) == 4
    for pod in gates:
        lines = [json.loads(line) for line in logs_of(dump, "yard-ops", pod["metadata"]["name"]).splitlines()
                 if line.startswith("{")]
        errors = [line["ts"] for line in lines if line["level"] == "error"]
        accepted = [line["ts"] for line in lines if line["msg"] == "gate transaction accepted"]
        assert errors and min(errors) >= "2026-03-14T10:10" and max(accepted) < "2026-03-14T10:10"
    caches = pods_named(dump, "kube-system", "nodelocaldns-")
    timeouts = [p for p in caches if ":53: i/o timeout" in logs_of(dump, "kube-system", p["metadata"]["name"])]
    assert {p["spec"]["nodeName"] for p in timeouts} == {p["spec"]["nodeName"] for p in gates}
    assert not {p["spec"]["nodeName"] for p in caches} & set(harbor.WIN_NODES)

    # 7. edifact-bridge: ImagePullBackOff on both Windows nodes; bol-renderer (ltsc2022) runs.
    bridges = pods_named(dump, "port-edi", "edifact-bridge-")
    assert len(bridges) == 2 and {p["spec"]["nodeName"] for p in bridges} == set(harbor.WIN_NODES)
    assert len({_owner(p)["name"] for p in bridges}) == 1
    assert all(status_of(p, "bridge")["state"]["waiting"]["reason"] == "ImagePullBackOff" for p in bridges)
    pulls = [e for e in events(dump, "port-edi", "Failed") if "no match for platform in manifest" in e["message"]]
    assert len(pulls) == 2 and all(e["message"].startswith('Failed to pull image "') for e in pulls)
    (renderer,) = pods_named(dump, "port-edi", "bol-renderer-")
    assert renderer["status"]["phase"] == "Running" and renderer["spec"]["containers"][0]["image"].endswith("ltsc2022")


def test_airflow_cuda_and_ingress_incidents(dump: Path) -> None:
    # 8. The scheduler: the DAG's task pods are refused with 403 after 09:41; the other DAG keeps succeeding.
    (scheduler,) = pods_named(dump, "wms-airflow", "wms-airflow-scheduler-")
    assert [c["name"] for c in scheduler["spec"]["containers"]] == ["scheduler", "git-sync"]
    text = logs_of(dump, "wms-airflow", scheduler["metadata"]["name"])
    assert text.count("kubernetes.client.exceptions.ApiException: (403)") == 2  # the 10:00 and 11:00 runs
    assert text.count("dag_id=dock_slot_refresh, task_id=refresh") == 6
    pulled = next(json.loads(line)["ts"] for line in text.splitlines() if '"msg":"updated successfully"' in line)
    first_refusal = next(line for line in text.splitlines() if "re-queueing. Reason: 'Forbidden'" in line)
    assert pulled.startswith("2026-03-14 09:41") and first_refusal.startswith("[2026-03-14T10:00")

    # 9. load-planner: StartError (exit 128) on the R535 nodes, serving on the R560 node.
    nodes = nodes_of(dump)
    planners = pods_named(dump, "dispatch-ai", "load-planner-")
    assert len(planners) == 3
    for pod in planners:
        old = nodes[pod["spec"]["nodeName"]]["metadata"]["labels"]["nvidia.com/cuda.driver-version.major"] == "535"
        state = status_of(pod, "planner")
        assert state["ready"] != old
        if old:
            last = state["lastState"]["terminated"]
            assert last["reason"] == "StartError" and last["exitCode"] == 128 and "cuda>=12.6" in last["message"]
    assert sum(p["spec"]["nodeName"] == harbor.NEW_GPU_NODE for p in planners) == 1
    failed = [e for e in events(dump, "dispatch-ai", "Failed") if e["message"].startswith("Error: failed to create")]
    assert len(failed) == 2 and all(e["source"]["component"] == "kubelet" for e in failed)

    # 10. ingress-nginx: the new host falls back to the default certificate; the portal host is untouched.
    for pod in pods_named(dump, "public-edge", "public-edge-ingress-nginx-controller-"):
        text = logs_of(dump, "public-edge", pod["metadata"]["name"])
        assert "Using default certificate" in text and 'for server "portal.tidewater.example"' not in text

    check_logs_contain(dump, (
        '"Reconciled profile" logger="seccompprofile" profile="edi-translator"',
        "botocore.credentials: Found credentials from IAM Role: tw-prod-general-nodes",
        '"logger":"barman-cloud-wal-archive"',
        "failed too many times, will try again later",
        "[GroupCoordinator 1]: Group label-printing with generation 58 is now empty",
        "Authentication/Authorization Exception and no authExceptionRetryInterval set",
        "plugin/errors: 2 tos.tidewater.corp. A: read udp 169.254.20.10:",
        "ApiException when attempting to run task, re-queueing. Reason: 'Forbidden'.",
        "stuck in queued as failed",
        '"msg": "cuda device ready"',
        "W0314 09:00:",
    ))


def test_harbor_secrets_are_planted_for_redaction(dump: Path) -> None:
    check_secrets_are_planted(dump)


def test_unknown_scenario_error_names_harbor() -> None:
    with pytest.raises(ValueError, match="harbor"):
        build_cluster(seed=1, scenario="harbour")


def test_cli_scenario_harbor(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    check_cli_scenario(tmp_path, capsys, "harbor", "harbour", ("hb-seccomp-1", "hb-cuda-2"))
