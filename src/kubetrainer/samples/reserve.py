"""The reserve scenario: an eighth set of incidents, written blind as the held-out set for the on-call answers.

Selected with `build_cluster(scenario="reserve")` / `kubetrainer samples cluster
--scenario reserve`. None of its incident types, namespaces, workloads, evidence
objects or phrases appear in the default (incidents.py), heldout (heldout.py), fresh
(fresh.py), blind (blind.py), sealed (sealed.py), unseen (unseen.py) or drill
(drill.py) scenarios. It was written blind: without opening any diagnosis, answering,
retrieval, evaluation, training, investigation or serving code, or their tests, so
nothing has been tuned against it. Messages are written the way the component that
prints them does (the ResourceQuota admission plugin under the replicaset controller
and its event aggregation; the API server calling a Kyverno validating webhook;
node-problem-detector's kernel and custom-plugin monitors; NodeLocal DNSCache's
CoreDNS errors plugin and Node.js's resolver; PyJWT; PostgreSQL's lock-wait log and
golang-migrate; the HIP runtime under a ROCm PyTorch build; Puma and Rails; botocore's
credential chain and S3's AccessDenied; PyTorch's checkpoint writer, BusyBox's df and
find; Flux's kustomize-controller and Hugging Face text-generation-inference). Each
question names its evidence (object + verbatim phrase) and the facts a right answer
must state.

Most causes sit in another object than the symptom (a backfill Job holding a quota, a
webhook's crash-looping pods and their nodes' OOM kills, the node-local DNS cache, a
node's NTP condition, another session's lock, a node's GPU model, a cleanup CronJob, a
GitOps change applied by Flux), and healthy pods nearby print harmless warnings. The
line helpers shared with the other scenarios are blind.py's and drill.py's.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from kubetrainer.samples.blind import (
    _app,
    _crash_loop,
    _event,
    _forget,
    _json,
    _klogs,
    _pin,
    _postgres,
    _pylog,
    ago,
    stamp,
)
from kubetrainer.samples.cluster import add_pods
from kubetrainer.samples.drill import _scheduled, _siblings, _together
from kubetrainer.samples.model import NOW, Evidence, SampleCluster, SampleContainer, SamplePod
from kubetrainer.samples.nodes import gpu_node, sample_nodes
from kubetrainer.samples.noise import iso
from kubetrainer.samples.secrets import FakeSecrets
from kubetrainer.samples.workloads import Workload

# When cpu-h-2 came back from its patch reboot (09:12 UTC), in minutes before NOW; chronyd did not start with it.
REBOOTED = 168.0
# How far cpu-h-2's clock runs behind since that reboot.
SKEW = timedelta(seconds=252)
# When the MI300X node joined the AMD pool (yesterday, 19:22 UTC).
MI300X_JOINED = "2026-03-13T19:22:00Z"
# Nodes that hold only what their incidents put there (besides DaemonSets).
_RESERVED = ("cpu-h-2", "amd-mi250x-3", "amd-mi300x-5", "gpu-h100-12")
_VPC_RESOLVER = "10.0.0.2"
_CARRIERS = (
    ("northwind", "api.northwind-freight.example.com"),
    ("tradewinds", "quotes.tradewinds-cargo.example.net"),
    ("polarline", "rates.polarline.example.org"),
)
_NODE_ROLE = "eks-general-node-role"
_ACCOUNT = "418295730164"
_FLUX_API = "kustomize.toolkit.fluxcd.io/v1"
_TGI_IMAGE = "ghcr.io/huggingface/text-generation-inference:2.0.4"
_MODEL = "mistralai/Mistral-7B-Instruct-v0.3"
_TGI_SERVER = "/opt/conda/lib/python3.10/site-packages/text_generation_server"


def _node_ip(cluster: SampleCluster, name: str) -> str:
    return cluster.node_named(name)["status"]["addresses"][0]["address"]


def _host_ip(node: str) -> str:
    return "10.0.0.%d" % (sum(map(ord, node)) % 250 + 2)  # what objects.pod_json reports as the pod's hostIP


def _epoch_minutes(moment: datetime) -> int:
    """The suffix the CronJob controller gives a Job: its scheduled time in minutes since the epoch."""
    return int(moment.timestamp()) // 60


# Healthy first (the generator places each of these); the incidents then break some.
WORKLOADS: tuple[Workload, ...] = (
    _app(
        "kube-system",
        "node-local-dns",
        "DaemonSet",
        "registry.k8s.io/dns/k8s-dns-node-cache:1.23.1",
        "coredns",
        container="node-cache",
        weight=0.02,
    ),
    _app(
        "rewards",
        "points-ledger",
        "Deployment",
        "registry.example.com/rewards/points-ledger:7.4.0",
        "json-api",
        replicas=3,
        port=8080,
        weight=2.0,
    ),
    _app(
        "rewards",
        "rewards-web",
        "Deployment",
        "registry.example.com/rewards/rewards-web:2.11.4",
        "nginx",
        replicas=2,
        port=8080,
    ),
    _app(
        "kyverno",
        "kyverno-admission-controller",
        "Deployment",
        "ghcr.io/kyverno/kyverno:v1.12.5",
        "controller",
        container="kyverno",
        replicas=3,
        weight=0.3,
    ),
    _app(
        "kyverno",
        "kyverno-background-controller",
        "Deployment",
        "ghcr.io/kyverno/background-controller:v1.12.5",
        "controller",
        container="controller",
        weight=0.3,
    ),
    _app(
        "imaging",
        "thumb-renderer",
        "Deployment",
        "registry.example.com/imaging/thumb-renderer:5.2.0",
        "worker",
        replicas=4,
        weight=2.0,
    ),
    _app(
        "freight",
        "quote-engine",
        "Deployment",
        "registry.example.com/freight/quote-engine:3.14.2",
        "json-api",
        replicas=4,
        port=8080,
        weight=2.0,
    ),
    _app(
        "freight",
        "shipment-tracker",
        "Deployment",
        "registry.example.com/freight/shipment-tracker:1.20.0",
        "json-api",
        replicas=2,
        port=8080,
    ),
    _app(
        "member-auth",
        "session-api",
        "Deployment",
        "registry.example.com/identity/session-api:6.3.1",
        "json-api",
        replicas=3,
        port=8080,
        weight=2.0,
    ),
    _app(
        "marketplace",
        "listing-api",
        "Deployment",
        "registry.example.com/marketplace/listing-api:4.8.0",
        "json-api",
        replicas=3,
        port=8080,
        weight=2.0,
    ),
    _app(
        "marketplace",
        "marketplace-db",
        "StatefulSet",
        "docker.io/library/postgres:16.3",
        "worker",
        port=5432,
        weight=0.3,
    ),
    _app(
        "stays",
        "availability-svc",
        "Deployment",
        "registry.example.com/stays/availability-svc:2.8.3",
        "json-api",
        replicas=3,
        port=3000,
    ),
    _app(
        "media-pipeline",
        "transcode-dispatcher",
        "Deployment",
        "registry.example.com/media/transcode-dispatcher:3.0.0",
        "worker",
        replicas=2,
    ),
    _app(
        "genai",
        "doc-summarizer",
        "Deployment",
        _TGI_IMAGE,
        "json-api",
        container="tgi",
        gpu_vendor="nvidia",
        gpus=1,
        port=8080,
    ),
    _app(
        "genai",
        "summarize-web",
        "Deployment",
        "registry.example.com/genai/summarize-web:0.8.2",
        "nginx",
        replicas=2,
        port=8080,
    ),
)

# Placed by their incidents, not by the generator.
_BACKFILL = _app(
    "rewards",
    "tier-recalc-backfill",
    "Job",
    "registry.example.com/rewards/tier-recalc:1.3.0",
    "worker",
    container="recalc",
    weight=0.2,
)
_MIGRATE = _app(
    "marketplace",
    "listing-api-db-migrate",
    "Job",
    "registry.example.com/marketplace/listing-api:4.9.0",
    "worker",
    container="migrate",
)
_RERANK_IMAGE = "registry.example.com/ranking/rerank-train:2026.03.1"
_TRAINER_IMAGE = "registry.example.com/speech/w2v-finetune:2026.03.0"


def _job(
    namespace: str, name: str, image: str, container: str, *, gpu_vendor: str | None = None, gpus: int = 0
) -> Workload:
    """A Job's workload, named after the Job (a CronJob's Jobs carry the schedule's minute)."""
    return _app(namespace, name, "Job", image, "worker", container=container, gpu_vendor=gpu_vendor, gpus=gpus)


def _workload(namespace: str, name: str) -> Workload:
    return next(w for w in WORKLOADS if w.namespace == namespace and w.name == name)


def _npd_conditions(node: dict) -> None:
    """The conditions node-problem-detector's kernel monitor and NTP custom plugin add, all healthy."""
    since = node["metadata"]["creationTimestamp"]

    def condition(kind: str, reason: str, message: str) -> dict:
        return {
            "type": kind,
            "status": "False",
            "reason": reason,
            "message": message,
            "lastHeartbeatTime": "2026-03-14T11:58:44Z",
            "lastTransitionTime": since,
        }

    node["status"]["conditions"] = [
        condition("KernelDeadlock", "KernelHasNoDeadlock", "kernel has no deadlock"),
        condition("ReadonlyFilesystem", "FilesystemIsNotReadOnly", "Filesystem is not read-only"),
        condition("NTPProblem", "NTPIsUp", "ntp service is up"),
        *node["status"]["conditions"],
    ]


def scenario_nodes() -> list[dict]:
    """The sample nodes plus this scenario's own.

    cpu-h-0/1/2 are the general node group in us-east-1b; cpu-h-2 was rebooted for a kernel
    patch at 09:12 and came back without chronyd. amd-mi250x-3 is the ranking team's MI250X
    node; amd-mi300x-5 joined the same AMD pool yesterday at 19:22. gpu-h100-12 runs the
    speech team's fine-tunes. node-problem-detector runs on every node from the node image (a systemd
    service, not a pod).
    """
    nodes = sample_nodes()
    for index in range(3):
        node = gpu_node(
            f"cpu-h-{index}",
            None,
            None,
            0,
            cpu="16",
            memory="65288748Ki",
            instance_type="m7i.4xlarge",
            zone="us-east-1b",
        )
        node["metadata"]["labels"]["eks.amazonaws.com/nodegroup"] = "general-h"
        nodes.append(node)
    nodes.append(
        gpu_node(
            "amd-mi250x-3",
            "amd",
            "AMD Instinct MI250X 64GB",
            8,
            labels="amd",
            cpu="128",
            memory="528381192Ki",
            instance_type="bare-metal",
        )
    )
    mi300x = gpu_node(
        "amd-mi300x-5",
        "amd",
        "AMD Instinct MI300X 192GB",
        8,
        labels="amd",
        cpu="192",
        memory="2113524768Ki",
        instance_type="bare-metal",
    )
    mi300x["metadata"]["creationTimestamp"] = MI300X_JOINED
    for condition in mi300x["status"]["conditions"]:
        condition["lastTransitionTime"] = MI300X_JOINED
    nodes.append(mi300x)
    speech = gpu_node("gpu-h100-12", "nvidia", "NVIDIA H100 80GB", 8)
    speech["metadata"]["labels"]["example.com/team"] = "speech"
    nodes.append(speech)
    for node in nodes:
        _npd_conditions(node)
    skewed = next(n for n in nodes if n["metadata"]["name"] == "cpu-h-2")
    for condition in skewed["status"]["conditions"]:
        if condition["type"] == "NTPProblem":
            condition |= {
                "status": "True",
                "reason": "NTPIsDown",
                "message": "chrony.service is not running",
                "lastTransitionTime": stamp(REBOOTED - 1.5),
            }
        elif condition["type"] == "Ready":
            condition |= {"lastTransitionTime": stamp(REBOOTED - 1.1), "message": "kubelet is posting ready status"}
    return nodes


