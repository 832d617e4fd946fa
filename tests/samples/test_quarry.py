"""The quarry sample scenario: a twelfth set of incidents, objects and questions, scoreable and selectable by name.

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

from kubetrainer.samples import quarry
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

BEFORE = ("default", "heldout", "fresh", "blind", "sealed", "unseen", "reserve", "drill", "vigil", "ember", "tundra")


@pytest.fixture(scope="module")
def dump(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_dump(tmp_path_factory, "quarry")


def test_same_seed_same_bytes_and_scenarios_differ(dump: Path, tmp_path: Path) -> None:
    check_same_seed_same_bytes(dump, tmp_path, "quarry", BEFORE)


def test_ten_incidents_two_questions_each_with_two_facts(dump: Path) -> None:
    check_ten_incidents_two_questions_each_with_two_facts(dump)


def test_every_evidence_phrase_and_fact_is_in_the_dump_for_its_objects(dump: Path) -> None:
    check_evidence_and_facts_are_in_the_dump(dump)


def test_the_same_seed_gives_the_same_questions_in_memory() -> None:
    check_same_seed_same_questions_in_memory("quarry")


@pytest.mark.parametrize("other", BEFORE)
def test_quarry_does_not_reuse_the_other_scenarios(dump: Path, other: str) -> None:
    check_does_not_reuse(dump, "quarry", quarry, other)


def test_every_namespace_in_the_dump_belongs_to_a_workload(dump: Path) -> None:
    check_every_namespace_belongs_to_a_workload(dump, quarry)


def test_nodes_and_placement(dump: Path) -> None:
    nodes = nodes_of(dump)
    everywhere = all_pods(dump)
    for name in quarry.CONTROL_PLANE:
        assert {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"} in nodes[name]["spec"]["taints"]
    for name in quarry.SEARCH_NODES:
        assert nodes[name]["metadata"]["labels"]["node.wayfarer.example/pool"] == "search"
    for name in quarry.FRESH_NODES:  # joined at 11:08, so nothing on them started earlier
        assert nodes[name]["metadata"]["creationTimestamp"] == "2026-03-14T11:07:48Z"
        daemons = [p for p in everywhere if p["spec"].get("nodeName") == name
                   and p["metadata"]["ownerReferences"][0]["kind"] == "DaemonSet"]
        assert daemons and all(p["status"]["startTime"] >= "2026-03-14T11:08" for p in daemons)
        others = {p["metadata"]["name"].rsplit("-", 2)[0] for p in everywhere
                  if p["spec"].get("nodeName") == name and p not in daemons}
        assert others == {"tile-cache"}  # only the scale-up that brought them
    for name in quarry.ROTATED_NODES:  # replaced at 05:30 with the new node image
        assert nodes[name]["metadata"]["creationTimestamp"] == "2026-03-14T05:30:00Z"
        assert nodes[name]["status"]["nodeInfo"]["osImage"] == "Ubuntu 24.04.2 LTS"
        assert all(p["status"]["startTime"] >= "2026-03-14T05:30" for p in everywhere
                   if p["spec"].get("nodeName") == name)
    on_dgx = [p for p in everywhere if p["spec"].get("nodeName") == quarry.HOT_GPU_NODE]
    assert {p["metadata"]["ownerReferences"][0]["kind"] for p in on_dgx} == {"DaemonSet", "Job"}
    assert nodes[quarry.HOT_GPU_NODE]["status"]["allocatable"]["nvidia.com/gpu"] == "8"


def test_pull_antiaffinity_etcd_and_webhook_incidents(dump: Path) -> None:
    # 1. tile-cache: 8 pods of one ReplicaSet; the 3 on the new nodes cannot pull, the 5 on old nodes run.
    caches = pods_named(dump, "map-tiles", "tile-cache-")
    assert len(caches) == 8 and len({p["metadata"]["ownerReferences"][0]["name"] for p in caches}) == 1
    stuck = [p for p in caches if p["status"]["containerStatuses"][0]["state"].get("waiting")]
    assert {p["spec"]["nodeName"] for p in stuck} == set(quarry.FRESH_NODES) and len(stuck) == 3
    assert all(p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "ImagePullBackOff" for p in stuck)
    assert {p["spec"]["nodeName"] for p in caches if p not in stuck} <= {"cpu-0", "cpu-1"}
    pulls = [e for e in events(dump, "map-tiles", "Failed") if "toomanyrequests" in e["message"]]
    assert len(pulls) == 3 and all(e["type"] == "Warning" and e["source"]["component"] == "kubelet" for e in pulls)
    assert {e["reason"] for e in items(dump, "default", "events")
            if e["involvedObject"]["name"] in quarry.FRESH_NODES} >= {"RegisteredNode", "NodeReady"}

    # 2. fare-quoter: four on the search pool, two Pending with the scheduler's and the autoscaler's reasons.
    engines = pods_named(dump, "fare-search", "fare-quoter-")
    pending = [p for p in engines if p["status"]["phase"] == "Pending"]
    assert len(engines) == 6 and len(pending) == 2 and all("nodeName" not in p["spec"] for p in pending)
    assert sorted(p["spec"]["nodeName"] for p in engines if p not in pending) == list(quarry.SEARCH_NODES)
    for event in events(dump, "fare-search", "FailedScheduling"):
        total = len(nodes_of(dump))
        assert event["message"].startswith(f"0/{total} nodes are available: ")
        assert "4 node(s) didn't match pod anti-affinity rules" in event["message"]
        counts = event["message"].split(": ", 1)[1].split(". preemption")[0].split(", ")
        assert sum(int(part.split(" ", 1)[0]) for part in counts) == total
    assert len(events(dump, "fare-search", "NotTriggerScaleUp")) == 2

    # 3. etcd and the API servers: static pods on the control plane; only the leader reports a slow disk.
    for node in quarry.CONTROL_PLANE:
        (etcd,) = pods_named(dump, "kube-system", f"etcd-{node}")
        assert etcd["spec"]["nodeName"] == node and etcd["metadata"]["ownerReferences"][0]["kind"] == "Node"
        text = logs_of(dump, "kube-system", f"etcd-{node}")
        assert ("leader is overloaded likely from slow disk" in text) == (node == quarry.SLOW_ETCD_NODE)
        for line in text.splitlines()[1:-1]:
            assert set(json.loads(line)) >= {"level", "ts", "caller", "msg"}
        assert "etcdserver: request timed out" in logs_of(dump, "kube-system", f"kube-apiserver-{node}")

    # 4. The webhook: no seatmap-booking 3.4.0 pod exists, its ReplicaSet only reports FailedCreate.
    bookings = pods_named(dump, "rail-booking", "seatmap-booking-")
    assert len(bookings) == 3 and all(p["spec"]["containers"][0]["image"].endswith(":3.3.2") for p in bookings)
    rejected = events(dump, "rail-booking", "FailedCreate")
    assert rejected and {e["involvedObject"]["kind"] for e in rejected} == {"ReplicaSet"}
    assert all("is after 2026-03-14T09:58:00Z" in e["message"] for e in rejected)
    for pod in items(dump, "platform-admission", "pods"):
        assert "remote error: tls: bad certificate" in logs_of(dump, "platform-admission", pod["metadata"]["name"])


def test_gpu_redis_nofile_and_sidecar_incidents(dump: Path) -> None:
    # 5. The training job holds the whole H100 server; the diagnostics Job ran there and succeeded.
    (train,) = pods_named(dump, "eta-models", "route-eta-train-")
    assert train["spec"]["containers"][0]["resources"]["requests"]["nvidia.com/gpu"] == "8"
    (diag,) = pods_named(dump, "eta-models", "gpu-diag-dgx07-")
    assert diag["status"]["phase"] == "Succeeded" and diag["spec"]["nodeName"] == quarry.HOT_GPU_NODE
    smi = logs_of(dump, "eta-models", diag["metadata"]["name"])
    assert smi.count(", 1980 MHz, 0x0000000000000000") == 7 and "==============NVSMI LOG==============" in smi

    # 6. Redis: node-0 was OOMKilled once and is now a replica; basket-api points at it.
    redis = {p["metadata"]["name"]: p for p in pods_named(dump, "session-store", "cart-redis-node-")}
    assert sorted(redis) == ["cart-redis-node-0", "cart-redis-node-1", "cart-redis-node-2"]
    last = status_of(redis["cart-redis-node-0"], "redis")["lastState"]["terminated"]
    assert last["reason"] == "OOMKilled" and last["exitCode"] == 137
    assert all(status_of(p, "redis")["ready"] and status_of(p, "sentinel")["ready"] for p in redis.values())
    for name in redis:
        assert logs_of(dump, "session-store", name).count("+switch-master mymaster") == 1
    for pod in pods_named(dump, "session-store", "basket-api-"):
        assert env_of(pod)["REDIS_ADDR"].startswith("cart-redis-node-0.")

    # 7. departures-ws: one pod per realtime node; only those on the containerd 2.0.2 nodes run out of descriptors.
    nodes = nodes_of(dump)
    for pod in pods_named(dump, "live-travel", "departures-ws-"):
        node = nodes[pod["spec"]["nodeName"]]
        rotated = node["status"]["nodeInfo"]["containerRuntimeVersion"] == "containerd://2.0.2"
        assert rotated == (pod["spec"]["nodeName"] in quarry.ROTATED_NODES)
        text = logs_of(dump, "live-travel", pod["metadata"]["name"])
        assert ("OSError: [Errno 24] Too many open files" in text) == rotated
        assert status_of(pod, "app")["ready"] != rotated and status_of(pod, "app")["restartCount"] == 0
        assert f"(limit {1024 if rotated else 1048576})" in text
    unhealthy = events(dump, "live-travel", "Unhealthy")
    assert len(unhealthy) == 2 and all(e["message"].startswith("Readiness probe failed: ") for e in unhealthy)

    # 8. The sidecar is OOMKilled in both pods; the app container never restarts.
    for pod in pods_named(dump, "trip-planner", "itinerary-api-"):
        sidecar, app = status_of(pod, "otel-collector"), status_of(pod, "app")
        assert sidecar["lastState"]["terminated"]["reason"] == "OOMKilled" and sidecar["restartCount"] > 10
        assert app["restartCount"] == 0 and app["ready"]
        assert pod["spec"]["containers"][1]["resources"]["limits"]["memory"] == "256Mi"
    ready = [next(c["status"] for c in p["status"]["conditions"] if c["type"] == "Ready")
             for p in pods_named(dump, "trip-planner", "itinerary-api-")]
    assert sorted(ready) == ["False", "True"]


def test_triton_and_configmap_incidents(dump: Path) -> None:
    # 9. Triton: three pods of one ReplicaSet, the new one crash-loops; every pod synced its models first.
    rerankers = pods_named(dump, "review-ranking", "reranker-triton-")
    assert len(rerankers) == 3 and len({p["metadata"]["ownerReferences"][0]["name"] for p in rerankers}) == 1
    crashing = [p for p in rerankers if p["status"]["containerStatuses"][0]["state"].get("waiting")]
    assert len(crashing) == 1
    assert crashing[0]["status"]["containerStatuses"][0]["lastState"]["terminated"]["exitCode"] == 1
    for pod in rerankers:
        (sync,) = pod["status"]["initContainerStatuses"]
        assert sync["name"] == "model-sync" and sync["state"]["terminated"]["reason"] == "Completed"
        text = logs_of(dump, "review-ranking", pod["metadata"]["name"])
        assert text.index("container model-sync") < text.index("container triton")
        assert ("4/model.onnx_data" in text) == (pod in crashing)

    # 10. The import Job: two failed attempts, the backoff limit, the CronJob's view; the planners are unchanged.
    attempts = pods_named(dump, "rail-timetable", "timetable-import-")
    assert len(attempts) == 2 and all(p["status"]["phase"] == "Failed" for p in attempts)
    (job,) = {p["metadata"]["ownerReferences"][0]["name"] for p in attempts}
    eleven_five = datetime(2026, 3, 14, 11, 5, tzinfo=UTC)  # the CronJob names a Job after its scheduled minute
    assert job == f"timetable-import-{int(eleven_five.timestamp()) // 60}"
    cron = [e for e in items(dump, "rail-timetable", "events") if e["involvedObject"]["kind"] == "CronJob"]
    assert {e["reason"] for e in cron} == {"SuccessfulCreate", "SawCompletedJob", "SuccessfulDelete"}
    assert all(e["involvedObject"]["apiVersion"] == "batch/v1" for e in cron)
    (limit,) = events(dump, "rail-timetable", "BackoffLimitExceeded")
    assert limit["involvedObject"] == {"kind": "Job", "name": job, "apiVersion": "batch/v1",
                                       "namespace": "rail-timetable"}
    for pod in pods_named(dump, "rail-timetable", "journey-planner-"):
        assert '"changed": true' not in logs_of(dump, "rail-timetable", pod["metadata"]["name"])

    check_logs_contain(dump, (
        "Skipping node group wf-prod-search-pool-asg - max size reached",
        '"msg":"slow fdatasync"',
        "Trace[",
        '"logger":"controller-runtime.webhook","msg":"Serving webhook server"',
        "HW Thermal Slowdown           : Active",
        "+odown master mymaster",
        "socket.accept() out of system resource",
        "\texporterhelper/retry_sender.go:118\tExporting failed. Will retry the request after interval.\t{",
        "error: creating server: Internal - failed to load all models",
        "Error from server (Invalid): ConfigMap",
    ))


def test_quarry_secrets_are_planted_for_redaction(dump: Path) -> None:
    check_secrets_are_planted(dump)


def test_unknown_scenario_error_names_quarry() -> None:
    with pytest.raises(ValueError, match="quarry"):
        build_cluster(seed=1, scenario="quarries")


def test_cli_scenario_quarry(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    check_cli_scenario(tmp_path, capsys, "quarry", "quarries", ("hubpull-1", "antiaff-2"))
