"""The ember scenario: a tenth set of incidents, written blind for a held-out score of the on-call answers.

Selected with `build_cluster(scenario="ember")` / `kubetrainer samples cluster
--scenario ember`. Its theme is stateful services and application runtimes. It was
written blind: only the sample generator's own modules (not reserve.py) and their
tests (not test_reserve.py) were read; no diagnosis, answering, retrieval,
evaluation, training, investigation, serving or CLI code, benchmark or document was
opened or run against it, so nothing in it has been tuned against the tool.

Ten incidents, two questions each. Some causes sit in the failing pod's own log
(a V8 heap cap, TensorFlow without its CUDA libraries), some in Kubernetes events
(a StatefulSet scaled down, a Deployment scaled to zero, a sealed Vault's readiness
probe), some in an object's spec or status (a pod's env and limits, a node's GPU
labels) and several in another object than the one showing the symptom (the
Elasticsearch master, the MongoDB member, Patroni and its etcd, the RabbitMQ broker,
the Vault server, the ClickHouse server, the node). Messages are written the way the
component that prints them does: Elasticsearch 8's ECS JSON and the elasticsearch-py
bulk helper, mongod 7's structured JSON log and the Node.js driver under pino, etcd
3.5's zap JSON, Patroni and psycopg 3, RabbitMQ 3.13 and a Go amqp091 publisher,
Node 22's V8 out-of-memory report, Vault 1.15's hclog (server and agent) and the
`vault status` probe output, Helm 3.14, TensorFlow 2.15's C++ log lines, ClickHouse
24.3's server log and clickhouse-go, PyTorch 2.5 / transformers / accelerate and
uvicorn, the kubelet, the HPA and the Deployment, StatefulSet and Job controllers.

Each question names its evidence (object + verbatim phrase) and the facts a right
answer must state; every fact is written verbatim in that evidence.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from kubetrainer.samples.cluster import add_pods
from kubetrainer.samples.model import NOW, Evidence, SampleCluster, SampleContainer, SamplePod
from kubetrainer.samples.nodes import gpu_node, sample_nodes
from kubetrainer.samples.noise import iso
from kubetrainer.samples.secrets import FakeSecrets
from kubetrainer.samples.workloads import ContainerSpec, Workload

_REGISTRY = "registry.example.com"
STATEFUL_NODES = ("cpu-st-0", "cpu-st-1", "cpu-st-2")
L4_NODE = "gpu-l4-spot-0"
A100_NODE = "gpu-a100-inf-0"
A10G_NODE = "gpu-a10g-batch-0"
GPU_NODES = (L4_NODE, A100_NODE, A10G_NODE)
_PACKAGES = "/usr/local/lib/python3.11/site-packages"


def _app(namespace: str, name: str, kind: str, image: str, style: str, *, container: str = "app",
         replicas: int = 1, gpu_vendor: str | None = None, gpus: int = 0, port: int | None = None,
         weight: float = 1.0) -> Workload:
    return Workload(namespace, name, kind, (ContainerSpec(container, image, style, weight),), replicas, gpu_vendor,
                    gpus, port)


# Healthy first (the generator places each of these); the incidents then break some.
WORKLOADS: tuple[Workload, ...] = (
    _app("order-search", "orders-es", "StatefulSet", "docker.elastic.co/elasticsearch/elasticsearch:8.13.4", "worker",
         container="elasticsearch", replicas=3, port=9200, weight=0.2),
    _app("order-search", "order-indexer", "Deployment", f"{_REGISTRY}/order-search/order-indexer:3.2.1", "worker",
         replicas=2, weight=0.2),
    _app("order-search", "order-search-api", "Deployment", f"{_REGISTRY}/order-search/order-search-api:3.2.1",
         "json-api", replicas=2, port=8080, weight=1.5),
    _app("loyalty-points", "loyalty-mongo", "StatefulSet", "docker.io/library/mongo:7.0.12", "worker",
         container="mongod", port=27017, weight=0.2),
    _app("loyalty-points", "points-api", "Deployment", f"{_REGISTRY}/loyalty/points-api:6.4.0", "json-api",
         replicas=2, port=3000, weight=0.2),
    _app("fleet-telematics", "telematics-etcd", "StatefulSet", "docker.io/bitnami/etcd:3.5.12", "worker",
         container="etcd", replicas=3, port=2379, weight=0.2),
    _app("fleet-telematics", "telematics-pg", "StatefulSet", "ghcr.io/zalando/spilo-16:3.2-p3", "worker",
         container="postgres", replicas=2, port=5432, weight=0.2),
    _app("fleet-telematics", "trip-ingest", "Deployment", f"{_REGISTRY}/telematics/trip-ingest:1.17.0", "worker",
         replicas=2, weight=0.2),
    _app("card-settlement", "settlement-rabbitmq", "StatefulSet", "docker.io/library/rabbitmq:3.13.6-management",
         "worker", container="rabbitmq", port=5672, weight=0.2),
    _app("card-settlement", "clearing-publisher", "Deployment", f"{_REGISTRY}/settlement/clearing-publisher:2.9.4",
         "json-api", replicas=2, port=8080, weight=0.2),
    _app("report-exports", "report-renderer", "Deployment", f"{_REGISTRY}/reporting/report-renderer:4.1.3",
         "json-api", replicas=2, port=8080, weight=0.2),
    _app("report-exports", "report-scheduler", "Deployment", f"{_REGISTRY}/reporting/report-scheduler:4.1.3",
         "json-api", port=8080, weight=1.0),
    _app("vault", "vault", "StatefulSet", "docker.io/hashicorp/vault:1.15.6", "worker", container="vault", port=8200,
         weight=0.2),
    _app("merchant-payouts", "payout-api", "Deployment", f"{_REGISTRY}/payouts/payout-api:2.7.0", "json-api",
         replicas=3, port=8080, weight=2.0),
    _app("partner-sync", "partner-sync-api", "Deployment", f"{_REGISTRY}/partners/partner-sync-api:1.8.2",
         "json-api", replicas=2, port=8080, weight=1.5),
    _app("sensor-analytics", "metrics-clickhouse", "StatefulSet", "docker.io/clickhouse/clickhouse-server:24.3.5.46",
         "worker", container="clickhouse", port=9000, weight=0.2),
    _app("sensor-analytics", "sensor-ingest", "Deployment", f"{_REGISTRY}/sensor-analytics/sensor-ingest:2.3.2",
         "json-api", replicas=3, port=8080, weight=0.2),
)

# Placed by their incidents, not by the generator.
_RELEASE = _app("partner-sync", "partner-sync-release-1931", "Job", "docker.io/alpine/helm:3.14.4", "worker",
                container="helm", weight=0.05)
_CTR_TODAY = _app("ads-ranking", "ctr-dnn-train-20260314", "Job", f"{_REGISTRY}/ads-ranking/ctr-trainer:5.0.0",
                  "training", container="trainer", gpu_vendor="nvidia", gpus=1)
_CTR_YESTERDAY = _app("ads-ranking", "ctr-dnn-train-20260313", "Job", f"{_REGISTRY}/ads-ranking/ctr-trainer:4.9.1",
                      "training", container="trainer", gpu_vendor="nvidia", gpus=1)
_SUMMARIZER = _app("doc-assist", "contract-summarizer", "Deployment", f"{_REGISTRY}/doc-assist/contract-summarizer:1.3.0",
                   "json-api", replicas=2, gpu_vendor="nvidia", gpus=1, port=8000)
PLACED: tuple[Workload, ...] = (_RELEASE, _CTR_TODAY, _CTR_YESTERDAY, _SUMMARIZER)


def scenario_nodes() -> list[dict]:
    """The sample nodes plus a pool for the stateful services, a spot L4 node, an A100 inference node and an A10G
    batch node."""
    extra = []
    for name in STATEFUL_NODES:
        node = gpu_node(name, None, None, 0, cpu="8", memory="32386524Ki", instance_type="m6i.2xlarge",
                        zone=f"us-east-1{'abc'[STATEFUL_NODES.index(name)]}")
        node["metadata"]["labels"]["node-pool"] = "stateful"
        extra.append(node)
    l4 = gpu_node(L4_NODE, "nvidia", "nvidia-l4", 1, cpu="8", memory="32386524Ki", instance_type="g6.2xlarge",
                  zone="us-east-1b")
    l4["metadata"]["labels"] |= {"karpenter.sh/capacity-type": "spot", "karpenter.sh/nodepool": "gpu-inference"}
    a100 = gpu_node(A100_NODE, "nvidia", "NVIDIA-A100-SXM4-80GB", 8, cpu="96", memory="1148800680Ki",
                    instance_type="p4de.24xlarge")
    a100["metadata"]["labels"] |= {"karpenter.sh/capacity-type": "on-demand", "karpenter.sh/nodepool": "gpu-inference"}
    a10g = gpu_node(A10G_NODE, "nvidia", "a10g", 4, cpu="48", memory="195784732Ki", instance_type="g5.12xlarge")
    a10g["metadata"]["labels"]["node-pool"] = "gpu-batch"
    return sample_nodes() + extra + [l4, a100, a10g]


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
    """A multi-line entry (a traceback, a banner): every line at the same moment, so they stay together."""
    return [(moment, line) for line in lines]


def _pod_ip(pod: SamplePod) -> str:
    """The podIP `objects.pod_json` gives this pod."""
    return "10.244.%d.%d" % (len(pod.name) % 8, sum(map(ord, pod.name)) % 250 + 2)


def _hex(cluster: SampleCluster, digits: int) -> str:
    return f"{cluster.rng.getrandbits(4 * digits):0{digits}x}"


def _client_ip(cluster: SampleCluster) -> str:
    return f"10.244.{cluster.rng.randint(0, 7)}.{cluster.rng.randint(2, 250)}:{cluster.rng.randint(32768, 60999)}"


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
    if minutes is None:
        if (NOW - pod.start).total_seconds() < 3600:
            _startup(cluster, pod, pod.start)
        return
    pod.start = ago(minutes)
    for container in pod.containers:
        if "running" in container.state:
            container.state = {"running": {"startedAt": _ts(pod.start)}}
    if minutes < 60:
        _startup(cluster, pod, pod.start)


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
    cluster.events = [e for e in cluster.events if not (e["involvedObject"]["name"] == pod.name
                                                        and e["reason"] in ("Pulled", "Created", "Started"))]
    cluster.event(ref, "Pulled", f'Container image "{container.image}" already present on machine',
                  died - timedelta(seconds=ran + 1), count=restarts + 1, host=pod.node, first=since)
    cluster.event(ref, "Created", f"Created container {container.spec.name}", died - timedelta(seconds=ran + 1),
                  count=restarts + 1, host=pod.node, first=since)
    cluster.event(ref, "Started", f"Started container {container.spec.name}", died - timedelta(seconds=ran),
                  count=restarts + 1, host=pod.node, first=since)
    cluster.event(ref, "BackOff", (f"Back-off restarting failed container {container.spec.name} in pod "
                                   f"{pod.name}_{pod.namespace}({pod.uid})"),
                  died + timedelta(seconds=cluster.rng.uniform(20, 50)), warning=True,
                  count=restarts * 3 + cluster.rng.randint(0, 4), host=pod.node, first=since + timedelta(seconds=30))


def _terminated(cluster: SampleCluster, pod: SamplePod, code: int, reason: str, started: datetime,
                finished: datetime) -> None:
    """A finished run-to-completion pod (a Job's attempt)."""
    pod.phase = "Failed" if code else "Succeeded"
    for container in pod.containers:
        container.noise, container.ready = False, False
        container.state = {"terminated": {"exitCode": code, "reason": reason, "startedAt": _ts(started),
                                          "finishedAt": _ts(finished), "containerID": _container_id(cluster)}}


def _job_event(cluster: SampleCluster, job: str, namespace: str, reason: str, message: str, at: datetime,
               **options) -> None:
    event = cluster.event(("Job", namespace, job), reason, message, at, component="job-controller", **options)
    event["involvedObject"]["apiVersion"] = "batch/v1"


def _placement(cluster: SampleCluster) -> None:
    """Where things ran before the incidents: the scenario's GPU nodes carry only DaemonSets and the pods the
    incidents put there, and the stateful services sit on the stateful pool."""
    for pod in cluster.pods:
        if pod.workload.kind != "DaemonSet" and pod.node in GPU_NODES:
            _pin(cluster, pod, "gpu-a100-0")
    stateful = {"orders-es", "loyalty-mongo", "telematics-etcd", "telematics-pg", "settlement-rabbitmq", "vault",
                "metrics-clickhouse"}
    for pod in cluster.pods:
        if pod.workload.name in stateful:
            index = int(pod.name.rsplit("-", 1)[1])
            offset = sum(map(ord, pod.workload.name))
            _pin(cluster, pod, STATEFUL_NODES[(index + offset) % 3])
            pod.claims = [f"data-{pod.name}"]


# ---------------------------------------------------------------- line formats


def _pylog(moment: datetime, level: str, logger: str, message: str) -> tuple[datetime, str]:
    """Python logging's `%(asctime)s %(levelname)s %(name)s: %(message)s`."""
    return moment, f"{moment:%Y-%m-%d %H:%M:%S},{moment.microsecond // 1000:03d} {level} {logger}: {message}"


def _patroni(moment: datetime, level: str, message: str) -> tuple[datetime, str]:
    """Patroni's default `%(asctime)s %(levelname)s: %(message)s`."""
    return moment, f"{moment:%Y-%m-%d %H:%M:%S},{moment.microsecond // 1000:03d} {level}: {message}"


def _zap(moment: datetime, level: str, caller: str, message: str, **fields) -> tuple[datetime, str]:
    """zap's production JSON encoder (epoch-seconds ts)."""
    entry = {"level": level, "ts": round(moment.timestamp(), 6), "caller": caller, "msg": message, **fields}
    return moment, json.dumps(entry, separators=(",", ":"))


def _etcd(moment: datetime, level: str, caller: str, message: str, **fields) -> tuple[datetime, str]:
    """etcd 3.5's zap JSON (ISO-8601 ts with microseconds)."""
    entry = {"level": level, "ts": f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond:06d}Z", "caller": caller,
             "msg": message, **fields}
    return moment, json.dumps(entry, separators=(",", ":"))


