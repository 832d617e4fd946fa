"""The lumen scenario: a fourteenth set of incidents, written blind for a held-out score of the on-call answers.

Selected with `build_cluster(scenario="lumen")` / `kubetrainer samples cluster
--scenario lumen`. Its setting is an ML platform team's GPU cluster: research teams
sharing H100, H200, L4, A10G and MI300X nodes through Kueue, Karpenter-provisioned
cloud capacity, LLM inference servers behind an ingress, dataset pipelines on NFS and
checkpoints in an S3-compatible object store. It was written blind: only the sample
generator's own modules and the scenarios it may read were opened; no diagnosis,
answering, retrieval or evaluation code was opened or run against it, so nothing in it
has been tuned against the tool.

Ten incidents, two questions each. Causes sit in Kubernetes events (Kueue's flavor
assignment, the scheduler's node selector filter, the kubelet's NFS mount output and
its topology manager admission), in the failing pod's own log (Hugging Face's gated
repo refusal, MinIO's bucket quota, rocminfo and torchrun, llama.cpp's model loader,
ingress-nginx's upstream timeout) and, for the follow-ups, often in another object
than the one showing the symptom (the Kueue controller, the Karpenter controller, a
node's labels and addresses, the NVIDIA device plugin's config, an older pod or
yesterday's Job, a neighbour pod, the model server behind the ingress). Messages are
written the way the component that prints them does: the kubelet, scheduler,
ReplicaSet and Job controllers, Kueue and Karpenter's zap JSON, the NVIDIA device
plugin's klog, vLLM's and uvicorn's logging, huggingface_hub and transformers
tracebacks, boto3 and DeepSpeed, rocminfo and torchrun's elastic agent, GNU wget and
llama-server, nginx's error log and ingress-nginx's access log.

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
from kubetrainer.samples.quarry import (
    _batch_event,
    _block,
    _container_id,
    _crash_loop,
    _every,
    _forget,
    _hex,
    _pin,
    _pod_ip,
    _pylog,
    _since,
    _soon,
    _terminated,
    _ts,
    ago,
)
from kubetrainer.samples.secrets import FakeSecrets
from kubetrainer.samples.workloads import ContainerSpec, Workload

_REGISTRY = "registry.lumen-ai.example"
HGX_NODES = ("hgx-h100-r3-01", "hgx-h100-r3-02", "hgx-h100-r3-03")  # the Kueue-managed h100-80gb flavor
L4_NODES = ("gpu-l4-ts-01", "gpu-l4-ts-02")  # moved to time-slicing at 09:31
H200_NODES = ("h200-n01", "h200-n02")  # h200-n02 got the single-numa-node kubelet config
MI300X_NODE = "mi300x-r7-01"
OLD_DATA_NODES = ("cpu-c-01", "cpu-c-02")
NEW_DATA_NODES = ("cpu-c-07", "cpu-c-08")  # joined last night from the new subnet
TRAIN_NODES = ("gpu-h100-0", "gpu-h100-1")  # lumen-13b-pretrain, two ranks of eight GPUs
SERVING_NODE = "gpu-a100-0"
EDGE_NODE = "karpenter-a10g-0"
RESERVED = (*HGX_NODES, *L4_NODES, *H200_NODES, *TRAIN_NODES, SERVING_NODE, EDGE_NODE, MI300X_NODE)
_POOL = "lumen-ai.example/pool"
_JOINED = 860.0  # minutes ago the two new data-curation nodes joined (21:40 yesterday)
_SLICED = 149.0  # minutes ago the L4 nodes' device plugin restarted with the time-slicing config (09:31)
_NFS = "10.40.0.20:/export/datasets"


def _app(namespace: str, name: str, kind: str, image: str, style: str, *, container: str = "app",
         replicas: int = 1, gpu_vendor: str | None = None, gpus: int = 0, port: int | None = None,
         weight: float = 1.0) -> Workload:
    return Workload(namespace, name, kind, (ContainerSpec(container, image, style, weight),), replicas, gpu_vendor,
                    gpus, port)


_VLLM = "docker.io/vllm/vllm-openai:v0.6.6.post1"

# Healthy first (the generator places each of these); the incidents then break or move some.
WORKLOADS: tuple[Workload, ...] = (
    _app("kueue-system", "kueue-controller-manager", "Deployment", "registry.k8s.io/kueue/kueue:v0.9.1",
         "controller", container="manager", weight=0.2),
    _app("vision-research", "vision-eval-dash", "Deployment", f"{_REGISTRY}/vision/eval-dash:0.7.2", "json-api",
         port=8080, weight=1.0),
    _app("karpenter", "karpenter-aws", "Deployment", "public.ecr.aws/karpenter/controller:1.0.6", "controller",
         container="controller", weight=0.2),
    _app("audio-models", "asr-batch-api", "Deployment", f"{_REGISTRY}/audio/asr-batch-api:3.1.0", "json-api",
         replicas=2, port=8080, weight=1.5),
    _app("search-ml", "rag-embedder", "Deployment", "ghcr.io/huggingface/text-embeddings-inference:89-1.5",
         "json-api", replicas=3, gpu_vendor="nvidia", gpus=1, port=8080, weight=2.0),
    _app("search-ml", "query-rewriter-t5", "Deployment", f"{_REGISTRY}/search-ml/query-rewriter:1.9.0", "json-api",
         replicas=2, gpu_vendor="nvidia", gpus=1, port=8080, weight=1.0),
    _app("data-curation", "dataset-tokenizer", "Deployment", f"{_REGISTRY}/data/dataset-tokenizer:4.2.1", "worker",
         replicas=2, weight=0.2),
    _app("data-curation", "crawl-dedup", "Deployment", f"{_REGISTRY}/data/crawl-dedup:2.0.3", "worker",
         weight=1.5),
    _app("genai-serving", "chat-llm-vllm", "Deployment", _VLLM, "json-api", container="vllm", replicas=2,
         gpu_vendor="nvidia", gpus=1, port=8000, weight=0.2),
    _app("genai-serving", "chat-frontend", "Deployment", f"{_REGISTRY}/genai/chat-frontend:5.3.0", "nginx",
         replicas=2, port=8080, weight=3.0),
    _app("foundation-train", "tokenizer-ablation", "Job", f"{_REGISTRY}/foundation/trainer:2026.03.1", "training",
         container="trainer", gpu_vendor="nvidia", gpus=1, weight=1.0),
    _app("edge-llm", "llamacpp-qwen-coder", "Deployment", "ghcr.io/ggml-org/llama.cpp:server-cuda-b4882",
         "json-api", container="llama-server", gpu_vendor="nvidia", gpus=1, port=8080, weight=0.2),
    _app("edge-llm", "llamacpp-llama31-8b", "Deployment", "ghcr.io/ggml-org/llama.cpp:server-cuda-b4882",
         "json-api", container="llama-server", gpu_vendor="nvidia", gpus=1, port=8080, weight=0.2),
    _app("docs-ai", "report-writer-vllm", "Deployment", _VLLM, "json-api", container="vllm", replicas=2,
         gpu_vendor="nvidia", gpus=1, port=8000, weight=0.2),
    _app("docs-ai", "report-ui", "Deployment", f"{_REGISTRY}/docs-ai/report-ui:2.4.0", "json-api", replicas=2,
         port=8080, weight=0.2),
    _app("llm-edge", "llm-edge-ingress-nginx-controller", "Deployment", "registry.k8s.io/ingress-nginx/controller:v1.11.3",
         "nginx", container="controller", replicas=2, port=443, weight=4.0),
    _app("rocm-lab", "rocm-smi-exporter", "DaemonSet", "docker.io/rocm/device-metrics-exporter:v1.1.0", "controller",
         gpu_vendor="amd", weight=0.2),
)

# Placed by their incidents, not by the generator.
_MIXTRAL = _app("nlp-research", "mixtral-sft", "Job", f"{_REGISTRY}/nlp/sft-trainer:2026.03.2", "training",
                container="trainer", gpu_vendor="nvidia", gpus=8)
_CLIP = _app("vision-research", "clip-vitl-eval", "Job", f"{_REGISTRY}/vision/clip-eval:1.4.0", "training",
             container="eval", gpu_vendor="nvidia", gpus=8)
_WHISPER = _app("audio-models", "whisper-distill-v3", "Job", f"{_REGISTRY}/audio/whisper-distill:0.5.0", "training",
                container="trainer", gpu_vendor="nvidia", gpus=8)
_EVAL = _app("eval-harness", "llm-eval-nightly", "Job", f"{_REGISTRY}/eval/lm-eval-harness:0.4.5-cu124", "worker",
             container="harness", gpu_vendor="nvidia", gpus=1)
_PRETRAIN = _app("foundation-train", "lumen-13b-pretrain", "Job", f"{_REGISTRY}/foundation/trainer:2026.03.1",
                 "training", container="trainer", gpu_vendor="nvidia", gpus=8)
_LORA = _app("rocm-lab", "mi300x-llama-lora", "Job", f"{_REGISTRY}/rocm-lab/lora-trainer:2026.03.14", "training",
             container="trainer", gpu_vendor="amd", gpus=8)
_TP4 = _app("translate-serving", "mt-nllb-tp4", "Deployment", _VLLM, "json-api", container="vllm", replicas=2,
            gpu_vendor="nvidia", gpus=4, port=8000)
_TP2 = _app("translate-serving", "mt-small-tp2", "Deployment", _VLLM, "json-api", container="vllm", replicas=2,
            gpu_vendor="nvidia", gpus=2, port=8000)
PLACED: tuple[Workload, ...] = (_MIXTRAL, _CLIP, _WHISPER, _EVAL, _PRETRAIN, _LORA, _TP4, _TP2)


def _data_node(name: str, new: bool) -> dict:
    """A node of the dedicated data-curation pool; the two added last night came up in the new 10.42.8.0/22 subnet."""
    node = gpu_node(name, None, None, 0, cpu="32", memory="131748024Ki", instance_type="bare-metal",
                    taints=[{"key": "dedicated", "value": "data-curation", "effect": "NoSchedule"}])
    index = int(name.rsplit("-", 1)[1])
    address = f"10.42.8.{10 + index}" if new else f"10.40.12.{20 + index}"
    node["metadata"]["labels"] |= {_POOL: "data-curation", "dedicated": "data-curation",
                                   "lumen-ai.example/subnet": "10.42.8.0/22" if new else "10.40.12.0/24"}
    node["status"]["addresses"][0]["address"] = address
    if new:
        node["metadata"]["creationTimestamp"] = _ts(ago(_JOINED))
        for condition in node["status"]["conditions"]:
            condition["lastTransitionTime"] = _ts(ago(_JOINED - 0.4))
    return node


def scenario_nodes() -> list[dict]:
    """The sample nodes plus the research H100 pool Kueue hands out, two time-sliced L4 inference nodes, two H200
    serving nodes, an MI300X box and the data-curation CPU pool (two of its nodes new since last night)."""
    nodes = sample_nodes()
    for name in HGX_NODES:
        node = gpu_node(name, "nvidia", "NVIDIA H100 80GB", 8, cpu="224", memory="2113524768Ki",
                        instance_type="bare-metal")
        node["metadata"]["labels"] |= {_POOL: "research-h100", "kueue.x-k8s.io/flavor": "h100-80gb"}
        nodes.append(node)
    for name in L4_NODES:
        node = gpu_node(name, "nvidia", "NVIDIA L4 24GB", 4, time_slicing_replicas=4, cpu="48",
                        memory="195784732Ki", instance_type="g6.12xlarge")
        node["metadata"]["labels"] |= {_POOL: "inference-l4", "nvidia.com/device-plugin.config": "l4-shared-x4"}
        nodes.append(node)
    for name in H200_NODES:
        node = gpu_node(name, "nvidia", "NVIDIA H200 141GB", 8, cpu="192", memory="2113524768Ki",
                        instance_type="bare-metal")
        policy = "single-numa-node" if name == H200_NODES[1] else "best-effort"
        node["metadata"]["labels"][_POOL] = "serving-h200"
        node["metadata"]["annotations"]["lumen-ai.example/kubelet-config"] = (
            f"cpuManagerPolicy=static,topologyManagerPolicy={policy},topologyManagerScope=pod")
        nodes.append(node)
    nodes.append(gpu_node(MI300X_NODE, "amd", "AMD Instinct MI300X 192GB", 8, labels="amd", cpu="192",
                          memory="2113524768Ki", instance_type="bare-metal"))
    nodes += [_data_node(name, False) for name in OLD_DATA_NODES]
    nodes += [_data_node(name, True) for name in NEW_DATA_NODES]
    return nodes


# ---------------------------------------------------------------- helpers and line formats


def _placement(cluster: SampleCluster) -> None:
    """Keep the incident nodes for their incidents: the generator's other GPU pods there ran on the spare GPU nodes;
    DaemonSet pods on the two new data nodes started when those joined; the search models run on the L4 nodes."""
    for pod in cluster.pods:
        if pod.workload.kind == "DaemonSet":
            if pod.node in NEW_DATA_NODES:
                _pin(cluster, pod, pod.node, _JOINED - 0.5)
        elif pod.node in RESERVED:
            _pin(cluster, pod, "amd-mi300x-0" if pod.workload.gpu_vendor == "amd" else "gpu-unlabelled-0")
    searchers = cluster.pods_of("search-ml", "rag-embedder") + cluster.pods_of("search-ml", "query-rewriter-t5")
    for index, pod in enumerate(searchers):
        _pin(cluster, pod, L4_NODES[index % 2])


def _vllm(moment: datetime, level: str, source: str, message: str) -> tuple[datetime, str]:
    """vLLM's logger: `%(levelname)s %(asctime)s %(filename)s:%(lineno)d] %(message)s`, date `%m-%d %H:%M:%S`."""
    return moment, f"{level} {moment:%m-%d %H:%M:%S} {source}] {message}"


