"""The drill scenario: a seventh set of incidents, a development set for the on-call answers.

Selected with `build_cluster(scenario="drill")` / `kubetrainer samples cluster
--scenario drill`. None of its incident types, namespaces, evidence objects or
phrases appear in the default (incidents.py), heldout (heldout.py), fresh (fresh.py),
blind (blind.py) or sealed (sealed.py) scenarios, and it was written without
reference to any diagnosis, answering, retrieval or evaluation code, so nothing was
tuned against it when it was written. Messages are written the way the component
that prints them does (the kubelet's volume manager, sandbox set-up, sysctl and
device admission and its node start-up events; kube-scheduler's preemption; the
deployment, replicaset, job and HPA controllers; client-go's leader election and
client-side rate limiter under controller-runtime; the Amazon VPC CNI's ipamd; the
NVIDIA device plugin and DCGM exporter; torchrun's elastic agent and c10d store;
vLLM; the HotSpot JVM and Spring Boot; Bitnami's PgBouncer image and psycopg). Each
question names its evidence (object + verbatim phrase) and the facts a right answer
must state.

Several causes sit in another object than the symptom (an aws-node log, another
pod's image pull, a node's kubelet restart, a higher-priority Deployment's
autoscaler, a sidecar's start-up), and healthy pods nearby print harmless warnings.
The line helpers every scenario uses (klog, Spring Boot, JSON and Python logging
lines; pinning pods to nodes; crash loops; scheduler fit errors) are blind.py's.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from kubetrainer.samples.blind import (
    _app,
    _crash_loop,
    _event,
    _fit_error,
    _forget,
    _json,
    _klogs,
    _pin,
    _pylog,
    _reason,
    _spring,
    ago,
    stamp,
)
from kubetrainer.samples.cluster import add_pods
from kubetrainer.samples.model import NOW, Evidence, SampleCluster, SampleContainer, SamplePod
from kubetrainer.samples.nodes import gpu_node, sample_nodes
from kubetrainer.samples.noise import iso
from kubetrainer.samples.secrets import FakeSecrets
from kubetrainer.samples.workloads import ContainerSpec, Workload

# When cpu-d-0, the first node of the new us-east-1d node group, joined (10:40 UTC), in minutes before NOW.
SUBNET_NODE_JOINED = 80.0
# When Karpenter's gpu-h100-8 joined (11:06 UTC), two minutes before the pretraining Job was created.
H100_8_JOINED = 54.0
# When the kubelet on gpu-l40s-0 came back from a restart (10:47 UTC).
KUBELET_RESTARTED = 73.0
_SUBNET = "subnet-0d4e7b2a91c3f8e65"
_ENI = "eni-0c2e8f1a7b3d94e50"
_LEASE = "8d2f61a4.search.example.com"
_CONFIGMAP = "seat-map-api-config-h5kb94mt2f"
_PGBOUNCER_IMAGE = "docker.io/bitnami/pgbouncer:1.22.1"
_VLLM_IMAGE = "docker.io/vllm/vllm-openai:v0.6.3.post1"
# Nodes that hold only what their incidents put there (besides DaemonSets).
_RESERVED = ("cpu-d-0", "gpu-h100-7", "gpu-h100-8", "gpu-l40s-0", "gpu-l4-0", "gpu-l4-1", "gpu-a100-5")
_LEASE_API = "coordination.k8s.io/v1"


def _with_sidecar(
    namespace: str, name: str, image: str, style: str, sidecar: ContainerSpec, *, replicas: int = 1
) -> Workload:
    """An app container and, after it in the pod spec, a sidecar container."""
    return Workload(namespace, name, "Deployment", (ContainerSpec("app", image, style, 1.0), sidecar), replicas)


# Healthy first (the generator places each of these); the incidents then break some.
WORKLOADS: tuple[Workload, ...] = (
    _app(
        "tickets",
        "seat-map-api",
        "Deployment",
        "registry.example.com/tickets/seat-map-api:4.2.0",
        "json-api",
        replicas=3,
        port=8080,
        weight=2.0,
    ),
    _app(
        "tickets",
        "fare-rules",
        "Deployment",
        "registry.example.com/tickets/fare-rules:1.9.3",
        "json-api",
        replicas=2,
        port=8080,
    ),
    _app(
        "fleet",
        "telematics-ingest",
        "Deployment",
        "registry.example.com/fleet/telematics-ingest:3.5.1",
        "json-api",
        replicas=3,
        port=8080,
        weight=2.0,
    ),
    _app(
        "fleet", "route-planner", "Deployment", "registry.example.com/fleet/route-planner:2.2.0", "worker", replicas=2
    ),
    _app(
        "doc-ai",
        "ocr-extractor",
        "Deployment",
        "registry.example.com/doc-ai/ocr-extractor:2.4.1",
        "json-api",
        replicas=2,
        gpu_vendor="nvidia",
        gpus=1,
        port=8000,
    ),
    _app(
        "searchops",
        "index-operator",
        "Deployment",
        "registry.example.com/search/index-operator:0.9.0",
        "controller",
        container="manager",
        replicas=2,
    ),
    _app(
        "realtime",
        "ws-gateway",
        "Deployment",
        "registry.example.com/realtime/ws-gateway:4.8.2",
        "json-api",
        replicas=3,
        port=8080,
        weight=2.0,
    ),
    _app(
        "clearing",
        "fx-rates-service",
        "Deployment",
        "registry.example.com/clearing/fx-rates-service:4.1.0",
        "json-api",
        replicas=2,
        port=8080,
    ),
    _app("clearing", "netting-batch", "Deployment", "registry.example.com/clearing/netting-batch:2.0.7", "worker"),
    _app(
        "copilot",
        "support-llm",
        "Deployment",
        _VLLM_IMAGE,
        "json-api",
        container="vllm",
        gpu_vendor="nvidia",
        gpus=1,
        port=8000,
    ),
    _app(
        "copilot",
        "copilot-web",
        "Deployment",
        "registry.example.com/copilot/copilot-web:1.3.0",
        "nginx",
        replicas=2,
        port=8080,
    ),
    _app(
        "ads-serving",
        "bid-scorer",
        "Deployment",
        "nvcr.io/nvidia/tritonserver:24.08-py3",
        "json-api",
        container="triton",
        replicas=5,
        gpu_vendor="nvidia",
        gpus=1,
        port=8000,
        weight=1.5,
    ),
    _with_sidecar(
        "remittance",
        "transfer-worker",
        "registry.example.com/remittance/transfer-worker:2.7.0",
        "worker",
        ContainerSpec("pgbouncer", _PGBOUNCER_IMAGE, "worker", 0.1),
        replicas=3,
    ),
    _app(
        "remittance",
        "remittance-api",
        "Deployment",
        "registry.example.com/remittance/remittance-api:6.0.2",
        "json-api",
        replicas=2,
        port=8080,
    ),
)

# Placed by their incidents, not by the generator.
_AWS_NODE = _app(
    "kube-system",
    "aws-node",
    "DaemonSet",
    "602401143452.dkr.ecr.us-east-1.amazonaws.com/amazon-k8s-cni:v1.18.1-eksbuild.3",
    "controller",
    container="aws-node",
    weight=0.05,
)
_CONFORMER = _app(
    "asr-research",
    "conformer-pretrain",
    "Job",
    "registry.example.com/asr/conformer-train:2026.03.2",
    "training",
    container="trainer",
    gpu_vendor="nvidia",
    gpus=8,
)
_CTR_FINETUNE = _app(
    "ads-training",
    "ctr-finetune",
    "Job",
    "registry.example.com/ads/ctr-trainer:2026.03.0",
    "training",
    container="trainer",
    gpu_vendor="nvidia",
    gpus=4,
)


def _joined(node: dict, minutes: float) -> None:
    """A node that registered `minutes` ago: its creation and its conditions' transitions."""
    node["metadata"]["creationTimestamp"] = stamp(minutes)
    for condition in node["status"]["conditions"]:
        condition["lastHeartbeatTime"] = stamp(min(minutes, 0.4))
        condition["lastTransitionTime"] = stamp(minutes - (0.6 if condition["type"] == "Ready" else 0.1))


def scenario_nodes() -> list[dict]:
    """The sample nodes plus this scenario's own.

    cpu-d-0 is the first node of the new general-purpose group in us-east-1d (joined 10:40);
    gpu-h100-7 is an H100 node of the training pool and gpu-h100-8 one that Karpenter launched
    at 11:06; gpu-l40s-0 serves document AI; gpu-l4-0/1 the support assistant; gpu-a100-5 is the
    ads team's A100 node, shared by serving and training.
    """
    nodes = sample_nodes()
    for node in nodes:
        if node["metadata"]["name"] in ("cpu-0", "cpu-1"):
            node["metadata"]["labels"]["eks.amazonaws.com/nodegroup"] = "general-1a"
    subnet = gpu_node(
        "cpu-d-0", None, None, 0, cpu="16", memory="65856108Ki", instance_type="m6i.4xlarge", zone="us-east-1d"
    )
    subnet["metadata"]["labels"]["eks.amazonaws.com/nodegroup"] = "general-1d"
    _joined(subnet, SUBNET_NODE_JOINED)
    training = gpu_node("gpu-h100-7", "nvidia", "NVIDIA H100 80GB", 8)
    training["metadata"]["labels"]["karpenter.sh/nodepool"] = "gpu-h100"
    launched = gpu_node("gpu-h100-8", "nvidia", "NVIDIA H100 80GB", 8)
    launched["metadata"]["labels"] |= {
        "karpenter.sh/nodepool": "gpu-h100",
        "karpenter.sh/capacity-type": "on-demand",
        "karpenter.sh/registered": "true",
        "karpenter.sh/initialized": "true",
    }
    _joined(launched, H100_8_JOINED)
    l40s = gpu_node(
        "gpu-l40s-0", "nvidia", "NVIDIA L40S 48GB", 4, cpu="48", memory="395597460Ki", instance_type="g6e.12xlarge"
    )
    for condition in l40s["status"]["conditions"]:
        condition["lastHeartbeatTime"] = stamp(0.4)
        if condition["type"] == "Ready":
            condition |= {
                "lastTransitionTime": stamp(KUBELET_RESTARTED - 0.05),
                "message": "kubelet is posting ready status",
            }
    l4s = [
        gpu_node(name, "nvidia", "NVIDIA L4 24GB", 1, cpu="8", memory="32347636Ki", instance_type="g6.2xlarge")
        for name in ("gpu-l4-0", "gpu-l4-1")
    ]
    ads = gpu_node("gpu-a100-5", "nvidia", "NVIDIA A100 80GB", 8, instance_type="p4de.24xlarge")
    ads["metadata"]["labels"]["example.com/node-pool"] = "ads-a100"
    return nodes + [subnet, training, launched, l40s, *l4s, ads]


# ---------------------------------------------------------------- helpers


def _workload(namespace: str, name: str) -> Workload:
    return next(w for w in WORKLOADS if w.namespace == namespace and w.name == name)


def _together(moment: datetime, lines: list[str]) -> list[tuple[datetime, str]]:
    """Lines printed together (a traceback), a microsecond apart so they keep their order."""
    return [(moment + timedelta(microseconds=i), line) for i, line in enumerate(lines)]


def _siblings(
    cluster: SampleCluster, like: SamplePod, count: int, node: str, image: str | None = None
) -> list[SamplePod]:
    """More pods of `like`'s controller (same ReplicaSet or Job), on `node`, without start-up events yet."""
    pods = add_pods(cluster, like.workload, count, node=node, image=image)
    for pod in pods:
        _forget(cluster, pod)
        pod.owner = like.owner
        pod.name = f"{like.owner[1]}-{cluster.suffix()}"
    return pods


def _not_started(container: SampleContainer) -> None:
    container.state = {"waiting": {"reason": "ContainerCreating"}}
    container.ready, container.noise = False, False


def _rejected(pod: SamplePod, reason: str, message: str) -> None:
    """A pod the kubelet refused at admission: Failed, with the reason and 'Pod was rejected: ...' in its status."""
    pod.phase, pod.reason, pod.message = "Failed", reason, f"Pod was rejected: {message}"
    for container in pod.containers:
        container.state = {
            "terminated": {
                "exitCode": 137,
                "reason": "ContainerStatusUnknown",
                "message": "The container could not be located when the pod was terminated",
            }
        }
        container.ready, container.noise = False, False


def _scheduled(cluster: SampleCluster, pod: SamplePod, at: datetime) -> None:
    ref = ("Pod", pod.namespace, pod.name)
    cluster.event(
        ref,
        "Scheduled",
        f"Successfully assigned {pod.namespace}/{pod.name} to {pod.node}",
        at,
        component="default-scheduler",
    )


def _ipamd(moment: datetime, level: str, caller: str, message: str) -> tuple[datetime, str]:
    """The Amazon VPC CNI's zap JSON line (ISO 8601 time, caller, msg), as ipamd writes it with its log file on stdout."""
    body = {"level": level, "ts": iso(moment), "caller": caller, "msg": message}
    return moment, json.dumps(body, separators=(",", ":"))


