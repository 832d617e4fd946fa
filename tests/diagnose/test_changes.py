"""What changed before a failure, from the Normal events and controller logs that record changes."""

from __future__ import annotations

from kubetrainer.answer.compose import compose
from kubetrainer.answer.sources import Sources
from kubetrainer.diagnose import diagnose
from kubetrainer.diagnose.finding import Finding
from kubetrainer.sources.kube import object_record

from .cluster import container, event, log, node, pod

# PostgreSQL's refusal once max_connections is used up, as a psycopg client logs it.
SCORER_UID = "68e72010-1978-4e28-a0f7-1863ebc295a2"
REFUSED = ('psycopg.OperationalError: connection failed: connection to server at "10.0.4.12", port 5432 failed: '
           "FATAL:  sorry, too many clients already")


def _finding(found: list[Finding], name: str) -> Finding:
    return next(finding for finding in found if finding.name == name)


def test_a_failure_names_the_scale_up_just_before_it_in_its_namespace_and_nothing_unrelated():
    # The deployment controller's Normal event when a Deployment is scaled by hand or by an autoscaler.
    scaled = "Scaled up replica set sync-worker-9wc69 to 12 from 2"
    found = diagnose([
        event("Deployment", "sync-worker", "stock", "ScalingReplicaSet", scaled, warning=False, ts="2026-03-14T10:18:00Z"),
        event("Deployment", "billing", "other", "ScalingReplicaSet", "Scaled up replica set billing-5f to 3 from 1",
              warning=False, ts="2026-03-14T10:19:00Z"),
        event("Deployment", "sync-worker", "stock", "ScalingReplicaSet", "Scaled down replica set sync-worker-9wc69 "
              "to 2 from 12", warning=False, ts="2026-03-14T11:30:00Z"),
        *(log("stock-api-1", REFUSED, "stock", ts=f"2026-03-14T10:2{i}:00Z") for i in range(3)),
    ])
    finding = _finding(found, "stock-api-1")
    assert [item.text for item in finding.changes] == [f"ScalingReplicaSet: {scaled}"], "another namespace's, or a " \
        "later, change is not what came before it"
    assert Finding.from_json(finding.to_json()).changes == finding.changes


def test_slow_image_pulls_and_preemptions_are_changes_and_quick_pulls_are_not():
    # The kubelet's Pulled event carries the pull's duration; kube-scheduler writes Preempted on its victim.
    slow = ('Successfully pulled image "registry.example.com/asr/train:2026.03" in 16m48.221s (16m48.221s including '
            'waiting). Image size: 24187262976 bytes.')
    quick = 'Successfully pulled image "registry.example.com/asr/train:2026.03" in 2.874s (2.874s including waiting).'
    timeout = ("torch.distributed.elastic.rendezvous.api.RendezvousTimeoutError: The node 'train-0_1_0' has failed to "
               "join the rendezvous 'pretrain' within the timeout")
    found = diagnose([
        event("Pod", "train-1", "asr", "Pulled", slow, warning=False, ts="2026-03-14T11:25:00Z"),
        event("Pod", "train-2", "asr", "Pulled", quick, warning=False, ts="2026-03-14T11:08:30Z"),
        event("Pod", "finetune-a", "ads", "Preempted", f"Preempted by pod {SCORER_UID} on node gpu-a100-5",
              warning=False, ts="2026-03-14T10:48:00Z"),
        pod("scorer-5", "serving", node="gpu-a100-5", uid=SCORER_UID),
        log("train-0", timeout, "asr", ts="2026-03-14T11:18:00Z"),
        log("train-0", timeout, "asr", ts="2026-03-14T11:25:30Z"),
        event("Pod", "finetune-b", "ads", "FailedScheduling", "0/9 nodes are available: 1 Insufficient nvidia.com/gpu. "
              "preemption: 0/9 nodes are available: 1 No preemption victims found for incoming pod.", count=40,
              ts="2026-03-14T11:50:00Z"),
        pod("finetune-b", "ads", node=None, phase="Pending"),
    ])
    assert [item.text for item in _finding(found, "train-0").changes] == [f"Pulled: {slow}"]
    preempted = _finding(found, "finetune-b").changes
    assert [(item.name, item.about) for item in preempted] == [("finetune-a", "by pod serving/scorer-5")], \
        "the preemptor, named by uid, is resolved to its pod"
    text = compose([_finding(found, "finetune-b")], Sources([])).text
    assert 'finetune-a: "Preempted: Preempted by pod 68e72010-' in text and "], by pod serving/scorer-5" in text