def _uvicorn(moment: datetime, client: str, request: str, status: str) -> tuple[datetime, str]:
    return moment, f'INFO:     {client} - "{request} HTTP/1.1" {status}'


def _kueue(moment: datetime, level: str, caller: str, message: str, **fields) -> tuple[datetime, str]:
    """Kueue's zap JSON (V(2) shows as Level(-2))."""
    entry = {"level": level, "ts": f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond:06d}Z", "caller": caller,
             "msg": message, **fields}
    return moment, json.dumps(entry, separators=(",", ":"))


def _karpenter(moment: datetime, level: str, caller: str, message: str, **fields) -> tuple[datetime, str]:
    """Karpenter 1.0's JSON log."""
    entry = {"level": level, "time": iso(moment), "logger": "controller", "caller": caller, "message": message,
             "commit": "6174c75", **fields}
    return moment, json.dumps(entry, separators=(",", ":"))


def _klog(moment: datetime, level: str, source: str, message: str) -> tuple[datetime, str]:
    return moment, f"{level}{moment:%m%d %H:%M:%S}.{moment.microsecond:06d}       1 {source}] {message}"


def _json(moment: datetime, level: str, message: str, **fields) -> tuple[datetime, str]:
    return moment, json.dumps({"ts": iso(moment), "level": level, "msg": message, **fields})


def _scheduler_message(cluster: SampleCluster, fails: dict[str, str]) -> str:
    """The scheduler's FailedScheduling message for a pod that tolerates the NVIDIA GPU taint: each node is reported
    by the first filter it fails (unschedulable, an untolerated taint, then `fails[node]`, the pod's own filter)."""
    reasons = Counter()
    for node in cluster.nodes:
        name = node["metadata"]["name"]
        taints = [t for t in node["spec"].get("taints", []) if t["key"] != "nvidia.com/gpu"]
        if node["spec"].get("unschedulable"):
            reasons["node(s) were unschedulable"] += 1
        elif taints:
            reasons[f"node(s) had untolerated taint {{{taints[0]['key']}: {taints[0].get('value', '')}}}"] += 1
        else:
            reasons[fails[name]] += 1
    total = len(cluster.nodes)
    found = ", ".join(sorted(f"{count} {reason}" for reason, count in reasons.items()))
    return (f"0/{total} nodes are available: {found}. preemption: 0/{total} nodes are available: {total} Preemption "
            "is not helpful for scheduling.")


def _job_pods(cluster: SampleCluster, workload: Workload, job: str, node: str, indexes: range,
              minutes: float) -> list[SamplePod]:
    """Pods of an indexed Job `job` (named job-<index>-<suffix>) running on `node` since `minutes` ago."""
    pods = add_pods(cluster, workload, len(indexes), node=node)
    for index, pod in zip(indexes, pods):
        _forget(cluster, pod)
        pod.owner, pod.name = ("Job", job), f"{job}-{index}-{cluster.suffix()}"
        _pin(cluster, pod, node, minutes)
        pod.containers[0].noise = False
    return pods


def _gpu_resources(resource: str, count: int, cpu: str, memory: str) -> dict:
    return {"requests": {"cpu": cpu, "memory": memory, resource: str(count)},
            "limits": {"memory": memory, resource: str(count)}}


# ---------------------------------------------------------------- 1. Kueue: the cohort's quota is borrowed


_FLAVOR = "h100-80gb"


