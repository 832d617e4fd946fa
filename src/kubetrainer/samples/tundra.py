"""The tundra scenario: a tenth set of incidents, written blind for a held-out score of the on-call answers.

Selected with `build_cluster(scenario="tundra")` / `kubetrainer samples cluster
--scenario tundra`. It was written blind: without opening any diagnosis, answering,
retrieval, evaluation, training, investigation or serving code, their tests, the
documentation or benchmarks, or the held-out reserve scenario (only the other sample
scenarios and their tests were read), so nothing in it has been tuned against the tool.

Its theme is scheduling, storage, identity and platform operations. Ten incidents,
two questions each. Some causes sit in the failing pod's own log, some in Kubernetes
events, some in an object's spec or status (a pod's env, its namespace, a node's
labels, nodeInfo or instance type), and several in another object than the one
showing the symptom (a node-labelling DaemonSet, the local volume provisioner on
another node, another team's pod on the same GPUs, the node's containerd, a pending
sibling pod, the GitOps controller, a node-tuning DaemonSet). Messages are written
the way the component that prints them does: ExternalDNS's logrus lines and the AWS
SDK's WebIdentityErr, kube-scheduler's FailedScheduling summaries (PodTopologySpread,
VolumeBinding, NodeResourcesFit, TaintToleration) and the persistentvolume and
statefulset controllers, the sig-storage local-volume-provisioner's klog lines,
ScyllaDB's log, PyTorch's CUDA out-of-memory message and torchrun, uvicorn, nvidia-smi
and node-problem-detector's systemd monitor, Open MPI's ORTE and OpenSSH, the Priority
admission plugin and Argo CD's application controller, PostgreSQL's initdb, Vault
Agent's hclog output, and Helm 3 and kubectl.

Each question names its evidence (object + verbatim phrase) and the facts a right
answer must state; every fact is written verbatim in that evidence.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

from kubetrainer.samples.cluster import add_pods
from kubetrainer.samples.model import NOW, Evidence, SampleCluster, SampleContainer, SamplePod
from kubetrainer.samples.nodes import gpu_node, sample_nodes
from kubetrainer.samples.secrets import FakeSecrets
from kubetrainer.samples.workloads import ContainerSpec, Workload

_REGISTRY = "registry.example.com"
RACK_NODES = {"bm-r12-0": "r12", "bm-r12-1": "r12", "bm-r14-0": "r14", "bm-r14-1": "r14"}
BURST_NODES = ("bm-r16-0", "bm-r16-1")
NVME_NODES = ("i4i-nvme-0", "i4i-nvme-1", "i4i-nvme-2")
SMALL_NVME = "i4i-nvme-3"
A10G_NODES = ("gpu-a10g-batch-0", "gpu-a10g-batch-1")
RELOADED = A10G_NODES[1]
HVD_NODES = ("gpu-h100-hvd-0", "gpu-h100-hvd-1", "gpu-h100-hvd-2")
SANDBOX_NODE = "gpu-h100-sbx-0"
HUGEPAGE_NODE = "cpu-hp-0"
H100_PRODUCT = "NVIDIA-H100-80GB-HBM3"
# When nodes joined, in minutes before NOW (12:00 UTC): the r16 rack at 08:40, the small NVMe node at 09:30,
# the general-v3 node group's node yesterday at 17:20.
BURST_JOINED, NVME_JOINED, HUGEPAGE_JOINED = 200.0, 150.0, 1120.0


def _app(namespace: str, name: str, kind: str, image: str, style: str, *, container: str = "app",
         replicas: int = 1, gpu_vendor: str | None = None, gpus: int = 0, port: int | None = None,
         weight: float = 1.0) -> Workload:
    return Workload(namespace, name, kind, (ContainerSpec(container, image, style, weight),), replicas, gpu_vendor,
                    gpus, port)


# Healthy first (the generator places each of these); the incidents then break some.
WORKLOADS: tuple[Workload, ...] = (
    _app("edge-dns", "external-dns-public", "Deployment", "registry.k8s.io/external-dns/external-dns:v0.13.4",
         "controller", container="external-dns", weight=0.1),
    _app("edge-dns", "external-dns-private", "Deployment", "registry.k8s.io/external-dns/external-dns:v0.13.4",
         "controller", container="external-dns", weight=0.1),
    _app("card-auth", "auth-gateway", "Deployment", f"{_REGISTRY}/card-auth/auth-gateway:6.4.1", "json-api",
         replicas=10, port=8443, weight=2.0),
    _app("profile-store", "scylla-profiles", "StatefulSet", "docker.io/scylladb/scylla:5.4.3", "worker",
         container="scylla", replicas=4, port=9042, weight=0.3),
    _app("ranking-ml", "search-rerank-xl", "Deployment", f"{_REGISTRY}/ranking-ml/search-rerank-xl:2.3.0",
         "json-api", replicas=4, gpu_vendor="nvidia", gpus=1, port=8080, weight=1.0),
    _app("media-embed", "frame-embedder", "Deployment", f"{_REGISTRY}/media-embed/frame-embedder:1.7.2", "worker",
         replicas=2, gpu_vendor="nvidia", gpus=1, weight=1.0),
    _app("fraud-scoring", "txn-risk-scorer", "Deployment", f"{_REGISTRY}/fraud-scoring/txn-risk-scorer:3.1.4",
         "json-api", replicas=3, port=8080, weight=1.5),
    _app("gitops", "argocd-application-controller", "StatefulSet", "quay.io/argoproj/argocd:v2.10.7", "controller",
         container="application-controller", weight=0.2),
    _app("claims-intake", "claims-pg", "StatefulSet", "docker.io/library/postgres:15.6", "worker",
         container="postgres", port=5432, weight=0.3),
    _app("billing-core", "invoice-api", "Deployment", f"{_REGISTRY}/billing/invoice-api:4.2.0", "json-api",
         replicas=2, port=8080, weight=1.0),
    _app("partner-billing", "invoice-api", "Deployment", f"{_REGISTRY}/billing/invoice-api:4.2.0", "json-api",
         replicas=2, port=8080, weight=1.0),
    _app("quoting", "quote-pricer", "Deployment", f"{_REGISTRY}/quoting/quote-pricer:1.8.2", "json-api", replicas=2,
         port=8080, weight=1.0),
)

# Placed by their incidents, not by the generator (pinned DaemonSets, a job without a GPU request on a GPU node,
# MPI workers asking for 8 GPUs, one-off pipeline jobs).
_LABELER = _app("bm-platform", "lldp-rack-labeler", "DaemonSet", f"{_REGISTRY}/platform/lldp-rack-labeler:0.9.2",
                "controller", container="labeler", weight=0.02)
_PROVISIONER = _app("kube-system", "local-volume-provisioner", "DaemonSet",
                    "registry.k8s.io/sig-storage/local-volume-provisioner:v2.6.0", "controller",
                    container="provisioner", weight=0.02)
_ABLATION = _app("ds-sandbox", "moe-router-ablation", "Job", f"{_REGISTRY}/ds-sandbox/moe-lab:2026.03.2", "training",
                 container="trainer", gpu_vendor="nvidia", gpus=0)
_DETR_WORKER = _app("vision-train", "detr-hvd-r50-worker", "Job", f"{_REGISTRY}/vision/detr-horovod:0.28.1-cu121",
                    "training", container="worker", gpu_vendor="nvidia", gpus=8)
_DETR_LAUNCHER = _app("vision-train", "detr-hvd-r50-launcher", "Job",
                      f"{_REGISTRY}/vision/detr-horovod:0.28.1-cu121", "training", container="launcher")
_TUNER = _app("node-tuning", "sysctl-tuner", "DaemonSet", "docker.io/library/busybox:1.36.1", "controller",
              container="tuner", weight=0.01)
_DEPLOY = _app("quoting", "quote-pricer-deploy-1187", "Job", "docker.io/alpine/helm:3.14.4", "worker",
               container="deploy", weight=0.1)
PLACED: tuple[Workload, ...] = (_LABELER, _PROVISIONER, _ABLATION, _DETR_WORKER, _DETR_LAUNCHER, _TUNER, _DEPLOY)


# ---------------------------------------------------------------- time and helpers


def ago(minutes: float) -> datetime:
    return NOW - timedelta(minutes=minutes)


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _joined(node: dict, minutes: float) -> None:
    """A node that registered `minutes` ago: its creation and its conditions' transitions."""
    node["metadata"]["creationTimestamp"] = _ts(ago(minutes))
    for condition in node["status"]["conditions"]:
        condition["lastHeartbeatTime"] = _ts(ago(0.4))
        condition["lastTransitionTime"] = _ts(ago(minutes - (0.6 if condition["type"] == "Ready" else 0.1)))


