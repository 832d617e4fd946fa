"""The quarry scenario: a twelfth set of incidents, written blind for a held-out score of the on-call answers.

Selected with `build_cluster(scenario="quarry")` / `kubetrainer samples cluster
--scenario quarry`. Its setting is a travel company's platform: map tiles, fare
search, bookings, trip planning, timetables and ranking models. It was written
blind: only the sample generator's own modules, the vigil and ember scenarios and
their tests were read; no diagnosis, answering, retrieval or evaluation code was
opened or run against it, so nothing in it has been tuned against the tool.

Ten incidents, two questions each. Some causes sit in Kubernetes events (an
anonymous Docker Hub pull refused with 429, a required pod anti-affinity on a node
group at its maximum size, a mutating webhook whose certificate expired, a
ConfigMap over the 1 MiB limit), some in the failing pod's own log (a Triton model
version without its model file, a sidecar's exporter backlog, a Python server out of
file descriptors), some in a pod's spec or status (a client pinned to one Redis
node, an OOMKilled sidecar) and several in another object than the one showing the
symptom (the etcd leader behind a slow API server, the Redis Sentinels, a node's
container runtime version, a diagnostics Job's nvidia-smi output, the cluster
autoscaler). Messages are written the way the component that prints them does: the
kubelet, scheduler, cluster-autoscaler, HPA and the ReplicaSet, Job and CronJob
controllers; containerd's pull errors; etcd 3.5's zap JSON and kube-apiserver's klog
traces; controller-runtime's zap JSON and Go's net/http server log; nvidia-smi;
Redis 7.2 and Sentinel; uvicorn and asyncio; the OpenTelemetry Collector's console
log and the Go SDK's error handler; Triton Inference Server and s5cmd; kubectl and
Python logging.

Each question names its evidence (object + verbatim phrase) and the facts a right
answer must state; every fact is written verbatim in that evidence.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta

from kubetrainer.samples.cluster import add_pods
from kubetrainer.samples.model import NOW, Evidence, SampleCluster, SampleContainer, SamplePod
from kubetrainer.samples.nodes import gpu_node, sample_nodes
from kubetrainer.samples.noise import iso
from kubetrainer.samples.secrets import FakeSecrets
from kubetrainer.samples.workloads import ContainerSpec, Workload

_REGISTRY = "registry.wayfarer.example"
CONTROL_PLANE = ("prod-cp-1a", "prod-cp-1b", "prod-cp-1c")
SLOW_ETCD_NODE = "prod-cp-1b"
SEARCH_NODES = ("search-pool-0", "search-pool-1", "search-pool-2", "search-pool-3")
FRESH_NODES = ("ip-10-40-17-203.ec2.internal", "ip-10-40-33-91.ec2.internal")
ROTATED_NODES = ("ip-10-40-52-18.ec2.internal", "ip-10-40-61-140.ec2.internal")
REALTIME_NODES = ("ip-10-40-44-12.ec2.internal", ROTATED_NODES[0], "ip-10-40-45-207.ec2.internal", ROTATED_NODES[1])
HOT_GPU_NODE = "dgx-h100-07"
A10G_NODE = "karpenter-a10g-0"
GENERAL_GROUP = "wf-prod-general-asg"  # the Auto Scaling groups the cluster autoscaler manages
SEARCH_GROUP = "wf-prod-search-pool-asg"
_LAUNCHED = 52.2  # minutes ago the autoscaler's two new general nodes registered
_ROTATED = 390.0  # minutes ago two realtime nodes were replaced with the new node image
_AUTOSCALER = "cluster-autoscaler-aws-cluster-autoscaler"  # the Helm chart's name for release cluster-autoscaler
_POOL = "node.wayfarer.example/pool"


def _app(namespace: str, name: str, kind: str, image: str, style: str, *, container: str = "app",
         replicas: int = 1, gpu_vendor: str | None = None, gpus: int = 0, port: int | None = None,
         weight: float = 1.0, extra: tuple[ContainerSpec, ...] = ()) -> Workload:
    """A workload whose first container is `container` (and any `extra` side containers)."""
    main = ContainerSpec(container, image, style, weight)
    return Workload(namespace, name, kind, (main, *extra), replicas, gpu_vendor, gpus, port)


# Healthy first (the generator places each of these); the incidents then break some.
WORKLOADS: tuple[Workload, ...] = (
    _app("map-tiles", "tile-cache", "Deployment", "docker.io/library/varnish:7.5.0", "nginx", container="varnish",
         replicas=3, port=6081, weight=4.0),
    _app("map-tiles", "tile-renderer", "Deployment", f"{_REGISTRY}/map-tiles/tile-renderer:2.8.4", "json-api",
         replicas=2, port=8080, weight=1.5),
    _app("fare-search", "fare-quoter", "Deployment", f"{_REGISTRY}/fare-search/fare-quoter:8.3.1", "json-api",
         replicas=4, port=8080, weight=2.0),
    _app("fare-search", "fare-ingest", "Deployment", f"{_REGISTRY}/fare-search/fare-ingest:1.12.0", "worker",
         weight=1.0),
    _app("platform-admission", "pod-defaults-webhook", "Deployment", f"{_REGISTRY}/platform/pod-defaults:1.6.2",
         "json-api", replicas=2, port=9443, weight=0.2),
    _app("rail-booking", "seatmap-booking", "Deployment", f"{_REGISTRY}/rail-booking/seatmap-booking:3.3.2", "json-api",
         replicas=3, port=8080, weight=2.0),
    _app("rail-booking", "seat-inventory", "Deployment", f"{_REGISTRY}/rail-booking/seat-inventory:5.0.7",
         "json-api", replicas=2, port=8080, weight=1.5),
    _app("session-store", "cart-redis-node", "StatefulSet", "docker.io/bitnami/redis:7.2.4", "redis",
         container="redis", replicas=3, port=6379, weight=0.2,
         extra=(ContainerSpec("sentinel", "docker.io/bitnami/redis-sentinel:7.2.4", "redis", 0.1),)),
    _app("session-store", "basket-api", "Deployment", f"{_REGISTRY}/session-store/basket-api:4.1.0", "json-api",
         replicas=2, port=8080, weight=0.2),
    _app("live-travel", "departures-ws", "Deployment", f"{_REGISTRY}/live-travel/departures-ws:2.2.0", "json-api",
         replicas=4, port=8765, weight=0.2),
    _app("rail-pricing", "fare-calculator", "Deployment", f"{_REGISTRY}/rail-pricing/fare-calculator:5.2.0",
         "json-api", replicas=2, port=8080, weight=1.5),
    _app("trip-planner", "itinerary-api", "Deployment", f"{_REGISTRY}/trip-planner/itinerary-api:2.14.1",
         "json-api", replicas=2, port=8080, weight=2.0,
         extra=(ContainerSpec("otel-collector", "docker.io/otel/opentelemetry-collector-contrib:0.98.0", "worker",
                              0.1),)),
    _app("trip-planner", "poi-search", "Deployment", f"{_REGISTRY}/trip-planner/poi-search:1.4.2", "json-api",
         replicas=2, port=8080, weight=1.5),
    _app("review-ranking", "reranker-triton", "Deployment", "nvcr.io/nvidia/tritonserver:24.03-py3", "json-api",
         container="triton", replicas=2, gpu_vendor="nvidia", gpus=1, port=8000, weight=0.2),
    _app("review-ranking", "review-ingest", "Deployment", f"{_REGISTRY}/review-ranking/review-ingest:0.9.3",
         "worker", weight=1.0),
    _app("rail-timetable", "journey-planner", "Deployment", f"{_REGISTRY}/rail-timetable/journey-planner:6.0.1",
         "json-api", replicas=3, port=8080, weight=0.2),
    _app("guest-profiles", "profile-api", "Deployment", f"{_REGISTRY}/guest-profiles/profile-api:3.2.0",
         "json-api", replicas=3, port=8080, weight=2.5),
    _app("kube-system", _AUTOSCALER, "Deployment", "registry.k8s.io/autoscaling/cluster-autoscaler:v1.30.1",
         "controller", container="aws-cluster-autoscaler", weight=0.2),
)

# Placed by their incidents, not by the generator.
_ETCD = _app("kube-system", "etcd", "Pod", "registry.k8s.io/etcd:3.5.12-0", "controller", container="etcd")
_APISERVER = _app("kube-system", "kube-apiserver", "Pod", "registry.k8s.io/kube-apiserver:v1.30.4", "controller",
                  container="kube-apiserver")
_ETA_TRAIN = _app("eta-models", "route-eta-train", "Job", f"{_REGISTRY}/eta-models/eta-trainer:2026.03.2",
                  "training", container="trainer", gpu_vendor="nvidia", gpus=8)
_GPU_DIAG = _app("eta-models", "gpu-diag-dgx07", "Job", "nvcr.io/nvidia/cuda:12.4.1-base-ubuntu22.04", "worker",
                 container="nvidia-smi", gpu_vendor="nvidia")
_IMPORT = _app("rail-timetable", "timetable-import", "Job", f"{_REGISTRY}/rail-timetable/timetable-import:1.9.0",
               "worker", container="import")
PLACED: tuple[Workload, ...] = (_ETCD, _APISERVER, _ETA_TRAIN, _GPU_DIAG, _IMPORT)


def scenario_nodes() -> list[dict]:
    """The sample nodes (cpu-0 and cpu-1 form the `general` managed node group) plus three control-plane nodes,
    a dedicated four-node search pool, the two general nodes the autoscaler added at 11:08 and an 8-GPU server."""
    nodes = sample_nodes()
    for node in nodes:
        if node["metadata"]["name"] in ("cpu-0", "cpu-1"):
            node["metadata"]["labels"][_POOL] = "general"
    for name in CONTROL_PLANE:
        node = gpu_node(name, None, None, 0, cpu="4", memory="15950892Ki", instance_type="m6i.xlarge",
                        taints=[{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}])
        node["metadata"]["labels"]["node-role.kubernetes.io/control-plane"] = ""
        nodes.append(node)
    for name in SEARCH_NODES:
        node = gpu_node(name, None, None, 0, cpu="16", memory="31948428Ki", instance_type="c6i.4xlarge",
                        taints=[{"key": "dedicated", "value": "search", "effect": "NoSchedule"}])
        node["metadata"]["labels"] |= {_POOL: "search", "dedicated": "search"}
        nodes.append(node)
    for name in FRESH_NODES:
        node = gpu_node(name, None, None, 0, cpu="16", memory="65856108Ki", instance_type="m6i.4xlarge",
                        zone="us-east-1b")
        node["metadata"]["labels"][_POOL] = "general"
        node["metadata"]["creationTimestamp"] = _ts(ago(_LAUNCHED))
        for condition in node["status"]["conditions"]:
            condition["lastTransitionTime"] = _ts(ago(_LAUNCHED - 0.3))
        nodes.append(node)
    nodes += [_realtime_node(name) for name in REALTIME_NODES]
    nodes.append(gpu_node(HOT_GPU_NODE, "nvidia", "NVIDIA H100 80GB", 8, cpu="224", memory="2113524768Ki",
                          instance_type="bare-metal"))
    return nodes


def _realtime_node(name: str) -> dict:
    """A node of the dedicated realtime pool; the two rotated at 05:30 run the new image (Ubuntu 24.04, containerd
    2.0.2), the other two the old one."""
    node = gpu_node(name, None, None, 0, cpu="8", memory="32386524Ki", instance_type="c6i.2xlarge",
                    taints=[{"key": "dedicated", "value": "realtime", "effect": "NoSchedule"}])
    new = name in ROTATED_NODES
    node["metadata"]["labels"] |= {_POOL: "realtime", "dedicated": "realtime",
                                   "node.wayfarer.example/image": "wf-node-2404-20260310" if new
                                   else "wf-node-2204-20251118"}
    if new:
        node["metadata"]["creationTimestamp"] = _ts(ago(_ROTATED))
        for condition in node["status"]["conditions"]:
            condition["lastTransitionTime"] = _ts(ago(_ROTATED - 0.4))
        node["status"]["nodeInfo"] |= {"osImage": "Ubuntu 24.04.2 LTS", "kernelVersion": "6.8.0-1021-aws",
                                       "containerRuntimeVersion": "containerd://2.0.2"}
    return node


# ---------------------------------------------------------------- time and helpers


def ago(minutes: float) -> datetime:
    return NOW - timedelta(minutes=minutes)


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _soon(cluster: SampleCluster, moment: datetime, seconds: float) -> datetime:
    """`seconds` after `moment`, plus the fraction of a second real processes take."""
    return moment + timedelta(seconds=seconds, microseconds=cluster.rng.randint(0, 999_999))


def _every(cluster: SampleCluster, start: datetime, end: datetime, low: float, high: float) -> list[datetime]:
    """Moments from `start` to `end`, `low` to `high` seconds apart."""
    moments, moment = [], start + timedelta(microseconds=cluster.rng.randint(0, 999_999))
    while moment < end:
        moments.append(moment)
        moment += timedelta(seconds=cluster.rng.uniform(low, high))
    return moments


def _block(moment: datetime, lines: list[str]) -> list[tuple[datetime, str]]:
    """A multi-line entry (a table, a traceback): every line at the same moment, so they stay together."""
    return [(moment, line) for line in lines]


def _pod_ip(pod: SamplePod) -> str:
    """The podIP `objects.pod_json` gives this pod."""
    return "10.244.%d.%d" % (len(pod.name) % 8, sum(map(ord, pod.name)) % 250 + 2)


def _node_ip(name: str) -> str:
    """The InternalIP `nodes.gpu_node` gives this node."""
    return f"10.0.{len(name) % 250}.{sum(map(ord, name)) % 250}"


def _hex(cluster: SampleCluster, digits: int) -> str:
    return f"{cluster.rng.getrandbits(4 * digits):0{digits}x}"


def _since(pod: SamplePod) -> datetime:
    """Where a pod's log in the dump begins: its start, or six hours ago."""
    return max(pod.start, ago(360))