def test_a_rotated_secret_that_reloader_rolled_out_is_named_before_the_failures_in_its_namespace():
    # Stakater Reloader logs the ConfigMap/Secret change and the workload it rolled, in another namespace's pod.
    rotated = ("time=\"2026-03-14T08:12:04Z\" level=info msg=\"Changes detected in 'db-credentials' of type 'SECRET' in "
               "namespace 'loyalty', Updated 'loyalty-api' of type 'Deployment' in namespace 'loyalty'\"")
    denied = 'FATAL: password authentication failed for user "loyalty_app"'
    records = [log("reloader-1", rotated, "platform", "reloader", ts="2026-03-14T08:12:04Z"),
               *(log("loyalty-api-7f-x2", f"ERROR {denied}", "loyalty", ts=f"2026-03-14T08:1{i}:30Z") for i in (3, 4, 5))]
    found = diagnose(records)
    finding = _finding(found, "loyalty-api-7f-x2")
    assert [item.text for item in finding.changes] == [rotated]
    text = compose([finding], Sources([])).text
    assert "What changed shortly before:\n- 08:12 UTC, reloader-1: " in text and "'db-credentials'" in text
    assert not _finding(found, "loyalty-api-7f-x2").changes[0].namespace == "loyalty", "cited where it was logged"


