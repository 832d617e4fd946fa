"""The vigil scenario: a ninth set of incidents, written blind for a held-out score of the on-call answers.

Selected with `build_cluster(scenario="vigil")` / `kubetrainer samples cluster
--scenario vigil`. It was written blind: without opening any diagnosis, answering,
retrieval, evaluation, training, investigation or serving code, their tests, or the
held-out reserve scenario, so nothing in it has been tuned against the tool.

Ten incidents, two questions each. Some causes sit in the failing pod's own log,
some in Kubernetes events, some in an object's spec or status (a pod's env or
resources, a node's labels or conditions), and some in another object than the one
showing the symptom (another rank's pod, another namespace's admission webhook, the
database pooler, a Kafka broker, the node). Messages are written the way the
component that prints them does: PyTorch's ProcessGroupNCCL watchdog and torchrun,
NCCL's INFO/WARN lines, PyTorch's incompatible-device warning and uvicorn, GitLab
Runner's logrus JSON, Kyverno's klog lines and the API server's webhook error,
Spring Boot 3 / Hibernate / pgjdbc / Flyway, Bitnami PgBouncer, Kafka's log4j and
the Java producer's Sender, Go zap JSON, the HPA's metric errors, the kubelet's
probe and PLEG messages and node-problem-detector's kernel monitor.

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
H200_NODES = ("gpu-h200-0", "gpu-h200-1", "gpu-h200-2", "gpu-h200-3")
MEMORY_NODES = ("cpu-r-0", "cpu-r-1", "cpu-r-2")
BAD_RAIL_NODE = "gpu-h200-2"
STALLED_NODE = "cpu-r-2"
T4_NODE = "gpu-t4-shared-0"


def _app(namespace: str, name: str, kind: str, image: str, style: str, *, container: str = "app",
         replicas: int = 1, gpu_vendor: str | None = None, gpus: int = 0, port: int | None = None,
         weight: float = 1.0, extra: tuple[ContainerSpec, ...] = ()) -> Workload:
    """A workload whose first container is `container` (and any `extra` side containers)."""
    main = ContainerSpec(container, image, style, weight)
    return Workload(namespace, name, kind, (main, *extra), replicas, gpu_vendor, gpus, port)


# Healthy first (the generator places each of these); the incidents then break some.
WORKLOADS: tuple[Workload, ...] = (
    _app("alt-text", "alt-caption-infer", "Deployment", f"{_REGISTRY}/alt-text/alt-caption-infer:2.5.0",
         "json-api", replicas=3, gpu_vendor="nvidia", gpus=1, port=8000, weight=1.0),
    _app("gitlab-ci", "gitlab-runner-shared", "Deployment", "docker.io/gitlab/gitlab-runner:alpine-v16.11.1",
         "json-api", weight=0.5),
    _app("gitlab-ci", "k6-checkout-soak", "Deployment", "docker.io/grafana/k6:0.50.0", "json-api", container="k6",
         replicas=14, weight=0.2),
    _app("platform-policy", "kyverno-admission", "Deployment", "ghcr.io/kyverno/kyverno:v1.12.5", "controller",
         container="kyverno", weight=0.3),
    _app("fx-pricing", "fx-rate-publisher", "Deployment", f"{_REGISTRY}/fx-pricing/fx-rate-publisher:2.6.3",
         "json-api", replicas=2, port=8080, weight=1.5),
    _app("consumer-lending", "loan-origination-api", "Deployment",
         f"{_REGISTRY}/consumer-lending/loan-origination:5.14.2", "json-api", replicas=2, port=8080, weight=1.0),
    _app("consumer-lending", "loans-pgbouncer", "Deployment", "docker.io/bitnami/pgbouncer:1.20.1", "worker",
         container="pgbouncer", port=6432, weight=0.2),
    _app("web-analytics", "clicks-kafka", "StatefulSet", "docker.io/bitnami/kafka:3.7.0", "worker", container="kafka",
         replicas=3, port=9092, weight=1.0),
    _app("web-analytics", "click-collector", "Deployment", f"{_REGISTRY}/web-analytics/click-collector:1.19.0",
         "json-api", replicas=3, port=8080, weight=1.0),
    _app("treasury-core", "gl-ledger", "Deployment", f"{_REGISTRY}/treasury-core/gl-ledger:7.2.4", "json-api",
         replicas=2, port=8080, weight=1.0),
    _app("product-discovery", "discovery-query-api", "Deployment",
         f"{_REGISTRY}/product-discovery/discovery-query-api:4.0.0", "json-api", replicas=3, port=8080, weight=2.0),
    _app("geo-services", "address-geocoder", "Deployment", f"{_REGISTRY}/geo-services/address-geocoder:3.3.1",
         "json-api", replicas=3, port=8080, weight=1.5),
)

# Placed by their incidents, not by the generator (they ask for more than one GPU).
_ORCA = _app("llm-foundry", "orca-70b-pretrain", "Job", f"{_REGISTRY}/llm-foundry/orca-train:2026.03.1", "training",
             container="trainer", gpu_vendor="nvidia", gpus=8)
_SAM = _app("seg-research", "sam2-hq-finetune", "Job", f"{_REGISTRY}/seg-research/sam-train:1.4.0", "training",
            container="trainer", gpu_vendor="nvidia", gpus=8)
PLACED: tuple[Workload, ...] = (_ORCA, _SAM)


def scenario_nodes() -> list[dict]:
    """The sample nodes plus four bare-metal H200 training nodes on InfiniBand and a memory-optimised CPU pool."""
    extra = []
    for name in H200_NODES:
        node = gpu_node(name, "nvidia", "NVIDIA H200 141GB", 8, cpu="224", memory="2113524768Ki",
                        instance_type="bare-metal")
        node["metadata"]["labels"] |= {"feature.node.kubernetes.io/rdma.available": "true",
                                       "node-pool": "h200-ib"}
        extra.append(node)
    for name in MEMORY_NODES:
        node = gpu_node(name, None, None, 0, cpu="16", memory="131481688Ki", instance_type="r6i.4xlarge")
        node["metadata"]["labels"]["node-pool"] = "memory-optimized"
        extra.append(node)
    return sample_nodes() + extra


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
    moments, moment = [], start
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
        _startup(cluster, pod, ago(cluster.rng.uniform(5, 55)))
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


def _placement(cluster: SampleCluster) -> None:
    """Where things ran before the incidents: the H200 nodes and gpu-h100-1 are kept whole for the 8-GPU jobs and
    cpu-r-2 carries only DaemonSets and address-geocoder, so the generator's other pods there run elsewhere."""
    for pod in cluster.pods:
        if pod.workload.kind == "DaemonSet" or pod.workload.name == "address-geocoder":
            continue
        if pod.node in H200_NODES or pod.node == "gpu-h100-1":
            _pin(cluster, pod, "gpu-a100-0")
        elif pod.node == STALLED_NODE:
            _pin(cluster, pod, "cpu-r-0")


# ---------------------------------------------------------------- line formats


def _pylog(moment: datetime, level: str, logger: str, message: str) -> tuple[datetime, str]:
    """Python logging's `%(asctime)s %(levelname)s %(name)s: %(message)s`."""
    return moment, f"{moment:%Y-%m-%d %H:%M:%S},{moment.microsecond // 1000:03d} {level} {logger}: {message}"


def _c10(moment: datetime, rank: int, line: int, message: str, level: str = "E") -> tuple[datetime, str]:
    """PyTorch's c10 logging as torchrun's per-rank prefix shows it (nanosecond clock)."""
    nanos = moment.microsecond * 1000 + (rank * 7919) % 1000
    return moment, f"[rank{rank}]:[{level}{moment:%m%d %H:%M:%S}.{nanos:09d} ProcessGroupNCCL.cpp:{line}] {message}"


def _glog(moment: datetime, level: str, thread: int, source: str, message: str) -> tuple[datetime, str]:
    """torch.distributed.elastic's glog-style line (PyTorch 2.4+)."""
    return moment, f"{level}{moment:%m%d %H:%M:%S}.{moment.microsecond:06d} {thread} {source}] {message}"


def _nccl(host: str, pid: int, tid: int, device: int, message: str) -> str:
    return f"{host}:{pid}:{tid} [{device}] {message}"


def _spring(moment: datetime, level: str, app: str, thread: str, logger: str, message: str) -> tuple[datetime, str]:
    """Spring Boot 3.2's default console pattern (UTC, application name, %15.15t, %-40.40logger{39})."""
    head = f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"
    return moment, f"{head} {level:>5} 1 --- [{app}] [{thread[-15:]:>15}] {logger[:40]:<40} : {message}"


def _logback(moment: datetime, level: str, thread: str, logger: str, message: str) -> tuple[datetime, str]:
    """logback `%d{ISO8601} %-5level [%thread] %logger{36} - %msg%n`."""
    stamp = f"{moment:%Y-%m-%d %H:%M:%S},{moment.microsecond // 1000:03d}"
    return moment, f"{stamp} {level:<5} [{thread}] {logger} - {message}"


def _kafka(moment: datetime, level: str, message: str, logger: str) -> tuple[datetime, str]:
    """Kafka's log4j `[%d] %p %m (%c)%n`."""
    return moment, f"[{moment:%Y-%m-%d %H:%M:%S},{moment.microsecond // 1000:03d}] {level} {message} ({logger})"


def _bitnami(moment: datetime, app: str, message: str, level: str = "INFO") -> tuple[datetime, str]:
    """The Bitnami images' setup scripts."""
    return moment, f"{app} {moment:%H:%M:%S}.{moment.microsecond // 10000:02d} {level:<5} ==> {message}"


def _klog(moment: datetime, level: str, source: str, message: str, **fields: str) -> tuple[datetime, str]:
    """klog's structured text line, as Kyverno writes it."""
    rest = "".join(f' {key}="{value}"' for key, value in fields.items())
    return moment, f'{level}{moment:%m%d %H:%M:%S}.{moment.microsecond:06d}       1 {source}] "{message}"{rest}'


def _zap(moment: datetime, level: str, caller: str, message: str, **fields) -> tuple[datetime, str]:
    """zap's production JSON encoder (epoch-seconds ts)."""
    entry = {"level": level, "ts": round(moment.timestamp(), 6), "caller": caller, "msg": message, **fields}
    return moment, json.dumps(entry, separators=(",", ":"))


def _logrus(moment: datetime, level: str, message: str, **fields) -> tuple[datetime, str]:
    """logrus's JSONFormatter as GitLab Runner uses it with log_format = "json" (keys sorted)."""
    entry = {**fields, "level": level, "msg": message, "time": _ts(moment)}
    return moment, json.dumps(entry, sort_keys=True, separators=(",", ":"))


def _json(moment: datetime, level: str, message: str, **fields) -> tuple[datetime, str]:
    return moment, json.dumps({"ts": iso(moment), "level": level, "msg": message, **fields})


# ---------------------------------------------------------------- 1. InfiniBand rail error in a multi-node job


def _orca_init(cluster: SampleCluster, pod: SamplePod, index: int, start: datetime) -> list[tuple[datetime, str]]:
    """torchrun and NCCL start-up on one node of the job (8 local ranks)."""
    host, pid = pod.name, 211
    lines = [
        _glog(start, "I", 140522, "torch/distributed/run.py:793", "Using nproc_per_node=8."),
        _glog(start, "I", 140522, "torch/distributed/elastic/rendezvous/static_tcp_rendezvous.py:65",
              "Creating TCPStore as the c10d::Store implementation"),
    ]
    moment = start + timedelta(seconds=41)
    hcas = " ".join(f"[{i}]mlx5_{i}:1/IB" for i in range(8))
    buses = ("18", "2a", "3a", "5d", "9a", "ab", "ba", "db")
    for local in range(8):
        rank = index * 8 + local
        lines.append((moment, _nccl(host, pid + local, pid + local, local,
                                    f"NCCL INFO NET/IB : Using {hcas} [RO]; OOB eth0:{_pod_ip(pod)}<0>")))
        lines.append((moment, _nccl(host, pid + local, 1400 + local * 7, local,
                                    f"NCCL INFO comm 0x{_hex(cluster, 12)} rank {rank} nranks 32 cudaDev {local} "
                                    f"nvmlDev {local} busId {buses[local]}000 "
                                    "commId 0x7c1e55a0b93f2d41 - Init COMPLETE")))
    if index == 0:
        lines.append((moment, "NCCL version 2.21.5+cuda12.4"))
    return lines


