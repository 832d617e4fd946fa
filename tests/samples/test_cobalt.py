"""The cobalt sample scenario: a thirteenth set of incidents, objects and questions, scoreable and selectable by name.

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

from kubetrainer.samples import cobalt
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
    scheduler_total,
    status_of,
)

BEFORE = ("default", "heldout", "fresh", "blind", "sealed", "unseen", "reserve", "drill", "vigil", "ember", "tundra",
          "quarry")


@pytest.fixture(scope="module")
def dump(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_dump(tmp_path_factory, "cobalt")


def _kind(pod: dict) -> str:
    return pod["metadata"]["ownerReferences"][0]["kind"]


def _owner(pod: dict) -> str:
    return pod["metadata"]["ownerReferences"][0]["name"]


def _body(text: str) -> list[str]:
    """A pod's log lines without kubectl's START/END markers."""
    return [line for line in text.splitlines() if not line.startswith("==== ")]


def test_same_seed_same_bytes_and_scenarios_differ(dump: Path, tmp_path: Path) -> None:
    check_same_seed_same_bytes(dump, tmp_path, "cobalt", BEFORE)


def test_ten_incidents_two_questions_each_with_two_facts(dump: Path) -> None:
    check_ten_incidents_two_questions_each_with_two_facts(dump)


def test_every_evidence_phrase_and_fact_is_in_the_dump_for_its_objects(dump: Path) -> None:
    check_evidence_and_facts_are_in_the_dump(dump)


def test_the_same_seed_gives_the_same_questions_in_memory() -> None:
    check_same_seed_same_questions_in_memory("cobalt")


@pytest.mark.parametrize("other", BEFORE)
def test_cobalt_does_not_reuse_the_other_scenarios(dump: Path, other: str) -> None:
    check_does_not_reuse(dump, "cobalt", cobalt, other)


def test_every_namespace_in_the_dump_belongs_to_a_workload(dump: Path) -> None:
    check_every_namespace_belongs_to_a_workload(dump, cobalt)


def test_nodes_and_placement(dump: Path) -> None:
    nodes = nodes_of(dump)
    everywhere = all_pods(dump)
    for name in (*cobalt.GENERAL_NODES, cobalt.RO_NODE, *cobalt.GPU_NODES):
        conditions = {c["type"]: c for c in nodes[name]["status"]["conditions"]}
        assert conditions["Ready"]["status"] == "True"
        assert conditions["ReadonlyFilesystem"]["status"] == ("True" if name == cobalt.RO_NODE else "False")
        assert nodes[name]["metadata"]["labels"]["topology.kubernetes.io/region"] == "us-east-2"
    broken = {c["type"]: c for c in nodes[cobalt.RO_NODE]["status"]["conditions"]}["ReadonlyFilesystem"]
    assert broken["reason"] == "FilesystemIsReadOnly" and "Remounting filesystem read-only" in broken["message"]
    for name in cobalt.GPU_NODES:
        node = nodes[name]
        assert node["metadata"]["labels"]["node.kubernetes.io/instance-type"] == "g5.2xlarge"
        assert node["metadata"]["labels"]["karpenter.sh/nodepool"] == "gpu-inference"
        assert node["metadata"]["labels"]["topology.kubernetes.io/zone"] == "us-east-2a"
        assert node["status"]["allocatable"]["nvidia.com/gpu"] == "1"
        on_it = [p for p in everywhere if p["spec"].get("nodeName") == name and _kind(p) != "DaemonSet"]
        assert [p["metadata"]["name"].rsplit("-", 2)[0] for p in on_it] == ["fraud-model-server"]
    on_ro = {p["metadata"]["name"].rsplit("-", 2)[0] for p in everywhere
             if p["spec"].get("nodeName") == cobalt.RO_NODE and _kind(p) != "DaemonSet"}
    assert on_ro == {"fx-rate-sync", "checkout-web", "wallet-api"}


def test_alb_certificate_and_migration_incidents(dump: Path) -> None:
    # 1. The public Ingress: FailedBuildModel on every try; the internal one reconciled once.
    failed = events(dump, "merchant-portal", "FailedBuildModel")
    assert len(failed) == 1 and failed[0]["type"] == "Warning" and failed[0]["count"] > 5
    assert failed[0]["involvedObject"] == {"kind": "Ingress", "name": "merchant-portal-public",
                                           "apiVersion": "networking.k8s.io/v1", "namespace": "merchant-portal"}
    (ok,) = events(dump, "merchant-portal", "SuccessfullyReconciled")
    assert ok["involvedObject"]["name"] == "merchant-portal-ops" and ok["type"] == "Normal"
    leader = [p for p in pods_named(dump, "kube-system", "aws-load-balancer-controller-")
              if "Reconciler error" in logs_of(dump, "kube-system", p["metadata"]["name"])]
    assert len(leader) == 1
    for line in _body(logs_of(dump, "kube-system", leader[0]["metadata"]["name"])):
        assert set(json.loads(line)) >= {"level", "ts", "msg"}

    # 2. The TLS Secret: pruned six times, five certificates issued, the sixth refused; nginx falls back.
    cert = [e for e in items(dump, "checkout-edge", "events") if e["involvedObject"]["kind"] == "Certificate"]
    assert all(e["involvedObject"]["apiVersion"] == "cert-manager.io/v1" for e in cert)
    issuing = {e["message"]: e["count"] for e in cert if e["reason"] == "Issuing"}
    assert issuing == {"Issuing certificate as Secret does not exist": 6,
                       "The certificate has been successfully issued": 5}
    (refused,) = [e for e in cert if e["reason"] == "Failed"]
    assert refused["type"] == "Warning" and "429 urn:ietf:params:acme:error:rateLimited" in refused["message"]
    argo = logs_of(dump, "argocd", "argo-cd-application-controller-0")
    assert argo.count("status: 'Pruned'") == 6
    assert all(line.startswith('time="') and " level=" in line for line in _body(argo))
    for pod in pods_named(dump, "edge-ingress", "edge-ingress-nginx-controller-"):
        text = logs_of(dump, "edge-ingress", pod["metadata"]["name"])
        assert "Using default certificate" in text and "default-fake-certificate.pem" in text

    # 3. The migration Job: two failed attempts (exit 1), the backoff limit; onboarding-web stays on 3.8.4.
    attempts = pods_named(dump, "merchant-onboarding", "onboarding-web-db-migrate-")
    assert len(attempts) == 2 and {_owner(p) for p in attempts} == {"onboarding-web-db-migrate"}
    for pod in attempts:
        assert pod["status"]["phase"] == "Failed" and pod["spec"]["restartPolicy"] == "Never"
        terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
        assert terminated["exitCode"] == 1 and terminated["reason"] == "Error"
        assert "this and all later migrations canceled" in logs_of(dump, "merchant-onboarding", pod["metadata"]["name"])
    (limit,) = events(dump, "merchant-onboarding", "BackoffLimitExceeded")
    assert limit["involvedObject"]["kind"] == "Job" and limit["involvedObject"]["apiVersion"] == "batch/v1"
    web = [p for p in pods_named(dump, "merchant-onboarding", "onboarding-web-") if p not in attempts]
    assert len(web) == 2 and all(p["spec"]["containers"][0]["image"].endswith(":3.8.4") for p in web)
    completed = [e for e in events(dump, "argocd", "OperationCompleted")
                 if e["involvedObject"]["name"] == "merchant-onboarding"]
    assert len(completed) == 1 and completed[0]["type"] == "Warning"
    assert completed[0]["involvedObject"]["apiVersion"] == "argoproj.io/v1alpha1"


def test_kafka_dotnet_and_grpc_incidents(dump: Path) -> None:
    # 4. settlement: 12 writers of one ReplicaSet; in the last rebalance six got a partition each, six got none.
    writers = pods_named(dump, "settlement", "settlement-ledger-writer-")
    assert len(writers) == 12 and len({_owner(p) for p in writers}) == 1
    assert [e["message"].split(";")[0] for e in events(dump, "settlement", "SuccessfulRescale")] == \
        ["New size: 8", "New size: 12"]
    last = {}
    for pod in writers:
        entries = [json.loads(line) for line in _body(logs_of(dump, "settlement", pod["metadata"]["name"]))]
        joins = [e for e in entries if e.get("message") == "[ConsumerGroup] Consumer has joined the group"]
        last[pod["metadata"]["name"]] = joins[-1]["memberAssignment"]
        assert all(status_of(pod, "writer")["ready"] for _ in [0])
    assigned = sorted(p for assignment in last.values() for p in assignment.get("settlement.captured", []))
    assert assigned == [0, 1, 2, 3, 4, 5] and sum(1 for a in last.values() if not a) == 6

    # 5. refund-api: the 2.0.0 pod runs but is never ready; readiness on port 80 is refused; 1.9.3 pods are ready.
    refunds = pods_named(dump, "refunds", "refund-api-")
    new = [p for p in refunds if p["spec"]["containers"][0]["image"].endswith(":2.0.0")]
    assert len(refunds) == 4 and len(new) == 1
    status = status_of(new[0], "app")
    assert "running" in status["state"] and not status["ready"] and status["restartCount"] == 0
    assert all(status_of(p, "app")["ready"] for p in refunds if p not in new)
    assert new[0]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["port"] == 80
    (unhealthy,) = events(dump, "refunds", "Unhealthy")
    assert unhealthy["involvedObject"]["name"] == new[0]["metadata"]["name"]
    assert unhealthy["message"].startswith("Readiness probe failed: ") and unhealthy["type"] == "Warning"

    # 6. ledger: the server answers OK every time; only responses over 4 MiB fail in the client.
    for pod in pods_named(dump, "ledger-core", "ledger-grpc-"):
        calls = [line for line in logs_of(dump, "ledger-core", pod["metadata"]["name"]).splitlines()
                 if 'msg="finished call"' in line]
        assert calls and all("grpc.code=OK" in line for line in calls)
    for pod in pods_named(dump, "ledger-core", "statement-export-"):
        for line in _body(logs_of(dump, "ledger-core", pod["metadata"]["name"])):
            entry = json.loads(line)
            if entry["msg"] == "export failed":
                size = int(entry["err"].split("(")[1].split(" vs. ")[0])
                assert size > 4194304 and "code = ResourceExhausted" in entry["err"]


def test_csi_memcached_karpenter_and_node_incidents(dump: Path) -> None:
    # 7. payouts: two pods mounted the secret yesterday and run; the two new ones wait in ContainerCreating.
    payouts = pods_named(dump, "disbursements", "payout-dispatcher-")
    stuck = [p for p in payouts if p["status"]["phase"] == "Pending"]
    assert len(payouts) == 4 and len(stuck) == 2
    for pod in stuck:
        assert pod["spec"]["nodeName"] in cobalt.GENERAL_NODES
        assert status_of(pod, "dispatcher")["state"]["waiting"]["reason"] == "ContainerCreating"
    mounts = events(dump, "disbursements", "FailedMount")
    assert len(mounts) == 4 and all(e["type"] == "Warning" and e["source"]["component"] == "kubelet" for e in mounts)

    # 8. memcached: a 1 MiB item limit; every refused entry is bigger than that.
    for pod in pods_named(dump, "catalog-browse", "listing-memcached-"):
        assert env_of(pod)["MEMCACHED_MAX_ITEM_SIZE"] == "1048576"
    refused = [json.loads(line) for pod in pods_named(dump, "catalog-browse", "plp-api-")
               for line in logs_of(dump, "catalog-browse", pod["metadata"]["name"]).splitlines()
               if '"event": "cache set failed"' in line]
    assert refused and all(entry["bytes"] > 1048576 for entry in refused)

    # 9. fraud-model-server: two Pending without a node; the scheduler's counts add up; Karpenter nominates.
    fraud = pods_named(dump, "risk-scoring", "fraud-model-server-")
    pending = [p for p in fraud if p["status"]["phase"] == "Pending"]
    assert len(fraud) == 4 and len(pending) == 2 and all("nodeName" not in p["spec"] for p in pending)
    assert {p["spec"]["containers"][0]["resources"]["requests"]["nvidia.com/gpu"] for p in fraud} == {"1"}
    total = len(nodes_of(dump))
    for event in events(dump, "risk-scoring", "FailedScheduling"):
        assert scheduler_total(event["message"]) == (total, total)
        assert "2 Insufficient nvidia.com/gpu" in event["message"]
    nominated = events(dump, "risk-scoring", "Nominated")
    assert nominated and {e["source"]["component"] for e in nominated} == {"karpenter"}

    # 10. The read-only node: the new wallet-api pod cannot be created there; the kernel monitor says why.
    wallet = pods_named(dump, "wallet", "wallet-api-")
    (blocked,) = [p for p in wallet if p["spec"]["nodeName"] == cobalt.RO_NODE]
    waiting = status_of(blocked, "app")["state"]["waiting"]
    assert waiting["reason"] == "CreateContainerError" and waiting["message"].endswith("read-only file system")
    assert blocked["status"]["phase"] == "Pending"
    assert len([p for p in wallet if status_of(p, "app")["ready"]]) == 3
    node_events = {e["reason"]: e for e in items(dump, "default", "events")
                   if e["involvedObject"]["name"] == cobalt.RO_NODE}
    assert set(node_events) == {"Ext4Error", "FilesystemIsReadOnly"}
    assert all(e["involvedObject"]["kind"] == "Node" and e["source"]["component"] == "kernel-monitor"
               for e in node_events.values())

    check_logs_contain(dump, (
        "couldn't auto-discover subnets: unable to resolve at least one subnet",
        "Updating operation state. phase: Running -> Failed",
        '"message":"[Consumer] Crash: KafkaJSNumberOfRetriesExceeded: Unterminated string in JSON at position 4096"',
        "Microsoft.Hosting.Lifetime[14]",
        "rpc error: code = ResourceExhausted desc = grpc: received message larger than max (",
        "Failure getting secret values from provider type secretsmanager",
        "Welcome to the Bitnami memcached container",
        '"message":"removing offering from offerings"',
        "read-only file system",
    ))


def test_cobalt_secrets_are_planted_for_redaction(dump: Path) -> None:
    check_secrets_are_planted(dump)


def test_unknown_scenario_error_names_cobalt() -> None:
    with pytest.raises(ValueError, match="cobalt"):
        build_cluster(seed=1, scenario="cobolt")


def test_cli_scenario_cobalt(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    check_cli_scenario(tmp_path, capsys, "cobalt", "cobolt", ("cb-albtags-1", "cb-rofs-2"))