# ---------------------------------------------------------------- helpers


def _placement(cluster: SampleCluster) -> None:
    """Where things ran before the incidents: the reserved nodes hold only DaemonSets and what the incidents put
    there; node-local-dns prints only what its incident plants."""
    spare = {None: ["cpu-h-0", "cpu-h-1"], "amd": ["amd-mi300x-0"], "nvidia": ["gpu-h100-0", "gpu-h100-1"]}
    moved = 0
    for pod in cluster.pods:
        if pod.workload.name == "node-local-dns":
            for container in pod.containers:
                container.noise = False
        if pod.node not in _RESERVED or pod.workload.kind == "DaemonSet":
            continue
        targets = spare.get(pod.workload.gpu_vendor, spare[None])
        _pin(cluster, pod, targets[moved % len(targets)])
        moved += 1


def _restart_after_reboot(cluster: SampleCluster, pod: SamplePod) -> None:
    """A pod on cpu-h-2 when it rebooted: its containers come back once, the previous instance 'Unknown' (255)."""
    back = REBOOTED - 1.0 - cluster.rng.uniform(0, 0.4)
    for container in pod.containers:
        container.restarts += 1
        container.last_state = {
            "terminated": {
                "reason": "Unknown",
                "exitCode": 255,
                "startedAt": iso(pod.start, 0),
                "finishedAt": stamp(REBOOTED + 0.4),
            }
        }
        container.state = {"running": {"startedAt": stamp(back)}}
        container.noise = False  # its clock is off since the reboot: only the lines its incident plants
    ref = ("Pod", pod.namespace, pod.name)
    cluster.event(
        ref, "SandboxChanged", "Pod sandbox changed, it will be killed and re-created.", ago(back + 0.2), host=pod.node
    )
    for container in pod.containers:
        cluster.event(
            ref, "Pulled", f'Container image "{container.image}" already present on machine', ago(back), host=pod.node
        )
        cluster.event(ref, "Created", f"Created container {container.spec.name}", ago(back), host=pod.node)
        cluster.event(ref, "Started", f"Started container {container.spec.name}", ago(back), host=pod.node)


def _finished(
    pod: SamplePod, container: SampleContainer, started: datetime, ended: datetime, exit_code: int, reason: str
) -> None:
    """A Job pod whose only container ran from `started` to `ended`."""
    container.noise, container.ready = False, False
    container.state = {
        "terminated": {
            "reason": reason,
            "exitCode": exit_code,
            "startedAt": iso(started, 0),
            "finishedAt": iso(ended, 0),
        }
    }
    pod.phase = "Succeeded" if exit_code == 0 else "Failed"
    pod.conditions = {"Ready": "False", "ContainersReady": "False"}


def _rails(moment: datetime, level: str, message: str) -> tuple[datetime, str]:
    """Ruby's Logger::Formatter line, as Rails writes it to stdout in production."""
    return moment, f"{level[0]}, [{moment:%Y-%m-%dT%H:%M:%S.%f} #1] {level:>5} -- : {message}"


def _tgi(moment: datetime, level: str, target: str, message: str) -> tuple[datetime, str]:
    """tracing-subscriber's default line, as the text-generation-inference launcher and router print it."""
    return moment, f"{iso(moment, 6)} {level:>5} {target}: {message}"


def _rolled_out(
    cluster: SampleCluster,
    namespace: str,
    name: str,
    new_rs: str,
    old_rs: str,
    replicas: int,
    minutes: float,
    step: float,
) -> None:
    """The deployment controller's events for a rolling update (maxSurge 1, maxUnavailable 0), `minutes` ago."""
    texts = []
    for done in range(1, replicas + 1):
        texts.append(f"Scaled up replica set {new_rs} to {done}" + (f" from {done - 1}" if done > 1 else ""))
        texts.append(f"Scaled down replica set {old_rs} to {replicas - done} from {replicas - done + 1}")
    for offset, text in enumerate(texts):
        cluster.event(
            ("Deployment", namespace, name),
            "ScalingReplicaSet",
            text,
            ago(minutes - step * offset),
            component="deployment-controller",
        )


def _autoscaled(
    cluster: SampleCluster,
    namespace: str,
    name: str,
    replica_set: str,
    size: int,
    before: int,
    reason: str,
    minutes: float,
) -> None:
    """A HorizontalPodAutoscaler's rescale and the Deployment's scale-up that follows it, `minutes` ago."""
    _event(
        cluster,
        ("HorizontalPodAutoscaler", namespace, name),
        "SuccessfulRescale",
        f"New size: {size}; reason: {reason}",
        ago(minutes + 0.02),
        component="horizontal-pod-autoscaler",
    )
    cluster.event(
        ("Deployment", namespace, name),
        "ScalingReplicaSet",
        f"Scaled up replica set {replica_set} to {size} from {before}",
        ago(minutes + 0.01),
        component="deployment-controller",
    )


# ---------------------------------------------------------------- incidents


def quota_exhausted(cluster: SampleCluster) -> None:
    """tier-recalc-backfill (10 pods x 2 CPU) took the rewards namespace's requests.cpu to its quota of 24 at 10:31;
    the points-ledger 7.5.0 rollout at 10:52 cannot create its surge pod, so all three pods stay on 7.4.0."""
    started, rolled = 89.0, 68.0
    ledger = cluster.pods_of("rewards", "points-ledger")
    for index, pod in enumerate(ledger):
        _pin(cluster, pod, ("cpu-h-0", "cpu-h-1", "cpu-1")[index])
        pod.resources = {"requests": {"cpu": "1", "memory": "1536Mi"}, "limits": {"cpu": "2", "memory": "1536Mi"}}
        moment = max(pod.start, ago(6 * 60)) + timedelta(minutes=cluster.rng.uniform(20, 80))
        while moment < NOW:
            pod.containers[0].lines.append(
                _json(
                    moment,
                    "warn",
                    "feature flags: refresh timed out, serving cached flags",
                    flags=37,
                    age_s=cluster.rng.randint(60, 240),
                )
            )
            moment += timedelta(minutes=cluster.rng.uniform(70, 140))
    for pod in cluster.pods_of("rewards", "rewards-web"):
        pod.resources = {"requests": {"cpu": "500m", "memory": "256Mi"}, "limits": {"memory": "256Mi"}}
    job = ("Job", "rewards", _BACKFILL.name)
    shards: list[SamplePod] = []
    done = 0
    for index in range(10):
        node = ("cpu-h-0", "cpu-h-1", "cpu-0", "cpu-1")[index % 4]
        (pod,) = add_pods(cluster, _BACKFILL, 1, node=node)
        created = started - 0.002 * index
        _pin(cluster, pod, node, created - 0.01)
        pod.resources = {"requests": {"cpu": "2", "memory": "3Gi"}, "limits": {"cpu": "2", "memory": "3Gi"}}
        pod.containers[0].env = [
            {"name": "RULESET", "value": "2026-Q2"},
            {"name": "WORK_QUEUE", "value": "redis://tier-queue.rewards.svc.cluster.local:6379/3"},
        ]
        _event(cluster, job, "SuccessfulCreate", f"Created pod: {pod.name}", ago(created), component="job-controller")
        start = pod.start + timedelta(seconds=3)
        pod.containers[0].lines.append(
            _pylog(
                start,
                "INFO",
                "tier_recalc",
                (
                    "tier-recalc 1.3.0 backfill: recalculating tiers for 4,812,330 members (rule set 2026-Q2), 10 "
                    "worker pods"
                ),
            )
        )
        moment = start + timedelta(seconds=5)
        while moment < NOW:
            low = done * 25_000
            pod.containers[0].lines.append(
                _pylog(
                    moment,
                    "INFO",
                    "tier_recalc",
                    (
                        f"claimed member range {low}-{low + 24_999}; about {cluster.rng.randint(3, 4)}h left at this "
                        "rate"
                    ),
                )
            )
            done += 1
            moment += timedelta(minutes=cluster.rng.uniform(8, 14))
        shards.append(pod)
    new_rs = f"points-ledger-{cluster.suffix(10)}"
    deployment = ("Deployment", "rewards", "points-ledger")
    cluster.event(
        deployment,
        "ScalingReplicaSet",
        f"Scaled up replica set {new_rs} to 1",
        ago(rolled),
        component="deployment-controller",
    )
    deny = "exceeded quota: rewards-compute, requested: requests.cpu=1, used: requests.cpu=24, limited: requests.cpu=24"
    rs = ("ReplicaSet", "rewards", new_rs)
    for attempt in range(3):
        cluster.event(
            rs,
            "FailedCreate",
            f'Error creating: pods "{new_rs}-{cluster.suffix()}" is forbidden: {deny}',
            ago(rolled - 0.001 - 0.003 * attempt),
            warning=True,
            component="replicaset-controller",
        )
    cluster.event(
        rs,
        "FailedCreate",
        (f'(combined from similar events): Error creating: pods "{new_rs}-{cluster.suffix()}" is forbidden: {deny}'),
        ago(cluster.rng.uniform(0.5, 4)),
        warning=True,
        count=cluster.rng.randint(24, 30),
        component="replicaset-controller",
        first=ago(rolled - 0.02),
    )
    old_rs = ledger[0].owner[1]
    cluster.ask(
        "ledger-quota-1",
        "The points-ledger 7.5.0 release went out at 10:52, but all three pods still run 7.4.0. What's holding it up?",
        f"The new ReplicaSet {new_rs} cannot create its pod: every attempt is rejected by the namespace's "
        "ResourceQuota "
        "('exceeded quota: rewards-compute, requested: requests.cpu=1, used: requests.cpu=24, limited: "
        "requests.cpu=24'). With maxUnavailable 0 the Deployment keeps the three 7.4.0 pods of "
        f"{old_rs} until the surge pod exists, so the rollout stalls. Free CPU requests in rewards (the backfill "
        "Job) or "
        "raise the quota's requests.cpu.",
        "quota-exhausted",
        Evidence(rs[1], new_rs, "exceeded quota: rewards-compute"),
        facts=("exceeded quota|ResourceQuota|quota", "requests.cpu"),
    )
    cluster.ask(
        "ledger-quota-2",
        "Who is using up the rewards namespace's CPU quota? Nothing there was scaled up today.",
        "The Job tier-recalc-backfill, created at 10:31: ten pods requesting 2 CPUs each, 20 of the quota's 24. With "
        "points-ledger's 3 x 1 and rewards-web's 2 x 500m the namespace sits at requests.cpu=24 of 24, so the 7.5.0 "
        "surge pod (1 CPU) is refused. The backfill still has hours to go; lower its parallelism or give the quota "
        "room until it ends.",
        "quota-exhausted",
        Evidence(rs[1], new_rs, "used: requests.cpu=24, limited: requests.cpu=24"),
        Evidence(job[1], job[2], f"Created pod: {shards[0].name}"),
        facts=("tier-recalc-backfill|backfill", "requests.cpu=24|24 of 24|24 CPUs|2 CPUs each|20 CPUs"),
    )