def _forget(cluster: SampleCluster, pod: SamplePod) -> None:
    """Drop the events the generator wrote about a pod (before moving or renaming it)."""
    cluster.events = [e for e in cluster.events
                      if not (e["involvedObject"]["name"] == pod.name and e["metadata"]["namespace"] == pod.namespace)]


def _startup(cluster: SampleCluster, pod: SamplePod, at: datetime) -> None:
    ref = ("Pod", pod.namespace, pod.name)
    cluster.event(ref, "Scheduled", f"Successfully assigned {pod.namespace}/{pod.name} to {pod.node}", at,
                  component="default-scheduler")
    for container in pod.init_containers + pod.containers:
        moment = at + timedelta(seconds=1)
        cluster.event(ref, "Pulled", f'Container image "{container.image}" already present on machine', moment,
                      host=pod.node)
        cluster.event(ref, "Created", f"Created container {container.spec.name}", moment, host=pod.node)
        cluster.event(ref, "Started", f"Started container {container.spec.name}", moment, host=pod.node)


def _pin(cluster: SampleCluster, pod: SamplePod, node: str, minutes: float | None = None) -> None:
    """Run `pod` on `node`; with `minutes`, started that long ago (events older than an hour have expired)."""
    _forget(cluster, pod)
    pod.node = node
    if minutes is not None:
        pod.start = ago(minutes)
        for container in pod.containers:
            if "running" in container.state:
                container.state = {"running": {"startedAt": _ts(pod.start)}}
    if (NOW - pod.start).total_seconds() < 3600:
        _startup(cluster, pod, pod.start)


def _sibling(cluster: SampleCluster, pod: SamplePod, node: str | None, minutes: float) -> SamplePod:
    """Another pod of `pod`'s ReplicaSet (a scale-up) created `minutes` ago on `node`, with no events yet."""
    (new,) = add_pods(cluster, pod.workload, 1, node=node)
    _forget(cluster, new)
    new.owner, new.name, new.node, new.start = pod.owner, f"{pod.owner[1]}-{cluster.suffix()}", node, ago(minutes)
    for container in new.containers:
        container.state = {"running": {"startedAt": _ts(new.start)}}
    return new


def _container_id(cluster: SampleCluster) -> str:
    return f"containerd://{_hex(cluster, 64)}"


def _crash_loop(cluster: SampleCluster, pod: SamplePod, container: SampleContainer, *, restarts: int, code: int,
                reason: str, died: datetime, ran: float, since: datetime) -> None:
    """A container in CrashLoopBackOff: its last run lasted `ran` seconds and ended at `died`."""
    container.noise, container.ready, container.restarts = False, False, restarts
    container.state = {"waiting": {"reason": "CrashLoopBackOff", "message": (
        f"back-off 5m0s restarting failed container={container.spec.name} pod={pod.name}_{pod.namespace}({pod.uid})")}}
    container.last_state = {"terminated": {"exitCode": code, "reason": reason,
                                           "startedAt": _ts(died - timedelta(seconds=ran)), "finishedAt": _ts(died),
                                           "containerID": _container_id(cluster)}}
    ref = ("Pod", pod.namespace, pod.name)
    name = container.spec.name
    mine = (f'"{container.image}"', f"container {name}")
    cluster.events = [e for e in cluster.events if not (e["involvedObject"]["name"] == pod.name and e["reason"] in
                                                        ("Pulled", "Created", "Started")
                                                        and any(text in e["message"] for text in mine))]
    cluster.event(ref, "Pulled", f'Container image "{container.image}" already present on machine',
                  died - timedelta(seconds=ran + 1), count=restarts + 1, host=pod.node, first=since)
    cluster.event(ref, "Created", f"Created container {name}", died - timedelta(seconds=ran + 1),
                  count=restarts + 1, host=pod.node, first=since)
    cluster.event(ref, "Started", f"Started container {name}", died - timedelta(seconds=ran),
                  count=restarts + 1, host=pod.node, first=since)
    cluster.event(ref, "BackOff", f"Back-off restarting failed container {name} in pod {pod.name}_{pod.namespace}"
                                  f"({pod.uid})", died + timedelta(seconds=cluster.rng.uniform(20, 50)), warning=True,
                  count=restarts * 3 + cluster.rng.randint(0, 4), host=pod.node, first=since + timedelta(seconds=30))


def _terminated(cluster: SampleCluster, pod: SamplePod, code: int, reason: str, started: datetime,
                finished: datetime) -> None:
    """A finished run-to-completion pod (a Job's attempt)."""
    pod.phase = "Failed" if code else "Succeeded"
    for container in pod.containers:
        container.noise, container.ready = False, False
        container.state = {"terminated": {"exitCode": code, "reason": reason, "startedAt": _ts(started),
                                          "finishedAt": _ts(finished), "containerID": _container_id(cluster)}}


def _batch_event(cluster: SampleCluster, kind: str, namespace: str, name: str, reason: str, message: str,
                 at: datetime, **options) -> None:
    """An event about a Job or CronJob (batch/v1, which `SampleCluster.event` does not know)."""
    component = "cronjob-controller" if kind == "CronJob" else "job-controller"
    event = cluster.event((kind, namespace, name), reason, message, at, component=component, **options)
    event["involvedObject"]["apiVersion"] = "batch/v1"


def _rescale(cluster: SampleCluster, namespace: str, name: str, size: int, reason: str, at: datetime) -> None:
    cluster.event(("HorizontalPodAutoscaler", namespace, name), "SuccessfulRescale",
                  f"New size: {size}; reason: {reason}", at, component="horizontal-pod-autoscaler")


def _placement(cluster: SampleCluster) -> None:
    """Where things ran before the incidents: the two new general nodes came up at 11:08 and the H100 server is kept
    whole for the training job, so the generator's other pods there ran elsewhere; DaemonSet pods on new nodes
    started when their node joined."""
    for index, pod in enumerate(cluster.pods):
        if pod.workload.kind == "DaemonSet":
            if pod.node in FRESH_NODES or pod.node in ROTATED_NODES:
                _pin(cluster, pod, pod.node, (_LAUNCHED if pod.node in FRESH_NODES else _ROTATED) - 0.4)
        elif pod.node in FRESH_NODES:
            _pin(cluster, pod, ("cpu-0", "cpu-1")[index % 2])
        elif pod.node == HOT_GPU_NODE:
            _pin(cluster, pod, "gpu-a100-0")


# ---------------------------------------------------------------- line formats


def _pylog(moment: datetime, level: str, logger: str, message: str) -> tuple[datetime, str]:
    """Python logging's `%(asctime)s %(levelname)s %(name)s: %(message)s`."""
    return moment, f"{moment:%Y-%m-%d %H:%M:%S},{moment.microsecond // 1000:03d} {level} {logger}: {message}"


def _klog(moment: datetime, level: str, source: str, message: str) -> tuple[datetime, str]:
    """klog's text header, as the Kubernetes components write it (thread id padded to seven)."""
    return moment, f"{level}{moment:%m%d %H:%M:%S}.{moment.microsecond:06d} {1:>7} {source}] {message}"


def _glog(moment: datetime, level: str, source: str, message: str) -> tuple[datetime, str]:
    """Triton's glog-style header (pid not padded)."""
    return moment, f"{level}{moment:%m%d %H:%M:%S}.{moment.microsecond:06d} 1 {source}] {message}"


def _etcd(moment: datetime, level: str, caller: str, message: str, **fields) -> tuple[datetime, str]:
    """etcd 3.5's zap JSON (ISO-8601 ts with microseconds)."""
    entry = {"level": level, "ts": f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond:06d}Z", "caller": caller,
             "msg": message, **fields}
    return moment, json.dumps(entry, separators=(",", ":"))


def _zap(moment: datetime, level: str, caller: str, message: str, **fields) -> tuple[datetime, str]:
    """zap's production JSON encoder (epoch-seconds ts), as the Go services log."""
    entry = {"level": level, "ts": round(moment.timestamp(), 6), "caller": caller, "msg": message, **fields}
    return moment, json.dumps(entry, separators=(",", ":"))


def _runtime(moment: datetime, level: str, logger: str, message: str, **fields) -> tuple[datetime, str]:
    """controller-runtime's zap JSON with ISO-8601 time and a logger name."""
    entry = {"level": level, "ts": iso(moment), "logger": logger, "msg": message, **fields}
    return moment, json.dumps(entry, separators=(",", ":"))


def _golog(moment: datetime, message: str) -> tuple[datetime, str]:
    """Go's standard `log` package (what net/http's server and the OpenTelemetry Go SDK print through)."""
    return moment, f"{moment:%Y/%m/%d %H:%M:%S} {message}"


def _json(moment: datetime, level: str, message: str, **fields) -> tuple[datetime, str]:
    """A line in the json-api style (the apps' routine noise uses the same keys)."""
    return moment, json.dumps({"ts": iso(moment), "level": level, "msg": message, **fields})


def _otel(moment: datetime, level: str, caller: str, message: str, fields: dict | None = None) -> tuple[datetime, str]:
    """The OpenTelemetry Collector's zap console encoder: tab-separated, fields as spaced JSON."""
    line = f"{iso(moment)}\t{level}\t{caller}\t{message}"
    return moment, line + (f"\t{json.dumps(fields)}" if fields else "")


def _redis(moment: datetime, role: str, mark: str, message: str, pid: int = 1) -> tuple[datetime, str]:
    """Redis's `pid:role dd Mon yyyy hh:mm:ss.mmm mark message` (role C, M, S, or X for Sentinel)."""
    return moment, f"{pid}:{role} {moment:%d %b %Y %H:%M:%S}.{moment.microsecond // 1000:03d} {mark} {message}"


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    """An ASCII table the way Triton prints its model and backend tables (first row is the header)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    rule = "+" + "+".join("-" * (width + 2) for width in widths) + "+"
    body = ["| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths)) + " |" for row in rows]
    return [rule, body[0], rule, *body[1:], rule]


# ---------------------------------------------------------------- 1. Docker Hub pull rate limit on new nodes


_VARNISH = "docker.io/library/varnish:7.5.0"


def _autoscaler(cluster: SampleCluster) -> SamplePod:
    (pod,) = cluster.pods_of("kube-system", _AUTOSCALER)
    pod.containers[0].noise = False
    return pod


def _cold_pull(cluster: SampleCluster, like: SamplePod, node: str, scaled: float, plan: str,
               digest: str) -> SamplePod:
    """A tile-cache pod on a node that has never pulled varnish: each anonymous pull gets Docker Hub's 429."""
    pod = _sibling(cluster, like, node, scaled - 0.02)
    pod.phase = "Pending"
    varnish = pod.containers[0]
    varnish.state = {"waiting": {"reason": "ImagePullBackOff", "message": f'Back-off pulling image "{_VARNISH}"'}}
    varnish.ready, varnish.noise = False, False
    ref = ("Pod", pod.namespace, pod.name)
    cluster.event(ref, "TriggeredScaleUp", f"pod triggered scale-up: {plan}", ago(scaled - 0.3),
                  component="cluster-autoscaler")
    cluster.event(ref, "Scheduled", f"Successfully assigned {pod.namespace}/{pod.name} to {node}",
                  ago(_LAUNCHED - 0.6), component="default-scheduler")
    refused = (f'Failed to pull image "{_VARNISH}": failed to pull and unpack image "{_VARNISH}": failed to copy: '
               "httpReadSeeker: failed open: unexpected status code https://registry-1.docker.io/v2/library/varnish/"
               f"manifests/sha256:{digest}: 429 Too Many Requests - Server message: toomanyrequests: You have reached "
               "your pull rate limit. You may increase the limit by authenticating and upgrading: "
               "https://www.docker.com/increase-rate-limit")
    pulls, first, last = cluster.rng.randint(11, 14), ago(_LAUNCHED - 0.65), ago(cluster.rng.uniform(1, 4))
    cluster.event(ref, "Pulling", f'Pulling image "{_VARNISH}"', last, count=pulls, host=node, first=first)
    cluster.event(ref, "Failed", refused, last, warning=True, count=pulls, host=node, first=first)
    cluster.event(ref, "Failed", "Error: ErrImagePull", last, warning=True, count=pulls, host=node, first=first)
    backoffs, later = pulls * 9 + cluster.rng.randint(0, 8), first + timedelta(seconds=2)
    cluster.event(ref, "BackOff", f'Back-off pulling image "{_VARNISH}"', ago(0.2), count=backoffs, host=node,
                  first=later)
    cluster.event(ref, "Failed", "Error: ImagePullBackOff", ago(0.2), warning=True, count=backoffs, host=node,
                  first=later)
    return pod