def ib_rail(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """orca-70b-pretrain, a 4-node 32-GPU Indexed Job: at 11:06 the InfiniBand HCA mlx5_4 on gpu-h200-2 failed a send
    (status=12, transport retry counter exceeded); that node's ranks aborted at once, and the ranks on the other
    three nodes sat in the ALLREDUCE until the 10-minute NCCL watchdog killed them at 11:16."""
    began, failed = 378.0, 53.3
    pods = add_pods(cluster, _ORCA, 4, node=H200_NODES[0])
    for index, pod in enumerate(pods):
        _forget(cluster, pod)
        pod.name = f"orca-70b-pretrain-{index}-{cluster.suffix()}"
        _pin(cluster, pod, H200_NODES[index], began + index * 0.05)
        pod.resources = {"requests": {"cpu": "96", "memory": "1536Gi", "nvidia.com/gpu": "8"},
                         "limits": {"memory": "1536Gi", "nvidia.com/gpu": "8"}}
        pod.containers[0].env = [
            {"name": "NCCL_DEBUG", "value": "INFO"}, {"name": "NCCL_DEBUG_SUBSYS", "value": "INIT,NET"},
            {"name": "NCCL_IB_HCA", "value": "mlx5"}, {"name": "TORCH_NCCL_ASYNC_ERROR_HANDLING", "value": "3"},
            {"name": "JOB_COMPLETION_INDEX", "value": str(index)},
            {"name": "GIT_AUTH", "value": f"https://oauth2:{secrets.github_token}@github.com/acme/orca.git"},
        ]
    job = ("Job", "llm-foundry", "orca-70b-pretrain")
    start = _soon(cluster, ago(began), 3)
    for index, pod in enumerate(pods):
        pod.containers[0].lines += _orca_init(cluster, pod, index, start + timedelta(seconds=index * 0.4))

    # Rank 0 logs training progress; the last step is logged just before the rail fails.
    trainer = pods[0].containers[0]
    step, moment = 118_000, start + timedelta(seconds=95)
    trainer.lines.append(_pylog(moment - timedelta(seconds=40), "INFO", "orca.train",
                                "resumed from /ckpt/orca-70b/step_118000 (optimizer + dataloader state)"))
    hang = _soon(cluster, ago(failed), 0)
    while moment < hang - timedelta(seconds=60):
        step += 10
        moment += timedelta(seconds=cluster.rng.uniform(51.5, 53.5))
        loss = 1.71 + 0.25 * 0.99995 ** (step - 118_000) + cluster.rng.uniform(-0.03, 0.03)
        trainer.lines.append(_pylog(moment, "INFO", "orca.train", (
            f"step {step}/400000 | loss {loss:.4f} | lr 1.50e-04 | grad_norm {cluster.rng.uniform(0.18, 0.42):.3f} "
            f"| tokens/s {cluster.rng.randint(1_010_000, 1_060_000):,} "
            f"| tflops/gpu {cluster.rng.uniform(505, 531):.1f}")))
        if step % 500 == 0:
            trainer.lines.append(_pylog(moment + timedelta(seconds=48), "INFO", "orca.checkpoint",
                                        f"saved /ckpt/orca-70b/step_{step} in 47.9s (sharded, 32 ranks)"))
    last_step = step

    # gpu-h200-2: the HCA on rail 4 reports the failed completion, rank 20 aborts, torchrun tears the node down.
    bad = pods[2]
    peer = f"{_pod_ip(pods[3])}<{cluster.rng.randint(32768, 60999)}>"
    completion = (f"NET/IB : Got completion from peer {peer} with status=12 opcode=0 len=0 vendor err 129 (Recv) "
                  "hca mlx5_4")
    pid, tid = 215, 1883
    bad.containers[0].lines += [
        (hang, _nccl(bad.name, pid, tid, 4, f"transport/net_ib.cc:1696 NCCL WARN {completion}")),
        (hang, _nccl(bad.name, pid, tid, 4, "NCCL INFO transport/net.cc:1298 -> 6")),
        (hang, _nccl(bad.name, pid, tid, 4, "NCCL INFO proxy.cc:694 -> 6")),
        (hang, _nccl(bad.name, pid, tid, 4, "NCCL INFO proxy.cc:874 -> 6 [Progress Thread]")),
    ]
    abort = hang + timedelta(milliseconds=740)
    pg = "[PG ID 0 PG GUID 0(default_pg) Rank 20]"
    bad.containers[0].lines += _block(abort, [
        _c10(abort, 20, 1595, f"{pg} Process group watchdog thread terminated with exception: NCCL error: remote "
                              "process exited or there was a network error, NCCL version 2.21.5")[1],
        "ncclRemoteError: A call failed possibly due to a network error or a remote process exiting prematurely.",
        "Last error:",
        completion,
        "terminate called after throwing an instance of 'c10::DistBackendError'",
        f"  what():  {pg} Process group watchdog thread terminated with exception: NCCL error: remote process "
        "exited or there was a network error, NCCL version 2.21.5",
    ])
    bad.containers[0].lines += _torchrun_failure(bad, 20, 4, pid, abort, cluster)
    _terminated(cluster, bad, 1, "Error", ago(began), abort + timedelta(seconds=4))

    # The other nodes: stuck in the same ALLREDUCE until the 600 s watchdog fires.
    work = (last_step - 118_000 + 10) * 62 + 17  # collectives since the resume: 62 per step, plus start-up
    for index in (0, 1, 3):
        pod = pods[index]
        fired = hang + timedelta(seconds=600, milliseconds=cluster.rng.randint(40, 900) + index * 13)
        ran = int((fired - hang).total_seconds() * 1000) + cluster.rng.randint(1, 30)
        lines = []
        for local in range(8):
            rank = index * 8 + local
            lines += [
                _c10(fired, rank, 616, (f"[Rank {rank}] Watchdog caught collective operation timeout: "
                                        f"WorkNCCL(SeqNum={work}, OpType=ALLREDUCE, NumelIn=262144000, "
                                        f"NumelOut=262144000, Timeout(ms)=600000) ran for {ran} milliseconds "
                                        "before timing out.")),
                _c10(fired, rank, 1785, (f"[PG ID 0 PG GUID 0(default_pg) Rank {rank}] Exception (either an error "
                                         f"or timeout) detected by watchdog at work: {work}, last enqueued NCCL work: "
                                         f"{work}, last completed NCCL work: {work - 1}.")),
            ]
        lines += [
            _c10(fired, index * 8, 630, (f"[Rank {index * 8}] Some NCCL operations have failed or timed out. Due to "
                                         "the asynchronous nature of CUDA kernels, subsequent GPU operations might "
                                         "run on corrupted/incomplete data.")),
            _c10(fired, index * 8, 636, f"[Rank {index * 8}] To avoid data inconsistency, we are taking the entire "
                                        "process down."),
        ]
        pod.containers[0].lines += _block(fired, [line for _, line in lines])
        pod.containers[0].lines += _torchrun_failure(pod, index * 8, 0, 211, fired, cluster)
        _terminated(cluster, pod, 1, "Error", ago(began), fired + timedelta(seconds=5))
    cluster.event(job, "FailedIndexes", "Job has failed indexes", hang + timedelta(seconds=612), warning=True,
                  component="job-controller")

    cluster.ask(
        "ibrail-1", "The orca pretraining job stopped logging steps at about 11:06 and all four of its pods are "
                    "Failed now. What killed it?",
        f"Not the training code: the InfiniBand network on one node. At 11:06 NCCL on {bad.name} (node "
        f"{BAD_RAIL_NODE}) got a failed completion on HCA mlx5_4 ('NET/IB : Got completion from peer ... with "
        "status=12', IBV_WC_RETRY_EXC_ERR: the transport retry counter was exceeded, the link stopped delivering), "
        "rank 20 aborted with ncclRemoteError and that pod exited. The ranks on the other three nodes were left "
        f"waiting inside the same ALLREDUCE (SeqNum {work}) and at 11:16 the NCCL watchdog fired ('Watchdog caught "
        "collective operation timeout ... Timeout(ms)=600000'), taking every process down, so each pod failed and "
        "the Indexed Job reported failed indexes.",
        "ib-rail-retry-exceeded",
        Evidence(pods[0].namespace, pods[0].name,
                 f"[Rank 0] Watchdog caught collective operation timeout: WorkNCCL(SeqNum={work}"),
        Evidence(bad.namespace, bad.name, f"NET/IB : Got completion from peer {peer}"),
        facts=("Watchdog caught collective operation timeout|Timeout(ms)=600000", "Got completion from peer|status=12"),
    )
    cluster.ask(
        "ibrail-2", "Before we restart orca-70b-pretrain, should we keep it off any node? Which one, and why?",
        f"Yes: {BAD_RAIL_NODE}. Index 2 of the job ({bad.name}) ran there, and it is where the failure started: "
        "NCCL reported 'status=12 opcode=0 len=0 vendor err 129 (Recv) hca mlx5_4', a transport-retry-exceeded "
        "error on the InfiniBand HCA mlx5_4 (rail 4). Cordon the node and check that port (ibstat / the link's "
        "error counters, the cable or transceiver) before relaunching from the last checkpoint; the other three "
        "nodes only timed out waiting for it.",
        "ib-rail-retry-exceeded",
        Evidence(bad.namespace, bad.name, f"{peer} with status=12 opcode=0 len=0 vendor err 129 (Recv) hca mlx5_4"),
        facts=(BAD_RAIL_NODE, "mlx5_4"),
    )


def _torchrun_failure(pod: SamplePod, rank: int, local: int, pid: int, when: datetime,
                      cluster: SampleCluster) -> list[tuple[datetime, str]]:
    """torchrun's agent: workers torn down, then the ChildFailedError summary naming the first failure."""
    after = when + timedelta(seconds=2, milliseconds=cluster.rng.randint(0, 900))
    lines = [_glog(after, "W", 140522, "torch/distributed/elastic/multiprocessing/api.py:897",
                   f"Sending process {pid + k} closing signal SIGTERM") for k in range(8) if k != local]
    lines.append(_glog(after + timedelta(seconds=1), "E", 140522,
                       "torch/distributed/elastic/multiprocessing/api.py:869",
                       f"failed (exitcode: -6) local_rank: {local} (pid: {pid + local}) of binary: /usr/bin/python"))
    summary = after + timedelta(seconds=1, milliseconds=20)
    packages = "/usr/local/lib/python3.11/site-packages"
    lines += _block(summary, [
        "Traceback (most recent call last):",
        '  File "/usr/local/bin/torchrun", line 8, in <module>',
        "    sys.exit(main())",
        f'  File "{packages}/torch/distributed/elastic/multiprocessing/errors/__init__.py", line 355, in wrapper',
        "    return f(*args, **kwargs)",
        f'  File "{packages}/torch/distributed/run.py", line 919, in main',
        "    run(args)",
        f'  File "{packages}/torch/distributed/run.py", line 910, in run',
        "    elastic_launch(",
        f'  File "{packages}/torch/distributed/launcher/api.py", line 138, in __call__',
        "    return launch_agent(self._config, self._entrypoint, list(args))",
        f'  File "{packages}/torch/distributed/launcher/api.py", line 269, in launch_agent',
        "    raise ChildFailedError(",
        "torch.distributed.elastic.multiprocessing.errors.ChildFailedError: ",
        "============================================================",
        "train.py FAILED",
        "------------------------------------------------------------",
        "Failures:",
        "  <NO_OTHER_FAILURES>",
        "------------------------------------------------------------",
        "Root Cause (first observed failure):",
        "[0]:",
        f"  time      : {when:%Y-%m-%d_%H:%M:%S}",
        f"  host      : {pod.name}",
        f"  rank      : {rank} (local_rank: {local})",
        f"  exitcode  : -6 (pid: {pid + local})",
        "  error_file: <N/A>",
        f"  traceback : Signal 6 (SIGABRT) received by PID {pid + local}",
        "============================================================",
    ])
    return lines


# ---------------------------------------------------------------- 2. /dev/shm too small for NCCL


def dev_shm(cluster: SampleCluster) -> None:
    """sam2-hq-finetune runs 8 ranks on one H100 node; NCCL's intra-node SHM transport needs ~9 MiB segments per peer
    pair in /dev/shm, but the pod has the runtime's default 64M shm (no memory-backed emptyDir), so NCCL
    initialisation fails on every attempt and the Job runs out of retries."""
    node, attempts = "gpu-h100-1", (29.0, 25.6, 21.2)
    pods = add_pods(cluster, _SAM, len(attempts), node=node)
    job = ("Job", "seg-research", "sam2-hq-finetune")
    packages = "/opt/conda/lib/python3.10/site-packages"
    shm_names = []  # the segment rank 0 of each attempt failed to create
    for pod, began in zip(pods, attempts):
        _pin(cluster, pod, node, began)
        pod.resources = {"requests": {"cpu": "48", "memory": "480Gi", "nvidia.com/gpu": "8"},
                         "limits": {"memory": "480Gi", "nvidia.com/gpu": "8"}}
        trainer = pod.containers[0]
        trainer.env = [{"name": "NCCL_DEBUG", "value": "INFO"}, {"name": "OMP_NUM_THREADS", "value": "6"},
                       {"name": "CONFIG", "value": "configs/sam_vit_h_finetune.yaml"}]
        cluster.event(job, "SuccessfulCreate", f"Created pod: {pod.name}", ago(began + 0.01),
                      component="job-controller")
        start = _soon(cluster, ago(began), 2)
        stamp = f"{start:%Y-%m-%d %H:%M:%S},{start.microsecond // 1000:03d}"
        gpus = [f"GPU {i}: NVIDIA H100 80GB HBM3 (UUID: GPU-{cluster.uid()})" for i in range(8)]
        trainer.lines += _block(start, [
            "+ nvidia-smi -L", *gpus,
            "+ df -h /dev/shm",
            "Filesystem      Size  Used Avail Use% Mounted on",
            "shm              64M     0   64M   0% /dev/shm",
            "+ exec torchrun --standalone --nnodes=1 --nproc_per_node=8 train.py --config "
            "configs/sam_vit_h_finetune.yaml",
            f"[{stamp}] torch.distributed.run: [WARNING] ",
            f"[{stamp}] torch.distributed.run: [WARNING] *****************************************",
            f"[{stamp}] torch.distributed.run: [WARNING] Setting OMP_NUM_THREADS environment variable for each "
            "process to be 1 in default, to avoid your system being overloaded, please further tune the variable for "
            "optimal performance in your application as needed. ",
            f"[{stamp}] torch.distributed.run: [WARNING] *****************************************",
        ])
        init = start + timedelta(seconds=cluster.rng.uniform(24, 31))
        trainer.lines += [
            _pylog(init - timedelta(seconds=9), "INFO", "sam.train",
                   "building sam_vit_h (636M params) from /weights/sam_vit_h_4b8939.pth"),
            _pylog(init - timedelta(seconds=2), "INFO", "sam.train",
                   "dataset sa1b-retail-v3: 214880 images, 8 ranks x batch 4, bf16"),
        ]
        host = pod.name
        nccl = [
            _nccl(host, 58, 58, 0, "NCCL INFO Bootstrap : Using eth0:" + _pod_ip(pod) + "<0>"),
            _nccl(host, 58, 58, 0, "NCCL INFO NET/Plugin : dlerror=libnccl-net.so: cannot open shared object file: "
                                   "No such file or directory No plugin found (libnccl-net.so), using internal "
                                   "implementation"),
            _nccl(host, 58, 58, 0, "NCCL INFO cudaDriverVersion 12040"),
            "NCCL version 2.18.1+cuda12.1",
            _nccl(host, 58, 131, 0, "NCCL INFO NET/Socket : Using [0]eth0:" + _pod_ip(pod) + "<0>"),
            _nccl(host, 58, 131, 0, "NCCL INFO Using network Socket"),
            _nccl(host, 58, 131, 0, "NCCL INFO Channel 00/24 :    0   1   2   3   4   5   6   7"),
        ]
        trainer.lines += _block(init, nccl)
        failing = init + timedelta(milliseconds=cluster.rng.randint(300, 700))
        segments = []
        for local in range(8):
            name = "".join(cluster.rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
                           for _ in range(6))
            segments.append(name)
            segments_lines = [
                _nccl(host, 58 + local, 131 + local * 3, local,
                      "include/shm.h:28 NCCL WARN Call to posix_fallocate failed : No space left on device"),
                _nccl(host, 58 + local, 131 + local * 3, local, "NCCL INFO include/shm.h:41 -> 2"),
                _nccl(host, 58 + local, 131 + local * 3, local, "include/shm.h:48 NCCL WARN Error while creating "
                                                                f"shared memory segment /dev/shm/nccl-{name} "
                                                                "(size 9637888)"),
                _nccl(host, 58 + local, 131 + local * 3, local, "NCCL INFO transport/shm.cc:114 -> 2"),
            ]
            trainer.lines += _block(failing + timedelta(microseconds=local * 211), segments_lines)
        error = failing + timedelta(milliseconds=40)
        trainer.lines += _block(error, [
            "Traceback (most recent call last):",
            '  File "/workspace/train.py", line 311, in <module>',
            "    main()",
            '  File "/workspace/train.py", line 187, in main',
            "    model = DDP(model, device_ids=[local_rank], find_unused_parameters=False)",
            f'  File "{packages}/torch/nn/parallel/distributed.py", line 795, in __init__',
            "    _verify_param_shape_across_processes(self.process_group, parameters)",
            f'  File "{packages}/torch/distributed/utils.py", line 265, in _verify_param_shape_across_processes',
            "    return dist._verify_params_across_processes(process_group, tensors, logger)",
            "torch.distributed.DistBackendError: NCCL error in: "
            "../torch/csrc/distributed/c10d/ProcessGroupNCCL.cpp:1331, unhandled system error (run with "
            "NCCL_DEBUG=INFO for details), NCCL version 2.18.1",
            "ncclSystemError: System call (e.g. socket, malloc) or external library call failed or device error. ",
            "Last error:",
            f"Error while creating shared memory segment /dev/shm/nccl-{segments[0]} (size 9637888)",
        ])
        shm_names.append(segments[0])
        agent = error + timedelta(seconds=2)
        agent_stamp = f"{agent:%Y-%m-%d %H:%M:%S},{agent.microsecond // 1000:03d}"
        trainer.lines += _block(agent, [
            f"[{agent_stamp}] torch.distributed.elastic.multiprocessing.api: [ERROR] failed (exitcode: 1) local_rank: "
            "0 (pid: 58) of binary: /opt/conda/bin/python",
            "torch.distributed.elastic.multiprocessing.errors.ChildFailedError: ",
            "============================================================",
            "train.py FAILED",
            "------------------------------------------------------------",
            "Root Cause (first observed failure):",
            "[0]:",
            f"  time      : {error:%Y-%m-%d_%H:%M:%S}",
            f"  host      : {host}",
            "  rank      : 0 (local_rank: 0)",
            "  exitcode  : 1 (pid: 58)",
            "  error_file: <N/A>",
            "  traceback : To enable traceback see: https://pytorch.org/docs/stable/elastic/errors.html",
            "============================================================",
        ])
        _terminated(cluster, pod, 1, "Error", ago(began), agent + timedelta(seconds=1))
    first_segment, last_segment = f"/dev/shm/nccl-{shm_names[0]}", f"/dev/shm/nccl-{shm_names[-1]}"
    cluster.event(job, "BackoffLimitExceeded", "Job has reached the specified backoff limit",
                  ago(attempts[-1] - 1.2), warning=True, component="job-controller")
    last = pods[-1]
    cluster.ask(
        "devshm-1", "Every attempt of the sam2-hq-finetune job on gpu-h100-1 dies within a minute, before the first "
                    "training step. What's the error?",
        "NCCL cannot initialise its intra-node transport: every rank logs 'Error while creating shared memory segment "
        "/dev/shm/nccl-... (size 9637888)' after 'Call to posix_fallocate failed : No space left on device', and "
        "DDP's first collective raises torch.distributed.DistBackendError: 'unhandled system error ... "
        "ncclSystemError'. torchrun exits 1, so each attempt Failed and the Job hit its backoff limit. It is not "
        "the GPUs or the code: /dev/shm in the pod is too small for 8 ranks.",
        "nccl-dev-shm-64m",
        Evidence(last.namespace, last.name, f"Error while creating shared memory segment {last_segment}"),
        facts=("Error while creating shared memory segment|/dev/shm", "ncclSystemError|unhandled system error"),
    )
    cluster.ask(
        "devshm-2", "What do we need to change in the sam2-hq-finetune pod spec to get past NCCL initialisation?",
        "Give it a real /dev/shm. The pod mounts none, so the container gets the runtime's default 64M shm "
        "('shm 64M 0 64M 0% /dev/shm'), while NCCL needs a 9637888-byte shared memory segment per peer "
        "connection for 8 ranks. Mount an emptyDir with medium: Memory (sizeLimit e.g. 16Gi) at /dev/shm "
        "(or set NCCL_SHM_DISABLE=1 and lose the fast path).",
        "nccl-dev-shm-64m",
        Evidence(last.namespace, last.name, "shm              64M     0   64M   0% /dev/shm"),
        Evidence(pods[0].namespace, pods[0].name, f"{first_segment} (size 9637888)"),
        facts=("64M", "9637888|shared memory segment"),
    )


# ---------------------------------------------------------------- 3. image without kernels for the node's GPU


def gpu_arch(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """alt-caption-infer 2.5.0's chart dropped the nodeAffinity that kept it on A10G nodes; one replica landed on the
    time-sliced T4 node (compute capability 7.5), and the image's PyTorch is built for sm_80 and newer only."""
    rolled, node = 48.0, T4_NODE
    pods = cluster.pods_of("alt-text", "alt-caption-infer")
    good, broken = pods[:2], pods[2]
    for pod in good:
        _pin(cluster, pod, "karpenter-a10g-0", rolled - 0.2 - cluster.rng.uniform(0, 1))
    _pin(cluster, broken, node, rolled)
    for pod in pods:
        pod.containers[0].env = [{"name": "MODEL_DIR", "value": "/models/blip2-opt-2.7b"},
                                 {"name": "OPENAI_API_KEY", "value": secrets.openai_key}]
    cluster.event(("Deployment", "alt-text", "alt-caption-infer"), "ScalingReplicaSet",
                  f"Scaled up replica set {broken.owner[1]} to 3 from 0", ago(rolled + 0.02),
                  component="deployment-controller")
    app = broken.containers[0]
    died = _soon(cluster, ago(2.4), 0)
    _crash_loop(cluster, broken, app, restarts=13, code=3, reason="Error", died=died, ran=38, since=ago(rolled - 0.5))
    start = died - timedelta(seconds=38)
    packages = "/opt/conda/lib/python3.11/site-packages"
    app.lines += [
        (start, "INFO:     Started server process [1]"),
        (start, "INFO:     Waiting for application startup."),
        _pylog(start + timedelta(seconds=1), "INFO", "caption_infer.model",
               "loading blip2-opt-2.7b from /models/blip2-opt-2.7b (fp16)"),
    ]
    warned = start + timedelta(seconds=3)
    app.lines += _block(warned, [
        f"{packages}/torch/cuda/__init__.py:209: UserWarning: ",
        "Tesla T4 with CUDA capability sm_75 is not compatible with the current PyTorch installation.",
        "The current PyTorch install supports CUDA capabilities sm_80 sm_86 sm_89 sm_90.",
        "If you want to use the Tesla T4 GPU with PyTorch, please check the instructions at "
        "https://pytorch.org/get-started/locally/",
        "",
        "  warnings.warn(",
    ])
    app.lines += _block(died - timedelta(seconds=1), [
        "ERROR:    Traceback (most recent call last):",
        f'  File "{packages}/starlette/routing.py", line 693, in lifespan',
        "    async with self.lifespan_context(app) as maybe_state:",
        '  File "/usr/lib/python3.11/contextlib.py", line 210, in __aenter__',
        "    return await anext(self.gen)",
        '  File "/app/caption_infer/main.py", line 34, in lifespan',
        "    state.model = load_model(settings.model_dir)",
        '  File "/app/caption_infer/model.py", line 48, in load_model',
        "    model = Blip2ForConditionalGeneration.from_pretrained(path, torch_dtype=torch.float16).to(\"cuda\")",
        f'  File "{packages}/transformers/modeling_utils.py", line 2905, in to',
        "    return super().to(*args, **kwargs)",
        f'  File "{packages}/torch/nn/modules/module.py", line 1174, in to',
        "    return self._apply(convert)",
        f'  File "{packages}/torch/nn/modules/module.py", line 805, in _apply',
        "    param_applied = fn(param)",
        f'  File "{packages}/torch/nn/modules/module.py", line 1160, in convert',
        "    return t.to(",
        "RuntimeError: CUDA error: no kernel image is available for execution on the device",
        "CUDA kernel errors might be asynchronously reported at some other API call, so the stacktrace below might be "
        "incorrect.",
        "For debugging consider passing CUDA_LAUNCH_BLOCKING=1",
        "Compile with `TORCH_USE_CUDA_DSA` to enable device-side assertions.",
        "",
        "ERROR:    Application startup failed. Exiting.",
    ])
    for pod in good:
        pod.containers[0].noise = False
        begin = _soon(cluster, pod.start, 1)
        pod.containers[0].lines += [
            (begin, "INFO:     Started server process [1]"),
            (begin, "INFO:     Waiting for application startup."),
            _pylog(begin + timedelta(seconds=1), "INFO", "caption_infer.model",
                   "loading blip2-opt-2.7b from /models/blip2-opt-2.7b (fp16)"),
            _pylog(begin + timedelta(seconds=19), "INFO", "caption_infer.model",
                   "model ready on cuda:0 (NVIDIA A10G), 7.7 GiB"),
            (begin + timedelta(seconds=19), "INFO:     Application startup complete."),
            (begin + timedelta(seconds=19), "INFO:     Uvicorn running on http://0.0.0.0:8000 (Press CTRL+C to quit)"),
        ]
        for moment in _every(cluster, begin + timedelta(seconds=25), NOW, 6, 40):
            client = (f"10.244.{cluster.rng.randint(0, 7)}.{cluster.rng.randint(2, 250)}:"
                      f"{cluster.rng.randint(30000, 60000)}")
            request, status = cluster.rng.choice((("POST /v1/captions", "200 OK"), ("POST /v1/captions", "200 OK"),
                                                  ("GET /healthz", "200 OK"),
                                                  ("POST /v1/captions", "422 Unprocessable Entity")))
            pod.containers[0].lines.append((moment, f'INFO:     {client} - "{request} HTTP/1.1" {status}'))
    cluster.ask(
        "sm75-1", "One of the three caption-infer replicas has been crash-looping since this morning's rollout while "
                  "the other two serve fine. Why?",
        f"That replica ({broken.name}) is on a Tesla T4, and the image's PyTorch has no kernels for it: at start-up "
        "PyTorch warns 'Tesla T4 with CUDA capability sm_75 is not compatible with the current PyTorch installation' "
        "(the build supports sm_80 sm_86 sm_89 sm_90), and moving the model to the GPU fails with 'RuntimeError: "
        "CUDA error: no kernel image is available for execution on the device'. uvicorn's start-up fails, the "
        "process exits 3 and the pod is in CrashLoopBackOff. The other two run on the A10G node.",
        "torch-arch-sm75",
        Evidence(broken.namespace, broken.name, "Tesla T4 with CUDA capability sm_75 is not compatible with the "
                                                "current PyTorch installation."),
        facts=("no kernel image is available", "sm_75|Tesla T4"),
    )
    cluster.ask(
        "sm75-2", "Which node is the broken caption-infer replica running on, and what is different about its GPU?",
        f"{T4_NODE}, the time-sliced node whose GPU is a Tesla-T4 (label nvidia.com/gpu.product=Tesla-T4-SHARED, "
        "compute capability 7.5, i.e. sm_75). The image only supports sm_80 and newer, like the A10G "
        "(karpenter-a10g-0) the other replicas run on. Since 2.5.0 nothing keeps caption-infer off the T4: add a "
        "nodeAffinity on the GPU product (or compute capability >= 8) back, or rebuild with sm_75 in "
        "TORCH_CUDA_ARCH_LIST.",
        "torch-arch-sm75",
        Evidence(None, T4_NODE, "Tesla-T4-SHARED"),
        Evidence(broken.namespace, broken.name, "The current PyTorch install supports CUDA capabilities sm_80 sm_86 "
                                                "sm_89 sm_90."),
        facts=(T4_NODE, "sm_75|Tesla-T4|Tesla T4"),
    )


# ---------------------------------------------------------------- 4. CI namespace quota eaten by a soak test


def ci_quota(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """A soak test left 14 k6 pods (2 CPU each) running in gitlab-ci since 06:02; with the runner itself that is
    30500m of the namespace's 32-CPU quota, so GitLab Runner cannot create any build pod."""
    soaked = 358.0
    (runner,) = cluster.pods_of("gitlab-ci", "gitlab-runner-shared")
    k6 = cluster.pods_of("gitlab-ci", "k6-checkout-soak")
    token = "x7Ab3kLq"
    runner.containers[0].noise = False
    runner.containers[0].env = [
        {"name": "CI_SERVER_URL", "value": "https://gitlab.example.com/"},
        {"name": "RUNNER_EXECUTOR", "value": "kubernetes"},
        {"name": "KUBERNETES_NAMESPACE", "value": "gitlab-ci"},
        {"name": "CACHE_TYPE", "value": "s3"},
        {"name": "CACHE_S3_ACCESS_KEY", "value": secrets.aws_access_key},
        {"name": "CACHE_S3_SECRET_KEY", "value": secrets.aws_secret_key},
    ]
    runner.resources = {"requests": {"cpu": "500m", "memory": "256Mi"}, "limits": {"memory": "256Mi"}}
    projects = ((412, "payments/ledger"), (388, "web/storefront"), (517, "platform/terraform-modules"),
                (603, "ml/feature-store"), (441, "mobile/api-gateway"))
    job_id = 7_779_000 + cluster.rng.randint(0, 900)
    window = max(runner.start, ago(360))
    for moment in _every(cluster, window + timedelta(seconds=40), NOW, 70, 260):
        job_id += cluster.rng.randint(1, 9)
        project, path = cluster.rng.choice(projects)
        slot = cluster.rng.randint(0, 15)
        runner.containers[0].lines.append(_logrus(moment, "info", "Checking for jobs... received", job=job_id,
                                                  repo_url=f"https://gitlab.example.com/{path}.git", runner=token))
        if moment < ago(soaked):
            took = cluster.rng.uniform(40, 600)
            runner.containers[0].lines.append(_logrus(moment + timedelta(seconds=took), "info", "Job succeeded",
                                                      duration_s=round(took, 3), job=job_id, project=project,
                                                      runner=token))
            continue
        build = f"runner-{token.lower()}-project-{project}-concurrent-{slot}-{cluster.suffix(8)}"
        message = (f'Job failed (system failure): prepare environment: setting up build pod: pods "{build}" is '
                   "forbidden: exceeded quota: ci-compute, requested: requests.cpu=2, used: requests.cpu=30500m, "
                   "limited: requests.cpu=32. Check https://docs.gitlab.com/runner/shells/index.html"
                   "#shell-profile-loading for more information")
        runner.containers[0].lines.append(_logrus(moment + timedelta(milliseconds=cluster.rng.randint(300, 500)),
                                                  "error", message, duration_s=round(cluster.rng.uniform(0.3, 0.5), 3),
                                                  job=job_id, project=project, runner=token))

    banner = [
        "",
        "         /\\      Grafana   /‾‾/  ",
        "    /\\  /  \\     |\\  __   /  /   ",
        "   /  \\/    \\    | |/ /  /   ‾‾\\ ",
        "  /          \\   |   (  |  (‾)  |",
        " / __________ \\  |_|\\_\\  \\_____/ ",
        "",
        "     execution: local",
        "        script: /scripts/checkout-soak.js",
        "        output: -",
        "",
        "     scenarios: (100.00%) 1 scenario, 200 max VUs, 8h0m30s max duration (incl. graceful stop):",
        "              * default: 200 looping VUs for 8h0m0s (gracefulStop: 30s)",
        "",
    ]
    for pod in k6:
        _pin(cluster, pod, pod.node, soaked + cluster.rng.uniform(0, 0.3))
        pod.resources = {"requests": {"cpu": "2", "memory": "2Gi"}, "limits": {"memory": "2Gi"}}
        pod.containers[0].noise = False
        pod.containers[0].env = [{"name": "K6_TARGET", "value": "http://checkout.staging.svc.cluster.local:8080"}]
        begin = _soon(cluster, pod.start, 2)
        pod.containers[0].lines += _block(begin, banner)
        iterations = 0
        for moment in _every(cluster, begin + timedelta(minutes=5), NOW, 290, 310):
            elapsed = moment - begin
            hours, rest = divmod(int(elapsed.total_seconds()), 3600)
            minutes, seconds = divmod(rest, 60)
            iterations += cluster.rng.randint(40_000, 44_000)
            progress = f"{hours}h{minutes:02d}m{seconds:02d}.0s"
            done = int(elapsed.total_seconds() * 100 / (8 * 3600))
            pod.containers[0].lines += _block(moment, [
                f"running ({progress}), 200/200 VUs, {iterations} complete and 0 interrupted iterations",
                f"default   [ {done:>3}% ] 200 VUs  {progress}/8h0m0s",
            ])
    soak = k6[0]
    cluster.ask(
        "cijobs-1", "Since early this morning nearly every GitLab CI job fails straight away with a 'system failure'. "
                    "What's going on?",
        "The runner cannot create build pods: the Kubernetes executor is refused by the gitlab-ci namespace's "
        "ResourceQuota ('pods \"runner-...\" is forbidden: exceeded quota: ci-compute, requested: requests.cpu=2, "
        "used: requests.cpu=30500m, limited: requests.cpu=32'), so each job ends in 'Job failed (system failure): "
        "prepare environment'. It has been like this since about 06:02; before that jobs succeeded.",
        "ci-namespace-quota-soak",
        Evidence(runner.namespace, runner.name, "exceeded quota: ci-compute"),
        facts=("exceeded quota|ci-compute", "requests.cpu"),
    )
    cluster.ask(
        "cijobs-2", "What is using up the CPU in the gitlab-ci namespace?",
        f"A k6 soak test: 14 k6-soak pods (e.g. {soak.name}), each requesting 2 CPUs, have been running since about "
        "06:02 ('200 looping VUs for 8h0m0s'). With the runner's own 500m that is the used requests.cpu=30500m of "
        "the 32-CPU ci-compute quota, leaving no room for a 2-CPU build pod. Stop or move the soak test (it "
        "belongs in a load-test namespace), or raise the quota.",
        "ci-namespace-quota-soak",
        Evidence(runner.namespace, runner.name, "used: requests.cpu=30500m"),
        Evidence(soak.namespace, soak.name, "200 looping VUs for 8h0m0s"),
        facts=("k6-checkout-soak", "30500m"),
    )


# ---------------------------------------------------------------- 5. admission webhook with no endpoints


def webhook_down(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """Kyverno's admission controller (one replica, 384Mi limit) is OOMKilled on every start since 11:20; its
    validating webhook fails closed, so the enforced fxdesk namespace cannot create any pod."""
    broken_since, rolled = 40.0, 36.0
    (kyverno,) = cluster.pods_of("platform-policy", "kyverno-admission")
    container = kyverno.containers[0]
    kyverno.resources = {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "384Mi"}}
    container.env = [{"name": "KYVERNO_SERVICEACCOUNT_NAME", "value": "kyverno-admission"},
                     {"name": "KYVERNO_SVC", "value": "kyverno-svc"}, {"name": "TUF_ROOT", "value": "/.sigstore"}]
    died = _soon(cluster, ago(1.9), 0)
    _crash_loop(cluster, kyverno, container, restarts=11, code=137, reason="OOMKilled", died=died, ran=31,
                since=ago(broken_since))
    start = died - timedelta(seconds=31, microseconds=cluster.rng.randint(0, 999_999))
    container.lines += [
        _klog(start, "I", "maxprocs.go:47", "maxprocs: Updating GOMAXPROCS=1: determined from CPU quota",
              logger="setup.maxprocs"),
        _klog(start, "I", "setup.go:160", "kyverno is starting...", logger="setup", version="v1.12.5"),
        _klog(start + timedelta(milliseconds=80), "I", "config.go:314", "load config", logger="config",
              name="platform-policy/kyverno"),
        _klog(start + timedelta(seconds=1), "I", "controller.go:91", "starting ...", logger="certmanager-controller"),
        _klog(start + timedelta(seconds=1, milliseconds=400), "I", "informers.go:39", "waiting for cache to sync...",
              logger="setup"),
        _klog(start + timedelta(seconds=14), "I", "informers.go:42", "cache synced", logger="setup",
              resources="policyreports.wgpolicyk8s.io, updaterequests.kyverno.io, clusterpolicies.kyverno.io"),
        _klog(start + timedelta(seconds=15), "I", "server.go:137", "starting webhook server", logger="webhooks.server",
              address=":9443"),
    ]
    cluster.event(("Pod", kyverno.namespace, kyverno.name), "Unhealthy",
                  f'Readiness probe failed: Get "https://{_pod_ip(kyverno)}:9443/health/readiness": dial tcp '
                  f"{_pod_ip(kyverno)}:9443: connect: connection refused", died - timedelta(seconds=4), warning=True,
                  count=38, host=kyverno.node, first=ago(broken_since - 0.3))

    old = cluster.pods_of("fx-pricing", "fx-rate-publisher")
    for pod in old:
        pod.containers[0].env = [{"name": "FEED_TOKEN", "value": secrets.jwt},
                                 {"name": "FEED_URL", "value": "wss://feeds.example.net/fx/v3"}]
    new_rs = f"fx-rate-publisher-{cluster.suffix(10)}"
    cluster.event(("Deployment", "fx-pricing", "fx-rate-publisher"), "ScalingReplicaSet",
                  f"Scaled up replica set {new_rs} to 1", ago(rolled), component="deployment-controller")
    refused = ('failed calling webhook "validate.kyverno.svc-fail": failed to call webhook: Post '
               '"https://kyverno-svc.platform-policy.svc:443/validate/fail?timeout=10s": no endpoints available for '
               'service "kyverno-svc"')
    rs = ("ReplicaSet", "fx-pricing", new_rs)
    for attempt in range(9):
        cluster.event(rs, "FailedCreate", f"Error creating: Internal error occurred: {refused}",
                      ago(rolled - 0.01 * (attempt + 1) - 0.005 * attempt ** 2), warning=True,
                      component="replicaset-controller")
    cluster.event(rs, "FailedCreate", f"(combined from similar events): Error creating: Internal error occurred: "
                                      f"{refused}", ago(0.8), warning=True, count=27, first=ago(rolled - 0.5),
                  component="replicaset-controller")
    cluster.ask(
        "admission-1", "The rate-publisher 2.7.0 rollout started at 11:24 but not a single new pod has been created. "
                       "What's blocking it?",
        f"The API server rejects every pod the new ReplicaSet {new_rs} tries to create: 'Internal error occurred: "
        "failed calling webhook \"validate.kyverno.svc-fail\": ... no endpoints available for service "
        "\"kyverno-svc\"'. Kyverno's validating webhook fails closed for this namespace and Kyverno has no ready pod "
        "behind its service, so nothing can be admitted. The two 2.6.3 pods keep serving.",
        "kyverno-webhook-no-endpoints",
        Evidence("fx-pricing", new_rs, 'Post "https://kyverno-svc.platform-policy.svc:443/validate/fail'),
        facts=("validate.kyverno.svc-fail|failed calling webhook", "no endpoints available"),
    )
    cluster.ask(
        "admission-2", "Why isn't Kyverno answering admission requests?",
        f"Its only admission controller pod, {kyverno.name}, is crash-looping: each start is OOMKilled (exit code "
        "137) about half a minute in, while it syncs its informer caches, because its memory limit is 384Mi. With "
        "no ready pod, kyverno-svc has no endpoints. Raise the memory limit (and run more than one replica), or "
        "clean up the policy reports it loads at start-up.",
        "kyverno-webhook-no-endpoints",
        Evidence(kyverno.namespace, kyverno.name,
                 f"Back-off restarting failed container kyverno in pod {kyverno.name}"),
        facts=("OOMKilled", "384Mi"),
    )


# ---------------------------------------------------------------- 6. PgBouncer switched to transaction pooling


_LOAN_APP = "loan-origination"
_HIBERNATE = "o.h.engine.jdbc.spi.SqlExceptionHelper"


def _prepared_failure(cluster: SampleCluster, moment: datetime, thread: str) -> list[tuple[datetime, str]]:
    """Hibernate + pgjdbc when a server-side prepared statement lands on another server connection."""
    number = cluster.rng.randint(1, 9)
    missing = cluster.rng.random() < 0.7
    text = f'prepared statement "S_{number}" ' + ("does not exist" if missing else "already exists")
    state = "26000" if missing else "42P05"
    query = ("select a1_0.id,a1_0.amount,a1_0.applicant_id,a1_0.product,a1_0.status from loan_application a1_0 "
             "where a1_0.applicant_id=?")
    servlet = "o.a.c.c.C.[.[.[/].[dispatcherServlet]"
    return [
        _spring(moment, "WARN", _LOAN_APP, thread, _HIBERNATE, f"SQL Error: 0, SQLState: {state}"),
        _spring(moment, "ERROR", _LOAN_APP, thread, _HIBERNATE, f"ERROR: {text}"),
        *_block(moment + timedelta(milliseconds=2), [
            _spring(moment, "ERROR", _LOAN_APP, thread, servlet, (
                "Servlet.service() for servlet [dispatcherServlet] in context with path [] threw exception [Request "
                "processing failed: org.springframework.dao.InvalidDataAccessResourceUsageException: JDBC exception "
                f"executing SQL [{query}] [ERROR: {text}] [n/a]; SQL [n/a]] with root cause"))[1],
            "",
            f"org.postgresql.util.PSQLException: ERROR: {text}",
            "\tat org.postgresql.core.v3.QueryExecutorImpl.receiveErrorResponse(QueryExecutorImpl.java:2725)",
            "\tat org.postgresql.core.v3.QueryExecutorImpl.processResults(QueryExecutorImpl.java:2412)",
            "\tat org.postgresql.core.v3.QueryExecutorImpl.execute(QueryExecutorImpl.java:371)",
            "\tat org.postgresql.jdbc.PgStatement.executeInternal(PgStatement.java:502)",
            "\tat org.postgresql.jdbc.PgStatement.execute(PgStatement.java:419)",
            "\tat org.postgresql.jdbc.PgPreparedStatement.executeWithFlags(PgPreparedStatement.java:194)",
            "\tat org.postgresql.jdbc.PgPreparedStatement.executeQuery(PgPreparedStatement.java:137)",
            "\tat com.zaxxer.hikari.pool.ProxyPreparedStatement.executeQuery(ProxyPreparedStatement.java:52)",
            "\tat com.zaxxer.hikari.pool.HikariProxyPreparedStatement.executeQuery(HikariProxyPreparedStatement.java)",
            "\tat org.hibernate.sql.results.jdbc.internal.DeferredResultSetAccess.executeQuery("
            "DeferredResultSetAccess.java:246)",
            "\tat org.hibernate.sql.results.jdbc.internal.DeferredResultSetAccess.getResultSet("
            "DeferredResultSetAccess.java:167)",
            "\tat com.acme.lending.origination.ApplicationService.submit(ApplicationService.java:88)",
            "\t... 48 common frames omitted",
        ]),
    ]


def pgbouncer_mode(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """At 10:35 loans-pgbouncer was redeployed with PGBOUNCER_POOL_MODE=transaction; PgBouncer 1.20 does not
    track protocol-level prepared statements, so pgjdbc's server-side statements (S_1, S_2...) land on other server
    connections and loan-origination's queries fail with 'prepared statement ... does not exist'."""
    switched = 85.0
    (bouncer,) = cluster.pods_of("consumer-lending", "loans-pgbouncer")
    _pin(cluster, bouncer, bouncer.node, switched)
    backend = "lending-aurora.cluster-cx81kq2fz0ab.us-east-1.rds.amazonaws.com"
    pgb = bouncer.containers[0]
    pgb.noise = False
    pgb.env = [
        {"name": "POSTGRESQL_HOST", "value": backend}, {"name": "POSTGRESQL_PORT", "value": "5432"},
        {"name": "POSTGRESQL_USERNAME", "value": "lending_app"},
        {"name": "POSTGRESQL_PASSWORD", "value": secrets.env_password},
        {"name": "PGBOUNCER_DATABASE", "value": "loans"}, {"name": "PGBOUNCER_PORT", "value": "6432"},
        {"name": "PGBOUNCER_POOL_MODE", "value": "transaction"},
        {"name": "PGBOUNCER_DEFAULT_POOL_SIZE", "value": "40"},
        {"name": "PGBOUNCER_MAX_CLIENT_CONN", "value": "2000"},
    ]
    start = _soon(cluster, ago(switched), 1)
    setup = ["", "Welcome to the Bitnami pgbouncer container",
             "Subscribe to project updates by watching https://github.com/bitnami/containers",
             "Submit issues and feature requests at https://github.com/bitnami/containers/issues", "",
             "** Starting PgBouncer setup **", "Validating settings in PGBOUNCER_* env vars...",
             "Initializing PgBouncer...", "Waiting for PostgreSQL backend to be accessible",
             f"Backend {backend}:5432 accessible", "Configuring credentials", "Creating configuration file",
             "Loading custom scripts...", "** PgBouncer setup finished! **", "", "** Starting PgBouncer **"]
    for offset, message in enumerate(setup):
        pgb.lines.append(_bitnami(start + timedelta(milliseconds=offset * 18), "pgbouncer", message))
    up = start + timedelta(milliseconds=400)
    stamp = f"{up:%Y-%m-%d %H:%M:%S}.{up.microsecond // 1000:03d} UTC"
    pgb.lines += _block(up, [
        f"{stamp} [1] LOG kernel file descriptor limit: 1048576 (hard: 1048576); max_client_conn: 2000, max expected "
        "fd use: 2012",
        f"{stamp} [1] LOG listening on 0.0.0.0:6432",
        f"{stamp} [1] LOG listening on unix:/tmp/.s.PGSQL.6432",
        f"{stamp} [1] LOG process up: PgBouncer 1.20.1, libevent 2.1.12-stable (epoll), adns: c-ares 1.19.1, "
        "tls: OpenSSL 3.0.9 30 May 2023",
    ])
    moment = up + timedelta(seconds=60)
    while moment < NOW:
        stamp = f"{moment:%Y-%m-%d %H:%M:%S}.{moment.microsecond // 1000:03d} UTC"
        xacts = cluster.rng.randint(180, 260)
        pgb.lines.append((moment, (
            f"{stamp} [1] LOG stats: {xacts} xacts/s, {xacts * cluster.rng.randint(5, 7)} queries/s, in "
            f"{cluster.rng.randint(280_000, 360_000)} B/s, out {cluster.rng.randint(800_000, 1_000_000)} B/s, xact "
            f"{cluster.rng.randint(2600, 3600)} us, query {cluster.rng.randint(350, 480)} us, wait "
            f"{cluster.rng.randint(10, 40)} us")))
        moment += timedelta(seconds=60)

    apps = cluster.pods_of("consumer-lending", "loan-origination-api")
    url = "jdbc:postgresql://loans-pgbouncer.consumer-lending.svc.cluster.local:6432/loans"
    for pod in apps:
        app = pod.containers[0]
        app.noise = False
        app.env = [{"name": "SPRING_DATASOURCE_URL", "value": url},
                   {"name": "SPRING_DATASOURCE_USERNAME", "value": "lending_app"},
                   {"name": "SPRING_PROFILES_ACTIVE", "value": "prod"}]
        for moment in _every(cluster, max(pod.start, ago(360)) + timedelta(seconds=20), NOW, 30, 110):
            thread = f"nio-8080-exec-{cluster.rng.randint(1, 10)}"
            if moment > ago(switched) and cluster.rng.random() < 0.4:
                app.lines += _prepared_failure(cluster, moment, thread)
                continue
            application = cluster.rng.randint(4_100_000, 4_900_000)
            app.lines.append(_spring(moment, "INFO", _LOAN_APP, thread, "c.a.l.origination.ApplicationService",
                                     f"application {application} submitted (product="
                                     f"{cluster.rng.choice(('PERSONAL', 'AUTO', 'HOME_IMPROVEMENT'))}, "
                                     f"amount={cluster.rng.randint(20, 400) * 100}, decision="
                                     f"{cluster.rng.choice(('APPROVED', 'REFERRED', 'DECLINED'))}) in "
                                     f"{cluster.rng.randint(60, 420)} ms"))
    victim = apps[0]
    cluster.ask(
        "pooler-1", "Loan applications have been failing with HTTP 500s on and off since about 10:35. What error is "
                    "loan-origination hitting?",
        "A PostgreSQL error on its own queries: 'org.postgresql.util.PSQLException: ERROR: prepared statement "
        "\"S_n\" does not exist' (SQLState 26000), and sometimes 'prepared statement ... already exists' (42P05), "
        "surfacing as InvalidDataAccessResourceUsageException and a 500. pgjdbc switches to named server-side "
        "prepared statements after a few executions, and those statements are not on the server connection the "
        "next query runs on.",
        "pgbouncer-transaction-prepared",
        Evidence(victim.namespace, victim.name, "from loan_application a1_0 where a1_0.applicant_id=?] [ERROR: "
                                                "prepared statement"),
        facts=("prepared statement", "does not exist|already exists"),
    )
    cluster.ask(
        "pooler-2", "Nobody deployed loan-origination today. What changed on its database path at 10:35 that breaks "
                    "its queries?",
        f"The connection pooler: loans-pgbouncer ({bouncer.name}) was restarted at 10:35 with "
        "PGBOUNCER_POOL_MODE=transaction. In transaction pooling PgBouncer 1.20.1 hands each transaction any server "
        "connection and does not carry protocol-level prepared statements across them, so loan-origination's "
        "server-side prepared statements break. Go back to session pooling, or set prepareThreshold=0 on the JDBC "
        "URL (or upgrade to PgBouncer 1.21+ with max_prepared_statements).",
        "pgbouncer-transaction-prepared",
        Evidence(bouncer.namespace, bouncer.name, "PGBOUNCER_POOL_MODE"),
        Evidence(bouncer.namespace, bouncer.name, "process up: PgBouncer 1.20.1"),
        facts=("PGBOUNCER_POOL_MODE|pool_mode|pool mode", "transaction"),
    )


# ---------------------------------------------------------------- 7. Kafka broker disk full, min ISR not met


_PARTITIONS = {  # partition -> (preferred leader, follower): the topic's replication factor is 2
    0: (0, 1), 1: (1, 2), 2: (2, 0), 3: (0, 2), 4: (1, 0), 5: (2, 1),
    6: (0, 1), 7: (1, 2), 8: (2, 0), 9: (0, 2), 10: (1, 0), 11: (2, 1),
}


def _left_with(broker: int) -> list[int]:
    """The partitions `broker` is left alone with once broker 2 is gone (it leads them, ISR just itself)."""
    return [p for p, replicas in _PARTITIONS.items() if 2 in replicas and broker in replicas]


def kafka_disk(cluster: SampleCluster) -> None:
    """clicks-kafka-2's data volume filled at 11:02; the broker stops with 'all log dirs ... have failed' and
    crash-loops. Topic clicks has replication factor 2 with min.insync.replicas=2, so every partition with a
    replica on broker 2 refuses acks=all writes and click-collector drops events."""
    full, restarts = 57.7, 11
    brokers = sorted(cluster.pods_of("web-analytics", "clicks-kafka"), key=lambda p: p.name)
    for pod in brokers:
        pod.claims = [f"data-{pod.name}"]
        pod.containers[0].noise = False
        pod.containers[0].env = [{"name": "KAFKA_CFG_PROCESS_ROLES", "value": "controller,broker"},
                                 {"name": "KAFKA_CFG_MIN_INSYNC_REPLICAS", "value": "2"},
                                 {"name": "KAFKA_CFG_DEFAULT_REPLICATION_FACTOR", "value": "2"},
                                 {"name": "KAFKA_CFG_LOG_DIRS", "value": "/bitnami/kafka/data"}]
    failed_at = _soon(cluster, ago(full), 0)
    offsets = {partition: cluster.rng.randint(900_000_000, 940_000_000) for partition in _PARTITIONS}
    for broker_id, pod in enumerate(brokers[:2]):
        kafka = pod.containers[0]
        for moment in _every(cluster, max(pod.start, ago(360)) + timedelta(seconds=30), NOW, 200, 520):
            partition = cluster.rng.choice([p for p, (leader, _) in _PARTITIONS.items() if leader == broker_id])
            offsets[partition] += cluster.rng.randint(300_000, 900_000)
            kafka.lines.append(_kafka(moment, "INFO", (
                f"[LocalLog partition=clicks-{partition}, dir=/bitnami/kafka/data] Rolled new log segment at offset "
                f"{offsets[partition]} in {cluster.rng.randint(1, 4)} ms."), "kafka.log.LocalLog"))
        shrunk = failed_at + timedelta(seconds=10, milliseconds=cluster.rng.randint(0, 900))
        led = _left_with(broker_id)
        for partition in [p for p in led if _PARTITIONS[p][0] == broker_id]:
            end = offsets[partition] + cluster.rng.randint(100, 900)
            kafka.lines += [
                _kafka(shrunk, "INFO", (
                    f"[Partition clicks-{partition} broker={broker_id}] Shrinking ISR from {broker_id},2 to "
                    f"{broker_id}. Leader: (highWatermark: {end - 57}, endOffset: {end}). Out of sync replicas: "
                    f"(brokerId: 2, endOffset: {end - 57}, lastCaughtUpTimeMs: {int(failed_at.timestamp() * 1000)})."),
                    "kafka.cluster.Partition"),
                _kafka(shrunk + timedelta(milliseconds=6), "INFO",
                       f"[Partition clicks-{partition} broker={broker_id}] ISR updated to {broker_id} and version "
                       f"updated to {cluster.rng.randint(30, 60)}", "kafka.cluster.Partition"),
            ]
        for moment in _every(cluster, shrunk + timedelta(seconds=1), NOW, 20, 90):
            partition = cluster.rng.choice(led)
            kafka.lines += _block(moment, [
                _kafka(moment, "ERROR", (f"[ReplicaManager broker={broker_id}] Error processing append operation on "
                                         f"partition clicks-{partition}"), "kafka.server.ReplicaManager")[1],
                "org.apache.kafka.common.errors.NotEnoughReplicasException: The size of the current ISR "
                f"Set({broker_id}) is insufficient to satisfy the min.isr requirement of 2 for partition "
                f"clicks-{partition}",
            ])

    bad = brokers[2]
    kafka = bad.containers[0]
    died = _soon(cluster, ago(3.1), 0)
    _crash_loop(cluster, bad, kafka, restarts=restarts, code=1, reason="Error", died=died, ran=24,
                since=ago(full - 0.1))
    start = died - timedelta(seconds=24)
    kafka.lines += [_bitnami(start, "kafka", message) for message in (
        "", "Welcome to the Bitnami kafka container", "** Starting Kafka setup **",
        "Initializing Kafka...", "No injected configuration files found, creating default config files",
        "Initializing KRaft storage metadata", "** Kafka setup finished! **", "", "** Starting Kafka **")]
    booted = start + timedelta(seconds=3)
    kafka.lines += [
        _kafka(booted, "INFO", "Registered kafka:type=kafka.Log4jController MBean",
               "kafka.utils.Log4jControllerRegistration$"),
        _kafka(booted + timedelta(milliseconds=600), "INFO", "[BrokerServer id=2] Transition from SHUTDOWN to STARTING",
               "kafka.server.BrokerServer"),
        _kafka(booted + timedelta(seconds=1), "INFO", "Loading logs from log dirs ArrayBuffer(/bitnami/kafka/data)",
               "kafka.log.LogManager"),
        _kafka(booted + timedelta(seconds=1, milliseconds=20), "INFO", (
            "Attempting recovery for all logs in /bitnami/kafka/data since no clean shutdown file was found"),
            "kafka.log.LogManager"),
    ]
    crash = died - timedelta(seconds=1)
    kafka.lines += _block(crash, [
        _kafka(crash, "ERROR", "Error while writing to checkpoint file "
                               "/bitnami/kafka/data/recovery-point-offset-checkpoint",
               "org.apache.kafka.storage.internals.log.LogDirFailureChannel")[1],
        "java.io.IOException: No space left on device",
        "\tat java.base/java.io.FileOutputStream.writeBytes(Native Method)",
        "\tat java.base/java.io.FileOutputStream.write(FileOutputStream.java:367)",
        "\tat java.base/sun.nio.cs.StreamEncoder.writeBytes(StreamEncoder.java:234)",
        "\tat java.base/sun.nio.cs.StreamEncoder.implFlushBuffer(StreamEncoder.java:313)",
        "\tat java.base/java.io.BufferedWriter.flush(BufferedWriter.java:256)",
        "\tat org.apache.kafka.server.common.CheckpointFile.write(CheckpointFile.java:82)",
        "\tat kafka.server.checkpoints.OffsetCheckpointFile.write(OffsetCheckpointFile.scala:62)",
        "\tat kafka.log.LogManager.checkpointRecoveryOffsetsInDir(LogManager.scala:727)",
        "\tat kafka.log.LogManager.loadLogs(LogManager.scala:477)",
        "\tat kafka.log.LogManager.startup(LogManager.scala:538)",
        "\tat kafka.server.BrokerServer.startup(BrokerServer.scala:381)",
    ])
    kafka.lines += [
        _kafka(crash + timedelta(milliseconds=9), "WARN", "[ReplicaManager broker=2] Stopping serving replicas in dir "
                                                          "/bitnami/kafka/data", "kafka.server.ReplicaManager"),
        _kafka(crash + timedelta(milliseconds=11), "WARN", "Stopping serving logs in dir /bitnami/kafka/data",
               "kafka.log.LogManager"),
        _kafka(crash + timedelta(milliseconds=12), "ERROR", "Shutdown broker because all log dirs in "
                                                            "/bitnami/kafka/data have failed", "kafka.log.LogManager"),
    ]

    collectors = cluster.pods_of("web-analytics", "click-collector")
    for index, pod in enumerate(collectors):
        app = pod.containers[0]
        app.noise = False
        client = f"click-collector-{index + 1}"
        app.env = [{"name": "KAFKA_BOOTSTRAP_SERVERS", "value": "clicks-kafka.web-analytics.svc.cluster.local:9092"},
                   {"name": "KAFKA_ACKS", "value": "all"}, {"name": "KAFKA_DELIVERY_TIMEOUT_MS", "value": "120000"}]
        network = f"kafka-producer-network-thread | {client}"
        correlation = cluster.rng.randint(80_000, 90_000)
        for moment in _every(cluster, max(pod.start, ago(360)) + timedelta(seconds=10), NOW, 45, 80):
            if moment < failed_at:
                app.lines.append(_logback(moment, "INFO", "publisher-1", "c.a.clickstream.ClickPublisher",
                                          f"flushed {cluster.rng.randint(400, 520)} events to clicks "
                                          f"(p99 send {cluster.rng.randint(4, 14)} ms)"))
                continue
            partition = cluster.rng.choice(_left_with(0) + _left_with(1))
            correlation += cluster.rng.randint(40, 400)
            app.lines.append(_logback(moment, "WARN", network, "o.a.k.c.producer.internals.Sender", (
                f"[Producer clientId={client}] Got error produce response with correlation id {correlation} on "
                f"topic-partition clicks-{partition}, retrying (2147483646 attempts left). Error: "
                "NOT_ENOUGH_REPLICAS")))
            if moment > failed_at + timedelta(minutes=2) and cluster.rng.random() < 0.5:
                count = cluster.rng.randint(300, 520)
                app.lines += _block(moment + timedelta(milliseconds=5), [
                    _logback(moment, "ERROR", network, "c.a.clickstream.ClickPublisher",
                             f"dropping {count} events: send to clicks-{partition} failed")[1],
                    f"org.apache.kafka.common.errors.TimeoutException: Expiring {count} record(s) for "
                    f"clicks-{partition}:{120_000 + cluster.rng.randint(0, 40)} ms has passed since batch creation",
                ])
    leader = brokers[0]
    cluster.ask(
        "minisr-1", "click-collector has been dropping click events since about 11:02. Why are its writes to Kafka "
                    "failing?",
        "The brokers refuse them: produce requests to the clicks partitions that have a replica on broker 2 come "
        "back with NOT_ENOUGH_REPLICAS, and the leaders log NotEnoughReplicasException ('The size of the current "
        "ISR Set(0) is insufficient to satisfy the min.isr requirement of 2'). The topic has only 2 replicas per "
        "partition and min.insync.replicas=2, so with broker 2 (clicks-kafka-2) down the ISR is 1 and acks=all "
        "writes are rejected until the batches expire after 120000 ms and are dropped.",
        "kafka-rf2-min-isr",
        Evidence(collectors[0].namespace, collectors[0].name,
                 "[Producer clientId=click-collector-1] Got error produce response with correlation id"),
        Evidence(leader.namespace, leader.name, "is insufficient to satisfy the min.isr requirement of 2 for partition "
                                                "clicks-"),
        facts=("NOT_ENOUGH_REPLICAS|NotEnoughReplicas", "min.isr requirement of 2|min.insync.replicas"),
    )
    cluster.ask(
        "minisr-2", "Why does one of the clickstream Kafka brokers keep restarting?",
        f"{bad.name} (broker 2) has a full data volume: on start-up it fails writing its recovery checkpoint with "
        "'java.io.IOException: No space left on device', marks /bitnami/kafka/data as failed and stops ('Shutdown "
        "broker because all log dirs in /bitnami/kafka/data have failed'), exit code 1, CrashLoopBackOff since "
        f"11:02. Expand its PVC (data-{bad.name}) or free space (retention) before it can rejoin.",
        "kafka-rf2-min-isr",
        Evidence(bad.namespace, bad.name, "Shutdown broker because all log dirs in /bitnami/kafka/data have failed"),
        facts=("No space left on device", bad.name),
    )


# ---------------------------------------------------------------- 8. liveness probe kills a long migration


_LEDGER = "gl-ledger"


def _spring_banner(moment: datetime) -> list[tuple[datetime, str]]:
    return _block(moment, [
        "",
        "  .   ____          _            __ _ _",
        " /\\\\ / ___'_ __ _ _(_)_ __  __ _ \\ \\ \\ \\",
        "( ( )\\___ | '_ | '_| | '_ \\/ _` | \\ \\ \\ \\",
        " \\\\/  ___)| |_)| | | | | || (_| |  ) ) ) )",
        "  '  |____| .__|_| |_|_| |_\\__, | / / / /",
        " =========|_|==============|___/=/_/_/_/",
        "",
        " :: Spring Boot ::                (v3.2.4)",
        "",
    ])


def liveness_migration(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """gl-ledger 7.3.0 ships Flyway migration V57, a backfill over the whole journal table that takes far
    longer than the liveness probe allows; Tomcat only listens once Flyway is done, so the kubelet kills the
    container about 90 s in, the migration rolls back, and it starts over."""
    rolled, restarts = 45.0, 9
    old = cluster.pods_of("treasury-core", _LEDGER)
    (new,) = add_pods(cluster, old[0].workload, 1, image=f"{_REGISTRY}/treasury-core/gl-ledger:7.3.0")
    _pin(cluster, new, new.node, rolled)
    env = [{"name": "SPRING_DATASOURCE_URL", "value": "jdbc:postgresql://treasury-db.treasury-core.svc:5432/ledger"},
           {"name": "JAVA_TOOL_OPTIONS", "value": "-XX:MaxRAMPercentage=75"},
           {"name": "ALERT_SLACK_WEBHOOK", "value": secrets.slack_webhook}]
    for pod in old:
        app = pod.containers[0]
        app.noise, app.env = False, env
        for moment in _every(cluster, max(pod.start, ago(360)) + timedelta(seconds=15), NOW, 40, 160):
            app.lines.append(_spring(moment, "INFO", _LEDGER, f"nio-8080-exec-{cluster.rng.randint(1, 10)}",
                                     "c.a.treasury.ledger.api.PostingController",
                                     f"posted journal batch {cluster.rng.randint(900_000, 999_999)} "
                                     f"({cluster.rng.randint(2, 60)} entries) in {cluster.rng.randint(8, 90)} ms"))
    cluster.event(("Deployment", "treasury-core", _LEDGER), "ScalingReplicaSet",
                  f"Scaled up replica set {new.owner[1]} to 1", ago(rolled + 0.01), component="deployment-controller")
    app = new.containers[0]
    app.noise, app.ready, app.restarts, app.env = False, False, restarts, env
    # initialDelaySeconds 90, periodSeconds 10, failureThreshold 3: killed 120 s in, restarted after a back-off
    killed, current = ago(2.45), ago(1.45)
    app.state = {"running": {"startedAt": _ts(current)}}
    app.last_state = {"terminated": {"exitCode": 143, "reason": "Error", "startedAt": _ts(killed - timedelta(
        seconds=120)), "finishedAt": _ts(killed + timedelta(seconds=1)), "containerID": _container_id(cluster)}}
    ref, ip = ("Pod", new.namespace, new.name), _pod_ip(new)
    first = ago(rolled - 1.1)
    cluster.event(ref, "Unhealthy", (f'Liveness probe failed: Get "http://{ip}:8080/actuator/health/liveness": dial '
                                     f"tcp {ip}:8080: connect: connection refused"),
                  killed, warning=True, count=restarts * 3, host=new.node, first=first)
    cluster.event(ref, "Unhealthy", (f'Readiness probe failed: Get "http://{ip}:8080/ready": dial tcp {ip}:8080: '
                                     "connect: connection refused"),
                  ago(0.2), warning=True, count=restarts * 9 + 7, host=new.node, first=ago(rolled - 0.2))
    cluster.event(ref, "Killing", "Container app failed liveness probe, will be restarted", killed,
                  count=restarts, host=new.node, first=first + timedelta(seconds=20))
    cluster.events = [e for e in cluster.events if not (e["involvedObject"]["name"] == new.name
                                                        and e["reason"] in ("Pulled", "Created", "Started"))]
    for reason, message in (("Pulled", f'Container image "{app.image}" already present on machine'),
                            ("Created", "Created container app"), ("Started", "Started container app")):
        cluster.event(ref, reason, message, current, count=restarts + 1, host=new.node, first=ago(rolled - 0.02))
    cluster.event(ref, "BackOff",
                  f"Back-off restarting failed container app in pod {new.name}_{new.namespace}({new.uid})", ago(1.6),
                  warning=True, count=4, host=new.node, first=ago(rolled - 12))

    start = _soon(cluster, current, 1)
    app.lines += _spring_banner(start)
    main = "main"
    steps = [
        (0.2, "INFO", "c.a.treasury.ledger.LedgerApplication", "Starting LedgerApplication v7.3.0 using Java 21.0.2 "
                                                               "with PID 1 (/app/app.jar started by app in /app)"),
        (0.2, "INFO", "c.a.treasury.ledger.LedgerApplication", 'The following 1 profile is active: "prod"'),
        (4.1, "INFO", "o.s.b.w.embedded.tomcat.TomcatWebServer", "Tomcat initialized with port 8080 (http)"),
        (4.2, "INFO", "o.apache.catalina.core.StandardService", "Starting service [Tomcat]"),
        (4.2, "INFO", "o.apache.catalina.core.StandardEngine", "Starting Servlet engine: [Apache Tomcat/10.1.19]"),
        (4.5, "INFO", "o.s.b.w.s.c.ServletWebServerApplicationContext", "Root WebApplicationContext: initialization "
                                                                         "completed in 4187 ms"),
        (5.3, "INFO", "o.f.c.i.license.VersionPrinter", "Flyway Community Edition 10.10.0 by Redgate"),
        (5.3, "INFO", "o.f.c.i.license.VersionPrinter", "See release notes here: https://rd.gt/416ObMi"),
        (5.4, "INFO", "com.zaxxer.hikari.HikariDataSource", "HikariPool-1 - Starting..."),
        (5.6, "INFO", "com.zaxxer.hikari.pool.HikariPool", "HikariPool-1 - Added connection "
                                                           "org.postgresql.jdbc.PgConnection@5e3a8624"),
        (5.6, "INFO", "com.zaxxer.hikari.HikariDataSource", "HikariPool-1 - Start completed."),
        (5.7, "INFO", "o.f.c.i.database.base.BaseDatabaseType",
         "Database: jdbc:postgresql://treasury-db.treasury-core.svc:5432/ledger (PostgreSQL 15.6)"),
        (5.9, "INFO", "o.f.core.internal.command.DbValidate", "Successfully validated 57 migrations (execution time "
                                                              "00:00.094s)"),
        (6.0, "INFO", "o.f.core.internal.command.DbMigrate", 'Current version of schema "public": 56'),
        (6.1, "INFO", "o.f.core.internal.command.DbMigrate",
         'Migrating schema "public" to version "57 - backfill entry hashes"'),
    ]
    for offset, level, logger, message in steps:
        app.lines.append(_spring(start + timedelta(seconds=offset), level, _LEDGER, main, logger, message))
    cluster.ask(
        "flyway-1", "gl-ledger 7.3.0 has restarted nine times since the 11:15 deploy. Is the app crashing?",
        "No, the kubelet is killing it. Its liveness probe gets 'connect: connection refused' on "
        "/actuator/health/liveness ('Liveness probe failed'), and after the failure threshold the kubelet logs "
        "'Container app failed liveness probe, will be restarted' and stops it (exit code 143, SIGTERM). The app is "
        "still starting up when that happens, so it never gets to listen on 8080.",
        "flyway-liveness-kill",
        Evidence(new.namespace, new.name, f'Liveness probe failed: Get "http://{ip}:8080/actuator/health/liveness"'),
        facts=("liveness probe", "connection refused"),
    )
    cluster.ask(
        "flyway-2", "What is the new gl-ledger pod in the middle of doing when it gets restarted?",
        "Running its database migration: Flyway validates 57 migrations and starts 'Migrating schema \"public\" to "
        "version \"57 - backfill entry hashes\"' from version 56. Tomcat only starts listening after the migration, "
        "so the liveness probe fails and the kill rolls the migration back each time; it can never finish. Give "
        "start-up time with a startupProbe (or run the migration as a separate Job before the rollout).",
        "flyway-liveness-kill",
        Evidence(new.namespace, new.name, 'Migrating schema "public" to version "57 - backfill entry hashes"'),
        facts=("Flyway", "57 - backfill entry hashes"),
    )


# ---------------------------------------------------------------- 9. HPA blind: no CPU request


def hpa_request(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """discovery-query-api 4.0.0 (rolled out at 09:40) sets only a memory request; the HPA targets CPU utilisation,
    cannot compute it for pods without a CPU request, and has not scaled since, while traffic grew from 10:30."""
    rolled, first = 140.0, 138.883
    pods = cluster.pods_of("product-discovery", "discovery-query-api")
    for pod in pods:
        _pin(cluster, pod, pod.node, rolled - cluster.rng.uniform(0, 0.6))
        pod.resources = {"requests": {"memory": "1Gi"}, "limits": {"memory": "1Gi"}}
        app = pod.containers[0]
        app.noise = False
        app.env = [{"name": "GOMEMLIMIT", "value": "900MiB"}, {"name": "INDEX_URL", "value": "http://opensearch:9200"}]
        begin = _soon(cluster, pod.start, 1)
        app.lines += [
            _zap(begin, "info", "query-api/main.go:61", "starting query-api", version="4.0.0", addr=":8080"),
            _zap(begin + timedelta(milliseconds=90), "info", "index/client.go:44", "connected to index",
                 cluster="search-prod", nodes=6),
        ]
        for moment in _every(cluster, begin + timedelta(seconds=5), NOW, 20, 70):
            busy = max(0.0, (moment - ago(90)).total_seconds() / 5400)
            latency = int(cluster.rng.uniform(20, 90) * (1 + 30 * busy))
            if latency > 300:
                app.lines.append(_zap(moment, "warn", "server/middleware.go:88", "request exceeded latency budget",
                                      route="/v2/search", latency_ms=latency, budget_ms=300,
                                      inflight=int(40 + 200 * busy)))
            else:
                app.lines.append(_zap(moment, "info", "server/middleware.go:97", "request", method="GET",
                                      route=cluster.rng.choice(("/v2/search", "/v2/search", "/v2/suggest")),
                                      status=200, latency_ms=latency))
    pods[0].containers[0].lines.append(_zap(pods[0].start + timedelta(minutes=30, seconds=2), "debug",
                                            "index/client.go:71", "index auth refreshed",
                                            authorization=f"Bearer {secrets.bearer_token}"))
    hpa = ("HorizontalPodAutoscaler", "product-discovery", "discovery-query-api")
    target = pods[0].name
    missing = f"failed to get cpu utilization: missing request for cpu in container app of Pod {target}"
    cluster.event(hpa, "FailedGetResourceMetric", missing, ago(0.2), warning=True, count=556,
                  first=ago(first), component="horizontal-pod-autoscaler")
    cluster.event(hpa, "FailedComputeMetricsReplicas", ("invalid metrics (1 invalid out of 1), first error is: "
                                                         f"failed to get cpu resource metric value: {missing}"),
                  ago(0.2), warning=True, count=556, first=ago(first), component="horizontal-pod-autoscaler")
    cluster.ask(
        "hpacpu-1", "query-api has been slow all morning under load, yet its autoscaler never added a pod. Why isn't "
                    "it scaling?",
        "The HPA cannot compute CPU utilisation, so it does nothing: every sync fails with 'failed to get cpu "
        f"utilization: missing request for cpu in container app of Pod {target}' (FailedGetResourceMetric, then "
        "FailedComputeMetricsReplicas 'invalid metrics (1 invalid out of 1)'). Utilisation is usage divided by the "
        "request, and the query-api containers have no CPU request.",
        "hpa-no-cpu-request",
        Evidence("product-discovery", "discovery-query-api",
                 f"missing request for cpu in container app of Pod {target}"),
        facts=("missing request for cpu", "FailedGetResourceMetric|failed to get cpu utilization"),
    )
    cluster.ask(
        "hpacpu-2", "Since when has query-api's autoscaling been broken, and which release broke it?",
        "Since 09:41, a minute after query-api 4.0.0 rolled out at 09:40: the HPA's metric errors start then (first "
        "seen 09:41, hundreds of times since). The 4.0.0 pods set only a memory request (1Gi) and no cpu request, so "
        "the CPU-utilisation target cannot be evaluated. Add resources.requests.cpu back to the app container.",
        "hpa-no-cpu-request",
        Evidence("product-discovery", "discovery-query-api",
                 f"first error is: failed to get cpu resource metric value: {missing}"),
        Evidence(pods[1].namespace, pods[1].name, "product-discovery/discovery-query-api:4.0.0"),
        facts=("09:41", "4.0.0"),
    )


# ---------------------------------------------------------------- 10. node NotReady: PLEG, hung containerd


def node_pleg(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """cpu-r-2's root volume stalled at 11:28: containerd hung in the kernel, the kubelet's PLEG stopped relisting,
    the node went NotReady at 11:32 and its address-geocoder pods were evicted by the taint manager and replaced."""
    stalled, not_ready = 31.0, 27.03
    node = cluster.node_named(STALLED_NODE)
    node["spec"]["taints"] = [
        {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule", "timeAdded": _ts(ago(not_ready))},
        {"key": "node.kubernetes.io/not-ready", "effect": "NoExecute", "timeAdded": _ts(ago(not_ready))},
    ]
    for condition in node["status"]["conditions"]:
        condition["lastHeartbeatTime"] = _ts(ago(0.4))
        if condition["type"] == "Ready":
            condition.update(status="False", reason="KubeletNotReady", lastTransitionTime=_ts(ago(not_ready)),
                             message="PLEG is not healthy: pleg was last seen active 30m42.118s ago; threshold is 3m0s")
    ref = ("Node", None, STALLED_NODE)
    cluster.event(ref, "NodeNotReady", f"Node {STALLED_NODE} status is now: NodeNotReady", ago(not_ready),
                  host=STALLED_NODE)
    cluster.event(ref, "TaskHung", "INFO: task jbd2/nvme0n1p1-8:412 blocked for more than 120 seconds.",
                  ago(5.2), warning=True, count=11, first=ago(stalled - 2), component="kernel-monitor",
                  host=STALLED_NODE)
    cluster.event(ref, "TaskHung", "INFO: task containerd:1187 blocked for more than 120 seconds.", ago(4.9),
                  warning=True, count=9, first=ago(stalled - 2.5), component="kernel-monitor", host=STALLED_NODE)

    geo = cluster.pods_of("geo-services", "address-geocoder")
    healthy, stuck = geo[0], geo[1:]
    _pin(cluster, healthy, "cpu-r-0")
    database = f"postgres://geocoder:{secrets.url_password}@geo-pg.geo-services.svc:5432/gazetteer"
    env = [{"name": "DATABASE_URL", "value": database},
           {"name": "GOOGLE_MAPS_API_KEY", "value": secrets.google_api_key}]
    for pod in geo:
        pod.containers[0].env = env
    for pod in stuck:
        _pin(cluster, pod, STALLED_NODE, (NOW - pod.start).total_seconds() / 60)
        app = pod.containers[0]
        app.noise = False
        for moment in _every(cluster, max(pod.start, ago(360)) + timedelta(seconds=5), ago(stalled), 15, 60):
            app.lines.append(_json(moment, "info", "geocode", q_len=cluster.rng.randint(8, 60),
                                   results=cluster.rng.randint(0, 5), duration_ms=cluster.rng.randint(4, 80)))
    on_node = [pod for pod in cluster.pods if pod.node == STALLED_NODE]
    for pod in on_node:
        for container in pod.containers:
            container.ready = False
        cluster.event(("Pod", pod.namespace, pod.name), "NodeNotReady", "Node is not ready", ago(not_ready - 0.67),
                      warning=True, component="node-controller")
        if pod.workload.kind != "DaemonSet":
            cluster.event(("Pod", pod.namespace, pod.name), "TaintManagerEviction",
                          f"Marking for deletion Pod {pod.namespace}/{pod.name}", ago(not_ready - 5.67),
                          component="taint-eviction-controller")
    replacements = add_pods(cluster, healthy.workload, len(stuck))
    for pod, target in zip(replacements, ("cpu-r-0", "cpu-r-1")):
        _forget(cluster, pod)
        pod.owner, pod.name = healthy.owner, f"{healthy.owner[1]}-{cluster.suffix()}"
        _pin(cluster, pod, target, not_ready - 5.7)
        pod.containers[0].env = env
        cluster.event(("ReplicaSet", pod.namespace, pod.owner[1]), "SuccessfulCreate", f"Created pod: {pod.name}",
                      ago(not_ready - 5.69), component="replicaset-controller")
    victim = stuck[0]
    cluster.ask(
        "pleg-1", "Two address-geocoder pods went unready around 11:33 and got replaced. What happened to them?",
        f"Their node, {STALLED_NODE}, went NotReady at about 11:33: the node controller marked the pods on it not "
        "ready ('Node is not ready') and, once the not-ready NoExecute taint's 300 s toleration ran out, the taint "
        f"eviction controller marked them for deletion ('Marking for deletion Pod geo-services/{victim.name}') and the "
        "ReplicaSet created two new ones on cpu-r-0 and cpu-r-1. Nothing was wrong with address-geocoder itself.",
        "pleg-hung-containerd",
        Evidence(victim.namespace, victim.name, f"Marking for deletion Pod geo-services/{victim.name}"),
        facts=(STALLED_NODE, "not ready|NotReady"),
    )
    cluster.ask(
        "pleg-2", "What is wrong with node cpu-r-2?",
        "Its kubelet reports Ready=False with 'PLEG is not healthy: pleg was last seen active 30m42.118s ago; "
        "threshold is 3m0s': the kubelet cannot relist containers because the container runtime is stuck. The kernel "
        "monitor shows why: 'task containerd:1187 blocked for more than 120 seconds' and the same for the root "
        "filesystem's journal (jbd2/nvme0n1p1-8), i.e. the root disk stopped completing I/O. Drain it and replace "
        "or reboot the node (and check the volume).",
        "pleg-hung-containerd",
        Evidence(None, STALLED_NODE, "pleg was last seen active 30m42.118s ago"),
        Evidence(None, STALLED_NODE, "task containerd:1187 blocked for more than 120 seconds"),
        facts=("PLEG is not healthy", "containerd"),
    )


def apply_all(cluster: SampleCluster) -> None:
    """Move the generator's pods to where they ran before the incidents, then plant the ten incidents."""
    secrets = cluster.secrets
    _placement(cluster)
    ib_rail(cluster, secrets)
    dev_shm(cluster)
    gpu_arch(cluster, secrets)
    ci_quota(cluster, secrets)
    webhook_down(cluster, secrets)
    pgbouncer_mode(cluster, secrets)
    kafka_disk(cluster)
    liveness_migration(cluster, secrets)
    hpa_request(cluster, secrets)
    node_pleg(cluster, secrets)