def webhook_unavailable(cluster: SampleCluster) -> None:
    """Since the 10:39 Kyverno upgrade the admission controller is OOMKilled at its 384Mi limit; kyverno-svc has no
    endpoints and its validating webhook fails closed, so thumb-renderer's scale-up at 11:26 creates no pods."""
    upgraded, scaled = 81.0, 34.0
    pods = cluster.pods_of("kyverno", "kyverno-admission-controller")
    new_rs, old_rs = pods[0].owner[1], f"kyverno-admission-controller-{cluster.suffix(10)}"
    _rolled_out(cluster, "kyverno", "kyverno-admission-controller", new_rs, old_rs, 3, upgraded + 0.5, 0.25)
    killed = []
    for index, pod in enumerate(pods):
        node = ("cpu-h-0", "cpu-h-1", "cpu-0")[index]
        _pin(cluster, pod, node, upgraded - 0.4 * index)
        pod.resources = {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "384Mi"}}
        kyverno = pod.containers[0]
        last = cluster.rng.uniform(0.8, 4.0)
        restarts = 13 + index
        _crash_loop(cluster, pod, kyverno, restarts, 137, last, upgraded - 1.5 - 0.4 * index, reason="OOMKilled")
        ran = cluster.rng.uniform(38, 55)
        kyverno.last_state["terminated"]["startedAt"] = iso(ago(last) - timedelta(seconds=ran), 0)
        began = ago(last) - timedelta(seconds=ran - 0.3)
        kyverno.lines += _klogs(
            cluster,
            began,
            (
                "I",
                "version.go:49",
                '"version" logger="setup.version" version="v1.12.5" '
                'hash="ae2d3c9a5bcb7a2e1c8e1c21a9f3e0a4b0c6d1f2" time="2024-07-10T11:04:27Z"',
            ),
            ("I", "maxprocs.go:12", '"setup maxprocs..." logger="setup.maxprocs"'),
            ("I", "maxprocs.go:16", '"maxprocs: Leaving GOMAXPROCS=16: CPU quota undefined" logger="setup.maxprocs"'),
            ("I", "signal.go:16", '"setup signals..." logger="setup.signals"'),
            ("I", "client.go:41", '"create kube client..." logger="setup.kube-client" kubeconfig="" qps=300 burst=300'),
            (
                "I",
                "client.go:41",
                '"create kyverno client..." logger="setup.kyverno-client" kubeconfig="" qps=300 burst=300',
            ),
        )
        pid = cluster.rng.randint(300_000, 900_000)
        rss = cluster.rng.randint(389_000, 393_000)
        message = (
            f"Memory cgroup out of memory: Killed process {pid} (kyverno) "
            f"total-vm:{cluster.rng.randint(1_890_000, 1_990_000)}kB, "
            f"anon-rss:{rss}kB, file-rss:{cluster.rng.randint(48_000, 56_000)}kB, shmem-rss:0kB, UID:65534 "
            f"pgtables:{cluster.rng.randint(1100, 1300)}kB oom_score_adj:985"
        )
        cluster.event(
            ("Node", None, node), "OOMKilling", message, ago(last), warning=True, component="kernel-monitor", host=node
        )
        killed.append((pod, node, pid))
    (background,) = cluster.pods_of("kyverno", "kyverno-background-controller")
    background.containers[0].lines += _klogs(
        cluster,
        ago(upgraded - 3),
        (
            "E",
            "leaderelection.go:340",
            "Failed to update lock optimitically: Operation cannot be fulfilled on "
            'leases.coordination.k8s.io "kyverno-background-controller": the object has been '
            "modified; please apply your changes to the latest version and try again, "
            "falling back to slow path",
        ),
    )
    thumbs = cluster.pods_of("imaging", "thumb-renderer")
    replica_set = thumbs[0].owner[1]
    queue = (
        "external metric sqs-messages-visible(&LabelSelector{MatchLabels:map[string]string{queue: "
        "thumbnail-requests,},MatchExpressions:[]LabelSelectorRequirement{},}) above target"
    )
    _autoscaled(cluster, "imaging", "thumb-renderer", replica_set, 8, 4, queue, scaled)
    refused = (
        'failed calling webhook "validate.kyverno.svc-fail": failed to call webhook: Post '
        '"https://kyverno-svc.kyverno.svc:443/validate/fail?timeout=10s": no endpoints available for service '
        '"kyverno-svc"'
    )
    rs = ("ReplicaSet", "imaging", replica_set)
    cluster.event(
        rs,
        "FailedCreate",
        f"Error creating: Internal error occurred: {refused}",
        ago(cluster.rng.uniform(0.2, 2)),
        warning=True,
        count=cluster.rng.randint(40, 48),
        component="replicaset-controller",
        first=ago(scaled - 0.005),
    )
    backlog = 6_200
    for pod in thumbs:
        moment = ago(scaled + 20) + timedelta(seconds=cluster.rng.uniform(0, 60))
        while moment < NOW:
            pod.containers[0].lines.append(
                _pylog(
                    moment,
                    "WARNING",
                    "thumb_renderer.queue",
                    (
                        f"backlog {backlog} messages on thumbnail-requests, oldest {backlog // 95}s; requesting more "
                        "workers"
                    ),
                )
            )
            backlog += cluster.rng.randint(150, 420)
            moment += timedelta(minutes=cluster.rng.uniform(4, 7))
    first_pod, first_node, first_pid = killed[0]
    cluster.ask(
        "thumbs-webhook-1",
        "Thumbnails are hours behind. The autoscaler wants 8 thumb-renderer workers but there are still only 4. Why "
        "aren't the new ones being created?",
        f"The ReplicaSet {replica_set} tries, but the API server rejects every pod: creating a pod must pass Kyverno's "
        'validating webhook, and the call fails (\'failed calling webhook "validate.kyverno.svc-fail" ... no endpoints '
        'available for service "kyverno-svc"\'). The webhook fails closed, so no pod is admitted anywhere until the '
        "Kyverno admission controller is back; its pods crash-loop.",
        "webhook-unavailable",
        Evidence(rs[1], replica_set, 'failed calling webhook "validate.kyverno.svc-fail"'),
        facts=("webhook|admission", "kyverno"),
    )
    cluster.ask(
        "thumbs-webhook-2",
        "Why has kyverno-svc had no ready endpoints since about 10:40?",
        "All three kyverno-admission-controller pods crash-loop since the upgrade to v1.12.5 at 10:39: each start is "
        "OOMKilled (exit 137) within a minute by its 384Mi memory limit; the kernel logs 'Memory cgroup out of memory: "
        f"Killed process ... (kyverno)' on {first_node} and the other nodes. Raise the admission controller's memory "
        "limit (or roll back the chart); until then set the webhook to fail open or expect every pod creation to fail.",
        "webhook-unavailable",
        Evidence(None, first_node, f"Killed process {first_pid} (kyverno)"),
        Evidence(first_pod.namespace, first_pod.name, "384Mi"),
        facts=("OOMKilled|out of memory|OOM", "384Mi|memory limit"),
    )