def _new_node_events(cluster: SampleCluster) -> None:
    """What the kubelet and node controller report when the two new general nodes join."""
    for name in FRESH_NODES:
        ref, joined = ("Node", None, name), ago(_LAUNCHED)
        cluster.event(ref, "Starting", "Starting kubelet.", joined, host=name)
        cluster.event(ref, "NodeAllocatableEnforced", "Updated Node Allocatable limit across pods", joined, host=name)
        cluster.event(ref, "RegisteredNode", f"Node {name} event: Registered Node {name} in Controller",
                      joined + timedelta(seconds=4), component="node-controller")
        cluster.event(ref, "NodeReady", f"Node {name} status is now: NodeReady", joined + timedelta(seconds=18),
                      host=name)


def hub_rate_limit(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """tile-cache runs varnish straight from Docker Hub, pulled anonymously. The HPA scaled it from 3 to 8 at 11:07:
    two new pods fit on the existing general nodes, which have the image, and started; the autoscaler added two nodes
    for the other three, and every pull there is refused with 429 toomanyrequests (the anonymous pull rate limit,
    counted per NAT address)."""
    scaled = 53.0
    old = cluster.pods_of("map-tiles", "tile-cache")
    for index, pod in enumerate(old):
        _pin(cluster, pod, ("cpu-0", "cpu-1")[index % 2])
    _rescale(cluster, "map-tiles", "tile-cache", 8, "cpu resource utilization (percentage of request) above target",
             ago(scaled))
    cluster.event(("Deployment", "map-tiles", "tile-cache"), "ScalingReplicaSet",
                  f"Scaled up replica set {old[0].owner[1]} to 8 from 3", ago(scaled - 0.01),
                  component="deployment-controller")
    warm = [_sibling(cluster, pod, pod.node, scaled - 0.02) for pod in old[:2]]
    for pod in warm:
        _startup(cluster, pod, pod.start)
    plan = f"[{{{GENERAL_GROUP} 2->4 (max: 10)}}]"
    digest = _hex(cluster, 64)
    cold = [_cold_pull(cluster, old[0], node, scaled, plan, digest) for node in (*FRESH_NODES, FRESH_NODES[0])]
    _new_node_events(cluster)
    decided = _soon(cluster, ago(scaled - 0.25), 0)
    autoscaler = _autoscaler(cluster).containers[0]
    autoscaler.lines += [_klog(decided, "I", "static_autoscaler.go:592", f"Pod map-tiles/{pod.name} is unschedulable")
                         for pod in cold]
    autoscaler.lines += [
        _klog(decided + timedelta(milliseconds=40), "I", "orchestrator.go:274",
              f"Best option to resize: {GENERAL_GROUP}"),
        _klog(decided + timedelta(milliseconds=41), "I", "orchestrator.go:278",
              f"Estimated 2 nodes needed in {GENERAL_GROUP}"),
        _klog(decided + timedelta(milliseconds=43), "I", "orchestrator.go:391", f"Final scale-up plan: {plan}"),
        _klog(decided + timedelta(milliseconds=44), "I", "executor.go:147",
              f"Scale-up: setting group {GENERAL_GROUP} size to 4"),
    ]
    stuck, ok = cold[0], warm[0]
    cluster.ask(
        "hubpull-1", "tile-cache scaled out to 8 pods at 11:07, but three of the new pods have never started. "
                     "What's wrong with them?",
        f"They cannot pull their image: every pull of {_VARNISH} is answered by Docker Hub (registry-1.docker.io) "
        "with '429 Too Many Requests - Server message: toomanyrequests: You have reached your pull rate limit', so "
        "the pods sit in ErrImagePull / ImagePullBackOff. The pulls are anonymous (no image pull secret), and "
        "anonymous pulls are rate-limited per source address. Mirror the image into the company registry or pull "
        "with Docker Hub credentials.",
        "dockerhub-pull-rate-limit",
        Evidence(stuck.namespace, stuck.name, f"varnish/manifests/sha256:{digest}: 429 Too Many Requests - Server "
                                              "message: toomanyrequests"),
        facts=("toomanyrequests|429 Too Many Requests|pull rate limit", "Docker Hub|registry-1.docker.io"),
    )
    cluster.ask(
        "hubpull-2", "Why did two of the new tile-cache pods start fine while the other three are stuck?",
        "Where they landed. The two that started were placed on the existing general nodes, which already had the "
        "image ('Container image \"docker.io/library/varnish:7.5.0\" already present on machine'), so nothing was "
        f"pulled. The other three went to the two nodes the cluster autoscaler added at 11:08 ({FRESH_NODES[0]} and "
        f"{FRESH_NODES[1]}, scale-up of {GENERAL_GROUP} from 2 to 4), which have no cached copy and must pull from "
        "Docker Hub, where the pulls are refused.",
        "dockerhub-pull-rate-limit",
        Evidence(ok.namespace, ok.name, f'Container image "{_VARNISH}" already present on machine'),
        Evidence(stuck.namespace, stuck.name, f"Successfully assigned map-tiles/{stuck.name} to {FRESH_NODES[0]}"),
        facts=(f"{FRESH_NODES[0]}|{FRESH_NODES[1]}", "already present on machine"),
    )


# ---------------------------------------------------------------- 2. required anti-affinity, node group at max size


_ANTI = "node(s) didn't match pod anti-affinity rules"


def _scheduling_failure(cluster: SampleCluster) -> str:
    """The scheduler's FailedScheduling message for a fare-quoter pod: nodes are reported by the first filter they
    fail (unschedulable, an untolerated taint, the node selector, then the pod's own anti-affinity)."""
    reasons, victims = Counter(), Counter()
    for node in cluster.nodes:
        taints = [t for t in node["spec"].get("taints", []) if (t["key"], t.get("value")) != ("dedicated", "search")]
        if node["spec"].get("unschedulable"):
            reason = "node(s) were unschedulable"
        elif taints:
            reason = f"node(s) had untolerated taint {{{taints[0]['key']}: {taints[0].get('value', '')}}}"
        elif node["metadata"]["name"] not in SEARCH_NODES:
            reason = "node(s) didn't match Pod's node affinity/selector"
        else:
            reason = _ANTI
        reasons[reason] += 1
        victims["No preemption victims found for incoming pod" if reason == _ANTI
                else "Preemption is not helpful for scheduling"] += 1
    total = len(cluster.nodes)
    found = ", ".join(sorted(f"{count} {reason}" for reason, count in reasons.items()))
    preemption = ", ".join(sorted(f"{count} {reason}" for reason, count in victims.items()))
    return f"0/{total} nodes are available: {found}. preemption: 0/{total} nodes are available: {preemption}."


def _autoscaler_loop(cluster: SampleCluster, pending: list[SamplePod], scaled: float) -> None:
    """The autoscaler's main loop: nothing to do before 10:52, then the same unschedulable pods every time."""
    autoscaler = _autoscaler(cluster)
    lines = autoscaler.containers[0].lines
    for moment in _every(cluster, _since(autoscaler) + timedelta(seconds=20), ago(scaled), 120, 420):
        lines.append(_klog(moment, "I", "static_autoscaler.go:582", "No unschedulable pods"))
    for moment in _every(cluster, ago(scaled - 0.2), NOW, 40, 110):
        lines += [_klog(moment, "I", "static_autoscaler.go:592", f"Pod fare-search/{pod.name} is unschedulable")
                  for pod in pending]
        lines += [
            _klog(moment + timedelta(milliseconds=12), "I", "orchestrator.go:153",
                  f"Skipping node group {SEARCH_GROUP} - max size reached"),
            _klog(moment + timedelta(milliseconds=14), "I", "orchestrator.go:197", "No expansion options"),
        ]


def search_antiaffinity(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """fare-quoter may run only one replica per node (required podAntiAffinity on the hostname) and only on the
    dedicated search pool, whose managed node group is already at its maximum of four nodes. The HPA asked for 6 at
    10:52: two replicas stay Pending and the cluster autoscaler cannot add a node."""
    scaled = 68.0
    engines = cluster.pods_of("fare-search", "fare-quoter")
    for pod, node in zip(engines, SEARCH_NODES):
        _pin(cluster, pod, node)
    _rescale(cluster, "fare-search", "fare-quoter", 6,
             "cpu resource utilization (percentage of request) above target", ago(scaled))
    replica_set = engines[0].owner[1]
    cluster.event(("Deployment", "fare-search", "fare-quoter"), "ScalingReplicaSet",
                  f"Scaled up replica set {replica_set} to 6 from 4", ago(scaled - 0.01),
                  component="deployment-controller")
    message = _scheduling_failure(cluster)
    pending = [_sibling(cluster, engines[0], None, scaled - 0.02) for _ in range(2)]
    for pod in pending:
        cluster.unschedule(pod)
        ref = ("Pod", pod.namespace, pod.name)
        cluster.event(("ReplicaSet", pod.namespace, replica_set), "SuccessfulCreate", f"Created pod: {pod.name}",
                      ago(scaled - 0.02), component="replicaset-controller")
        cluster.event(ref, "FailedScheduling", message, ago(cluster.rng.uniform(0.5, 4)), warning=True,
                      count=cluster.rng.randint(20, 30), component="default-scheduler", first=ago(scaled - 0.03))
        cluster.event(ref, "NotTriggerScaleUp", "pod didn't trigger scale-up: 1 max node group size reached, 2 node(s) "
                                                "didn't match Pod's node affinity/selector",
                      ago(cluster.rng.uniform(0.2, 1.5)), count=cluster.rng.randint(380, 410),
                      component="cluster-autoscaler", first=ago(scaled - 0.2))
    _autoscaler_loop(cluster, pending, scaled)
    waiting = pending[0]
    cluster.ask(
        "antiaff-1", "fare-quoter was scaled to 6 replicas at 10:52, but two of its pods have been Pending ever "
                     "since. Why won't they schedule?",
        "No node passes the scheduler's filters: the four search-pool nodes report '4 node(s) didn't match pod "
        "anti-affinity rules' (each already runs a fare-quoter replica, and the required anti-affinity allows one "
        "per node), and every other node fails the node selector or has a taint the pod does not tolerate. "
        "Preemption cannot help either. Six replicas need six search-pool nodes.",
        "fare-quoter-antiaffinity-max-size",
        Evidence(waiting.namespace, waiting.name, message[:message.index(_ANTI) + len(_ANTI)]),
        facts=("anti-affinity", "search-pool|4 node(s)"),
    )
    cluster.ask(
        "antiaff-2", "Why hasn't the cluster autoscaler added nodes for the Pending fare-quoter pods?",
        f"The search pool's node group is already at its maximum size: the autoscaler reports 'pod didn't trigger "
        f"scale-up: 1 max node group size reached' and logs 'Skipping node group {SEARCH_GROUP} - max size reached' "
        "on every loop (the other groups don't match the pod's node selector). Raise the group's max size above 4, "
        "or make the anti-affinity preferred instead of required.",
        "fare-quoter-antiaffinity-max-size",
        Evidence(waiting.namespace, waiting.name, "1 max node group size reached"),
        Evidence("kube-system", _autoscaler(cluster).name, f"Skipping node group {SEARCH_GROUP} - max size reached"),
        facts=("max node group size reached|max size reached", SEARCH_GROUP),
    )


# ---------------------------------------------------------------- 3. slow etcd leader disk, slow API server


def _static_pod(cluster: SampleCluster, workload: Workload, node: str) -> SamplePod:
    """A control-plane static pod: named after its node, owned by the Node, running for days."""
    (pod,) = add_pods(cluster, workload, 1, node=node)
    _forget(cluster, pod)
    pod.name, pod.owner = f"{workload.name}-{node}", ("Node", node)
    _pin(cluster, pod, node, 9 * 24 * 60 + cluster.rng.uniform(0, 600))
    pod.containers[0].noise = False
    return pod


def _etcd_compactions(cluster: SampleCluster, pod: SamplePod, slow_from: datetime) -> None:
    """The API server compacts etcd every five minutes; every member logs it (slowly on the sick leader)."""
    revision = 48_120_000 + cluster.rng.randint(0, 9_999)
    for moment in _every(cluster, ago(359), NOW, 299.5, 300.5):
        revision += cluster.rng.randint(16_000, 19_000)
        slow = pod.node == SLOW_ETCD_NODE and moment > slow_from
        took = cluster.rng.uniform(900, 2400) if slow else cluster.rng.uniform(38, 70)
        digest = cluster.rng.randint(1_000_000_000, 4_294_967_295)
        pod.containers[0].lines += [
            _etcd(moment, "info", "mvcc/index.go:214", "compact tree index", revision=revision),
            _etcd(moment + timedelta(milliseconds=took), "info", "mvcc/kvstore_compaction.go:68",
                  "finished scheduled compaction", **{"compact-revision": revision, "took": f"{took:.6f}ms",
                                                      "hash": digest, "current-db-size-bytes": 2384658432,
                                                      "current-db-size": "2.4 GB",
                                                      "current-db-size-in-use-bytes": 1511215104,
                                                      "current-db-size-in-use": "1.5 GB"}),
        ]


def _etcd_leader_trouble(cluster: SampleCluster, leader: SamplePod, peers: list[str], slow_from: datetime) -> None:
    """The leader's WAL fsyncs take seconds: slow applies, late heartbeats."""
    lease = "/registry/leases/kube-node-lease/cpu-0"
    for index, moment in enumerate(_every(cluster, slow_from, NOW, 6, 28)):
        kind = (0.1, 0.5, 0.7, 0.9)[index] if index < 4 else cluster.rng.random()
        if kind < 0.35:
            line = _etcd(moment, "warn", "wal/wal.go:805", "slow fdatasync",
                         took=f"{cluster.rng.uniform(1.1, 3.9):.9f}s", **{"expected-duration": "1s"})
        elif kind < 0.6:
            line = _etcd(moment, "warn", "etcdserver/raft.go:416", "leader failed to send out heartbeat on time; took "
                         "too long, leader is overloaded likely from slow disk", to=cluster.rng.choice(peers),
                         **{"heartbeat-interval": "100ms", "expected-duration": "200ms",
                            "exceeded-duration": f"{cluster.rng.uniform(0.4, 2.8):.3f}s"})
        elif kind < 0.8:
            line = _etcd(moment, "warn", "etcdserver/util.go:170", "apply request took too long",
                         took=f"{cluster.rng.uniform(0.4, 4.2):.9f}s", **{
                             "expected-duration": "100ms", "prefix": "read-only range ",
                             "request": 'key:"/registry/pods/" range_end:"/registry/pods0" limit:500 ',
                             "response": f"range_response_count:500 size:{cluster.rng.randint(1_700_000, 1_800_000)}"})
        else:
            revision = cluster.rng.randint(48_200_000, 48_300_000)
            line = _etcd(moment, "warn", "etcdserver/util.go:170", "apply request took too long",
                         took=f"{cluster.rng.uniform(0.3, 2.9):.9f}s", **{
                             "expected-duration": "100ms", "prefix": "",
                             "request": f"header:<ID:{cluster.rng.getrandbits(62)} > txn:<compare:<target:MOD "
                                        f'key:"{lease}" mod_revision:{revision} > success:<request_put:<key:"{lease}" '
                                        f'value_size:484 >> failure:<request_range:<key:"{lease}" > >>',
                             "response": "size:18"})
        leader.containers[0].lines.append(line)


def _apiserver_slow(cluster: SampleCluster, pod: SamplePod, slow_from: datetime) -> str:
    """kube-apiserver waiting on etcd: slow-request traces, timeouts and failed lease updates. Returns the start of
    its first trace's etcd step (trace id, audit id)."""
    timeout = ('apiserver received an error that is not an metav1.Status: rpctypes.EtcdError{code:0xe, '
               'desc:"etcdserver: request timed out"}: etcdserver: request timed out')
    lines = pod.containers[0].lines
    services = ("trip-planner/poi-search-canary", "guest-profiles/profile-api-preview", "map-tiles/tile-renderer-v2")
    for moment in _every(cluster, _since(pod), slow_from, 600, 1800):
        address = f"10.96.{cluster.rng.randint(1, 250)}.{cluster.rng.randint(2, 250)}"
        service = cluster.rng.choice(services)
        lines.append(_klog(moment, "I", "alloc.go:330",
                           f'"allocated clusterIPs" service="{service}" clusterIPs={{"IPv4":"{address}"}}'))
    traces = []
    for index, moment in enumerate(_every(cluster, slow_from, NOW, 20, 75)):
        kind = (0.1, 0.6, 0.9)[index] if index < 3 else cluster.rng.random()
        if kind < 0.5:
            traces.append(_list_trace(cluster, moment))
            lines += traces[-1]
        elif kind < 0.8:
            lines.append(_klog(moment, "E", "status.go:71", timeout))
        else:
            lines.append(_klog(moment, "E", "controller.go:195",
                               '"Failed to update lease" err="etcdserver: request timed out"'))
    return traces[0][1][1].split(",key:")[0]


def _list_trace(cluster: SampleCluster, end: datetime) -> list[tuple[datetime, str]]:
    """kube-apiserver's utiltrace for a LIST that spent seconds in etcd."""
    took = cluster.rng.randint(1200, 5800)
    began = end - timedelta(milliseconds=took)
    trace, audit = cluster.rng.randint(100_000_000, 2_147_483_647), cluster.uid()
    client = cluster.rng.choice((("10.0.21.118", "kubectl/v1.30.2 (linux/amd64) kubernetes/3968350"),
                                 ("10.244.5.61", "kube-state-metrics/v2.12.0 (linux/amd64) kubernetes/$Format")))
    head = _klog(end, "I", "trace.go:236", (
        f'Trace[{trace}]: "List" accept:application/json, */*,audit-id:{audit},client:{client[0]},api-group:,'
        "api-version:v1,name:,subresource:,namespace:,protocol:HTTP/2.0,resource:pods,scope:cluster,"
        f"url:/api/v1/pods,user-agent:{client[1]},verb:LIST ({began:%d-%b-%Y %H:%M:%S}."
        f"{began.microsecond // 1000:03d}) (total time: {took}ms):"))[1]
    return _block(end, [
        head,
        f'Trace[{trace}]: ["List(recursive=true) etcd3" audit-id:{audit},key:/pods,resourceVersion:,'
        f"resourceVersionMatch:,limit:500,continue: {took - 2}ms ({began:%H:%M:%S}.{began.microsecond // 1000:03d})]",
        f"Trace[{trace}]: [{took / 1000:.3f}s] [{took / 1000:.3f}s] END",
    ])


def _etcd_phrase(pod: SamplePod, message: str) -> str:
    """The start of the first line in which an etcd member logged `message`: its time, caller and message."""
    entry = next(json.loads(line) for _, line in pod.containers[0].lines if json.loads(line)["msg"] == message)
    return f'"ts":"{entry["ts"]}","caller":"{entry["caller"]}","msg":"{message}"'


def etcd_slow_disk(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """From 11:21 the etcd leader's disk on prod-cp-1b takes seconds per WAL fsync: the leader logs slow fdatasync and
    late heartbeats, applies take seconds, followers wait on its ReadIndex, and every API server call that reaches
    etcd is slow or times out."""
    slow_from = _soon(cluster, ago(39), 0)
    members = [_static_pod(cluster, _ETCD, node) for node in CONTROL_PLANE]
    servers = [_static_pod(cluster, _APISERVER, node) for node in CONTROL_PLANE]
    ids = {pod.node: _hex(cluster, 16) for pod in members}
    for pod in members:
        _etcd_compactions(cluster, pod, slow_from)
        pod.containers[0].env = [{"name": "ETCD_QUOTA_BACKEND_BYTES", "value": "8589934592"}]
    leader = next(pod for pod in members if pod.node == SLOW_ETCD_NODE)
    _etcd_leader_trouble(cluster, leader, [ids[n] for n in CONTROL_PLANE if n != SLOW_ETCD_NODE], slow_from)
    for pod in members:
        if pod is not leader:
            for moment in _every(cluster, slow_from + timedelta(seconds=30), NOW, 45, 160):
                pod.containers[0].lines.append(_etcd(
                    moment, "warn", "etcdserver/v3_server.go:897", "waiting for ReadIndex response took too long, "
                    "retrying", **{"sent-request-id": cluster.rng.getrandbits(62), "retry-timeout": "500ms"}))
    traced = [_apiserver_slow(cluster, pod, slow_from) for pod in servers]
    follower, front = members[0], servers[0]
    applied = _etcd_phrase(leader, "apply request took too long")
    overloaded = _etcd_phrase(leader, "leader failed to send out heartbeat on time; took too long, leader is "
                                      "overloaded likely from slow disk")
    cluster.ask(
        "etcdslow-1", "Since about 11:20 kubectl and our deploy pipelines have been very slow against the cluster, "
                      "and some calls fail outright. What's going on?",
        "The API servers are waiting on etcd. Their slow-request traces show LISTs spending seconds in etcd3 "
        "('List(recursive=true) etcd3 ... 4000+ms'), some requests fail with 'etcdserver: request timed out', and "
        "node lease updates fail. On the etcd side the leader logs 'apply request took too long' (seconds against an "
        "expected 100ms). Nothing is wrong with the API servers themselves.",
        "etcd-leader-slow-disk",
        Evidence(front.namespace, front.name, traced[0]),
        Evidence(leader.namespace, leader.name, applied),
        facts=("request timed out", "apply request took too long|took too long"),
    )
    cluster.ask(
        "etcdslow-2", "Which etcd member is the bottleneck, and what is wrong with it?",
        f"The leader, {leader.name} on {SLOW_ETCD_NODE}: its disk is slow. It logs 'slow fdatasync' (WAL fsyncs of "
        "1 to 4 seconds against an expected 1s) and 'leader failed to send out heartbeat on time; took too long, "
        "leader is overloaded likely from slow disk'. The followers only log that they wait on the leader's ReadIndex "
        f"('waiting for ReadIndex response took too long'). Check {SLOW_ETCD_NODE}'s volume, or move leadership away "
        "(etcdctl move-leader) and replace the disk.",
        "etcd-leader-slow-disk",
        Evidence(leader.namespace, leader.name, overloaded),
        Evidence(follower.namespace, follower.name, _etcd_phrase(follower, "waiting for ReadIndex response took too "
                                                                           "long, retrying")),
        facts=(SLOW_ETCD_NODE, "slow disk|fdatasync"),
    )


# ---------------------------------------------------------------- 4. mutating webhook with an expired certificate


_EXPIRY = datetime(2026, 3, 14, 9, 58, 0, tzinfo=NOW.tzinfo)
_WEBHOOK = "defaults.pod-defaults.wayfarer.io"


def _webhook_server(cluster: SampleCluster, pod: SamplePod, restarted: float) -> None:
    """pod-defaults restarted at 07:12 (a node rotation) and loaded a certificate that expires at 09:58; after that
    every API server call fails the TLS handshake, which the Go HTTP server logs through the standard logger."""
    _pin(cluster, pod, pod.node, restarted)
    server = pod.containers[0]
    server.noise = False
    server.env = [{"name": "TLS_CERT_DIR", "value": "/tmp/k8s-webhook-server/serving-certs"},
                  {"name": "DEFAULT_PRIORITY_CLASS", "value": "standard"}]
    start = _soon(cluster, pod.start, 1)
    server.lines += [
        _runtime(start, "info", "setup", "starting pod-defaults", version="1.6.2", commit="a41c9e2"),
        _runtime(start + timedelta(milliseconds=9), "info", "controller-runtime.webhook", "Registering webhook",
                 path="/mutate-v1-pod"),
        _runtime(start + timedelta(milliseconds=12), "info", "controller-runtime.certwatcher",
                 "Updated current TLS certificate"),
        _runtime(start + timedelta(milliseconds=13), "info", "setup", "serving certificate",
                 subject="CN=pod-defaults-webhook.platform-admission.svc", issuer="CN=pod-defaults-ca",
                 notBefore="2025-03-14T09:58:00Z", notAfter=_ts(_EXPIRY)),
        _runtime(start + timedelta(milliseconds=14), "info", "controller-runtime.webhook", "Starting webhook server"),
        _runtime(start + timedelta(milliseconds=15), "info", "controller-runtime.certwatcher",
                 "Starting certificate watcher"),
        _runtime(start + timedelta(milliseconds=17), "info", "controller-runtime.webhook", "Serving webhook server",
                 host="", port=9443),
    ]
    namespaces = ("guest-profiles", "trip-planner", "map-tiles", "rail-booking", "fare-search")
    for moment in _every(cluster, start + timedelta(seconds=30), _EXPIRY, 40, 300):
        server.lines.append(_runtime(moment, "info", "mutator", "defaulted pod",
                                     namespace=cluster.rng.choice(namespaces), patches=cluster.rng.randint(1, 4)))
    for moment in _every(cluster, _EXPIRY + timedelta(seconds=3), NOW, 8, 70):
        source = f"{_node_ip(cluster.rng.choice(CONTROL_PLANE))}:{cluster.rng.randint(32768, 60999)}"
        server.lines.append(_golog(moment, f"http: TLS handshake error from {source}: remote error: tls: bad "
                                           "certificate"))


def webhook_expired(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """The pod-defaults mutating webhook's serving certificate, generated by its chart a year ago with a 365-day
    validity, expired at 09:58. The webhook fails closed, so the seatmap-booking 3.4.0 rollout at 11:15 cannot create a
    single pod; the 3.3.2 pods keep serving."""
    rolled = 45.0
    for pod in cluster.pods_of("platform-admission", "pod-defaults-webhook"):
        _webhook_server(cluster, pod, 288.0 + cluster.rng.uniform(0, 0.4))
    bookings = cluster.pods_of("rail-booking", "seatmap-booking")
    for pod in bookings:
        pod.containers[0].env = [{"name": "PARTNER_API_JWT", "value": secrets.jwt},
                                 {"name": "SEATS_URL", "value": "http://seat-inventory.rail-booking.svc:8080"}]
    new_rs = f"seatmap-booking-{cluster.suffix(10)}"
    cluster.event(("Deployment", "rail-booking", "seatmap-booking"), "ScalingReplicaSet",
                  f"Scaled up replica set {new_rs} to 1", ago(rolled), component="deployment-controller")

    def refused(moment: datetime) -> str:
        return (f'Error creating: Internal error occurred: failed calling webhook "{_WEBHOOK}": failed to call '
                'webhook: Post "https://pod-defaults-webhook.platform-admission.svc:443/mutate-v1-pod?timeout=10s": '
                "tls: failed to verify certificate: x509: certificate has expired or is not yet valid: current time "
                f"{_ts(moment)} is after {_ts(_EXPIRY)}")

    rs = ("ReplicaSet", "rail-booking", new_rs)
    for attempt in range(9):
        moment = _soon(cluster, ago(rolled - 0.01 * (attempt + 1) - 0.005 * attempt ** 2), 0)
        cluster.event(rs, "FailedCreate", refused(moment), moment, warning=True, component="replicaset-controller")
    last = _soon(cluster, ago(0.9), 0)
    cluster.event(rs, "FailedCreate", f"(combined from similar events): {refused(last)}", last, warning=True,
                  count=24, first=ago(rolled - 0.5), component="replicaset-controller")
    webhook = cluster.pods_of("platform-admission", "pod-defaults-webhook")[0]
    cluster.ask(
        "podwebhook-1", "We rolled out seatmap-booking 3.4.0 at 11:15, yet only the old 3.3.2 pods are running and no "
                        "new pod has appeared. What is blocking the rollout?",
        f"The API server refuses every pod the new ReplicaSet ({new_rs}) tries to create: calling the mutating "
        f"webhook \"{_WEBHOOK}\" fails with 'tls: failed to verify certificate: x509: certificate has expired or "
        "is not yet valid'. The pod-defaults webhook's serving certificate has expired, and because the webhook "
        "fails closed nothing in its scope can be created. The 3.3.2 pods were created before and keep running.",
        "pod-defaults-webhook-cert-expired",
        Evidence("rail-booking", new_rs, f'failed calling webhook "{_WEBHOOK}"'),
        facts=("x509: certificate has expired|certificate has expired", "pod-defaults"),
    )
    cluster.ask(
        "podwebhook-2", "When did the pod-defaults webhook's certificate stop being valid, and who issued it?",
        f"At 09:58 today: the webhook logged its serving certificate at start-up with notAfter {_ts(_EXPIRY)}, "
        "issued by CN=pod-defaults-ca (the chart's own self-signed CA, one year before). Since 09:58 the webhook pods "
        "log 'http: TLS handshake error ... remote error: tls: bad certificate' for every call from the API servers. "
        "Re-issue the certificate (and the caBundle in the MutatingWebhookConfiguration), ideally via cert-manager.",
        "pod-defaults-webhook-cert-expired",
        Evidence(webhook.namespace, webhook.name, '"issuer":"CN=pod-defaults-ca","notBefore":"2025-03-14T09:58:00Z"'),
        facts=("09:58", "pod-defaults-ca"),
    )


# ---------------------------------------------------------------- 5. one GPU in thermal slowdown slows DDP training


_BUSES = ("18", "2A", "3A", "5D", "9A", "AB", "BA", "DB")
_HOT = 5  # the GPU index (and local rank) in thermal slowdown


def _train_log(cluster: SampleCluster, trainer: SampleContainer, start: datetime, hot_from: datetime) -> None:
    """Rank 0's log: steady 0.64 s steps, then more than twice as slow once cuda:5 throttles."""
    trainer.lines += [
        _pylog(start, "INFO", "eta.train", f"world size 8 on {HOT_GPU_NODE}, resuming from "
                                           "/ckpt/route-eta/step_24000 (optimizer + sampler state)"),
        _pylog(start + timedelta(seconds=41), "INFO", "eta.gpumon", "8 x NVIDIA H100 80GB HBM3, driver 550.90.07, "
                                                                    "sm clocks 1980 MHz"),
    ]
    step, moment = 24_000, start + timedelta(seconds=60)
    while moment < NOW:
        slow = moment > hot_from
        took = cluster.rng.uniform(1.30, 1.42) if slow else cluster.rng.uniform(0.62, 0.66)
        step += 100
        moment += timedelta(seconds=100 * took)
        trainer.lines.append(_pylog(moment, "INFO", "eta.train", (
            f"step {step} | loss {0.41 + 0.3 * 0.9999 ** (step - 24_000) + cluster.rng.uniform(-0.01, 0.01):.4f} | "
            f"{took:.2f} s/step | {int(4096 / took)} samples/s")))
        if slow:
            trainer.lines.append(_pylog(moment, "WARNING", "eta.perf", (
                f"slowest rank {_HOT} (cuda:{_HOT}): compute {took - cluster.rng.uniform(0.06, 0.1):.2f} s vs median "
                f"{cluster.rng.uniform(0.56, 0.59):.2f} s over the last 100 steps")))
    for moment in _every(cluster, start + timedelta(minutes=30), NOW, 1790, 1810):
        if moment < hot_from:
            trainer.lines.append(_pylog(moment, "INFO", "eta.gpumon", f"8 GPUs ok, sm clocks 1980 MHz, max temp "
                                                                      f"{cluster.rng.randint(68, 73)} C"))
    for moment in _every(cluster, hot_from + timedelta(seconds=40), NOW, 290, 310):
        trainer.lines.append(_pylog(moment, "WARNING", "eta.gpumon", (
            f"cuda:{_HOT} clocks reduced: sm {cluster.rng.choice((1035, 1095, 1140))} MHz (max 1980 MHz), "
            f"reasons=HW_SLOWDOWN,HW_THERMAL_SLOWDOWN, temp {cluster.rng.randint(88, 91)} C")))


def _smi_output(cluster: SampleCluster, moment: datetime, serials: list[str]) -> list[str]:
    """`nvidia-smi --query-gpu=... --format=csv` then `nvidia-smi -q -d PERFORMANCE,TEMPERATURE -i 5`."""
    rows = ["index, pci.bus_id, serial, temperature.gpu, clocks.sm [MHz], clocks.max.sm [MHz], "
            "clocks_event_reasons.active"]
    for index, (bus, serial) in enumerate(zip(_BUSES, serials)):
        hot = index == _HOT
        rows.append(f"{index}, 00000000:{bus}:00.0, {serial}, {89 if hot else cluster.rng.randint(58, 67)}, "
                    f"{1095 if hot else 1980} MHz, 1980 MHz, 0x00000000000000{'68' if hot else '00'}")
    reasons = [("Idle", "Not Active"), ("Applications Clocks Setting", "Not Active"), ("SW Power Cap", "Not Active"),
               ("HW Slowdown", "Active"), ("    HW Thermal Slowdown", "Active"),
               ("    HW Power Brake Slowdown", "Not Active"), ("Sync Boost", "Not Active"),
               ("SW Thermal Slowdown", "Active"), ("Display Clock Setting", "Not Active")]
    temperature = [("GPU Current Temp", "89 C"), ("GPU T.Limit Temp", "-3 C"), ("GPU Shutdown T.Limit Temp", "-8 C"),
                   ("GPU Slowdown T.Limit Temp", "-2 C"), ("GPU Max Operating T.Limit Temp", "0 C"),
                   ("GPU Target Temperature", "N/A"), ("Memory Current Temp", "81 C"),
                   ("Memory Max Operating T.Limit Temp", "0 C")]
    return [
        *rows, "", "==============NVSMI LOG==============", "",
        f"{'Timestamp':<42}: {moment:%a %b %d %H:%M:%S %Y}", f"{'Driver Version':<42}: 550.90.07",
        f"{'CUDA Version':<42}: 12.4", "", f"{'Attached GPUs':<42}: 8", f"GPU 00000000:{_BUSES[_HOT]}:00.0",
        f"    {'Performance State':<38}: P0", "    Clocks Event Reasons",
        *[f"        {name:<34}: {value}" for name, value in reasons],
        f"    {'Sparse Operation Mode':<38}: N/A", "    Temperature",
        *[f"        {name:<34}: {value}" for name, value in temperature], "",
    ]


def gpu_thermal(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """route-eta-train (DDP, 8 ranks on one H100 server) slowed from 0.64 to ~1.36 s/step at 10:41: GPU 5 runs hot
    (89 C) and the hardware throttles its clocks (HW Thermal Slowdown); every all-reduce waits for that rank. The
    on-call ran a diagnostics Job on the node at 11:18."""
    began, hot_from = 450.0, _soon(cluster, ago(79), 0)
    (train,) = add_pods(cluster, _ETA_TRAIN, 1, node=HOT_GPU_NODE)
    _pin(cluster, train, HOT_GPU_NODE, began)
    train.resources = {"requests": {"cpu": "64", "memory": "900Gi", "nvidia.com/gpu": "8"},
                       "limits": {"memory": "900Gi", "nvidia.com/gpu": "8"}}
    trainer = train.containers[0]
    trainer.noise = False
    trainer.env = [{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                   {"name": "NCCL_DEBUG", "value": "WARN"}, {"name": "OMP_NUM_THREADS", "value": "8"},
                   {"name": "SLACK_WEBHOOK_URL", "value": secrets.slack_webhook}]
    _train_log(cluster, trainer, _soon(cluster, ago(began), 4), hot_from)

    ran = 42.0
    (diag,) = add_pods(cluster, _GPU_DIAG, 1, node=HOT_GPU_NODE)
    _pin(cluster, diag, HOT_GPU_NODE, ran)
    diag.resources = {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"memory": "64Mi"}}
    diag.containers[0].env = [{"name": "NVIDIA_VISIBLE_DEVICES", "value": "all"}]
    serials = [f"16549220{cluster.rng.randint(10_000, 99_999)}" for _ in _BUSES]
    moment = _soon(cluster, ago(ran), 2)
    diag.containers[0].lines += _block(moment, _smi_output(cluster, moment, serials))
    _terminated(cluster, diag, 0, "Completed", moment - timedelta(seconds=1), moment + timedelta(seconds=1))
    _batch_event(cluster, "Job", diag.namespace, _GPU_DIAG.name, "SuccessfulCreate", f"Created pod: {diag.name}",
                 ago(ran))
    _batch_event(cluster, "Job", diag.namespace, _GPU_DIAG.name, "Completed", "Job completed",
                 moment + timedelta(seconds=5))
    cluster.ask(
        "hotgpu-1", "route-eta-train has been running at about half its usual speed since 10:41, with the same code "
                    "and data. What is slowing it down?",
        f"One of its eight GPUs is being throttled. Since 10:41 steps take about 1.36 s instead of 0.64 s, the trainer "
        f"reports the slowest rank is rank {_HOT} (cuda:{_HOT}), and its GPU monitor logs 'cuda:{_HOT} clocks reduced: "
        "sm 1095 MHz (max 1980 MHz), reasons=HW_SLOWDOWN,HW_THERMAL_SLOWDOWN' at about 89 C. With DDP every "
        "all-reduce waits for the slowest rank, so the whole job runs at that GPU's speed.",
        "gpu-thermal-slowdown",
        Evidence(train.namespace, train.name, f"eta.gpumon: cuda:{_HOT} clocks reduced"),
        facts=(f"rank {_HOT}|cuda:{_HOT}|GPU {_HOT}", "HW_THERMAL_SLOWDOWN|thermal"),
    )
    cluster.ask(
        "hotgpu-2", "Which physical GPU should the datacenter team look at for the slow ETA training?",
        f"GPU {_HOT} of {HOT_GPU_NODE}: PCI bus 00000000:{_BUSES[_HOT]}:00.0, serial {serials[_HOT]}. The "
        f"diagnostics Job's nvidia-smi shows it at 89 C with 'HW Thermal Slowdown : Active' and SM clocks at 1095 of "
        "1980 MHz, while the other seven run at 58-67 C and full clocks. That points at cooling (a fan, blocked "
        "airflow or the heatsink) on that slot; drain the node before servicing it.",
        "gpu-thermal-slowdown",
        Evidence(diag.namespace, diag.name, f"{_HOT}, 00000000:{_BUSES[_HOT]}:00.0, {serials[_HOT]}, 89"),
        facts=(HOT_GPU_NODE, f"{serials[_HOT]}|00000000:{_BUSES[_HOT]}:00.0"),
    )


# ---------------------------------------------------------------- 6. Redis Sentinel failover, client pinned to a node


_DOMAIN = "cart-redis-headless.session-store.svc.cluster.local"


def _host(index: int) -> str:
    return f"cart-redis-node-{index}.{_DOMAIN}"


def _sentinel_failover(sentinel: SampleContainer, leader: bool, at: datetime, back: datetime, run_id: str) -> None:
    """What each Sentinel logs when the master goes away; the elected leader runs the failover."""
    old, new = f"mymaster {_host(0)} 6379", f"{_host(2)}:6379 {_host(2)} 6379"
    other = f"{_host(1)}:6379 {_host(1)} 6379"
    steps = [("#", f"+sdown master {old}"), ("#", f"+odown master {old} #quorum 2/2"), ("#", "+new-epoch 7")]
    if leader:
        steps += [("#", f"+try-failover master {old}"), ("*", "Sentinel new configuration saved on disk"),
                  ("#", f"+vote-for-leader {run_id} 7"), ("#", f"+elected-leader master {old}"),
                  ("#", f"+failover-state-select-slave master {old}"), ("#", f"+selected-slave slave {new} @ {old}"),
                  ("*", f"+failover-state-send-slaveof-noone slave {new} @ {old}"),
                  ("*", f"+failover-state-wait-promotion slave {new} @ {old}"),
                  ("#", f"+promoted-slave slave {new} @ {old}"), ("#", f"+failover-state-reconf-slaves master {old}"),
                  ("*", f"+slave-reconf-sent slave {other} @ {old}"), ("#", f"+failover-end master {old}")]
    else:
        steps += [("#", f"+vote-for-leader {run_id} 7"), ("#", f"+config-update-from sentinel {run_id} "
                                                                 f"{_host(1)} 26379 @ {old}")]
    master = f"mymaster {_host(2)} 6379"
    steps += [("#", f"+switch-master mymaster {_host(0)} 6379 {_host(2)} 6379"),
              ("*", f"+slave slave {other} @ {master}"),
              ("*", f"+slave slave {_host(0)}:6379 {_host(0)} 6379 @ {master}"),
              ("#", f"+sdown slave {_host(0)}:6379 {_host(0)} 6379 @ {master}")]
    sentinel.lines += [_redis(at + timedelta(milliseconds=90 * index), "X", mark, text)
                       for index, (mark, text) in enumerate(steps)]
    sentinel.lines.append(_redis(back, "X", "#", f"-sdown slave {_host(0)}:6379 {_host(0)} 6379 @ {master}"))
    if leader:
        sentinel.lines.append(_redis(back + timedelta(milliseconds=410), "X", "*",
                                     f"+convert-to-slave slave {_host(0)}:6379 {_host(0)} 6379 @ {master}"))


def _redis_restart(cluster: SampleCluster, redis: SampleContainer, died: datetime, back: datetime,
                   sentinel_ip: str, run_id: str) -> None:
    """cart-redis-node-0's redis after its OOM kill: reloads its RDB, then Sentinel turns it into a replica."""
    start = died + timedelta(seconds=1)
    keys = 1_843_117
    redis.lines += [
        _redis(start, "C", "*", "oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo"),
        _redis(start, "C", "*", "Redis version=7.2.4, bits=64, commit=00000000, modified=0, pid=1, just started"),
        _redis(start, "C", "*", "Configuration loaded"),
        _redis(start + timedelta(milliseconds=2), "M", "*", "Running mode=standalone, port=6379."),
        _redis(start + timedelta(milliseconds=3), "M", "*", "Server initialized"),
        _redis(start + timedelta(milliseconds=4), "M", "*", "Loading RDB produced by version 7.2.4"),
        _redis(back, "M", "*", f"Done loading RDB, keys loaded: {keys}, keys expired: 2214."),
        _redis(back, "M", "*", f"DB loaded from disk: {(back - start).total_seconds():.3f} seconds"),
        _redis(back, "M", "*", "Ready to accept connections tcp"),
    ]
    moment = back + timedelta(milliseconds=420)
    client = (f"id=5 addr={sentinel_ip}:{cluster.rng.randint(40000, 60000)} laddr=0.0.0.0:6379 fd=11 "
              f"name=sentinel-{run_id[:8]}-cmd age=0 idle=0 flags=x db=0 sub=0 psub=0 ssub=0 multi=4 qbuf=347 "
              "qbuf-free=20127 argv-mem=4 multi-mem=181 rbs=2048 rbp=1024 obl=45 oll=0 omem=0 tot-mem=23517 events=r "
              "cmd=exec user=default redir=-1 resp=2 lib-name= lib-ver=")
    redis.lines += [
        _redis(moment, "S", "*", "Before turning into a replica, using my own master parameters to synthesize a "
                                 "cached master: I may be able to synchronize with the new master with just a partial "
                                 "transfer."),
        _redis(moment, "S", "*", f"Connecting to MASTER {_host(2)}:6379"),
        _redis(moment, "S", "*", "MASTER <-> REPLICA sync started"),
        _redis(moment, "S", "*", f"REPLICAOF {_host(2)}:6379 enabled (user request from '{client}')"),
        _redis(moment + timedelta(milliseconds=3), "S", "*", "Master replied to PING, replication can continue..."),
        _redis(moment + timedelta(milliseconds=5), "S", "*", f"Full resync from master: {_hex(cluster, 40)}:"
                                                             f"{cluster.rng.randint(6_283_000_000, 6_284_000_000)}"),
        _redis(moment + timedelta(seconds=31), "S", "*", "MASTER <-> REPLICA sync: Finished with success"),
    ]


def _redis_routine(cluster: SampleCluster, redis: SampleContainer, role: str, start: datetime, end: datetime) -> None:
    """RDB snapshots every few minutes (`save 300 100`)."""
    for moment in _every(cluster, start, end, 290, 330):
        pid = cluster.rng.randint(200, 9000)
        redis.lines += [
            _redis(moment, role, "*", f"{cluster.rng.randint(100, 9000)} changes in 300 seconds. Saving..."),
            _redis(moment, role, "*", f"Background saving started by pid {pid}"),
            _redis(moment + timedelta(seconds=9), "C", "*", "DB saved on disk", pid=pid),
            _redis(moment + timedelta(seconds=9), role, "*", "Background saving terminated with success"),
        ]


def _promotion(cluster: SampleCluster, redis: SampleContainer, lost: datetime, promoted: datetime,
               sentinel_ip: str, run_id: str) -> None:
    """cart-redis-node-2 loses its master, retries, then Sentinel promotes it."""
    redis.lines += [_redis(lost, "S", "*", "Connection with master lost."),
                    _redis(lost, "S", "*", "Caching the disconnected master state.")]
    for moment in _every(cluster, lost + timedelta(seconds=1), promoted, 0.9, 1.1):
        redis.lines += [_redis(moment, "S", "*", f"Connecting to MASTER {_host(0)}:6379"),
                        _redis(moment, "S", "#", "Error condition on socket for SYNC: Connection refused")]
    client = (f"id=23 addr={sentinel_ip}:{cluster.rng.randint(40000, 60000)} laddr=0.0.0.0:6379 fd=12 "
              f"name=sentinel-{run_id[:8]}-cmd age=6712 idle=0 flags=x db=0 sub=0 psub=0 ssub=0 multi=4 qbuf=188 "
              "qbuf-free=20286 argv-mem=4 multi-mem=169 rbs=1024 rbp=1024 obl=45 oll=0 omem=0 tot-mem=22429 events=r "
              "cmd=exec user=default redir=-1 resp=2 lib-name= lib-ver=")
    redis.lines += [
        _redis(promoted, "M", "*", "Discarding previously cached master state."),
        _redis(promoted, "M", "*", f"Setting secondary replication ID to {_hex(cluster, 40)}, valid up to offset: "
                                   f"{cluster.rng.randint(6_283_000_000, 6_284_000_000)}. New replication ID is "
                                   f"{_hex(cluster, 40)}"),
        _redis(promoted, "M", "*", f"MASTER MODE enabled (user request from '{client}')"),
        _redis(promoted + timedelta(milliseconds=2), "M", "*", "CONFIG REWRITE executed with success."),
        _redis(promoted + timedelta(milliseconds=600), "M", "*", f"Replica {_host(1)}:6379 asks for synchronization"),
    ]


def _basket_api(cluster: SampleCluster, secrets: FakeSecrets, died: datetime, back: datetime) -> list[SamplePod]:
    """basket-api talks to cart-redis-node-0 by name: refused while it restarts, then READONLY on every write."""
    baskets = cluster.pods_of("session-store", "basket-api")
    for pod in baskets:
        app = pod.containers[0]
        app.noise = False
        app.env = [{"name": "REDIS_ADDR", "value": f"{_host(0)}:6379"},
                   {"name": "REDIS_PASSWORD", "value": secrets.env_password}, {"name": "REDIS_DB", "value": "0"}]
        for moment in _every(cluster, _since(pod) + timedelta(seconds=5), NOW, 8, 45):
            write = cluster.rng.random() < 0.4
            route = "/v1/baskets/{id}/items" if write else "/v1/baskets/{id}"
            basket = f"bsk_{_hex(cluster, 12)}"
            if died <= moment < back:
                error = f"dial tcp {_pod_ip(_redis_pods(cluster)[0])}:6379: connect: connection refused"
            elif moment >= back and write:
                error = "READONLY You can't write against a read only replica."
            else:
                app.lines.append(_zap(moment, "info", "http/middleware.go:52", "request",
                                      method="POST" if write else "GET", route=route, status=200,
                                      latency_ms=cluster.rng.randint(2, 25)))
                continue
            app.lines.append(_zap(moment, "error", "cart/store.go:88", "add item failed" if write else "load failed",
                                  error=error, basket_id=basket))
            app.lines.append(_zap(moment, "info", "http/middleware.go:52", "request", method="POST" if write else "GET",
                                  route=route, status=500, latency_ms=cluster.rng.randint(1, 4)))
    return baskets


def _redis_pods(cluster: SampleCluster) -> list[SamplePod]:
    return sorted(cluster.pods_of("session-store", "cart-redis-node"), key=lambda pod: pod.name)


def redis_failover(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """cart-redis-node-0, the master, was OOMKilled at 11:33:41 and took 35 s to reload its data; after 5 s the
    Sentinels failed over to cart-redis-node-2 and turned node-0 into a replica when it came back. basket-api is
    configured with node-0's address, not the Sentinels, so since 11:34 every write gets READONLY."""
    died = _soon(cluster, ago(26.3), 0)
    promoted, back = died + timedelta(seconds=7, milliseconds=300), died + timedelta(seconds=36, milliseconds=800)
    nodes = _redis_pods(cluster)
    run_id = _hex(cluster, 40)
    for pod in nodes:
        pod.resources = {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "1Gi"}}
        redis, sentinel = pod.containers
        redis.noise = sentinel.noise = False
        redis.env = [{"name": "REDIS_PASSWORD", "value": secrets.env_password}, {"name": "REDIS_PORT", "value": "6379"}]
        sentinel.env = [{"name": "REDIS_MASTER_SET", "value": "mymaster"},
                        {"name": "REDIS_SENTINEL_QUORUM", "value": "2"},
                        {"name": "REDIS_SENTINEL_DOWN_AFTER_MILLISECONDS", "value": "5000"}]
        _redis_routine(cluster, redis, "M" if pod is nodes[0] else "S", _since(pod) + timedelta(seconds=40), died)
        sensed = died + timedelta(seconds=5, milliseconds=cluster.rng.randint(100, 600))
        _sentinel_failover(sentinel, pod is nodes[1], sensed, back + timedelta(milliseconds=200), run_id)
    first, second, third = nodes
    _redis_restart(cluster, first.containers[0], died, back, _pod_ip(second), run_id)
    _promotion(cluster, third.containers[0], died, promoted, _pod_ip(second), run_id)
    _redis_routine(cluster, third.containers[0], "M", promoted + timedelta(minutes=4), NOW)
    redis = first.containers[0]
    redis.restarts = 1
    redis.last_state = {"terminated": {"exitCode": 137, "reason": "OOMKilled", "startedAt": _ts(first.start),
                                       "finishedAt": _ts(died), "containerID": _container_id(cluster)}}
    redis.state = {"running": {"startedAt": _ts(died + timedelta(seconds=1))}}
    ref = ("Pod", first.namespace, first.name)
    for reason, message in (("Pulled", f'Container image "{redis.image}" already present on machine'),
                            ("Created", "Created container redis"), ("Started", "Started container redis")):
        cluster.event(ref, reason, message, died + timedelta(seconds=1), count=2, host=first.node, first=first.start)
    baskets = _basket_api(cluster, secrets, died, back)
    cluster.ask(
        "sentinel-1", "Since 11:34 adding an item to a basket fails with a 500 in basket-api, but loading baskets "
                      "still works. What broke?",
        "basket-api's writes are refused by Redis: 'READONLY You can't write against a read only replica.' It is "
        "configured to talk to cart-redis-node-0 directly, and cart-redis-node-0 is no longer the master: it was "
        "OOMKilled at 11:33, Sentinel failed over while it reloaded its data, and when it came back Sentinel made it a "
        f"replica of cart-redis-node-2 ('REPLICAOF {_host(2)}:6379 enabled'). Reads still work on a replica; writes "
        "do not.",
        "redis-sentinel-stale-master",
        Evidence(baskets[0].namespace, baskets[0].name,
                 '"caller":"cart/store.go:88","msg":"add item failed","error":"READONLY You can\'t write against a '
                 'read only replica."'),
        Evidence(first.namespace, first.name, f"REPLICAOF {_host(2)}:6379 enabled"),
        facts=("READONLY|read only replica", "cart-redis-node-0"),
    )
    cluster.ask(
        "sentinel-2", "Which Redis node is the master of the cart store now, and why didn't basket-api follow the "
                      "change?",
        f"cart-redis-node-2: the Sentinels agreed cart-redis-node-0 was down at 11:33 and promoted node-2 ('+switch-"
        f"master mymaster {_host(0)} 6379 {_host(2)} 6379'). basket-api does not ask Sentinel for the master (master "
        f"set mymaster, port 26379): its REDIS_ADDR is hard-wired to {_host(0)}:6379. Use a Sentinel-aware client "
        "(e.g. go-redis NewFailoverClient with mymaster) so it follows failovers.",
        "redis-sentinel-stale-master",
        Evidence(second.namespace, second.name, f"+switch-master mymaster {_host(0)} 6379 {_host(2)} 6379"),
        Evidence(baskets[1].namespace, baskets[1].name, f"{_host(0)}:6379"),
        facts=("cart-redis-node-2", "REDIS_ADDR"),
    )


# ---------------------------------------------------------------- 7. containerd 2.0 nodes: a 1024 open-files limit


_ASYNCIO = "/usr/local/lib/python3.12/asyncio/selector_events.py"


def _emfile(moment: datetime) -> list[tuple[datetime, str]]:
    """asyncio's accept loop hitting EMFILE, printed by Python's last-resort handler (no logging config for it)."""
    return _block(moment, [
        "socket.accept() out of system resource",
        "socket: <asyncio.TransportSocket fd=6, family=2, type=1, proto=6, laddr=('0.0.0.0', 8765)>",
        "Traceback (most recent call last):",
        f'  File "{_ASYNCIO}", line 178, in _accept_connection',
        "    conn, addr = sock.accept()",
        "                 ^^^^^^^^^^^^^",
        '  File "/usr/local/lib/python3.12/socket.py", line 295, in accept',
        "    fd, addr = self._accept()",
        "               ^^^^^^^^^^^^^^",
        "OSError: [Errno 24] Too many open files",
    ])


def _riders(moment: datetime) -> int:
    """Open websockets a departures-ws pod would hold: the morning rush builds from 06:30 to a plateau at 08:30."""
    ramp = (moment - ago(330)).total_seconds() / 7200
    return int(240 + 1160 * min(1.0, max(0.0, ramp)))


def _departures_log(cluster: SampleCluster, pod: SamplePod, limit: int) -> None:
    """uvicorn serving the departure boards; with a 1024 soft limit, accept() fails once ~1000 riders are connected."""
    app = pod.containers[0]
    start = _soon(cluster, pod.start, 2)
    app.lines += [(start, "INFO:     Started server process [1]"),
                  (start, "INFO:     Waiting for application startup."),
                  _pylog(start, "INFO", "departures_ws.feed", "subscribed to realtime feed kafka://rt-feed:9092/"
                                                              "departures (42 stations)"),
                  (start, "INFO:     Application startup complete."),
                  (start, "INFO:     Uvicorn running on http://0.0.0.0:8765 (Press CTRL+C to quit)")]
    for moment in _every(cluster, max(start, ago(360)) + timedelta(seconds=60), NOW, 59, 61):
        riders = min(_riders(moment) + cluster.rng.randint(-25, 25), limit - 19)
        app.lines.append(_pylog(moment, "INFO", "departures_ws.stats", f"{riders} open websockets, {riders + 19} file "
                                                                       f"descriptors in use (limit {limit})"))
        if riders == limit - 19 and cluster.rng.random() < 0.5:
            app.lines += _emfile(moment + timedelta(seconds=cluster.rng.uniform(1, 30)))
            app.lines.append(_pylog(moment + timedelta(seconds=cluster.rng.uniform(31, 58)), "ERROR",
                                    "departures_ws.feed", "station snapshot refresh failed: [Errno 24] Too many open "
                                                          "files"))
    for moment in _every(cluster, max(start, ago(360)) + timedelta(seconds=5), NOW, 20, 90):
        client = (f"('10.244.{cluster.rng.randint(0, 7)}.{cluster.rng.randint(2, 250)}', "
                  f"{cluster.rng.randint(32768, 60999)})")
        station = cluster.rng.choice((8011160, 8000105, 8000261, 8002549, 8000207))
        app.lines += [(moment, f'INFO:     {client} - "WebSocket /v2/departures/stream?station={station}" [accepted]'),
                      (moment, "INFO:     connection open")]


def nofile_limit(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """Two of the four realtime nodes were replaced at 05:30 with the new node image, whose containerd 2.0.2 no longer
    runs with LimitNOFILE=infinity: containers there start with a soft open-files limit of 1024. departures-ws (Python,
    which does not raise the limit) holds one descriptor per rider; on those nodes it runs out at about 1000 riders,
    in the morning rush, and its accept loop, readiness probe and feed refreshes fail."""
    pods = cluster.pods_of("live-travel", "departures-ws")
    for pod, node in zip(pods, REALTIME_NODES):
        rotated = node in ROTATED_NODES
        _pin(cluster, pod, node, _ROTATED - 1.2 if rotated else 4100 + cluster.rng.uniform(0, 900))
        pod.resources = {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"memory": "1Gi"}}
        app = pod.containers[0]
        app.noise = False
        app.env = [{"name": "FEED_BOOTSTRAP", "value": "rt-feed.live-travel.svc:9092"},
                   {"name": "WEB_CONCURRENCY", "value": "1"}]
        _departures_log(cluster, pod, 1024 if rotated else 1048576)
        if rotated:
            app.ready = False
            ip = _pod_ip(pod)
            cluster.event(("Pod", pod.namespace, pod.name), "Unhealthy", (
                f'Readiness probe failed: Get "http://{ip}:8765/ready": context deadline exceeded (Client.Timeout '
                "exceeded while awaiting headers)"), ago(0.3), warning=True, count=cluster.rng.randint(700, 900),
                host=node, first=ago(cluster.rng.uniform(255, 262)))
    failing = next(pod for pod in pods if pod.node in ROTATED_NODES)
    cluster.ask(
        "nofile-1", "Since the morning rush riders keep getting disconnected from the live departure boards, and two "
                    "of the four departures-ws pods are unready. What is failing?",
        "The two unready pods cannot open any more file descriptors: with about 1000 riders connected, each holding a "
        "websocket, their accept loop fails with 'socket.accept() out of system resource' / 'OSError: [Errno 24] Too "
        "many open files', the feed refresh fails the same way, and the readiness probe times out. Their own stats "
        "show '1005 open websockets, 1024 file descriptors in use (limit 1024)'. The other two pods carry more riders "
        "without trouble.",
        "containerd2-nofile-1024",
        Evidence(failing.namespace, failing.name, "fd=6, family=2, type=1, proto=6, laddr=('0.0.0.0', 8765)>"),
        facts=("Too many open files|Errno 24", "1024"),
    )
    cluster.ask(
        "nofile-2", "Why does this only happen to the departures-ws pods on two of the realtime nodes?",
        f"Those two nodes ({ROTATED_NODES[0]} and {ROTATED_NODES[1]}) were replaced at 05:30 with the new node image "
        "and run containerd://2.0.2, while the other two still run containerd://1.7.19. containerd 2.0 no longer "
        "starts containers with an unlimited open-files limit, so processes there get the default soft limit of 1024 "
        "(the pods there log 'limit 1024', the others 'limit 1048576'). Raise the limit in the app at start-up, or set "
        "LimitNOFILE for containerd on the new image.",
        "containerd2-nofile-1024",
        Evidence(None, failing.node, "containerd://2.0.2"),
        Evidence(failing.namespace, failing.name, "file descriptors in use (limit 1024)"),
        facts=("containerd://2.0.2|containerd 2.0", f"{ROTATED_NODES[0]}|{ROTATED_NODES[1]}"),
    )


# ---------------------------------------------------------------- 8. OTel Collector sidecar OOMKilled


def _collector_run(cluster: SampleCluster, start: datetime, end: datetime) -> list[tuple[datetime, str]]:
    """One run of the collector: starts, then retries exports to an unreachable Tempo until it is killed."""
    service = "service@v0.98.0/service.go"
    lines = [
        _otel(start, "info", "service@v0.98.0/telemetry.go:55", "Setting up own telemetry..."),
        _otel(start, "info", f"{service}:143", "Starting otelcol-contrib...", {"Version": "0.98.0", "NumCPU": 16}),
        _otel(start, "info", "extensions/extensions.go:34", "Starting extensions..."),
        _otel(start, "info", "otlpreceiver@v0.98.0/otlp.go:102", "Starting GRPC server",
              {"kind": "receiver", "name": "otlp", "data_type": "traces", "endpoint": "127.0.0.1:4317"}),
        _otel(start, "info", f"{service}:169", "Everything is ready. Begin running and processing data."),
    ]
    error = ('rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: dial tcp '
             '10.96.71.38:4317: i/o timeout"')
    for moment in _every(cluster, start + timedelta(seconds=6), end, 2, 9):
        lines.append(_otel(moment, "info", "exporterhelper/retry_sender.go:118",
                           "Exporting failed. Will retry the request after interval.",
                           {"kind": "exporter", "data_type": "traces", "name": "otlp/tempo", "error": error,
                            "interval": f"{cluster.rng.uniform(3, 30):.9f}s"}))
    return lines


def otel_sidecar(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """Since 09:40 itinerary-api's OpenTelemetry Collector sidecar cannot reach tempo-distributor; with no memory
    limiter it keeps every failed batch for retry until it hits the pod's 256Mi memory limit and is OOMKilled, over
    and over. While the sidecar is down the pod is not Ready, so the Service keeps losing endpoints."""
    unreachable = 140.0
    pods = cluster.pods_of("trip-planner", "itinerary-api")
    for index, pod in enumerate(pods):
        pod.resources = {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "256Mi"}}
        app, sidecar = pod.containers
        app.env = [{"name": "OTEL_EXPORTER_OTLP_ENDPOINT", "value": "http://127.0.0.1:4317"},
                   {"name": "OPENAI_API_KEY", "value": secrets.openai_key}]
        sidecar.env = [{"name": "TEMPO_ENDPOINT", "value": "tempo-distributor.observability.svc:4317"},
                       {"name": "GOMAXPROCS", "value": "1"}]
        ran = cluster.rng.uniform(230, 330)
        died = _soon(cluster, ago(2.6 + 1.9 * index), 0)
        _crash_loop(cluster, pod, sidecar, restarts=16 - index, code=137, reason="OOMKilled", died=died, ran=ran,
                    since=ago(unreachable - 6.2))
        sidecar.lines += _collector_run(cluster, died - timedelta(seconds=ran), died)
        refused = ('traces export: context deadline exceeded: rpc error: code = Unavailable desc = connection error: '
                   'desc = "transport: Error while dialing: dial tcp 127.0.0.1:4317: connect: connection refused"')
        for moment in _every(cluster, ago(unreachable - 6.3), NOW, 60, 240):
            app.lines.append(_golog(moment, refused))
    running, waiting = pods
    sidecar = running.containers[1]
    restarted = _soon(cluster, ago(1.1), 0)
    sidecar.state, sidecar.ready, sidecar.restarts = {"running": {"startedAt": _ts(restarted)}}, True, 17
    sidecar.lines += _collector_run(cluster, restarted, NOW)
    running.containers[0].lines.append(_json(ago(211), "debug", "places upstream token refreshed",
                                             authorization=f"Bearer {secrets.bearer_token}"))
    cluster.ask(
        "otelsidecar-1", "itinerary-api keeps dropping out of its Service since about 09:46: its pods go unready, yet "
                         "the app's own logs look normal. Why?",
        "It is not the app container but the otel-collector sidecar in each pod: it is OOMKilled (exit code 137) every "
        "few minutes and then waits in CrashLoopBackOff ('Back-off restarting failed container otel-collector'). A pod "
        "is only Ready when all its containers are, so while the sidecar is down the pod leaves the Service's "
        "endpoints. The app only logs that it cannot export traces to 127.0.0.1:4317.",
        "otel-sidecar-oomkilled",
        Evidence(waiting.namespace, waiting.name, f"Back-off restarting failed container otel-collector in pod "
                                                  f"{waiting.name}"),
        facts=("OOMKilled", "otel-collector"),
    )
    cluster.ask(
        "otelsidecar-2", "Why does the collector sidecar in itinerary-api run out of memory?",
        "Its trace exporter (otlp/tempo, TEMPO_ENDPOINT tempo-distributor.observability.svc:4317) cannot reach Tempo: "
        "every export fails with 'Exporting failed. Will retry the request after interval.' (dial tcp "
        "10.96.71.38:4317: i/o timeout). The collector keeps the failed batches in memory for retry and has no "
        "memory_limiter, so it grows until it hits the pod's 256Mi memory limit and is killed. Fix the path to "
        "tempo-distributor, and add a memory_limiter (and a bounded sending_queue).",
        "otel-sidecar-oomkilled",
        Evidence(running.namespace, running.name, 'Exporting failed. Will retry the request after interval.\t'
                                                  '{"kind": "exporter", "data_type": "traces", "name": "otlp/tempo"'),
        Evidence(waiting.namespace, waiting.name, "tempo-distributor.observability.svc:4317"),
        facts=("tempo-distributor|otlp/tempo", "256Mi"),
    )


# ---------------------------------------------------------------- 9. Triton model version without its model file


_BUCKET = "s3://wayfarer-model-registry/reranker"
_SYNC_IMAGE = "docker.io/peakcom/s5cmd:v2.2.2"


def _model_sync(cluster: SampleCluster, secrets: FakeSecrets, start: datetime,
                files: tuple[str, ...]) -> SampleContainer:
    """The init container that copies the model repository from S3 (s5cmd sync prints one `cp` per object)."""
    sync = SampleContainer(spec=ContainerSpec("model-sync", _SYNC_IMAGE, "worker"), image=_SYNC_IMAGE,
                           state={"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": _ts(start),
                                                 "finishedAt": _ts(start + timedelta(seconds=14)),
                                                 "containerID": _container_id(cluster)}},
                           noise=False,
                           env=[{"name": "AWS_ACCESS_KEY_ID", "value": secrets.aws_access_key},
                                {"name": "AWS_SECRET_ACCESS_KEY", "value": secrets.aws_secret_key},
                                {"name": "AWS_REGION", "value": "us-east-1"}])
    sync.lines = [(start + timedelta(seconds=2 + index), f"cp {_BUCKET}/{name} /models/reranker/{name}")
                  for index, name in enumerate(files)]
    return sync


def _triton_log(start: datetime, version: int, missing: bool) -> list[tuple[datetime, str]]:
    """Triton 24.03 (server 2.44.0) loading the reranker: it serves the highest version in the repository."""
    model = f"/models/reranker/{version}/model.onnx"
    failure = f"Unavailable: unable to find '{model}' for model instance 'reranker'"
    steps = [
        (0.0, "I", "pinned_memory_manager.cc:275", "Pinned memory pool is created at '0x7f2c46000000' with size "
                                                   "268435456"),
        (0.0019, "I", "cuda_memory_manager.cc:107", "CUDA memory pool is created on device 0 with size 67108864"),
        (1.0377, "I", "model_lifecycle.cc:469", f"loading: reranker:{version}"),
        (1.0412, "I", "onnxruntime.cc:2608", "TRITONBACKEND_Initialize: onnxruntime"),
        (1.0533, "I", "onnxruntime.cc:2719", f"TRITONBACKEND_ModelInitialize: reranker (version {version})"),
    ]
    if missing:
        steps += [(1.0601, "E", "model_lifecycle.cc:638", f"failed to load 'reranker' version {version}: {failure}"),
                  (1.0603, "I", "model_lifecycle.cc:773", "failed to load 'reranker'")]
    else:
        steps += [(1.0872, "I", "onnxruntime.cc:2784", "TRITONBACKEND_ModelInstanceInitialize: reranker_0_0 (GPU "
                                                       "device 0)"),
                  (6.4129, "I", "model_lifecycle.cc:835", "successfully loaded 'reranker'")]
    table = start + timedelta(seconds=steps[-1][0] + 0.0004)
    lines = [_glog(start + timedelta(seconds=at), level, source, text) for at, level, source, text in steps]
    lines.append(_glog(table, "I", "server.cc:676", ""))
    lines += _block(table, _table([("Model", "Version", "Status"),
                                   ("reranker", str(version), f"UNAVAILABLE: {failure}" if missing else "READY")]))
    if missing:
        closing = [("server.cc:307", "Waiting for in-flight requests to complete."),
                   ("server.cc:323", "Timeout 30: Found 0 model versions that have in-flight inferences"),
                   ("server.cc:338", "All models are stopped, unloading models"),
                   ("server.cc:347", "Timeout 30: Found 0 live models and 0 in-flight non-inference requests")]
        ended = table + timedelta(milliseconds=3)
        return lines + [_glog(ended, "I", source, text) for source, text in closing] + [
            (ended, "error: creating server: Internal - failed to load all models")]
    listening = [("grpc_server.cc:2519", "Started GRPCInferenceService at 0.0.0.0:8001"),
                 ("http_server.cc:4637", "Started HTTPService at 0.0.0.0:8000"),
                 ("http_server.cc:320", "Started Metrics Service at 0.0.0.0:8002")]
    return lines + [_glog(table + timedelta(milliseconds=2 + index), "I", source, text)
                    for index, (source, text) in enumerate(listening)]


def triton_missing_model(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """The ranking pipeline published reranker version 4 at 11:05 with only its external weights (model.onnx_data),
    not model.onnx. The two reranker pods started at 06:40 serve version 3; the pod the HPA added at 11:12 synced
    version 4, which Triton picks as the latest, cannot load it and exits."""
    scaled, rotated = 48.0, 320.0
    old = cluster.pods_of("review-ranking", "reranker-triton")
    old_files, new_files = ("config.pbtxt", "3/model.onnx"), ("config.pbtxt", "3/model.onnx", "4/model.onnx_data")
    for index, pod in enumerate(old):
        pod.init_containers = [_model_sync(cluster, secrets, ago(rotated + index), old_files)]
        _pin(cluster, pod, A10G_NODE, rotated + index)
        pod.containers[0].noise = False
        pod.containers[0].lines += _triton_log(_soon(cluster, ago(rotated + index), 16), 3, False)
    (new,) = add_pods(cluster, old[0].workload, 1, node=A10G_NODE)
    _forget(cluster, new)
    new.owner, new.name = old[0].owner, f"{old[0].owner[1]}-{cluster.suffix()}"
    new.init_containers = [_model_sync(cluster, secrets, ago(scaled), new_files)]
    _pin(cluster, new, A10G_NODE, scaled)
    for pod in (*old, new):
        pod.resources = {"requests": {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "1"},
                         "limits": {"memory": "16Gi", "nvidia.com/gpu": "1"}}
    _rescale(cluster, "review-ranking", "reranker-triton", 3, "pods metric nv_inference_queue_duration_us above "
                                                              "target", ago(scaled + 0.02))
    triton = new.containers[0]
    died = _soon(cluster, ago(1.7), 0)
    _crash_loop(cluster, new, triton, restarts=12, code=1, reason="Error", died=died, ran=12,
                since=ago(scaled - 0.3))
    triton.lines += _triton_log(died - timedelta(seconds=12), 4, True)
    cluster.ask(
        "tritonrepo-1", "The reranker got a third pod at 11:12 and that pod has crash-looped ever since, while the two "
                        "older ones serve fine. Why?",
        "Triton on the new pod cannot load its model: 'failed to load 'reranker' version 4: Unavailable: unable to "
        "find '/models/reranker/4/model.onnx' for model instance 'reranker'', so it stops with 'error: creating "
        "server: Internal - failed to load all models' (exit code 1) and the pod crash-loops. Triton loads the highest "
        "version it finds in the model repository, and version 4 has no model.onnx.",
        "triton-model-version-missing-file",
        Evidence(new.namespace, new.name, "unable to find '/models/reranker/4/model.onnx'"),
        facts=("model.onnx", "version 4|reranker:4"),
    )
    cluster.ask(
        "tritonrepo-2", "What is different between the model the older reranker pods serve and what the new pod "
                        "downloaded?",
        f"The older pods synced the model repository at 06:40, when {_BUCKET} only had version 3, and loaded "
        "reranker version 3 (READY). The new pod's model-sync init container also copied a version 4 that appeared "
        "since, and it contains only 4/model.onnx_data (the external weights) with no 4/model.onnx. Upload the "
        "missing model.onnx, remove version 4, or pin the version policy to 3 in config.pbtxt.",
        "triton-model-version-missing-file",
        Evidence(new.namespace, new.name, f"cp {_BUCKET}/4/model.onnx_data /models/reranker/4/model.onnx_data"),
        Evidence(old[0].namespace, old[0].name, "TRITONBACKEND_ModelInitialize: reranker (version 3)"),
        facts=("model.onnx_data", "version 3|reranker:3"),
    )


# ---------------------------------------------------------------- 10. a ConfigMap over 1 MiB


_TOO_LONG = 'ConfigMap "rail-timetable" is invalid: []: Too long: must have at most 1048576 bytes'


def _import_attempt(cluster: SampleCluster, pod: SamplePod, start: datetime) -> datetime:
    """One run of the hourly import: builds the new timetable, then kubectl apply is refused. Returns its end."""
    log = pod.containers[0]
    log.env = [{"name": "FEED_URL", "value": "https://feeds.wayfarer.example/rail/gtfs/latest.zip"},
               {"name": "CONFIGMAP", "value": "rail-timetable/rail-timetable"}]
    moments = [start + timedelta(seconds=offset, milliseconds=cluster.rng.randint(0, 999))
               for offset in (1, 5, 10, 10, 11, 11)]
    log.lines += [
        _pylog(moments[0], "INFO", "timetable_import", "fetching https://feeds.wayfarer.example/rail/gtfs/latest.zip"),
        _pylog(moments[1], "INFO", "timetable_import", "feed v20260314.1 (spring timetable, valid from 2026-03-15, "
                                                       "published 2026-03-14T09:00:00Z), 41.2 MB"),
        _pylog(moments[2], "INFO", "timetable_import", "built timetable v20260314.1: 18412 trips, 1187340 bytes"),
        _pylog(moments[3], "INFO", "timetable_import", "applying configmap rail-timetable/rail-timetable "
                                                       "(kubectl apply --server-side)"),
        (moments[4], f"Error from server (Invalid): {_TOO_LONG}"),
        _pylog(moments[5], "ERROR", "timetable_import", "kubectl apply exited with status 1; configmap "
                                                        "rail-timetable left at its previous version"),
    ]
    end = moments[5] + timedelta(milliseconds=40)
    _terminated(cluster, pod, 1, "Error", start, end)
    return end


def configmap_too_large(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """The spring timetable published at 09:00 makes the timetable 1187340 bytes, over the 1 MiB a ConfigMap may hold;
    since 09:05 every hourly import's kubectl apply is refused, and journey-planner keeps serving the 08:05 data."""
    scheduled = 55.0
    job = f"timetable-import-{int(ago(scheduled).timestamp() // 60)}"
    attempts = add_pods(cluster, _IMPORT, 2, node="cpu-1")
    start = ago(scheduled)
    for pod in attempts:
        _forget(cluster, pod)
        pod.owner, pod.name = ("Job", job), f"{job}-{cluster.suffix()}"
        _pin(cluster, pod, pod.node, (NOW - start).total_seconds() / 60)
        _batch_event(cluster, "Job", pod.namespace, job, "SuccessfulCreate", f"Created pod: {pod.name}", start)
        start = _import_attempt(cluster, pod, _soon(cluster, start, 1)) + timedelta(seconds=10)
    _batch_event(cluster, "Job", "rail-timetable", job, "BackoffLimitExceeded",
                 "Job has reached the specified backoff limit", start, warning=True)
    cronjob = ("rail-timetable", "timetable-import")
    _batch_event(cluster, "CronJob", *cronjob, "SuccessfulCreate", f"Created job {job}", ago(scheduled))
    _batch_event(cluster, "CronJob", *cronjob, "SawCompletedJob", f"Saw completed job: {job}, status: Failed",
                 start + timedelta(seconds=1))
    previous = f"timetable-import-{int(ago(scheduled + 60).timestamp() // 60)}"
    _batch_event(cluster, "CronJob", *cronjob, "SuccessfulDelete", f"Deleted job {previous}",
                 start + timedelta(seconds=1))
    planners = cluster.pods_of("rail-timetable", "journey-planner")
    for pod in planners:
        app = pod.containers[0]
        app.noise = False
        app.env = [{"name": "TIMETABLE_PATH", "value": "/etc/timetable/timetable.json"}]
        for moment in _every(cluster, _since(pod) + timedelta(seconds=20), NOW, 290, 310):
            app.lines.append(_json(moment, "info", "timetable check", version="v20260313.2", trips=17104,
                                   changed=False))
        for moment in _every(cluster, _since(pod), NOW, 3, 40):
            app.lines.append(_json(moment, "info", "journey search", status=200,
                                   legs=cluster.rng.randint(1, 4), duration_ms=cluster.rng.randint(8, 160)))
    failed, planner = attempts[-1], planners[0]
    cluster.ask(
        "cmlimit-1", "journey-planner still shows the old timetable, although the spring timetable was published at "
                     "09:00 and should be live within the hour. Why hasn't it updated?",
        "The hourly timetable-import CronJob fails every time: it builds the new timetable but kubectl apply is "
        f"refused with '{_TOO_LONG}'. A ConfigMap can hold at most 1 MiB and the new timetable is bigger, so the "
        "ConfigMap keeps its previous version and journey-planner keeps serving it.",
        "timetable-configmap-too-large",
        Evidence(failed.namespace, failed.name, _TOO_LONG),
        Evidence("rail-timetable", "timetable-import", f"Saw completed job: {job}, status: Failed"),
        facts=("Too long|1048576", "timetable-import"),
    )
    cluster.ask(
        "cmlimit-2", "How big is the new timetable, and which timetable version is journey-planner still serving?",
        "The spring feed v20260314.1 builds to 1187340 bytes (18412 trips), above the 1048576-byte limit of a "
        "ConfigMap. journey-planner still serves v20260313.2 (17104 trips), the last one that fit. Ship the "
        "timetable another way (a volume, object storage, or split/compressed data) rather than one ConfigMap.",
        "timetable-configmap-too-large",
        Evidence(failed.namespace, failed.name, "built timetable v20260314.1: 18412 trips, 1187340 bytes"),
        Evidence(planner.namespace, planner.name, '"version": "v20260313.2"'),
        facts=("1187340", "v20260313.2"),
    )


def _plant_secrets(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """Credentials where real ones leak: an env var, a logged clone URL, a connection string."""
    renderer = cluster.pods_of("map-tiles", "tile-renderer")
    for pod in renderer:
        pod.containers[0].env = [{"name": "STATIC_MAPS_KEY", "value": secrets.google_api_key}]
    renderer[0].containers[0].lines.append(_json(ago(301), "info", "style repo synced", url=(
        f"https://oauth2:{secrets.github_token}@github.com/wayfarer-travel/map-styles.git"), rev="d41f0c2"))
    for pod in cluster.pods_of("rail-booking", "seat-inventory"):
        pod.containers[0].env = [{"name": "DATABASE_URL", "value": (
            f"postgresql://seats:{secrets.url_password}@seats-db.rail-booking.svc:5432/seats")}]


def apply_all(cluster: SampleCluster) -> None:
    """Move the generator's pods to where they ran before the incidents, then plant the ten incidents."""
    secrets = cluster.secrets
    _placement(cluster)
    _plant_secrets(cluster, secrets)
    hub_rate_limit(cluster, secrets)
    etcd_slow_disk(cluster, secrets)
    webhook_expired(cluster, secrets)
    gpu_thermal(cluster, secrets)
    redis_failover(cluster, secrets)
    nofile_limit(cluster, secrets)
    otel_sidecar(cluster, secrets)
    triton_missing_model(cluster, secrets)
    configmap_too_large(cluster, secrets)
    search_antiaffinity(cluster, secrets)