def _pino(pod: SamplePod, moment: datetime, level: int, message: str, **fields) -> tuple[datetime, str]:
    """pino's default JSON line (level number, epoch milliseconds, pid, hostname, then the object and msg)."""
    entry = {"level": level, "time": int(moment.timestamp() * 1000), "pid": 1, "hostname": pod.name, **fields,
             "msg": message}
    return moment, json.dumps(entry, separators=(",", ":"))


def _es(moment: datetime, level: str, node: str, thread: str, logger: str, message: str, ids: dict[str, str],
        cluster_uuid: str) -> tuple[datetime, str]:
    """Elasticsearch 8's ECS JSON server log line, spacing as the server writes it."""
    stamp = f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"
    return moment, (
        f'{{"@timestamp":"{stamp}", "log.level": "{level}", "message":{json.dumps(message)}, '
        f'"ecs.version": "1.2.0","service.name":"ES_ECS","event.dataset":"elasticsearch.server",'
        f'"process.thread.name":"elasticsearch[{node}][{thread}]","log.logger":"{logger}",'
        f'"elasticsearch.cluster.uuid":"{cluster_uuid}","elasticsearch.node.id":"{ids[node]}",'
        f'"elasticsearch.node.name":"{node}","elasticsearch.cluster.name":"orders-search"}}')


def _mongo(moment: datetime, severity: str, component: str, log_id: int, ctx: str, message: str,
           attr: dict | None = None) -> tuple[datetime, str]:
    """mongod 7's structured log line, padded the way mongod pads it."""
    stamp = f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}+00:00"
    head = (f'{{"t":{{"$date":"{stamp}"}},"s":"{severity}",  "c":"{component}",{" " * max(1, 9 - len(component))}'
            f'"id":{log_id},{" " * max(1, 8 - len(str(log_id)))}"ctx":"{ctx}","msg":{json.dumps(message)}')
    tail = f',"attr":{json.dumps(attr, separators=(",", ":"))}}}' if attr is not None else "}"
    return moment, head + tail


def _rabbit(moment: datetime, level: str, process: str, message: str) -> list[tuple[datetime, str]]:
    """RabbitMQ 3.13's default console format; each line of a multi-line message gets the prefix."""
    head = f"{moment:%Y-%m-%d %H:%M:%S}.{moment.microsecond:06d}+00:00 [{level}] {process}"
    return [(moment, f"{head} {line}" if line else head) for line in message.split("\n")]


def _hclog(moment: datetime, level: str, name: str, message: str, *pairs: str) -> list[tuple[datetime, str]]:
    """go-hclog's text line; multi-line values go on their own `  | ` lines."""
    stamp = f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"
    lines = [f"{stamp} {'[' + level + ']':<8}{name}: {message}" if name else f"{stamp} {'[' + level + ']':<8}{message}"]
    return [(moment, line) for line in lines + list(pairs)]


def _clickhouse(moment: datetime, thread: int, query: str, level: str, message: str) -> tuple[datetime, str]:
    """ClickHouse's server log line (`<Level>` and the query id in braces)."""
    return moment, f"{moment:%Y.%m.%d %H:%M:%S}.{moment.microsecond:06d} [ {thread} ] {{{query}}} <{level}> {message}"


def _tf(moment: datetime, level: str, source: str, message: str) -> tuple[datetime, str]:
    """TensorFlow's C++ log line (absl-style, as TF 2.15 prints it to stderr)."""
    return moment, f"{moment:%Y-%m-%d %H:%M:%S}.{moment.microsecond:06d}: {level} {source}] {message}"


def _json(moment: datetime, level: str, message: str, **fields) -> tuple[datetime, str]:
    """A line in the json-api style (the apps' routine noise uses the same keys)."""
    return moment, json.dumps({"ts": iso(moment), "level": level, "msg": message, **fields})


# ---------------------------------------------------------------- 1. Elasticsearch flood-stage watermark