def kueue_borrowed(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """vision-cq and nlp-cq share the research-gpu cohort (24 H100s on three HGX nodes; nominal 16 and 8). At 07:52,
    with vision idle, nlp's 16-GPU mixtral-sft was admitted by borrowing 8 of vision's GPUs. Vision's 16-GPU
    vit-h14-pretrain, queued at 10:40, needs 8 more than are unused, and vision-cq never reclaims within the cohort."""
    queued, admitted, clip_start = 80.0, 248.0, 300.0
    mixtral_job, clip_job = "mixtral-sft-0314", "clip-vitl-eval-0314"
    mixtral = _job_pods(cluster, _MIXTRAL, mixtral_job, HGX_NODES[0], range(1), admitted - 0.3)
    mixtral += _job_pods(cluster, _MIXTRAL, mixtral_job, HGX_NODES[1], range(1, 2), admitted - 0.3)
    clip = _job_pods(cluster, _CLIP, clip_job, HGX_NODES[2], range(1), clip_start)
    for pod in mixtral + clip:
        pod.resources = _gpu_resources("nvidia.com/gpu", 8, "96", "1200Gi")
    for rank, pod in enumerate(mixtral):
        trainer = pod.containers[0]
        trainer.env = [{"name": "WORLD_SIZE", "value": "16"}, {"name": "NODE_RANK", "value": str(rank)},
                       {"name": "MASTER_ADDR", "value": f"{mixtral[0].name}.{mixtral_job}"}]
        start = _soon(cluster, pod.start, 20)
        trainer.lines.append(_pylog(start, "INFO", "sft", f"node_rank={rank} world_size=16 on {pod.node} "
                                                          "(8 x H100 80GB), model mistralai/Mixtral-8x7B-v0.1"))
        step = 0
        for moment in _every(cluster, start + timedelta(seconds=90), NOW, 170, 190):
            step += 50
            trainer.lines.append(_pylog(moment, "INFO", "sft", (
                f"step {step}/12000 loss={1.9 * 0.9998 ** step + cluster.rng.uniform(-0.02, 0.02):.4f} "
                f"lr={2e-5:.2e} tokens/s={cluster.rng.randint(41000, 44500)}")))
    for pod in clip:
        for moment in _every(cluster, _since(pod) + timedelta(seconds=30), NOW, 240, 420):
            pod.containers[0].lines.append(_pylog(moment, "INFO", "clip_eval", (
                f"shard {cluster.rng.randint(1, 900)}/900 zero-shot top1={cluster.rng.uniform(0.74, 0.77):.4f}")))

    workload = f"job-vit-h14-pretrain-{_hex(cluster, 5)}"
    job = ("Job", "vision-research", "vit-h14-pretrain")
    event = cluster.event(job, "CreatedWorkload", f"Created Workload: vision-research/{workload}", ago(queued),
                          component="kueue-job-controller")
    event["involvedObject"]["apiVersion"] = "batch/v1"
    pending = (f"couldn't assign flavors to pod set main: insufficient unused quota for nvidia.com/gpu in flavor "
               f"{_FLAVOR}, 8 more needed")
    event = cluster.event(("Workload", "vision-research", workload), "Pending", pending, ago(cluster.rng.uniform(0.2, 2)),
                          count=cluster.rng.randint(60, 90), component="kueue-admission", first=ago(queued - 0.01))
    event["involvedObject"]["apiVersion"] = "kueue.x-k8s.io/v1beta1"

    manager = cluster.pods_of("kueue-system", "kueue-controller-manager")[0].containers[0]
    manager.noise = False
    mixtral_workload = f"job-{mixtral_job}-{_hex(cluster, 5)}"
    moment = _soon(cluster, ago(admitted), 0)
    manager.lines += [
        _kueue(moment, "Level(-2)", "scheduler/scheduler.go:562", "Workload successfully admitted and assigned flavors",
               schedulingCycle=18211, workload={"name": mixtral_workload, "namespace": "nlp-research"},
               clusterQueue={"name": "nlp-cq"}, assignments=[{"name": "main", "flavors": {"nvidia.com/gpu": _FLAVOR},
                                                             "resourceUsage": {"nvidia.com/gpu": "16"}, "count": 2}],
               borrowing={"nvidia.com/gpu": "8"}),
    ]
    for moment in _every(cluster, _since(cluster.pods_of("kueue-system", "kueue-controller-manager")[0]), NOW, 60, 400):
        queue = cluster.rng.choice(("vision-cq", "nlp-cq", "ci-cq"))
        manager.lines.append(_kueue(moment, "Level(-2)", "core/clusterqueue_controller.go:353",
                                    "ClusterQueue update event", clusterQueue={"name": queue}))
    cycle = 21_400
    for moment in _every(cluster, ago(queued - 0.02), NOW, 45, 140):
        cycle += cluster.rng.randint(40, 90)
        manager.lines.append(_kueue(
            moment, "Level(-2)", "scheduler/scheduler.go:301", "Workload requires preemption, but there are no "
            "candidate workloads allowed for preemption", schedulingCycle=cycle,
            workload={"name": workload, "namespace": "vision-research"}, clusterQueue={"name": "vision-cq"},
            preemption={"reclaimWithinCohort": "Never", "borrowWithinCohort": {"policy": "Never"},
                        "withinClusterQueue": "LowerPriority"}))
    kueue = cluster.pods_of("kueue-system", "kueue-controller-manager")[0]
    cluster.ask(
        "kueuecohort-1", "Vision submitted vit-h14-pretrain at 10:40 and there are still no pods for it at all. Why "
                         "isn't it running?",
        "Kueue has not admitted it, so the Job stays suspended and creates no pods. Its Workload "
        f"({workload}) reports 'couldn't assign flavors to pod set main: insufficient unused quota for nvidia.com/gpu "
        f"in flavor {_FLAVOR}, 8 more needed': the job asks for 16 H100s and the cohort's {_FLAVOR} flavor has only "
        "8 unused.",
        "kueue-cohort-borrowed-quota",
        Evidence("vision-research", workload, "insufficient unused quota for nvidia.com/gpu in flavor"),
        facts=("insufficient unused quota", "8 more needed"),
    )
    cluster.ask(
        "kueuecohort-2", "vision-cq is supposed to have 16 H100s of its own. Who is holding them, and why doesn't "
                         "Kueue give them back?",
        f"nlp-research's mixtral-sft ({mixtral_workload}) was admitted by nlp-cq at 07:52 with 16 GPUs of flavor "
        f"{_FLAVOR}, borrowing 8 from the research-gpu cohort while vision was idle, and it still runs on "
        f"{HGX_NODES[0]} and {HGX_NODES[1]}; vision's own clip-vitl-eval holds the other 8. Kueue logs that "
        f"vit-h14-pretrain 'requires preemption, but there are no candidate workloads allowed for preemption' "
        "because vision-cq's preemption policy is reclaimWithinCohort: Never. Set reclaimWithinCohort to Any (or "
        "LowerPriority), or give nlp-cq a borrowingLimit.",
        "kueue-cohort-borrowed-quota",
        Evidence(kueue.namespace, kueue.name, '"preemption":{"reclaimWithinCohort":"Never"'),
        Evidence(mixtral[0].namespace, mixtral[0].name, "world_size=16"),
        facts=("mixtral-sft", "reclaimWithinCohort"),
    )


# ---------------------------------------------------------------- 2. Karpenter: no p5 capacity in the one zone


def _ice(zone: str) -> str:
    return ("creating instance, insufficient capacity, with fleet error(s), InsufficientInstanceCapacity: We currently "
            f"do not have sufficient p5.48xlarge capacity in the Availability Zone you requested ({zone}). Our system "
            "will be working on provisioning additional capacity. You can currently get p5.48xlarge capacity by not "
            "specifying an Availability Zone in your request or choosing us-east-1b, us-east-1c.")


def karpenter_ice(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """whisper-distill-v3 needs a whole p5.48xlarge from the gpu-p5 NodePool, which only allows us-east-1a (next to
    the team's FSx volume). Since 10:55 every NodeClaim Karpenter creates fails with InsufficientInstanceCapacity."""
    created = 65.0
    job = "whisper-distill-v3"
    (pod,) = add_pods(cluster, _WHISPER, 1)
    _forget(cluster, pod)
    pod.name, pod.owner, pod.start = f"{job}-{cluster.suffix()}", ("Job", job), ago(created)
    cluster.unschedule(pod)
    pod.resources = _gpu_resources("nvidia.com/gpu", 8, "180", "1800Gi")
    fails = {}
    for node in cluster.nodes:
        fails[node["metadata"]["name"]] = "node(s) didn't match Pod's node affinity/selector"
    message = _scheduler_message(cluster, fails)
    ref = ("Pod", pod.namespace, pod.name)
    _batch_event(cluster, "Job", pod.namespace, job, "SuccessfulCreate", f"Created pod: {pod.name}", ago(created))
    cluster.event(ref, "FailedScheduling", message, ago(cluster.rng.uniform(0.3, 3)), warning=True,
                  count=cluster.rng.randint(14, 19), component="default-scheduler", first=ago(created - 0.01))
    controller_pod = cluster.pods_of("karpenter", "karpenter-aws")[0]
    karpenter = controller_pod.containers[0]
    karpenter.noise = False
    karpenter.env = [{"name": "CLUSTER_NAME", "value": "lumen-hybrid"},
                     {"name": "INTERRUPTION_QUEUE", "value": "lumen-hybrid-karpenter"}]
    for moment in _every(cluster, _since(controller_pod), ago(created), 600, 1500):
        node = f"ip-10-60-21-{cluster.rng.randint(2, 250)}.ec2.internal"
        karpenter.lines.append(_karpenter(moment, "INFO", "disruption/controller.go:175", (
            f"disrupting nodeclaim(s) via delete, terminating 1 nodes (0 pods) {node}/m6i.2xlarge/spot"),
            controller="disruption", reason="empty"))
    claims = []
    for moment in _every(cluster, ago(created - 0.05), NOW, 170, 260):
        claim = f"gpu-p5-{cluster.suffix()}"
        claims.append((moment, claim))
        karpenter.lines += [
            _karpenter(moment, "INFO", "provisioning/provisioner.go:131", "found provisionable pod(s)",
                       controller="provisioner", Pods=f"audio-models/{pod.name}",
                       duration=f"{cluster.rng.uniform(20, 60):.6f}ms"),
            _karpenter(moment + timedelta(milliseconds=2), "INFO", "scheduling/scheduler.go:272",
                       "computed new nodeclaim(s) to fit pod(s)", controller="provisioner", nodeclaims=1, pods=1),
            _karpenter(moment + timedelta(milliseconds=21), "INFO", "provisioning/provisioner.go:355",
                       "created nodeclaim", controller="provisioner", NodePool={"name": "gpu-p5"},
                       NodeClaim={"name": claim}, requests={"cpu": "180510m", "memory": "1843Gi", "nvidia.com/gpu": "8",
                                                            "pods": "6"}, **{"instance-types": "p5.48xlarge"}),
            _karpenter(moment + timedelta(milliseconds=1870), "ERROR", "lifecycle/controller.go:209",
                       "failed launching nodeclaim", controller="nodeclaim.lifecycle", controllerGroup="karpenter.sh",
                       controllerKind="NodeClaim", NodeClaim={"name": claim}, namespace="", name=claim,
                       reconcileID=cluster.uid(), error=_ice("us-east-1a")),
            _karpenter(moment + timedelta(milliseconds=1950), "INFO", "termination/controller.go:79",
                       "deleted nodeclaim", controller="nodeclaim.termination", NodeClaim={"name": claim}),
        ]
    last_moment, last_claim = claims[-1]
    cluster.event(ref, "Nominated", f"Pod should schedule on: nodeclaim/{last_claim}", last_moment,
                  component="karpenter", count=len(claims), first=claims[0][0])
    cluster.ask(
        "p5capacity-1", "whisper-distill-v3 has been Pending for an hour. Karpenter normally brings up a p5 for it in a "
                        "few minutes; what's going wrong?",
        "Karpenter is trying: it keeps nominating the pod to a new NodeClaim in the gpu-p5 NodePool, but every launch "
        "fails with 'insufficient capacity, with fleet error(s), InsufficientInstanceCapacity': EC2 has no "
        "p5.48xlarge capacity to give, so the NodeClaim is deleted and retried and the pod stays Pending.",
        "karpenter-p5-insufficient-capacity",
        Evidence(pod.namespace, pod.name, "Pod should schedule on: nodeclaim/gpu-p5-"),
        Evidence("karpenter", controller_pod.name, '"message":"failed launching nodeclaim"'),
        facts=("InsufficientInstanceCapacity|insufficient capacity", "p5.48xlarge"),
    )
    cluster.ask(
        "p5capacity-2", "Where exactly is Karpenter trying to launch the p5 for the audio team's distillation job, and "
                        "is there capacity anywhere else?",
        "Only in us-east-1a: each NodeClaim asks for p5.48xlarge there (the gpu-p5 NodePool allows just that zone), and "
        "AWS answers that it does not have sufficient p5.48xlarge capacity in us-east-1a but that capacity is "
        "currently available in us-east-1b and us-east-1c. Allow those zones in the NodePool (if the job's data "
        "can be reached from there), use a capacity reservation, or wait and retry.",
        "karpenter-p5-insufficient-capacity",
        Evidence("karpenter", controller_pod.name, "in the Availability Zone you requested (us-east-1a)"),
        facts=("us-east-1a", "us-east-1b|us-east-1c"),
    )


# ---------------------------------------------------------------- 3. time-slicing renames the L4 product label


def _plugin_config(replicas: int) -> list[str]:
    """The device plugin's `Running with config:` dump (indented JSON, as v0.15 prints it)."""
    config = {
        "version": "v1",
        "flags": {"migStrategy": "none", "failOnInitError": True, "mpsRoot": "/run/nvidia/mps", "nvidiaDriverRoot": "/",
                  "gdsEnabled": False, "mofedEnabled": False, "useNodeFeatureAPI": None,
                  "plugin": {"passDeviceSpecs": True, "deviceListStrategy": ["volume-mounts"],
                             "deviceIDStrategy": "uuid", "cdiAnnotationPrefix": "cdi.k8s.io/",
                             "nvidiaCTKPath": "/usr/bin/nvidia-ctk", "containerDriverRoot": "/driver-root"}},
        "resources": {"gpus": [{"pattern": "*", "name": "nvidia.com/gpu"}]},
        "sharing": {"timeSlicing": {"renameByDefault": False, "failRequestsGreaterThanOne": False,
                                    "resources": [{"name": "nvidia.com/gpu", "devices": "all",
                                                   "replicas": replicas}]}},
    }
    return ["Running with config:", *json.dumps(config, indent=2).splitlines()]


def _plugin_restart(cluster: SampleCluster, pod: SamplePod, at: datetime) -> None:
    plugin = pod.containers[0]
    plugin.noise = False
    lines = [
        (0.000, "main.go:199", "Starting FS watcher."), (0.001, "main.go:206", "Starting OS watcher."),
        (0.004, "main.go:221", "Starting Plugins."), (0.004, "main.go:278", "Loading configuration."),
        (0.011, "main.go:303", "Updating config with default resource matching patterns."),
    ]
    plugin.lines += [_klog(at + timedelta(seconds=offset), "I", source, text) for offset, source, text in lines]
    config_at = at + timedelta(milliseconds=12)
    plugin.lines.append(_klog(config_at, "I", "main.go:314", ""))
    plugin.lines += _block(config_at, _plugin_config(4))
    plugin.lines += [
        _klog(at + timedelta(milliseconds=13), "I", "main.go:317", "Retrieving plugins."),
        _klog(at + timedelta(milliseconds=230), "I", "server.go:216", "Starting GRPC server for 'nvidia.com/gpu'"),
        _klog(at + timedelta(milliseconds=232), "I", "server.go:147",
              "Starting to serve 'nvidia.com/gpu' on /var/lib/kubelet/device-plugins/nvidia-gpu.sock"),
        _klog(at + timedelta(milliseconds=236), "I", "server.go:154",
              "Registered device plugin for 'nvidia.com/gpu' with Kubelet"),
    ]


def timeslice_label(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """At 09:31 the platform team labelled the L4 nodes with the device plugin config l4-shared-x4 (time-slicing, four
    replicas per GPU). GPU Feature Discovery now reports the product as NVIDIA-L4-SHARED, so the nightly eval Job,
    which selects nvidia.com/gpu.product=NVIDIA-L4, matches no node since 11:00."""
    plugins = [p for p in cluster.pods_of("kube-system", "nvidia-device-plugin-daemonset") if p.node in L4_NODES]
    for pod in plugins:
        _pin(cluster, pod, pod.node, _SLICED)
        _plugin_restart(cluster, pod, _soon(cluster, pod.start, 1))
    scheduled = 60.0
    job = f"llm-eval-nightly-{int(ago(scheduled).timestamp() // 60)}"
    (pod,) = add_pods(cluster, _EVAL, 1, node=L4_NODES[0])
    _forget(cluster, pod)
    pod.name, pod.owner, pod.start = f"{job}-{cluster.suffix()}", ("Job", job), ago(scheduled)
    cluster.unschedule(pod)
    pod.resources = _gpu_resources("nvidia.com/gpu", 1, "8", "48Gi")
    message = _scheduler_message(cluster, {node["metadata"]["name"]: "node(s) didn't match Pod's node "
                                           "affinity/selector" for node in cluster.nodes})
    ref = ("Pod", pod.namespace, pod.name)
    _batch_event(cluster, "CronJob", pod.namespace, "llm-eval-nightly", "SuccessfulCreate", f"Created job {job}",
                 ago(scheduled))
    _batch_event(cluster, "Job", pod.namespace, job, "SuccessfulCreate", f"Created pod: {pod.name}", ago(scheduled))
    cluster.event(ref, "FailedScheduling", message, ago(cluster.rng.uniform(0.5, 4)), warning=True,
                  count=cluster.rng.randint(12, 16), component="default-scheduler", first=ago(scheduled - 0.01))
    # Yesterday's run, on the same nodes before the change, finished and is kept by the CronJob's history.
    yesterday = f"llm-eval-nightly-{int(ago(scheduled + 1440).timestamp() // 60)}"
    (done,) = add_pods(cluster, _EVAL, 1, node=L4_NODES[1])
    _forget(cluster, done)
    done.name, done.owner, done.start = f"{yesterday}-{cluster.suffix()}", ("Job", yesterday), ago(scheduled + 1440)
    done.resources = pod.resources
    began = _soon(cluster, done.start, 6)
    harness = done.containers[0]
    harness.lines += [
        _pylog(began, "INFO", "lm_eval.run", "node selector nvidia.com/gpu.product=NVIDIA-L4; running on "
                                            f"{L4_NODES[1]} (NVIDIA L4, 23034 MiB)"),
        _pylog(began + timedelta(seconds=31), "INFO", "lm_eval.evaluator", "Building contexts for mmlu on rank 0..."),
        _pylog(began + timedelta(minutes=71), "INFO", "lm_eval.run", "results: mmlu acc=0.6812 gsm8k "
                                                                    "exact_match=0.7415 hellaswag acc_norm=0.8133"),
    ]
    _terminated(cluster, done, 0, "Completed", began, began + timedelta(minutes=72))
    node = L4_NODES[0]
    cluster.ask(
        "l4slice-1", "The nightly LLM eval that kicked off at 11:00 is still Pending. It normally starts straight away "
                     "on the L4 nodes. What's blocking it?",
        "The scheduler finds no node for it: apart from nodes with taints it does not tolerate, every node fails the "
        "pod's node selector ('didn't match Pod's node affinity/selector'). The job selects "
        "nvidia.com/gpu.product=NVIDIA-L4, but the L4 nodes are now labelled nvidia.com/gpu.product=NVIDIA-L4-SHARED, "
        "so they no longer match.",
        "l4-timeslicing-product-label",
        Evidence(pod.namespace, pod.name, "node(s) didn't match Pod's node affinity/selector"),
        Evidence(None, node, "NVIDIA-L4-SHARED"),
        facts=("node affinity/selector", "NVIDIA-L4-SHARED"),
    )
    cluster.ask(
        "l4slice-2", "What changed on the L4 inference nodes this morning?",
        "They were switched to GPU time-slicing: at 09:31 the NVIDIA device plugin restarted with the l4-shared-x4 "
        "config (sharing.timeSlicing with replicas: 4), so each L4 is advertised as 4 nvidia.com/gpu (16 per node) "
        "and GPU Feature Discovery appends -SHARED to the product label (nvidia.com/gpu.sharing-strategy="
        "time-slicing, nvidia.com/gpu.replicas=4). Select on nvidia.com/gpu.family or a pool label instead, or move "
        "the eval job to unshared GPUs.",
        "l4-timeslicing-product-label",
        Evidence("kube-system", plugins[0].name, '"replicas": 4'),
        Evidence(None, node, "l4-shared-x4"),
        facts=("time-slicing|timeSlicing", "replicas: 4|\"replicas\": 4|4 replicas|replicas=4"),
    )


# ---------------------------------------------------------------- 4. NFS export does not include the new subnet


def nfs_new_subnet(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """dataset-tokenizer mounts the datasets NFS share read-only. At 11:20 it was scaled from 2 to 4; the two new pods
    went to the data-curation nodes added last night in 10.42.8.0/22, which the NFS server's export does not list,
    so every mount is refused ('access denied by server')."""
    scaled = 40.0
    old = cluster.pods_of("data-curation", "dataset-tokenizer")
    for pod, node in zip(old, OLD_DATA_NODES):
        _pin(cluster, pod, node)
    for pod in cluster.pods_of("data-curation", "crawl-dedup"):
        _pin(cluster, pod, OLD_DATA_NODES[0])
    for pod in old:
        pod.claims = ["datasets-nfs-ro"]
        pod.containers[0].lines.append(_pylog(_since(pod) + timedelta(seconds=2), "INFO", "tokenizer", (
            f"dataset root /datasets (nfs {_NFS}) ok: 18422 shards listed")))
        for moment in _every(cluster, _since(pod) + timedelta(seconds=30), NOW, 120, 300):
            pod.containers[0].lines.append(_pylog(moment, "INFO", "tokenizer", (
                f"shard {cluster.rng.randint(1, 18422)}/18422 -> {cluster.rng.randint(180, 260)}M tokens "
                "(tiktoken o200k_base)")))
    replica_set = old[0].owner[1]
    cluster.event(("Deployment", "data-curation", "dataset-tokenizer"), "ScalingReplicaSet",
                  f"Scaled up replica set {replica_set} to 4 from 2", ago(scaled), component="deployment-controller")
    stuck = []
    for node in NEW_DATA_NODES:
        (pod,) = add_pods(cluster, old[0].workload, 1, node=node)
        _forget(cluster, pod)
        pod.owner, pod.name, pod.start = old[0].owner, f"{replica_set}-{cluster.suffix()}", ago(scaled)
        pod.claims, pod.phase = ["datasets-nfs-ro"], "Pending"
        for container in pod.containers:
            container.state = {"waiting": {"reason": "ContainerCreating"}}
            container.ready, container.noise = False, False
        ref = ("Pod", pod.namespace, pod.name)
        cluster.event(("ReplicaSet", pod.namespace, replica_set), "SuccessfulCreate", f"Created pod: {pod.name}",
                      ago(scaled), component="replicaset-controller")
        cluster.event(ref, "Scheduled", f"Successfully assigned {pod.namespace}/{pod.name} to {node}", ago(scaled),
                      component="default-scheduler")
        mount = (f'MountVolume.SetUp failed for volume "datasets-nfs" : mount failed: exit status 32\n'
                 "Mounting command: mount\n"
                 f"Mounting arguments: -t nfs -o nfsvers=4.1,ro,hard {_NFS} /var/lib/kubelet/pods/{pod.uid}/volumes/"
                 "kubernetes.io~nfs/datasets-nfs\n"
                 f"Output: mount.nfs: access denied by server while mounting {_NFS}\n")
        cluster.event(ref, "FailedMount", mount, ago(cluster.rng.uniform(0.5, 2)), warning=True,
                      count=cluster.rng.randint(22, 26), host=node, first=ago(scaled - 0.02))
        cluster.event(ref, "FailedMount", "Unable to attach or mount volumes: unmounted volumes=[data], unattached "
                                          f"volumes=[data kube-api-access-{cluster.suffix()}]: timed out waiting for "
                                          "the condition", ago(cluster.rng.uniform(1, 3)), warning=True,
                      count=cluster.rng.randint(16, 18), host=node, first=ago(scaled - 2.05))
        stuck.append(pod)
    pod = stuck[0]
    cluster.ask(
        "nfsexport-1", "We scaled dataset-tokenizer to 4 at 11:20 and the two new replicas are still "
                       "ContainerCreating. What's holding them?",
        f"Their NFS volume never mounts. The kubelet's mount of {_NFS} fails with exit status 32, 'mount.nfs: access "
        "denied by server while mounting', so the pods wait for their volumes forever. The NFS server refuses "
        "these clients.",
        "nfs-export-new-subnet",
        Evidence(pod.namespace, pod.name, "mount.nfs: access denied by server while mounting"),
        facts=("access denied by server", "/export/datasets"),
    )
    cluster.ask(
        "nfsexport-2", "The two original tokenizer pods read the same dataset share without trouble. Why are only the "
                       "new ones refused?",
        f"Where they run. The new pods were scheduled to {NEW_DATA_NODES[0]} and {NEW_DATA_NODES[1]}, the "
        "data-curation nodes that joined last night in the new 10.42.8.0/22 subnet (e.g. "
        f"{NEW_DATA_NODES[0]} is 10.42.8.17); the original pods run on {OLD_DATA_NODES[0]} and {OLD_DATA_NODES[1]} in "
        "10.40.12.0/24. The NFS export allows only the old client range, so add 10.42.8.0/22 to /etc/exports on the "
        "server (exportfs -ra).",
        "nfs-export-new-subnet",
        Evidence(pod.namespace, pod.name, f"Successfully assigned data-curation/{pod.name} to {NEW_DATA_NODES[0]}"),
        Evidence(None, NEW_DATA_NODES[0], "10.42.8.0/22"),
        facts=(f"{NEW_DATA_NODES[0]}|{NEW_DATA_NODES[1]}", "10.42.8"),
    )


# ---------------------------------------------------------------- 5. vLLM: the new model is gated, and no token


_LLAMA = "meta-llama/Llama-3.1-8B-Instruct"
_QWEN = "Qwen/Qwen2.5-7B-Instruct"
_SITE = "/usr/local/lib/python3.12/dist-packages"


def _vllm_start(start: datetime, model: str, args: str, engine: bool = True) -> list[tuple[datetime, str]]:
    """vLLM's first lines; the engine process starts only once the model's config has been read."""
    lines = [
        _vllm(start, "INFO", "api_server.py:712", "vLLM API server version 0.6.6.post1"),
        _vllm(start, "INFO", "api_server.py:713", f"args: Namespace(host=None, port=8000, uvicorn_log_level='info', "
                                                  f"model='{model}', {args}, disable_log_requests=False)"),
    ]
    if engine:
        lines.append(_vllm(start + timedelta(seconds=3), "INFO", "api_server.py:199",
                           "Started engine process with PID 77"))
    return lines


def _gated_traceback(request_id: str) -> list[str]:
    url = f"https://huggingface.co/{_LLAMA}/resolve/main/config.json"
    refusal = [f"401 Client Error. (Request ID: {request_id})", "",
               f"Cannot access gated repo for url {url}.",
               f"Access to model {_LLAMA} is restricted. You must have access to it and be authenticated to access it. "
               "Please log in."]
    return [
        "Traceback (most recent call last):",
        f'  File "{_SITE}/huggingface_hub/utils/_http.py", line 406, in hf_raise_for_status',
        "    response.raise_for_status()",
        f'  File "{_SITE}/requests/models.py", line 1024, in raise_for_status',
        "    raise HTTPError(http_error_msg, response=self)",
        f"requests.exceptions.HTTPError: 401 Client Error: Unauthorized for url: {url}",
        "", "The above exception was the direct cause of the following exception:", "",
        "Traceback (most recent call last):",
        f'  File "{_SITE}/transformers/utils/hub.py", line 403, in cached_file',
        "    resolved_file = hf_hub_download(",
        "                    ^^^^^^^^^^^^^^^^",
        f'  File "{_SITE}/huggingface_hub/file_download.py", line 1497, in _raise_on_head_call_error',
        "    raise head_call_error",
        f'  File "{_SITE}/huggingface_hub/utils/_http.py", line 423, in hf_raise_for_status',
        "    raise _format(GatedRepoError, message, response) from e",
        f"huggingface_hub.errors.GatedRepoError: {refusal[0]}", *refusal[1:],
        "", "The above exception was the direct cause of the following exception:", "",
        "Traceback (most recent call last):",
        '  File "/usr/local/bin/vllm", line 8, in <module>',
        "    sys.exit(main())",
        f'  File "{_SITE}/vllm/engine/arg_utils.py", line 983, in create_model_config',
        "    return ModelConfig(",
        f'  File "{_SITE}/vllm/transformers_utils/config.py", line 194, in get_config',
        "    config_dict, _ = PretrainedConfig.get_config_dict(",
        f'  File "{_SITE}/transformers/utils/hub.py", line 421, in cached_file',
        "    raise EnvironmentError(",
        "OSError: You are trying to access a gated repo.",
        f"Make sure to have access to it at https://huggingface.co/{_LLAMA}.",
        *refusal,
    ]


def vllm_gated(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """The chat assistant's vLLM was switched from Qwen2.5-7B-Instruct to the gated Llama-3.1-8B-Instruct at 10:32.
    The new revision's manifest was rewritten and lost the HF_TOKEN env var, so Hugging Face answers 401 and vLLM
    exits; the rollout is stuck with the two old Qwen pods serving."""
    rolled = 88.0
    old = cluster.pods_of("genai-serving", "chat-llm-vllm")
    for index, pod in enumerate(old):
        _pin(cluster, pod, SERVING_NODE)
        vllm = pod.containers[0]
        vllm.noise = False
        vllm.env = [{"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf-token", "key": "token"}}},
                    {"name": "HF_HOME", "value": "/models/hf"}, {"name": "VLLM_MODEL", "value": _QWEN}]
        start = _soon(cluster, _since(pod), 0) if pod.start > ago(360) else None
        if start:
            vllm.lines += _vllm_start(start, _QWEN, "max_model_len=32768, gpu_memory_utilization=0.9")
        for moment in _every(cluster, _since(pod) + timedelta(seconds=120), NOW, 8, 25):
            client = f"10.244.{cluster.rng.randint(0, 7)}.{cluster.rng.randint(2, 250)}:{cluster.rng.randint(30000, 60999)}"
            vllm.lines.append(_uvicorn(moment, client, "POST /v1/chat/completions", "200 OK"))
        for moment in _every(cluster, _since(pod) + timedelta(seconds=60), NOW, 10, 10.2):
            if cluster.rng.random() < 0.15:
                vllm.lines.append(_vllm(moment, "INFO", "metrics.py:467", (
                    f"Avg prompt throughput: {cluster.rng.uniform(200, 900):.1f} tokens/s, Avg generation throughput: "
                    f"{cluster.rng.uniform(120, 400):.1f} tokens/s, Running: {cluster.rng.randint(1, 9)} reqs, "
                    f"Swapped: 0 reqs, Pending: 0 reqs, GPU KV cache usage: {cluster.rng.uniform(2, 19):.1f}%, CPU KV "
                    "cache usage: 0.0%.")))
    new_rs = f"chat-llm-vllm-{cluster.suffix(10)}"
    cluster.event(("Deployment", "genai-serving", "chat-llm-vllm"), "ScalingReplicaSet",
                  f"Scaled up replica set {new_rs} to 1", ago(rolled), component="deployment-controller")
    (new,) = add_pods(cluster, old[0].workload, 1, node=SERVING_NODE)
    _forget(cluster, new)
    new.owner, new.name = ("ReplicaSet", new_rs), f"{new_rs}-{cluster.suffix()}"
    _pin(cluster, new, SERVING_NODE, rolled)
    vllm = new.containers[0]
    vllm.env = [{"name": "HF_HOME", "value": "/models/hf"}, {"name": "VLLM_MODEL", "value": _LLAMA}]
    died = _soon(cluster, ago(2.6), 0)
    _crash_loop(cluster, new, vllm, restarts=18, code=1, reason="Error", died=died, ran=9, since=ago(rolled - 0.2))
    start = died - timedelta(seconds=9)
    vllm.lines += _vllm_start(start, _LLAMA, "max_model_len=32768, gpu_memory_utilization=0.9", engine=False)
    vllm.lines += _block(start + timedelta(seconds=2), _gated_traceback(f"Root=1-67d40b{_hex(cluster, 2)}-"
                                                                        f"{_hex(cluster, 24)}"))
    cluster.ask(
        "gatedllm-1", "We switched the chat assistant to Llama 3.1 at 10:30, but users still get the old model and the "
                      "new vLLM pod in genai-serving restarts every few minutes. What is it failing on?",
        f"vLLM exits at start-up because it cannot download {_LLAMA} from Hugging Face: "
        "'huggingface_hub.errors.GatedRepoError: 401 Client Error ... Cannot access gated repo ... You must have "
        "access to it and be authenticated to access it'. The model is gated and the request is not authenticated, "
        "so the pod crash-loops (exit code 1) and the rollout never replaces the two old pods.",
        "vllm-gated-repo-no-token",
        Evidence(new.namespace, new.name, "huggingface_hub.errors.GatedRepoError: 401 Client Error."),
        facts=("GatedRepoError|gated repo|401", "Llama-3.1-8B-Instruct"),
    )
    cluster.ask(
        "gatedllm-2", "The old chat pods pull models from Hugging Face just fine. What is different about the new "
                      "revision?",
        "Its pod has no Hugging Face token: the old pods get HF_TOKEN from the hf-token Secret (secretKeyRef "
        f"hf-token/token), the new revision's container only sets HF_HOME and VLLM_MODEL={_LLAMA}. The Qwen model the "
        "old pods serve is not gated, the Llama one is. Put the HF_TOKEN env var back (and make sure that token's "
        "account has accepted the Llama 3.1 license).",
        "vllm-gated-repo-no-token",
        Evidence(old[0].namespace, old[0].name, "hf-token"),
        Evidence(new.namespace, new.name, f"Access to model {_LLAMA} is restricted. You must have access to it"),
        facts=("HF_TOKEN", "hf-token"),
    )


# ---------------------------------------------------------------- 6. checkpoints refused by the bucket quota


_BUCKET = "ckpt-foundation"


_SAVED_18000 = datetime(2026, 3, 14, 8, 37, 10, tzinfo=NOW.tzinfo)  # rank 0 began saving global_step18000
_STEP_SECONDS = 3.18


def _pretrain_log(cluster: SampleCluster, trainer: SampleContainer) -> int:
    """Rank 0's log: a line every 50 steps (~3.2 s a step), a DeepSpeed checkpoint every 1000 steps uploaded to MinIO;
    global_step18000's upload (done about 08:41) is the last to succeed. Returns the last step logged."""
    first = 18_000 - 50 * int((_SAVED_18000 - ago(358)).total_seconds() / _STEP_SECONDS / 50)
    step = first
    while True:
        moment = _SAVED_18000 + timedelta(seconds=(step - 18_000) * _STEP_SECONDS + cluster.rng.uniform(0, 0.9))
        if moment >= NOW:
            return step - 50
        trainer.lines.append(_pylog(moment, "INFO", "lumen.train", (
            f"step {step} | loss {2.31 - 0.00001 * step + cluster.rng.uniform(-0.015, 0.015):.4f} | lr 2.40e-04 | "
            f"grad_norm {cluster.rng.uniform(0.18, 0.32):.3f} | {cluster.rng.randint(395, 410)}k tok/s")))
        if step % 1000 == 0:
            _checkpoint(cluster, trainer, step, moment + timedelta(milliseconds=200))
        step += 50


def _checkpoint(cluster: SampleCluster, trainer: SampleContainer, step: int, moment: datetime) -> None:
    tag = f"global_step{step}"
    saved = moment + timedelta(seconds=cluster.rng.uniform(38, 46))
    trainer.lines += [
        _pylog(moment, "INFO", "deepspeed", f"[Rank 0] Saving model checkpoint: /local_nvme/ckpt/{tag}/"
                                            "mp_rank_00_model_states.pt"),
        _pylog(saved, "INFO", "deepspeed", f"[Rank 0] Checkpoint {tag} is ready now!"),
    ]
    if step <= 18_000:
        done = saved + timedelta(seconds=cluster.rng.uniform(200, 225))
        trainer.lines.append(_pylog(done, "INFO", "lumen.ckpt", (
            f"uploaded {tag} to s3://{_BUCKET}/lumen-13b/{tag}/ (34 objects, 151.8 GiB) in "
            f"{(done - saved).total_seconds():.1f}s")))
        return
    failed = saved + timedelta(seconds=cluster.rng.uniform(60, 140))
    name = f"bf16_zero_pp_rank_{cluster.rng.randint(0, 15)}_mp_rank_00_optim_states.pt"
    trainer.lines += [
        _pylog(failed, "ERROR", "lumen.ckpt", f"upload of {tag} failed, keeping local copy"),
        *_block(failed, [
            "Traceback (most recent call last):",
            '  File "/opt/lumen/ckpt/upload.py", line 64, in upload_dir',
            "    s3.upload_file(str(path), bucket, key, Config=transfer_config)",
            '  File "/usr/local/lib/python3.11/site-packages/boto3/s3/transfer.py", line 377, in upload_file',
            "    raise S3UploadFailedError(",
            f"boto3.exceptions.S3UploadFailedError: Failed to upload /local_nvme/ckpt/{tag}/{name} to "
            f"{_BUCKET}/lumen-13b/{tag}/{name}: An error occurred (XMinioAdminBucketQuotaExceeded) when calling the "
            "UploadPart operation: Bucket quota exceeded",
        ]),
        _pylog(failed + timedelta(milliseconds=300), "WARNING", "lumen.ckpt", (
            f"latest checkpoint in s3://{_BUCKET}/lumen-13b is still global_step18000; training continues")),
    ]


def bucket_quota(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """lumen-13b-pretrain (DeepSpeed ZeRO-2 on two H100 nodes) uploads a checkpoint to MinIO every 1000 steps. The
    ckpt-foundation bucket reached its hard quota: global_step18000 (08:41) was the last upload to succeed, and every
    one since (09:30 onwards) fails with XMinioAdminBucketQuotaExceeded while training carries on."""
    began = 1_100.0
    job = "lumen-13b-pretrain"
    pods = [_job_pods(cluster, _PRETRAIN, job, node, range(index, index + 1), began)[0]
            for index, node in enumerate(TRAIN_NODES)]
    for rank, pod in enumerate(pods):
        pod.resources = _gpu_resources("nvidia.com/gpu", 8, "96", "1400Gi")
        pod.containers[0].env = [
            {"name": "AWS_ACCESS_KEY_ID", "value": secrets.aws_access_key},
            {"name": "AWS_SECRET_ACCESS_KEY", "value": secrets.aws_secret_key},
            {"name": "AWS_ENDPOINT_URL_S3", "value": "https://minio.objstore.lumen-ai.example:9000"},
            {"name": "CKPT_URI", "value": f"s3://{_BUCKET}/lumen-13b"}, {"name": "NODE_RANK", "value": str(rank)},
            {"name": "SLACK_WEBHOOK_URL", "value": secrets.slack_webhook}]
    last = _pretrain_log(cluster, pods[0].containers[0])
    worker = pods[1].containers[0]
    for moment in _every(cluster, _since(pods[1]) + timedelta(seconds=40), NOW, 600, 900):
        worker.lines.append(_pylog(moment, "INFO", "lumen.train", (
            f"[node_rank 1] healthy, {cluster.rng.randint(395, 410)}k tok/s, 8/8 GPUs")))
    pod = pods[0]
    cluster.ask(
        "ckptquota-1", "The lumen-13b run looks healthy on the loss dashboard, but the newest checkpoint in object "
                       "storage is from this morning. Is it still checkpointing?",
        "It still writes checkpoints locally every 1000 steps, but every upload to MinIO since about 09:30 fails: "
        "'An error occurred (XMinioAdminBucketQuotaExceeded) when calling the UploadPart operation: Bucket quota "
        f"exceeded'. The {_BUCKET} bucket is at its quota, so nothing newer than the morning's checkpoint reaches "
        "object storage. Raise the quota or clean out old checkpoints there.",
        "minio-bucket-quota-checkpoints",
        Evidence(pod.namespace, pod.name, "when calling the UploadPart operation: Bucket quota exceeded"),
        facts=("Bucket quota exceeded|XMinioAdminBucketQuotaExceeded", _BUCKET),
    )
    cluster.ask(
        "ckptquota-2", "If lumen-13b crashed right now, which checkpoint could we resume from, and how much "
                       "training would we lose?",
        f"global_step18000, uploaded to s3://{_BUCKET}/lumen-13b/ at 08:41; the later checkpoints (19000 onwards) only "
        f"exist on rank 0's local NVMe. The run is at about step {last}, so a crash that loses the node would cost "
        f"around {last - 18000} steps (more than three hours of training).",
        "minio-bucket-quota-checkpoints",
        Evidence(pod.namespace, pod.name, f"uploaded global_step18000 to s3://{_BUCKET}/lumen-13b/global_step18000/"),
        facts=("global_step18000|step 18000", "08:41"),
    )


# ---------------------------------------------------------------- 7. ROCm: the new image runs as non-root


def _torchrun_failure(moment: datetime, host: str, ranks: int) -> list[str]:
    stamp = f"{moment:%Y-%m-%d_%H:%M:%S}"
    failures = []
    for rank in range(1, ranks):
        failures += [f"[{rank}]:", f"  time      : {stamp}", f"  host      : {host}",
                     f"  rank      : {rank} (local_rank: {rank})", f"  exitcode  : 1 (pid: {61 + rank})",
                     "  error_file: <N/A>",
                     "  traceback : To enable traceback see: https://pytorch.org/docs/stable/elastic/errors.html"]
    return [
        "Traceback (most recent call last):",
        '  File "/opt/conda/envs/py_3.10/bin/torchrun", line 8, in <module>',
        "    sys.exit(main())",
        '  File "/opt/conda/envs/py_3.10/lib/python3.10/site-packages/torch/distributed/run.py", line 919, in main',
        "    run(args)",
        '  File "/opt/conda/envs/py_3.10/lib/python3.10/site-packages/torch/distributed/launcher/api.py", line 263, '
        "in launch_agent",
        "    raise ChildFailedError(",
        "torch.distributed.elastic.multiprocessing.errors.ChildFailedError: ",
        "============================================================",
        "/opt/lora/train.py FAILED",
        "------------------------------------------------------------",
        "Failures:", *failures,
        "------------------------------------------------------------",
        "Root Cause (first observed failure):", "[0]:", f"  time      : {stamp}", f"  host      : {host}",
        "  rank      : 0 (local_rank: 0)", "  exitcode  : 1 (pid: 61)", "  error_file: <N/A>",
        "  traceback : To enable traceback see: https://pytorch.org/docs/stable/elastic/errors.html",
        "============================================================",
    ]


def _rank_traceback(rank: int) -> list[str]:
    site = "/opt/conda/envs/py_3.10/lib/python3.10/site-packages/torch/cuda/__init__.py"
    return [f"[rank{rank}]: {line}" for line in (
        "Traceback (most recent call last):",
        '  File "/opt/lora/train.py", line 88, in <module>',
        "    main()",
        '  File "/opt/lora/train.py", line 41, in main',
        "    torch.cuda.set_device(local_rank)",
        f'  File "{site}", line 478, in set_device',
        "    torch._C._cuda_setDevice(device)",
        f'  File "{site}", line 319, in _lazy_init',
        "    torch._C._cuda_init()",
        "RuntimeError: No HIP GPUs are available",
    )]


def rocm_render_group(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """The LoRA trainer image 2026.03.14 added `USER trainer` (uid 1000). The pod sets no supplementalGroups, so the
    process is not in the host's render group and cannot open /dev/kfd: ROCm sees no GPU and torch raises "No HIP GPUs
    are available". Yesterday's run used 2026.03.10, which ran as root, on the same node."""
    first = 108.0
    job = "mi300x-llama-lora-0314"
    attempts = add_pods(cluster, _LORA, 2, node=MI300X_NODE)
    start = ago(first)
    for pod in attempts:
        _forget(cluster, pod)
        pod.owner, pod.name = ("Job", job), f"{job}-0-{cluster.suffix()}"
        pod.resources = _gpu_resources("amd.com/gpu", 8, "96", "1024Gi")
        _pin(cluster, pod, MI300X_NODE, (NOW - start).total_seconds() / 60)
        _batch_event(cluster, "Job", pod.namespace, job, "SuccessfulCreate", f"Created pod: {pod.name}", start)
        trainer = pod.containers[0]
        trainer.env = [{"name": "MODEL", "value": "meta-llama/Llama-3.1-70B"},
                       {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf-readonly", "key": "token"}}}]
        moment = _soon(cluster, start, 1)
        lines = [
            "entrypoint: lora-trainer 2026.03.14 (ROCm 6.2.2, torch 2.5.1+rocm6.2)",
            "entrypoint: running as uid=1000(trainer) gid=1000(trainer) groups=1000(trainer)",
            "entrypoint: rocminfo --support",
            "ROCk module version 6.8.5 is loaded",
            "Unable to open /dev/kfd read-write: Permission denied",
            'trainer is not member of "render" group, the default DRM access group. Users must be a member of the '
            '"render" group or another DRM access group in order for ROCm applications to run successfully.',
            "entrypoint: torchrun --nnodes 1 --nproc-per-node 8 /opt/lora/train.py --config /etc/lora/70b.yaml",
        ]
        trainer.lines += _block(moment, lines)
        warn = moment + timedelta(seconds=2)
        trainer.lines += [
            (warn, "W0314 {:%H:%M:%S}.{:06d} 1 torch/distributed/run.py:793] ".format(warn, warn.microsecond)),
            (warn, "W0314 {:%H:%M:%S}.{:06d} 1 torch/distributed/run.py:793] ".format(warn, warn.microsecond)
             + "*****************************************"),
            (warn, "W0314 {:%H:%M:%S}.{:06d} 1 torch/distributed/run.py:793] ".format(warn, warn.microsecond)
             + "Setting OMP_NUM_THREADS environment variable for each process to be 1 in default, to avoid your "
               "system being overloaded, please further tune the variable for optimal performance in your "
               "application as needed. "),
            (warn, "W0314 {:%H:%M:%S}.{:06d} 1 torch/distributed/run.py:793] ".format(warn, warn.microsecond)
             + "*****************************************"),
        ]
        crash = warn + timedelta(seconds=5, milliseconds=cluster.rng.randint(0, 900))
        trainer.lines += _block(crash, _rank_traceback(0))
        end = crash + timedelta(seconds=1)
        trainer.lines.append((end, "E0314 {:%H:%M:%S}.{:06d} 1 torch/distributed/elastic/multiprocessing/api.py:869] "
                                   "failed (exitcode: 1) local_rank: 0 (pid: 61) of binary: "
                                   "/opt/conda/envs/py_3.10/bin/python".format(end, end.microsecond)))
        trainer.lines += _block(end, _torchrun_failure(end, pod.name, 8))
        _terminated(cluster, pod, 1, "Error", moment - timedelta(seconds=1), end + timedelta(seconds=1))
        start = end + timedelta(seconds=12)
    _batch_event(cluster, "Job", "rocm-lab", job, "BackoffLimitExceeded", "Job has reached the specified backoff limit",
                 start, warning=True)
    # Yesterday's run: the previous image, as root, finished successfully on the same node.
    yesterday = "mi300x-llama-lora-0313"
    (done,) = add_pods(cluster, _LORA, 1, node=MI300X_NODE, image=f"{_REGISTRY}/rocm-lab/lora-trainer:2026.03.10")
    _forget(cluster, done)
    done.owner, done.name, done.start = ("Job", yesterday), f"{yesterday}-0-{cluster.suffix()}", ago(1_560)
    done.resources = attempts[0].resources
    began = _soon(cluster, done.start, 1)
    trainer = done.containers[0]
    trainer.lines += _block(began, [
        "entrypoint: lora-trainer 2026.03.10 (ROCm 6.2.2, torch 2.5.1+rocm6.2)",
        "entrypoint: running as uid=0(root) gid=0(root) groups=0(root)",
        "entrypoint: rocminfo --support",
        "ROCk module version 6.8.5 is loaded",
        "entrypoint: torchrun --nnodes 1 --nproc-per-node 8 /opt/lora/train.py --config /etc/lora/70b.yaml",
    ])
    for step in range(100, 2001, 100):
        moment = began + timedelta(seconds=30 + step * 7.8)
        trainer.lines.append(_pylog(moment, "INFO", "lora", (
            f"step {step}/2000 loss={1.62 - 0.00021 * step + cluster.rng.uniform(-0.01, 0.01):.4f} "
            f"8 x AMD Instinct MI300X (gfx942), rccl 2.20.5")))
    finished = began + timedelta(seconds=30 + 2000 * 7.8 + 95)
    trainer.lines.append(_pylog(finished, "INFO", "lora", "saved adapter to s3://rocm-lab-adapters/llama31-70b-lora/"
                                                          "2026-03-13/ (rank 16, 1.6 GiB)"))
    _terminated(cluster, done, 0, "Completed", began, finished + timedelta(seconds=2))
    failed = attempts[-1]
    cluster.ask(
        "rocmuser-1", "The Llama LoRA fine-tune on the MI300X box failed twice this morning right after starting. "
                      "What's the error?",
        "Every rank dies in torch.cuda.set_device with 'RuntimeError: No HIP GPUs are available', so torchrun reports "
        "ChildFailedError and the Job hit its backoff limit. ROCm cannot see the GPUs because the process cannot open "
        "the GPU device: rocminfo prints 'Unable to open /dev/kfd read-write: Permission denied'.",
        "rocm-nonroot-render-group",
        Evidence(failed.namespace, failed.name, "RuntimeError: No HIP GPUs are available"),
        facts=("No HIP GPUs are available", "/dev/kfd|Permission denied"),
    )
    cluster.ask(
        "rocmuser-2", "Yesterday the same fine-tune ran fine on that node. What's different today?",
        "The image. Today's lora-trainer 2026.03.14 runs as a non-root user (uid=1000(trainer), groups=1000 only), and "
        "that user is not a member of the render group that owns /dev/kfd and /dev/dri; yesterday's 2026.03.10 ran as "
        "uid=0(root). Add the host's render (and video) group ids to the pod's securityContext.supplementalGroups, or "
        "go back to the previous image.",
        "rocm-nonroot-render-group",
        Evidence(failed.namespace, failed.name, 'trainer is not member of "render" group'),
        Evidence(done.namespace, done.name, "running as uid=0(root)"),
        facts=("uid=1000|non-root", "render"),
    )


# ---------------------------------------------------------------- 8. llama.cpp: a GGUF cut short by a full volume


_GGUF = "qwen2.5-coder-32b-instruct-q4_k_m.gguf"
_GGUF_8B = "Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf"


def _llama_server(start: datetime, model: str, ok: bool, tensors: int) -> list[tuple[datetime, str]]:
    lines = [
        "ggml_cuda_init: GGML_CUDA_FORCE_MMQ:    no",
        "ggml_cuda_init: GGML_CUDA_FORCE_CUBLAS: no",
        "ggml_cuda_init: found 1 CUDA devices:",
        "  Device 0: NVIDIA A10G, compute capability 8.6, VMM: yes",
        "build: 4882 (be7c3034) with cc (Ubuntu 11.4.0-1ubuntu1~22.04) 11.4.0 for x86_64-linux-gnu",
        "system info: n_threads = 8, n_threads_batch = 8, total_threads = 16",
        "main: HTTP server is listening, hostname: 0.0.0.0, port: 8080, http threads: 15",
        "main: loading model",
        f"srv    load_model: loading model '/models/{model}'",
        "llama_model_load_from_file_impl: using device CUDA0 (NVIDIA A10G) - 22365 MiB free",
        f"llama_model_loader: loaded meta data with 29 key-value pairs and {tensors} tensors from /models/{model} "
        "(version GGUF V3 (latest))",
    ]
    if ok:
        lines += ["load_tensors: offloaded 33/33 layers to GPU", "load_tensors:        CUDA0 model buffer size =  "
                  "4403.49 MiB", "srv    load_model: initializing slots, n_slots = 4", "main: model loaded",
                  "main: server is listening on http://0.0.0.0:8080 - starting the main loop",
                  "srv  update_slots: all slots are idle"]
    else:
        lines += ["llama_model_load: error loading model: tensor 'blk.47.ffn_down.weight' data is not within the file "
                  "bounds, model is corrupted or incomplete",
                  "llama_model_load_from_file_impl: failed to load model",
                  f"common_init_from_params: failed to load model '/models/{model}'",
                  f"srv    load_model: failed to load model, '/models/{model}'",
                  "srv  operator(): operator(): cleaning up before exit...",
                  "main: exiting due to model loading error"]
    return [(start + timedelta(milliseconds=40 * index), line) for index, line in enumerate(lines)]


def gguf_truncated(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """At 09:10 the edge coding assistant was switched from Qwen2.5-Coder-14B to -32B. The fetch-model init container
    downloads the GGUF into the shared 40Gi gguf-cache volume, which still held the 14B file and the Llama 8B model:
    wget stopped at 13.51G with 'No space left on device', the script carried on, and llama-server cannot load the
    truncated file."""
    swapped = 170.0
    (healthy,) = cluster.pods_of("edge-llm", "llamacpp-llama31-8b")
    _pin(cluster, healthy, EDGE_NODE)
    healthy.claims = ["gguf-cache"]
    healthy.containers[0].noise = False
    healthy.containers[0].lines += _llama_server(_soon(cluster, _since(healthy), 3), _GGUF_8B, True, 292)
    for moment in _every(cluster, _since(healthy) + timedelta(seconds=60), NOW, 30, 240):
        tokens = cluster.rng.randint(40, 900)
        healthy.containers[0].lines.append((moment, f"srv  log_server_r: request: POST /v1/chat/completions "
                                                    f"10.244.{cluster.rng.randint(0, 7)}.{cluster.rng.randint(2, 250)} "
                                                    f"200 ({tokens} tokens)"))
    (pod,) = cluster.pods_of("edge-llm", "llamacpp-qwen-coder")
    _forget(cluster, pod)
    new_rs = f"llamacpp-qwen-coder-{cluster.suffix(10)}"
    pod.owner, pod.name = ("ReplicaSet", new_rs), f"{new_rs}-{cluster.suffix()}"
    pod.claims = ["gguf-cache"]
    image = "registry.lumen-ai.example/tools/model-fetch:1.3.0"
    fetched = _soon(cluster, ago(swapped), 2)
    url = f"https://huggingface.co/Qwen/Qwen2.5-Coder-32B-Instruct-GGUF/resolve/main/{_GGUF}"
    stopped = fetched + timedelta(seconds=149)
    fetch = SampleContainer(spec=ContainerSpec("fetch-model", image, "worker"), image=image,
                            state={"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": _ts(fetched),
                                                  "finishedAt": _ts(stopped + timedelta(seconds=1)),
                                                  "containerID": _container_id(cluster)}},
                            noise=False, env=[{"name": "MODEL_URL", "value": url}, {"name": "HF_TOKEN", "valueFrom": {
                                "secretKeyRef": {"name": "hf-readonly", "key": "token"}}}])
    fetch.lines = [
        (fetched, f"model-fetch: {_GGUF} not in /models, downloading"),
        (fetched, "Filesystem      Size  Used Avail Use% Mounted on"),
        (fetched, "/dev/nvme2n1     40G   27G   14G  67% /models"),
        (fetched, f"model-fetch: wget -nv -O /models/{_GGUF} {url}"),
        (stopped, f"Cannot write to '/models/{_GGUF}' (No space left on device)."),
        (stopped + timedelta(milliseconds=5), f"model-fetch: done: /models/{_GGUF} (13.51G)"),
    ]
    pod.init_containers = [fetch]
    _pin(cluster, pod, EDGE_NODE, swapped)
    server = pod.containers[0]
    died = _soon(cluster, ago(3.1), 0)
    _crash_loop(cluster, pod, server, restarts=31, code=1, reason="Error", died=died, ran=2, since=ago(swapped - 3))
    server.lines += _llama_server(died - timedelta(seconds=2), _GGUF, False, 771)
    cluster.ask(
        "ggufcut-1", "The Qwen coding assistant in edge-llm has been down since this morning's model swap; its pod "
                     "just keeps restarting. Why?",
        f"llama-server cannot load the model file: 'llama_model_load: error loading model: tensor 'blk.47.ffn_down."
        f"weight' data is not within the file bounds, model is corrupted or incomplete' for /models/{_GGUF}, then "
        "'exiting due to model loading error' (exit code 1), so the container crash-loops.",
        "llamacpp-gguf-truncated-full-volume",
        Evidence(pod.namespace, pod.name, "data is not within the file bounds, model is corrupted or incomplete"),
        facts=("corrupted or incomplete|not within the file bounds", _GGUF),
    )
    cluster.ask(
        "ggufcut-2", "Why is the 32B model file broken? Didn't the download finish?",
        f"No. The pod's fetch-model init container started wget into the gguf-cache volume with only 14G free (40G "
        f"volume, 27G used by the previous models), and wget stopped with 'Cannot write to '/models/{_GGUF}' (No space "
        "left on device).' at 13.51G. The script ignored wget's failure and reported done, so the init container "
        "completed and llama-server got the truncated file. Delete the old 14B GGUF (or grow the volume), remove the "
        "partial file and let it download again; make the fetch script fail on errors.",
        "llamacpp-gguf-truncated-full-volume",
        Evidence(pod.namespace, pod.name, "(No space left on device)."),
        facts=("No space left on device", "fetch-model"),
    )


# ---------------------------------------------------------------- 9. topology manager rejects the 4-GPU replica


_TOPOLOGY = "Resources cannot be allocated with Topology locality"


def topology_rejected(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """mt-nllb-tp4 (tensor parallel 4) was scaled from 2 to 3 at 11:41. The only node with 4 free GPUs is h200-n02,
    whose kubelet runs topologyManagerPolicy=single-numa-node; its free GPUs are 0,1 (NUMA 0) and 6,7 (NUMA 1), because
    the two mt-small-tp2 pods hold 2,3 and 4,5. The kubelet rejects each new pod with TopologyAffinityError and the
    ReplicaSet keeps replacing it."""
    scaled = 19.0
    big = add_pods(cluster, _TP4, 2, node=H200_NODES[0])
    for pod in big:
        _pin(cluster, pod, H200_NODES[0])
    small = add_pods(cluster, _TP2, 2, node=H200_NODES[1])
    for pod, gpus, numa, cpus in zip(small, ("2,3", "4,5"), (0, 1), ("24-47", "120-143")):
        _pin(cluster, pod, H200_NODES[1])
        pod.containers[0].noise = False
        moment = _soon(cluster, _since(pod), 0)
        pod.containers[0].lines += [
            _pylog(moment, "INFO", "mt.launch", f"assigned GPUs {gpus} (NUMA node {numa}), CPUs {cpus} (NUMA node "
                                                f"{numa}), tensor_parallel_size=2"),
            *_vllm_start(moment + timedelta(seconds=1), "facebook/nllb-200-distilled-1.3B",
                         "tensor_parallel_size=2, max_model_len=1024"),
        ]
    for pod in big + small:
        pod.resources = _gpu_resources("nvidia.com/gpu", pod.workload.gpus, str(12 * pod.workload.gpus),
                                       f"{64 * pod.workload.gpus}Gi")
        vllm = pod.containers[0]
        vllm.noise = False
        for moment in _every(cluster, _since(pod) + timedelta(seconds=90), NOW, 15, 60):
            client = f"10.244.{cluster.rng.randint(0, 7)}.{cluster.rng.randint(2, 250)}:{cluster.rng.randint(30000, 60999)}"
            vllm.lines.append(_uvicorn(moment, client, "POST /v1/completions", "200 OK"))
    replica_set = big[0].owner[1]
    cluster.event(("HorizontalPodAutoscaler", "translate-serving", "mt-nllb-tp4"), "SuccessfulRescale",
                  "New size: 3; reason: pods metric vllm:num_requests_waiting above target", ago(scaled),
                  component="horizontal-pod-autoscaler")
    cluster.event(("Deployment", "translate-serving", "mt-nllb-tp4"), "ScalingReplicaSet",
                  f"Scaled up replica set {replica_set} to 3 from 2", ago(scaled), component="deployment-controller")
    rejected = []
    moment = ago(scaled - 0.01)
    for _ in range(14):
        (pod,) = add_pods(cluster, _TP4, 1, node=H200_NODES[1])
        _forget(cluster, pod)
        pod.owner, pod.name, pod.start = big[0].owner, f"{replica_set}-{cluster.suffix()}", moment
        pod.phase, pod.reason, pod.message = "Failed", "TopologyAffinityError", f"Pod was rejected: {_TOPOLOGY}"
        pod.resources = big[0].resources
        for container in pod.containers:
            container.state = {"waiting": {"reason": "ContainerCreating"}}
            container.ready, container.noise = False, False
        ref = ("Pod", pod.namespace, pod.name)
        cluster.event(("ReplicaSet", pod.namespace, replica_set), "SuccessfulCreate", f"Created pod: {pod.name}",
                      moment, component="replicaset-controller")
        cluster.event(ref, "Scheduled", f"Successfully assigned {pod.namespace}/{pod.name} to {H200_NODES[1]}",
                      moment + timedelta(milliseconds=30), component="default-scheduler")
        cluster.event(ref, "TopologyAffinityError", _TOPOLOGY, moment + timedelta(milliseconds=140), warning=True,
                      host=H200_NODES[1])
        rejected.append(pod)
        moment += timedelta(seconds=cluster.rng.uniform(60, 95))
    pod = rejected[-1]
    cluster.ask(
        "numaalign-1", "mt-nllb-tp4 has been stuck at 2 of 3 ready replicas since the 11:41 scale-up, and "
                       "translate-serving is filling up with Failed pods. Why won't the third replica start?",
        f"Every new pod is scheduled to {H200_NODES[1]} and then rejected by that node's kubelet at admission: status "
        f"TopologyAffinityError, 'Pod was rejected: {_TOPOLOGY}'. The pod fails without ever starting, the "
        "ReplicaSet creates a replacement, the scheduler picks the same node again, and the loop repeats.",
        "topology-manager-single-numa-rejects",
        Evidence(pod.namespace, pod.name, _TOPOLOGY),
        facts=("TopologyAffinityError|Topology locality", H200_NODES[1]),
    )
    cluster.ask(
        "numaalign-2", f"{H200_NODES[1]} has four GPUs free, so why can't a 4-GPU pod be admitted there when the same "
                       f"pods run fine on {H200_NODES[0]}?",
        f"{H200_NODES[1]}'s kubelet runs topologyManagerPolicy=single-numa-node ({H200_NODES[0]} uses best-effort), "
        "so all four GPUs (and the CPUs) of a pod must come from one NUMA node. Its free GPUs are split: the two "
        "mt-small-tp2 pods hold GPUs 2,3 on NUMA node 0 and 4,5 on NUMA node 1, leaving 0,1 and 6,7. Move one "
        "mt-small-tp2 pod so a NUMA node has four free GPUs, or relax the policy to restricted/best-effort.",
        "topology-manager-single-numa-rejects",
        Evidence(None, H200_NODES[1], "topologyManagerPolicy=single-numa-node"),
        Evidence(small[0].namespace, small[0].name, "assigned GPUs 2,3 (NUMA node 0)"),
        facts=("single-numa-node", "NUMA node 0|NUMA node 1"),
    )


# ---------------------------------------------------------------- 10. ingress read timeout cuts long generations


_HOST = "reports.lumen-ai.example"


def ingress_timeout(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """report-ui 2.4.0 (10:15) asks report-writer for long-form reports (max_tokens=4096, non-streaming). Those take
    70-150 s, and ingress-nginx's proxy read timeout is the default 60 s: it answers 504, and vLLM aborts the request
    when the connection closes. Short requests still finish."""
    release = 105.0
    writers = cluster.pods_of("docs-ai", "report-writer-vllm")
    for pod in writers:
        _pin(cluster, pod, SERVING_NODE)
        pod.containers[0].noise = False
    uis = cluster.pods_of("docs-ai", "report-ui")
    for pod in uis:
        _pin(cluster, pod, "cpu-1", release - cluster.rng.uniform(0.2, 1.5))
        pod.containers[0].noise = False
        pod.containers[0].lines.append(_json(_soon(cluster, pod.start, 2), "info", "report-ui 2.4.0 started",
                                             feature="long-form reports", max_tokens=4096, stream=False,
                                             llm_base_url="https://reports.lumen-ai.example/v1"))
    edges = cluster.pods_of("llm-edge", "llm-edge-ingress-nginx-controller")
    for edge in edges:
        edge.containers[0].noise = False
        for moment in _every(cluster, _since(edge), NOW, 1, 6):
            path, status = cluster.rng.choice((("/", 200), ("/api/chat", 200), ("/api/chat", 200), ("/static/app.js",
                                               304), ("/api/history", 200), ("/healthz", 200), ("/api/chat", 499)))
            took = cluster.rng.uniform(0.002, 0.4) if path != "/api/chat" else cluster.rng.uniform(0.8, 9.5)
            address = f"10.244.{cluster.rng.randint(0, 7)}.{cluster.rng.randint(2, 250)}"
            edge.containers[0].lines.append((moment, (
                f'{address} - - [{moment:%d/%b/%Y:%H:%M:%S +0000}] "{"POST" if path == "/api/chat" else "GET"} {path} '
                f'HTTP/1.1" {status} {cluster.rng.randint(120, 9000)} "https://chat.lumen-ai.example/" "Mozilla/5.0 '
                f'(Macintosh; Intel Mac OS X 10_15_7)" {cluster.rng.randint(300, 2400)} {took:.3f} '
                f"[genai-serving-chat-frontend-8080] [] 10.244.{cluster.rng.randint(0, 7)}.{cluster.rng.randint(2, 250)}"
                f":8080 {cluster.rng.randint(120, 9000)} {took:.3f} {status} {_hex(cluster, 32)}")))
    upstream = "docs-ai-report-writer-vllm-8000"
    connection = cluster.rng.randint(400_000, 600_000)
    for moment in _every(cluster, ago(360), NOW, 20, 70):
        writer = cluster.rng.choice(writers)
        ui = cluster.rng.choice(uis)
        edge = cluster.rng.choice(edges)
        long = moment > ago(release) and cluster.rng.random() < 0.55
        request = f"chatcmpl-{_hex(cluster, 32)}"
        tokens = 4096 if moment > ago(release) else 1024
        prompt = cluster.rng.randint(900, 3500)

        vllm = writer.containers[0]
        vllm.lines.append(_vllm(moment, "INFO", "logger.py:37", (
            f"Received request {request}: prompt: '<|im_start|>system\\nYou write structured quarterly reports...', "
            f"params: SamplingParams(n=1, presence_penalty=0.0, frequency_penalty=0.0, repetition_penalty=1.0, "
            f"temperature=0.3, top_p=0.95, top_k=-1, min_p=0.0, seed=None, stop=[], stop_token_ids=[], "
            f"bad_words=[], include_stop_str_in_output=False, ignore_eos=False, max_tokens={tokens}, min_tokens=0, "
            "logprobs=None, prompt_logprobs=None, skip_special_tokens=True, spaces_between_special_tokens=True, "
            f"truncate_prompt_tokens=None, guided_decoding=None), prompt_token_ids: None, lora_request: None, "
            "prompt_adapter_request: None.")))
        vllm.lines.append(_vllm(moment + timedelta(milliseconds=3), "INFO", "engine.py:267",
                                f"Added request {request}."))
        length = 60.0 + cluster.rng.uniform(0.0005, 0.0019) if long else cluster.rng.uniform(6, 48)
        ended = moment + timedelta(seconds=length)
        agent = "python-httpx/0.27.2"
        ui_ip = _pod_ip(ui) if moment > ago(release) else "10.244.6.57"  # the report-ui 2.3 pod
        stamp = ended.strftime("%d/%b/%Y:%H:%M:%S +0000")
        if long:
            connection += cluster.rng.randint(1, 400)
            edge.containers[0].lines += [
                (ended, f"{ended:%Y/%m/%d %H:%M:%S} [error] 31#31: *{connection} upstream timed out (110: Connection "
                        f"timed out) while reading response header from upstream, client: {ui_ip}, server: {_HOST}, "
                        f'request: "POST /v1/chat/completions HTTP/1.1", upstream: "http://{_pod_ip(writer)}:8000/v1/'
                        f'chat/completions", host: "{_HOST}"'),
                (ended, f'{ui_ip} - - [{stamp}] "POST /v1/chat/completions HTTP/1.1" 504 160 "-" "{agent}" '
                        f"{prompt * 4 + 600} {length:.3f} [{upstream}] [] {_pod_ip(writer)}:8000 0 {length:.3f} 504 "
                        f"{_hex(cluster, 32)}"),
            ]
            vllm.lines.append(_vllm(ended + timedelta(milliseconds=2), "INFO", "engine.py:290",
                                    f"Aborted request {request}."))
            ui.containers[0].lines.append(_json(ended, "error", "report generation failed", status=504,
                                                error="Gateway Timeout", elapsed_s=round(length, 1)))
        else:
            edge.containers[0].lines.append(
                (ended, f'{ui_ip} - - [{stamp}] "POST /v1/chat/completions HTTP/1.1" 200 '
                        f"{cluster.rng.randint(2000, 9000)} \"-\" \"{agent}\" {prompt * 4 + 600} {length:.3f} "
                        f"[{upstream}] [] {_pod_ip(writer)}:8000 {cluster.rng.randint(2000, 9000)} {length:.3f} 200 "
                        f"{_hex(cluster, 32)}"))
            client = f"{_pod_ip(edge)}:{cluster.rng.randint(30000, 60999)}"  # the ingress connects to vLLM
            vllm.lines.append(_uvicorn(ended, client, "POST /v1/chat/completions", "200 OK"))
            if moment > ago(release):
                ui.containers[0].lines.append(_json(ended, "info", "report generated", status=200,
                                                    elapsed_s=round(length, 1)))
    for pod in edges:
        pod.containers[0].lines.append(_klog(_soon(cluster, _since(pod), 0), "I", "controller.go:213",
                                             '"Backend successfully reloaded"'))
    edge = next(pod for pod in edges if any("upstream timed out" in line for _, line in pod.containers[0].lines))
    writer = next(pod for pod in writers if any("Aborted request" in line for _, line in pod.containers[0].lines))
    ui = uis[0]
    cluster.ask(
        "edgetimeout-1", "Since this morning, generating a long report in the docs-ai report UI fails with a 504 "
                         "after about a minute, while short reports still work. What is timing out?",
        "The ingress in front of the model: ingress-nginx logs 'upstream timed out (110: Connection timed out) while "
        "reading response header from upstream' for POST /v1/chat/completions to report-writer-vllm, and its access "
        "log shows those requests ending with 504 after 60.0 s. The default proxy read timeout (60s) is shorter than "
        "the time a long non-streamed generation takes, so nginx gives up and returns 504 Gateway Timeout.",
        "ingress-read-timeout-long-generations",
        Evidence(edge.namespace, edge.name, "upstream timed out (110: Connection timed out) while reading response "
                                            "header from upstream"),
        Evidence(ui.namespace, ui.name, '"error": "Gateway Timeout"'),
        facts=("upstream timed out", "60s|60.0|60 seconds"),
    )
    cluster.ask(
        "edgetimeout-2", "Is the report-writer model itself failing? And why did this start today?",
        "No, vLLM is healthy: it receives the requests and, after 60 s, logs 'Aborted request chatcmpl-...' because "
        "nginx closed the connection; shorter requests finish with 200. What changed is report-ui 2.4.0 (10:15), "
        "which asks for long-form reports with max_tokens=4096 (before: 1024) and no streaming, so generations now "
        "run well past a minute. Raise nginx.ingress.kubernetes.io/proxy-read-timeout on that Ingress, or stream "
        "the response.",
        "ingress-read-timeout-long-generations",
        Evidence(writer.namespace, writer.name, "Aborted request chatcmpl-"),
        Evidence(ui.namespace, ui.name, '"feature": "long-form reports", "max_tokens": 4096'),
        facts=("Aborted request", "max_tokens=4096|4096"),
    )


def _plant_secrets(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """Credentials where real ones leak: env vars, a logged clone URL, a connection string, a logged header."""
    for pod in cluster.pods_of("vision-research", "vision-eval-dash"):
        pod.containers[0].env = [{"name": "DATABASE_URL", "value": (
            f"postgresql://evaldash:{secrets.url_password}@evals-pg.vision-research.svc:5432/evals")},
            {"name": "SESSION_JWT", "value": secrets.jwt}]
    for pod in cluster.pods_of("docs-ai", "report-ui"):
        pod.containers[0].env = [{"name": "OPENAI_API_KEY", "value": secrets.openai_key},
                                 {"name": "GOOGLE_DOCS_API_KEY", "value": secrets.google_api_key},
                                 {"name": "REDIS_PASSWORD", "value": secrets.env_password}]
    tokenizer = cluster.pods_of("data-curation", "crawl-dedup")[0]
    tokenizer.containers[0].lines.append(_pylog(ago(297), "INFO", "dedup", (
        f"syncing filters from https://x-access-token:{secrets.github_token}@github.com/lumen-ai/dedup-filters.git "
        "(rev 9c1e07a)")))
    gateway = cluster.pods_of("genai-serving", "chat-frontend")[0]
    gateway.containers[0].lines.append((ago(211), (
        f'10.244.3.18 - - [{ago(211):%d/%b/%Y:%H:%M:%S +0000}] "GET /api/admin/usage HTTP/1.1" 401 38 "-" '
        f'"curl/8.5.0" "Authorization: Bearer {secrets.bearer_token}"')))


def apply_all(cluster: SampleCluster) -> None:
    """Move the generator's pods off the incident nodes, then plant the ten incidents."""
    secrets = cluster.secrets
    _placement(cluster)
    _plant_secrets(cluster, secrets)
    kueue_borrowed(cluster, secrets)
    timeslice_label(cluster, secrets)
    nfs_new_subnet(cluster, secrets)
    vllm_gated(cluster, secrets)
    bucket_quota(cluster, secrets)
    rocm_render_group(cluster, secrets)
    gguf_truncated(cluster, secrets)
    topology_rejected(cluster, secrets)
    ingress_timeout(cluster, secrets)
    karpenter_ice(cluster, secrets)
