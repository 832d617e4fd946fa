"""Status rendering and log timestamp formats."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from kubetrainer.diagnose.status import parse_pod
from kubetrainer.sources.logtime import line_time
from kubetrainer.sources.render import (
    ENV_SHOWN,
    render_configmap,
    render_event,
    render_node,
    render_pod,
    render_workload,
)

UTC = timezone.utc


@pytest.mark.parametrize(
    "line, expected",
    [
        ("2026-03-14T10:42:17.123Z INFO x", datetime(2026, 3, 14, 10, 42, 17, 123000, UTC)),
        ("2026-03-14 10:42:17,250 ERROR y", datetime(2026, 3, 14, 10, 42, 17, 250000, UTC)),
        ("[2026-03-14T12:42:17+02:00] INFO", datetime(2026, 3, 14, 10, 42, 17, tzinfo=UTC)),
        ('{"level":"info","ts":"2026-03-14T10:42:17.5Z","msg":"m"}', datetime(2026, 3, 14, 10, 42, 17, 500000, UTC)),
        ('{"t":{"$date":"2026-03-14T11:08:46.788+00:00"},"s":"I","c":"REPL","msg":"Replica set state transition"}',
         datetime(2026, 3, 14, 11, 8, 46, 788000, UTC)),
        ('{"level":30,"time":1773486470712,"pid":1,"msg":"request completed"}',
         datetime(2026, 3, 14, 11, 7, 50, 712000, UTC)),
        ('{"level":"info","ts":1773486470.5,"caller":"main.go:12","msg":"ready"}',
         datetime(2026, 3, 14, 11, 7, 50, 500000, UTC)),
        ("ts=2026-03-14T10:42:17.25Z caller=main.go:90 level=info msg=ready", datetime(2026, 3, 14, 10, 42, 17, 250000, UTC)),
        ("time=2026-03-14T10:42:17Z level=INFO source=main.go:12 msg=ready", datetime(2026, 3, 14, 10, 42, 17, tzinfo=UTC)),
        ("2026/03/14 10:42:17 [error] 7#7: *1 connect() failed (111: Connection refused)",
         datetime(2026, 3, 14, 10, 42, 17, tzinfo=UTC)),
        ("I, [2026-03-14T10:42:17.123456 #1]  INFO -- : Started GET", datetime(2026, 3, 14, 10, 42, 17, 123456, UTC)),
        ("Mar  4 10:42:17 gpu-3 kernel: NVRM: Xid (PCI:0000:ab:00): 79", datetime(2026, 3, 4, 10, 42, 17, tzinfo=UTC)),
        ("Use 4 workers", None),
        ('time="2026-03-14T10:42:17Z" level=info', datetime(2026, 3, 14, 10, 42, 17, tzinfo=UTC)),
        ('10.0.0.1 - - [14/Mar/2026:10:42:17 +0000] "GET / HTTP/1.1" 200', datetime(2026, 3, 14, 10, 42, 17, tzinfo=UTC)),
        ("E0314 10:42:17.000001       1 controller.go:1] boom", datetime(2026, 3, 14, 10, 42, 17, 1, UTC)),
        ("1:M 14 Mar 2026 10:42:17.100 * DB saved on disk", datetime(2026, 3, 14, 10, 42, 17, 100000, UTC)),
        ("    at com.example.Main(Main.java:10)", None),
    ],
)
def test_line_time_formats(line: str, expected: datetime | None) -> None:
    assert line_time(line, 2026) == expected


def test_pod_text_names_states_exit_codes_and_claims() -> None:
    pod = {
        "metadata": {"name": "db-0", "namespace": "data"},
        "spec": {"containers": [{"image": "postgres:16", "resources": {"limits": {"nvidia.com/gpu": "1"}}}], "volumes": [{"persistentVolumeClaim": {"claimName": "data-db-0"}}]},
        "status": {
            "phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}],
            "containerStatuses": [{"name": "db", "restartCount": 3, "state": {"waiting": {"reason": "CrashLoopBackOff"}}, "lastState": {"terminated": {"reason": "Error", "exitCode": 2}}}],
        },
    }
    text = render_pod(pod)
    for phrase in ("Pod data/db-0 (not scheduled", "phase Pending", "PodScheduled=False (Unschedulable)", "container db waiting: CrashLoopBackOff", "3 restarts", "last terminated: Error exit code 2", "nvidia.com/gpu=1", "data-db-0", "postgres:16"):
        assert phrase in text


def test_a_pods_settings_are_listed_per_container_as_kubectl_describe_does_and_secrets_never_are() -> None:
    app = {"name": "app", "image": "basket-api:4.1.0", "env": [
        {"name": "REDIS_ADDR", "value": "redis-0.redis.carts.svc:6379"},
        {"name": "REDIS_PASSWORD", "value": "hunter2-not-shown"},
        {"name": "DB_USER", "valueFrom": {"secretKeyRef": {"name": "db-creds", "key": "user"}}},
        {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "basket", "key": "mode"}}},
        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "OPTS", "value": "a=1; b=2\n c=3"}],
        "envFrom": [{"secretRef": {"name": "api-keys"}}, {"configMapRef": {"name": "flags"}, "prefix": "FLAG_"}]}
    sidecar = {"name": "otel-collector", "image": "otelcol:0.98.0", "env": [{"name": "GOMAXPROCS", "value": "1"}]}
    bare = {"name": "proxy", "image": "envoy:1.30"}
    pod = {"metadata": {"name": "basket-1", "namespace": "carts"}, "spec": {"containers": [app, sidecar, bare]},
           "status": {"phase": "Running"}}
    text = render_pod(pod)
    assert text.endswith(
        "; images basket-api:4.1.0, envoy:1.30, otelcol:0.98.0; env app: REDIS_ADDR=redis-0.redis.carts.svc:6379, "
        "REDIS_PASSWORD (value withheld), DB_USER from secret db-creds key user, MODE from configmap basket key mode, "
        "POD_IP from field status.podIP, OPTS=a=1, b=2 c=3, * from secret api-keys, FLAG_* from configmap flags; "
        "env otel-collector: GOMAXPROCS=1."), "the environment last: an embedding reads a record's beginning"
    assert "hunter2" not in text and "env proxy" not in text
    parsed = parse_pod(text)
    assert parsed.env["otel-collector"] == "env otel-collector: GOMAXPROCS=1" and "proxy" not in parsed.env
    assert parsed.images == ["basket-api:4.1.0", "envoy:1.30", "otelcol:0.98.0"], "a value's `;` splits no clause"
    many = {**app, "env": [{"name": f"K{n}", "value": str(n)} for n in range(ENV_SHOWN + 3)], "envFrom": []}
    assert parse_pod(render_pod({**pod, "spec": {"containers": [many]}})).env["app"].endswith(", K11=11 and 3 more")


def test_node_workload_configmap_and_event_text() -> None:
    node = {"metadata": {"name": "n1"}, "spec": {"unschedulable": True}, "status": {"conditions": [{"type": "DiskPressure", "status": "True", "reason": "KubeletHasDiskPressure"}, {"type": "Ready", "status": "False", "reason": "KubeletNotReady", "message": "PLEG is not healthy"}], "allocatable": {"cpu": "8", "memory": "1Gi", "amd.com/gpu": "4"}}}
    text = render_node(node)
    assert text.startswith("Node n1: NotReady") and "PLEG is not healthy" in text and "DiskPressure=True" in text and "cordoned" in text and "amd.com/gpu 4" in text
    deployment = {"kind": "Deployment", "metadata": {"name": "api", "namespace": "web"}, "spec": {"replicas": 3}, "status": {"readyReplicas": 1, "conditions": [{"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable"}]}}
    assert render_workload(deployment) == "Deployment web/api: 1/3 replicas ready; conditions Available=False (MinimumReplicasUnavailable)."
    config = render_configmap({"metadata": {"name": "c", "namespace": "web"}, "data": {"DB_PASSWORD": "x", "mode": "fast"}})
    assert "DB_PASSWORD (value withheld)" in config and "mode='fast'" in config and "=x" not in config
    event = render_event({"type": "Warning", "reason": "BackOff", "message": "Back-off", "count": 4, "involvedObject": {"kind": "Pod", "namespace": "web", "name": "api-1"}})
    assert event == "Warning event on Pod web/api-1: BackOff: Back-off (seen 4 times)"


def test_a_node_says_where_it_runs_its_gpu_driver_and_its_system_and_its_taints_still_parse():
    from kubetrainer.diagnose.status import parse_node

    labels = {"topology.kubernetes.io/zone": "us-east-1d", "node.kubernetes.io/instance-type": "p5.48xlarge",
              "nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3", "nvidia.com/cuda.driver.major": "470",
              "nvidia.com/cuda.driver.minor": "223", "nvidia.com/cuda.driver.rev": "02"}
    info = {"osImage": "Ubuntu 24.04.1 LTS", "kernelVersion": "6.8.0-1016-aws", "kubeletVersion": "v1.30.4",
            "containerRuntimeVersion": "containerd://1.7.20", "operatingSystem": "linux", "architecture": "arm64"}
    node = {"metadata": {"name": "gpu-1", "labels": labels, "creationTimestamp": "2026-03-14T06:10:00Z"},
            "spec": {"taints": [{"key": "nvidia.com/gpu", "effect": "NoSchedule"}]},
            "status": {"conditions": [{"type": "Ready", "status": "True"}], "nodeInfo": info,
                       "allocatable": {"cpu": "8", "memory": "1Gi", "nvidia.com/gpu": "8"},
                       "addresses": [{"type": "Hostname", "address": "gpu-1"},
                                     {"type": "InternalIP", "address": "10.42.8.17"}]}}
    text = render_node(node)
    for phrase in ("zone us-east-1d, instance type p5.48xlarge, InternalIP 10.42.8.17", "driver 470.223.02", "Ubuntu 24.04.1 LTS",
                   "kernel 6.8.0-1016-aws", "kubelet v1.30.4", "containerd://1.7.20"):
        assert phrase in text
    assert parse_node(text).taints == ["nvidia.com/gpu:NoSchedule"] and parse_node(text).platform == "linux/arm64"
    assert parse_node(text).system == "Ubuntu 24.04.1 LTS, kernel 6.8.0-1016-aws"
    assert "; created 2026-03-14T06:10:00Z; taints" in text, "when it joined, before its taints"
    legacy = render_node({"metadata": {"name": "n", "labels": {"failure-domain.beta.kubernetes.io/zone": "eu-west-1a"}}})
    assert "zone eu-west-1a" in legacy and "driver" not in legacy


def test_a_container_running_again_keeps_its_failed_runs_termination_message_as_log_records():
    from kubetrainer.sources.kube import records_from_list

    message = ("I0314 11:43:53.931740 1 request.go:697] Waited for 9.35s due to client-side throttling\n"
               "password=hunter2-is-not-a-secret-anymore\n\n"
               "E0314 11:44:10.000000 1 leaderelection.go:308] leader election lost\n")
    ended = {"terminated": {"reason": "Error", "exitCode": 1, "finishedAt": "2026-03-14T11:44:10Z", "message": message}}
    running = {"name": "manager", "state": {"running": {"startedAt": "2026-03-14T11:44:23Z"}}, "lastState": ended,
               "restartCount": 6, "ready": True}
    waiting = {"name": "sidecar", "state": {"waiting": {"reason": "CrashLoopBackOff"}}, "lastState": ended,
               "restartCount": 3, "ready": False}
    pod = {"kind": "Pod", "metadata": {"name": "op-1", "namespace": "ops"}, "spec": {"nodeName": "cpu-0"},
           "status": {"phase": "Running", "containerStatuses": [running, waiting]}}
    records = records_from_list({"kind": "PodList", "items": [pod]}, "dump")
    logs = [r for r in records if r["kind"] == "log"]
    assert [r["container"] for r in logs] == ["manager"] * 3, "a waiting container's logs already are that run"
    assert logs[0]["ts"].startswith("2026-03-14T11:44:10") and logs[2]["message"].endswith("leader election lost")
    assert all(r["pod"] == "op-1" and r["node"] == "cpu-0" and r["namespace"] == "ops" for r in logs)
    assert "hunter2" not in logs[1]["message"], "termination messages are redacted like any log line"


def test_a_pods_quota_usage_counts_as_the_api_server_does() -> None:
    """Requests and limits summed over app containers, the largest init container where it asks for more, in the
    quota's names; a finished pod holds nothing; a malformed quantity is skipped, not fatal."""
    from kubetrainer.sources.kube import object_record, quota_usage

    def resources(requests: dict, limits: dict | None = None) -> dict:
        return {"requests": requests, **({"limits": limits} if limits else {})}

    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "api-1", "namespace": "shop"},
           "spec": {"containers": [{"name": "app", "resources": resources({"cpu": "500m", "memory": "1Gi"},
                                                                          {"memory": "1Gi", "nvidia.com/gpu": "1"})},
                                   {"name": "proxy", "resources": resources({"cpu": "250m", "memory": "bogus"})}],
                    "initContainers": [{"name": "migrate", "resources": resources({"cpu": "2"})}]},
           "status": {"phase": "Running"}}
    usage = quota_usage(pod)
    assert usage == {"pods": 1.0, "requests.cpu": 2.0, "requests.memory": 2**30, "limits.memory": 2**30,
                     "limits.nvidia.com/gpu": 1.0}
    assert object_record(pod, "dump")["object"]["quota"] == usage
    assert "requests" not in object_record(pod, "dump")["message"], "requests stay out of the rendered summary"
    assert quota_usage({**pod, "status": {"phase": "Succeeded"}}) == {}