def scenario_nodes() -> list[dict]:
    """The sample nodes plus this scenario's own.

    bm-r12-*/bm-r14-* are bare-metal nodes in racks r12 and r14; bm-r16-* joined at 08:40 from the new rack r16.
    i4i-nvme-* carry local NVMe disks for ScyllaDB (i4i-nvme-3, an i4i.2xlarge, joined at 09:30).
    gpu-a10g-batch-* run batch embedding, gpu-h100-hvd-* the Horovod workers, gpu-h100-sbx-0 serving and a sandbox.
    cpu-hp-0 is the general-v3 node group's node (joined yesterday), labelled with the dpdk-edge tuning profile.
    """
    extra = []
    for name, rack in RACK_NODES.items():
        node = gpu_node(name, None, None, 0, cpu="16", memory="131481688Ki", instance_type="bare-metal")
        node["metadata"]["labels"] |= {"node-pool": "baremetal", "topology.acme.io/rack": rack}
        extra.append(node)
    for name in BURST_NODES:
        node = gpu_node(name, None, None, 0, cpu="16", memory="131481688Ki", instance_type="bare-metal")
        node["metadata"]["labels"]["node-pool"] = "baremetal"
        _joined(node, BURST_JOINED)
        extra.append(node)
    dedicated = [{"key": "dedicated", "value": "scylla", "effect": "NoSchedule"}]
    for name in NVME_NODES:
        node = gpu_node(name, None, None, 0, cpu="16", memory="131481688Ki", instance_type="i4i.4xlarge",
                        taints=dedicated)
        node["metadata"]["labels"]["node-pool"] = "local-nvme"
        extra.append(node)
    small = gpu_node(SMALL_NVME, None, None, 0, cpu="8", memory="65856108Ki", instance_type="i4i.2xlarge",
                     taints=dedicated)
    small["metadata"]["labels"]["node-pool"] = "local-nvme"
    _joined(small, NVME_JOINED)
    extra.append(small)
    for name in A10G_NODES:
        node = gpu_node(name, "nvidia", "a10g", 4, cpu="48", memory="195784732Ki", instance_type="g5.12xlarge")
        node["metadata"]["labels"]["node-pool"] = "gpu-batch"
        extra.append(node)
    reloaded = next(node for node in extra if node["metadata"]["name"] == RELOADED)
    reloaded["status"]["nodeInfo"]["containerRuntimeVersion"] = "containerd://1.7.27"
    for name in (*HVD_NODES, SANDBOX_NODE):
        extra.append(gpu_node(name, "nvidia", "NVIDIA H100 80GB", 8))
    hugepages = gpu_node(HUGEPAGE_NODE, None, None, 0, cpu="16", memory="131481688Ki", instance_type="r7i.4xlarge")
    hugepages["metadata"]["labels"] |= {"eks.amazonaws.com/nodegroup": "general-v3",
                                        "acme.io/tuning-profile": "dpdk-edge"}
    hugepages["status"]["capacity"]["hugepages-2Mi"] = "16Gi"
    hugepages["status"]["allocatable"] |= {"hugepages-2Mi": "16Gi", "memory": "114704472Ki"}
    _joined(hugepages, HUGEPAGE_JOINED)
    extra.append(hugepages)
    return sample_nodes() + extra


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
                died: datetime, ran: float, since: datetime) -> None:
    """A container in CrashLoopBackOff: its last run lasted `ran` seconds and ended at `died`."""
    container.noise, container.ready, container.restarts = False, False, restarts
    container.state = {"waiting": {"reason": "CrashLoopBackOff", "message": (
        f"back-off 5m0s restarting failed container={container.spec.name} pod={pod.name}_{pod.namespace}({pod.uid})")}}
    container.last_state = {"terminated": {"exitCode": code, "reason": "Error",
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


def _placed(cluster: SampleCluster, workload: Workload, node: str, minutes: float | None = None) -> SamplePod:
    """One pod of a PLACED workload on `node` (a DaemonSet's pod for that node, a Job's pod)."""
    (pod,) = add_pods(cluster, workload, 1, node=node)
    if minutes is None:
        _keep(cluster, pod, node)
    else:
        _pin(cluster, pod, node, minutes)
    return pod


def _keep(cluster: SampleCluster, pod: SamplePod, node: str) -> None:
    """Run `pod` on `node` since its start (no fresh start-up events)."""
    _pin(cluster, pod, node, max((NOW - pod.start).total_seconds() / 60, 61.0))


def _is_new(node: str) -> float | None:
    """How many minutes ago `node` joined, for the nodes that joined recently."""
    return {**dict.fromkeys(BURST_NODES, BURST_JOINED), SMALL_NVME: NVME_JOINED,
            HUGEPAGE_NODE: HUGEPAGE_JOINED}.get(node)


def _placement(cluster: SampleCluster) -> None:
    """Where things ran before the incidents. The nodes that joined recently carry only DaemonSet pods started after
    they joined; the A10G, Horovod and sandbox GPU nodes are kept for their own workloads (the generator's other GPU
    pods run on gpu-a100-0); the two other H100 nodes run the sample cluster's single-GPU jobs."""
    own_gpu_nodes = (*A10G_NODES, *HVD_NODES, SANDBOX_NODE)
    spare = ("cpu-0", "cpu-1")
    for index, pod in enumerate(cluster.pods):
        joined = _is_new(pod.node)
        if pod.workload.kind == "DaemonSet":
            if joined is not None:
                _pin(cluster, pod, pod.node, joined - 1 - cluster.rng.uniform(0, 0.5))
            continue
        if joined is not None:
            _keep(cluster, pod, spare[index % 2])
        elif pod.node in own_gpu_nodes and pod.namespace not in ("ranking-ml", "media-embed"):
            _keep(cluster, pod, "gpu-a100-0")
    for (namespace, name), node in ((("ml-training", "llama-finetune"), "gpu-h100-0"),
                                    (("inference", "vllm-server"), "gpu-h100-1")):
        for pod in cluster.pods_of(namespace, name):
            _keep(cluster, pod, node)


# ---------------------------------------------------------------- kube-scheduler's view


def _quantity(text: str) -> float:
    for suffix, factor in (("Ki", 2 ** 10), ("Mi", 2 ** 20), ("Gi", 2 ** 30), ("Ti", 2 ** 40), ("m", 1e-3)):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


def _requests(pod: SamplePod) -> dict[str, float]:
    """What a pod requests in all (every container gets the pod's resources, as `dump.pod_document` writes them)."""
    if pod.resources is not None:
        each = dict(pod.resources.get("requests", {}))
    else:  # objects.pod_json's defaults
        gpus = pod.workload.gpus
        each = {"cpu": "8" if gpus else "500m", "memory": "64Gi" if gpus else "512Mi"}
        if pod.workload.gpu_vendor == "nvidia":
            each["nvidia.com/gpu"] = str(gpus)
    return {resource: _quantity(amount) * len(pod.containers) for resource, amount in each.items()}


def _fit_error(cluster: SampleCluster, requests: dict[str, str], *, tolerated: tuple[str, ...] = (),
               selector: dict[str, str] | None = None,
               later: Callable[[dict], str | None] | None = None) -> str:
    """kube-scheduler's FailedScheduling text for a pod: each node's first failing filter (NodeUnschedulable,
    TaintToleration, NodeAffinity, NodeResourcesFit, then `later` for VolumeBinding or PodTopologySpread), the
    `count reason` strings sorted, then the preemption summary. Raises if the pod would fit somewhere."""
    used: dict[str, Counter] = {}
    for pod in cluster.pods:
        if pod.node and pod.phase not in ("Succeeded", "Failed"):
            used.setdefault(pod.node, Counter()).update(_requests(pod))
    reasons: Counter = Counter()
    resolvable = 0
    for node in cluster.nodes:
        name, spec = node["metadata"]["name"], node["spec"]
        untolerated = [t for t in spec.get("taints", []) if t["effect"] in ("NoSchedule", "NoExecute")
                       and t["key"] not in tolerated]
        if spec.get("unschedulable"):
            reasons["node(s) were unschedulable"] += 1
            continue
        if untolerated:
            reasons[f"node(s) had untolerated taint {{{untolerated[0]['key']}: {untolerated[0].get('value', '')}}}"] += 1
            continue
        labels = node["metadata"]["labels"]
        if selector and any(labels.get(key) != value for key, value in selector.items()):
            reasons["node(s) didn't match Pod's node affinity/selector"] += 1
            continue
        allocatable = node["status"]["allocatable"]
        short = [resource for resource, amount in requests.items()
                 if _quantity(allocatable.get(resource, "0")) - used.get(name, Counter())[resource] < _quantity(amount)]
        if short:
            reasons.update(f"Insufficient {resource}" for resource in short)
            resolvable += 1
            continue
        reason = later(node) if later else None
        if reason is None:
            raise ValueError(f"the pod would fit on {name}")
        reasons[reason] += 1
    total = len(cluster.nodes)
    found = ", ".join(sorted(f"{count} {reason}" for reason, count in reasons.items()))
    summary = sorted(part for part in (
        f"{resolvable} No preemption victims found for incoming pod" if resolvable else "",
        f"{total - resolvable} Preemption is not helpful for scheduling" if total > resolvable else "") if part)
    return f"0/{total} nodes are available: {found}. preemption: 0/{total} nodes are available: {', '.join(summary)}."


# ---------------------------------------------------------------- line formats


def _pylog(moment: datetime, level: str, logger: str, message: str) -> tuple[datetime, str]:
    """Python logging's `%(asctime)s %(levelname)s %(name)s: %(message)s`."""
    return moment, f"{moment:%Y-%m-%d %H:%M:%S},{moment.microsecond // 1000:03d} {level} {logger}: {message}"


def _logfmt_value(value: object) -> str:
    """logrus's TextFormatter: bare when only letters, digits and -._/@^+, else Go-quoted."""
    text = str(value)
    if all(ch.isalnum() or ch in "-._/@^+" for ch in text):
        return text
    return json.dumps(text)


def _logrus(moment: datetime, level: str, message: str, fields: dict | None = None) -> tuple[datetime, str]:
    """logrus's text format (ExternalDNS, Argo CD): time, level, msg, then the fields sorted by key."""
    rest = "".join(f" {key}={_logfmt_value(value)}" for key, value in sorted((fields or {}).items()))
    return moment, f"time=\"{_ts(moment)}\" level={level} msg={json.dumps(message)}{rest}"


def _zap(moment: datetime, level: str, caller: str, message: str, **fields: object) -> tuple[datetime, str]:
    """zap's production JSON encoder (epoch-seconds ts)."""
    entry = {"level": level, "ts": round(moment.timestamp(), 6), "caller": caller, "msg": message, **fields}
    return moment, json.dumps(entry, separators=(",", ":"))


def _klog(moment: datetime, level: str, source: str, message: str) -> tuple[datetime, str]:
    """klog's text header, as the local-volume-provisioner prints it."""
    return moment, f"{level}{moment:%m%d %H:%M:%S}.{moment.microsecond:06d}       1 {source}] {message}"


def _scylla(moment: datetime, level: str, shard: str, logger: str, message: str) -> tuple[datetime, str]:
    """ScyllaDB's console log: `LEVEL  date time,ms [shard N:group] logger - message`."""
    return moment, (f"{level:<5} {moment:%Y-%m-%d %H:%M:%S},{moment.microsecond // 1000:03d} [shard {shard}] "
                    f"{logger} - {message}")


def _hclog(moment: datetime, level: str, name: str, message: str) -> tuple[datetime, str]:
    """Vault Agent's hclog line: `2026-03-14T11:25:03.114Z [INFO]  agent.auth.handler: ...`."""
    head = f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"
    return moment, f"{head} {'[' + level + ']':<7} {name}: {message}"


def _uvicorn(cluster: SampleCluster, moment: datetime, request: str, status: str) -> tuple[datetime, str]:
    client = f"10.244.{cluster.rng.randint(0, 7)}.{cluster.rng.randint(2, 250)}:{cluster.rng.randint(30000, 60000)}"
    return moment, f'INFO:     {client} - "{request} HTTP/1.1" {status}'


# ---------------------------------------------------------------- 1. ExternalDNS assumes the wrong IAM role


def _dns_env(role: str) -> list[dict]:
    """What the EKS pod identity webhook injects for a ServiceAccount annotated with eks.amazonaws.com/role-arn."""
    return [{"name": "AWS_STS_REGIONAL_ENDPOINTS", "value": "regional"},
            {"name": "AWS_DEFAULT_REGION", "value": "us-east-1"}, {"name": "AWS_REGION", "value": "us-east-1"},
            {"name": "AWS_ROLE_ARN", "value": f"arn:aws:iam::381492075316:role/{role}"},
            {"name": "AWS_WEB_IDENTITY_TOKEN_FILE",
             "value": "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"}]


def _dns_start(moment: datetime) -> list[tuple[datetime, str]]:
    return [
        _logrus(moment, "info", "Instantiating new Kubernetes client"),
        _logrus(moment, "info", "Using inCluster-config based on serviceaccount-token"),
        _logrus(moment + timedelta(milliseconds=3), "info", "Created Kubernetes client https://10.96.0.1:443"),
    ]


def irsa_wrong_role(cluster: SampleCluster) -> None:
    """external-dns-public's chart upgrade at 10:31 copied the staging values: its ServiceAccount now names the
    staging cluster's IAM role, whose trust policy does not trust this cluster's OIDC provider, so every sync fails
    to get credentials and no Route 53 record has been written since. The private-zone instance is fine."""
    rolled = 89.0
    (public,) = cluster.pods_of("edge-dns", "external-dns-public")
    (private,) = cluster.pods_of("edge-dns", "external-dns-private")
    _pin(cluster, public, public.node, rolled)
    public.containers[0].env = _dns_env("external-dns-staging-use1")
    private.containers[0].env = _dns_env("external-dns-private-prod-use1")
    for pod in (public, private):
        pod.containers[0].noise = False
    start = _soon(cluster, public.start, 2)
    public.containers[0].lines += _dns_start(start)
    for moment in _every(cluster, start + timedelta(seconds=1), NOW, 59.5, 61.5):
        public.containers[0].lines.append(_logrus(moment, "error", (
            "records retrieval failed: failed to list hosted zones: WebIdentityErr: failed to retrieve credentials\n"
            "caused by: AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity\n"
            f"\tstatus code: 403, request id: {cluster.uid()}")))
    private.containers[0].lines += _dns_start(_soon(cluster, private.start, 2))
    for moment in _every(cluster, max(private.start, ago(360)) + timedelta(seconds=5), NOW, 59.5, 61.5):
        private.containers[0].lines.append(_logrus(moment, "info", "All records are already up to date"))
    cluster.ask(
        "irsa-1", "The DNS record for our new status page never showed up in Route 53. Why isn't the public "
                  "ExternalDNS publishing anything?",
        f"It cannot get AWS credentials: since its 10:31 upgrade every sync of {public.name} fails with "
        "'WebIdentityErr: failed to retrieve credentials ... AccessDenied: Not authorized to perform "
        "sts:AssumeRoleWithWebIdentity' (status code 403), so it never lists the hosted zones and writes no records.",
        "irsa-wrong-role",
        Evidence(public.namespace, public.name, "Not authorized to perform sts:AssumeRoleWithWebIdentity"),
        facts=("AssumeRoleWithWebIdentity", "WebIdentityErr|AccessDenied"),
    )
    cluster.ask(
        "irsa-2", "The private-zone ExternalDNS works with the same setup. What is different about the public one's "
                  "AWS identity, and how do we fix it?",
        "Its ServiceAccount's role annotation, injected as AWS_ROLE_ARN, names the staging role "
        "arn:aws:iam::381492075316:role/external-dns-staging-use1 instead of a production one (the private instance "
        "uses external-dns-private-prod-use1); that role's trust policy does not trust this cluster's OIDC provider, "
        "hence AccessDenied. Point eks.amazonaws.com/role-arn at the production public-zone role and restart the pod.",
        "irsa-wrong-role",
        Evidence(public.namespace, public.name, "arn:aws:iam::381492075316:role/external-dns-staging-use1"),
        Evidence(private.namespace, private.name, "role/external-dns-private-prod-use1"),
        facts=("external-dns-staging-use1", "AWS_ROLE_ARN|role-arn"),
    )


# ---------------------------------------------------------------- 2. topology spread and a rack without its label


def topology_spread(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """auth-gateway spreads over topology.acme.io/rack (maxSkew 1, DoNotSchedule) on the bare-metal pool. Scaled
    from 8 to 10 at 11:20 for the promotion, the two new pods fit on no r12/r14 node (Insufficient cpu), and the
    r16 nodes racked this morning have no rack label: the LLDP labeller sees no switch neighbour there."""
    scaled = 40.0
    pods = cluster.pods_of("card-auth", "auth-gateway")
    running, pending = pods[:8], pods[8:]
    env = [{"name": "ISSUER_API_TOKEN", "value": secrets.bearer_token},
           {"name": "HSM_ENDPOINT", "value": "hsm-proxy.card-auth.svc:1500"}]
    for pod, node in zip(running, [name for name in RACK_NODES for _ in range(2)]):
        _keep(cluster, pod, node)
    for pod in pods:
        pod.resources = {"requests": {"cpu": "6", "memory": "4Gi"}, "limits": {"memory": "4Gi"}}
        pod.containers[0].env = env
    for pod in pending:
        cluster.unschedule(pod)
        pod.start = ago(scaled)
    cluster.event(("Deployment", "card-auth", "auth-gateway"), "ScalingReplicaSet",
                  f"Scaled up replica set {running[0].owner[1]} to 10 from 8", ago(scaled),
                  component="deployment-controller")

    labelers = {node: _placed(cluster, _LABELER, node, None if node in RACK_NODES else BURST_JOINED - 1)
                for node in (*RACK_NODES, *BURST_NODES)}
    for node, pod in labelers.items():
        labeler = pod.containers[0]
        labeler.noise = False
        labeler.env = [{"name": "NODE_NAME", "value": node}, {"name": "UPLINK_INTERFACE", "value": "eno1"},
                       {"name": "ALERT_SLACK_WEBHOOK", "value": secrets.slack_webhook}]
        begin = _soon(cluster, pod.start, 3)
        labeler.lines.append(_zap(begin, "info", "labeler/main.go:52", "starting lldp-rack-labeler",
                                  version="0.9.2", node=node, label="topology.acme.io/rack"))
        if node in RACK_NODES:
            rack = RACK_NODES[node]
            for moment in _every(cluster, _soon(cluster, max(begin, ago(360)), 30), NOW, 590, 610):
                labeler.lines.append(_zap(moment, "info", "labeler/sync.go:71", "rack label up to date", node=node,
                                          rack=rack, neighbor=f"tor-{rack}-a.dc1.acmepay.net",
                                          port=f"Ethernet1/{cluster.rng.randint(1, 32)}"))
            continue
        for moment in _every(cluster, begin + timedelta(seconds=120), NOW, 119.5, 121.5):
            labeler.lines.append(_zap(moment, "error", "labeler/lldp.go:88",
                                      "no LLDP neighbor seen on uplink; not setting rack label", node=node,
                                      interface="eno1", label="topology.acme.io/rack", waited="2m0s"))

    def spread(node: dict) -> str | None:
        if "topology.acme.io/rack" not in node["metadata"]["labels"]:
            return "node(s) didn't match pod topology spread constraints (missing required label)"
        return None

    message = _fit_error(cluster, {"cpu": "6", "memory": "4Gi"}, selector={"node-pool": "baremetal"}, later=spread)
    for pod in pending:
        cluster.event(("Pod", pod.namespace, pod.name), "FailedScheduling", message, ago(cluster.rng.uniform(0.3, 2)),
                      warning=True, count=cluster.rng.randint(14, 19), component="default-scheduler",
                      first=ago(scaled - 0.01))
    stuck, labeler = pending[0], labelers[BURST_NODES[0]]
    cluster.ask(
        "spread-1", "We scaled the card auth gateway to 10 replicas for the promotion at 11:20, but two pods are "
                    "still Pending. Why?",
        f"The scheduler cannot place them ({stuck.name}): the rack r12/r14 bare-metal nodes are full (Insufficient "
        "cpu, each new pod asks for 6 CPUs) and the only nodes with room fail the pod topology spread constraint "
        "('didn't match pod topology spread constraints (missing required label)'): they have no rack label for "
        "the spread's topology key, so the scheduler will not use them.",
        "spread-missing-rack-label",
        Evidence(stuck.namespace, stuck.name, "didn't match pod topology spread constraints (missing required label)"),
        facts=("topology spread", "Insufficient cpu"),
    )
    cluster.ask(
        "spread-2", "We racked two new bare-metal nodes this morning exactly for this promotion. Why aren't the "
                    "gateway pods landing on them?",
        f"The r16 nodes ({', '.join(BURST_NODES)}) never got their topology.acme.io/rack label: the "
        "lldp-rack-labeler on them logs 'no LLDP neighbor seen on uplink; not setting rack label' every two minutes "
        "since they joined at 08:40, so they fail the spread constraint (missing required label). Enable LLDP on "
        "the r16 top-of-rack switch ports (or label the nodes by hand) and the pending pods will schedule there.",
        "spread-missing-rack-label",
        Evidence(labeler.namespace, labeler.name, "no LLDP neighbor seen on uplink"),
        Evidence(stuck.namespace, stuck.name, "pod topology spread constraints"),
        facts=("topology.acme.io/rack", "LLDP"),
    )


# ---------------------------------------------------------------- 3. local PVs: the new NVMe node's disk is too small


_FULL_DISK, _SMALL_DISK = 3688245223424, 1844115128320
NVME_CREATED = "2026-01-05T09:12:00+00:00"  # nodes.CREATED: when the first three NVMe nodes joined


def _provisioner_start(cluster: SampleCluster, moment: datetime, capacity: int) -> list[tuple[datetime, str]]:
    name = f"local-pv-{_hex(cluster, 8)}"
    path = "/mnt/fast-disks/nvme1n1"
    steps = [
        (0.0, "main.go:98", "Starting controller"),
        (0.0, "main.go:102", "Starting metrics server at :8080"),
        (0.1, "controller.go:91", "Initializing volume cache"),
        (0.2, "controller.go:163", "Controller started"),
        (0.3, "discovery.go:423", f'Found new volume at host path "{path}" with capacity {capacity}, creating Local '
                                  f'PV "{name}", required volumeMode "Filesystem"'),
        (0.31, "cache.go:55", f'Added pv "{name}" to cache'),
        (0.32, "discovery.go:457", f'Created PV "{name}" for volume at "{path}"'),
    ]
    return [_klog(moment + timedelta(seconds=offset), "I", source, message) for offset, source, message in steps]


def local_pv_too_small(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """scylla-profiles grew from 3 to 4 members at 11:05. Its data lives on local NVMe PVs (StorageClass fast-disks,
    WaitForFirstConsumer, claims of 3Ti). The node added for member 3 is an i4i.2xlarge whose disk became a PV of only
    1844115128320 bytes, so no node offers a PV the claim fits and scylla-profiles-3 stays Pending."""
    scaled = 55.0
    pods = sorted(cluster.pods_of("profile-store", "scylla-profiles"), key=lambda p: p.name)
    for pod in pods:
        pod.claims = [f"data-{pod.name}"]
        pod.resources = {"requests": {"cpu": "6", "memory": "48Gi"}, "limits": {"cpu": "6", "memory": "48Gi"}}
        pod.containers[0].env = [{"name": "SCYLLA_SEEDS", "value": "scylla-profiles-0.scylla-profiles.profile-store"},
                                 {"name": "GOOGLE_KMS_API_KEY", "value": secrets.google_api_key}]
    for pod, node in zip(pods, NVME_NODES):
        _keep(cluster, pod, node)
        scylla = pod.containers[0]
        scylla.noise = False
        for moment in _every(cluster, max(pod.start, ago(360)) + timedelta(seconds=20), NOW, 120, 420):
            shard = cluster.rng.randint(0, 5)
            if cluster.rng.random() < 0.08:
                scylla.lines.append(_scylla(moment, "WARN", f"{shard}:stmt", "large_data", (
                    f"Writing large partition profiles/user_events: (user_id={cluster.rng.randint(10**6, 10**7)}) "
                    f"({cluster.rng.randint(101, 240)} MiB) to me-{cluster.rng.randint(3000, 9000)}-big-Data.db")))
                continue
            count = cluster.rng.randint(2, 6)
            scylla.lines.append(_scylla(moment, "INFO", f"{shard}:comp", "compaction", (
                f"[Compact profiles.user_events {cluster.uid()}] Compacted {count} sstables to "
                f"[me-{cluster.rng.randint(3000, 9000)}-big-Data.db:level=0]. "
                f"{cluster.rng.randint(200, 900)}MB to {cluster.rng.randint(100, 600)}MB "
                f"(~{cluster.rng.randint(55, 90)}% of original) in {cluster.rng.randint(2000, 9000)}ms")))
    new = pods[3]
    cluster.unschedule(new)
    new.start = ago(scaled)
    sts = ("StatefulSet", "profile-store", "scylla-profiles")
    claim = f"data-{new.name}"
    cluster.event(sts, "SuccessfulCreate", f"create Claim {claim} Pod {new.name} in StatefulSet scylla-profiles "
                                           "success", ago(scaled), component="statefulset-controller")
    cluster.event(sts, "SuccessfulCreate", f"create Pod {new.name} in StatefulSet scylla-profiles successful",
                  ago(scaled), component="statefulset-controller")
    cluster.event(("PersistentVolumeClaim", "profile-store", claim), "WaitForFirstConsumer",
                  "waiting for first consumer to be created before binding", ago(0.1), count=221,
                  component="persistentvolume-controller", first=ago(scaled))

    provisioners = {}
    since_january = (NOW - datetime.fromisoformat(NVME_CREATED)).total_seconds() / 60 - 2
    for node in (*NVME_NODES, SMALL_NVME):
        pod = _placed(cluster, _PROVISIONER, node, NVME_JOINED - 2 if node == SMALL_NVME else since_january)
        pod.containers[0].noise = False
        capacity = _SMALL_DISK if node == SMALL_NVME else _FULL_DISK
        pod.containers[0].lines += _provisioner_start(cluster, _soon(cluster, pod.start, 2), capacity)
        provisioners[node] = pod

    def volumes(node: dict) -> str | None:
        if node["metadata"]["labels"].get("node-pool") == "local-nvme":
            return "node(s) didn't find available persistent volumes to bind"
        return None

    message = _fit_error(cluster, {"cpu": "6", "memory": "48Gi"}, tolerated=("dedicated",),
                         selector={"node-pool": "local-nvme"}, later=volumes)
    cluster.event(("Pod", new.namespace, new.name), "FailedScheduling", message, ago(0.9), warning=True, count=17,
                  component="default-scheduler", first=ago(scaled))
    small = provisioners[SMALL_NVME]
    cluster.ask(
        "localpv-1", "scylla-profiles-3 has been Pending since we grew the profile store to four members at 11:05. "
                     "What's holding it?",
        f"Storage: its claim data-{new.name} (a WaitForFirstConsumer local-NVMe class) cannot be bound anywhere. "
        "The scheduler reports '4 node(s) didn't find available persistent volumes to bind' for the NVMe nodes (the "
        "rest are tainted or don't match its node selector): the three existing disks are bound to members 0-2 and "
        "no free local PV is big enough for the claim.",
        "local-pv-too-small",
        Evidence(new.namespace, new.name, "node(s) didn't find available persistent volumes to bind"),
        Evidence(new.namespace, claim, "waiting for first consumer to be created before binding"),
        facts=("didn't find available persistent volumes to bind", f"data-{new.name}"),
    )
    cluster.ask(
        "localpv-2", "We added a fourth NVMe node for the new Scylla member this morning. Why can't the member use "
                     "that node's disk?",
        f"Because that disk is too small. {SMALL_NVME} is an i4i.2xlarge, not an i4i.4xlarge like the other three: "
        f"the local-volume-provisioner there ({small.name}) created its PV with capacity 1844115128320 bytes (about "
        "1.7 TiB), while the claims ask for 3Ti (the i4i.4xlarge disks are 3688245223424 bytes). Replace it with an "
        "i4i.4xlarge (or lower the claim size for new members).",
        "local-pv-too-small",
        Evidence(small.namespace, small.name, "with capacity 1844115128320"),
        Evidence(None, SMALL_NVME, "i4i.2xlarge"),
        facts=("i4i.2xlarge", "1844115128320"),
    )


# ---------------------------------------------------------------- 4. a pod with NVIDIA_VISIBLE_DEVICES=all


_MEMORY_NOTE = ("If reserved but unallocated memory is large try setting PYTORCH_CUDA_ALLOC_CONF=expandable_segments:"
                "True to avoid fragmentation.  See documentation for Memory Management  "
                "(https://pytorch.org/docs/stable/notes/cuda.html#environment-variables)")


def visible_devices_all(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """A sandbox training job on gpu-h100-sbx-0 requests no GPU but sets NVIDIA_VISIBLE_DEVICES=all, so the NVIDIA
    runtime hands it all eight GPUs; since 10:47 its eight ranks fill the four GPUs the device plugin gave to the
    rerank service, which now fails batches with CUDA out of memory."""
    started = 73.0
    rerank = cluster.pods_of("ranking-ml", "search-rerank-xl")
    for pod in rerank:
        _keep(cluster, pod, SANDBOX_NODE)
        pod.containers[0].noise = False
        pod.containers[0].env = [{"name": "MODEL_NAME", "value": "acme/rerank-xl-v7"},
                                 {"name": "MAX_BATCH", "value": "64"},
                                 {"name": "OPENAI_API_KEY", "value": secrets.openai_key}]
    job = _placed(cluster, _ABLATION, SANDBOX_NODE, started)
    job.resources = {"requests": {"cpu": "32", "memory": "256Gi"}, "limits": {"memory": "256Gi"}}
    trainer = job.containers[0]
    trainer.noise = False
    trainer.env = [{"name": "NVIDIA_VISIBLE_DEVICES", "value": "all"},
                   {"name": "NVIDIA_DRIVER_CAPABILITIES", "value": "compute,utility"},
                   {"name": "EXPERIMENT", "value": "router-topk2-vs-topk1"}]
    begin = _soon(cluster, job.start, 3)
    stamp = f"{begin:%Y-%m-%d %H:%M:%S},{begin.microsecond // 1000:03d}"
    trainer.lines += _block(begin, [
        "+ exec torchrun --standalone --nnodes=1 --nproc_per_node=8 ablate.py --config configs/router_topk2.yaml",
        f"[{stamp}] torch.distributed.run: [WARNING] ",
        f"[{stamp}] torch.distributed.run: [WARNING] *****************************************",
        f"[{stamp}] torch.distributed.run: [WARNING] Setting OMP_NUM_THREADS environment variable for each process to "
        "be 1 in default, to avoid your system being overloaded, please further tune the variable for optimal "
        "performance in your application as needed. ",
        f"[{stamp}] torch.distributed.run: [WARNING] *****************************************",
    ])
    ready = begin + timedelta(seconds=21)
    trainer.lines.append(_pylog(ready, "INFO", "moe_lab", "world_size=8, backend=nccl, 8 visible CUDA devices"))
    pids = [2_718_830 + rank * 3 for rank in range(8)]
    for rank in range(8):
        free = 61.6 if rank < len(rerank) else 78.4
        trainer.lines.append(_pylog(ready + timedelta(milliseconds=rank * 7), "INFO", "moe_lab",
                                    f"rank {rank} (pid {pids[rank]}) on cuda:{rank} NVIDIA H100 80GB HBM3, "
                                    f"{free:.1f} GiB free of 79.1 GiB"))
    step = 0
    for moment in _every(cluster, ready + timedelta(seconds=90), NOW, 55, 65):
        step += 50
        trainer.lines.append(_pylog(moment, "INFO", "moe_lab", (
            f"step {step} | loss {3.9 - step / 4000 + cluster.rng.uniform(-0.04, 0.04):.4f} | router_aux "
            f"{cluster.rng.uniform(0.009, 0.016):.4f} | {cluster.rng.uniform(38, 44):.1f}k tok/s")))

    hit = ago(started - 0.6)
    packages = "/usr/local/lib/python3.11/site-packages"
    for index, pod in enumerate(rerank):
        app = pod.containers[0]
        own = 1_190_400 + index * 517
        for moment in _every(cluster, max(pod.start, ago(360)) + timedelta(seconds=5), NOW, 8, 40):
            if moment < hit:
                if cluster.rng.random() < 0.04:
                    app.lines.append(_pylog(moment, "WARNING", "rerank.server", (
                        f"slow batch: {cluster.rng.randint(56, 64)} candidates scored in "
                        f"{cluster.rng.randint(180, 260)} ms (budget 150 ms)")))
                else:
                    app.lines.append(_uvicorn(cluster, moment, "POST /v1/rerank", "200 OK"))
                continue
            if cluster.rng.random() < 0.35:
                app.lines.append(_uvicorn(cluster, moment, "POST /v1/rerank", "200 OK"))
                continue
            size = cluster.rng.choice(("1.50", "1.12", "2.25"))
            free = cluster.rng.choice(("402.94 MiB", "288.75 MiB", "517.06 MiB"))
            app.lines += _block(moment, [
                _pylog(moment, "ERROR", "rerank.server", f"batch {cluster.rng.randint(10**6, 10**7)} failed; "
                                                         "returning 503")[1],
                "Traceback (most recent call last):",
                '  File "/app/rerank/server.py", line 88, in score',
                "    logits = self.model(**features).logits",
                f'  File "{packages}/torch/nn/modules/module.py", line 1532, in _wrapped_call_impl',
                "    return self._call_impl(*args, **kwargs)",
                f'  File "{packages}/transformers/models/xlm_roberta/modeling_xlm_roberta.py", line 1205, in forward',
                "    outputs = self.roberta(",
                f"torch.OutOfMemoryError: CUDA out of memory. Tried to allocate {size} GiB. GPU 0 has a total capacity "
                f"of 79.11 GiB of which {free} is free. Process {pids[index]} has 61.13 GiB memory in use. Process "
                f"{own} has 17.55 GiB memory in use. Of the allocated memory 15.90 GiB is allocated by PyTorch, and "
                f"1.12 GiB is reserved by PyTorch but unallocated. {_MEMORY_NOTE}",
            ])
            app.lines.append(_uvicorn(cluster, moment + timedelta(milliseconds=3), "POST /v1/rerank",
                                      "503 Service Unavailable"))
    victim = rerank[0]
    cluster.ask(
        "gpuleak-1", "search-rerank-xl started failing requests with CUDA out-of-memory errors at 10:47. Nothing was "
                     "deployed and traffic is flat. What is eating its GPU memory?",
        f"Another pod on the same node: {job.name} (Job moe-router-ablation in ds-sandbox) runs eight training ranks "
        f"on {SANDBOX_NODE} since 10:47 and each uses one of the node's GPUs, including the four the rerank pods own. "
        f"The rerank OOM names a second process ('Process {pids[0]} has 61.13 GiB memory in use'), rank 0 of that "
        "job. It got the GPUs because its spec sets NVIDIA_VISIBLE_DEVICES=all.",
        "visible-devices-all",
        Evidence(victim.namespace, victim.name, f"Process {pids[0]} has 61.13 GiB memory in use"),
        Evidence(job.namespace, job.name, f"rank 0 (pid {pids[0]}) on cuda:0"),
        facts=("moe-router-ablation", "NVIDIA_VISIBLE_DEVICES"),
    )
    cluster.ask(
        "gpuleak-2", "How did a sandbox job that requests no GPUs get onto the rerank GPUs, and how do we stop it "
                     "happening again?",
        "Its container sets NVIDIA_VISIBLE_DEVICES=all, and the NVIDIA container runtime honours that variable for "
        "unprivileged pods, so the job sees every GPU on the node (its log shows world_size=8 and cuda:0-7) while "
        "the scheduler and device plugin think it uses none. Stop the job, make it request nvidia.com/gpu, and set "
        "accept-nvidia-visible-devices-envvar-when-unprivileged = false (device-list strategy volume-mounts).",
        "visible-devices-all",
        Evidence(job.namespace, job.name, "NVIDIA_VISIBLE_DEVICES"),
        Evidence(job.namespace, job.name, "world_size=8, backend=nccl"),
        facts=("NVIDIA_VISIBLE_DEVICES", "world_size=8|cuda:7"),
    )


# ---------------------------------------------------------------- 5. containerd upgrade takes the GPUs away


def nvml_after_reload(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """unattended-upgrades upgraded containerd on gpu-a10g-batch-1 at 11:08; the package's systemctl daemon-reload
    made systemd re-apply the container scopes' device rules, dropping the GPU access the NVIDIA hook had added.
    The frame-embedder replica there keeps running, but every job since fails to see a GPU."""
    upgraded = 52.0
    pods = cluster.pods_of("media-embed", "frame-embedder")
    healthy, broken = pods
    for pod, node in zip(pods, A10G_NODES):
        _keep(cluster, pod, node)
        pod.containers[0].noise = False
        pod.containers[0].env = [{"name": "MODEL_DIR", "value": "/models/siglip-so400m"},
                                 {"name": "MEDIA_API_JWT", "value": secrets.jwt},
                                 {"name": "MAX_TASKS_PER_CHILD", "value": "1"}]
    reload = _soon(cluster, ago(upgraded), 0)
    ref = ("Node", None, RELOADED)
    cluster.event(ref, "ContainerdStart", "Starting containerd container runtime...", reload, component="systemd-monitor",
                  host=RELOADED)
    packages = "/usr/local/lib/python3.11/site-packages"
    job = 8_811_000 + cluster.rng.randint(0, 900)
    for pod in pods:
        app = pod.containers[0]
        for moment in _every(cluster, max(pod.start, ago(360)) + timedelta(seconds=10), NOW, 30, 90):
            job += cluster.rng.randint(1, 4)
            child = cluster.rng.randint(20_000, 60_000)
            clip = f"s3://media-ingest/2026/03/14/clip-{_hex(cluster, 8)}.mp4"
            app.lines.append(_pylog(moment, "INFO", "frame_embedder.worker", f"job {job} started in child pid {child}"))
            if pod is healthy or moment < reload:
                if cluster.rng.random() < 0.06:
                    app.lines.append(_pylog(moment + timedelta(milliseconds=400), "WARNING", "frame_embedder.decode",
                                            f"{clip} has a variable frame rate; resampling to 2 fps"))
                frames = cluster.rng.randint(120, 480)
                app.lines.append(_pylog(moment + timedelta(seconds=cluster.rng.uniform(2, 5)), "INFO",
                                        "frame_embedder.worker",
                                        f"job {job}: embedded {frames} frames from {clip} (cuda:0, NVIDIA A10G)"))
                continue
            failed = moment + timedelta(milliseconds=cluster.rng.randint(700, 1100))
            app.lines.append(_pylog(moment + timedelta(milliseconds=300), "WARNING", "frame_embedder.gpucheck",
                                    "nvidia-smi failed (exit 255): Failed to initialize NVML: Unknown Error"))
            app.lines += _block(failed, [
                _pylog(failed, "ERROR", "frame_embedder.worker", f"job {job} failed")[1],
                "Traceback (most recent call last):",
                '  File "/app/frame_embedder/worker.py", line 141, in run_job',
                '    encoder = load_encoder(settings.model_dir, device="cuda")',
                '  File "/app/frame_embedder/model.py", line 37, in load_encoder',
                "    return model.to(device).eval()",
                f'  File "{packages}/torch/nn/modules/module.py", line 1173, in to',
                "    return self._apply(convert)",
                f'  File "{packages}/torch/nn/modules/module.py", line 804, in _apply',
                "    param_applied = fn(param)",
                f'  File "{packages}/torch/nn/modules/module.py", line 1159, in convert',
                "    return t.to(",
                f'  File "{packages}/torch/cuda/__init__.py", line 293, in _lazy_init',
                "    torch._C._cuda_init()",
                "RuntimeError: No CUDA GPUs are available",
            ])
            app.lines.append(_pylog(failed + timedelta(milliseconds=4), "INFO", "frame_embedder.worker",
                                    f"job {job} requeued (attempt {cluster.rng.randint(2, 5)}/5)"))
    for pod in cluster.pods:  # the GPU exporter on that node lost its devices too and stopped reporting
        if pod.node == RELOADED and pod.workload.name == "nvidia-dcgm-exporter":
            pod.containers[0].noise = False
            for moment in _every(cluster, ago(360), reload, 25, 35):
                pod.containers[0].lines.append((moment, (
                    f'time="{_ts(moment)}" level=info msg="Collected metrics" gpu={cluster.rng.randint(0, 3)} '
                    f"util={cluster.rng.randint(40, 95)} mem_used_mib={cluster.rng.randint(6000, 14000)} "
                    f"temp_c={cluster.rng.randint(48, 70)} power_w={cluster.rng.randint(90, 260)}")))
    cluster.ask(
        "nvmlreload-1", "One frame-embedder replica has failed every job since about 11:08, yet the pod is Running "
                        "and Ready. What is wrong with it?",
        f"The container has lost access to its GPU: on {RELOADED} each job's child process fails with "
        "'RuntimeError: No CUDA GPUs are available' and the worker's GPU check gets 'Failed to initialize NVML: "
        "Unknown Error' from nvidia-smi. The process itself is fine, so the pod stays Running; the replica on the "
        "other node keeps working. Restarting (deleting) the pod gives the new container its GPU back.",
        "nvml-lost-after-containerd-upgrade",
        Evidence(broken.namespace, broken.name, "Failed to initialize NVML: Unknown Error"),
        facts=("Failed to initialize NVML|NVML", "No CUDA GPUs are available"),
    )
    cluster.ask(
        "nvmlreload-2", f"What happened on {RELOADED} around 11:08, and how do we keep it from happening again?",
        "containerd was upgraded and restarted there (node-problem-detector's systemd monitor reported 'Starting "
        "containerd container runtime...' at 11:08; the node now runs containerd 1.7.27 while the other nodes run "
        "1.7.19). The package's systemctl daemon-reload made systemd rewrite the containers' cgroup device rules and "
        "drop the NVIDIA devices. Recreate the GPU pods on the node, exclude containerd from unattended upgrades on "
        "GPU nodes, and run nvidia-ctk system create-dev-char-symlinks (or use CDI) so a reload keeps the devices.",
        "nvml-lost-after-containerd-upgrade",
        Evidence(None, RELOADED, "Starting containerd container runtime..."),
        Evidence(None, RELOADED, "containerd://1.7.27"),
        facts=("containerd", "1.7.27"),
    )


# ---------------------------------------------------------------- 6. an MPIJob worker that cannot be scheduled


_ORTE_HELP = [
    "--------------------------------------------------------------------------",
    "ORTE was unable to reliably start one or more daemons.",
    "This usually is caused by:",
    "",
    "* not finding the required libraries and/or binaries on",
    "  one or more nodes. Please check your PATH and LD_LIBRARY_PATH",
    "  settings, or configure OMPI with --enable-orterun-prefix-by-default",
    "",
    "* lack of authority to execute on one or more specified nodes.",
    "  Please verify your allocation and authorities.",
    "",
    "* the inability to write startup files into /tmp (--tmpdir/orte_tmpdir_base).",
    "  Please check with your sys admin to determine the correct location to use.",
    "",
    "*  compilation of the orted with dynamic libraries when static are required",
    "  (e.g., on Cray). Please check your configure cmd line and consider using",
    "  one of the contrib/platform definitions for your system type.",
    "",
    "* an inability to create a connection back to mpirun due to a",
    "  lack of common network interfaces and/or no route found between",
    "  them. Please check network connectivity (including firewalls",
    "  and network routing).",
    "--------------------------------------------------------------------------",
]


def mpijob_worker_pending(cluster: SampleCluster) -> None:
    """The detr-hvd-r50 MPIJob (4 workers x 8 H100) was submitted at 11:21. Workers 0-2 run on the Horovod nodes,
    worker 3 cannot be scheduled (no H100 node has 8 free GPUs), so it has no IP and no DNS record. The launcher is
    created at once, mpirun's ssh to worker 3 cannot resolve its name, ORTE gives up, and the launcher Job retried
    until its backoff limit at 11:43."""
    submitted = 39.0
    workers = add_pods(cluster, _DETR_WORKER, 4, node=HVD_NODES[0])
    for index, pod in enumerate(workers):
        _forget(cluster, pod)
        pod.name, pod.owner = f"detr-hvd-r50-worker-{index}", ("MPIJob", "detr-hvd-r50")
        pod.resources = {"requests": {"cpu": "32", "memory": "480Gi", "nvidia.com/gpu": "8"},
                         "limits": {"memory": "480Gi", "nvidia.com/gpu": "8"}}
        pod.containers[0].env = [{"name": "K_MPI_JOB_ROLE", "value": "worker"},
                                 {"name": "NCCL_SOCKET_IFNAME", "value": "eth0"}]
    for pod, node in zip(workers, HVD_NODES):
        _pin(cluster, pod, node, submitted - 0.02)
        sshd = pod.containers[0]
        sshd.noise = False
        sshd.lines += _block(_soon(cluster, pod.start, 4), ["Server listening on 0.0.0.0 port 22.",
                                                            "Server listening on :: port 22."])
    pending = workers[3]
    cluster.unschedule(pending)
    pending.start = ago(submitted - 0.02)
    fqdn = "detr-hvd-r50-worker-3.detr-hvd-r50.vision-train.svc"

    attempts = (38.4, 37.7, 36.4, 33.8, 28.6, 22.6, 16.6)  # the Job controller's back-off: 10 s doubling, 6 min cap
    launchers = []
    for number, began in enumerate(attempts):
        pod = _placed(cluster, _DETR_LAUNCHER, "cpu-1", began)
        pod.resources = {"requests": {"cpu": "2", "memory": "4Gi"}, "limits": {"memory": "4Gi"}}
        launcher = pod.containers[0]
        launcher.env = [{"name": "OMPI_MCA_orte_default_hostfile", "value": "/etc/mpi/hostfile"},
                        {"name": "OMPI_MCA_plm_rsh_args", "value": "-o ConnectionAttempts=10"},
                        {"name": "OMPI_MCA_orte_keep_fqdn_hostnames", "value": "true"},
                        {"name": "K_MPI_JOB_ROLE", "value": "launcher"}]
        begin = _soon(cluster, pod.start, 2)
        failed = begin + timedelta(seconds=cluster.rng.uniform(1.5, 3))
        launcher.lines += _block(failed, [f"ssh: Could not resolve hostname {fqdn}: Name or service not known",
                                          *_ORTE_HELP])
        _terminated(cluster, pod, 1, "Error", pod.start, failed + timedelta(seconds=1))
        for worker in workers[:3]:
            port = cluster.rng.randint(33000, 60999)
            worker.containers[0].lines += [
                (begin + timedelta(milliseconds=600), f"Accepted publickey for root from {_pod_ip(pod)} port {port} "
                                                      f"ssh2: ED25519 SHA256:{_hex(cluster, 43)}"),
                (failed + timedelta(milliseconds=200), f"Received disconnect from {_pod_ip(pod)} port {port}:11: "
                                                       "disconnected by user"),
            ]
        job = ("Job", "vision-train", "detr-hvd-r50-launcher")
        cluster.event(job, "SuccessfulCreate", f"Created pod: {pod.name}", ago(began), component="job-controller")
        launchers.append(pod)
    cluster.event(("Job", "vision-train", "detr-hvd-r50-launcher"), "BackoffLimitExceeded",
                  "Job has reached the specified backoff limit", ago(attempts[-1] - 0.05), warning=True,
                  component="job-controller")

    message = _fit_error(cluster, {"cpu": "32", "memory": "480Gi", "nvidia.com/gpu": "8"},
                         tolerated=("nvidia.com/gpu",), selector={"nvidia.com/gpu.product": H100_PRODUCT})
    short = message.split(" Insufficient nvidia.com/gpu")[0].rsplit(" ", 1)[-1]
    cluster.event(("Pod", pending.namespace, pending.name), "FailedScheduling", message, ago(1.1), warning=True,
                  count=23, component="default-scheduler", first=ago(submitted - 0.02))
    last = launchers[-1]
    cluster.ask(
        "mpiworker-1", "The detr Horovod job we submitted at 11:21 never started training and its launcher failed "
                       "over and over until the Job gave up. Why?",
        "Because one of its four workers never ran: detr-hvd-r50-worker-3 is Pending, the scheduler reports "
        f"'{short} Insufficient nvidia.com/gpu' for the H100 nodes (it needs 8 GPUs on one node and none has 8 free). "
        "A pod that is not scheduled has no IP and no DNS record, so every launcher attempt's mpirun fails at once "
        f"('ssh: Could not resolve hostname {fqdn}', then ORTE was unable to reliably start one or more daemons).",
        "mpijob-worker-pending",
        Evidence(last.namespace, last.name, "ssh: Could not resolve hostname detr-hvd-r50-worker-3"),
        Evidence(pending.namespace, pending.name, f"{short} Insufficient nvidia.com/gpu"),
        facts=("worker-3", "Insufficient nvidia.com/gpu"),
    )
    cluster.ask(
        "mpiworker-2", "Is this a cluster DNS or ssh problem for the detr launcher? What would actually let the job "
                       "start?",
        "Neither. Only worker-3's name fails to resolve, because that pod is still Pending (Unschedulable, waiting "
        "for 8 free nvidia.com/gpu on an H100 node); workers 0-2 accepted the launcher's ssh connections. Free a whole "
        "H100 node (or run the job with three workers), and make the launcher wait for all workers (mpi-operator's "
        "launcherCreationPolicy: WaitForWorkersReady, or gang scheduling); then resubmit, since the launcher Job has "
        "hit its backoff limit.",
        "mpijob-worker-pending",
        Evidence(last.namespace, last.name, "ORTE was unable to reliably start one or more daemons."),
        Evidence(pending.namespace, pending.name, "Unschedulable"),
        facts=("Unschedulable|Pending", "nvidia.com/gpu"),
    )


# ---------------------------------------------------------------- 7. a PriorityClass pruned by GitOps


def _argo_reconciled(cluster: SampleCluster, moment: datetime, app: str, namespace: str) -> tuple[datetime, str]:
    return _logrus(moment, "info", "Reconciliation completed", {
        "application": f"gitops/{app}", "dedup_ms": 0, "dest-name": "", "dest-namespace": namespace,
        "dest-server": "https://kubernetes.default.svc", "diff_ms": cluster.rng.randint(2, 40), "fields.level": 1,
        "git_ms": cluster.rng.randint(0, 30), "health_ms": cluster.rng.randint(0, 4),
        "live_ms": cluster.rng.randint(1, 9), "patch_ms": 0, "setop_ms": 0, "settings_ms": 0, "sync_ms": 0,
        "time_ms": cluster.rng.randint(20, 140)})


def priorityclass_pruned(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """Argo CD synced the platform-baseline app at 10:05: the new naming standard created tier-1-critical and
    tier-3-batch and pruned business-critical and batch-low. txn-risk-scorer's chart still names business-critical;
    its running pods predate the prune, but the 3.2.0 rollout at 11:12 cannot create a single pod."""
    synced, rolled = 115.0, 48.0
    old = cluster.pods_of("fraud-scoring", "txn-risk-scorer")
    for pod in old:
        pod.containers[0].env = [
            {"name": "DATABASE_URL",
             "value": f"postgres://risk:{secrets.url_password}@risk-pg.fraud-scoring.svc:5432/risk"},
            {"name": "MODEL_VERSION", "value": "gbm-2026-02-27"}]
    new_rs = f"txn-risk-scorer-{cluster.suffix(10)}"
    cluster.event(("Deployment", "fraud-scoring", "txn-risk-scorer"), "ScalingReplicaSet",
                  f"Scaled up replica set {new_rs} to 1", ago(rolled), component="deployment-controller")
    refused = f'pods "{new_rs}-" is forbidden: no PriorityClass with name business-critical was found'
    rs = ("ReplicaSet", "fraud-scoring", new_rs)
    for attempt in range(9):
        cluster.event(rs, "FailedCreate", f"Error creating: {refused}",
                      ago(rolled - 0.01 * (attempt + 1) - 0.005 * attempt ** 2), warning=True,
                      component="replicaset-controller")
    cluster.event(rs, "FailedCreate", f"(combined from similar events): Error creating: {refused}", ago(0.7),
                  warning=True, count=31, first=ago(rolled - 0.5), component="replicaset-controller")

    (argo,) = cluster.pods_of("gitops", "argocd-application-controller")
    controller = argo.containers[0]
    controller.noise = False
    controller.env = [{"name": "ARGOCD_CONTROLLER_REPLICAS", "value": "1"},
                      {"name": "ARGOCD_RECONCILIATION_TIMEOUT", "value": "180s"}]
    apps = (("payments-api", "payments"), ("txn-risk-scorer", "fraud-scoring"), ("quote-pricer", "quoting"),
            ("platform-baseline", ""), ("edge-dns", "edge-dns"))
    for moment in _every(cluster, max(argo.start, ago(360)) + timedelta(seconds=30), NOW, 40, 110):
        app, namespace = cluster.rng.choice(apps)
        controller.lines.append(_argo_reconciled(cluster, moment, app, namespace))
    sync = _soon(cluster, ago(synced), 0)
    revision = _hex(cluster, 40)
    sync_id = f"00{cluster.rng.randint(100, 999)}-{cluster.suffix()}"
    base = {"application": "gitops/platform-baseline", "namespace": "", "phase": "Sync", "syncId": sync_id}
    results = (("Synced", "Running", "priorityclass.scheduling.k8s.io/tier-1-critical created", "tier-1-critical"),
               ("Synced", "Running", "priorityclass.scheduling.k8s.io/tier-3-batch created", "tier-3-batch"),
               ("Pruned", "Succeeded", "pruned", "business-critical"),
               ("Pruned", "Succeeded", "pruned", "batch-low"))
    event = {"application": "gitops/platform-baseline", "dest-namespace": "",
             "dest-server": "https://kubernetes.default.svc", "type": "Normal"}
    controller.lines.append(_logrus(sync, "info", f"Initiated automated sync to '{revision}'",
                                    {**event, "reason": "OperationStarted"}))
    for offset, (status, phase, message, name) in enumerate(results):
        controller.lines.append(_logrus(sync + timedelta(milliseconds=400 + 60 * offset), "info",
                                        f"Adding resource result, status: '{status}', phase: '{phase}', "
                                        f"message: '{message}'", {**base, "kind": "PriorityClass", "name": name}))
    controller.lines.append(_logrus(sync + timedelta(seconds=1, milliseconds=200), "info",
                                    f"Sync operation to {revision} succeeded", {**event, "reason": "OperationCompleted"}))
    cluster.ask(
        "prioclass-1", "txn-risk-scorer 3.2.0 was rolled out at 11:12 but not one new pod has appeared. What's "
                       "blocking the rollout?",
        f"The API server refuses every pod of the new ReplicaSet {new_rs}: 'pods ... is forbidden: no PriorityClass "
        "with name business-critical was found'. The pod template still sets priorityClassName business-critical, "
        "which no longer exists; the three old pods keep running because they were admitted before it was deleted.",
        "priorityclass-pruned",
        Evidence("fraud-scoring", new_rs, "no PriorityClass with name business-critical was found"),
        facts=("PriorityClass", "business-critical"),
    )
    cluster.ask(
        "prioclass-2", "Where did the business-critical priority class go, and what should txn-risk-scorer use "
                       "instead?",
        "Argo CD pruned it at 10:05: the automated sync of the platform-baseline application created tier-1-critical "
        "and tier-3-batch and pruned business-critical and batch-low (the new naming standard). Set "
        "priorityClassName: tier-1-critical in the txn-risk-scorer chart (or restore business-critical in "
        "platform-baseline until every chart has moved).",
        "priorityclass-pruned",
        Evidence(argo.namespace, argo.name, "kind=PriorityClass name=business-critical"),
        Evidence("fraud-scoring", new_rs, f'pods "{new_rs}-" is forbidden'),
        facts=("platform-baseline", "tier-1-critical"),
    )


# ---------------------------------------------------------------- 8. PostgreSQL's initdb and a node's hugepages


_INITDB = [
    'The files belonging to this database system will be owned by user "postgres".',
    "This user must also own the server process.",
    "",
    'The database cluster will be initialized with locale "en_US.utf8".',
    'The default database encoding has accordingly been set to "UTF8".',
    'The default text search configuration will be set to "english".',
    "",
    "Data page checksums are disabled.",
    "",
    "fixing permissions on existing directory /var/lib/postgresql/data/pgdata ... ok",
    "creating subdirectories ... ok",
    "selecting dynamic shared memory implementation ... posix",
    "selecting default max_connections ... 20",
    "selecting default shared_buffers ... 400kB",
    "selecting default time zone ... Etc/UTC",
    "creating configuration files ... ok",
    "running bootstrap script ... Bus error (core dumped)",
    "child process exited with exit code 135",
    'initdb: removing contents of data directory "/var/lib/postgresql/data/pgdata"',
]


def postgres_hugepages(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """The general-v3 node group was created from the dpdk-edge launch template, so its node carries the dpdk-edge
    tuning profile and sysctl-tuner reserves 8192 2Mi hugepages there. claims-pg (new at 11:35) landed on it:
    PostgreSQL's huge_pages=try maps hugepages, the pod's hugetlb limit is 0 (it requests no hugepages-2Mi), and
    initdb's bootstrap dies of SIGBUS on every start."""
    created = 25.0
    (pg,) = cluster.pods_of("claims-intake", "claims-pg")
    pg.claims = [f"data-{pg.name}"]
    _pin(cluster, pg, HUGEPAGE_NODE, created)
    pg.resources = {"requests": {"cpu": "2", "memory": "8Gi"}, "limits": {"memory": "8Gi"}}
    postgres = pg.containers[0]
    postgres.env = [{"name": "POSTGRES_DB", "value": "claims"}, {"name": "POSTGRES_USER", "value": "claims"},
                    {"name": "POSTGRES_PASSWORD", "value": secrets.env_password},
                    {"name": "PGDATA", "value": "/var/lib/postgresql/data/pgdata"}]
    died = _soon(cluster, ago(1.7), 0)
    _crash_loop(cluster, pg, postgres, restarts=8, code=1, died=died, ran=2, since=ago(created - 0.05))
    postgres.lines += _block(died - timedelta(seconds=1), _INITDB)
    cluster.event(("StatefulSet", "claims-intake", "claims-pg"), "SuccessfulCreate",
                  f"create Pod {pg.name} in StatefulSet claims-pg successful", ago(created),
                  component="statefulset-controller")

    tuners = {}
    for node, profile in (("cpu-0", "general"), ("cpu-1", "general"), (HUGEPAGE_NODE, "dpdk-edge")):
        pod = _placed(cluster, _TUNER, node, HUGEPAGE_JOINED - 1 if node == HUGEPAGE_NODE else None)
        tuner = pod.containers[0]
        tuner.noise = False
        tuner.env = [{"name": "NODE_NAME", "value": node}, {"name": "PROFILE_LABEL", "value": "acme.io/tuning-profile"}]
        begin = _soon(cluster, pod.start, 2)
        settings = (["vm.nr_hugepages = 8192", "vm.max_map_count = 262144", "net.core.rmem_max = 134217728"]
                    if profile == "dpdk-edge" else ["vm.max_map_count = 262144", "net.core.somaxconn = 4096"])
        lines = [f"{_ts(begin)} sysctl-tuner: node={node} profile={profile}", *settings]
        if profile == "dpdk-edge":
            lines.append(f"{_ts(begin)} sysctl-tuner: HugePages_Total:    8192")
        lines.append(f"{_ts(begin)} sysctl-tuner: profile applied; sleeping")
        tuner.lines += _block(begin, lines)
        tuners[node] = pod
    tuner = tuners[HUGEPAGE_NODE]
    cluster.ask(
        "hugepg-1", "The new claims-pg database has been crash-looping ever since it was created at 11:35. Why won't "
                    "it initialise?",
        "initdb itself crashes: its bootstrap process is killed by SIGBUS ('running bootstrap script ... Bus error "
        "(core dumped)', child exit code 135; the tiny 'max_connections ... 20' and 'shared_buffers ... 400kB' "
        "defaults mean every probe crashed the same way), initdb removes the data directory and the container exits "
        "1, so it starts over each time. That is PostgreSQL mapping hugepages the pod is not allowed to use.",
        "postgres-hugepages-sigbus",
        Evidence(pg.namespace, pg.name, "running bootstrap script ... Bus error (core dumped)"),
        facts=("Bus error", "bootstrap script|initdb"),
    )
    cluster.ask(
        "hugepg-2", "Our other PostgreSQL databases start fine. What is different about where claims-pg runs, and "
                    "what should we change?",
        f"It runs on {HUGEPAGE_NODE}, the general-v3 node carrying the dpdk-edge tuning profile, so sysctl-tuner "
        "set vm.nr_hugepages = 8192 (16Gi of 2Mi hugepages) there. PostgreSQL's default huge_pages=try gets a "
        "hugepage mapping, but the pod requests no hugepages-2Mi, so its hugetlb limit is 0 and the first touch "
        "raises SIGBUS. Fix the node group's profile label (or keep databases off it), or request hugepages-2Mi "
        "for claims-pg.",
        "postgres-hugepages-sigbus",
        Evidence(tuner.namespace, tuner.name, "vm.nr_hugepages = 8192"),
        Evidence(None, HUGEPAGE_NODE, "dpdk-edge"),
        facts=("vm.nr_hugepages|HugePages", "dpdk-edge"),
    )


# ---------------------------------------------------------------- 9. Vault rejects a new namespace


_VAULT_IMAGE = "docker.io/hashicorp/vault:1.15.4"
_VAULT_LOGIN = "http://vault.vault-system.svc:8200/v1/auth/kubernetes/login"


def _vault_banner(moment: datetime) -> list[tuple[datetime, str]]:
    return _block(moment, [
        "==> Vault Agent started! Log data will stream in below:",
        "",
        "==> Vault Agent configuration:",
        "",
        "           Api Address 1: http://bufconn",
        "                     Cgo: disabled",
        "               Log Level: info",
        "                 Version: Vault v1.15.4, built 2023-12-04T17:45:28Z",
        "             Version Sha: 9b61934559ba31150860e618cf18e816cbddc630",
        "",
    ]) + [
        _hclog(moment, "INFO", "agent.sink.file", "creating file sink"),
        _hclog(moment, "INFO", "agent.sink.file", "file sink configured: path=/home/vault/.vault-token "
                                                  "mode=-rw-r-----"),
        _hclog(moment, "INFO", "agent.template.server", "starting template server"),
        _hclog(moment, "INFO", "agent.auth.handler", "starting auth handler"),
        _hclog(moment, "INFO", "agent.auth.handler", "authenticating"),
    ]


def _go_duration(seconds: float) -> str:
    """A back-off as Go's time.Duration prints it, rounded to 10 ms the way Vault Agent logs it."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    minutes, rest = divmod(round(seconds, 2), 60)
    text = f"{rest:.2f}".rstrip("0").rstrip(".") + "s"
    return f"{int(minutes)}m{text}" if minutes else text


def _with_vault(pod: SamplePod) -> tuple[SampleContainer, SampleContainer]:
    """The Vault Agent injector's init container and sidecar."""
    started = {"running": {"startedAt": _ts(pod.start)}}
    init = SampleContainer(ContainerSpec("vault-agent-init", _VAULT_IMAGE, "controller", 0.0), _VAULT_IMAGE,
                           dict(started), noise=False)
    sidecar = SampleContainer(ContainerSpec("vault-agent", _VAULT_IMAGE, "controller", 0.0), _VAULT_IMAGE,
                              dict(started), noise=False)
    pod.init_containers.append(init)
    pod.containers.append(sidecar)
    return init, sidecar


def vault_namespace(cluster: SampleCluster) -> None:
    """invoice-api moved to the partner-billing namespace at 11:25. The Vault role it logs in with is bound only to
    the billing-core namespace, so Vault Agent's login in the new pods gets 'namespace not authorized' and their
    init container retries forever; the billing-core pods keep running."""
    moved = 35.0
    for pod in cluster.pods_of("billing-core", "invoice-api"):
        init, sidecar = _with_vault(pod)
        init.state = {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": _ts(pod.start),
                                     "finishedAt": _ts(pod.start + timedelta(seconds=2))}}
        init.ready = True
        begin = _soon(cluster, pod.start, 0.3)
        init.lines += _vault_banner(begin) + [
            _hclog(begin + timedelta(milliseconds=40), "INFO", "agent.auth.handler",
                   "authentication successful, sending token to sinks"),
            _hclog(begin + timedelta(milliseconds=41), "INFO", "agent.sink.file", "token written: "
                                                                                  "path=/home/vault/.vault-token"),
            _hclog(begin + timedelta(milliseconds=60), "INFO", "agent", '(runner) rendered "(dynamic)" => '
                                                                        '"/vault/secrets/db-creds"'),
        ]
        for moment in _every(cluster, max(pod.start, ago(360)) + timedelta(minutes=5), NOW, 1700, 1900):
            sidecar.lines.append(_hclog(moment, "INFO", "agent.auth.handler", "renewed auth token"))
    new = cluster.pods_of("partner-billing", "invoice-api")
    for pod in new:
        _forget(cluster, pod)
        pod.start = ago(moved - cluster.rng.uniform(0, 0.2))
        init, sidecar = _with_vault(pod)
        init.state = {"running": {"startedAt": _ts(pod.start + timedelta(seconds=1))}}
        init.ready = False
        pod.phase = "Pending"
        pod.conditions = {"Initialized": "False"}
        for container in pod.containers:
            container.state = {"waiting": {"reason": "PodInitializing"}}
            container.ready, container.noise = False, False
        ref = ("Pod", pod.namespace, pod.name)
        cluster.event(ref, "Scheduled", f"Successfully assigned {pod.namespace}/{pod.name} to {pod.node}", pod.start,
                      component="default-scheduler")
        moment = pod.start + timedelta(seconds=1)
        cluster.event(ref, "Pulled", f'Container image "{_VAULT_IMAGE}" already present on machine', moment,
                      host=pod.node)
        cluster.event(ref, "Created", "Created container vault-agent-init", moment, host=pod.node)
        cluster.event(ref, "Started", "Started container vault-agent-init", moment, host=pod.node)
        begin = _soon(cluster, pod.start, 1.2)
        init.lines += _vault_banner(begin)
        moment, backoff = begin, 1.0
        while moment < NOW:
            wait = backoff * cluster.rng.uniform(0.75, 1.0)
            init.lines += _block(moment + timedelta(milliseconds=4), [
                _hclog(moment + timedelta(milliseconds=4), "ERROR", "agent.auth.handler", "error authenticating:")[1],
                "  error=",
                "  | Error making API request.",
                "  |",
                f"  | URL: PUT {_VAULT_LOGIN}",
                "  | Code: 403. Errors:",
                "  |",
                "  | * namespace not authorized",
                f"   backoff={_go_duration(wait)}",
            ])
            moment += timedelta(seconds=wait)
            if moment < NOW:
                init.lines.append(_hclog(moment, "INFO", "agent.auth.handler", "authenticating"))
            backoff = min(backoff * 2, 300.0)
    old = cluster.pods_of("billing-core", "invoice-api")[0]
    stuck, other = new
    cluster.ask(
        "vaultns-1", "The invoice-api pods we deployed to partner-billing at 11:25 are stuck initialising. What are "
                     "they waiting for?",
        f"For Vault. Their vault-agent-init init container ({stuck.name}) cannot log in: every attempt at "
        f"auth/kubernetes/login gets 'Code: 403 ... namespace not authorized' and retries with back-off, so the "
        "init container never finishes and the app container stays in PodInitializing.",
        "vault-namespace-not-bound",
        Evidence(stuck.namespace, stuck.name, "* namespace not authorized"),
        facts=("namespace not authorized", "vault-agent-init|Vault"),
    )
    cluster.ask(
        "vaultns-2", "The same invoice-api image logs in to Vault fine in its old namespace. Why does Vault reject "
                     "the new pods, and what's the fix?",
        "The Vault Kubernetes auth role is bound to the service account in billing-core only: the billing-core pods "
        "get 'authentication successful', the pods in partner-billing are refused with 'namespace not authorized'. "
        "Add partner-billing to the role's bound_service_account_namespaces (vault write auth/kubernetes/role/...), "
        "and the stuck init containers will log in on their next retry.",
        "vault-namespace-not-bound",
        Evidence(old.namespace, old.name, "authentication successful, sending token to sinks"),
        Evidence(other.namespace, other.name, f"URL: PUT {_VAULT_LOGIN}"),
        facts=("partner-billing", "namespace not authorized"),
    )


# ---------------------------------------------------------------- 10. Helm and a removed API in the release


def helm_removed_api(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """quote-pricer's last release (revision 39, chart 0.14.3, Feb 4) was installed before the cluster upgrades and
    templated its HPA as autoscaling/v2beta2, which Kubernetes 1.26 removed. The chart has since moved to
    autoscaling/v2, but `helm upgrade` must first build the stored manifest of the current release, and fails."""
    ran = 19.0
    pod = _placed(cluster, _DEPLOY, "cpu-1", ran)
    pod.resources = {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "256Mi"}}
    deploy = pod.containers[0]
    deploy.env = [{"name": "AWS_ACCESS_KEY_ID", "value": secrets.aws_access_key},
                  {"name": "AWS_SECRET_ACCESS_KEY", "value": secrets.aws_secret_key},
                  {"name": "GITHUB_TOKEN", "value": secrets.github_token},
                  {"name": "IMAGE_TAG", "value": "1.9.0"}]
    begin = _soon(cluster, pod.start, 3)
    deploy.lines += _block(begin, [
        "$ kubectl version",
        "Client Version: v1.30.2",
        "Kustomize Version: v5.0.4-0.20230601165947-6ce0bf390ce3",
        "Server Version: v1.30.4",
        "$ helm version",
        'version.BuildInfo{Version:"v3.14.4", GitCommit:"81c902a123462fd4052bc5e9aa9c513c4c8fc142", '
        'GitTreeState:"clean", GoVersion:"go1.21.9"}',
        "$ helm history quote-pricer --namespace quoting --max 2",
        "REVISION\tUPDATED                 \tSTATUS    \tCHART              \tAPP VERSION\tDESCRIPTION     ",
        "38      \tThu Jan 22 10:14:52 2026\tsuperseded\tquote-pricer-0.14.2\t1.8.1      \tUpgrade complete",
        "39      \tWed Feb  4 09:47:36 2026\tdeployed  \tquote-pricer-0.14.3\t1.8.2      \tUpgrade complete",
    ])
    failed = begin + timedelta(seconds=2, milliseconds=cluster.rng.randint(100, 900))
    deploy.lines += _block(failed, [
        "$ helm upgrade --install quote-pricer ./chart --namespace quoting -f values/prod.yaml --set "
        "image.tag=1.9.0 --atomic --timeout 10m",
        "WARNING: Kubernetes configuration file is group-readable. This is insecure. Location: /root/.kube/config",
        "Error: UPGRADE FAILED: unable to build kubernetes objects from current release manifest: resource mapping "
        'not found for name: "quote-pricer" namespace: "" from "": no matches for kind "HorizontalPodAutoscaler" '
        'in version "autoscaling/v2beta2"',
        "ensure CRDs are installed first",
    ])
    _terminated(cluster, pod, 1, "Error", pod.start, failed + timedelta(milliseconds=300))
    job = ("Job", "quoting", "quote-pricer-deploy-1187")
    cluster.event(job, "SuccessfulCreate", f"Created pod: {pod.name}", pod.start, component="job-controller")
    cluster.event(job, "BackoffLimitExceeded", "Job has reached the specified backoff limit",
                  failed + timedelta(seconds=2), warning=True, component="job-controller")
    cluster.ask(
        "helmapi-1", "Every quote-pricer deploy pipeline since the cluster upgrade fails within seconds. What's the "
                     "error?",
        f"helm upgrade fails before touching anything ({pod.name}): 'UPGRADE FAILED: unable to build kubernetes "
        "objects from current release manifest: ... no matches for kind \"HorizontalPodAutoscaler\" in version "
        "\"autoscaling/v2beta2\"'. The cluster (v1.30.4) no longer serves autoscaling/v2beta2, removed in 1.26.",
        "helm-removed-api",
        Evidence(pod.namespace, pod.name, 'no matches for kind "HorizontalPodAutoscaler" in version'),
        facts=("autoscaling/v2beta2", "HorizontalPodAutoscaler"),
    )
    cluster.ask(
        "helmapi-2", "The chart on main already templates the HPA with the new API version. Why does the upgrade "
                     "still fail, and how do we unblock it?",
        "Helm first rebuilds the manifest stored with the current release, revision 39 (chart quote-pricer-0.14.3, "
        "deployed Feb 4, before the cluster upgrades), and that one still has autoscaling/v2beta2, so the error is "
        "in the current release manifest, not the new chart. Rewrite the stored release with the helm-mapkubeapis "
        "plugin (helm mapkubeapis quote-pricer --namespace quoting) and rerun the pipeline.",
        "helm-removed-api",
        Evidence(pod.namespace, pod.name, "unable to build kubernetes objects from current release manifest"),
        Evidence(pod.namespace, pod.name, "deployed  \tquote-pricer-0.14.3"),
        facts=("current release manifest|release manifest", "0.14.3"),
    )


def apply_all(cluster: SampleCluster) -> None:
    """Move the generator's pods to where they ran before the incidents, then plant the ten incidents."""
    secrets = cluster.secrets
    _placement(cluster)
    irsa_wrong_role(cluster)
    topology_spread(cluster, secrets)
    local_pv_too_small(cluster, secrets)
    visible_devices_all(cluster, secrets)
    nvml_after_reload(cluster, secrets)
    mpijob_worker_pending(cluster)
    priorityclass_pruned(cluster, secrets)
    postgres_hugepages(cluster, secrets)
    vault_namespace(cluster)
    helm_removed_api(cluster, secrets)