def dns_search_expansion(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """quote-engine (Node.js) resolves carrier hosts without a trailing dot; with ndots:5 every lookup walks the
    search list (..., ec2.internal) for A and AAAA. After the 10:58 scale-up to 12 the node-local caches' upstream
    queries to the VPC resolver start timing out and quotes fail with EAI_AGAIN after 5 s."""
    scaled = 62.0
    nodes = ("cpu-h-0", "cpu-h-1", "cpu-0", "cpu-1")
    running = cluster.pods_of("freight", "quote-engine")
    replica_set = running[0].owner[1]
    added = _siblings(cluster, running[0], 8, nodes[0])
    env = [
        {"name": "NODE_ENV", "value": "production"},
        {"name": "CARRIER_HOSTS", "value": ",".join(host for _, host in _CARRIERS)},
        {"name": "GOOGLE_MAPS_API_KEY", "value": secrets.google_api_key},
    ]
    for index, pod in enumerate(running):
        _pin(cluster, pod, nodes[index])
    for index, pod in enumerate(added):
        _pin(cluster, pod, nodes[index % 4], scaled - 0.02 - 0.003 * index)
        cluster.event(
            ("ReplicaSet", "freight", replica_set),
            "SuccessfulCreate",
            f"Created pod: {pod.name}",
            pod.start - timedelta(seconds=0.5),
            component="replicaset-controller",
        )
    for pod in running + added:
        pod.containers[0].env = env
        begin = max(pod.start, ago(6 * 60)) + timedelta(seconds=2)
        if pod.start >= ago(6 * 60):
            pod.containers[0].lines += _together(
                begin,
                [
                    "(node:1) [DEP0040] DeprecationWarning: The `punycode` module is deprecated. Please use a userland "
                    "alternative instead.",
                    "(Use `node --trace-deprecation ...` to show where the warning was created)",
                ],
            )
    running[1].containers[0].lines.append(
        _json(
            ago(cluster.rng.uniform(200, 300)),
            "debug",
            "carrier client configured",
            carrier="tradewinds",
            headers=f"Authorization: Bearer {secrets.bearer_token}",
        )
    )
    cpu = "cpu resource utilization (percentage of request) above target"
    _autoscaled(cluster, "freight", "quote-engine", replica_set, 12, 4, cpu, scaled + 0.01)
    for index, pod in enumerate(running + added):
        moment = ago(scaled - 1.5) + timedelta(seconds=cluster.rng.uniform(0, 90))
        first = True
        while moment < NOW:
            carrier, host = _CARRIERS[0] if first else _CARRIERS[cluster.rng.randrange(3)]
            first = False
            pod.containers[0].lines.append(
                _json(
                    moment,
                    "error",
                    "carrier quote failed",
                    carrier=carrier,
                    err=f"getaddrinfo EAI_AGAIN {host}",
                    code="EAI_AGAIN",
                    duration_ms=cluster.rng.randint(5001, 5030),
                    request_id=f"{cluster.rng.getrandbits(64):016x}",
                )
            )
            if cluster.rng.random() < 0.4:
                pod.containers[0].lines.append(
                    _json(
                        moment + timedelta(milliseconds=3),
                        "warn",
                        "quote served without carrier",
                        carrier=carrier,
                        fallback="rate-card",
                        duration_ms=cluster.rng.randint(5004, 5040),
                    )
                )
            moment += timedelta(seconds=cluster.rng.uniform(40, 160))
    caches = {p.node: p for p in cluster.pods_of("kube-system", "node-local-dns")}
    for node in nodes:
        cache = caches[node].containers[0]
        source = _node_ip(cluster, node)
        moment = ago(scaled - 0.8) + timedelta(seconds=cluster.rng.uniform(0, 20))
        first = True
        while moment < NOW:
            _, host = _CARRIERS[0] if first else _CARRIERS[cluster.rng.randrange(3)]
            qtype = "AAAA" if first else cluster.rng.choice(("A", "AAAA"))
            name = f"{host}.ec2.internal." if first or cluster.rng.random() < 0.7 else f"{host}."
            first = False
            cache.lines.append(
                (
                    moment,
                    (
                        f"[ERROR] plugin/errors: 2 {name} {qtype}: read udp "
                        f"{source}:{cluster.rng.randint(32768, 60999)}"
                        f"->{_VPC_RESOLVER}:53: i/o timeout"
                    ),
                )
            )
            moment += timedelta(seconds=cluster.rng.uniform(15, 75))
    northwind = _CARRIERS[0][1]
    probe = next(p for p in added if p.node == nodes[0])
    cache = caches[nodes[0]]
    cluster.ask(
        "freight-dns-1",
        "About a third of freight quotes have been failing with 5-second timeouts since late morning, yet the carriers "
        "say their APIs are fine. What's going on?",
        f"The quotes fail before any carrier is reached: DNS resolution of the carrier hosts times out (quote-engine "
        f"logs 'getaddrinfo EAI_AGAIN {northwind}' after ~5 s). The pods use the default ndots:5, so each lookup of a "
        "name with fewer than five dots walks the search list first (freight.svc.cluster.local, svc.cluster.local, "
        "cluster.local, ec2.internal) for both A and AAAA; the .ec2.internal and final queries go to the VPC resolver, "
        "and since quote-engine scaled to 12 at 10:58 those upstream queries time out in node-local-dns. Use "
        "fully-qualified names (trailing dot) or set dnsConfig ndots:2, and cache lookups in the app.",
        "dns-search-expansion",
        Evidence(probe.namespace, probe.name, f"getaddrinfo EAI_AGAIN {northwind}"),
        Evidence(cache.namespace, cache.name, f"{northwind}.ec2.internal. AAAA: read udp"),
        facts=("DNS|EAI_AGAIN|resolv", "ndots|search domain|search path|search list|ec2.internal"),
    )
    cluster.ask(
        "freight-dns-2",
        "Why is the node-local DNS cache suddenly full of upstream timeouts since the quote-engine autoscaling at "
        "10:58?",
        f"They are quote-engine's carrier lookups multiplied by the search path: with ndots:5 a name like {northwind} "
        f"is first tried as {northwind}.ec2.internal (and the cluster.local variants), A and AAAA each, so every "
        "lookup "
        f"sends several queries upstream to the VPC resolver {_VPC_RESOLVER}. Twelve replicas that never cache DNS "
        "push "
        "each node past the resolver's per-interface packet limit, and queries are dropped ('read udp ... i/o "
        "timeout'). "
        "Lower ndots (or use trailing-dot FQDNs) to cut the upstream queries.",
        "dns-search-expansion",
        Evidence(cache.namespace, cache.name, f"->{_VPC_RESOLVER}:53: i/o timeout"),
        Evidence("freight", "quote-engine", "New size: 12"),
        facts=("ndots|search|ec2.internal", f"{_VPC_RESOLVER}|VPC resolver|upstream"),
    )


def node_clock_skew(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """cpu-h-2 came back from its 09:12 patch reboot without chronyd and runs 4m12s slow. The session-api replica there
    rejects every freshly issued ID token as issued in the future (PyJWT: 'The token is not yet valid (iat)')."""
    name = "cpu-h-2"
    pods = cluster.pods_of("member-auth", "session-api")
    skewed, healthy = pods[0], pods[1:]
    _pin(cluster, skewed, name)
    for pod, node in zip(healthy, ("cpu-h-0", "cpu-h-1")):
        _pin(cluster, pod, node)
    for pod in cluster.pods:
        if pod.node == name:
            _restart_after_reboot(cluster, pod)
    issuer = "https://login.example.com/"
    for pod in pods:
        pod.containers[0].env = [
            {"name": "OIDC_ISSUER", "value": issuer},
            {"name": "JWKS_URL", "value": f"{issuer}.well-known/jwks.json"},
            {"name": "JWT_LEEWAY_SECONDS", "value": "0"},
        ]
    boot = cluster.node_named(name)["status"]["nodeInfo"]["bootID"]
    node_ref = ("Node", None, name)
    up = ago(REBOOTED)
    cluster.event(node_ref, "Starting", "Starting kubelet.", up, host=name)
    cluster.event(
        node_ref,
        "Rebooted",
        f"Node {name} has been rebooted, boot id: {boot}",
        up + timedelta(seconds=2),
        warning=True,
        host=name,
    )
    cluster.event(node_ref, "NodeReady", f"Node {name} status is now: NodeReady", ago(REBOOTED - 1.1), host=name)
    cluster.event(
        node_ref,
        "NTPIsDown",
        "chrony.service is not running",
        ago(REBOOTED - 1.5),
        warning=True,
        component="ntp-custom-plugin-monitor",
        host=name,
    )
    app = skewed.containers[0]
    moment = ago(REBOOTED - 1.0) + timedelta(seconds=4)
    app.lines.append(
        (
            moment,
            json.dumps(
                {
                    "ts": iso(moment - SKEW),
                    "level": "info",
                    "msg": (f"session-api 6.3.1 listening on :8080 (issuer {issuer}, 3 signing keys from JWKS)"),
                }
            ),
        )
    )
    rejected = 0
    while moment < NOW:
        moment += timedelta(seconds=cluster.rng.uniform(12, 40))
        if cluster.rng.random() < 0.4:
            issued = moment - timedelta(seconds=cluster.rng.uniform(0.4, 3.5))
            fields = {
                "ts": iso(moment - SKEW),
                "level": "warn",
                "msg": "token rejected",
                "error": "ImmatureSignatureError: The token is not yet valid (iat)",
                "iss": issuer,
                "sub": f"usr_{cluster.rng.getrandbits(40):010x}",
                "iat": int(issued.timestamp()),
                "server_time": int((moment - SKEW).timestamp()),
                "path": "/v1/session/exchange",
                "status": 401,
            }
            if rejected == 3:
                fields["token"] = secrets.jwt
            rejected += 1
        else:
            fields = {
                "ts": iso(moment - SKEW),
                "level": "info",
                "msg": "request completed",
                "path": cluster.rng.choice(("/v1/session/refresh", "/v1/me", "/v1/me")),
                "status": 200,
                "duration_ms": cluster.rng.randint(2, 40),
                "request_id": f"{cluster.rng.getrandbits(64):016x}",
            }
        app.lines.append((moment, json.dumps(fields)))
    for pod in healthy:
        moment = ago(6 * 60) + timedelta(minutes=cluster.rng.uniform(1, 20))
        while moment < NOW:
            pod.containers[0].lines.append(
                _json(
                    moment,
                    "info",
                    "session exchanged",
                    path="/v1/session/exchange",
                    status=200,
                    duration_ms=cluster.rng.randint(8, 60),
                )
            )
            moment += timedelta(minutes=cluster.rng.uniform(2, 9))
        pod.containers[0].lines.append(
            _json(
                ago(cluster.rng.uniform(100, 300)),
                "warn",
                "jwks refresh slow",
                url=f"{issuer}.well-known/jwks.json",
                duration_ms=1840,
            )
        )
    cluster.ask(
        "login-clock-1",
        "Some users get bounced back to the login page with a 401 right after signing in, and trying again a few "
        "minutes later works. What's wrong?",
        f"One of the three session-api replicas ({skewed.name}) rejects fresh tokens: 'ImmatureSignatureError: The "
        "token "
        f"is not yet valid (iat)'. It runs on {name}, whose clock has been about 4 minutes behind since the node's "
        "09:12 reboot: chrony did not come back (node-problem-detector: 'chrony.service is not running'), so a token "
        "issued seconds ago looks issued in the future. Requests that land on the other replicas pass. Fix time sync "
        f"on {name} (start chronyd, or drain it); a small JWT leeway would also mask it.",
        "node-clock-skew",
        Evidence(skewed.namespace, skewed.name, "The token is not yet valid (iat)"),
        Evidence(None, name, "chrony.service is not running"),
        facts=("clock|time skew|time drift|NTP|chrony", name),
    )
    cluster.ask(
        "login-clock-2",
        f"Did anything change on {name} when it was rebooted at 09:12?",
        "Yes: it came back without time synchronisation. node-problem-detector set the node condition NTPProblem=True "
        "(NTPIsDown, 'chrony.service is not running') a minute after boot, and the clock has drifted about 4 minutes "
        "behind. The visible effect is the session-api pod there rejecting new JWTs as not yet valid (iat after its "
        "server_time). Restart chronyd and check why it failed to start.",
        "node-clock-skew",
        Evidence(None, name, "NTPIsDown"),
        Evidence(skewed.namespace, skewed.name, '"server_time":'),
        facts=("chrony|NTP", "not yet valid|iat|JWT|token"),
    )


def migration_lock_queue(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """The 10:15 release's pre-upgrade migration (ALTER TABLE listings) waits for an AccessExclusiveLock behind the
    seller payouts report's long REPEATABLE READ transaction; every listings query queues behind the ALTER and hits
    the API's 5 s statement_timeout."""
    report_at, migrated = 150.0, 105.0
    relation, database, holder, alter = 16427, 16385, 3988, 4211
    (db,) = cluster.pods_of("marketplace", "marketplace-db")
    apis = cluster.pods_of("marketplace", "listing-api")
    for index, pod in enumerate(apis):
        _pin(cluster, pod, ("cpu-h-0", "cpu-h-1", "cpu-0")[index])
        pod.containers[0].env = [
            {
                "name": "DATABASE_URL",
                "value": (
                    f"postgres://listing_app:{secrets.url_password}@marketplace-db.marketplace.svc.cluster.local:5432/"
                    "marketplace?pool_max_conns=20&statement_timeout=5000"
                ),
            },
        ]
    _pin(cluster, db, "cpu-h-1")
    store = db.containers[0]
    store.noise = False
    store.env = [
        {"name": "POSTGRES_DB", "value": "marketplace"},
        {"name": "POSTGRES_PASSWORD", "value": secrets.env_password},
        {"name": "PGDATA", "value": "/var/lib/postgresql/data/pgdata"},
    ]
    moment = ago(6 * 60) + timedelta(seconds=cluster.rng.uniform(0, 300))
    checkpointer, lsn = 61, 0x3_59F0_A1B8
    while moment < NOW:
        wrote = cluster.rng.randint(900, 4200)
        distance = cluster.rng.randint(18_000, 41_000)
        redo, lsn = lsn, lsn + distance * 1024
        store.lines += [
            _postgres(moment, checkpointer, "LOG", "checkpoint starting: time"),
            _postgres(
                moment + timedelta(seconds=179.9),
                checkpointer,
                "LOG",
                (
                    f"checkpoint complete: wrote {wrote} buffers ({wrote / 163.84:.1f}%); 0 WAL file(s) added, 0 "
                    "removed, "
                    f"{cluster.rng.randint(1, 3)} recycled; write=179.{cluster.rng.randint(100, 999)} s, sync=0.0"
                    f"{cluster.rng.randint(10, 99)} s, total=180.{cluster.rng.randint(100, 999)} s; sync files="
                    f"{cluster.rng.randint(120, 260)}, longest=0.00{cluster.rng.randint(2, 9)} s, average=0.001 s; "
                    f"distance={distance} kB, estimate={distance + cluster.rng.randint(0, 4000)} kB; "
                    f"lsn={lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}, redo lsn={redo >> 32:X}/{redo & 0xFFFFFFFF:X}"
                ),
            ),
        ]
        moment += timedelta(minutes=5)
    store.lines.append(
        _postgres(
            ago(212.37),
            8812,
            "LOG",
            (
                'automatic analyze of table "marketplace.public.listing_views"\n'
                "\tavg read rate: 0.000 MB/s, avg write rate: "
                "0.000 MB/s\n\tbuffer usage: 3421 hits, 0 misses, 0 dirtied\n\tsystem usage: CPU: user: 0.21 s, "
                "system: 0.00 s, "
                "elapsed: 0.24 s"
            ),
        )
    )
    # the payouts report: one REPEATABLE READ transaction streaming listings x orders since 09:30
    name = f"seller-payouts-report-{_epoch_minutes(ago(report_at))}"
    (report,) = add_pods(
        cluster,
        _job("marketplace", name, "registry.example.com/finance/payouts-report:2.2.0", "report"),
        1,
        node="cpu-h-0",
    )
    _pin(cluster, report, "cpu-h-0", report_at - 0.02)
    writer = report.containers[0]
    writer.noise = False
    writer.env = [
        {"name": "REPORT_DB_HOST", "value": "marketplace-db.marketplace.svc.cluster.local"},
        {"name": "EXPORT_BUCKET", "value": "s3://mkt-finance-exports/payouts/"},
        {"name": "AWS_ACCESS_KEY_ID", "value": secrets.aws_access_key},
        {"name": "AWS_SECRET_ACCESS_KEY", "value": secrets.aws_secret_key},
    ]
    start = report.start + timedelta(seconds=3)
    writer.lines += [
        _pylog(start, "INFO", "payouts_report", "seller payouts report for 2026-03-13 (all marketplaces) starting"),
        _pylog(
            start + timedelta(seconds=1),
            "INFO",
            "payouts_report.db",
            (
                "connected to marketplace-db.marketplace.svc.cluster.local/marketplace as report_ro (backend pid "
                f"{holder})"
            ),
        ),
        _pylog(
            start + timedelta(seconds=1.2),
            "INFO",
            "payouts_report.db",
            (
                "BEGIN ISOLATION LEVEL REPEATABLE READ; DECLARE payouts_cur CURSOR FOR SELECT ... FROM listings JOIN "
                "orders "
                "USING (listing_id) JOIN sellers USING (seller_id)"
            ),
        ),
    ]
    rows, part, moment = 0, 1, start + timedelta(minutes=3)
    while moment < NOW:
        rows += cluster.rng.randint(140_000, 260_000)
        writer.lines.append(
            _pylog(
                moment,
                "INFO",
                "payouts_report",
                (
                    f"fetched {rows:,} rows ({rows / 182_045.51:.1f}%), uploaded part {part} of "
                    "s3://mkt-finance-exports/payouts/2026-03-13.csv.gz"
                ),
            )
        )
        part += 1
        moment += timedelta(minutes=cluster.rng.uniform(4, 7))
    cron = ("CronJob", "marketplace", "seller-payouts-report")
    _event(cluster, cron, "SuccessfulCreate", f"Created job {name}", ago(report_at), component="cronjob-controller")
    _event(
        cluster,
        ("Job", "marketplace", name),
        "SuccessfulCreate",
        f"Created pod: {report.name}",
        ago(report_at - 0.01),
        component="job-controller",
    )
    # the Helm pre-upgrade hook: golang-migrate, waiting on its ALTER since 10:15
    (migrate,) = add_pods(cluster, _MIGRATE, 1, node="cpu-h-1")
    _pin(cluster, migrate, "cpu-h-1", migrated + 0.02)
    tool = migrate.containers[0]
    tool.noise = False
    tool.env = [
        {
            "name": "DATABASE_URL",
            "value": (
                f"postgres://listing_app:{secrets.url_password}@marketplace-db.marketplace.svc.cluster.local:5432/"
                "marketplace"
            ),
        }
    ]
    at = ago(migrated)
    version = "20260314093000/u add_promoted_until_to_listings"
    tool.lines += [
        (at, f"{at:%Y/%m/%d %H:%M:%S} Start buffering {version}"),
        (at + timedelta(milliseconds=4), f"{at:%Y/%m/%d %H:%M:%S} Read and execute {version}"),
    ]
    _event(
        cluster,
        ("Job", "marketplace", _MIGRATE.name),
        "SuccessfulCreate",
        f"Created pod: {migrate.name}",
        ago(migrated + 0.03),
        component="job-controller",
    )
    waited = at + timedelta(seconds=1, microseconds=cluster.rng.randint(0, 90_000))
    store.lines += [
        _postgres(
            waited,
            alter,
            "LOG",
            (
                f"process {alter} still waiting for AccessExclusiveLock on relation {relation} of database "
                f"{database} after "
                f"1000.{cluster.rng.randint(40, 99):03d} ms"
            ),
        ),
        _postgres(waited, alter, "DETAIL", f"Process holding the lock: {holder}. Wait queue: {alter}."),
        _postgres(waited, alter, "STATEMENT", "ALTER TABLE listings ADD COLUMN promoted_until timestamptz"),
    ]
    query = "SELECT id, seller_id, title, price_cents, currency, status, updated_at FROM listings WHERE id = $1"
    pid, moment = alter + 4, waited + timedelta(seconds=0.4)
    while moment < NOW:
        pid += cluster.rng.randint(1, 9)
        again = moment + timedelta(seconds=1, microseconds=cluster.rng.randint(0, 200_000))
        canceled = moment + timedelta(seconds=5)
        store.lines += [
            _postgres(
                again,
                pid,
                "LOG",
                (
                    f"process {pid} still waiting for AccessShareLock on relation {relation} of database {database} "
                    "after "
                    f"1000.{cluster.rng.randint(40, 999):03d} ms"
                ),
            ),
            _postgres(again, pid, "DETAIL", f"Process holding the lock: {holder}. Wait queue: {alter}, {pid}."),
            _postgres(again, pid, "STATEMENT", query),
            _postgres(canceled, pid, "ERROR", "canceling statement due to statement timeout"),
            _postgres(canceled, pid, "STATEMENT", query),
        ]
        api = apis[cluster.rng.randrange(len(apis))].containers[0]
        api.lines.append(
            _json(
                canceled,
                "error",
                "GET /v1/listings/{id} failed",
                status=500,
                duration_ms=5003,
                error="ERROR: canceling statement due to statement timeout (SQLSTATE 57014)",
            )
        )
        if cluster.rng.random() < 0.3:
            api.lines.append(
                _json(
                    canceled + timedelta(milliseconds=2),
                    "warn",
                    "db pool exhausted",
                    acquired=20,
                    max=20,
                    waiting=cluster.rng.randint(30, 140),
                )
            )
        moment += timedelta(seconds=cluster.rng.uniform(15, 45))
    cluster.ask(
        "listings-lock-1",
        "Listing pages have been erroring since about 10:15 and the API says its database pool is exhausted, but the "
        "database CPU is idle. What's actually going on?",
        "Lock queueing, not load. The 10:15 release's pre-upgrade migration (listing-api-db-migrate, golang-migrate "
        f"version 20260314093000) runs ALTER TABLE listings, which needs an AccessExclusiveLock; it has been waiting "
        f"since 10:15 ('process {alter} still waiting for AccessExclusiveLock on relation {relation}'). Every ordinary "
        "SELECT on listings now queues behind the ALTER, waits, and is cancelled by the API's 5 s statement_timeout, "
        "which also holds the pool's connections. Cancel the migration (or give it a lock_timeout) and retry it later.",
        "migration-lock-queue",
        Evidence(
            db.namespace,
            db.name,
            f"still waiting for AccessExclusiveLock on relation {relation} of database {database}",
        ),
        Evidence(migrate.namespace, migrate.name, f"Read and execute {version}"),
        facts=("AccessExclusiveLock|lock", "ALTER TABLE|migration|add_promoted_until"),
    )
    cluster.ask(
        "listings-lock-2",
        "What is the listings schema migration stuck behind?",
        f"Behind backend pid {holder}, the seller-payouts-report Job's session: since 09:30 it has held one REPEATABLE "
        "READ transaction with a cursor over listings JOIN orders, so it holds an AccessShareLock on listings until "
        f"the report finishes ('Process holding the lock: {holder}. Wait queue: {alter}.'). The ALTER cannot get its "
        "exclusive lock before that transaction ends. Stop the report (pg_cancel_backend) or wait for it, and run "
        "migrations with a lock_timeout so they fail fast instead of blocking the table.",
        "migration-lock-queue",
        Evidence(db.namespace, db.name, f"Process holding the lock: {holder}. Wait queue: {alter}."),
        Evidence(report.namespace, report.name, f"(backend pid {holder})"),
        facts=(f"{holder}|seller-payouts-report|payouts report", "transaction|REPEATABLE READ|cursor"),
    )


def rocm_arch_mismatch(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """rerank-train's image has PyTorch built for gfx90a (MI250X) only. Yesterday's run landed on amd-mi250x-3; today's
    was scheduled on amd-mi300x-5 (gfx942), which joined the pool last night, and the HIP runtime aborts."""
    yesterday, today = 24 * 60 + 80.0, 80.0
    env = [
        {"name": "RUN_CONFIG", "value": "s3://ranking-ml/configs/listwise-xlmr-large.yaml"},
        {"name": "GITHUB_TOKEN", "value": secrets.github_token},
        {"name": "HSA_FORCE_FINE_GRAIN_PCIE", "value": "1"},
    ]
    cron = ("CronJob", "search-ranking", "rerank-train")

    def run(job: str, node: str, minutes: float) -> SamplePod:
        (pod,) = add_pods(
            cluster, _job("search-ranking", job, _RERANK_IMAGE, "trainer", gpu_vendor="amd", gpus=8), 1, node=node
        )
        _pin(cluster, pod, node, minutes)
        pod.containers[0].env = env
        return pod

    def header(moment: datetime, run_id: str, device: str, memory: str) -> list[tuple[datetime, str]]:
        return [
            _pylog(
                moment,
                "INFO",
                "rerank_train",
                (f"rerank-train 2026.03.1 starting: model=listwise-xlmr-large, world size 8, run {run_id}"),
            ),
            _pylog(
                moment + timedelta(milliseconds=640),
                "INFO",
                "rerank_train",
                ("torch 2.3.1+rocm6.1 (HIP 6.1.40091), compiled arch list: ['gfx90a']"),
            ),
            _pylog(moment + timedelta(milliseconds=910), "INFO", "rerank_train", (f"device 0: {device}, {memory} GiB")),
        ]

    old_job = f"rerank-train-{_epoch_minutes(ago(yesterday))}"
    good = run(old_job, "amd-mi250x-3", yesterday - 0.02)
    begin = good.start + timedelta(seconds=4)
    good.containers[0].lines += header(
        begin, "20260313-1040", "AMD Instinct MI250X/MI250 (gcnArchName gfx90a:sramecc+:xnack-)", "63.98"
    )
    for epoch in range(1, 4):
        good.containers[0].lines.append(
            _pylog(
                begin + timedelta(minutes=22 * epoch),
                "INFO",
                "rerank_train",
                (f"epoch {epoch}/3 done: loss={0.61 - 0.09 * epoch:.4f} ndcg@10={0.402 + 0.021 * epoch:.4f}"),
            )
        )
    ended = begin + timedelta(minutes=71, seconds=12)
    good.containers[0].lines.append(
        _pylog(
            ended - timedelta(seconds=20),
            "INFO",
            "rerank_train",
            ("saved model to s3://ranking-ml/models/listwise-xlmr-large/20260313-1040/ in 71m12s"),
        )
    )
    _finished(good, good.containers[0], good.start, ended, 0, "Completed")
    job = f"rerank-train-{_epoch_minutes(ago(today))}"
    _event(cluster, cron, "SuccessfulCreate", f"Created job {job}", ago(today), component="cronjob-controller")
    failed: list[SamplePod] = []
    moment = ago(today) + timedelta(seconds=0.4)
    for attempt in range(3):
        pod = run(job, "amd-mi300x-5", (NOW - moment).total_seconds() / 60)
        _event(
            cluster,
            ("Job", "search-ranking", job),
            "SuccessfulCreate",
            f"Created pod: {pod.name}",
            moment - timedelta(seconds=0.2),
            component="job-controller",
        )
        start = moment + timedelta(seconds=3)
        trainer = pod.containers[0]
        trainer.lines += header(
            start, "20260314-1040", "AMD Instinct MI300X (gcnArchName gfx942:sramecc+:xnack-)", "191.98"
        )
        aborted = start + timedelta(seconds=2.3)
        trainer.lines.append((aborted, '"hipErrorNoBinaryForGpu: Unable to find code object for all current devices!"'))
        _finished(pod, trainer, moment + timedelta(seconds=1), aborted + timedelta(seconds=0.2), 134, "Error")
        failed.append(pod)
        moment = aborted + timedelta(seconds=10 * 2**attempt)
    _event(
        cluster,
        ("Job", "search-ranking", job),
        "BackoffLimitExceeded",
        "Job has reached the specified backoff limit",
        moment - timedelta(seconds=9),
        warning=True,
        component="job-controller",
    )
    _event(
        cluster,
        cron,
        "SawCompletedJob",
        f"Saw completed job: {job}, status: Failed",
        moment - timedelta(seconds=8),
        component="cronjob-controller",
    )
    cluster.ask(
        "rerank-rocm-1",
        "Yesterday's reranker training run worked, but today's died within seconds, three times. What changed?",
        "The node. Yesterday's pod ran on amd-mi250x-3 (MI250X, gfx90a); today's three pods were scheduled on "
        "amd-mi300x-5, an MI300X node (gfx942) that joined the AMD pool last night, because the Job asks only for "
        "amd.com/gpu. The image's PyTorch is built for gfx90a only, so the HIP runtime finds no kernels for the MI300X "
        "and aborts ('hipErrorNoBinaryForGpu: Unable to find code object for all current devices!', exit 134).",
        "rocm-arch-mismatch",
        Evidence(failed[0].namespace, failed[0].name, "hipErrorNoBinaryForGpu"),
        Evidence(good.namespace, good.name, "gcnArchName gfx90a:sramecc+:xnack-"),
        facts=("MI300X|gfx942|amd-mi300x-5", "gfx90a|MI250X"),
    )
    cluster.ask(
        "rerank-rocm-2",
        "Why does rerank-train abort with exit code 134 right after it prints the GPU it found?",
        "SIGABRT from the HIP runtime: the PyTorch in rerank-train 2026.03.1 was compiled for ['gfx90a'] only, and the "
        "GPU it got is an AMD Instinct MI300X, gcnArchName gfx942, for which it has no code object. Rebuild the "
        "image with "
        "PYTORCH_ROCM_ARCH including gfx942 (or use an official ROCm wheel), or pin the Job to the MI250X nodes "
        "with a nodeSelector on the GPU product.",
        "rocm-arch-mismatch",
        Evidence(failed[1].namespace, failed[1].name, "compiled arch list: ['gfx90a']"),
        Evidence(None, "amd-mi300x-5", "AMD_Instinct_MI300X_OAM"),
        facts=("gfx90a", "gfx942|MI300X"),
    )


def readiness_route_removed(cluster: SampleCluster) -> None:
    """availability-svc 2.9.0 moved to Rails 7.1's /up health check and dropped its /ready route; the readinessProbe
    still asks /ready, gets 404, and the surge pod never becomes Ready, so the 10:30 rollout never progresses."""
    rolled, node = 90.0, "cpu-h-1"
    old = cluster.pods_of("stays", "availability-svc")
    for index, pod in enumerate(old):
        _pin(cluster, pod, ("cpu-h-0", "cpu-0", "cpu-1")[index])
    (new,) = add_pods(cluster, old[0].workload, 1, node=node, image="registry.example.com/stays/availability-svc:2.9.0")
    _forget(cluster, new)
    new.start = ago(rolled - 0.02)
    new.containers[0].state = {"running": {"startedAt": stamp(rolled - 0.2)}}
    new.containers[0].ready = False
    env = [
        {"name": "RAILS_ENV", "value": "production"},
        {"name": "RAILS_LOG_TO_STDOUT", "value": "1"},
        {"name": "WEB_CONCURRENCY", "value": "0"},
        {"name": "RAILS_MAX_THREADS", "value": "5"},
    ]
    for pod in old + [new]:
        pod.containers[0].noise = False
        pod.containers[0].env = env
    new_rs, old_rs = new.owner[1], old[0].owner[1]
    cluster.event(
        ("Deployment", "stays", "availability-svc"),
        "ScalingReplicaSet",
        f"Scaled up replica set {new_rs} to 1",
        ago(rolled),
        component="deployment-controller",
    )
    cluster.event(
        ("ReplicaSet", "stays", new_rs),
        "SuccessfulCreate",
        f"Created pod: {new.name}",
        ago(rolled - 0.005),
        component="replicaset-controller",
    )
    _scheduled(cluster, new, ago(rolled - 0.01))
    ref = ("Pod", new.namespace, new.name)
    image = new.containers[0].image
    cluster.event(ref, "Pulling", f'Pulling image "{image}"', ago(rolled - 0.02), host=node)
    cluster.event(
        ref,
        "Pulled",
        (f'Successfully pulled image "{image}" in 5.314s (5.314s including waiting). Image size: 231457012 bytes.'),
        ago(rolled - 0.11),
        host=node,
    )
    cluster.event(ref, "Created", "Created container app", ago(rolled - 0.12), host=node)
    cluster.event(ref, "Started", "Started container app", ago(rolled - 0.2), host=node)
    cluster.event(
        ref,
        "Unhealthy",
        "Readiness probe failed: HTTP probe failed with statuscode: 404",
        ago(cluster.rng.uniform(0.05, 0.15)),
        warning=True,
        count=cluster.rng.randint(530, 540),
        host=node,
        first=ago(rolled - 0.4),
    )
    boot = ago(rolled - 0.2) + timedelta(seconds=0.3)
    new.containers[0].lines += _together(
        boot,
        [
            "=> Booting Puma",
            "=> Rails 7.1.3.4 application starting in production ",
            "=> Run `bin/rails server --help` for more startup options",
            "Puma starting in single mode...",
            '* Puma version: 6.4.2 (ruby 3.3.1-p55) ("The Eagle of Durango")',
            "*  Min threads: 5",
            "*  Max threads: 5",
            "*  Environment: production",
            "*          PID: 1",
            "* Listening on http://0.0.0.0:3000",
            "Use Ctrl-C to stop",
        ],
    )
    probe_from = _host_ip(node)
    moment = boot + timedelta(seconds=cluster.rng.uniform(2, 9))
    while moment < NOW:
        request = str(cluster.uid())
        new.containers[0].lines += [
            _rails(
                moment, "INFO", f'[{request}] Started GET "/ready" for {probe_from} at {moment:%Y-%m-%d %H:%M:%S} +0000'
            ),
            _rails(moment + timedelta(microseconds=900), "FATAL", f"[{request}]   "),
            (
                moment + timedelta(microseconds=901),
                f'[{request}] ActionController::RoutingError (No route matches [GET] "/ready"):',
            ),
            (moment + timedelta(microseconds=902), f"[{request}]   "),
        ]
        moment += timedelta(seconds=10, microseconds=cluster.rng.randint(-3000, 3000))
    for pod in old:
        source = _host_ip(pod.node)
        moment = ago(6 * 60) + timedelta(seconds=cluster.rng.uniform(0, 60))
        while moment < NOW:
            request = str(cluster.uid())
            if cluster.rng.random() < 0.5:
                pod.containers[0].lines += [
                    _rails(
                        moment,
                        "INFO",
                        f'[{request}] Started GET "/ready" for {source} at {moment:%Y-%m-%d %H:%M:%S} +0000',
                    ),
                    _rails(
                        moment + timedelta(microseconds=400),
                        "INFO",
                        f"[{request}] Processing by HealthController#show as */*",
                    ),
                    _rails(
                        moment + timedelta(milliseconds=2),
                        "INFO",
                        (
                            f"[{request}] Completed 200 OK in 2ms (Views: 0.2ms | ActiveRecord: 0.4ms | Allocations: "
                            "311)"
                        ),
                    ),
                ]
            else:
                property_id = cluster.rng.randint(1000, 9999)
                took = cluster.rng.randint(9, 140)
                pod.containers[0].lines += [
                    _rails(
                        moment,
                        "INFO",
                        (
                            f'[{request}] Started GET "/api/v2/properties/{property_id}/availability?from=2026-04-02&'
                            f'nights={cluster.rng.randint(1, 9)}" for 10.244.{cluster.rng.randint(0, 7)}.'
                            f"{cluster.rng.randint(2, 250)} at {moment:%Y-%m-%d %H:%M:%S} +0000"
                        ),
                    ),
                    _rails(
                        moment + timedelta(microseconds=500),
                        "INFO",
                        (f"[{request}] Processing by Api::V2::AvailabilityController#index as JSON"),
                    ),
                    _rails(
                        moment + timedelta(milliseconds=took),
                        "INFO",
                        (
                            f"[{request}] Completed 200 OK in {took}ms (Views: "
                            f"{took // 9}.{cluster.rng.randint(0, 9)}ms | "
                            f"ActiveRecord: {took // 2}.{cluster.rng.randint(0, 9)}ms | Allocations: "
                            f"{cluster.rng.randint(4000, 30000)})"
                        ),
                    ),
                ]
            moment += timedelta(minutes=cluster.rng.uniform(1, 4))
    cluster.ask(
        "availability-probe-1",
        "The availability-svc release started at 10:30 still hasn't rolled out and the pipeline gave up waiting. Is "
        "2.9.0 crashing?",
        f"No, it runs (0 restarts), but it never becomes Ready: its readiness probe fails with 404 ('Readiness probe "
        f"failed: HTTP probe failed with statuscode: 404'). The Deployment surges one 2.9.0 pod ({new.name}) and waits "
        f"for it to be Ready before removing a 2.8.3 pod, so the three old pods of {old_rs} keep serving and the "
        "rollout makes no progress (past its progress deadline).",
        "readiness-route-removed",
        Evidence(new.namespace, new.name, "HTTP probe failed with statuscode: 404"),
        facts=("readiness", "404"),
    )
    cluster.ask(
        "availability-probe-2",
        "Puma is up and listening in the new availability-svc pod, so why is it never marked Ready?",
        "Because the path the kubelet probes no longer exists in 2.9.0: every probe request logs "
        "'ActionController::RoutingError (No route matches [GET] \"/ready\")'. The pod spec still has readinessProbe "
        "httpGet /ready on port 3000, while 2.9.0 dropped its own /ready route (Rails 7.1 apps answer health checks on "
        "/up). Point the probe at /up or restore the /ready route.",
        "readiness-route-removed",
        Evidence(new.namespace, new.name, 'No route matches [GET] "/ready"'),
        facts=("/ready", "No route matches|route|/up"),
    )


def irsa_fallback(cluster: SampleCluster) -> None:
    """transcode-dispatcher 3.0.0's chart no longer sets serviceAccountName: the pods run as `default`, which has no
    IAM role annotation, so botocore falls back to the node's instance role and S3 denies its GetObject."""
    released = 115.0
    pods = cluster.pods_of("media-pipeline", "transcode-dispatcher")
    new_rs, old_rs = pods[0].owner[1], f"transcode-dispatcher-{cluster.suffix(10)}"
    _rolled_out(cluster, "media-pipeline", "transcode-dispatcher", new_rs, old_rs, 2, released + 0.01, 0.15)
    key = "profiles/v3.json"
    bucket = "media-transcode-config-prod"
    for index, pod in enumerate(pods):
        node = ("cpu-h-0", "cpu-1")[index]
        _pin(cluster, pod, node, released - 0.3 * index)
        app = pod.containers[0]
        app.env = [
            {"name": "QUEUE_NAME", "value": "transcode-requests"},
            {"name": "PROFILES_URI", "value": f"s3://{bucket}/{key}"},
            {"name": "AWS_REGION", "value": "us-east-1"},
            {"name": "AWS_DEFAULT_REGION", "value": "us-east-1"},
        ]
        last = cluster.rng.uniform(0.5, 4.5)
        _crash_loop(cluster, pod, app, 22 + index, 1, last, released - 0.4 - 0.3 * index)
        instance = f"i-0{cluster.rng.getrandbits(64):016x}"
        start = ago(last) - timedelta(seconds=2.1)
        denied = (
            f"User: arn:aws:sts::{_ACCOUNT}:assumed-role/{_NODE_ROLE}/{instance} is not authorized to perform: "
            f's3:GetObject on resource: "arn:aws:s3:::{bucket}/{key}" because no identity-based policy allows the '
            "s3:GetObject action"
        )
        app.lines += [
            _pylog(
                start,
                "INFO",
                "transcode_dispatcher",
                "transcode-dispatcher 3.0.0 starting (queue transcode-requests, 8 threads)",
            ),
            _pylog(
                start + timedelta(milliseconds=2),
                "WARNING",
                "transcode_dispatcher.aws",
                "AWS_ROLE_ARN is not set; using the default credential chain",
            ),
            _pylog(
                start + timedelta(milliseconds=611),
                "INFO",
                "botocore.credentials",
                f"Found credentials from IAM Role: {_NODE_ROLE}",
            ),
            _pylog(
                start + timedelta(milliseconds=790),
                "ERROR",
                "transcode_dispatcher.profiles",
                (
                    f"could not read transcode profiles from s3://{bucket}/{key} (AccessDenied): check the bucket "
                    "policy of "
                    f"{bucket}"
                ),
            ),
        ]
        app.lines += _together(
            start + timedelta(milliseconds=795),
            [
                "Traceback (most recent call last):",
                '  File "/app/transcode_dispatcher/__main__.py", line 31, in <module>',
                "    main()",
                '  File "/app/transcode_dispatcher/__main__.py", line 19, in main',
                "    profiles = load_profiles(s3, settings.profiles_uri)",
                '  File "/app/transcode_dispatcher/profiles.py", line 27, in load_profiles',
                '    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()',
                '  File "/usr/local/lib/python3.12/site-packages/botocore/client.py", line 565, in _api_call',
                "    return self._make_api_call(operation_name, kwargs)",
                '  File "/usr/local/lib/python3.12/site-packages/botocore/client.py", line 1021, in _make_api_call',
                "    raise error_class(parsed_response, operation_name)",
                "botocore.exceptions.ClientError: An error occurred (AccessDenied) when calling the GetObject "
                f"operation: {denied}",
            ],
        )
    one, two = pods
    cluster.ask(
        "transcode-iam-1",
        "Nothing has been transcoded since the 10:05 release and the request queue keeps growing. What broke?",
        "transcode-dispatcher 3.0.0 crash-loops at start: it cannot read its profiles from S3 ('AccessDenied when "
        "calling "
        f"the GetObject operation: User: arn:aws:sts::{_ACCOUNT}:assumed-role/{_NODE_ROLE}/... is not authorized'). "
        "It is "
        f"calling AWS as the node's instance role {_NODE_ROLE}, not as its own IAM role, so nothing consumes the "
        "queue.",
        "irsa-fallback",
        Evidence(one.namespace, one.name, f"assumed-role/{_NODE_ROLE}/"),
        facts=("AccessDenied|not authorized", f"{_NODE_ROLE}|node role|instance role|instance profile"),
    )
    cluster.ask(
        "transcode-iam-2",
        "The dispatcher's error says to check the bucket policy. Is the S3 bucket policy really the problem?",
        "No. The pods no longer get IRSA credentials: AWS_ROLE_ARN is not set (the 3.0.0 release runs them with the "
        "`default` service account, which has no eks.amazonaws.com/role-arn annotation), so botocore's chain falls "
        "back "
        f"to the instance metadata ('Found credentials from IAM Role: {_NODE_ROLE}'), and the node role may not read "
        "the "
        "bucket. Set serviceAccountName back to the annotated service account.",
        "irsa-fallback",
        Evidence(two.namespace, two.name, f"Found credentials from IAM Role: {_NODE_ROLE}"),
        Evidence(two.namespace, two.name, "AWS_ROLE_ARN is not set"),
        facts=("AWS_ROLE_ARN|IRSA|service account|web identity", f"{_NODE_ROLE}|node role|instance profile|IMDS"),
    )


def checkpoint_volume_full(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """Since the 2026.03 trainer images run as uid 1000 with umask 077, the hourly ckpt-janitor (uid 65534) cannot
    enter the run directories; old checkpoints pile up on the shared 8 TiB volume until torch.save fails at 11:12."""
    crashed, started, janitor_at = 48.0, 380.0, 60.0
    name = "gpu-h100-12"
    (trainer,) = add_pods(
        cluster, _job("speech-lab", "w2v-ft-run7", _TRAINER_IMAGE, "trainer", gpu_vendor="nvidia", gpus=1), 1, node=name
    )
    _pin(cluster, trainer, name, started)
    trainer.claims = ["speech-ckpt"]
    train = trainer.containers[0]
    train.env = [
        {"name": "CKPT_DIR", "value": "/ckpt/w2v-ft-run7"},
        {"name": "CKPT_EVERY", "value": "2000"},
        {"name": "DATASET", "value": "s3://speech-data/sw-ke/v4/"},
    ]
    begin = trainer.start + timedelta(seconds=20)
    failing = ago(crashed) - timedelta(seconds=43, microseconds=cluster.rng.randint(0, 999_999))
    step_rate = 42_000 / ((failing - begin).total_seconds() / 60 - 0.02)  # steps per minute
    train.lines += _together(
        begin,
        [
            "/usr/local/lib/python3.10/dist-packages/torch/cuda/amp/grad_scaler.py:132: FutureWarning: "
            "`torch.cuda.amp.GradScaler(args...)` is deprecated. Please use `torch.amp.GradScaler('cuda', args...)` "
            "instead.",
            "  warnings.warn(",
        ],
    )
    step = 200
    while step < 42_000:
        moment = begin + timedelta(minutes=step / step_rate)
        if moment >= ago(6 * 60):
            train.lines.append(
                _pylog(
                    moment,
                    "INFO",
                    "w2v_finetune",
                    (
                        f"step {step}/60000 loss={1.9 * 0.99994**step + 0.21:.4f} wer={0.61 * 0.99997**step:.3f} "
                        f"lr={3e-5 * (1 - step / 60_000):.2e}"
                    ),
                )
            )
            if step % 2000 == 0:
                train.lines.append(
                    _pylog(
                        moment + timedelta(seconds=44),
                        "INFO",
                        "w2v_finetune",
                        (
                            f"saved checkpoint /ckpt/w2v-ft-run7/step-{step} (6.0 GiB) in "
                            f"{cluster.rng.uniform(38, 47):.1f}s"
                        ),
                    )
                )
        step += 200
    train.lines.append(
        _pylog(
            failing - timedelta(seconds=1.2),
            "INFO",
            "w2v_finetune",
            ("step 42000/60000 loss=0.3692 wer=0.176 lr=9.00e-06"),
        )
    )
    train.lines.append(_pylog(failing, "INFO", "w2v_finetune", "saving checkpoint to /ckpt/w2v-ft-run7/step-42000"))
    train.lines += _together(
        ago(crashed) - timedelta(seconds=1),
        [
            "Traceback (most recent call last):",
            '  File "/usr/local/lib/python3.10/dist-packages/torch/serialization.py", line 628, in save',
            "    _save(obj, opened_zipfile, pickle_module, pickle_protocol, _disable_byteorder_record)",
            '  File "/usr/local/lib/python3.10/dist-packages/torch/serialization.py", line 862, in _save',
            "    zip_file.write_record(name, storage, num_bytes)",
            "RuntimeError: [enforce fail at inline_container.cc:764] . PytorchStreamWriter failed writing file "
            "data/412: "
            "file write failed",
            "",
            "During handling of the above exception, another exception occurred:",
            "",
            "Traceback (most recent call last):",
            '  File "/workspace/finetune.py", line 214, in <module>',
            "    main()",
            '  File "/workspace/finetune.py", line 201, in main',
            "    save_checkpoint(model, optimizer, scaler, step, args.ckpt_dir)",
            '  File "/workspace/finetune.py", line 88, in save_checkpoint',
            '    torch.save(state, os.path.join(path, "state.pt"))',
            '  File "/usr/local/lib/python3.10/dist-packages/torch/serialization.py", line 627, in save',
            "    with _open_zipfile_writer(f) as opened_zipfile:",
            '  File "/usr/local/lib/python3.10/dist-packages/torch/serialization.py", line 475, in __exit__',
            "    self.file_like.write_end_of_file()",
            "RuntimeError: [enforce fail at inline_container.cc:595] . unexpected pos 4404019648 vs 4404019536",
        ],
    )
    _finished(trainer, train, trainer.start, ago(crashed), 1, "Error")
    job = ("Job", "speech-lab", "w2v-ft-run7")
    _event(
        cluster,
        job,
        "BackoffLimitExceeded",
        "Job has reached the specified backoff limit",
        ago(crashed - 0.02),
        warning=True,
        component="job-controller",
    )
    cron = ("CronJob", "speech-lab", "ckpt-janitor")
    run_name = f"ckpt-janitor-{_epoch_minutes(ago(janitor_at))}"
    previous = f"ckpt-janitor-{_epoch_minutes(ago(janitor_at + 60))}"
    (janitor,) = add_pods(
        cluster, _job("speech-lab", run_name, "docker.io/library/busybox:1.36.1", "janitor"), 1, node="cpu-h-1"
    )
    _pin(cluster, janitor, "cpu-h-1", janitor_at - 0.01)
    janitor.claims = ["speech-ckpt"]
    sweep = janitor.containers[0]
    sweep.env = [
        {"name": "KEEP_MINUTES", "value": "4320"},
        {"name": "SLACK_WEBHOOK_URL", "value": secrets.slack_webhook},
    ]
    at = janitor.start + timedelta(seconds=1)
    runs = (("w2v-ft-run5", "Mar 10 22:41"), ("w2v-ft-run6", "Mar 12 04:03"), ("w2v-ft-run7", "Mar 14 05:40"))
    lines = [
        "+ id",
        "uid=65534(nobody) gid=65534(nobody) groups=65534(nobody)",
        "+ df -h /ckpt",
        "Filesystem                Size      Used Available Use% Mounted on",
        "10.0.52.18:/speech_ckpt    8.0T      7.9T      4.1G 100% /ckpt",
        "+ ls -ld " + " ".join(f"/ckpt/{run}" for run, _ in runs),
    ]
    lines += [f"drwx------    9 1000     1000          4096 {when} /ckpt/{run}" for run, when in runs]
    lines += ["+ find /ckpt -mindepth 2 -maxdepth 2 -type d -name 'step-*' -mmin +4320 -exec rm -rf {} +"]
    lines += [f"find: /ckpt/{run}: Permission denied" for run, _ in runs]
    sweep.lines += _together(at, lines)
    _finished(janitor, sweep, janitor.start, at + timedelta(seconds=2), 1, "Error")
    _event(
        cluster, cron, "SuccessfulCreate", f"Created job {run_name}", ago(janitor_at), component="cronjob-controller"
    )
    _event(
        cluster,
        ("Job", "speech-lab", run_name),
        "SuccessfulCreate",
        f"Created pod: {janitor.name}",
        ago(janitor_at - 0.005),
        component="job-controller",
    )
    _event(
        cluster,
        ("Job", "speech-lab", run_name),
        "BackoffLimitExceeded",
        "Job has reached the specified backoff limit",
        ago(janitor_at - 0.06),
        warning=True,
        component="job-controller",
    )
    _event(
        cluster,
        cron,
        "SawCompletedJob",
        f"Saw completed job: {run_name}, status: Failed",
        ago(janitor_at - 0.07),
        component="cronjob-controller",
    )
    _event(
        cluster,
        cron,
        "SuccessfulDelete",
        f"Deleted job {previous}",
        ago(janitor_at - 0.075),
        component="cronjob-controller",
    )
    cluster.ask(
        "speech-ckpt-1",
        "The wav2vec2 fine-tune crashed while saving its step-42000 checkpoint. Is this a PyTorch bug?",
        "No. torch.save could not write the file ('PytorchStreamWriter failed writing file data/412: file write "
        "failed', "
        "then 'unexpected pos') because the shared checkpoint volume /ckpt is full: at 11:00 ckpt-janitor's df showed "
        "7.9T of 8.0T used, 4.1G available (100%), less than one 6 GiB checkpoint. Old checkpoints have not been "
        "cleaned "
        "up, since the janitor fails; free space (delete old step-* directories) and resume from step-40000.",
        "checkpoint-volume-full",
        Evidence(
            trainer.namespace, trainer.name, "PytorchStreamWriter failed writing file data/412: file write failed"
        ),
        Evidence(janitor.namespace, janitor.name, "4.1G 100% /ckpt"),
        facts=("full|no space|out of space|disk space|100%", "ckpt-janitor|janitor|cleanup"),
    )
    cluster.ask(
        "speech-ckpt-2",
        "Why hasn't ckpt-janitor been deleting old checkpoints?",
        "It runs as uid 65534 (nobody), but the run directories are owned by uid 1000 with mode drwx------ (the "
        "2026.03 "
        "trainer images run as 1000 with a private umask), so find cannot even enter them: 'find: "
        "/ckpt/w2v-ft-run5: Permission denied' for every run since w2v-ft-run5, and the Job fails each hour. Run the "
        "janitor as uid 1000 (or with a group both share and a group-readable umask).",
        "checkpoint-volume-full",
        Evidence(janitor.namespace, janitor.name, "find: /ckpt/w2v-ft-run5: Permission denied"),
        Evidence(janitor.namespace, janitor.name, "uid=65534(nobody)"),
        facts=("Permission denied|permission", "65534|nobody|1000|drwx------"),
    )


def egress_policy(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """At 11:02 Flux applied the tenant baseline to genai: a default-deny egress NetworkPolicy (DNS allowed). The
    running TGI pod had its weights already; the replica added at 11:20 cannot reach huggingface.co to download them."""
    applied, scaled, node = 58.0, 40.0, "karpenter-a10g-0"
    (old,) = cluster.pods_of("genai", "doc-summarizer")
    _pin(cluster, old, node)
    new = _siblings(cluster, old, 1, node)[0]
    _pin(cluster, new, node, scaled - 0.01)
    env = [
        {"name": "MODEL_ID", "value": _MODEL},
        {"name": "MAX_INPUT_LENGTH", "value": "7168"},
        {"name": "MAX_TOTAL_TOKENS", "value": "8192"},
        {"name": "HUGGINGFACE_HUB_CACHE", "value": "/data"},
        {"name": "FALLBACK_OPENAI_API_KEY", "value": secrets.openai_key},
    ]
    for pod in (old, new):
        pod.containers[0].noise = False
        pod.containers[0].env = env
    replica_set = old.owner[1]
    _autoscaled(
        cluster, "genai", "doc-summarizer", replica_set, 2, 1, "pods metric tgi_queue_size above target", scaled + 0.005
    )
    cluster.event(
        ("ReplicaSet", "genai", replica_set),
        "SuccessfulCreate",
        f"Created pod: {new.name}",
        ago(scaled + 0.01),
        component="replicaset-controller",
    )
    moment = ago(6 * 60) + timedelta(seconds=cluster.rng.uniform(0, 120))
    while moment < NOW:
        total = cluster.rng.uniform(1.2, 9.5)
        tokens = cluster.rng.randint(60, 400)
        old.containers[0].lines.append(
            _tgi(
                moment,
                "INFO",
                (
                    f"generate{{parameters=GenerateParameters {{ best_of: None, temperature: Some(0.2), "
                    "max_new_tokens: "
                    f'Some({tokens}), stop: [] }} total_time="{total:.9f}s" inference_time="{total - 0.002:.9f}s" '
                    f'time_per_token="{total / tokens * 1000:.6f}ms" seed="None"}}: text_generation_router::server'
                ),
                "router/src/server.rs:322: Success",
            )
        )
        moment += timedelta(seconds=cluster.rng.uniform(20, 140))
    tgi = new.containers[0]
    last = cluster.rng.uniform(0.5, 3.0)
    _crash_loop(cluster, new, tgi, 8, 1, last, scaled - 1.5)
    start = ago(last) - timedelta(seconds=12.6)
    tgi.lines += [
        _tgi(
            start,
            "INFO",
            "text_generation_launcher",
            (
                f'Args {{ model_id: "{_MODEL}", revision: None, validation_workers: 2, sharded: None, num_shard: None, '
                "quantize: None, speculate: None, dtype: None, trust_remote_code: false, max_concurrent_requests: 128, "
                "max_best_of: 2, max_stop_sequences: 4, max_top_n_tokens: 5, max_input_tokens: None, max_input_length: "
                "Some(7168), max_total_tokens: Some(8192), waiting_served_ratio: 0.3, max_batch_prefill_tokens: None, "
                f'hostname: "{new.name}", port: 8080, shard_uds_path: "/tmp/text-generation-server", master_addr: '
                '"localhost", master_port: 29500, huggingface_hub_cache: Some("/data"), weights_cache_override: None, '
                "disable_custom_kernels: false, json_output: false, otlp_endpoint: None, cors_allow_origin: [], "
                "watermark_gamma: None, watermark_delta: None, ngrok: false, env: false }"
            ),
        ),
        _tgi(
            start + timedelta(milliseconds=1),
            "INFO",
            "text_generation_launcher",
            "Default `max_batch_prefill_tokens` to 7218",
        ),
        _tgi(
            start + timedelta(milliseconds=2),
            "INFO",
            "text_generation_launcher",
            "Using default cuda graphs [1, 2, 4, 8, 16, 32]",
        ),
        _tgi(
            start + timedelta(milliseconds=3),
            "INFO",
            "download: text_generation_launcher",
            "Starting download process.",
        ),
    ]
    failed = start + timedelta(seconds=11.9)
    tgi.lines += [
        _tgi(failed, "ERROR", "download: text_generation_launcher", "Download encountered an error: "),
        *_together(
            failed + timedelta(microseconds=10),
            [
                "Traceback (most recent call last):",
                '  File "/opt/conda/bin/text-generation-server", line 8, in <module>',
                "    sys.exit(app())",
                f'  File "{_TGI_SERVER}/cli.py", line 175, in download_weights',
                "    utils.weight_files(model_id, revision, extension)",
                f'  File "{_TGI_SERVER}/utils/hub.py", line 158, in weight_files',
                "    filenames = weight_hub_files(model_id, revision, extension)",
                f'  File "{_TGI_SERVER}/utils/hub.py", line 37, in weight_hub_files',
                "    info = api.model_info(model_id, revision=revision)",
                "requests.exceptions.ConnectTimeout: (MaxRetryError(\"HTTPSConnectionPool(host='huggingface.co', "
                "port=443): Max "
                f"retries exceeded with url: /api/models/{_MODEL} (Caused by ConnectTimeoutError(<urllib3.connection."
                "HTTPSConnection object at 0x7f3b9c2e5d50>, 'Connection to huggingface.co timed out. (connect "
                "timeout=10)'))\"), "
                f"'(Request ID: {cluster.uid()})')",
                "",
            ],
        ),
        (failed + timedelta(milliseconds=600), "Error: DownloadError"),
    ]
    kustomization = ("Kustomization", "genai", "genai-baseline")
    revision = f"main@sha1:{cluster.rng.getrandbits(160):040x}"
    changes = "NetworkPolicy/genai/allow-dns-egress created\nNetworkPolicy/genai/default-deny-egress created"
    for reason, message, at in (
        ("Progressing", changes, ago(applied)),
        ("ReconciliationSucceeded", "Reconciliation finished in 1.84s, next run in 10m0s", ago(applied - 0.01)),
    ):
        event = cluster.event(kustomization, reason, message, at, component="kustomize-controller")
        event["involvedObject"]["apiVersion"] = _FLUX_API
        event["metadata"]["annotations"] = {"kustomize.toolkit.fluxcd.io/revision": revision}
    cluster.ask(
        "summarizer-egress-1",
        "The summarizer's new replica has been crash-looping since 11:20 while the old one serves fine. Is Hugging "
        "Face "
        "down?",
        f"No: the pod cannot reach it. On start TGI downloads {_MODEL} and times out connecting to huggingface.co "
        "('Connection to huggingface.co timed out. (connect timeout=10)', then 'Error: DownloadError'). At 11:02 "
        "Flux's "
        "genai-baseline Kustomization created the NetworkPolicy default-deny-egress in genai (with allow-dns-egress "
        "only), so new pods may resolve names but not connect out. The old replica downloaded its weights before and "
        "keeps serving from memory. Allow egress to the model hub (or a mirror) or pre-load the weights.",
        "egress-policy",
        Evidence(new.namespace, new.name, "Connection to huggingface.co timed out"),
        Evidence("genai", "genai-baseline", "NetworkPolicy/genai/default-deny-egress created"),
        facts=("NetworkPolicy|network policy|default-deny-egress", "egress"),
    )
    cluster.ask(
        "summarizer-egress-2",
        "What changed in the genai namespace's network rules this morning, and what applied it?",
        "Flux did: the kustomize-controller reconciled the genai-baseline Kustomization (revision "
        f"{revision}) at 11:02 and created two NetworkPolicies in genai, default-deny-egress and allow-dns-egress. "
        "Since "
        "then pods in genai may only send DNS; every other outbound connection is dropped.",
        "egress-policy",
        Evidence("genai", "genai-baseline", "NetworkPolicy/genai/allow-dns-egress created"),
        facts=("genai-baseline|Flux|kustomize-controller", "default-deny-egress"),
    )


def apply_all(cluster: SampleCluster) -> None:
    secrets = cluster.secrets
    _placement(cluster)
    quota_exhausted(cluster)
    webhook_unavailable(cluster)
    dns_search_expansion(cluster, secrets)
    node_clock_skew(cluster, secrets)
    migration_lock_queue(cluster, secrets)
    rocm_arch_mismatch(cluster, secrets)
    readiness_route_removed(cluster)
    irsa_fallback(cluster)
    checkpoint_volume_full(cluster, secrets)
    egress_policy(cluster, secrets)