def _elastic(moment: datetime, logger: str, level: str, message: str) -> tuple[datetime, str]:
    """torch.distributed.elastic's logging format: `[date time,ms] logger: [LEVEL] message`."""
    return moment, f"[{moment:%Y-%m-%d %H:%M:%S},{moment.microsecond // 1000:03d}] {logger}: [{level}] {message}"


def _vllm(moment: datetime, level: str, source: str, message: str) -> tuple[datetime, str]:
    return moment, f"{level} {moment:%m-%d %H:%M:%S} {source}] {message}"


def _zapc(moment: datetime, level: str, logger: str, message: str, **fields) -> tuple[datetime, str]:
    """controller-runtime's development zap console line: time, LEVEL, logger, message, JSON fields, tab-separated."""
    parts = [iso(moment), level, *([logger] if logger else []), message]
    if fields:
        parts.append(json.dumps(fields, separators=(", ", ": ")))
    return moment, "\t".join(parts)


def _klog1(moment: datetime, level: str, source: str, message: str) -> tuple[datetime, str]:
    return moment, f"{level}{moment:%m%d %H:%M:%S.%f}       1 {source}] {message}"


def _pgbouncer(moment: datetime, level: str, message: str) -> tuple[datetime, str]:
    return moment, f"{moment:%Y-%m-%d %H:%M:%S}.{moment.microsecond // 1000:03d} UTC [1] {level} {message}"


def _bitnami(moment: datetime, message: str) -> tuple[datetime, str]:
    return moment, f"pgbouncer {moment:%H:%M:%S}.{moment.microsecond // 10000:02d} INFO  ==> {message}"


def _placement(cluster: SampleCluster) -> None:
    """Where things ran before the incidents: the scenario's own nodes hold only DaemonSets (younger than the nodes
    that joined today) and the pods their incidents put there; the VPC CNI runs on the EKS CPU nodes."""
    spare = {"cpu": ["cpu-0", "cpu-1"], "gpu": ["gpu-h100-0", "gpu-h100-1"]}
    moved = 0
    for pod in cluster.pods:
        if pod.node not in _RESERVED:
            continue
        if pod.workload.kind == "DaemonSet":
            joined = {"cpu-d-0": SUBNET_NODE_JOINED, "gpu-h100-8": H100_8_JOINED}.get(pod.node)
            if joined is not None:
                _pin(cluster, pod, pod.node, joined - 0.5 - cluster.rng.uniform(0, 0.4))
            continue
        targets = spare["gpu" if pod.workload.gpu_vendor else "cpu"]
        _pin(cluster, pod, targets[moved % 2])
        moved += 1
    for pod in cluster.pods_of("doc-ai", "ocr-extractor"):
        _pin(cluster, pod, "gpu-l40s-0")
    for pod in cluster.pods_of("ads-serving", "bid-scorer"):
        _pin(cluster, pod, "gpu-a100-5")
    (llm,) = cluster.pods_of("copilot", "support-llm")
    _pin(cluster, llm, "gpu-l4-0")
    for node in ("cpu-0", "cpu-1", "cpu-d-0"):
        (pod,) = add_pods(cluster, _AWS_NODE, 1, node=node)
        _pin(cluster, pod, node, SUBNET_NODE_JOINED - 0.5 if node == "cpu-d-0" else None)
        _aws_node_start(cluster, pod)


def _aws_node_start(cluster: SampleCluster, pod: SamplePod) -> None:
    """aws-node's entrypoint and ipamd start-up; on the nodes of the old group, ENIs with room for the pods."""
    cni = pod.containers[0]
    cni.noise = False
    cni.env = [
        {"name": "AWS_VPC_K8S_CNI_LOG_FILE", "value": "stdout"},
        {"name": "AWS_VPC_K8S_CNI_LOGLEVEL", "value": "INFO"},
        {"name": "WARM_ENI_TARGET", "value": "1"},
        {"name": "CLUSTER_NAME", "value": "prod-use1"},
        {"name": "VPC_ID", "value": "vpc-0a7c31e9d24b6f18c"},
    ]
    start = pod.start + timedelta(seconds=2)
    cni.lines += [
        _ipamd(start, "info", "entrypoint.sh", "Validating env variables ..."),
        _ipamd(start + timedelta(milliseconds=40), "info", "entrypoint.sh", "Install CNI binaries.."),
        _ipamd(
            start + timedelta(milliseconds=90), "info", "entrypoint.sh", "Starting IPAM daemon in the background ... "
        ),
        _ipamd(start + timedelta(milliseconds=120), "info", "entrypoint.sh", "Checking for IPAM connectivity ... "),
        _ipamd(
            start + timedelta(milliseconds=410), "info", "aws-k8s-agent/main.go:42", "Starting L-IPAMD v1.18.1  ..."
        ),
        _ipamd(
            start + timedelta(milliseconds=560), "info", "aws-k8s-agent/main.go:51", "Testing communication with server"
        ),
        _ipamd(
            start + timedelta(milliseconds=610),
            "info",
            "aws-k8s-agent/main.go:54",
            (
                "Successful communication with the Cluster! Cluster Version is: v1.30. git version: v1.30.4-eks-a737599. "
                "git tree state: clean. commit: 1f1a7ec2b3c4bd26a40e9e7f0f8b8a9b5d1a6f42. platform: linux/amd64"
            ),
        ),
    ]
    if pod.node != "cpu-d-0":
        for index in range(3):
            address = f"10.0.{cluster.rng.randint(16, 47)}.{cluster.rng.randint(4, 250)}"
            cni.lines.append(
                _ipamd(
                    start + timedelta(seconds=2, milliseconds=index),
                    "info",
                    "ipamd/ipamd.go:1342",
                    f"Added ENI(eni-0{cluster.rng.getrandbits(64):016x})'s IP/Prefix {address}/32 to datastore",
                )
            )
    cni.lines += [
        _ipamd(start + timedelta(seconds=3), "info", "entrypoint.sh", "Copying config file ... "),
        _ipamd(
            start + timedelta(seconds=3, milliseconds=20),
            "info",
            "entrypoint.sh",
            "Successfully copied CNI plugin binary and config file.",
        ),
        _ipamd(start + timedelta(seconds=3, milliseconds=25), "info", "entrypoint.sh", "Foregrounding IPAM daemon ..."),
    ]


# ---------------------------------------------------------------- incidents