def test_the_diagnose_table_shows_what_changed_before_a_failure(tmp_path, capsys) -> None:
    from kubetrainer.cli import main
    from kubetrainer.records import write_jsonl

    scaled = "Scaled up replica set sync-worker-9wc69 to 12 from 2"
    records = tmp_path / "records.jsonl"
    write_jsonl(records, [
        event("Deployment", "sync-worker", "stock", "ScalingReplicaSet", scaled, warning=False, ts="2026-03-14T10:18:00Z"),
        *(log("stock-api-1", REFUSED, "stock", ts=f"2026-03-14T10:2{i}:00Z") for i in range(3)),
    ])
    assert main(["diagnose", "--from", str(records)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "changed before: 2026-03-14T10:18:00Z sync-worker:" in out and "to 12 from 2" in out


def test_a_scheduled_scale_to_zero_is_named_before_the_failure_of_a_service_in_its_namespace():
    # kube-downscaler scales the Gatekeeper controller to 0 for the weekend; the API server then cannot call its webhook.
    scaled = ("2026-03-14 07:00:00,000 INFO: Scaling down Deployment gatekeeper-system/gatekeeper-controller-manager "
              "from 3 to 0 replicas (uptime: always, downtime: Sat-Sun 08:00-24:00 Europe/Berlin)")
    refused = ('Error creating: Internal error occurred: failed calling webhook "validation.gatekeeper.sh": failed to call '
               'webhook: Post "https://gatekeeper-webhook-service.gatekeeper-system.svc:443/v1/admit?timeout=3s": no '
               'endpoints available for service "gatekeeper-webhook-service"')
    found = diagnose([log("kube-downscaler-7f-5cbqj", scaled, "platform", ts="2026-03-14T07:00:00Z"),
                      event("ReplicaSet", "push-dispatcher-9td7", "notifications", "FailedCreate", refused,
                            ts="2026-03-14T11:20:00Z")])
    failing = _finding(found, "push-dispatcher-9td7")
    assert [item.text for item in failing.changes] == [scaled], \
        "the webhook's namespace is named in its address; a scale to zero lasts past the usual window"
    assert diagnose([log("w-1", "INFO scaling up the worker pool from 2 to 4 threads")]) == [], "no workload, no change"


def test_objects_a_gitops_apply_created_are_changes_before_failures_in_their_namespace():
    # Flux's kustomize-controller logs each apply with the objects it created, configured or left unchanged.
    applied = ('{"level":"info","ts":"2026-03-14T10:38:00.000Z","msg":"server-side apply completed","name":"warehouse",'
               '"output":{"Deployment/warehouse/inventory":"unchanged","NetworkPolicy/warehouse/default-deny-ingress":'
               '"created"}}')
    refused = "ERROR picker: GET http://inventory.warehouse.svc:8080/stock: context deadline exceeded"
    found = diagnose([log("kustomize-controller-1", applied, "flux-system", "manager", ts="2026-03-14T10:38:00Z"),
                      *(log("picker-1", refused, "warehouse", ts=f"2026-03-14T14:0{i}:00Z") for i in range(3))])
    (change,) = _finding(found, "picker-1").changes
    assert change.text == applied and change.about == "NetworkPolicy warehouse/default-deny-ingress created", \
        "an applied object lasts: hours later it is still what changed"


def test_a_replicaset_created_before_a_failure_is_the_rollout_that_came_with_it_after_its_events_expired() -> None:
    """Kubernetes keeps events an hour; the ReplicaSet a rollout made keeps its creation time and pod template."""
    replica_set = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                   "metadata": {"name": "query-api-9gd5q2x6kc", "namespace": "search",
                                "creationTimestamp": "2026-03-14T09:40:09Z",
                                "ownerReferences": [{"kind": "Deployment", "name": "query-api"}]},
                   "spec": {"replicas": 3, "template": {"spec": {"containers": [
                       {"name": "app", "image": "registry.example.com/search/query-api:4.0.0"}]}}},
                   "status": {"replicas": 3, "readyReplicas": 3}}
    missing = "failed to get cpu utilization: missing request for cpu in container app of Pod query-api-9gd5q2x6kc-jrbcz"
    records = [object_record(replica_set, "dump"),
               event("HorizontalPodAutoscaler", "query-api", "search", "FailedGetResourceMetric", missing, count=312,
                     first="2026-03-14T09:41:07Z", ts="2026-03-14T11:59:48Z")]
    found = diagnose([*records, records[0]])  # a second copy of the ReplicaSet's record is the same rollout
    (change,) = next(f for f in found if f.rule == "hpa-metrics").changes
    assert change.ts == "2026-03-14T09:40:09Z" and change.name == "query-api-9gd5q2x6kc"
    assert "images registry.example.com/search/query-api:4.0.0" in change.text
    text = compose(found[:1], Sources([])).text
    assert "09:40 UTC, query-api-9gd5q2x6kc" in text and "query-api:4.0.0" in text


def test_a_statefulset_losing_members_is_a_change_before_its_quorum_failure_and_replicaset_churn_is_not():
    # The statefulset controller's Normal event per pod removed by a scale-down; mongod's election refusal after it.
    members = [event("StatefulSet", "mongo", "pts", "SuccessfulDelete", f"delete Pod mongo-{n} in StatefulSet mongo "
                     "successful", warning=False, ts=f"2026-03-14T11:0{n}:00Z") for n in (1, 2)]
    churn = event("ReplicaSet", "api-7d9f", "pts", "SuccessfulDelete", "Deleted pod: api-7d9f-x2lqp", warning=False,
                  ts="2026-03-14T11:03:00Z")
    no_majority = ('{"s":"I","c":"ELECTION","msg":"Not starting an election","attr":{"reason":"Not standing for '
                   'election because I cannot see a majority (mask 0x1)"}}')
    found = diagnose([*members, churn, log("mongo-0", no_majority, "pts", "mongod", ts="2026-03-14T11:05:00Z")])
    assert [item.text for item in _finding(found, "mongo-0").changes] == [
        "SuccessfulDelete: delete Pod mongo-1 in StatefulSet mongo successful",
        "SuccessfulDelete: delete Pod mongo-2 in StatefulSet mongo successful"]


def test_a_node_that_joined_shortly_before_its_pods_failed_is_what_changed_for_them() -> None:
    # a Windows node group replaced overnight by Windows Server 2022 nodes; the pods rescheduled there cannot pull
    pulling = [container(waiting=("ImagePullBackOff", 'Back-off pulling image "edi/bridge:5.4.2-ltsc2019"'))]
    records = [node("win-new", created="2026-03-13T22:00:00Z",
                    info={"operatingSystem": "windows", "architecture": "amd64",
                          "osImage": "Windows Server 2022 Datacenter", "kernelVersion": "10.0.20348.2340"}),
               node("win-old", created="2026-01-02T08:00:00Z"),
               pod("bridge-6d9f8c7b5d-x2lqp", "edi", node="win-new", containers=pulling),
               event("Pod", "bridge-6d9f8c7b5d-x2lqp", "edi", "Failed", 'Failed to pull image "edi/bridge:5.4.2-ltsc2019":'
                     " rpc error: code = NotFound desc = no match for platform in manifest: not found",
                     ts="2026-03-13T22:06:00Z")]
    found = diagnose(records)
    (change,) = _finding(found, "bridge-6d9f8c7b5d-x2lqp").changes
    assert change.name == "win-new" and change.ts == "2026-03-13T22:00:00Z"
    assert "Windows Server 2022 Datacenter, kernel 10.0.20348.2340" in change.text
    text = compose([_finding(found, "bridge-6d9f8c7b5d-x2lqp")], Sources([])).text
    assert "22:00 UTC, win-new" in text, "a node that joined long before is not a change"
    assert "win-old" not in text
