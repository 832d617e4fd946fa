"""The ember sample scenario: a tenth set of incidents, objects and questions, scoreable and selectable by name.

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

from kubetrainer.samples import ember
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
)

BEFORE = ("default", "heldout", "fresh", "blind", "sealed", "unseen", "reserve", "drill", "vigil")


@pytest.fixture(scope="module")
def dump(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_dump(tmp_path_factory, "ember")


def test_same_seed_same_bytes_and_scenarios_differ(dump: Path, tmp_path: Path) -> None:
    check_same_seed_same_bytes(dump, tmp_path, "ember", BEFORE)


def test_ten_incidents_two_questions_each_with_two_facts(dump: Path) -> None:
    check_ten_incidents_two_questions_each_with_two_facts(dump)


def test_every_evidence_phrase_and_fact_is_in_the_dump_for_its_objects(dump: Path) -> None:
    check_evidence_and_facts_are_in_the_dump(dump)


def test_the_same_seed_gives_the_same_questions_in_memory() -> None:
    check_same_seed_same_questions_in_memory("ember")


@pytest.mark.parametrize("other", BEFORE)
def test_ember_does_not_reuse_the_other_scenarios(dump: Path, other: str) -> None:
    check_does_not_reuse(dump, "ember", ember, other)


def test_every_namespace_in_the_dump_belongs_to_a_workload(dump: Path) -> None:
    check_every_namespace_belongs_to_a_workload(dump, ember)


def test_incidents_are_reported_the_kubernetes_way(dump: Path) -> None:
    nodes = nodes_of(dump)
    everywhere = all_pods(dump)
    for name in ember.GPU_NODES:  # the scenario's GPU nodes run DaemonSets and the incidents' pods only
        kinds = {p["metadata"]["ownerReferences"][0]["kind"] for p in everywhere if p["spec"].get("nodeName") == name}
        assert kinds <= {"DaemonSet", "ReplicaSet", "Job"}
    assert nodes[ember.L4_NODE]["metadata"]["labels"]["nvidia.com/gpu.product"] == "NVIDIA-L4"
    assert nodes[ember.L4_NODE]["metadata"]["labels"]["karpenter.sh/capacity-type"] == "spot"
    assert nodes[ember.A100_NODE]["metadata"]["labels"]["nvidia.com/gpu.memory"] == "81920"

    # 1. Elasticsearch: the master logs the watermarks, the indexers get 429 cluster blocks.
    es = sorted(pods_named(dump, "order-search", "orders-es-"), key=lambda p: p["metadata"]["name"])
    assert [p["metadata"]["name"] for p in es] == ["orders-es-0", "orders-es-1", "orders-es-2"]
    master_log = logs_of(dump, "order-search", "orders-es-0")
    assert '"log.logger":"org.elasticsearch.cluster.routing.allocation.DiskThresholdMonitor"' in master_log
    assert "flood stage disk watermark [95%] exceeded on" not in logs_of(dump, "order-search", "orders-es-2")
    for pod in pods_named(dump, "order-search", "order-indexer-"):
        assert "'status': 429, 'error': {'type': 'cluster_block_exception'" in logs_of(
            dump, "order-search", pod["metadata"]["name"])
    for line in master_log.splitlines():
        if line.startswith("{"):
            assert json.loads(line)["elasticsearch.node.name"] == "orders-es-0"

    # 2. MongoDB: one member left, the StatefulSet controller deleted the others.
    (mongo,) = pods_named(dump, "loyalty-points", "loyalty-mongo-")
    assert mongo["metadata"]["name"] == "loyalty-mongo-0" and mongo["status"]["containerStatuses"][0]["ready"]
    deleted = events(dump, "loyalty-points", "SuccessfulDelete")
    assert {e["involvedObject"]["kind"] for e in deleted} == {"StatefulSet"} and len(deleted) == 2
    assert all(e["source"]["component"] == "statefulset-controller" for e in deleted)
    for line in logs_of(dump, "loyalty-points", "loyalty-mongo-0").splitlines()[1:-1]:
        record = json.loads(line)
        assert set(record) >= {"t", "s", "c", "id", "ctx", "msg"}
    transitions = [json.loads(line) for line in logs_of(dump, "loyalty-points", "loyalty-mongo-0").splitlines()
                   if '"id":21358' in line]
    assert [t["attr"] for t in transitions] == [{"newState": "SECONDARY", "oldState": "PRIMARY"}]

    # 3. Patroni and its etcd: every member raised NOSPACE, the leader logged the quota.
    for index in range(3):
        text = logs_of(dump, "fleet-telematics", f"telematics-etcd-{index}")
        raised = [json.loads(line) for line in text.splitlines() if '"alarm raised"' in line]
        assert len(raised) == 1 and raised[0]["alarm"] == "NOSPACE"
    etcd_env = env_of(pods_named(dump, "fleet-telematics", "telematics-etcd-0")[0])
    assert etcd_env["ETCD_AUTO_COMPACTION_RETENTION"] == "0"
    assert "Demoting self (immediate-nolock)" in logs_of(dump, "fleet-telematics", "telematics-pg-0")
    assert "Demoting self" not in logs_of(dump, "fleet-telematics", "telematics-pg-1")

    # 4. RabbitMQ: the consumer has no pods; the broker's limit is 2Gi.
    assert not pods_named(dump, "card-settlement", "settlement-consumer")
    (scaled,) = events(dump, "card-settlement", "ScalingReplicaSet")
    assert scaled["involvedObject"] == {"kind": "Deployment", "name": "settlement-consumer", "apiVersion": "apps/v1",
                                        "namespace": "card-settlement"}
    (broker,) = pods_named(dump, "card-settlement", "settlement-rabbitmq-")
    assert broker["spec"]["containers"][0]["resources"]["limits"]["memory"] == "2Gi"
    assert "*** Publishers will be blocked until this alarm clears ***" in logs_of(dump, "card-settlement",
                                                                                 "settlement-rabbitmq-0")

    # 5. Node.js: exit 134 (SIGABRT), not OOMKilled, with a 256 MB heap in a 2Gi container.
    renderers = pods_named(dump, "report-exports", "report-renderer-")
    assert len(renderers) == 2 and len({p["metadata"]["ownerReferences"][0]["name"] for p in renderers}) == 1
    for pod in renderers:
        status = pod["status"]["containerStatuses"][0]
        assert status["state"]["waiting"]["reason"] == "CrashLoopBackOff"
        assert status["lastState"]["terminated"]["exitCode"] == 134
        assert status["lastState"]["terminated"]["reason"] == "Error"
        assert env_of(pod)["NODE_OPTIONS"] == "--max-old-space-size=256"
        assert pod["spec"]["containers"][0]["image"].endswith(":4.2.0")

    # 6. Vault: the new payout pod is stuck in its init container, vault-0 is not ready.
    payouts = pods_named(dump, "merchant-payouts", "payout-api-")
    stuck = [p for p in payouts if p["status"]["phase"] == "Pending"]
    assert len(payouts) == 4 and len(stuck) == 1
    (init,) = stuck[0]["status"]["initContainerStatuses"]
    assert init["name"] == "vault-agent-init" and "running" in init["state"]
    assert stuck[0]["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "PodInitializing"
    (vault,) = items(dump, "vault", "pods")
    assert not vault["status"]["containerStatuses"][0]["ready"]
    (unhealthy,) = events(dump, "vault", "Unhealthy")
    assert unhealthy["type"] == "Warning" and unhealthy["message"].startswith("Readiness probe failed: Key")

    # 7. Helm: three failed attempts of one Job, and the backoff limit.
    attempts = pods_named(dump, "partner-sync", "partner-sync-release-1931-")
    assert len(attempts) == 3 and all(p["status"]["phase"] == "Failed" for p in attempts)
    assert all(p["metadata"]["ownerReferences"][0] == {"apiVersion": "batch/v1", "kind": "Job",
                                                       "name": "partner-sync-release-1931", "controller": True}
               for p in attempts)
    (limit,) = events(dump, "partner-sync", "BackoffLimitExceeded")
    assert limit["involvedObject"]["apiVersion"] == "batch/v1" and limit["source"]["component"] == "job-controller"

    # 8. TensorFlow: both runs hold an A10G; only yesterday's saw it.
    ctr = {p["metadata"]["ownerReferences"][0]["name"]: p for p in items(dump, "ads-ranking", "pods")}
    assert set(ctr) == {"ctr-dnn-train-20260313", "ctr-dnn-train-20260314"}
    assert all(p["spec"]["nodeName"] == ember.A10G_NODE for p in ctr.values())
    assert all(p["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1" for p in ctr.values())
    assert ctr["ctr-dnn-train-20260313"]["status"]["phase"] == "Succeeded"
    assert ctr["ctr-dnn-train-20260314"]["status"]["phase"] == "Running"

    # 9. ClickHouse: every ingest pod runs 2.4.0 with one-row batches.
    for pod in pods_named(dump, "sensor-analytics", "sensor-ingest-"):
        assert env_of(pod)["CH_BATCH_MAX_ROWS"] == "1"
    assert "(TOO_MANY_PARTS) (version 24.3.5.46 (official build))" in logs_of(dump, "sensor-analytics",
                                                                               "metrics-clickhouse-0")

    # 10. The summarizer: same ReplicaSet, one pod on the A100 (fine), one on the L4 (crash loop).
    summarizers = {p["spec"]["nodeName"]: p for p in items(dump, "doc-assist", "pods")}
    assert set(summarizers) == {ember.A100_NODE, ember.L4_NODE}
    assert len({p["metadata"]["ownerReferences"][0]["name"] for p in summarizers.values()}) == 1
    assert summarizers[ember.A100_NODE]["status"]["containerStatuses"][0]["ready"]
    assert summarizers[ember.L4_NODE]["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == \
        "CrashLoopBackOff"
    (rescale,) = events(dump, "doc-assist", "SuccessfulRescale")
    assert rescale["involvedObject"]["apiVersion"] == "autoscaling/v2"

    check_logs_contain(dump, (
        "index has read-only-allow-delete block",
        '"msg":"Not starting an election, since we are not electable"',
        '"msg":"message exceeded backend quota; raising alarm"',
        "psycopg.errors.ReadOnlySqlTransaction: cannot execute INSERT in a read-only transaction",
        "vm_memory_high_watermark set. Memory used:",
        "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
        "  | * Vault is sealed",
        "ensure CRDs are installed first",
        "Skipping registering GPU devices...",
        "DB::Exception: Too many parts (",
        "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 160.00 MiB.",
    ))


def test_ember_secrets_are_planted_for_redaction(dump: Path) -> None:
    check_secrets_are_planted(dump)


def test_unknown_scenario_error_names_ember() -> None:
    with pytest.raises(ValueError, match="ember"):
        build_cluster(seed=1, scenario="embers")


def test_cli_scenario_ember(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    check_cli_scenario(tmp_path, capsys, "ember", "embers", ("esflood-1", "bigmodel-2"))