def configmap_missing(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """seat-map-api 4.3.0's kustomize build renamed its ConfigMap (new hash suffix), but only the Deployment was synced:
    the new pod waits in ContainerCreating for a volume whose ConfigMap does not exist."""
    rolled, node = 46.0, "cpu-1"
    old = cluster.pods_of("tickets", "seat-map-api")
    url = f"postgres://seatmap:{secrets.url_password}@seat-db.tickets.svc.cluster.local:5432/seatmap"
    env = [{"name": "DATABASE_URL", "value": url}, {"name": "CONFIG_PATH", "value": "/etc/seat-map/config.yaml"}]
    for pod in old:
        pod.containers[0].env = env
        moment = max(pod.start, ago(6 * 60)) + timedelta(seconds=1)
        pod.containers[0].lines.append(
            _json(
                moment, "warn", "config: unknown key ignored", key="legacy_seat_cache", file="/etc/seat-map/config.yaml"
            )
        )
    (new,) = add_pods(cluster, old[0].workload, 1, node=node, image="registry.example.com/tickets/seat-map-api:4.3.0")
    _forget(cluster, new)
    new.start, new.phase = ago(rolled), "Pending"
    new.conditions = {"Initialized": "True", "ContainersReady": "False", "Ready": "False"}
    app = new.containers[0]
    _not_started(app)
    app.env = env
    new_rs, old_rs = new.owner[1], old[0].owner[1]
    cluster.event(
        ("Deployment", "tickets", "seat-map-api"),
        "ScalingReplicaSet",
        f"Scaled up replica set {new_rs} to 1",
        ago(rolled + 0.01),
        component="deployment-controller",
    )
    cluster.event(
        ("ReplicaSet", "tickets", new_rs),
        "SuccessfulCreate",
        f"Created pod: {new.name}",
        ago(rolled + 0.005),
        component="replicaset-controller",
    )
    _scheduled(cluster, new, ago(rolled))
    ref = ("Pod", new.namespace, new.name)
    cluster.event(
        ref,
        "FailedMount",
        f'MountVolume.SetUp failed for volume "config" : configmap "{_CONFIGMAP}" not found',
        ago(cluster.rng.uniform(0.3, 1.8)),
        warning=True,
        count=28,
        host=node,
        first=ago(rolled - 0.01),
    )
    cluster.event(
        ref,
        "FailedMount",
        (
            "Unable to attach or mount volumes: unmounted volumes=[config], unattached volumes=[], "
            "failed to process volumes=[]: timed out waiting for the condition"
        ),
        ago(cluster.rng.uniform(0.2, 2.0)),
        warning=True,
        count=21,
        host=node,
        first=ago(rolled - 2.05),
    )
    cluster.ask(
        "mount-1",
        "The seat-map-api deploy from 11:14 has been hanging for 45 minutes with one new pod that never starts. "
        "What's blocking it?",
        f"The new pod {new.name} (ReplicaSet {new_rs}, image 4.3.0) is stuck in ContainerCreating because the kubelet cannot "
        f'mount its volume "config": the ConfigMap it refers to, {_CONFIGMAP}, does not exist in tickets (FailedMount: '
        f'\'MountVolume.SetUp failed for volume "config" : configmap "{_CONFIGMAP}" not found\'). The Deployment was '
        "applied without the ConfigMap of the new build (its name carries the new kustomize hash); create or sync that "
        "ConfigMap and the pod starts.",
        "configmap-mount",
        Evidence(new.namespace, new.name, 'MountVolume.SetUp failed for volume "config"'),
        facts=('mount|FailedMount|config volume|volume "config"', _CONFIGMAP),
    )
    cluster.ask(
        "mount-2",
        "Is the seat map down for customers right now?",
        f"No. Only the new 4.3.0 pod of ReplicaSet {new_rs} is stuck (its ConfigMap {_CONFIGMAP} is missing); with a surge "
        f"rollout the Deployment keeps its three 4.2.0 pods of the old ReplicaSet {old_rs} Running and Ready, and they serve. "
        "The rollout will not progress until the ConfigMap exists.",
        "configmap-mount",
        Evidence("tickets", "seat-map-api", f"Scaled up replica set {new_rs} to 1"),
        Evidence(old[0].namespace, old[0].name, "seat-map-api:4.2.0"),
        facts=("4.2.0|old pods|old ReplicaSet|previous version", old_rs),
    )


def subnet_exhausted(cluster: SampleCluster) -> None:
    """The autoscaler's two new telematics-ingest pods land on cpu-d-0, whose subnet has no free IPs: the VPC CNI cannot
    give them an address, and the kubelet keeps failing to create their sandboxes."""
    scaled, node = 40.0, "cpu-d-0"
    running = cluster.pods_of("fleet", "telematics-ingest")
    replica_set = running[0].owner[1]
    stuck = _siblings(cluster, running[0], 2, node)
    _event(
        cluster,
        ("HorizontalPodAutoscaler", "fleet", "telematics-ingest"),
        "SuccessfulRescale",
        "New size: 5; reason: cpu resource utilization (percentage of request) above target",
        ago(scaled + 0.02),
        component="horizontal-pod-autoscaler",
    )
    cluster.event(
        ("Deployment", "fleet", "telematics-ingest"),
        "ScalingReplicaSet",
        f"Scaled up replica set {replica_set} to 5 from 3",
        ago(scaled + 0.01),
        component="deployment-controller",
    )
    sandboxes = []
    for pod in stuck:
        pod.start, pod.phase = ago(scaled), "Pending"
        pod.conditions = {"Initialized": "True", "ContainersReady": "False", "Ready": "False"}
        _not_started(pod.containers[0])
        cluster.event(
            ("ReplicaSet", "fleet", replica_set),
            "SuccessfulCreate",
            f"Created pod: {pod.name}",
            ago(scaled),
            component="replicaset-controller",
        )
        _scheduled(cluster, pod, ago(scaled - 0.005))
        sandbox = f"{cluster.rng.getrandbits(256):064x}"
        sandboxes.append((pod, sandbox))
        cluster.event(
            ("Pod", pod.namespace, pod.name),
            "FailedCreatePodSandBox",
            (
                f'Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network for sandbox "{sandbox}": '
                'plugin type="aws-cni" name="aws-cni" failed (add): add cmd: failed to assign an IP address to container'
            ),
            ago(cluster.rng.uniform(0.1, 0.4)),
            warning=True,
            count=cluster.rng.randint(170, 190),
            host=node,
            first=ago(scaled - 0.02),
        )
    cni_pod = next(p for p in cluster.pods_of("kube-system", "aws-node") if p.node == node)
    cni = cni_pod.containers[0]
    moment = cni_pod.start + timedelta(seconds=2, milliseconds=700)
    while moment < NOW:
        request = cluster.uid()
        cni.lines.append(
            _ipamd(
                moment,
                "error",
                "ipamd/ipamd.go:941",
                (
                    f"Failed to allocate a private IP addresses on ENI {_ENI}: InsufficientFreeAddressesInSubnet: There are not "
                    f"enough free addresses in subnet '{_SUBNET}' to satisfy the requested number of addresses.\n\tstatus code: "
                    f"400, request id: {request}"
                ),
            )
        )
        cni.lines.append(
            _ipamd(
                moment + timedelta(milliseconds=2),
                "info",
                "ipamd/ipamd.go:734",
                "IP pool is too low: available (0) < ENI target (1) * addrsPerENI (29)",
            )
        )
        moment += timedelta(seconds=cluster.rng.uniform(60, 240))
    moment = ago(scaled - 0.03)
    while moment < NOW:
        pod, sandbox = sandboxes[cluster.rng.randrange(2)]
        netns = f"/var/run/netns/cni-{cluster.uid()}"
        cni.lines += [
            _ipamd(
                moment,
                "info",
                "rpc/rpc.pb.go:713",
                f"Received AddNetwork for NS {netns}, Sandbox {sandbox}, ifname eth0",
            ),
            _ipamd(
                moment + timedelta(milliseconds=1),
                "info",
                "datastore/data_store.go:748",
                "AssignPodIPv4Address: IP address pool stats: total 0, assigned 0",
            ),
            _ipamd(
                moment + timedelta(milliseconds=1),
                "error",
                "datastore/data_store.go:773",
                "DataStore has no available IP/Prefix addresses",
            ),
            _ipamd(
                moment + timedelta(milliseconds=2),
                "info",
                "rpc/rpc.pb.go:713",
                (
                    "Send AddNetworkReply: IPv4Addr: , IPv6Addr: , DeviceNumber: -1, err: AssignPodIPv4Address: no available "
                    "IP/Prefix addresses"
                ),
            ),
        ]
        moment += timedelta(seconds=cluster.rng.uniform(90, 200))
    cluster.ask(
        "sandbox-1",
        "Two of the telematics-ingest pods the autoscaler added 40 minutes ago still haven't started. Why?",
        f"Both were scheduled on {node}, the node that joined at 10:40 in us-east-1d, and the kubelet there cannot create "
        "their pod sandboxes (FailedCreatePodSandBox): the Amazon VPC CNI fails to give them an address ('plugin "
        'type="aws-cni" ... failed to assign an IP address to container\'). ipamd on that node has no IPs at all: the '
        f"subnet {_SUBNET} has no free addresses. The three older replicas on cpu-0 and cpu-1 are fine.",
        "cni-ip-exhaustion",
        Evidence(stuck[0].namespace, stuck[0].name, "failed to assign an IP address to container"),
        facts=("assign an IP address|free addresses|out of IPs|no available IP|IP exhaustion", node),
    )
    cluster.ask(
        "sandbox-2",
        "Is the VPC CNI on the new node broken, or is this an AWS-side problem?",
        f"AWS side. aws-node ({cni_pod.name}) runs, but EC2 refuses to give its ENI any more addresses: "
        f"'InsufficientFreeAddressesInSubnet: There are not enough free addresses in subnet '{_SUBNET}''. Its datastore is "
        "empty ('DataStore has no available IP/Prefix addresses'), so every sandbox on cpu-d-0 fails. Free or add addresses "
        "(a larger subnet or a secondary CIDR for the us-east-1d node group) or keep that group out of the subnet; cordon "
        "cpu-d-0 meanwhile so pods go elsewhere.",
        "cni-ip-exhaustion",
        Evidence(cni_pod.namespace, cni_pod.name, "InsufficientFreeAddressesInSubnet"),
        Evidence(None, node, "us-east-1d"),
        facts=(
            _SUBNET,
            "InsufficientFreeAddressesInSubnet|not enough free addresses|subnet is full",
        ),
    )


def _torchrun_start(moment: datetime, pid: int, rendezvous: str, agent: bool) -> list[tuple[datetime, str]]:
    """torchrun's start-up; the agent lines come once its rendezvous handler (and the c10d store) exist."""
    run = "torch.distributed.run"
    launch = (
        "Starting elastic_operator with launch configs:\n"
        "  entrypoint       : /workspace/pretrain.py\n"
        "  min_nodes        : 2\n"
        "  max_nodes        : 2\n"
        "  nproc_per_node   : 8\n"
        "  run_id           : conformer-pretrain-20260314\n"
        "  rdzv_backend     : c10d\n"
        f"  rdzv_endpoint    : {rendezvous}:29400\n"
        "  rdzv_configs     : {'join_timeout': 600, 'timeout': 900}\n"
        "  max_restarts     : 0\n"
        "  monitor_interval : 5\n"
        "  log_dir          : None\n"
        "  metrics_cfg      : {}\n"
    )
    omp = (
        "Setting OMP_NUM_THREADS environment variable for each process to be 1 in default, to avoid your system being "
        "overloaded, please further tune the variable for optimal performance in your application as needed. "
    )
    lines = [
        _elastic(moment, run, "WARNING", ""),
        _elastic(moment + timedelta(microseconds=1), run, "WARNING", "*****************************************"),
        _elastic(moment + timedelta(microseconds=2), run, "WARNING", omp),
        _elastic(moment + timedelta(microseconds=3), run, "WARNING", "*****************************************"),
        _elastic(moment + timedelta(milliseconds=4), "torch.distributed.launcher.api", "INFO", launch),
    ]
    if not agent:
        return lines
    return lines + [
        _elastic(
            moment + timedelta(milliseconds=9),
            "torch.distributed.elastic.agent.server.local_elastic_agent",
            "INFO",
            f"log directory set to: /tmp/torchelastic_{pid:x}q1wd/conformer-pretrain-20260314_u7b3dv0e",
        ),
        _elastic(
            moment + timedelta(milliseconds=10),
            "torch.distributed.elastic.agent.server.api",
            "INFO",
            "[default] starting workers for entrypoint: python",
        ),
        _elastic(
            moment + timedelta(milliseconds=10),
            "torch.distributed.elastic.agent.server.api",
            "INFO",
            "[default] Rendezvous'ing worker group",
        ),
    ]


def rendezvous_timeout(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """A two-node torchrun job: worker 0 waits its 600 s join_timeout alone, because worker 1's node (launched minutes
    earlier) spends 16m48s pulling the 24 GB image; when worker 1 finally starts, the rendezvous store is gone."""
    created, nodes = 52.0, ("gpu-h100-7", "gpu-h100-8")
    job = "conformer-pretrain"
    pods = add_pods(cluster, _CONFORMER, 2)
    rendezvous = f"{job}-0.{job}.asr-research.svc"
    image = _CONFORMER.containers[0].image
    ref_job = ("Job", "asr-research", job)
    for index, pod in enumerate(pods):
        _forget(cluster, pod)
        pod.name, pod.node, pod.start, pod.phase = (
            f"{job}-{index}-{cluster.suffix()}",
            nodes[index],
            ago(created),
            "Failed",
        )
        pod.resources = {
            "requests": {"cpu": "88", "memory": "1000Gi", "nvidia.com/gpu": "8"},
            "limits": {"memory": "1000Gi", "nvidia.com/gpu": "8"},
        }
        trainer = pod.containers[0]
        trainer.noise, trainer.ready = False, False
        trainer.env = [
            {
                "name": "JOB_COMPLETION_INDEX",
                "valueFrom": {
                    "fieldRef": {
                        "apiVersion": "v1",
                        "fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']",
                    }
                },
            },
            {"name": "LOGLEVEL", "value": "INFO"},
            {"name": "NCCL_DEBUG", "value": "WARN"},
            {"name": "CHECKPOINT_URI", "value": "s3://acme-asr-checkpoints/conformer-xl/"},
            {"name": "AWS_ACCESS_KEY_ID", "value": secrets.aws_access_key},
            {"name": "AWS_SECRET_ACCESS_KEY", "value": secrets.aws_secret_key},
        ]
        _event(
            cluster, ref_job, "SuccessfulCreate", f"Created pod: {pod.name}", ago(created), component="job-controller"
        )
        _scheduled(cluster, pod, ago(created - 0.01))
    first, late = pods
    ref = ("Pod", first.namespace, first.name)
    began = ago(created - 0.06)
    cluster.event(ref, "Pulled", f'Container image "{image}" already present on machine', began, host=nodes[0])
    cluster.event(ref, "Created", "Created container trainer", began, host=nodes[0])
    cluster.event(ref, "Started", "Started container trainer", began, host=nodes[0])
    gave_up = began + timedelta(seconds=615)
    first.containers[0].state = {
        "terminated": {
            "reason": "Error",
            "exitCode": 1,
            "startedAt": iso(began, 0),
            "finishedAt": iso(gave_up + timedelta(seconds=1), 0),
        }
    }
    pid = cluster.rng.randint(40, 90)
    first.containers[0].lines += _torchrun_start(began + timedelta(seconds=3), pid, rendezvous, True)
    joining = began + timedelta(seconds=14)
    first.containers[0].lines.append(
        _elastic(
            joining,
            "torch.distributed.elastic.rendezvous.dynamic_rendezvous",
            "INFO",
            f"The node '{job}-0_{pid}_0' attempts to join the next round of the rendezvous 'conformer-pretrain-20260314'.",
        )
    )
    site = "/usr/local/lib/python3.11/site-packages/torch/distributed"
    agent = [
        "Traceback (most recent call last):",
        '  File "/usr/local/bin/torchrun", line 8, in <module>',
        "    sys.exit(main())",
        f'  File "{site}/elastic/multiprocessing/errors/__init__.py", line 347, in wrapper',
        "    return f(*args, **kwargs)",
        f'  File "{site}/run.py", line 812, in main',
        "    run(args)",
        f'  File "{site}/run.py", line 803, in run',
        "    elastic_launch(",
        f'  File "{site}/launcher/api.py", line 135, in __call__',
        "    return launch_agent(self._config, self._entrypoint, list(args))",
        f'  File "{site}/launcher/api.py", line 259, in launch_agent',
        "    result = agent.run()",
        f'  File "{site}/elastic/metrics/api.py", line 123, in wrapper',
        "    result = f(*args, **kwargs)",
        f'  File "{site}/elastic/agent/server/api.py", line 727, in run',
        "    result = self._invoke_run(role)",
        f'  File "{site}/elastic/agent/server/api.py", line 862, in _invoke_run',
        "    self._initialize_workers(self._worker_group)",
        f'  File "{site}/elastic/metrics/api.py", line 123, in wrapper',
        "    result = f(*args, **kwargs)",
        f'  File "{site}/elastic/agent/server/api.py", line 699, in _initialize_workers',
        "    self._rendezvous(worker_group)",
        f'  File "{site}/elastic/metrics/api.py", line 123, in wrapper',
        "    result = f(*args, **kwargs)",
        f'  File "{site}/elastic/agent/server/api.py", line 542, in _rendezvous',
        "    store, group_rank, group_world_size = spec.rdzv_handler.next_rendezvous()",
    ]
    first.containers[0].lines += _together(
        gave_up,
        agent
        + [
            f'  File "{site}/elastic/rendezvous/dynamic_rendezvous.py", line 1031, in next_rendezvous',
            "    self._op_executor.run(join_op, deadline)",
            f'  File "{site}/elastic/rendezvous/dynamic_rendezvous.py", line 648, in run',
            "    raise RendezvousTimeoutError()",
            "torch.distributed.elastic.rendezvous.api.RendezvousTimeoutError",
        ],
    )
    ref = ("Pod", late.namespace, late.name)
    cluster.event(ref, "Pulling", f'Pulling image "{image}"', ago(created - 0.03), host=nodes[1])
    pulled = ago(created - 0.03) + timedelta(minutes=16, seconds=48.221)
    cluster.event(
        ref,
        "Pulled",
        (
            f'Successfully pulled image "{image}" in 16m48.221s (16m48.221s including waiting). Image size: '
            "24187262976 bytes."
        ),
        pulled,
        host=nodes[1],
    )
    cluster.event(ref, "Created", "Created container trainer", pulled + timedelta(seconds=1), host=nodes[1])
    cluster.event(ref, "Started", "Started container trainer", pulled + timedelta(seconds=1), host=nodes[1])
    started = pulled + timedelta(seconds=1)
    failed = started + timedelta(seconds=66)
    late.containers[0].state = {
        "terminated": {"reason": "Error", "exitCode": 1, "startedAt": iso(started, 0), "finishedAt": iso(failed, 0)}
    }
    late.containers[0].lines += _torchrun_start(
        started + timedelta(seconds=3), cluster.rng.randint(40, 90), rendezvous, False
    )
    gai = (
        f"[c10d] The IPv4 network addresses of ({rendezvous}, 29400) cannot be retrieved (gai error: -2 - Name or "
        "service not known)."
    )
    for second in range(5, 65, 10):
        late.containers[0].lines.append((started + timedelta(seconds=second), f"[W socket.cpp:697] {gai}"))
    store = f"({rendezvous}, 29400)"
    late.containers[0].lines += _together(
        failed - timedelta(milliseconds=200),
        [
            "Traceback (most recent call last):",
            f'  File "{site}/elastic/rendezvous/c10d_rendezvous_backend.py", line 156, in _create_tcp_store',
            "    store = TCPStore(",
            f"torch.distributed.DistNetworkError: The client socket has timed out after 60s while trying to connect to {store}.",
            "",
            "The above exception was the direct cause of the following exception:",
            "",
            "Traceback (most recent call last):",
            '  File "/usr/local/bin/torchrun", line 8, in <module>',
            "    sys.exit(main())",
            f'  File "{site}/elastic/multiprocessing/errors/__init__.py", line 347, in wrapper',
            "    return f(*args, **kwargs)",
            f'  File "{site}/run.py", line 812, in main',
            "    run(args)",
            f'  File "{site}/run.py", line 803, in run',
            "    elastic_launch(",
            f'  File "{site}/launcher/api.py", line 135, in __call__',
            "    return launch_agent(self._config, self._entrypoint, list(args))",
            f'  File "{site}/launcher/api.py", line 238, in launch_agent',
            "    rdzv_handler=rdzv_registry.get_rendezvous_handler(rdzv_parameters),",
            f'  File "{site}/elastic/rendezvous/registry.py", line 66, in get_rendezvous_handler',
            "    return handler_registry.create_handler(params)",
            f'  File "{site}/elastic/rendezvous/api.py", line 263, in create_handler',
            "    handler = creator(params)",
            f'  File "{site}/elastic/rendezvous/registry.py", line 36, in _create_c10d_handler',
            "    backend, store = create_backend(params)",
            f'  File "{site}/elastic/rendezvous/c10d_rendezvous_backend.py", line 255, in create_backend',
            "    store = _create_tcp_store(params)",
            f'  File "{site}/elastic/rendezvous/c10d_rendezvous_backend.py", line 176, in _create_tcp_store',
            "    raise RendezvousConnectionError(",
            (
                "torch.distributed.elastic.rendezvous.api.RendezvousConnectionError: The connection to the C10d store has "
                "failed. See inner exception for details."
            ),
        ],
    )
    _event(
        cluster,
        ref_job,
        "FailedIndexes",
        "Job has failed indexes",
        failed + timedelta(seconds=1),
        warning=True,
        component="job-controller",
    )
    name = nodes[1]
    ref_node = ("Node", None, name)
    joined = ago(H100_8_JOINED)
    cluster.event(ref_node, "Starting", "Starting kubelet.", joined, host=name)
    cluster.event(
        ref_node, "NodeReady", f"Node {name} status is now: NodeReady", joined + timedelta(seconds=36), host=name
    )
    cluster.event(
        ref_node,
        "RegisteredNode",
        f"Node {name} event: Registered Node {name} in Controller",
        joined + timedelta(seconds=5),
        component="node-controller",
    )
    cluster.ask(
        "rdzv-1",
        "The conformer pretraining we launched at 11:08 died before the first step. What happened?",
        f"The two torchrun agents never met. Worker 0 ({first.name}, on {nodes[0]}) started at once, waited in the c10d "
        "rendezvous for its peer and gave up after its 600 s join_timeout (RendezvousTimeoutError, 11:18). Worker 1 "
        f"({late.name}) was scheduled on {name}, a node Karpenter had launched two minutes earlier with an empty image "
        "cache, and spent 16m48s pulling the 24 GB trainer image; when it started at 11:25 the rendezvous store on worker 0 "
        "was gone (RendezvousConnectionError), and the Job failed (FailedIndexes).",
        "rendezvous-timeout",
        Evidence(first.namespace, first.name, "torch.distributed.elastic.rendezvous.api.RendezvousTimeoutError"),
        Evidence(late.namespace, late.name, "Successfully pulled image"),
        facts=("rendezvous|RendezvousTimeoutError", "16m48|pulling the image|image pull|pull took"),
    )
    cluster.ask(
        "rdzv-2",
        f"Is {name} broken? The second pretraining worker was the one on it and it failed too.",
        f"No. {name} joined at 11:06 and had never pulled the trainer image: the pull took 16m48.221s (24187262976 bytes), "
        "longer than the 600 s join_timeout worker 0 waited for it, so by the time worker 1 ran there was nobody to "
        "rendezvous with. Pre-pull the image on new GPU nodes (or raise join_timeout) and relaunch.",
        "rendezvous-timeout",
        Evidence(late.namespace, late.name, "in 16m48.221s"),
        Evidence(first.namespace, first.name, "'join_timeout': 600"),
        facts=("16m48|image pull|pulling the image|pull took", "join_timeout|600 s|600s|600 seconds"),
    )


def device_admission(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """The kubelet on gpu-l40s-0 restarted during the ocr-extractor rollout; pods admitted before the NVIDIA device
    plugin re-registered were rejected with UnexpectedAdmissionError. The replacements run on the same GPUs."""
    name = "gpu-l40s-0"
    back = ago(KUBELET_RESTARTED)
    running = cluster.pods_of("doc-ai", "ocr-extractor")
    replica_set, old_rs = running[0].owner[1], f"ocr-extractor-{cluster.suffix(10)}"
    rejected = _siblings(cluster, running[0], 2, name)
    for pod in running + rejected:
        pod.containers[0].env = [
            {"name": "MODEL_REPOSITORY", "value": "/models/ocr"},
            {"name": "ALERT_WEBHOOK_URL", "value": secrets.slack_webhook},
        ]
    message = (
        "Allocate failed due to requested number of devices unavailable for nvidia.com/gpu. Requested: 1, Available: 0, "
        "which is unexpected"
    )
    deployment = ("Deployment", "doc-ai", "ocr-extractor")
    rs = ("ReplicaSet", "doc-ai", replica_set)
    cluster.event(
        deployment,
        "ScalingReplicaSet",
        f"Scaled up replica set {replica_set} to 1",
        back - timedelta(seconds=31),
        component="deployment-controller",
    )
    moments = (back - timedelta(seconds=30), back + timedelta(seconds=0.9))
    for pod, created in zip(rejected, moments):
        pod.start = created
        _rejected(pod, "UnexpectedAdmissionError", message)
        cluster.event(rs, "SuccessfulCreate", f"Created pod: {pod.name}", created, component="replicaset-controller")
        _scheduled(cluster, pod, created)
        cluster.event(
            ("Pod", pod.namespace, pod.name),
            "UnexpectedAdmissionError",
            message,
            max(created, back) + timedelta(seconds=0.6),
            warning=True,
            host=name,
        )
    for index, pod in enumerate(running):
        _pin(cluster, pod, name, KUBELET_RESTARTED - 0.04 - 1.1 * index)
        cluster.event(rs, "SuccessfulCreate", f"Created pod: {pod.name}", pod.start, component="replicaset-controller")
    for offset, text in enumerate(
        (
            f"Scaled down replica set {old_rs} to 1 from 2",
            f"Scaled up replica set {replica_set} to 2 from 1",
            f"Scaled down replica set {old_rs} to 0 from 1",
        )
    ):
        cluster.event(
            deployment,
            "ScalingReplicaSet",
            text,
            back + timedelta(seconds=40 + 25 * offset),
            component="deployment-controller",
        )
    ref_node = ("Node", None, name)
    cluster.event(ref_node, "Starting", "Starting kubelet.", back - timedelta(seconds=1), host=name)
    cluster.event(ref_node, "NodeAllocatableEnforced", "Updated Node Allocatable limit across pods", back, host=name)
    for condition in ("NodeHasSufficientMemory", "NodeHasNoDiskPressure", "NodeHasSufficientPID"):
        cluster.event(ref_node, condition, f"Node {name} status is now: {condition}", back, host=name)
    plugin = next(p for p in cluster.pods_of("kube-system", "nvidia-device-plugin-daemonset") if p.node == name)
    plugin.containers[0].lines += _klogs(
        cluster,
        back - timedelta(seconds=0.4),
        ("I", "main.go:292", "inotify: /var/lib/kubelet/device-plugins/kubelet.sock created, restarting."),
        ("I", "main.go:299", "Stopping plugins."),
        ("I", "server.go:185", "Stopping to serve 'nvidia.com/gpu' on /var/lib/kubelet/device-plugins/nvidia-gpu.sock"),
        ("I", "main.go:178", "Starting Plugins."),
        ("I", "main.go:234", "Loading configuration."),
        ("I", "main.go:242", "Updating config with default resource matching patterns."),
        ("I", "main.go:256", "Retrieving plugins."),
    )
    plugin.containers[0].lines += _klogs(
        cluster,
        back + timedelta(seconds=1.9),
        ("I", "factory.go:107", "Detected NVML platform: found NVML library"),
        ("I", "factory.go:107", "Detected non-Tegra platform: /sys/devices/soc0/family file not found"),
        ("I", "server.go:165", "Starting GRPC server for 'nvidia.com/gpu'"),
        ("I", "server.go:117", "Starting to serve 'nvidia.com/gpu' on /var/lib/kubelet/device-plugins/nvidia-gpu.sock"),
        ("I", "server.go:125", "Registered device plugin for 'nvidia.com/gpu' with Kubelet"),
    )
    exporter = next(p for p in cluster.pods_of("gpu-operator", "nvidia-dcgm-exporter") if p.node == name)
    begin = max(exporter.start, ago(6 * 60)) + timedelta(seconds=3)
    for line, metric in ((19, "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE"), (20, "DCGM_FI_PROF_DRAM_ACTIVE")):
        exporter.containers[0].lines.append(
            (
                begin,
                f'time="{iso(begin, 0)}" level=warning msg="Skipping line {line} (\'{metric}\'): metric not enabled"',
            )
        )
    cluster.ask(
        "admit-1",
        "Two ocr-extractor pods on the L40S node are Failed with a GPU allocation error. Is a GPU on that node dead?",
        f"No. The kubelet on {name} restarted at 10:47 ('Starting kubelet.'), and the NVIDIA device plugin had to "
        "re-register its GPUs with the new kubelet ('inotify: /var/lib/kubelet/device-plugins/kubelet.sock created, "
        "restarting.' ... 'Registered device plugin for 'nvidia.com/gpu' with Kubelet'). The two pods were admitted in the "
        "two seconds before that, when the kubelet saw no GPUs, and were rejected with UnexpectedAdmissionError ('Requested: "
        "1, Available: 0, which is unexpected'). The pods created right after run on the same node's GPUs.",
        "gpu-admission",
        Evidence(rejected[0].namespace, rejected[0].name, "Allocate failed due to requested number of devices"),
        Evidence(None, name, "Starting kubelet."),
        Evidence(plugin.namespace, plugin.name, "kubelet.sock created, restarting"),
        facts=(
            "kubelet restart|kubelet was restarted|Starting kubelet|kubelet.sock created",
            "device plugin",
        ),
    )
    cluster.ask(
        "admit-2",
        "What should I do about the Failed ocr-extractor pods? Is OCR degraded?",
        f"OCR is not degraded: both replicas of the new ReplicaSet {replica_set} are Running on {name}. The two Failed pods "
        "are leftovers of the kubelet restart: the kubelet rejected them at admission (reason UnexpectedAdmissionError, "
        "'Requested: 1, Available: 0') and never retries a rejected pod, so the ReplicaSet created new ones. Delete the "
        "Failed pods; nothing else is needed.",
        "gpu-admission",
        Evidence(rejected[1].namespace, rejected[1].name, "Requested: 1, Available: 0"),
        facts=("UnexpectedAdmissionError|Requested: 1, Available: 0|rejected at admission", replica_set),
    )


def leader_election_flapping(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """index-operator's client runs at client-go's defaults (QPS 5, burst 10); after the 10:00 bulk import each new
    leader's status writes queue behind the rate limiter, lease renewals miss the 10 s deadline and leadership flaps."""
    pods = cluster.pods_of("searchops", "index-operator")
    deployed, storm = 180.0, 118.0
    lease = ("Lease", "searchops", _LEASE)
    for pod in pods:
        _pin(cluster, pod, pod.node, deployed - cluster.rng.uniform(0, 0.3))
        pod.containers[0].noise = False
        pod.containers[0].env = [
            {"name": "WATCH_NAMESPACE", "value": ""},
            {"name": "SYNONYMS_REPO", "value": "https://github.com/acme/search-synonyms.git"},
            {"name": "GITHUB_TOKEN", "value": secrets.github_token},
        ]
    # Leadership changes: (minutes ago, index of the pod that loses it). Pod 0 led from the deploy until the storm.
    changes, moment, loser = [], storm, 0
    while moment > 8:
        changes.append((moment, loser))
        moment -= cluster.rng.uniform(9, 12)
        loser = 1 - loser
    identities = [f"{pod.name}_{cluster.uid()}" for pod in pods]
    restarts = [0, 0]
    starts = [pods[0].start, pods[1].start]
    previous: list[tuple[datetime, datetime, str]] = [
        (pods[0].start, pods[0].start, ""),
        (pods[1].start, pods[1].start, ""),
    ]
    acquired = pods[0].start
    _lease_event(cluster, lease, identities[0], "became leader", pods[0].start + timedelta(seconds=17))
    for minutes, lost in changes:
        at = ago(minutes)
        _lease_event(cluster, lease, identities[lost], "stopped leading", at)
        winner = 1 - lost
        acquired = at + timedelta(seconds=cluster.rng.uniform(4, 6))
        _lease_event(cluster, lease, identities[winner], "became leader", acquired)
        previous[lost] = (starts[lost], at, identities[lost])
        restarts[lost] += 1
        starts[lost] = at + timedelta(seconds=cluster.rng.uniform(11, 13))
        identities[lost] = f"{pods[lost].name}_{cluster.uid()}"
    leader = 1 - changes[-1][1]
    for index, pod in enumerate(pods):
        manager = pod.containers[0]
        manager.restarts = restarts[index]
        manager.state = {"running": {"startedAt": iso(starts[index], 0)}}
        began, ended, _ = previous[index]
        manager.last_state = {
            "terminated": {
                "reason": "Error",
                "exitCode": 1,
                "startedAt": iso(began, 0),
                "finishedAt": iso(ended, 0),
                "message": _lost_tail(cluster, ended),
            }
        }
        ref = ("Pod", pod.namespace, pod.name)
        first = pod.start
        cluster.event(
            ref,
            "Pulled",
            f'Container image "{manager.image}" already present on machine',
            starts[index],
            host=pod.node,
            count=restarts[index] + 1,
            first=first,
        )
        cluster.event(
            ref,
            "Created",
            "Created container manager",
            starts[index],
            host=pod.node,
            count=restarts[index] + 1,
            first=first,
        )
        cluster.event(
            ref,
            "Started",
            "Started container manager",
            starts[index],
            host=pod.node,
            count=restarts[index] + 1,
            first=first,
        )
        cluster.event(
            ref,
            "BackOff",
            f"Back-off restarting failed container manager in pod {pod.name}_{pod.namespace}({pod.uid})",
            ended + timedelta(seconds=1),
            warning=True,
            host=pod.node,
            count=restarts[index],
            first=ago(storm),
        )
        manager.lines += _operator_start(starts[index] + timedelta(milliseconds=300))
    manager = pods[leader].containers[0]
    manager.lines += _operator_leading(cluster, acquired, NOW)
    standby = pods[1 - leader]
    cluster.ask(
        "lease-1",
        "Search indexes in the catalog stopped updating around ten and index-operator keeps restarting. What's wrong "
        "with it?",
        f"Since about 10:00 the two replicas keep losing leadership. The leader cannot renew its Lease searchops/{_LEASE} "
        "within the 10 s renew deadline ('failed to renew lease ... timed out waiting for the condition'), controller-runtime "
        "exits with 'leader election lost', the other replica takes over, and the cycle repeats about every ten minutes "
        "(Lease events 'became leader' / 'stopped leading'), so reconciles never finish. The renewals are stuck behind the "
        "operator's own client-side rate limiter (qps 5, burst 10): after every take-over it re-reconciles every SearchIndex "
        "and its status writes queue up ('Waited for ... due to client-side throttling'). Raise the client's QPS/burst (or "
        "give leader election its own client).",
        "leader-election",
        Evidence(standby.namespace, standby.name, "leader election lost"),
        Evidence("searchops", _LEASE, "stopped leading"),
        facts=(
            "leader election lost|failed to renew|stopped leading|lost the lease",
            "client-side throttling|rate limiter|rate limit|qps",
        ),
    )
    cluster.ask(
        "lease-2",
        "Is the API server slow? index-operator logs say it waits seconds for its requests.",
        "No, the waiting happens inside the operator: 'Waited for ...s due to client-side throttling, not priority and "
        "fairness' is client-go's own token bucket, which index-operator runs at qps 5 and burst 10 (it logs both at start), "
        "not API Priority and Fairness on the server. Its status writes for thousands of SearchIndex objects fill that bucket "
        "and even its lease renewals wait, which is why it loses leadership. Raise qps/burst.",
        "leader-election",
        Evidence(pods[leader].namespace, pods[leader].name, "due to client-side throttling, not priority and fairness"),
        facts=(
            "client-side throttling|client-side rate limit|client rate limiter",
            "qps|burst",
        ),
    )


def _lease_event(cluster: SampleCluster, lease: tuple[str, str, str], identity: str, what: str, at: datetime) -> None:
    event = cluster.event(lease, "LeaderElection", f"{identity} {what}", at, component=identity)
    event["involvedObject"]["apiVersion"] = _LEASE_API


def _operator_start(moment: datetime) -> list[tuple[datetime, str]]:
    return [
        _zapc(
            moment,
            "INFO",
            "setup",
            "starting index-operator",
            version="0.9.0",
            qps=5,
            burst=10,
            leaseDuration="15s",
            renewDeadline="10s",
        ),
        _zapc(moment + timedelta(milliseconds=18), "INFO", "controller-runtime.metrics", "Starting metrics server"),
        _zapc(moment + timedelta(milliseconds=19), "INFO", "setup", "starting manager"),
        _zapc(
            moment + timedelta(milliseconds=19),
            "INFO",
            "controller-runtime.metrics",
            "Serving metrics server",
            bindAddress=":8080",
            secure=False,
        ),
        _zapc(
            moment + timedelta(milliseconds=20), "INFO", "", "starting server", kind="health probe", addr="[::]:8081"
        ),
        _klog1(
            moment + timedelta(milliseconds=21),
            "I",
            "leaderelection.go:250",
            f"attempting to acquire leader lease searchops/{_LEASE}...",
        ),
    ]


def _operator_leading(cluster: SampleCluster, acquired: datetime, until: datetime) -> list[tuple[datetime, str]]:
    """A leader's log: lease acquired, controllers started, then reconciles whose status writes wait longer and longer."""
    kind = {"controller": "searchindex", "controllerGroup": "search.example.com", "controllerKind": "SearchIndex"}
    lines = [
        _klog1(acquired, "I", "leaderelection.go:260", f"successfully acquired lease searchops/{_LEASE}"),
        _zapc(
            acquired + timedelta(milliseconds=2),
            "INFO",
            "",
            "Starting EventSource",
            **kind,
            source="kind source: *v1alpha1.SearchIndex",
        ),
        _zapc(acquired + timedelta(milliseconds=3), "INFO", "", "Starting Controller", **kind),
        _zapc(
            acquired + timedelta(seconds=1, milliseconds=610),
            "INFO",
            "",
            "Starting workers",
            **kind,
            **{"worker count": 8},
        ),
    ]
    moment, wait = acquired + timedelta(seconds=20), 0.6
    while moment < until:
        sku = f"sku-{cluster.rng.randint(10000, 99999)}"
        lines.append(
            _zapc(
                moment,
                "INFO",
                "",
                "Reconciling SearchIndex",
                **kind,
                SearchIndex={"name": sku, "namespace": "catalog"},
                namespace="catalog",
                name=sku,
                reconcileID=cluster.uid(),
            )
        )
        lines.append(
            _klog1(
                moment + timedelta(milliseconds=3),
                "I",
                "request.go:697",
                (
                    f"Waited for {wait:.6f}s due to client-side throttling, not priority and fairness, request: "
                    f"PATCH:https://10.96.0.1:443/apis/search.example.com/v1alpha1/namespaces/catalog/searchindices/{sku}/status"
                ),
            )
        )
        moment += timedelta(seconds=cluster.rng.uniform(35, 70))
        wait += cluster.rng.uniform(0.5, 1.2)
    return lines


def _lost_tail(cluster: SampleCluster, ended: datetime) -> str:
    """What the kubelet keeps of the log of an instance that lost the lease (FallbackToLogsOnError): its last lines."""
    sku = f"sku-{cluster.rng.randint(10000, 99999)}"
    waited = cluster.rng.uniform(8.2, 9.6)
    lines = [
        _klog1(
            ended - timedelta(seconds=16.4),
            "I",
            "request.go:697",
            (
                f"Waited for {waited:.6f}s due to client-side throttling, not priority and fairness, request: "
                f"PATCH:https://10.96.0.1:443/apis/search.example.com/v1alpha1/namespaces/catalog/searchindices/{sku}/status"
            ),
        ),
        _klog1(
            ended - timedelta(seconds=0.004),
            "E",
            "leaderelection.go:369",
            "Failed to update lock: client rate limiter Wait returned an error: rate: Wait(n=1) would exceed context deadline",
        ),
        _klog1(
            ended - timedelta(seconds=0.003),
            "I",
            "leaderelection.go:285",
            f"failed to renew lease searchops/{_LEASE}: timed out waiting for the condition",
        ),
        _zapc(
            ended - timedelta(seconds=0.002), "ERROR", "setup", "problem running manager", error="leader election lost"
        ),
    ]
    return "\n".join(line for _, line in lines) + "\n"


def unsafe_sysctl(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """ws-gateway 5.0.0 sets net.core.somaxconn in its pod securityContext; no kubelet allows that unsafe sysctl, so
    every new pod is rejected (SysctlForbidden, Failed) and the ReplicaSet keeps creating more."""
    rolled, count = 3.4, 16
    old = cluster.pods_of("realtime", "ws-gateway")
    for pod in old:
        pod.containers[0].env = [{"name": "WS_MAX_CONNECTIONS", "value": "20000"}]
    old[0].containers[0].lines.append(
        _json(
            ago(cluster.rng.uniform(100, 200)),
            "debug",
            "websocket upgrade accepted",
            path="/v2/stream",
            token=secrets.jwt,
        )
    )
    rejected = add_pods(cluster, old[0].workload, count, image="registry.example.com/realtime/ws-gateway:5.0.0")
    new_rs, old_rs = rejected[0].owner[1], old[0].owner[1]
    text = 'forbidden sysctl: "net.core.somaxconn" not allowlisted'
    cluster.event(
        ("Deployment", "realtime", "ws-gateway"),
        "ScalingReplicaSet",
        f"Scaled up replica set {new_rs} to 1",
        ago(rolled + 0.005),
        component="deployment-controller",
    )
    rs = ("ReplicaSet", "realtime", new_rs)
    created = ago(rolled)
    for index, pod in enumerate(rejected):
        _forget(cluster, pod)
        pod.node, pod.start = ("cpu-0", "cpu-1")[index % 2], created
        _rejected(pod, "SysctlForbidden", text)
        if index < 10:
            cluster.event(
                rs, "SuccessfulCreate", f"Created pod: {pod.name}", created, component="replicaset-controller"
            )
        _scheduled(cluster, pod, created)
        cluster.event(
            ("Pod", pod.namespace, pod.name),
            "SysctlForbidden",
            text,
            created + timedelta(milliseconds=300),
            warning=True,
            host=pod.node,
        )
        if index + 1 < count:
            created += timedelta(seconds=cluster.rng.uniform(9, 15))
    cluster.event(
        rs,
        "SuccessfulCreate",
        f"(combined from similar events): Created pod: {rejected[-1].name}",
        created,
        count=count - 10,
        first=ago(rolled) + timedelta(seconds=100),
        component="replicaset-controller",
    )
    cluster.ask(
        "sysctl-1",
        "The ws-gateway release from a few minutes ago never came up and Failed pods keep piling up in realtime. "
        "What's going on?",
        f"The kubelets reject every pod of the new ReplicaSet {new_rs} (ws-gateway 5.0.0) at admission: 'SysctlForbidden: "
        'forbidden sysctl: "net.core.somaxconn" not allowlisted\'. The new pod template sets net.core.somaxconn in its '
        "securityContext.sysctls, an unsafe sysctl the kubelets do not allow. A rejected pod is Failed, so the ReplicaSet "
        f"creates another one, and another ({count} so far). The three 4.8.2 pods of {old_rs} keep serving.",
        "sysctl-forbidden",
        Evidence(rejected[0].namespace, rejected[0].name, 'forbidden sysctl: "net.core.somaxconn"'),
        facts=("sysctl|SysctlForbidden", "net.core.somaxconn|somaxconn"),
    )
    cluster.ask(
        "sysctl-2",
        "How do we get the ws-gateway 5.0 pods admitted?",
        "net.core.somaxconn is not in the kubelet's allowlist of safe sysctls, so pods asking for it are rejected ('Pod was "
        "rejected: forbidden sysctl: ... not allowlisted'). Either drop it from the pod's securityContext.sysctls, or allow "
        "it on the kubelets that should run ws-gateway (--allowed-unsafe-sysctls=net.core.somaxconn / allowedUnsafeSysctls, "
        f"on a dedicated node pool the Deployment selects). Then clean up the Failed pods of {new_rs}.",
        "sysctl-forbidden",
        Evidence(rejected[-1].namespace, rejected[-1].name, "Pod was rejected: forbidden sysctl"),
        facts=("allowlist|allowed-unsafe-sysctls|unsafe sysctl", "somaxconn"),
    )


def _jvm_start(cluster: SampleCluster, moment: datetime) -> list[tuple[datetime, str]]:
    metrics = (
        "Operating System Metrics:\n"
        "    Provider: cgroupv2\n"
        "    Effective CPU Count: 2\n"
        "    CPU Period: 100000us\n"
        "    CPU Quota: 200000us\n"
        "    CPU Shares: 20us\n"
        "    List of Processors: N/A\n"
        "    List of Effective Processors: N/A\n"
        "    List of Memory Nodes: N/A\n"
        "    List of Available Memory Nodes: N/A\n"
        "    Memory Limit: 2.00G\n"
        "    Memory Soft Limit: 0.00K\n"
        "    Memory & Swap Limit: 2.00G\n"
        "    Maximum Processes Limit: 1024\n"
    )
    return [
        (
            moment,
            "Picked up JAVA_TOOL_OPTIONS: -XshowSettings:system -XX:MaxRAMPercentage=75.0 -javaagent:/otel/opentelemetry-javaagent.jar",
        ),
        (moment + timedelta(microseconds=1), metrics),
        (
            moment + timedelta(seconds=1),
            (
                "OpenJDK 64-Bit Server VM warning: Sharing is only supported for boot loader classes "
                "because bootstrap classpath has been appended"
            ),
        ),
        _spring(
            moment + timedelta(seconds=4),
            "INFO",
            "main",
            "c.e.clearing.fx.FxRatesApplication",
            "Starting FxRatesApplication v4.1.0 using Java 21.0.2 with PID 1 (/app/app.jar started by app in /app)",
        ),
        _spring(
            moment + timedelta(seconds=9),
            "INFO",
            "main",
            "o.s.b.w.embedded.tomcat.TomcatWebServer",
            "Tomcat started on port 8080 (http) with context path ''",
        ),
        _spring(
            moment + timedelta(seconds=9, milliseconds=40),
            "INFO",
            "main",
            "c.e.clearing.fx.FxRatesApplication",
            f"Started FxRatesApplication in {cluster.rng.uniform(8.1, 9.4):.3f} seconds (process running for "
            f"{cluster.rng.uniform(9.5, 10.4):.3f})",
        ),
    ]


def thread_limit(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """fx-rates-service builds a new java.net.http HttpClient per refresh and never closes it: one SelectorManager thread
    leaks each time, until the JVM hits the container's 1024-process limit and cannot start threads."""
    deployed, broke = 348.0, 68.0
    pods = cluster.pods_of("clearing", "fx-rates-service")
    for index, pod in enumerate(pods):
        _pin(cluster, pod, pod.node, deployed - 0.4 * index)
        app = pod.containers[0]
        app.noise = False
        app.env = [
            {
                "name": "JAVA_TOOL_OPTIONS",
                "value": "-XshowSettings:system -XX:MaxRAMPercentage=75.0 -javaagent:/otel/opentelemetry-javaagent.jar",
            },
            {"name": "RATES_PROVIDER_URL", "value": "https://rates.ecb-gateway.example.net/v1/latest"},
        ]
        pod.resources = {"requests": {"cpu": "500m", "memory": "2Gi"}, "limits": {"cpu": "2", "memory": "2Gi"}}
        app.lines += _jvm_start(cluster, pod.start + timedelta(seconds=1))
    broken, healthy = pods
    healthy.containers[0].lines.append(
        _spring(
            healthy.start + timedelta(seconds=12),
            "DEBUG",
            "rates-refresh-1",
            "c.e.clearing.fx.ProviderClient",
            f"provider session opened (Authorization: Bearer {secrets.bearer_token})",
        )
    )
    for pod in pods:
        moment, refreshes = pod.start + timedelta(minutes=5), 20
        end = ago(broke) if pod is broken else NOW
        while moment < end:
            pod.containers[0].lines.append(
                _spring(
                    moment,
                    "INFO",
                    "rates-refresh-1",
                    "c.e.clearing.fx.RatesRefresher",
                    f"Rates refreshed: 168 currency pairs, {refreshes} refreshes since start, "
                    f"last took {cluster.rng.randint(140, 260)} ms",
                )
            )
            moment += timedelta(minutes=5)
            refreshes += 20
    app = broken.containers[0]
    failed = ago(broke)
    uptime = (failed - broken.start).total_seconds()
    thread = 1017
    app.lines += [
        (
            failed,
            (
                f'[{uptime:.3f}s][warning][os,thread] Failed to start thread "Unknown thread" - pthread_create failed (EAGAIN) '
                "for attributes: stacksize: 1024k, guardsize: 0k, detached."
            ),
        ),
        (
            failed + timedelta(microseconds=300),
            (
                f"[{uptime + 0.001:.3f}s][warning][os,thread] Failed to start the native thread "
                f'for java.lang.Thread "HttpClient-{thread}-SelectorManager"'
            ),
        ),
    ]
    app.lines += _together(
        failed + timedelta(milliseconds=4),
        [
            _spring(
                failed + timedelta(milliseconds=4),
                "ERROR",
                "rates-refresh-1",
                "c.e.clearing.fx.RatesRefresher",
                "Rates refresh failed, serving cached rates (age 15s)",
            )[1],
            "java.lang.OutOfMemoryError: unable to create native thread: possibly out of memory or process/resource limits reached",
            "\tat java.base/java.lang.Thread.start0(Native Method)",
            "\tat java.base/java.lang.Thread.start(Thread.java:1553)",
            "\tat java.base/java.lang.System$2.start(System.java:2577)",
            "\tat java.net.http/jdk.internal.net.http.HttpClientImpl.start(HttpClientImpl.java:405)",
            "\tat java.net.http/jdk.internal.net.http.HttpClientImpl.create(HttpClientImpl.java:317)",
            "\tat java.net.http/jdk.internal.net.http.HttpClientBuilderImpl.build(HttpClientBuilderImpl.java:143)",
            "\tat com.example.clearing.fx.ProviderClient.fetch(ProviderClient.java:61)",
            "\tat com.example.clearing.fx.RatesRefresher.refresh(RatesRefresher.java:44)",
            "\tat org.springframework.scheduling.support.ScheduledMethodRunnable.run(ScheduledMethodRunnable.java:84)",
        ],
    )
    moment, age = failed + timedelta(minutes=1), 75
    while moment < NOW:
        app.lines.append(
            _spring(
                moment,
                "ERROR",
                "rates-refresh-1",
                "c.e.clearing.fx.RatesRefresher",
                f"Rates refresh failed (java.lang.OutOfMemoryError: unable to create native thread), "
                f"serving cached rates (age {age}s)",
            )
        )
        moment += timedelta(minutes=1)
        age += 60
    app.ready = False
    cluster.event(
        ("Pod", broken.namespace, broken.name),
        "Unhealthy",
        "Readiness probe failed: HTTP probe failed with statuscode: 503",
        ago(0.2),
        warning=True,
        host=broken.node,
        count=cluster.rng.randint(370, 390),
        first=ago(broke - 5),
    )
    cluster.ask(
        "pids-1",
        "fx-rates-service says OutOfMemoryError, but its memory graphs are flat. Why have FX rates been stale since "
        "about 10:50?",
        f"The JVM in {broken.name} cannot start new threads: 'pthread_create failed (EAGAIN)' and 'java.lang.OutOfMemoryError: "
        "unable to create native thread: possibly out of memory or process/resource limits reached'. That is not heap or "
        "container memory (the 2Gi limit is untouched): the container may run at most 1024 processes/threads (the JVM "
        "reports 'Maximum Processes Limit: 1024' at start-up, the pod PID limit) and the app has leaked threads up to it. "
        "Since 10:52 every rates refresh fails, the pod serves cached rates and its readiness probe fails.",
        "pid-limit",
        Evidence(broken.namespace, broken.name, "unable to create native thread"),
        facts=(
            "native thread|pthread_create|create threads|start new threads|thread limit",
            "Maximum Processes Limit|1024|pids|PID limit",
        ),
    )
    cluster.ask(
        "pids-2",
        "Will more memory fix fx-rates-service, and is the other replica safe?",
        "No and no. Memory is not the limit: the JVM hits the container's process limit (Maximum Processes Limit: 1024) "
        "because threads leak: every refresh builds a new java.net.http HttpClient whose SelectorManager thread never ends "
        f"(the failing one is HttpClient-{thread}-SelectorManager). {healthy.name} runs the same code and will reach the "
        "limit too. Reuse one HttpClient (or close it); restarting the pods only buys hours.",
        "pid-limit",
        Evidence(broken.namespace, broken.name, "Maximum Processes Limit: 1024"),
        Evidence(broken.namespace, broken.name, "Failed to start the native thread for java.lang.Thread"),
        facts=(
            "thread leak|leak|HttpClient|SelectorManager",
            "1024|Maximum Processes Limit|PID limit|pids limit|process limit",
        ),
    )


def _vllm_start(moment: datetime, model: str, max_len: int, concurrency: float) -> list[tuple[datetime, str]]:
    args = (
        f"args: Namespace(subparser='serve', model_tag='{model}', config='', host=None, port=8000, uvicorn_log_level='info', "
        "allow_credentials=False, allowed_origins=['*'], allowed_methods=['*'], allowed_headers=['*'], api_key=None, "
        "lora_modules=None, prompt_adapters=None, chat_template=None, response_role='assistant', ssl_keyfile=None, "
        "ssl_certfile=None, ssl_ca_certs=None, ssl_cert_reqs=0, root_path=None, middleware=[], "
        f"return_tokens_as_token_ids=False, disable_frontend_multiprocessing=False, model='{model}', tokenizer=None, "
        "skip_tokenizer_init=False, revision=None, code_revision=None, tokenizer_revision=None, tokenizer_mode='auto', "
        "trust_remote_code=False, download_dir=None, load_format='auto', dtype='auto', kv_cache_dtype='auto', "
        "max_model_len=None, guided_decoding_backend='outlines', distributed_executor_backend=None, "
        "pipeline_parallel_size=1, tensor_parallel_size=1, block_size=16, enable_prefix_caching=False, seed=0, "
        "swap_space=4, cpu_offload_gb=0, gpu_memory_utilization=0.9, num_gpu_blocks_override=None, "
        "max_num_batched_tokens=None, max_num_seqs=256, max_logprobs=20, disable_log_stats=False, quantization=None, "
        "rope_scaling=None, rope_theta=None, enforce_eager=False, max_seq_len_to_capture=8192, "
        "served_model_name=['support-llm'], disable_log_requests=True)"
    )
    config = (
        f"Initializing an LLM engine (v0.6.3.post1) with config: model='{model}', speculative_config=None, "
        f"tokenizer='{model}', skip_tokenizer_init=False, tokenizer_mode=auto, revision=None, "
        "override_neuron_config=None, rope_scaling=None, rope_theta=None, tokenizer_revision=None, "
        f"trust_remote_code=False, dtype=torch.bfloat16, max_seq_len={max_len}, download_dir=None, "
        "load_format=LoadFormat.AUTO, tensor_parallel_size=1, pipeline_parallel_size=1, "
        "disable_custom_all_reduce=False, quantization=None, enforce_eager=False, kv_cache_dtype=auto, "
        "quantization_param_path=None, device_config=cuda, decoding_config=DecodingConfig(guided_decoding_backend="
        "'outlines'), seed=0, served_model_name=support-llm, num_scheduler_steps=1, chunked_prefill_enabled=False "
        "multi_step_stream_outputs=True, enable_prefix_caching=False, use_async_output_proc=True, "
        "use_cached_outputs=True, mm_processor_kwargs=None)"
    )
    loaded = moment + timedelta(seconds=80)
    return [
        _vllm(moment, "INFO", "api_server.py:528", "vLLM API server version 0.6.3.post1"),
        _vllm(moment + timedelta(microseconds=1), "INFO", "api_server.py:529", args),
        _vllm(
            moment + timedelta(milliseconds=20),
            "INFO",
            "api_server.py:166",
            "Multiprocessing frontend to use ipc:///tmp/4f1e0c7a-2b8d-4a51-9e3c-6d0b7f2a9c18 for IPC Path.",
        ),
        _vllm(moment + timedelta(milliseconds=21), "INFO", "api_server.py:179", "Started engine process with PID 78"),
        _vllm(moment + timedelta(seconds=6), "INFO", "llm_engine.py:237", config),
        _vllm(moment + timedelta(seconds=7), "INFO", "model_runner.py:1056", f"Starting to load model {model}..."),
        _vllm(
            moment + timedelta(seconds=8), "INFO", "weight_utils.py:243", "Using model weights format ['*.safetensors']"
        ),
        (
            loaded - timedelta(seconds=1),
            "Loading safetensors checkpoint shards: 100% Completed | 4/4 [01:11<00:00, 17.81s/it]",
        ),
        _vllm(loaded, "INFO", "model_runner.py:1067", "Loading model weights took 14.9888 GB"),
        _vllm(loaded + timedelta(seconds=3), "INFO", "gpu_executor.py:122", "# GPU blocks: 1853, # CPU blocks: 2048"),
        _vllm(
            loaded + timedelta(seconds=3, microseconds=1),
            "INFO",
            "gpu_executor.py:126",
            f"Maximum concurrency for {max_len} tokens per request: {concurrency:.2f}x",
        ),
    ]


def kv_cache_too_small(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """support-llm switched from Llama 3 8B (8k context) to Llama 3.1 8B (128k context) without --max-model-len: on a 24 GB
    L4 the KV cache holds 29648 tokens, so vLLM refuses to start."""
    rolled = 102.0
    (old,) = cluster.pods_of("copilot", "support-llm")
    (new,) = add_pods(cluster, old.workload, 1, node="gpu-l4-1")
    _pin(cluster, new, "gpu-l4-1", rolled)
    for pod, model in ((old, "meta-llama/Meta-Llama-3-8B-Instruct"), (new, "meta-llama/Llama-3.1-8B-Instruct")):
        pod.containers[0].env = [
            {"name": "MODEL_ID", "value": model},
            {"name": "HF_HOME", "value": "/models/hf"},
            {"name": "VLLM_API_KEY", "value": secrets.openai_key},
        ]
        pod.containers[0].noise = False
        pod.resources = {
            "requests": {"cpu": "6", "memory": "28Gi", "nvidia.com/gpu": "1"},
            "limits": {"memory": "28Gi", "nvidia.com/gpu": "1"},
        }
    cluster.event(
        ("Deployment", "copilot", "support-llm"),
        "ScalingReplicaSet",
        f"Scaled up replica set {new.owner[1]} to 1",
        ago(rolled + 0.01),
        component="deployment-controller",
    )
    vllm = new.containers[0]
    _crash_loop(cluster, new, vllm, 14, 1, 2.2, rolled - 4)
    begin = ago(2.2) - timedelta(seconds=88)
    vllm.lines += _vllm_start(begin, "meta-llama/Llama-3.1-8B-Instruct", 131072, 0.23)
    failed = begin + timedelta(seconds=84)
    dist = "/usr/local/lib/python3.12/dist-packages/vllm"
    vllm.lines += _together(
        failed,
        [
            "Process SpawnProcess-1:",
            "Traceback (most recent call last):",
            '  File "/usr/lib/python3.12/multiprocessing/process.py", line 314, in _bootstrap',
            "    self.run()",
            '  File "/usr/lib/python3.12/multiprocessing/process.py", line 108, in run',
            "    self._target(*self._args, **self._kwargs)",
            f'  File "{dist}/engine/multiprocessing/engine.py", line 390, in run_mp_engine',
            "    engine = MQLLMEngine.from_engine_args(engine_args=engine_args,",
            f'  File "{dist}/engine/multiprocessing/engine.py", line 139, in from_engine_args',
            "    return cls(",
            f'  File "{dist}/engine/multiprocessing/engine.py", line 78, in __init__',
            "    self.engine = LLMEngine(*args,",
            f'  File "{dist}/engine/llm_engine.py", line 348, in __init__',
            "    self._initialize_kv_caches()",
            f'  File "{dist}/engine/llm_engine.py", line 496, in _initialize_kv_caches',
            "    self.model_executor.initialize_cache(num_gpu_blocks, num_cpu_blocks)",
            f'  File "{dist}/executor/gpu_executor.py", line 129, in initialize_cache',
            "    self.driver_worker.initialize_cache(num_gpu_blocks, num_cpu_blocks)",
            f'  File "{dist}/worker/worker.py", line 262, in initialize_cache',
            "    raise_if_cache_size_invalid(num_gpu_blocks,",
            f'  File "{dist}/worker/worker.py", line 492, in raise_if_cache_size_invalid',
            "    raise ValueError(",
            (
                "ValueError: The model's max seq len (131072) is larger than the maximum number of tokens that can be stored in KV "
                "cache (29648). Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when initializing the engine."
            ),
        ],
    )
    vllm.lines += _together(
        failed + timedelta(seconds=2),
        [
            "Traceback (most recent call last):",
            '  File "<frozen runpy>", line 198, in _run_module_as_main',
            '  File "<frozen runpy>", line 88, in _run_code',
            f'  File "{dist}/entrypoints/openai/api_server.py", line 585, in <module>',
            "    uvloop.run(run_server(args))",
            f'  File "{dist}/entrypoints/openai/api_server.py", line 552, in run_server',
            "    async with build_async_engine_client(args) as engine_client:",
            f'  File "{dist}/entrypoints/openai/api_server.py", line 107, in build_async_engine_client',
            "    async with build_async_engine_client_from_engine_args(",
            f'  File "{dist}/entrypoints/openai/api_server.py", line 194, in build_async_engine_client_from_engine_args',
            "    raise RuntimeError(",
            "RuntimeError: Engine process failed to start",
        ],
    )
    serving = old.containers[0]
    begin = old.start + timedelta(seconds=3)
    serving.lines += _vllm_start(begin, "meta-llama/Meta-Llama-3-8B-Instruct", 8192, 3.62)
    ready = begin + timedelta(seconds=101)
    serving.lines += [
        _vllm(
            ready - timedelta(seconds=15),
            "INFO",
            "model_runner.py:1385",
            (
                "Capturing the model for CUDA graphs. This may lead to unexpected consequences if the model is not static. To run "
                "the model in eager mode, set 'enforce_eager=True' or use '--enforce-eager' in the CLI."
            ),
        ),
        _vllm(ready - timedelta(seconds=1), "INFO", "model_runner.py:1513", "Graph capturing finished in 14 secs."),
        (ready, "INFO:     Started server process [1]"),
        (ready + timedelta(microseconds=1), "INFO:     Waiting for application startup."),
        (ready + timedelta(microseconds=2), "INFO:     Application startup complete."),
        (ready + timedelta(microseconds=3), "INFO:     Uvicorn running on http://0.0.0.0:8000 (Press CTRL+C to quit)"),
    ]
    moment = max(ready, ago(6 * 60)) + timedelta(seconds=30)
    while moment < NOW:
        running = cluster.rng.randint(0, 6)
        serving.lines.append(
            _vllm(
                moment,
                "INFO",
                "metrics.py:349",
                (
                    f"Avg prompt throughput: {cluster.rng.uniform(150, 900):.1f} tokens/s, Avg generation throughput: "
                    f"{cluster.rng.uniform(40, 160):.1f} tokens/s, Running: {running} reqs, Swapped: 0 reqs, Pending: 0 reqs, GPU KV "
                    f"cache usage: {cluster.rng.uniform(5, 60) if running else 0.0:.1f}%, CPU KV cache usage: 0.0%."
                ),
            )
        )
        if cluster.rng.random() < 0.12:
            tokens = cluster.rng.randint(8300, 12000)
            serving.lines.append(
                _vllm(
                    moment + timedelta(seconds=4),
                    "WARNING",
                    "scheduler.py:1045",
                    f"Input prompt ({tokens} tokens) is too long and exceeds limit of 8192",
                )
            )
        moment += timedelta(seconds=cluster.rng.uniform(100, 240))
    cluster.ask(
        "kvcache-1",
        "The support-llm rollout from this morning is stuck, with the new pod restarting over and over. What error "
        "does it hit?",
        f"vLLM refuses to start in {new.name}: 'ValueError: The model's max seq len (131072) is larger than the maximum number "
        "of tokens that can be stored in KV cache (29648)'. The new version serves meta-llama/Llama-3.1-8B-Instruct, whose "
        "default context is 131072 tokens; on the 24 GB L4, after 15 GB of weights, the KV cache holds only 29648 tokens "
        "(1853 blocks), so the engine process exits ('Engine process failed to start') and the pod crash-loops.",
        "kv-cache",
        Evidence(new.namespace, new.name, "maximum number of tokens that can be stored in KV cache"),
        facts=("KV cache|max seq len|max_model_len|context length", "131072"),
    )
    cluster.ask(
        "kvcache-2",
        "The old support-llm pod runs fine on the same kind of GPU. What's different about the new one, and what's "
        "the fix?",
        "The model: the old pod serves meta-llama/Meta-Llama-3-8B-Instruct with max_seq_len=8192, the new one "
        "meta-llama/Llama-3.1-8B-Instruct, and with max_model_len left unset vLLM takes its full 131072-token context, "
        "which does not fit the L4's KV cache (29648 tokens). Start it with --max-model-len (e.g. 16384 or 28672) or raise "
        "gpu_memory_utilization slightly if that is not enough; a bigger GPU also works.",
        "kv-cache",
        Evidence(new.namespace, new.name, "max_seq_len=131072"),
        Evidence(old.namespace, old.name, "max_seq_len=8192"),
        facts=("Llama-3.1-8B-Instruct|Llama 3.1|Llama-3.1", "max_model_len|max-model-len"),
    )


def gpu_preemption(cluster: SampleCluster) -> None:
    """bid-scorer (serving, higher priority) scales with traffic on gpu-a100-5; each scale-up to 5 replicas preempts the
    ads team's 4-GPU fine-tune, which then waits: 3 GPUs free, and it may not preempt serving."""
    name = "gpu-a100-5"
    began, first_up, down, second_up = 360.0, 228.0, 149.0, 72.0
    scorers = cluster.pods_of("ads-serving", "bid-scorer")
    replica_set = scorers[0].owner[1]
    late = scorers[-1]
    _pin(cluster, late, name, second_up - 0.02)
    early = _siblings(cluster, late, 1, name)[0]  # the fifth replica of the first surge, deleted at 09:31
    cluster.pods.remove(early)
    job = ("Job", "ads-training", "ctr-finetune")
    trainers = add_pods(cluster, _CTR_FINETUNE, 3)
    for trainer in trainers:
        _forget(cluster, trainer)
        trainer.node = None
    first, second, waiting = trainers
    hpa = ("HorizontalPodAutoscaler", "ads-serving", "bid-scorer")
    deployment = ("Deployment", "ads-serving", "bid-scorer")
    rs = ("ReplicaSet", "ads-serving", replica_set)
    fit = _fit_error(
        cluster.nodes,
        lambda node: (
            "Insufficient nvidia.com/gpu"
            if node["metadata"]["name"] == name
            else (_reason(node, ("nvidia.com/gpu",)) or "node(s) didn't match Pod's node affinity/selector")
        ),
    )
    for when, size, reason in (
        (first_up, 5, "pods metric bid_requests_per_second above target"),
        (down, 4, "All metrics below target"),
        (second_up, 5, "pods metric bid_requests_per_second above target"),
    ):
        _event(
            cluster,
            hpa,
            "SuccessfulRescale",
            f"New size: {size}; reason: {reason}",
            ago(when + 0.02),
            component="horizontal-pod-autoscaler",
        )
        verb = "up" if size == 5 else "down"
        cluster.event(
            deployment,
            "ScalingReplicaSet",
            f"Scaled {verb} replica set {replica_set} to {size} from {9 - size}",
            ago(when + 0.01),
            component="deployment-controller",
        )
    cluster.event(
        rs, "SuccessfulCreate", f"Created pod: {early.name}", ago(first_up + 0.005), component="replicaset-controller"
    )
    cluster.event(
        rs, "SuccessfulDelete", f"Deleted pod: {early.name}", ago(down + 0.005), component="replicaset-controller"
    )
    cluster.event(
        rs, "SuccessfulCreate", f"Created pod: {late.name}", ago(second_up + 0.005), component="replicaset-controller"
    )
    _event(cluster, job, "SuccessfulCreate", f"Created pod: {first.name}", ago(began), component="job-controller")
    for victim, created, placed, preempted, by in (
        (first, began, began - 0.01, first_up, early),
        (second, first_up, down - 0.01, second_up, late),
    ):
        ref = ("Pod", victim.namespace, victim.name)
        if created != began:
            _event(
                cluster,
                job,
                "SuccessfulCreate",
                f"Created pod: {victim.name}",
                ago(created - 0.001),
                component="job-controller",
            )
            cluster.event(
                ref,
                "FailedScheduling",
                fit,
                ago(placed + 0.2),
                warning=True,
                component="default-scheduler",
                count=cluster.rng.randint(24, 30),
                first=ago(created - 0.002),
            )
        cluster.event(
            ref,
            "Scheduled",
            f"Successfully assigned {victim.namespace}/{victim.name} to {name}",
            ago(placed),
            component="default-scheduler",
        )
        for reason, text in (
            ("Pulled", f'Container image "{victim.containers[0].image}" already present on machine'),
            ("Created", "Created container trainer"),
            ("Started", "Started container trainer"),
        ):
            cluster.event(ref, reason, text, ago(placed - 0.02), host=name)
        cluster.event(
            ref,
            "Preempted",
            f"Preempted by pod {by.uid} on node {name}",
            ago(preempted - 0.005),
            component="default-scheduler",
        )
        cluster.event(ref, "Killing", "Stopping container trainer", ago(preempted - 0.006), host=name)
    cluster.pods = [pod for pod in cluster.pods if pod not in (first, second)]  # preemption deletes its victims
    waiting.start, waiting.phase = ago(second_up - 0.007), "Pending"
    waiting.conditions = {"PodScheduled": "False"}
    waiting.resources = {
        "requests": {"cpu": "40", "memory": "480Gi", "nvidia.com/gpu": "4"},
        "limits": {"memory": "480Gi", "nvidia.com/gpu": "4"},
    }
    for container in waiting.containers:
        container.state = {"waiting": {"reason": "ContainerCreating", "message": ""}}
        container.ready, container.noise = False, False
    _event(
        cluster,
        job,
        "SuccessfulCreate",
        f"Created pod: {waiting.name}",
        ago(second_up - 0.006),
        component="job-controller",
    )
    cluster.event(
        ("Pod", waiting.namespace, waiting.name),
        "FailedScheduling",
        fit,
        ago(cluster.rng.uniform(0.5, 3)),
        warning=True,
        component="default-scheduler",
        count=cluster.rng.randint(30, 36),
        first=ago(second_up - 0.008),
    )
    cluster.ask(
        "preempt-1",
        "ctr-finetune was training this morning, but it has been Pending for over an hour now. Why won't it run?",
        f"It was preempted. At 10:48 the bid-scorer HPA scaled to 5 replicas; the new bid-scorer pod ({late.name}) has the "
        f"higher priority, and kube-scheduler evicted ctr-finetune's pod {second.name} from {name} to make room ('Preempted by "
        f"pod {late.uid} on node {name}'). The Job created {waiting.name}, which now waits: {name} has only 3 free GPUs for "
        "its 4 (Insufficient nvidia.com/gpu) and it cannot preempt the higher-priority serving pods ('No preemption victims "
        "found'). The same happened at 08:12; it will run again when bid-scorer scales back to 4.",
        "gpu-preemption",
        Evidence(second.namespace, second.name, "Preempted by pod"),
        Evidence("ads-serving", "bid-scorer", "New size: 5; reason: pods metric bid_requests_per_second"),
        facts=("preempt", "bid-scorer"),
    )
    cluster.ask(
        "preempt-2",
        f"Is {name} faulty? The fine-tune keeps getting kicked off it.",
        f"No, the node is healthy, just full: five bid-scorer pods hold one GPU each, and ctr-finetune needs 4 of the 8, so "
        "the scheduler reports 'Insufficient nvidia.com/gpu' there and 'No preemption victims found for incoming pod' (the "
        f"serving pods have the higher priority). Whenever bid-scorer's autoscaler adds the fifth replica ({late.name} since "
        "10:48) the fine-tune is preempted. Give the fine-tune its own GPUs or cap bid-scorer at 4 on this node.",
        "gpu-preemption",
        Evidence(waiting.namespace, waiting.name, "No preemption victims found for incoming pod"),
        Evidence(late.namespace, late.name, f"Successfully assigned ads-serving/{late.name} to {name}"),
        facts=("bid-scorer", "Insufficient nvidia.com/gpu|not enough free GPUs|only 3|3 free|three free"),
    )


def sidecar_start_order(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """transfer-worker's app checks the schema through its pgbouncer sidecar at start-up; Bitnami's pgbouncer only
    listens after it has waited for the RDS backend, so the app's first attempt(s) get 'Connection refused' and exit."""
    rolled = 139.0
    pods = cluster.pods_of("remittance", "transfer-worker")
    backend = "remit-db.cluster-c8x2k1qz7w4p.us-east-1.rds.amazonaws.com"
    waits = (5.8, 13.9, 4.9)  # seconds until each pod's pgbouncer listens
    for index, pod in enumerate(pods):
        _pin(cluster, pod, pod.node, rolled - 0.4 * index)
        app, bouncer = pod.containers
        app.env = [
            {"name": "DATABASE_URL", "value": "postgresql://transfer@127.0.0.1:6432/remittance"},
            {"name": "QUEUE", "value": "transfers.outbound"},
        ]
        bouncer.env = [
            {"name": "POSTGRESQL_HOST", "value": backend},
            {"name": "POSTGRESQL_PORT", "value": "5432"},
            {"name": "POSTGRESQL_USERNAME", "value": "transfer"},
            {"name": "POSTGRESQL_PASSWORD", "value": secrets.env_password},
            {"name": "PGBOUNCER_DATABASE", "value": "remittance"},
            {"name": "PGBOUNCER_PORT", "value": "6432"},
        ]
        bouncer.noise = False
        start = pod.start
        listening = start + timedelta(seconds=waits[index])
        attempts = [start + timedelta(seconds=0.6)]
        while attempts[-1] + timedelta(seconds=2) < listening:
            attempts.append(attempts[-1] + timedelta(seconds=10 * 2 ** (len(attempts) - 1) + 0.6))
        failed = attempts[:-1]
        app.restarts = len(failed)
        app.state = {"running": {"startedAt": iso(attempts[-1], 0)}}
        last = failed[-1]
        app.last_state = {
            "terminated": {
                "reason": "Error",
                "exitCode": 1,
                "startedAt": iso(last, 0),
                "finishedAt": iso(last + timedelta(seconds=1.2), 0),
                "message": _psycopg_tail(last),
            }
        }
        app.lines += [
            _pylog(
                attempts[-1] + timedelta(seconds=0.5),
                "INFO",
                "transfer_worker",
                "transfer-worker 2.7.0 starting (queue transfers.outbound, 4 workers)",
            ),
            _pylog(
                attempts[-1] + timedelta(seconds=0.7),
                "INFO",
                "transfer_worker.db",
                "checking schema version via pgbouncer 127.0.0.1:6432",
            ),
            _pylog(
                attempts[-1] + timedelta(seconds=0.8),
                "INFO",
                "transfer_worker.db",
                "schema at revision 0047_fx_margin, ok",
            ),
            _pylog(
                attempts[-1] + timedelta(seconds=0.9), "INFO", "transfer_worker", "consuming from transfers.outbound"
            ),
        ]
        ref = ("Pod", pod.namespace, pod.name)
        _forget(cluster, pod)
        _scheduled(cluster, pod, start - timedelta(seconds=1))
        runs = len(attempts)
        cluster.event(
            ref,
            "Pulled",
            f'Container image "{app.image}" already present on machine',
            attempts[-1],
            host=pod.node,
            count=runs,
            first=start,
        )
        cluster.event(ref, "Created", "Created container app", attempts[-1], host=pod.node, count=runs, first=start)
        cluster.event(ref, "Started", "Started container app", attempts[-1], host=pod.node, count=runs, first=start)
        cluster.event(
            ref,
            "BackOff",
            f"Back-off restarting failed container app in pod {pod.name}_{pod.namespace}({pod.uid})",
            failed[-1] + timedelta(seconds=1.3),
            warning=True,
            host=pod.node,
            count=len(failed),
            first=start + timedelta(seconds=2),
        )
        for reason, text in (
            ("Pulled", f'Container image "{_PGBOUNCER_IMAGE}" already present on machine'),
            ("Created", "Created container pgbouncer"),
            ("Started", "Started container pgbouncer"),
        ):
            cluster.event(ref, reason, text, start + timedelta(seconds=0.1), host=pod.node)
        at = start + timedelta(seconds=0.3)
        bouncer.lines += [
            _bitnami(at, ""),
            _bitnami(at + timedelta(microseconds=1), "Welcome to the Bitnami pgbouncer container"),
            _bitnami(at + timedelta(microseconds=2), "** Starting PgBouncer setup **"),
            _bitnami(at + timedelta(milliseconds=40), "Validating settings in PGBOUNCER_* env vars..."),
            _bitnami(at + timedelta(milliseconds=60), "Initializing PgBouncer..."),
            _bitnami(at + timedelta(milliseconds=80), "Waiting for PostgreSQL backend to be accessible"),
            _bitnami(listening - timedelta(milliseconds=240), f"Backend {backend}:5432 accessible"),
            _bitnami(listening - timedelta(milliseconds=230), "Configuring credentials"),
            _bitnami(listening - timedelta(milliseconds=200), "Creating configuration file"),
            _bitnami(listening - timedelta(milliseconds=150), "Loading custom scripts..."),
            _bitnami(listening - timedelta(milliseconds=140), "** PgBouncer setup finished! **"),
            _bitnami(listening - timedelta(milliseconds=120), "** Starting PgBouncer **"),
            _pgbouncer(
                listening - timedelta(milliseconds=20),
                "LOG",
                "kernel file descriptor limit: 1048576 (hard: 1048576); max_client_conn: 100, max expected fd use: 112",
            ),
            _pgbouncer(listening, "LOG", "listening on 0.0.0.0:6432"),
            _pgbouncer(listening + timedelta(microseconds=1), "LOG", "listening on unix:/tmp/.s.PGSQL.6432"),
            _pgbouncer(
                listening + timedelta(microseconds=2),
                "LOG",
                "process up: PgBouncer 1.22.1, libevent 2.1.12-stable (epoll), adns: c-ares 1.19.1, tls: OpenSSL 3.0.11 "
                "19 Sep 2023",
            ),
        ]
        moment = listening + timedelta(seconds=60)
        while moment < NOW:
            xacts = cluster.rng.randint(4, 40)
            bouncer.lines.append(
                _pgbouncer(
                    moment,
                    "LOG",
                    (
                        f"stats: {xacts} xacts/s, {xacts * cluster.rng.randint(3, 6)} queries/s, in {xacts * 2210} B/s, "
                        f"out {xacts * 5120} B/s, xact {cluster.rng.randint(900, 4000)} us, query "
                        f"{cluster.rng.randint(200, 900)} us, wait {cluster.rng.randint(0, 40)} us"
                    ),
                )
            )
            moment += timedelta(seconds=60)
    cluster.event(
        ("Deployment", "remittance", "transfer-worker"),
        "ScalingReplicaSet",
        f"Scaled up replica set {pods[0].owner[1]} to 3",
        ago(rolled + 0.01),
        component="deployment-controller",
    )
    one, two = pods[0], pods[1]
    cluster.ask(
        "sidecar-1",
        "Every transfer-worker pod restarts its app container once or twice right after it's created, then runs "
        "fine. What's causing that?",
        "A start-up race with the pgbouncer sidecar. The app container starts first and checks the schema within a second, "
        "through pgbouncer on 127.0.0.1:6432; pgbouncer is not listening yet, so the connect fails ('connection to server at "
        '"127.0.0.1", port 6432 failed: Connection refused\') and the app exits 1. The kubelet restarts it after the '
        "back-off, by then pgbouncer listens ('listening on 0.0.0.0:6432') and it runs. Make pgbouncer a native sidecar "
        "(an init container with restartPolicy: Always and a startup probe on 6432) or retry the connection.",
        "sidecar-order",
        Evidence(one.namespace, one.name, "port 6432 failed: Connection refused"),
        Evidence(one.namespace, one.name, "listening on 0.0.0.0:6432"),
        facts=("pgbouncer|sidecar", "6432"),
    )
    cluster.ask(
        "sidecar-2",
        "Why can't transfer-worker reach its database for the first seconds of a pod's life? RDS itself is up.",
        "It does not talk to RDS directly: it connects to its pgbouncer sidecar on 127.0.0.1:6432, and the Bitnami "
        "pgbouncer container only starts listening after its setup has checked the RDS backend ('Waiting for PostgreSQL "
        f"backend to be accessible', 5 to 14 s; in {two.name} it took 14 s, so the app failed twice). The app container, "
        "started at the same moment, connects within a second and gets 'Connection refused'.",
        "sidecar-order",
        Evidence(two.namespace, two.name, "Waiting for PostgreSQL backend to be accessible"),
        facts=(
            "Waiting for PostgreSQL backend|waits for the backend|backend to be accessible",
            "pgbouncer",
        ),
    )


def _psycopg_tail(started: datetime) -> str:
    """The last lines of a failed start (the termination message the kubelet keeps with FallbackToLogsOnError)."""
    lines = [
        _pylog(
            started + timedelta(seconds=0.5),
            "INFO",
            "transfer_worker",
            "transfer-worker 2.7.0 starting (queue transfers.outbound, 4 workers)",
        )[1],
        _pylog(
            started + timedelta(seconds=0.7),
            "INFO",
            "transfer_worker.db",
            "checking schema version via pgbouncer 127.0.0.1:6432",
        )[1],
        "Traceback (most recent call last):",
        '  File "/app/transfer_worker/__main__.py", line 22, in <module>',
        "    main()",
        '  File "/app/transfer_worker/__main__.py", line 14, in main',
        "    db.check_schema()",
        '  File "/app/transfer_worker/db.py", line 38, in check_schema',
        "    with psycopg.connect(DSN, connect_timeout=5) as conn:",
        '  File "/usr/local/lib/python3.12/site-packages/psycopg/connection.py", line 119, in connect',
        "    raise last_ex.with_traceback(None)",
        'psycopg.OperationalError: connection failed: connection to server at "127.0.0.1", port 6432 failed: Connection refused',
        "\tIs the server running on that host and accepting TCP/IP connections?",
    ]
    return "\n".join(lines) + "\n"


def apply_all(cluster: SampleCluster) -> None:
    secrets = cluster.secrets
    _placement(cluster)
    configmap_missing(cluster, secrets)
    subnet_exhausted(cluster)
    rendezvous_timeout(cluster, secrets)
    device_admission(cluster, secrets)
    leader_election_flapping(cluster, secrets)
    unsafe_sysctl(cluster, secrets)
    thread_limit(cluster, secrets)
    kv_cache_too_small(cluster, secrets)
    gpu_preemption(cluster)
    sidecar_start_order(cluster, secrets)