def es_flood_stage(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """orders-es-2's data volume passed 90% at 10:05 and 95% at 10:40: the elected master (orders-es-0) marks every
    index with a shard on it read-only-allow-delete, so the order indexer's bulk requests are refused with 429s."""
    high, flood = 115.0, 80.0
    es = sorted(cluster.pods_of("order-search", "orders-es"), key=lambda p: p.name)
    master, quiet, full = es
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
    ids = {pod.name: "".join(cluster.rng.choice(alphabet) for _ in range(22)) for pod in es}
    cluster_uuid = "".join(cluster.rng.choice(alphabet) for _ in range(22))
    data = "/usr/share/elasticsearch/data"
    monitor = "org.elasticsearch.cluster.routing.allocation.DiskThresholdMonitor"
    for pod in es:
        pod.resources = {"requests": {"cpu": "2", "memory": "8Gi"}, "limits": {"memory": "8Gi"}}
        node = pod.containers[0]
        node.noise = False
        node.env = [{"name": "ES_JAVA_OPTS", "value": "-Xms4g -Xmx4g"},
                    {"name": "cluster.name", "value": "orders-search"},
                    {"name": "discovery.seed_hosts", "value": "orders-es-headless"},
                    {"name": "AWS_ACCESS_KEY_ID", "value": secrets.aws_access_key},
                    {"name": "AWS_SECRET_ACCESS_KEY", "value": secrets.aws_secret_key}]
        for moment in _every(cluster, ago(359), NOW, 240, 900):
            node.lines.append(_es(moment, "INFO", pod.name, "scheduler][T#1",
                                  "org.elasticsearch.monitor.jvm.JvmGcMonitorService",
                                  f"[gc][{cluster.rng.randint(200000, 900000)}] overhead, spent "
                                  f"[{cluster.rng.randint(260, 480)}ms] collecting in the last [1s]", ids, cluster_uuid))
    chatter = master.containers[0]
    # A red herring: orders-es-1 has been over the low watermark all morning; that only stops new replicas there.
    for moment in _every(cluster, ago(300), NOW, 1700, 1900):
        free = cluster.rng.uniform(13.2, 14.6)
        chatter.lines.append(_es(moment, "INFO", master.name, "management][T#2", monitor,
                                 f"low disk watermark [85%] exceeded on [{ids[quiet.name]}][{quiet.name}][{data}] "
                                 f"free: {free:.1f}gb[{free:.1f}%], replicas will not be assigned to this node",
                                 ids, cluster_uuid))
    for moment in _every(cluster, ago(high), ago(flood), 30, 32):
        free = 9.8 - 5.0 * (moment - ago(high)).total_seconds() / ((high - flood) * 60)
        chatter.lines.append(_es(moment, "WARN", master.name, "management][T#2", monitor,
                                 f"high disk watermark [90%] exceeded on [{ids[full.name]}][{full.name}][{data}] "
                                 f"free: {free:.1f}gb[{free:.1f}%], shards will be relocated away from this node; "
                                 "currently relocating away shards totalling [0 bytes]; the node is expected to "
                                 "continue to exceed the high disk watermark when these relocations are complete",
                                 ids, cluster_uuid))
    for moment in _every(cluster, ago(flood), NOW, 30, 32):
        free = 4.8 - 0.6 * (moment - ago(flood)).total_seconds() / (flood * 60)
        chatter.lines.append(_es(moment, "WARN", master.name, "management][T#2", monitor,
                                 f"flood stage disk watermark [95%] exceeded on [{ids[full.name]}][{full.name}][{data}] "
                                 f"free: {free:.1f}gb[{free:.1f}%], all indices on this node will be marked read-only",
                                 ids, cluster_uuid))

    indexers = cluster.pods_of("order-search", "order-indexer")
    index = "orders-2026.03"
    for pod in indexers:
        app = pod.containers[0]
        app.noise = False
        app.env = [{"name": "ES_URL", "value": "http://orders-es.order-search.svc:9200"},
                   {"name": "BULK_SIZE", "value": "500"}]
        for moment in _every(cluster, max(pod.start, ago(359)), ago(flood) + timedelta(seconds=20), 20, 45):
            app.lines.append(_pylog(moment, "INFO", "order_indexer.sink",
                                    f"flushed 500 documents to {index} in {cluster.rng.randint(90, 320)}ms"))
        for moment in _every(cluster, _soon(cluster, ago(flood), 25), NOW, 20, 45):
            order = f"ORD-{cluster.rng.randint(10_000_000, 99_999_999)}"
            app.lines.append(_pylog(moment, "ERROR", "order_indexer.sink", (
                "bulk flush failed, 500 documents re-queued: 500 document(s) failed to index. first error: "
                f"{{'index': {{'_index': '{index}', '_id': '{order}', 'status': 429, 'error': {{'type': "
                f"'cluster_block_exception', 'reason': 'index [{index}] blocked by: [TOO_MANY_REQUESTS/12/disk usage "
                "exceeded flood-stage watermark, index has read-only-allow-delete block];'}}}")))
            if cluster.rng.random() < 0.3:
                app.lines.append(_pylog(moment + timedelta(milliseconds=3), "WARNING", "order_indexer.queue",
                                        f"backlog {cluster.rng.randint(8000, 90000)} documents, oldest "
                                        f"{int((moment - ago(flood)).total_seconds())}s"))
    writer = indexers[0]
    cluster.ask(
        "esflood-1", "Since about 10:40 the order indexer can't write anything to Elasticsearch, yet order search "
                     "still answers. What's going on?",
        "Elasticsearch has put a write block on the orders index: every bulk item comes back 429 "
        "cluster_block_exception 'disk usage exceeded flood-stage watermark, index has read-only-allow-delete block'. "
        "The master (orders-es-0) logs 'flood stage disk watermark [95%] exceeded' for orders-es-2 since 10:40, and "
        "indices with a shard on that node are made read-only (reads still work). Free disk on orders-es-2.",
        "es-flood-stage",
        Evidence(writer.namespace, writer.name, "disk usage exceeded flood-stage watermark, index has "
                                                "read-only-allow-delete block"),
        Evidence(master.namespace, master.name, "flood stage disk watermark [95%] exceeded on"),
        facts=("flood-stage|flood stage", "orders-es-2"),
    )
    cluster.ask(
        "esflood-2", "Which Elasticsearch node ran out of room, and will the write block go away on its own?",
        "orders-es-2: it went over the high disk watermark (90%) around 10:05, with nothing to relocate away, and "
        "over the 95% flood stage at 10:40 (about 4.5 GB free). Elasticsearch removes the read-only-allow-delete "
        "block by itself once the node drops back below the high disk watermark, so free space there: delete old "
        "order indices or grow the orders-es-2 volume (or add a data node). orders-es-1 is only over the low "
        "watermark, which just stops new replicas there.",
        "es-flood-stage",
        Evidence(master.namespace, master.name, "high disk watermark [90%] exceeded on"),
        facts=("orders-es-2", "high disk watermark|90%"),
    )


# ---------------------------------------------------------------- 2. MongoDB replica set without a primary


def mongo_no_primary(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """The loyalty-mongo StatefulSet was scaled from 3 to 1 at 11:08 to save cost, but the replica set config still
    has three voting members: loyalty-mongo-0 cannot see a majority, steps down and never elects itself again."""
    scaled = 52.0
    (mongo,) = cluster.pods_of("loyalty-points", "loyalty-mongo")
    db = mongo.containers[0]
    db.noise = False
    db.env = [{"name": "MONGO_INITDB_ROOT_USERNAME", "value": "root"},
              {"name": "MONGO_INITDB_ROOT_PASSWORD",
               "valueFrom": {"secretKeyRef": {"name": "loyalty-mongo", "key": "root-password"}}}]
    sts = ("StatefulSet", "loyalty-points", "loyalty-mongo")
    for ordinal, offset in ((2, 0.0), (1, 0.55)):
        cluster.event(sts, "SuccessfulDelete", f"delete Pod loyalty-mongo-{ordinal} in StatefulSet loyalty-mongo "
                                               "successful", ago(scaled - offset), component="statefulset-controller")
    domain = "loyalty-mongo-headless.loyalty-points.svc.cluster.local:27017"
    connection = 48_211
    for moment in _every(cluster, ago(359), ago(scaled), 40, 160):
        connection += 1
        db.lines.append(_mongo(moment, "I", "NETWORK", 22943, "listener", "Connection accepted", {
            "remote": _client_ip(cluster), "uuid": {"uuid": {"$uuid": cluster.uid()}}, "connectionId": connection,
            "connectionCount": cluster.rng.randint(38, 61)}))
        if cluster.rng.random() < 0.25:
            db.lines.append(_mongo(moment + timedelta(milliseconds=cluster.rng.randint(5, 900)), "I", "COMMAND", 51803,
                                   f"conn{connection - cluster.rng.randint(1, 400)}", "Slow query", {
                                       "type": "command", "ns": "loyalty.ledger", "command": {
                                           "aggregate": "ledger", "$db": "loyalty"},
                                       "planSummary": "IXSCAN { memberId: 1, ts: -1 }",
                                       "keysExamined": cluster.rng.randint(2000, 9000),
                                       "docsExamined": cluster.rng.randint(2000, 9000), "numYields": 3,
                                       "reslen": cluster.rng.randint(900, 40000), "protocol": "op_msg",
                                       "durationMillis": cluster.rng.randint(101, 240)}))
    gone = _soon(cluster, ago(scaled), 3)
    for ordinal in (2, 1):
        target = f"loyalty-mongo-{ordinal}.{domain}"
        moment = gone + timedelta(seconds=(2 - ordinal) * 33)
        error = {"code": 6, "codeName": "HostUnreachable",
                 "errmsg": f"Error connecting to {target} :: caused by :: Could not find address for {target}: "
                           "SocketException: Host not found (authoritative)"}
        db.lines.append(_mongo(moment, "I", "REPL_HB", 23974, "ReplCoord-3", "Heartbeat failed after max retries",
                               {"target": target, "maxHeartbeatRetries": 2, "error": error}))
        db.lines.append(_mongo(moment + timedelta(milliseconds=2), "I", "REPL", 21216, "ReplCoord-3",
                               "Member is now in state RS_DOWN", {"hostAndPort": target,
                                                                  "heartbeatMessage": error["errmsg"]}))
    stepped = gone + timedelta(seconds=43.6)
    db.lines += [
        _mongo(stepped, "I", "REPL", 21809, "ReplCoord-5", "Can't see a majority of the set, relinquishing primary"),
        _mongo(stepped + timedelta(milliseconds=1), "I", "REPL", 21475, "ReplCoord-5",
               "Stepping down from primary in response to heartbeat"),
        _mongo(stepped + timedelta(milliseconds=4), "I", "REPL", 21358, "ReplCoord-5", "Replica set state transition",
               {"newState": "SECONDARY", "oldState": "PRIMARY"}),
    ]
    for moment in _every(cluster, stepped + timedelta(seconds=10.4), NOW, 10.2, 11.8):
        db.lines.append(_mongo(moment, "I", "ELECTION", 4615655, "ReplCoord-2",
                               "Not starting an election, since we are not electable",
                               {"reason": "Not standing for election because I cannot see a majority (mask 0x1)"}))
        if cluster.rng.random() < 0.2:
            target = f"loyalty-mongo-{cluster.rng.choice((1, 2))}.{domain}"
            db.lines.append(_mongo(moment + timedelta(milliseconds=cluster.rng.randint(100, 900)), "I", "REPL_HB",
                                   23974, "ReplCoord-4", "Heartbeat failed after max retries", {
                                       "target": target, "maxHeartbeatRetries": 2, "error": {
                                           "code": 6, "codeName": "HostUnreachable",
                                           "errmsg": f"Error connecting to {target} :: caused by :: Could not find "
                                                     f"address for {target}: SocketException: Host not found "
                                                     "(authoritative)"}}))

    apis = cluster.pods_of("loyalty-points", "points-api")
    uri = (f"mongodb://points:{secrets.url_password}@loyalty-mongo-0.{domain},loyalty-mongo-1.{domain},"
           f"loyalty-mongo-2.{domain}/loyalty?replicaSet=rs0&authSource=admin")
    stack = ("MongoServerSelectionError: Server selection timed out after 30000 ms\n"
             "    at Timeout._onTimeout (/app/node_modules/mongodb/lib/sdam/topology.js:292:38)\n"
             "    at listOnTimeout (node:internal/timers:581:17)\n"
             "    at process.processTimers (node:internal/timers:519:7)")
    for pod in apis:
        app = pod.containers[0]
        app.noise = False
        app.env = [{"name": "MONGODB_URI", "value": uri}, {"name": "SERVICE_JWT", "value": secrets.jwt}]
        for moment in _every(cluster, max(pod.start, ago(359)), ago(scaled), 15, 60):
            route = cluster.rng.choice(("/v2/balance", "/v2/balance", "/v2/redeem", "/v2/earn"))
            method = "GET" if route == "/v2/balance" else "POST"
            app.lines.append(_pino(pod, moment, 30, "request completed", req={"method": method, "url": route},
                                   res={"statusCode": 200}, responseTime=cluster.rng.randint(4, 60)))
        for moment in _every(cluster, _soon(cluster, ago(scaled), 50), NOW, 25, 70):
            servers = {f"loyalty-mongo-{i}.{domain}": {"address": f"loyalty-mongo-{i}.{domain}",
                                                       "type": "RSSecondary" if i == 0 else "Unknown"}
                       for i in range(3)}
            app.lines.append(_pino(pod, moment, 50, "redeem failed", err={
                "type": "MongoServerSelectionError", "message": "Server selection timed out after 30000 ms",
                "stack": stack, "reason": {"type": "ReplicaSetNoPrimary", "servers": servers, "stale": False,
                                           "compatible": True, "heartbeatFrequencyMS": 10000,
                                           "localThresholdMS": 15, "setName": "rs0", "maxSetVersion": 3},
                "errorLabelSet": {}}, req={"method": "POST", "url": "/v2/redeem"}))
            app.lines.append(_pino(pod, moment + timedelta(milliseconds=2), 30, "request completed",
                                   req={"method": "POST", "url": "/v2/redeem"}, res={"statusCode": 503},
                                   responseTime=30000 + cluster.rng.randint(1, 40)))
    api = apis[0]
    cluster.ask(
        "mongo-1", "Points redemption has been failing with database timeouts for about the last hour. What broke?",
        "The loyalty MongoDB replica set has no primary. points-api's driver waits 30 s for a primary and gives up "
        "(MongoServerSelectionError, topology ReplicaSetNoPrimary). The only member left, loyalty-mongo-0, is "
        "SECONDARY and logs every ten seconds that it will not stand for election because it cannot see a majority "
        "of the set.",
        "mongo-no-primary",
        Evidence(api.namespace, api.name, "Server selection timed out after 30000 ms"),
        Evidence(mongo.namespace, mongo.name, "Not standing for election because I cannot see a majority"),
        facts=("ReplicaSetNoPrimary|no primary|SECONDARY", "majority"),
    )
    cluster.ask(
        "mongo-2", "Why is there no primary in the loyalty Mongo replica set, and how do we get one back?",
        "The loyalty-mongo StatefulSet was scaled down at 11:08: the controller deleted loyalty-mongo-2 and then "
        "loyalty-mongo-1, but the replica set still counts three voting members. loyalty-mongo-0 alone is one vote "
        "of three, so it stepped down ('Can't see a majority of the set, relinquishing primary') and cannot win an "
        "election. Scale the StatefulSet back to 3 replicas (or reconfigure the set to one member with force).",
        "mongo-no-primary",
        Evidence("loyalty-points", "loyalty-mongo", "delete Pod loyalty-mongo-1 in StatefulSet loyalty-mongo"),
        Evidence(mongo.namespace, mongo.name, "Can't see a majority of the set, relinquishing primary"),
        facts=("loyalty-mongo-1", "loyalty-mongo-2"),
    )


# ---------------------------------------------------------------- 3. Patroni's etcd out of space (NOSPACE)


def etcd_nospace(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """telematics-etcd runs without auto-compaction; its history reached the 2 GiB backend quota at 10:12 and the
    NOSPACE alarm refuses every write, so Patroni cannot renew its leader lock: telematics-pg-0 demoted itself and
    no member can take the lock, leaving Postgres read-only."""
    full = 108.0
    members = sorted(cluster.pods_of("fleet-telematics", "telematics-etcd"), key=lambda p: p.name)
    ids = {pod.name: _hex(cluster, 16) for pod in members}
    for pod in members:
        etcd = pod.containers[0]
        etcd.noise = False
        etcd.env = [{"name": "ETCD_NAME", "value": pod.name},
                    {"name": "ETCD_INITIAL_CLUSTER_STATE", "value": "existing"},
                    {"name": "ETCD_AUTO_COMPACTION_RETENTION", "value": "0"},
                    {"name": "ETCD_QUOTA_BACKEND_BYTES", "value": "2147483648"},
                    {"name": "ALLOW_NONE_AUTHENTICATION", "value": "yes"}]
        # A red herring: the odd slow fsync on the shared EBS volumes, all morning.
        for moment in _every(cluster, ago(350), NOW, 1500, 3600):
            etcd.lines.append(_etcd(moment, "warn", "wal/wal.go:805", "slow fdatasync",
                                    took=f"{cluster.rng.uniform(1.0, 1.6):.9f}s", **{"expected-duration": "1s"}))
    leader = members[0]
    raised = _soon(cluster, ago(full), 0)
    leader.containers[0].lines.append(_etcd(
        raised, "warn", "etcdserver/server.go:2085", "message exceeded backend quota; raising alarm",
        **{"quota-size-bytes": 2147483648, "quota-size": "2.1 GB", "error": "mvcc: database space exceeded"}))
    for pod in members:
        pod.containers[0].lines.append(_etcd(raised + timedelta(milliseconds=7 + 3 * members.index(pod)), "warn",
                                             "etcdserver/apply.go:822", "alarm raised", alarm="NOSPACE",
                                             **{"from": ids[leader.name]}))

    pg0, pg1 = sorted(cluster.pods_of("fleet-telematics", "telematics-pg"), key=lambda p: p.name)
    error = "<Unknown error: 'etcdserver: mvcc: database space exceeded', code: 2>"
    for pod in (pg0, pg1):
        postgres = pod.containers[0]
        postgres.noise = False
        postgres.env = [{"name": "SCOPE", "value": "telematics-pg"},
                        {"name": "ETCD3_HOSTS", "value": "'telematics-etcd-0.telematics-etcd-headless:2379',"
                                                         "'telematics-etcd-1.telematics-etcd-headless:2379',"
                                                         "'telematics-etcd-2.telematics-etcd-headless:2379'"},
                        {"name": "PGPASSWORD_SUPERUSER",
                         "valueFrom": {"secretKeyRef": {"name": "telematics-pg", "key": "superuser-password"}}}]
        before = (f"no action. I am ({pod.name}), the leader with the lock" if pod is pg0 else
                  f"no action. I am ({pod.name}), a secondary, and following a leader ({pg0.name})")
        for moment in _every(cluster, ago(359), raised, 29.5, 30.5):
            postgres.lines.append(_patroni(moment, "INFO", before))
    fail = _soon(cluster, raised, 4)
    packages = "/usr/local/lib/python3.10/dist-packages"
    pg0.containers[0].lines += _block(fail, [
        f"{fail:%Y-%m-%d %H:%M:%S},{fail.microsecond // 1000:03d} ERROR: ",
        "Traceback (most recent call last):",
        f'  File "{packages}/patroni/dcs/etcd.py", line 626, in handle_etcd_exceptions',
        "    retval = func(self, *args, **kwargs)",
        f'  File "{packages}/patroni/dcs/etcd3.py", line 826, in _update_leader',
        "    return self.retry(self._client.put, self.leader_path, self._name, self._lease)",
        f'  File "{packages}/patroni/dcs/etcd3.py", line 236, in call_rpc',
        "    return self.api_execute(self.version_prefix + method, self._MPOST, fields)",
        f'  File "{packages}/patroni/dcs/etcd.py", line 306, in api_execute',
        "    raise ex",
        f"patroni.dcs.etcd3.Unknown: {error}",
    ])
    pg0.containers[0].lines += [
        _patroni(fail + timedelta(milliseconds=2), "ERROR", "failed to update leader lock"),
        _patroni(fail + timedelta(milliseconds=40), "INFO", "Demoting self (immediate-nolock)"),
        _patroni(fail + timedelta(seconds=3.1), "INFO", "demoted self because failed to update leader lock in DCS"),
    ]
    for moment in _every(cluster, fail + timedelta(seconds=30), NOW, 29.5, 30.5):
        pg0.containers[0].lines += [
            _patroni(moment, "ERROR", error),
            _patroni(moment + timedelta(milliseconds=3), "INFO", "not promoting because failed to update leader lock "
                                                                 "in DCS"),
        ]
    for moment in _every(cluster, fail + timedelta(seconds=11), NOW, 29.5, 30.5):
        pg1.containers[0].lines += [
            _patroni(moment, "ERROR", error),
            _patroni(moment + timedelta(milliseconds=3), "INFO", "not promoting because failed to update leader lock "
                                                                 "in DCS"),
        ]

    ingest = cluster.pods_of("fleet-telematics", "trip-ingest")
    dsn = (f"postgresql://trip_ingest:{secrets.url_password}@telematics-pg-0.telematics-pg.fleet-telematics.svc:5432,"
           "telematics-pg-1.telematics-pg.fleet-telematics.svc:5432/trips?target_session_attrs=any")
    for pod in ingest:
        app = pod.containers[0]
        app.noise = False
        app.env = [{"name": "DATABASE_URL", "value": dsn}, {"name": "BATCH_SIZE", "value": "200"}]
        for moment in _every(cluster, max(pod.start, ago(359)), raised, 20, 50):
            app.lines.append(_pylog(moment, "INFO", "trip_ingest.writer",
                                    f"inserted {cluster.rng.randint(120, 200)} trip points "
                                    f"({cluster.rng.randint(8, 60)} vehicles) in {cluster.rng.randint(9, 80)}ms"))
        for moment in _every(cluster, _soon(cluster, fail, 6), NOW, 20, 50):
            app.lines.append(_pylog(moment, "ERROR", "trip_ingest.writer", "batch insert failed, retrying in 5s"))
            app.lines += _block(moment, [
                "Traceback (most recent call last):",
                '  File "/app/trip_ingest/writer.py", line 88, in flush',
                "    cur.executemany(INSERT_POINTS, rows)",
                f'  File "{_PACKAGES}/psycopg/cursor.py", line 757, in executemany',
                "    raise ex.with_traceback(None)",
                "psycopg.errors.ReadOnlySqlTransaction: cannot execute INSERT in a read-only transaction",
            ])
    cluster.ask(
        "patroni-1", "trip-ingest has failed every insert since about 10:12 with a read-only error. Did someone put "
                     "the telematics database into read-only mode?",
        "No one did; Patroni did. At 10:12 telematics-pg-0, the primary, could not renew its leader lock in etcd "
        "('failed to update leader lock') and demoted itself ('demoted self because failed to update leader lock in "
        "DCS'), so PostgreSQL now runs as a read-only standby and every INSERT fails with ReadOnlySqlTransaction. "
        "Neither member can take the lock again while etcd refuses writes.",
        "patroni-etcd-nospace",
        Evidence(ingest[0].namespace, ingest[0].name, "cannot execute INSERT in a read-only transaction"),
        Evidence(pg0.namespace, pg0.name, "demoted self because failed to update leader lock in DCS"),
        facts=("demoted|Demoting", "leader lock"),
    )
    cluster.ask(
        "patroni-2", "Why can't the telematics Postgres cluster get a leader back?",
        "Its DCS is full: at 10:12 telematics-etcd hit its backend quota (quota-size-bytes 2147483648, 2.1 GB) and "
        "raised the NOSPACE alarm ('mvcc: database space exceeded'), after which etcd rejects every write, including "
        "Patroni's leader-lock and member keys. It runs with ETCD_AUTO_COMPACTION_RETENTION=0, so old revisions were "
        "never compacted. Compact and defragment etcd, disarm the alarm, then turn on auto-compaction.",
        "patroni-etcd-nospace",
        Evidence(leader.namespace, leader.name, "message exceeded backend quota; raising alarm"),
        Evidence(pg1.namespace, pg1.name, "'etcdserver: mvcc: database space exceeded'"),
        facts=("database space exceeded|NOSPACE", "2147483648|2.1 GB"),
    )


# ---------------------------------------------------------------- 4. RabbitMQ memory alarm


def rabbit_memory_alarm(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """settlement-consumer was scaled to 0 at 11:02 for a maintenance and never scaled back; the settlement queue
    grew until RabbitMQ crossed its memory high watermark at 11:34, and the broker now blocks every publisher."""
    stopped, alarm = 58.0, 26.0
    (broker,) = cluster.pods_of("card-settlement", "settlement-rabbitmq")
    broker.resources = {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"memory": "2Gi"}}
    rabbit = broker.containers[0]
    rabbit.noise = False
    rabbit.env = [{"name": "RABBITMQ_DEFAULT_USER", "value": "clearing"},
                  {"name": "RABBITMQ_DEFAULT_PASS", "value": secrets.env_password},
                  {"name": "RABBITMQ_NODENAME",
                   "value": "rabbit@settlement-rabbitmq-0.settlement-rabbitmq-nodes.card-settlement"}]
    node_name = "rabbit@settlement-rabbitmq-0.settlement-rabbitmq-nodes.card-settlement"
    ip = _pod_ip(broker)
    for moment in _every(cluster, ago(358), NOW, 300, 1400):
        process = f"<0.{cluster.rng.randint(900, 40000)}.0>"
        peer = _client_ip(cluster)
        if cluster.rng.random() < 0.5:
            rabbit.lines += _rabbit(moment, "info", process, f"accepting AMQP connection {peer} -> {ip}:5672")
            rabbit.lines += _rabbit(moment + timedelta(milliseconds=4), "info", process,
                                    f"connection {peer} -> {ip}:5672: user 'clearing' authenticated and granted "
                                    "access to vhost '/'")
        else:  # a red herring: clients that go away without closing
            rabbit.lines += _rabbit(moment, "warning", process, (
                f"closing AMQP connection {process} ({peer} -> {ip}:5672, vhost: '/', user: 'clearing'):\n"
                "client unexpectedly closed TCP connection"))
    crossed = _soon(cluster, ago(alarm), 0)
    rabbit.lines += _rabbit(crossed, "info", "<0.486.0>", "vm_memory_high_watermark set. Memory used:858996736 "
                                                          "allowed:858993459")
    rabbit.lines += _rabbit(crossed + timedelta(microseconds=311), "warning", "<0.486.0>", (
        f"memory resource limit alarm set on node '{node_name}'.\n\n"
        "**********************************************************\n"
        "*** Publishers will be blocked until this alarm clears ***\n"
        "**********************************************************"))
    cluster.event(("Deployment", "card-settlement", "settlement-consumer"), "ScalingReplicaSet",
                  "Scaled down replica set settlement-consumer-6d8f7b9c4d to 0 from 3", ago(stopped),
                  component="deployment-controller")

    publishers = cluster.pods_of("card-settlement", "clearing-publisher")
    for pod in publishers:
        app = pod.containers[0]
        app.noise = False
        app.env = [{"name": "AMQP_URL",
                    "value": f"amqp://clearing:{secrets.env_password}@settlement-rabbitmq.card-settlement.svc:5672/"},
                   {"name": "PUBLISH_TIMEOUT", "value": "5s"}]
        for moment in _every(cluster, max(pod.start, ago(359)), crossed, 20, 70):
            app.lines.append(_zap(moment, "info", "api/settle.go:61", "settlement published",
                                  exchange="clearing", routing_key="payout.settled",
                                  batch=cluster.rng.randint(20, 400), duration_ms=cluster.rng.randint(2, 30)))
        blocked = crossed + timedelta(milliseconds=cluster.rng.randint(3, 40))
        app.lines.append(_zap(blocked, "warn", "amqp/conn.go:112", "connection blocked by broker",
                              reason="low on memory"))
        for moment in _every(cluster, blocked + timedelta(seconds=5), NOW, 15, 50):
            app.lines.append(_zap(moment, "error", "api/settle.go:74", "publish failed", exchange="clearing",
                                  routing_key="payout.settled", error="context deadline exceeded", timeout="5s"))
            app.lines.append(_zap(moment + timedelta(milliseconds=1), "info", "api/middleware.go:40",
                                  "request", method="POST", route="/v1/settlements", status=503,
                                  latency_ms=5000 + cluster.rng.randint(1, 9)))
    pub = publishers[0]
    cluster.ask(
        "rmq-1", "Since 11:34 every settle call on clearing-publisher hangs for five seconds and then returns 503. "
                 "What's wrong?",
        "RabbitMQ is refusing publishes: settlement-rabbitmq-0 crossed its memory high watermark at 11:34 ('memory "
        "resource limit alarm set', 'Publishers will be blocked until this alarm clears'), and the broker blocked "
        "clearing-publisher's connection ('connection blocked by broker', reason 'low on memory'). Each publish "
        "then waits out its 5s timeout.",
        "rabbitmq-memory-alarm",
        Evidence(pub.namespace, pub.name, "connection blocked by broker"),
        Evidence(broker.namespace, broker.name, "memory resource limit alarm set on node"),
        facts=("memory", "blocked"),
    )
    cluster.ask(
        "rmq-2", "Why did the settlement RabbitMQ run out of memory this morning?",
        "Nothing has been consuming: the settlement-consumer Deployment was scaled down to 0 from 3 at 11:02 and "
        "never scaled back, so settlement messages piled up in the broker until its memory use passed the "
        "watermark at 11:34 (vm_memory_high_watermark: used 858996736 of 858993459 allowed, 40% of the 2Gi limit). "
        "Scale settlement-consumer back up; the alarm clears as the queue drains.",
        "rabbitmq-memory-alarm",
        Evidence("card-settlement", "settlement-consumer", "to 0 from 3"),
        Evidence(broker.namespace, broker.name, "vm_memory_high_watermark set. Memory used:"),
        facts=("settlement-consumer", "0 from 3|to 0"),
    )


# ---------------------------------------------------------------- 5. Node.js heap capped below the container limit


def _node_oom(cluster: SampleCluster, died: datetime, uptime_ms: int) -> list[str]:
    """V8's out-of-memory report as Node 22 prints it to stderr before aborting."""
    before = uptime_ms - cluster.rng.randint(700, 1200)
    frames = [
        "node::OOMErrorHandler(char const*, v8::OOMDetails const&) [node]",
        "v8::Utils::ReportOOMFailure(v8::internal::Isolate*, char const*, v8::OOMDetails const&) [node]",
        "v8::internal::V8::FatalProcessOutOfMemory(v8::internal::Isolate*, char const*, v8::OOMDetails const&) "
        "[node]",
        " [node]",
        "v8::internal::Heap::RecomputeLimits(v8::internal::GarbageCollector) [node]",
        "v8::internal::Heap::PerformGarbageCollection(v8::internal::GarbageCollector, "
        "v8::internal::GarbageCollectionReason, char const*) [node]",
        "v8::internal::Heap::CollectGarbage(v8::internal::AllocationSpace, v8::internal::GarbageCollectionReason, "
        "v8::GCCallbackFlags) [node]",
        "v8::internal::HeapAllocator::AllocateRawWithLightRetrySlowPath(int, v8::internal::AllocationType, "
        "v8::internal::AllocationOrigin, v8::internal::AllocationAlignment) [node]",
        "v8::internal::Factory::NewFillerObject(int, v8::internal::AllocationAlignment, "
        "v8::internal::AllocationType, v8::internal::AllocationOrigin) [node]",
        "v8::internal::Runtime_AllocateInYoungGeneration(int, unsigned long*, v8::internal::Isolate*) [node]",
    ]
    address = 0xB8C000
    stack = []
    for index, frame in enumerate(frames, 1):
        address += cluster.rng.randint(0x1000, 0x90000)
        stack.append(f"{index:>2}: 0x{address:x} {frame}")
    stack.append(f"{len(frames) + 1:>2}: 0x7f{_hex(cluster, 10)} ")
    isolate = f"0x{_hex(cluster, 7)}"
    return [
        "",
        "<--- Last few GCs --->",
        "",
        f"[1:{isolate}]   {before} ms: Mark-Compact (reduce) 253.8 (258.4) -> 253.1 (258.9) MB, "
        "pooled: 0 MB, 412.33 / 0.00 ms  (+ 0.1 ms in 4 steps since start of marking, biggest step 0.1 ms, "
        "walltime since start of marking 418 ms) (average mu = 0.182, current mu = 0.022) allocation failure; "
        "scavenge might not succeed",
        f"[1:{isolate}]   {uptime_ms} ms: Mark-Compact 254.0 (258.9) -> 253.6 (259.4) MB, pooled: 0 MB, "
        "741.03 / 0.00 ms  (average mu = 0.098, current mu = 0.008) allocation failure; scavenge might not succeed",
        "",
        "",
        "<--- JS stacktrace --->",
        "",
        "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
        "----- Native stack trace -----",
        "",
        *stack,
    ]


def node_heap_limit(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """report-renderer 4.2.0 (10:30) ships NODE_OPTIONS=--max-old-space-size=256 in a 2Gi container: the first
    big export on each start fills V8's 256 MB old space and Node aborts (SIGABRT, exit 134), long before the
    container's memory limit."""
    rolled = 90.0
    renderers = cluster.pods_of("report-exports", "report-renderer")
    image = f"{_REGISTRY}/reporting/report-renderer:4.2.0"
    owner = f"report-renderer-{cluster.suffix(10)}"
    for index, pod in enumerate(renderers):
        _forget(cluster, pod)
        pod.owner = ("ReplicaSet", owner)
        pod.name = f"{owner}-{cluster.suffix()}"
        _pin(cluster, pod, pod.node, rolled - 0.3 * index)
        pod.resources = {"requests": {"cpu": "500m", "memory": "2Gi"}, "limits": {"memory": "2Gi"}}
        app = pod.containers[0]
        app.image = image
        app.env = [{"name": "NODE_ENV", "value": "production"},
                   {"name": "NODE_OPTIONS", "value": "--max-old-space-size=256"},
                   {"name": "EXPORT_BUCKET", "value": "s3://acme-report-exports"},
                   {"name": "SLACK_WEBHOOK_URL", "value": secrets.slack_webhook}]
        ran = cluster.rng.uniform(34, 48)
        died = _soon(cluster, ago(1.5 + 1.7 * index), 0)
        _crash_loop(cluster, pod, app, restarts=19 - index, code=134, reason="Error", died=died, ran=ran,
                    since=ago(rolled - 0.5 - 0.3 * index))
        start = died - timedelta(seconds=ran)
        job = f"exp_{_hex(cluster, 12)}"
        app.lines += [
            _pino(pod, start + timedelta(milliseconds=420), 30, "report-renderer listening", port=8080,
                  version="4.2.0", node="v22.4.1"),
            _pino(pod, start + timedelta(seconds=1.2), 30, "resuming queued export", jobId=job,
                  report="ledger-transactions", format="xlsx", rows=1842113),
            _pino(pod, start + timedelta(seconds=16.4), 30, "export progress", jobId=job, rowsWritten=250000),
            _pino(pod, start + timedelta(seconds=29.9), 30, "export progress", jobId=job, rowsWritten=500000),
        ]
        app.lines += _block(died, _node_oom(cluster, died, int(ran * 1000) - cluster.rng.randint(20, 200)))

    (scheduler,) = cluster.pods_of("report-exports", "report-scheduler")
    sched = scheduler.containers[0]
    sched.env = [{"name": "NODE_ENV", "value": "production"}]
    first = max(scheduler.start, ago(359))
    # Red herrings: a deprecation warning at start-up and a listener warning that sounds like a leak.
    sched.lines += _block(first + timedelta(seconds=1), [
        "(node:1) [DEP0040] DeprecationWarning: The `punycode` module is deprecated. Please use a userland "
        "alternative instead.",
        "(Use `node --trace-deprecation ...` to show where the warning was created)",
    ])
    sched.lines.append((first + timedelta(minutes=47), "(node:1) MaxListenersExceededWarning: Possible EventEmitter "
                                                       "memory leak detected. 11 error listeners added to [TLSSocket]. "
                                                       "Use emitter.setMaxListeners() to increase limit"))
    broken, other = renderers
    cluster.ask(
        "nodeheap-1", "report-renderer has been restarting since the 10:30 release with exit code 134. What is "
                      "killing it?",
        "Node itself aborts: a few seconds into the export it resumes on start-up, V8 runs out of JavaScript heap "
        "('FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory', old space stuck at "
        "about 254 MB) and Node calls abort(), hence 134 (SIGABRT), not an OOM kill. The 4.2.0 pods cap the heap "
        "with NODE_OPTIONS=--max-old-space-size=256.",
        "node-heap-limit",
        Evidence(broken.namespace, broken.name, "Reached heap limit Allocation failed - JavaScript heap out of memory"),
        facts=("heap", "max-old-space-size=256"),
    )
    cluster.ask(
        "nodeheap-2", "Would giving report-renderer a bigger memory limit stop the crashes?",
        "No. The container already has a 2Gi limit and is never OOMKilled; the heap is capped far lower by "
        "NODE_OPTIONS=--max-old-space-size=256 (the last GCs show about 254 MB of 259 MB in use before the abort). "
        "Raise --max-old-space-size to fit the limit (e.g. 1536) or drop the flag, and stream the export instead of "
        "holding 1.8 million rows in memory.",
        "node-heap-limit",
        Evidence(other.namespace, other.name, "--max-old-space-size=256"),
        Evidence(broken.namespace, broken.name, "Mark-Compact 254.0 (258.9) -> 253.6 (259.4) MB"),
        facts=("max-old-space-size", "2Gi"),
    )


# ---------------------------------------------------------------- 6. Vault sealed after a restart


_VAULT_STATUS = "\n".join([
    "Key                Value",
    "---                -----",
    "Seal Type          shamir",
    "Initialized        true",
    "Sealed             true",
    "Total Shares       5",
    "Threshold          3",
    "Unseal Progress    0/3",
    "Unseal Nonce       n/a",
    "Version            1.15.6",
    "Build Date         2024-02-28T17:07:34Z",
    "Storage Type       raft",
    "HA Enabled         true",
])


def vault_sealed(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """vault-0 (standalone, Shamir seal, raft storage) was recreated at 10:58 and nobody unsealed it; the 11:15
    payout-api rollout's new pod sits in its vault-agent-init container, which gets 503 'Vault is sealed'."""
    restarted, rolled = 62.0, 45.0
    (server,) = cluster.pods_of("vault", "vault")
    _pin(cluster, server, server.node, restarted)
    vault = server.containers[0]
    vault.noise, vault.ready = False, False
    vault.env = [{"name": "VAULT_ADDR", "value": "http://127.0.0.1:8200"},
                 {"name": "VAULT_API_ADDR", "value": f"http://{_pod_ip(server)}:8200"},
                 {"name": "VAULT_CLUSTER_ADDR", "value": "https://vault-0.vault-internal:8201"},
                 {"name": "SKIP_SETCAP", "value": "true"}]
    boot = _soon(cluster, ago(restarted), 2)
    vault.lines += _block(boot, [
        "==> Vault server configuration:",
        "",
        "Administrative Namespace: ",
        f"             Api Address: http://{_pod_ip(server)}:8200",
        "                     Cgo: disabled",
        "         Cluster Address: https://vault-0.vault-internal:8201",
        "   Environment Variables: HOME, HOSTNAME, KUBERNETES_PORT, PATH, SKIP_SETCAP, VAULT_ADDR, VAULT_API_ADDR, "
        "VAULT_CLUSTER_ADDR, VAULT_K8S_NAMESPACE, VAULT_K8S_POD_NAME, VERSION",
        "              Go Version: go1.21.7",
        '              Listener 1: tcp (addr: "[::]:8200", cluster address: "[::]:8201", max_request_duration: '
        '"1m30s", max_request_size: "33554432", tls: "disabled")',
        "               Log Level: ",
        "                   Mlock: supported: true, enabled: false",
        "           Recovery Mode: false",
        "                 Storage: raft (HA available)",
        "                 Version: Vault v1.15.6, built 2024-02-28T17:07:34Z",
        "             Version Sha: 615cf6f1dce9aa91bc2035ce33b9f689952218f0",
        "",
        "==> Vault server started! Log data will stream in below:",
        "",
    ])
    vault.lines += _hclog(boot + timedelta(milliseconds=4), "INFO", "",
                          'proxy environment: http_proxy="" https_proxy="" no_proxy=""')
    vault.lines += _hclog(boot + timedelta(milliseconds=9), "INFO", "", "incrementing seal generation: generation=1")
    # A red herring: the raft database's file mode on the volume (fsGroup), harmless.
    vault.lines += _hclog(boot + timedelta(milliseconds=12), "WARN", "storage.raft.fsm",
                          "raft FSM db file has wider permissions than needed: needed=-rw------- "
                          "existing=-rw-rw----")
    vault.lines += _hclog(boot + timedelta(milliseconds=131), "INFO", "core",
                          "Initializing version history cache for core")
    vault.lines += _hclog(boot + timedelta(milliseconds=132), "INFO", "events", "Starting event system")
    cluster.event(("Pod", "vault", server.name), "Unhealthy", f"Readiness probe failed: {_VAULT_STATUS}", ago(0.05),
                  warning=True, count=744, host=server.node, first=ago(restarted - 0.2))

    payouts = cluster.pods_of("merchant-payouts", "payout-api")
    workload = payouts[0].workload
    (new,) = add_pods(cluster, workload, 1, node=payouts[0].node, image=f"{_REGISTRY}/payouts/payout-api:2.8.0")
    _forget(cluster, new)
    new.start, new.phase = ago(rolled), "Pending"
    new.conditions = {"Initialized": "False", "ContainersReady": "False", "Ready": "False"}
    app = new.containers[0]
    app.state, app.ready, app.noise = {"waiting": {"reason": "PodInitializing"}}, False, False
    agent_image = "docker.io/hashicorp/vault:1.15.6"
    agent = SampleContainer(
        spec=ContainerSpec("vault-agent-init", agent_image, "worker"), image=agent_image,
        state={"running": {"startedAt": _ts(ago(rolled - 0.05))}}, ready=False, noise=False,
        env=[{"name": "VAULT_ADDR", "value": "http://vault.vault.svc:8200"},
             {"name": "VAULT_CONFIG", "value": "eyJhdXRvX2F1dGgiOnsibWV0aG9kIjp7InR5cGUiOiJrdWJlcm5ldGVzIn19fQ=="}])
    new.init_containers = [agent]
    ref = ("Pod", new.namespace, new.name)
    cluster.event(ref, "Scheduled", f"Successfully assigned {new.namespace}/{new.name} to {new.node}", ago(rolled),
                  component="default-scheduler")
    cluster.event(ref, "Pulled", f'Container image "{agent_image}" already present on machine', ago(rolled - 0.04),
                  host=new.node)
    cluster.event(ref, "Created", "Created container vault-agent-init", ago(rolled - 0.04), host=new.node)
    cluster.event(ref, "Started", "Started container vault-agent-init", ago(rolled - 0.05), host=new.node)
    cluster.event(("Deployment", "merchant-payouts", "payout-api"), "ScalingReplicaSet",
                  f"Scaled up replica set {new.owner[1]} to 1", ago(rolled + 0.01), component="deployment-controller")
    start = _soon(cluster, ago(rolled - 0.05), 0)
    agent.lines += _block(start, [
        "==> Vault Agent started! Log data will stream in below:",
        "",
        "==> Vault Agent configuration:",
        "",
        "           Api Address 1: http://bufconn",
        "                     Cgo: disabled",
        "               Log Level: info",
        "                 Version: Vault v1.15.6, built 2024-02-28T17:07:34Z",
        "             Version Sha: 615cf6f1dce9aa91bc2035ce33b9f689952218f0",
        "",
    ])
    for offset, name, message in ((3, "agent.sink.file", "creating file sink"),
                                  (3, "agent.sink.file", "file sink configured: path=/home/vault/.vault-token "
                                                         "mode=-rw-r-----"),
                                  (4, "agent.template.server", "starting template server"),
                                  (4, "agent.auth.handler", "starting auth handler"),
                                  (4, "agent.auth.handler", "authenticating"),
                                  (5, "agent.sink.server", "starting sink server")):
        agent.lines += _hclog(start + timedelta(milliseconds=offset), "INFO", name, message)
    moment, backoff = start + timedelta(milliseconds=21), 1.0
    while moment < NOW:
        shown = f"{backoff:.2f}".rstrip("0").rstrip(".") + "s"
        agent.lines += _hclog(moment, "ERROR", "agent.auth.handler", "error authenticating:",
                              "  error=",
                              "  | Error making API request.",
                              "  | ",
                              "  | URL: PUT http://vault.vault.svc:8200/v1/auth/kubernetes/login",
                              "  | Code: 503. Errors:",
                              "  | ",
                              "  | * Vault is sealed",
                              f"   backoff={shown}")
        moment += timedelta(seconds=backoff, milliseconds=cluster.rng.randint(3, 40))
        backoff = min(backoff * cluster.rng.uniform(1.5, 2.0), 300.0)
        if moment < NOW:
            agent.lines += _hclog(moment, "INFO", "agent.auth.handler", "authenticating")
    for pod in payouts:
        pod.containers[0].env = [{"name": "SECRETS_FILE", "value": "/vault/secrets/payout-api.env"}]
    payouts[0].containers[0].lines.append(_json(ago(200), "debug", "upstream auth refreshed",
                                                authorization=f"Bearer {secrets.bearer_token}"))
    cluster.ask(
        "vault-1", "The new payout-api pod from the 11:15 rollout never gets past initialising. What is it waiting "
                   "for?",
        "Its vault-agent-init init container cannot log in to Vault: every Kubernetes-auth login gets 'Code: 503. "
        "Errors: * Vault is sealed' and it retries with growing back-off, so the app container never starts "
        "(Init:0/1). The old 2.7.0 pods keep running on the secrets they fetched earlier. Unseal Vault.",
        "vault-sealed",
        Evidence(new.namespace, new.name, "* Vault is sealed"),
        Evidence(server.namespace, server.name, "Sealed             true"),
        facts=("sealed", "503"),
    )
    cluster.ask(
        "vault-2", "vault-0 has not been ready since it came back at 10:58. What does it need?",
        "To be unsealed. It restarted at 10:58 and, with a Shamir seal (no auto-unseal), comes up sealed: its "
        "readiness probe ('vault status') reports Sealed true, Unseal Progress 0/3. Three of the five key holders must "
        "run 'vault operator unseal'; configure auto-unseal (KMS/transit) to stop this after every restart.",
        "vault-sealed",
        Evidence(server.namespace, server.name, "Unseal Progress    0/3"),
        facts=("shamir", "0/3|Threshold"),
    )


# ---------------------------------------------------------------- 7. A CRD missing for a Helm release


def crd_missing(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """The partner-sync 1.9.0 release job turns on the chart's ServiceMonitor, but this cluster's Prometheus is not
    run by the Prometheus Operator, so the monitoring.coreos.com CRDs do not exist: Helm refuses the upgrade."""
    began = 55.0
    job = _RELEASE.name
    apis = cluster.pods_of("partner-sync", "partner-sync-api")
    pods = add_pods(cluster, _RELEASE, 3, node=apis[0].node)
    attempts = (began, began - 0.42, began - 1.1)
    chart = "oci://ghcr.io/acme-partners/charts/partner-sync"
    for attempt, (pod, minutes) in enumerate(zip(pods, attempts)):
        _forget(cluster, pod)
        pod.node = apis[attempt % len(apis)].node
        pod.start = ago(minutes)
        helm = pod.containers[0]
        helm.env = [{"name": "CHART", "value": chart}, {"name": "CHART_VERSION", "value": "1.9.0"},
                    {"name": "HELM_EXTRA_ARGS", "value": "--set metrics.serviceMonitor.enabled=true --atomic=false"},
                    {"name": "GITHUB_TOKEN", "value": secrets.github_token}]
        _startup(cluster, pod, pod.start)
        cluster.event(("Job", "partner-sync", job), "SuccessfulCreate", f"Created pod: {pod.name}", pod.start,
                      component="job-controller")["involvedObject"]["apiVersion"] = "batch/v1"
        start = _soon(cluster, pod.start, 2)
        helm.lines += [
            (start, "Login Succeeded"),
            (start + timedelta(seconds=1.4), "Pulled: ghcr.io/acme-partners/charts/partner-sync:1.9.0"),
            (start + timedelta(seconds=1.4), f"Digest: sha256:{_hex(cluster, 64)}"),
            # A red herring: Helm's value-merge warning, harmless.
            (start + timedelta(seconds=1.9), "coalesce.go:289: warning: cannot overwrite table with non table for "
                                             "partner-sync.podAnnotations (map[])"),
            (start + timedelta(seconds=3.2), "Error: UPGRADE FAILED: unable to build kubernetes objects from new "
                                             'release manifest: resource mapping not found for name: "partner-sync" '
                                             'namespace: "partner-sync" from "": no matches for kind '
                                             '"ServiceMonitor" in version "monitoring.coreos.com/v1"'),
            (start + timedelta(seconds=3.2), "ensure CRDs are installed first"),
        ]
        _terminated(cluster, pod, 1, "Error", start - timedelta(seconds=1), start + timedelta(seconds=3.3))
    _job_event(cluster, job, "partner-sync", "BackoffLimitExceeded", "Job has reached the specified backoff limit",
               ago(began - 1.2), warning=True)
    for pod in apis:
        pod.containers[0].env = [{"name": "PARTNER_FEED_URL", "value": "https://feeds.partners.example.net/v3"}]
    last = pods[-1]
    cluster.ask(
        "crd-1", "The partner-sync release job failed three times in a row at 11:05. Why?",
        "Helm cannot even render the upgrade: 'UPGRADE FAILED: ... no matches for kind \"ServiceMonitor\" in "
        "version \"monitoring.coreos.com/v1\"' and 'ensure CRDs are installed first'. The job enables the chart's "
        "ServiceMonitor (metrics.serviceMonitor.enabled=true), but the Prometheus Operator CRDs are not installed in "
        "this cluster, so every attempt exits 1 and the Job hit its backoff limit.",
        "helm-crd-missing",
        Evidence(last.namespace, last.name, 'no matches for kind "ServiceMonitor" in version '
                                            '"monitoring.coreos.com/v1"'),
        Evidence("partner-sync", job, "Job has reached the specified backoff limit"),
        facts=("ServiceMonitor", "CRDs"),
    )
    cluster.ask(
        "crd-2", "Is partner-sync 1.9.0 live now?",
        "No. The upgrade failed before Helm applied anything (UPGRADE FAILED while building the release manifest), "
        "so the partner-sync-api pods still run 1.8.2. Either install the Prometheus Operator CRDs "
        "(monitoring.coreos.com) or rerun the release with metrics.serviceMonitor.enabled=false.",
        "helm-crd-missing",
        Evidence(apis[0].namespace, apis[0].name, "partners/partner-sync-api:1.8.2"),
        Evidence(pods[0].namespace, pods[0].name, "Error: UPGRADE FAILED"),
        facts=("1.8.2", "UPGRADE FAILED"),
    )


# ---------------------------------------------------------------- 8. TensorFlow training silently on CPU


def tf_cpu_fallback(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """ctr-trainer 5.0.0 was rebuilt from python:3.11-slim with `pip install tensorflow` (no CUDA extras): TF finds
    no CUDA runtime, skips the A10G and trains on the CPU, ~28x slower than yesterday's 4.9.1 run."""
    began = 290.0
    yesterday_began = 1730.0
    (today,) = add_pods(cluster, _CTR_TODAY, 1, node=A10G_NODE)
    (yesterday,) = add_pods(cluster, _CTR_YESTERDAY, 1, node=A10G_NODE)
    resources = {"requests": {"cpu": "8", "memory": "48Gi", "nvidia.com/gpu": "1"},
                 "limits": {"memory": "48Gi", "nvidia.com/gpu": "1"}}
    env = [{"name": "TRAIN_TABLE", "value": "ads_ranking.ctr_examples_v7"},
           {"name": "GOOGLE_API_KEY", "value": secrets.google_api_key},
           {"name": "TF_CPP_MIN_LOG_LEVEL", "value": "0"}]
    for pod, minutes in ((today, began), (yesterday, yesterday_began)):
        _forget(cluster, pod)
        pod.start = ago(minutes)
        pod.resources = resources
        trainer = pod.containers[0]
        trainer.noise = False
        trainer.env = env
        trainer.state = {"running": {"startedAt": _ts(pod.start)}}

    def preamble(start: datetime, gpu: bool) -> list[tuple[datetime, str]]:
        lines = [
            _tf(start, "I", "tensorflow/core/util/port.cc:113", "oneDNN custom operations are on. You may see "
                "slightly different numerical results due to floating-point round-off errors from different "
                "computation orders. To turn them off, set the environment variable `TF_ENABLE_ONEDNN_OPTS=0`."),
        ]
        if not gpu:
            lines.append(_tf(start + timedelta(milliseconds=41), "I", "external/local_tsl/tsl/cuda/cudart_stub.cc:31",
                             "Could not find cuda drivers on your machine, GPU will not be used."))
        lines += [
            _tf(start + timedelta(milliseconds=290), "I", "tensorflow/core/platform/cpu_feature_guard.cc:182",
                "This TensorFlow binary is optimized to use available CPU instructions in performance-critical "
                "operations."),
            (start + timedelta(milliseconds=290), "To enable the following instructions: AVX2 AVX512F AVX512_VNNI "
                                                  "FMA, in other operations, rebuild TensorFlow with the appropriate "
                                                  "compiler flags."),
            # A red herring in both runs: TF-TRT is not used here.
            _tf(start + timedelta(seconds=1.7), "W", "tensorflow/compiler/tf2tensorrt/utils/py_utils.cc:38",
                "TF-TRT Warning: Could not find TensorRT"),
        ]
        return lines

    run = _soon(cluster, today.start, 6)
    trainer = today.containers[0]
    trainer.lines += preamble(run, gpu=False)
    skipped = run + timedelta(seconds=3.1)
    trainer.lines += _block(skipped, [
        _tf(skipped, "W", "tensorflow/core/common_runtime/gpu/gpu_device.cc:2256", "Cannot dlopen some GPU libraries. "
            "Please make sure the missing libraries mentioned above are installed properly if you would like to use "
            "GPU. Follow the guide at https://www.tensorflow.org/install/gpu for how to download and setup the "
            "required libraries for your platform.")[1],
        "Skipping registering GPU devices...",
    ])
    trainer.lines += [
        _pylog(skipped + timedelta(milliseconds=90), "INFO", "ctr_trainer", "visible GPUs: []"),
        _pylog(skipped + timedelta(milliseconds=95), "INFO", "ctr_trainer", "training ctr-dnn v7 on 184320000 "
                                                                           "examples, batch 4096, 3 epochs (135000 "
                                                                           "steps)"),
    ]
    total = 135_000
    rate = 8100 / 4096
    for moment in _every(cluster, skipped + timedelta(minutes=10), NOW, 580, 620):
        step = int((moment - skipped).total_seconds() * rate)
        left = (total - step) / rate
        trainer.lines.append(_pylog(moment, "INFO", "ctr_trainer", (
            f"step {step}/{total} loss={0.47 - 0.05 * step / total:.4f} auc={0.74 + 0.04 * step / total:.4f} "
            f"examples/sec={cluster.rng.randint(7950, 8250)} eta={int(left // 3600)}h{int(left % 3600 // 60):02d}m")))

    old = yesterday.containers[0]
    run = _soon(cluster, yesterday.start, 6)
    old.lines += preamble(run, gpu=True)
    created = run + timedelta(seconds=2.9)
    old.lines += [
        _tf(created, "I", "tensorflow/core/common_runtime/gpu/gpu_device.cc:1929", "Created device "
            "/job:localhost/replica:0/task:0/device:GPU:0 with 21458 MB memory:  -> device: 0, name: NVIDIA A10G, "
            "pci bus id: 0000:00:1e.0, compute capability: 8.6"),
        _pylog(created + timedelta(milliseconds=80), "INFO", "ctr_trainer", "visible GPUs: ['/physical_device:GPU:0']"),
        _pylog(created + timedelta(milliseconds=85), "INFO", "ctr_trainer", "training ctr-dnn v7 on 183911424 "
                                                                           "examples, batch 4096, 3 epochs (134700 "
                                                                           "steps)"),
    ]
    fast = 225_000 / 4096
    for minute in range(10, 41, 10):
        moment = created + timedelta(minutes=minute, seconds=cluster.rng.uniform(0, 5))
        step = min(int(minute * 60 * fast), 134_700)
        old.lines.append(_pylog(moment, "INFO", "ctr_trainer", (
            f"step {step}/134700 loss={0.47 - 0.05 * step / 134700:.4f} auc={0.74 + 0.04 * step / 134700:.4f} "
            f"examples/sec={cluster.rng.randint(222000, 228000)} eta={max(0, int((134700 - step) / fast // 60))}m")))
    finished = created + timedelta(minutes=41, seconds=12)
    old.lines.append(_pylog(finished, "INFO", "ctr_trainer", "training finished in 41m12s, exported "
                                                             "gs://acme-ads-models/ctr-dnn/v7/20260313"))
    _terminated(cluster, yesterday, 0, "Completed", yesterday.start, finished + timedelta(seconds=2))
    cluster.ask(
        "tfcpu-1", "The nightly CTR model training has been running for almost five hours and still reports about "
                   "14 hours to go; it normally finishes in under an hour. Why is it so slow?",
        "It is training on the CPU. TensorFlow could not load the CUDA libraries in the container ('Could not find "
        "cuda drivers on your machine, GPU will not be used', 'Cannot dlopen some GPU libraries ... Skipping "
        "registering GPU devices'), so it sees no GPU ('visible GPUs: []') and runs at about 8100 examples/sec "
        "instead of ~225000, although the pod holds an A10G.",
        "tf-cpu-fallback",
        Evidence(today.namespace, today.name, "Skipping registering GPU devices"),
        facts=("Cannot dlopen|Skipping registering GPU devices|GPU will not be used", "CPU"),
    )
    cluster.ask(
        "tfcpu-2", "Yesterday's CTR training run on the same node pool used the GPU fine. What changed?",
        "The image: today's job runs ctr-trainer 5.0.0, yesterday's ran 4.9.1. The 4.9.1 run created "
        "/device:GPU:0 on the NVIDIA A10G and finished in 41 minutes; 5.0.0 lacks the CUDA runtime libraries "
        "TensorFlow needs (e.g. built on a slim base with plain `pip install tensorflow` instead of "
        "tensorflow[and-cuda] or the -gpu image). Rebuild 5.0.0 with the CUDA libraries or roll back to 4.9.1.",
        "tf-cpu-fallback",
        Evidence(today.namespace, today.name, "ads-ranking/ctr-trainer:5.0.0"),
        Evidence(yesterday.namespace, yesterday.name, "Created device /job:localhost/replica:0/task:0/device:GPU:0"),
        facts=("5.0.0", "4.9.1"),
    )


# ---------------------------------------------------------------- 9. ClickHouse: too many parts


def clickhouse_parts(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """sensor-ingest 2.4.0 (10:05) sets CH_BATCH_MAX_ROWS=1, so every reading is its own INSERT and its own part:
    ClickHouse delays inserts from 10:20 and refuses them with TOO_MANY_PARTS from 11:00."""
    rolled, delaying, refusing = 115.0, 100.0, 60.0
    (server,) = cluster.pods_of("sensor-analytics", "metrics-clickhouse")
    ch = server.containers[0]
    ch.noise = False
    ch.env = [{"name": "CLICKHOUSE_USER", "value": "ingest"},
              {"name": "CLICKHOUSE_PASSWORD",
               "valueFrom": {"secretKeyRef": {"name": "metrics-clickhouse", "key": "password"}}},
              {"name": "CLICKHOUSE_DB", "value": "telemetry"}]
    table_uuid = cluster.uid()
    table = f"telemetry.sensor_readings ({table_uuid})"
    insert = "INSERT INTO telemetry.sensor_readings (device_id, ts, metric, value) FORMAT Native"
    part = 20_911
    for moment in _every(cluster, ago(359), ago(delaying), 120, 420):
        first = part
        part += cluster.rng.randint(6, 10)
        ch.lines.append(_clickhouse(moment, cluster.rng.randint(600, 900), "", "Information",
                                    f"{table} (MergerMutator): Selected {part - first} parts from "
                                    f"202603_{first}_{first}_0 to 202603_{part - 1}_{part - 1}_0"))
    parts = 880
    for moment in _every(cluster, ago(delaying), ago(refusing), 25, 55):
        parts = min(2999, parts + cluster.rng.randint(30, 70))
        delay = max(1, int(2 ** ((parts - 1000) / 300)))
        ch.lines.append(_clickhouse(moment, cluster.rng.randint(600, 900), cluster.uid(), "Information",
                                    f"{table}: Delaying inserting block by {delay} ms. because there are {parts} "
                                    f"parts and their average size is {cluster.rng.uniform(1.1, 1.5):.2f} KiB"))
    ingest = cluster.pods_of("sensor-analytics", "sensor-ingest")
    for moment in _every(cluster, ago(refusing), NOW, 8, 30):
        pod = cluster.rng.choice(ingest)
        count = 3000 + cluster.rng.randint(1, 40)
        ch.lines += _block(moment, [
            _clickhouse(moment, cluster.rng.randint(600, 900), cluster.uid(), "Error",
                        f"executeQuery: Code: 252. DB::Exception: Too many parts ({count} with average size of "
                        f"{cluster.rng.uniform(1.1, 1.3):.2f} KiB) in table '{table}'. Merges are processing "
                        "significantly slower than inserts. (TOO_MANY_PARTS) (version 24.3.5.46 (official build)) "
                        f"(from {_pod_ip(pod)}:{cluster.rng.randint(32768, 60999)}) (in query: {insert}), Stack trace "
                        "(when copying this message, always include the lines below):")[1],
            "",
            "0. DB::Exception::Exception(DB::Exception::MessageMasked&&, int, bool) @ 0x000000000c6c1d9b",
            "1. DB::MergeTreeData::delayInsertOrThrowIfNeeded(Poco::Event*, std::shared_ptr<DB::Context const> const&, "
            "bool) const @ 0x0000000012a7d3f0",
            "2. DB::MergeTreeSink::onStart() @ 0x0000000012c96a52",
            "",
        ])
    image = f"{_REGISTRY}/sensor-analytics/sensor-ingest:2.4.0"
    for index, pod in enumerate(ingest):
        _pin(cluster, pod, pod.node, rolled - 0.4 * index)
        app = pod.containers[0]
        app.image, app.noise = image, False
        app.env = [{"name": "CH_DSN", "value": "clickhouse://ingest@metrics-clickhouse.sensor-analytics.svc:9000/"
                                               "telemetry"},
                   {"name": "CH_BATCH_MAX_ROWS", "value": "1"},
                   {"name": "CH_FLUSH_INTERVAL", "value": "0s"},
                   {"name": "MQTT_URL", "value": "tcp://mqtt.sensor-analytics.svc:1883"}]
        begin = _soon(cluster, pod.start, 1)
        app.lines += [
            _zap(begin, "info", "cmd/ingest/main.go:54", "starting sensor-ingest", version="2.4.0",
                 batch_max_rows=1, flush_interval="0s"),
            _zap(begin + timedelta(milliseconds=210), "info", "sink/clickhouse.go:77", "connected to clickhouse",
                 server="24.3.5.46", database="telemetry"),
        ]
        for moment in _every(cluster, begin + timedelta(seconds=60), ago(refusing), 55, 65):
            batches = cluster.rng.randint(2900, 3300)
            app.lines.append(_zap(moment, "info", "sink/clickhouse.go:118", "flush stats", batches=batches,
                                  rows=batches, avg_rows_per_batch=1, p99_insert_ms=cluster.rng.randint(4, 90)))
        for moment in _every(cluster, ago(refusing) + timedelta(seconds=cluster.rng.uniform(2, 20)), NOW, 15, 45):
            count = 3000 + cluster.rng.randint(1, 40)
            app.lines.append(_zap(moment, "error", "sink/clickhouse.go:142", "insert failed", rows=1, retry_in="2s",
                                  error=f"code: 252, message: Too many parts ({count} with average size of "
                                        f"{cluster.rng.uniform(1.1, 1.3):.2f} KiB) in table '{table}'. Merges are "
                                        "processing significantly slower than inserts"))
            if cluster.rng.random() < 0.4:
                app.lines.append(_zap(moment + timedelta(milliseconds=5), "warn", "sink/buffer.go:63",
                                      "buffer full, dropping readings", dropped=cluster.rng.randint(200, 4000)))
    writer = ingest[0]
    cluster.ask(
        "chparts-1", "sensor-ingest has been dropping readings since 11:00 because its ClickHouse inserts fail. Why "
                     "is ClickHouse refusing them?",
        "The sensor_readings table has over 3000 active parts, ClickHouse's limit, so every INSERT is rejected with "
        "Code 252 TOO_MANY_PARTS ('Merges are processing significantly slower than inserts'). sensor-ingest causes "
        "it: it runs with CH_BATCH_MAX_ROWS=1, one row per INSERT, and each INSERT creates a new part of about 1 "
        "KiB.",
        "clickhouse-too-many-parts",
        Evidence(server.namespace, server.name, "Merges are processing significantly slower than inserts"),
        Evidence(writer.namespace, writer.name, '"avg_rows_per_batch":1'),
        facts=("Too many parts|TOO_MANY_PARTS", "CH_BATCH_MAX_ROWS"),
    )
    cluster.ask(
        "chparts-2", "When did sensor-ingest start hurting ClickHouse, and which release did it?",
        "Release 2.4.0, rolled out at 10:05 with CH_BATCH_MAX_ROWS=1 and CH_FLUSH_INTERVAL=0s. From 10:20 ClickHouse "
        "was already slowing inserts down ('Delaying inserting block ... because there are N parts') as the part "
        "count climbed, and at 11:00 it crossed 3000 and inserts started failing. Restore batching (thousands of "
        "rows or a flush interval, or async_insert) and let merges catch up.",
        "clickhouse-too-many-parts",
        Evidence(server.namespace, server.name, "Delaying inserting block by"),
        Evidence(writer.namespace, writer.name, "sensor-analytics/sensor-ingest:2.4.0"),
        facts=("2.4.0", "10:20|Delaying inserting block"),
    )


# ---------------------------------------------------------------- 10. A model that does not fit the node's GPU


def model_too_big(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """The HPA added a second contract-summarizer replica at 11:20; Karpenter's gpu-inference pool gave it a spot
    L4 (24 GB), and Mistral-Nemo 12B in bf16 (~22.8 GiB of weights) does not fit: CUDA OOM while loading."""
    scaled = 40.0
    good, bad = add_pods(cluster, _SUMMARIZER, 2, node=A100_NODE)
    model = "mistralai/Mistral-Nemo-Instruct-2407"
    for pod in (good, bad):
        pod.resources = {"requests": {"cpu": "4", "memory": "32Gi", "nvidia.com/gpu": "1"},
                         "limits": {"memory": "32Gi", "nvidia.com/gpu": "1"}}
        pod.containers[0].env = [{"name": "MODEL_ID", "value": model}, {"name": "TORCH_DTYPE", "value": "bfloat16"},
                                 {"name": "MAX_INPUT_TOKENS", "value": "16384"},
                                 {"name": "OPENAI_API_KEY", "value": secrets.openai_key}]
    _pin(cluster, good, A100_NODE, 2890.0)
    _pin(cluster, bad, L4_NODE, scaled)
    hpa = ("HorizontalPodAutoscaler", "doc-assist", "contract-summarizer")
    cluster.event(hpa, "SuccessfulRescale", "New size: 2; reason: cpu resource utilization (percentage of request) "
                                            "above target", ago(scaled + 0.01), component="horizontal-pod-autoscaler")
    cluster.event(("Deployment", "doc-assist", "contract-summarizer"), "ScalingReplicaSet",
                  f"Scaled up replica set {good.owner[1]} to 2 from 1", ago(scaled + 0.005),
                  component="deployment-controller")
    ok = good.containers[0]
    ok.noise = False
    for moment in _every(cluster, ago(359), NOW, 40, 200):
        ok.lines.append((moment, f'INFO:     {_client_ip(cluster)} - "POST /v1/summarize HTTP/1.1" 200 OK'))
        if cluster.rng.random() < 0.3:  # a red herring transformers prints on every generate()
            ok.lines.append((moment - timedelta(seconds=cluster.rng.uniform(2, 9)),
                             "Setting `pad_token_id` to `eos_token_id`:2 for open-end generation."))
    app = bad.containers[0]
    ran = 44.0
    died = _soon(cluster, ago(2.1), 0)
    _crash_loop(cluster, bad, app, restarts=10, code=1, reason="Error", died=died, ran=ran, since=ago(scaled - 0.5))
    start = died - timedelta(seconds=ran)
    app.lines += [
        (start, "INFO:     Started server process [1]"),
        (start, "INFO:     Waiting for application startup."),
        _pylog(start + timedelta(seconds=1), "INFO", "summarizer.model", f"loading {model} (torch_dtype=bfloat16, "
                                                                          "device_map=cuda:0)"),
    ]
    for shard in range(1, 5):
        moment = start + timedelta(seconds=2 + 7.8 * shard)
        bar = "█" * (2 * shard)
        app.lines.append((moment, f"Loading checkpoint shards:  {20 * shard}%|{bar:<10}| {shard}/5 "
                                  f"[00:{int(7.8 * shard):02d}<00:{int(7.8 * (5 - shard)):02d},  7.81s/it]"))
    app.lines += _block(died - timedelta(seconds=1), [
        "ERROR:    Traceback (most recent call last):",
        f'  File "{_PACKAGES}/starlette/routing.py", line 693, in lifespan',
        "    async with self.lifespan_context(app) as maybe_state:",
        '  File "/app/summarizer/main.py", line 29, in lifespan',
        "    state.model = load_model(settings)",
        '  File "/app/summarizer/model.py", line 41, in load_model',
        "    model = AutoModelForCausalLM.from_pretrained(",
        f'  File "{_PACKAGES}/transformers/models/auto/auto_factory.py", line 564, in from_pretrained',
        "    return model_class.from_pretrained(",
        f'  File "{_PACKAGES}/transformers/modeling_utils.py", line 4225, in from_pretrained',
        "    ) = cls._load_pretrained_model(",
        f'  File "{_PACKAGES}/transformers/modeling_utils.py", line 4728, in _load_pretrained_model',
        "    new_error_msgs, offload_index, state_dict_index = _load_state_dict_into_meta_model(",
        f'  File "{_PACKAGES}/transformers/modeling_utils.py", line 993, in _load_state_dict_into_meta_model',
        "    set_module_tensor_to_device(model, param_name, param_device, **set_module_kwargs)",
        f'  File "{_PACKAGES}/accelerate/utils/modeling.py", line 329, in set_module_tensor_to_device',
        "    new_value = value.to(device)",
        "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 160.00 MiB. GPU 0 has a total capacity of "
        "22.05 GiB of which 109.06 MiB is free. Including non-PyTorch memory, this process has 21.93 GiB memory in "
        "use. Of the allocated memory 21.71 GiB is allocated by PyTorch, and 7.82 MiB is reserved by PyTorch but "
        "unallocated. If reserved but unallocated memory is large try setting "
        "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to avoid fragmentation.  See documentation for Memory "
        "Management  (https://pytorch.org/docs/stable/notes/cuda.html#environment-variables)",
        "",
        "ERROR:    Application startup failed. Exiting.",
    ])
    cluster.ask(
        "bigmodel-1", "One of the two contract-summarizer pods has been crash looping since the autoscaler added it "
                      "at 11:20, while the other one serves fine. Why?",
        "The new replica landed on gpu-l4-spot-0, an NVIDIA-L4 node with a 24 GB card (22.05 GiB usable), and the "
        "model does not fit: loading Mistral-Nemo-Instruct-2407 in bfloat16 fails at shard 5 of 5 with "
        "torch.OutOfMemoryError (CUDA out of memory, 21.93 GiB already in use). The first replica runs on an "
        "80 GB A100.",
        "model-exceeds-gpu-memory",
        Evidence(bad.namespace, bad.name, "Tried to allocate 160.00 MiB. GPU 0 has a total capacity of 22.05 GiB"),
        Evidence(None, L4_NODE, "NVIDIA-L4"),
        facts=("OutOfMemoryError|out of memory", "L4"),
    )
    cluster.ask(
        "bigmodel-2", "How do we make sure new summarizer replicas only land on nodes where the model fits?",
        "Constrain the Deployment to big-memory GPUs: a nodeAffinity on nvidia.com/gpu.product "
        "NVIDIA-A100-SXM4-80GB (or on nvidia.com/gpu.memory above ~40000 MiB), or restrict the gpu-inference node "
        "pool's instance types. The L4 node reports only 23034 MiB per GPU, which bf16 weights of a 12B model "
        "exceed; otherwise quantise the model.",
        "model-exceeds-gpu-memory",
        Evidence(None, A100_NODE, "NVIDIA-A100-SXM4-80GB"),
        Evidence(None, L4_NODE, "23034"),
        facts=("A100", "23034"),
    )


def apply_all(cluster: SampleCluster) -> None:
    """Move the generator's pods to where they ran before the incidents, then plant the ten incidents."""
    secrets = cluster.secrets
    _placement(cluster)
    es_flood_stage(cluster, secrets)
    mongo_no_primary(cluster, secrets)
    etcd_nospace(cluster, secrets)
    rabbit_memory_alarm(cluster, secrets)
    node_heap_limit(cluster, secrets)
    vault_sealed(cluster, secrets)
    crd_missing(cluster, secrets)
    tf_cpu_fallback(cluster, secrets)
    clickhouse_parts(cluster, secrets)
    model_too_big(cluster, secrets)
