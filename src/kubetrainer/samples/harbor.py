"""The harbor scenario: a fifteenth set of incidents, written blind for a held-out score of the on-call answers.

Selected with `build_cluster(scenario="harbor")` / `kubetrainer samples cluster
--scenario harbor`. Its setting is a logistics company's multi-tenant cluster run by a
small platform team: customs filings, last-mile delivery, consignment and tariff
databases on CloudNativePG, fleet events on Strimzi Kafka, container-yard cameras, a
port EDI bridge on Windows nodes, Airflow pipelines, GPU load planning and the public
tracking site. It was written blind: only the sample generator's own modules and the
scenarios it may read were opened; no diagnosis, answering, retrieval or evaluation code
was opened or run against it, so nothing in it has been tuned against the tool.

Ten incidents, two questions each. Causes sit in Kubernetes events (a Kyverno
image-verification denial reported by the Job controller, the kubelet's container-create,
pull and container-start errors), in the failing pod's own log (boto3's AccessDenied,
CloudNativePG's WAL archiver, a Kafka consumer's authorization error, a DNS lookup that
times out, Airflow's KubernetesExecutor, ingress-nginx's certificate validation) and, for
the follow-ups, often in another object than the one showing the symptom (the Security
Profiles Operator daemon on the node, the previous run of a CronJob, a healthy replica's
environment, the Kafka broker's authorizer log, the node-local DNS cache, a node's
Windows build or NVIDIA driver labels). Messages are written the way the component that
prints them does: the kubelet and containerd, the ReplicaSet, Job and CronJob
controllers, Kyverno, botocore and uvicorn, CloudNativePG's instance manager and
PostgreSQL's csvlog records, barman-cloud, Kafka's group coordinator and authorizer and
the Java consumer under Spring Boot, CoreDNS, the NVIDIA container CLI, Airflow and
git-sync, ingress-nginx's klog and access log.

Each question names its evidence (object + verbatim phrase) and the facts a right
answer must state; every fact is written verbatim in that evidence.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from kubetrainer.samples.cluster import add_pods
from kubetrainer.samples.model import NOW, Evidence, SampleCluster, SampleContainer, SamplePod
from kubetrainer.samples.nodes import gpu_node, sample_nodes
from kubetrainer.samples.noise import iso
from kubetrainer.samples.quarry import (
    _batch_event,
    _block,
    _container_id,
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

_HARBOR = "harbor.tidewater.example"  # the company's Harbor registry
ARM_NODES = ("ip-10-60-71-14.ec2.internal", "ip-10-60-88-203.ec2.internal")  # Graviton, joined at 08:41
WIN_NODES = ("ip-10-60-140-21.ec2.internal", "ip-10-60-151-9.ec2.internal")  # Windows, replaced at 22:00 yesterday
OLD_GPU_NODES = ("gpu-l4-a-01", "gpu-l4-a-02")  # driver 535 (CUDA 12.2)
NEW_GPU_NODE = "gpu-l4-b-01"  # driver 560 (CUDA 12.6)
GPU_NODES = (*OLD_GPU_NODES, NEW_GPU_NODE)
GENERAL = ("cpu-0", "cpu-1")
_ARM_JOINED = 199.0  # minutes ago (08:41)
_WIN_REPLACED = 840.0  # minutes ago (22:00 yesterday)
_POOL = "tidewater.example/pool"
_OLD_DRIVER, _NEW_DRIVER = ("535", "161", "08"), ("560", "35", "03")


def _app(namespace: str, name: str, kind: str, image: str, style: str, *, container: str = "app",
         replicas: int = 1, gpu_vendor: str | None = None, gpus: int = 0, port: int | None = None,
         weight: float = 1.0, extra: tuple[ContainerSpec, ...] = ()) -> Workload:
    main = ContainerSpec(container, image, style, weight)
    return Workload(namespace, name, kind, (main, *extra), replicas, gpu_vendor, gpus, port)


_GIT_SYNC = ContainerSpec("git-sync", "registry.k8s.io/git-sync/git-sync:v4.2.3", "worker", 0.05)

# Healthy first (the generator places each of these); the incidents then break or move some.
WORKLOADS: tuple[Workload, ...] = (
    _app("customs-docs", "edi-translator", "Deployment", f"{_HARBOR}/customs/edi-translator:2.9.4", "json-api",
         container="translator", replicas=2, port=8080, weight=1.5),
    _app("customs-docs", "hs-code-classifier", "Deployment", f"{_HARBOR}/customs/hs-code-classifier:1.8.0",
         "json-api", replicas=2, port=8080, weight=1.5),
    _app("last-mile", "delivery-proof-api", "Deployment", f"{_HARBOR}/last-mile/delivery-proof-api:3.6.1",
         "json-api", replicas=3, port=8000, weight=0.2),
    _app("last-mile", "route-sheet-api", "Deployment", f"{_HARBOR}/last-mile/route-sheet-api:1.22.0", "json-api",
         replicas=2, port=8080, weight=2.0),
    _app("consignment-data", "consignment-api", "Deployment", f"{_HARBOR}/consignments/consignment-api:7.3.2",
         "json-api", replicas=2, port=8080, weight=3.0),
    _app("fleet-events", "fleet-kafka-kafka", "StatefulSet", "quay.io/strimzi/kafka:0.40.0-kafka-3.7.0",
         "controller", container="kafka", replicas=3, port=9093, weight=0.2),
    _app("fleet-events", "label-printer", "Deployment", f"{_HARBOR}/fleet/label-printer:3.1.0", "worker",
         replicas=2, weight=0.2),
    _app("fleet-events", "fleet-position-ingest", "Deployment", f"{_HARBOR}/fleet/fleet-position-ingest:5.0.3",
         "worker", replicas=2, weight=2.5),
    _app("fleet-events", "shipment-status-sink", "Deployment", f"{_HARBOR}/fleet/shipment-status-sink:2.2.0",
         "worker", weight=1.5),
    _app("yard-ops", "gate-ocr", "Deployment", f"{_HARBOR}/yard/gate-ocr:4.2.0", "json-api", container="ocr",
         replicas=4, port=8080, weight=0.2),
    _app("yard-ops", "crane-telemetry", "Deployment", f"{_HARBOR}/yard/crane-telemetry:1.5.1", "worker",
         replicas=2, weight=1.5),
    _app("wms-airflow", "wms-airflow-scheduler", "Deployment", "docker.io/apache/airflow:2.9.3", "worker",
         container="scheduler", weight=0.2, extra=(_GIT_SYNC,)),
    _app("wms-airflow", "wms-airflow-webserver", "Deployment", "docker.io/apache/airflow:2.9.3", "nginx",
         container="webserver", port=8080, weight=1.0),
    _app("dispatch-ai", "load-planner", "Deployment", f"{_HARBOR}/dispatch-ai/load-planner:2.0.0", "json-api",
         container="planner", replicas=3, gpu_vendor="nvidia", gpus=1, port=8000, weight=0.2),
    _app("dispatch-ai", "dock-slot-forecast", "Deployment", f"{_HARBOR}/dispatch-ai/dock-slot-forecast:0.9.2",
         "json-api", container="forecast", gpu_vendor="nvidia", gpus=1, port=8000, weight=1.0),
    _app("public-edge", "public-edge-ingress-nginx-controller", "Deployment",
         "registry.k8s.io/ingress-nginx/controller:v1.10.4", "nginx", container="controller", replicas=2, port=443,
         weight=0.2),
    _app("security-profiles-operator", "spod", "DaemonSet",
         "gcr.io/k8s-staging-sp-operator/security-profiles-operator:v0.8.4", "controller",
         container="security-profiles-operator", weight=0.1),
    _app("kube-system", "nodelocaldns", "DaemonSet", "registry.k8s.io/dns/k8s-dns-node-cache:1.23.1", "coredns",
         container="node-cache", weight=0.1),
    _app("tracking-web", "track-portal", "Deployment", f"{_HARBOR}/tracking/track-portal:12.4.0", "json-api",
         replicas=2, port=3000, weight=2.0),
)

# Placed by their incidents, not by the generator.
_AMS = _app("manifest-export", "ams-manifest-export", "Job", f"{_HARBOR}/customs/ams-manifest-export:2.7.3",
            "worker", container="export")
_PG_IMAGE = "ghcr.io/cloudnative-pg/postgresql:16.2"
_CONSIGNMENTS_PG = _app("consignment-data", "consignments-pg", "StatefulSet", _PG_IMAGE, "worker",
                        container="postgres", port=5432)
_RATES_PG = _app("tariff-data", "rates-pg", "StatefulSet", _PG_IMAGE, "worker", container="postgres", port=5432)
_EDI_BRIDGE = _app("port-edi", "edifact-bridge", "Deployment", f"{_HARBOR}/port-edi/edifact-bridge:5.4.2-ltsc2019",
                   "worker", container="bridge", replicas=2, port=7001)
_BOL = _app("port-edi", "bol-renderer", "Deployment", f"{_HARBOR}/port-edi/bol-renderer:2.1.0-ltsc2022", "worker",
            container="renderer", port=8080)
PLACED: tuple[Workload, ...] = (_AMS, _CONSIGNMENTS_PG, _RATES_PG, _EDI_BRIDGE, _BOL)


def _arm_node(name: str) -> dict:
    """A Graviton node the general NodePool started allowing this morning (arm64, Amazon Linux 2023)."""
    node = gpu_node(name, None, None, 0, cpu="8", memory="32408432Ki", instance_type="m7g.2xlarge",
                    zone="us-east-1c")
    node["metadata"]["labels"] |= {"kubernetes.io/arch": "arm64", _POOL: "general",
                                   "karpenter.sh/nodepool": "general", "karpenter.sh/capacity-type": "on-demand"}
    node["metadata"]["creationTimestamp"] = _ts(ago(_ARM_JOINED))
    for condition in node["status"]["conditions"]:
        condition["lastTransitionTime"] = _ts(ago(_ARM_JOINED - 0.4))
    node["status"]["nodeInfo"] |= {"architecture": "arm64", "osImage": "Amazon Linux 2023.6.20250203",
                                   "kernelVersion": "6.1.127-135.201.amzn2023.aarch64"}
    return node


def _windows_node(name: str) -> dict:
    """A Windows node of the port-edi pool, replaced last night with the Windows Server 2022 AMI."""
    node = gpu_node(name, None, None, 0, cpu="8", memory="33164652Ki", instance_type="m6i.2xlarge",
                    taints=[{"key": "os", "value": "windows", "effect": "NoSchedule"}])
    node["metadata"]["labels"] |= {"kubernetes.io/os": "windows", "node.kubernetes.io/windows-build": "10.0.20348",
                                   _POOL: "windows-edi", "eks.amazonaws.com/nodegroup": "win-edi-2022"}
    node["metadata"]["creationTimestamp"] = _ts(ago(_WIN_REPLACED))
    for condition in node["status"]["conditions"]:
        condition["lastTransitionTime"] = _ts(ago(_WIN_REPLACED - 2.5))
    node["status"]["nodeInfo"] |= {"operatingSystem": "windows", "osImage": "Windows Server 2022 Datacenter",
                                   "kernelVersion": "10.0.20348.2340", "containerRuntimeVersion": "containerd://1.7.14",
                                   "kubeProxyVersion": "v1.30.4-eks-036c24b"}
    return node


def _gpu_l4_node(name: str, driver: tuple[str, str, str], cuda: tuple[str, str]) -> dict:
    """A 4 x L4 node of the dispatch-ai pool; the a-nodes still run the R535 driver, the b-node R560."""
    node = gpu_node(name, "nvidia", "NVIDIA L4 24GB", 4, cpu="48", memory="195784732Ki",
                    instance_type="g6.12xlarge")
    labels = node["metadata"]["labels"]
    labels |= {
        _POOL: "dispatch-gpu",
        "nvidia.com/cuda.driver-version.major": driver[0], "nvidia.com/cuda.driver-version.minor": driver[1],
        "nvidia.com/cuda.driver-version.revision": driver[2],
        "nvidia.com/cuda.driver-version.full": ".".join(driver),
        "nvidia.com/cuda.runtime-version.major": cuda[0], "nvidia.com/cuda.runtime-version.minor": cuda[1],
        "nvidia.com/cuda.runtime-version.full": ".".join(cuda),
    }
    return node


def scenario_nodes() -> list[dict]:
    """The sample nodes (cpu-0 and cpu-1 form the general pool) plus two Graviton nodes that joined at 08:41, two
    Windows nodes of the EDI pool and three L4 nodes for dispatch planning (two on the older driver)."""
    nodes = sample_nodes()
    for node in nodes:
        if node["metadata"]["name"] in GENERAL:
            node["metadata"]["labels"][_POOL] = "general"
    nodes += [_arm_node(name) for name in ARM_NODES]
    nodes += [_windows_node(name) for name in WIN_NODES]
    nodes += [_gpu_l4_node(name, _OLD_DRIVER, ("12", "2")) for name in OLD_GPU_NODES]
    nodes.append(_gpu_l4_node(NEW_GPU_NODE, _NEW_DRIVER, ("12", "6")))
    return nodes


# ---------------------------------------------------------------- helpers and line formats


def _placement(cluster: SampleCluster) -> None:
    """Where things ran before the incidents: no Linux DaemonSet pod on the Windows nodes, the Graviton nodes' own
    DaemonSet pods started when they joined and nothing else was there, and the L4 pool only runs dispatch-ai."""
    for index, pod in enumerate(list(cluster.pods)):
        if pod.node in WIN_NODES:
            _forget(cluster, pod)
            cluster.pods.remove(pod)
        elif pod.node in ARM_NODES:
            if pod.workload.kind == "DaemonSet":
                _pin(cluster, pod, pod.node, _ARM_JOINED - 0.5)
            else:
                _pin(cluster, pod, GENERAL[index % 2])
        elif pod.node in GPU_NODES and pod.workload.kind != "DaemonSet" and pod.namespace != "dispatch-ai":
            _pin(cluster, pod, "gpu-unlabelled-0")
    _pin(cluster, cluster.pods_of("yard-ops", "crane-telemetry")[0], ARM_NODES[1], 190.0)  # multi-arch: runs there


def _json(moment: datetime, level: str, message: str, **fields) -> tuple[datetime, str]:
    return moment, json.dumps({"ts": iso(moment), "level": level, "msg": message, **fields})


def _spring(moment: datetime, level: str, thread: str, logger: str, message: str,
            app: str = "label-printer") -> tuple[datetime, str]:
    """Spring Boot 3.3's console pattern: ISO time, level, pid, application name, thread (15, cut on the left)."""
    return moment, (f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z {level:>5} 1 --- [{app}] "
                    f"[{thread[-15:]:>15}] {logger:<40.40} : {message}")


def _kafka(moment: datetime, level: str, message: str, logger: str, thread: str) -> tuple[datetime, str]:
    """Strimzi's log4j pattern for the brokers: `%d %p %m (%c) [%t]`."""
    return moment, (f"{moment:%Y-%m-%d %H:%M:%S},{moment.microsecond // 1000:03d} {level} {message} ({logger}) "
                    f"[{thread}]")


def _cnpg(moment: datetime, level: str, logger: str, message: str, pod: str, **fields) -> tuple[datetime, str]:
    """CloudNativePG's instance manager: zap JSON with the pod it runs in."""
    entry = {"level": level, "ts": f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond:06d}Z", "logger": logger,
             "msg": message, "logging_pod": pod, **fields}
    return moment, json.dumps(entry, separators=(",", ":"))


def _pg_record(moment: datetime, pod: str, severity: str, state: str, message: str, backend: str, pid: int,
               session: str, **extra) -> tuple[datetime, str]:
    """A PostgreSQL csvlog record as the instance manager re-logs it."""
    record = {"log_time": f"{moment:%Y-%m-%d %H:%M:%S}.{moment.microsecond // 1000:03d} UTC", "process_id": str(pid),
              "session_id": session, "session_line_num": "1", "session_start_time": "2026-03-11 09:12:03 UTC",
              "transaction_id": "0", "error_severity": severity, "sql_state_code": state, "message": message,
              **extra, "backend_type": backend, "query_id": "0"}
    return _cnpg(moment, "info", "postgres", "record", pod, record=record)


def _airflow(moment: datetime, source: str, level: str, message: str) -> tuple[datetime, str]:
    """Airflow's log format: `[%(asctime)s] {%(filename)s:%(lineno)d} %(levelname)s - %(message)s`."""
    stamp = f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}+0000"
    return moment, f"[{stamp}] {{{source}}} {level} - {message}"


def _nginx_klog(moment: datetime, level: str, source: str, message: str) -> tuple[datetime, str]:
    """ingress-nginx's klog lines (the controller runs as pid 7 under dumb-init)."""
    return moment, f"{level}{moment:%m%d %H:%M:%S}.{moment.microsecond:06d}       7 {source}] {message}"


def _cron_job(name: str, moment: datetime) -> str:
    """The Job a CronJob creates for a scheduled time: named after its minute since the epoch."""
    return f"{name}-{int(moment.timestamp()) // 60}"


def _placed(cluster: SampleCluster, workload: Workload, node: str, name: str, owner: tuple[str, str],
            minutes: float) -> SamplePod:
    """A pod of `workload` named `name`, owned by `owner`, running on `node` since `minutes` ago."""
    (pod,) = add_pods(cluster, workload, 1, node=node)
    _forget(cluster, pod)
    pod.name, pod.owner = name, owner
    _pin(cluster, pod, node, minutes)
    pod.containers[0].noise = False
    return pod


def _shipment(cluster: SampleCluster) -> str:
    return f"TWX{cluster.rng.randint(7_000_000, 7_999_999)}"


# ---------------------------------------------------------------- 1. a Localhost seccomp profile missing on the node


_SPO_ROOT = "/var/lib/kubelet/seccomp/operator"
_WANTED = "operator/customs-docs/edi-translator-v3.json"
_INSTALLED = (("customs-docs", "edi-translator"), ("customs-docs", "hs-code-classifier"),
              ("last-mile", "route-sheet-api"), ("tracking-web", "track-portal"))


def _spod(moment: datetime, message: str, **fields) -> tuple[datetime, str]:
    """The Security Profiles Operator daemon's logr text lines."""
    tail = "".join(f' {key}="{value}"' for key, value in fields.items())
    return moment, f'I{moment:%m%d %H:%M:%S}.{moment.microsecond:06d}       1 profile.go:212] "{message}"{tail}'


def seccomp_profile(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """edi-translator 3.0.0 (rolled out at 11:20) sets a Localhost seccomp profile operator/customs-docs/
    edi-translator-v3.json, but no SeccompProfile of that name was ever created: the Security Profiles Operator's
    daemon only installed edi-translator.json on each node. containerd cannot load the file, so the new pod stays in
    CreateContainerError and the rollout stalls with the 2.9.4 pods still serving."""
    translators = cluster.pods_of("customs-docs", "edi-translator")
    for index, pod in enumerate(translators):
        _pin(cluster, pod, GENERAL[index % 2], 2 * 24 * 60 + cluster.rng.uniform(0, 300))
    daemons = cluster.pods_of("security-profiles-operator", "spod")
    for pod in daemons:
        spod = pod.containers[0]
        spod.noise = False
        spod.env = [{"name": "NODE_NAME", "value": pod.node}, {"name": "SPO_VERBOSITY", "value": "0"}]
        for moment in _every(cluster, _since(pod) + timedelta(seconds=8), NOW, 1700, 1900):
            for offset, (namespace, name) in enumerate(_INSTALLED):
                spod.lines.append(_spod(moment + timedelta(milliseconds=offset * 7), "Reconciled profile",
                                        logger="seccompprofile", profile=name, namespace=namespace,
                                        path=f"{_SPO_ROOT}/{namespace}/{name}.json", status="Installed"))
    rolled = 40.0
    image = f"{_HARBOR}/customs/edi-translator:3.0.0"
    (new,) = add_pods(cluster, translators[0].workload, 1, node=GENERAL[0], image=image)
    _forget(cluster, new)
    new_rs = f"edi-translator-{cluster.suffix(10)}"
    new.owner, new.name = ("ReplicaSet", new_rs), f"{new_rs}-{cluster.suffix()}"
    new.start, new.phase = ago(rolled), "Pending"
    translator = new.containers[0]
    missing = f"{_SPO_ROOT}/customs-docs/edi-translator-v3.json"
    error = (f'failed to create containerd container: cannot load seccomp profile "{missing}": open {missing}: no such '
             "file or directory")
    translator.state = {"waiting": {"reason": "CreateContainerError", "message": error}}
    translator.ready, translator.noise = False, False
    translator.env = [{"name": "SECCOMP_PROFILE", "value": f"Localhost/{_WANTED}"},
                      {"name": "EDI_PARTNERS", "value": "nl-customs,be-customs,de-atlas"}]
    cluster.event(("Deployment", "customs-docs", "edi-translator"), "ScalingReplicaSet",
                  f"Scaled up replica set {new_rs} to 1", ago(rolled), component="deployment-controller")
    cluster.event(("ReplicaSet", "customs-docs", new_rs), "SuccessfulCreate", f"Created pod: {new.name}",
                  ago(rolled - 0.001), component="replicaset-controller")
    ref = ("Pod", new.namespace, new.name)
    cluster.event(ref, "Scheduled", f"Successfully assigned customs-docs/{new.name} to {new.node}", ago(rolled - 0.002),
                  component="default-scheduler")
    cluster.event(ref, "Pulling", f'Pulling image "{image}"', ago(rolled - 0.01), host=new.node)
    cluster.event(ref, "Pulled", f'Successfully pulled image "{image}" in 3.412s (3.412s including waiting). Image '
                                 f"size: 48213377 bytes.", ago(rolled - 0.07), host=new.node)
    tries = cluster.rng.randint(175, 185)
    cluster.event(ref, "Pulled", f'Container image "{image}" already present on machine', ago(0.4), count=tries,
                  host=new.node, first=ago(rolled - 0.3))
    cluster.event(ref, "Failed", f"Error: {error}", ago(0.4), warning=True, count=tries + 1, host=new.node,
                  first=ago(rolled - 0.07))
    spod = next(pod for pod in daemons if pod.node == new.node)
    cluster.ask(
        "hb-seccomp-1", "edi-translator 3.0.0 went out at 11:20. Its new pod has sat at 0/1 ever since and never "
                        "starts, while the old 2.9.4 pods keep serving. What's wrong with it?",
        f"The container is never created: the kubelet reports CreateContainerError, 'failed to create containerd "
        f"container: cannot load seccomp profile \"{missing}\": ... no such file or directory'. 3.0.0 asks for the "
        f"Localhost seccomp profile {_WANTED}, and that file does not exist on the node, so containerd refuses to "
        "create the container; the rollout cannot progress and the 2.9.4 pods are kept.",
        "edi-translator-seccomp-profile",
        Evidence(new.namespace, new.name, "cannot load seccomp profile"),
        facts=("cannot load seccomp profile|seccomp profile", "no such file or directory|does not exist|missing"),
    )
    cluster.ask(
        "hb-seccomp-2", "Which seccomp profile does the new edi-translator pod want, and which profiles are actually "
                        "installed on its node?",
        f"It wants {_WANTED} (localhostProfile, i.e. {missing}). The Security Profiles Operator daemon on "
        f"{new.node} ({spod.name}) only reconciles and installs operator/customs-docs/edi-translator.json for "
        "customs-docs (plus the profiles of hs-code-classifier, route-sheet-api and track-portal); no SeccompProfile "
        "named edi-translator-v3 exists. Create that SeccompProfile in customs-docs, or point the chart back at "
        "operator/customs-docs/edi-translator.json.",
        "edi-translator-seccomp-profile",
        Evidence(new.namespace, new.name, _WANTED),
        Evidence(spod.namespace, spod.name, f'path="{_SPO_ROOT}/customs-docs/edi-translator.json"'),
        facts=("edi-translator-v3.json", "operator/customs-docs/edi-translator.json"),
    )


# ---------------------------------------------------------------- 2. Kyverno blocks an unsigned image


_AMS_IMAGE = f"{_HARBOR}/customs/ams-manifest-export"


def _kyverno_denied(namespace: str, name: str, image: str) -> str:
    return (f'Error creating: admission webhook "mutate.kyverno.svc-fail" denied the request: \n\nresource '
            f"Pod/{namespace}/{name} was blocked due to the following policies\n\nverify-harbor-signatures:\n  "
            f"verify-cosign-signature: 'failed to verify image {image}:\n    .attestors[0].entries[0].keys: no "
            "matching signatures'\n")


def _export_run(cluster: SampleCluster, pod: SamplePod, start: datetime) -> None:
    """One successful hourly run of the AMS export (Python logging)."""
    export = pod.containers[0]
    count = cluster.rng.randint(380, 460)
    moments = [start + timedelta(seconds=offset, milliseconds=cluster.rng.randint(0, 999)) for offset in (1, 3, 38, 39)]
    export.lines += [
        _pylog(moments[0], "INFO", "ams_export", "ams-manifest-export 2.7.3 starting (window: vessels departing in "
                                                 "the next 24h, port of loading NLRTM)"),
        _pylog(moments[1], "INFO", "ams_export", f"{count} house bills of lading to file for 7 sailings"),
        _pylog(moments[2], "INFO", "ams_export.abi", f"submitted {count} manifests to CBP ABI, batch "
                                                     f"{cluster.rng.randint(100000, 999999)} accepted"),
        _pylog(moments[3], "INFO", "ams_export", "done in 38.4s"),
    ]
    _terminated(cluster, pod, 0, "Completed", start, moments[3] + timedelta(milliseconds=120))


def kyverno_unsigned(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """The hourly ams-manifest-export CronJob was bumped to 2.8.0 at 10:42, but that tag was pushed to Harbor without a
    cosign signature (the CI signing step was skipped). Kyverno's verify-harbor-signatures policy (Enforce) denies the
    pod of the 11:00 Job; the job controller keeps retrying and no pod ever exists."""
    runs = []
    for hours in (3, 2, 1):
        scheduled = NOW - timedelta(hours=hours + 1)
        job = _cron_job("ams-manifest-export", scheduled)
        pod = _placed(cluster, _AMS, GENERAL[hours % 2], f"{job}-{cluster.suffix()}", ("Job", job),
                      (NOW - scheduled).total_seconds() / 60)
        pod.containers[0].env = [{"name": "ABI_ENDPOINT", "value": "https://abi-gw.tidewater.example/ams"},
                                 {"name": "PORT_OF_LOADING", "value": "NLRTM"}]
        _export_run(cluster, pod, _soon(cluster, scheduled, 2))
        runs.append(pod)
    eleven = NOW - timedelta(hours=1)
    job = _cron_job("ams-manifest-export", eleven)
    new_image = f"{_AMS_IMAGE}:2.8.0"
    cron = ("manifest-export", "ams-manifest-export")
    _batch_event(cluster, "CronJob", *cron, "SuccessfulCreate", f"Created job {job}", eleven)
    first, last = None, None
    for attempt in range(8):
        moment = _soon(cluster, eleven, 1 + 2 ** attempt * 0.9)
        first = first or moment
        last = moment
        name = f"{job}-{cluster.suffix()}"
        _batch_event(cluster, "Job", "manifest-export", job, "FailedCreate",
                     _kyverno_denied("manifest-export", name, new_image), moment, warning=True)
    name = f"{job}-{cluster.suffix()}"
    _batch_event(cluster, "Job", "manifest-export", job, "FailedCreate",
                 f"(combined from similar events): {_kyverno_denied('manifest-export', name, new_image)}",
                 ago(cluster.rng.uniform(2, 5)), warning=True, count=17, first=first)
    policy = cluster.event(("ClusterPolicy", None, "verify-harbor-signatures"), "PolicyViolation",
                           f"Pod manifest-export/{name}: [verify-cosign-signature] fail (blocked); failed to verify "
                           f"image {new_image}: .attestors[0].entries[0].keys: no matching signatures", last,
                           warning=True, count=18, first=first, component="kyverno-admission")
    policy["involvedObject"]["apiVersion"] = "kyverno.io/v1"
    previous = runs[-1]
    cluster.ask(
        "hb-sign-1", "The AMS customs manifest export didn't run at 11:00 - there isn't even a pod for that run - and "
                     "the US filing cut-off is 12:30. What is stopping it?",
        f"The Job {job} cannot create its pod: the Kyverno admission webhook denies it. The ClusterPolicy "
        f"verify-harbor-signatures (rule verify-cosign-signature) fails to verify the image {new_image}: "
        "'.attestors[0].entries[0].keys: no matching signatures', i.e. that tag has no valid cosign signature in "
        "Harbor, and the policy is enforced, so the job controller's pod creations are all rejected.",
        "ams-export-unsigned-image",
        Evidence("manifest-export", job, ".attestors[0].entries[0].keys: no matching signatures"),
        facts=("no matching signatures|unsigned|not signed", "verify-harbor-signatures|Kyverno"),
    )
    cluster.ask(
        "hb-sign-2", "The 10:00 export went through fine and nobody touched the policy. What's different about the "
                     "11:00 run?",
        f"The image. The 10:00 run ({previous.name}) ran {_AMS_IMAGE}:2.7.3, which is signed and passed verification. "
        "The CronJob now points at 2.8.0, and that tag was pushed without a cosign signature, so Kyverno blocks it. "
        "Sign 2.8.0 with the release key (or roll the CronJob back to 2.7.3) and trigger a manual run with kubectl "
        "create job --from=cronjob/ams-manifest-export.",
        "ams-export-unsigned-image",
        Evidence(previous.namespace, previous.name, f"{_AMS_IMAGE}:2.7.3"),
        Evidence("manifest-export", job, "ams-manifest-export:2.8.0:"),
        facts=("2.8.0", "2.7.3"),
    )


# ---------------------------------------------------------------- 3. IRSA: one replica without the web identity env


_ACCOUNT = "481516234200"
_NODE_ROLE = "tw-prod-general-nodes"
_IRSA_ROLE = f"arn:aws:iam::{_ACCOUNT}:role/tw-prod-delivery-proof-uploader"
_BUCKET = "tw-prod-delivery-proofs"


def _uvicorn(moment: datetime, client: str, request: str, status: str) -> tuple[datetime, str]:
    return moment, f'INFO:     {client} - "{request} HTTP/1.1" {status}'


def _proof_traffic(cluster: SampleCluster, pod: SamplePod, denied: bool, instance: str) -> None:
    app = pod.containers[0]
    app.noise = False
    start = _since(pod) + timedelta(seconds=4)
    app.lines += [
        (start, "INFO:     Started server process [1]"),
        (start, "INFO:     Waiting for application startup."),
        _pylog(start + timedelta(milliseconds=310), "INFO", "proofs.app", f"delivery-proof-api 3.6.1, bucket "
                                                                            f"{_BUCKET}, region us-east-1"),
        (start + timedelta(milliseconds=320), "INFO:     Application startup complete."),
        (start + timedelta(milliseconds=321),
         "INFO:     Uvicorn running on http://0.0.0.0:8000 (Press CTRL+C to quit)"),
    ]
    if denied:
        app.lines.append(_pylog(start + timedelta(seconds=41), "INFO", "botocore.credentials",
                                f"Found credentials from IAM Role: {_NODE_ROLE}"))
    for moment in _every(cluster, start + timedelta(seconds=40), NOW, 6, 40):
        client = f"10.244.{cluster.rng.randint(0, 7)}.{cluster.rng.randint(2, 250)}:{cluster.rng.randint(30000, 60000)}"
        if cluster.rng.random() < 0.3:
            app.lines.append(_uvicorn(moment, client, f"GET /v1/proofs/{_shipment(cluster)}", "200 OK"))
            continue
        shipment, index = _shipment(cluster), cluster.rng.randint(1, 3)
        key = f"2026/03/14/{shipment}-{index}.jpg"
        after = moment + timedelta(milliseconds=cluster.rng.randint(80, 400))
        if denied:
            app.lines += [
                _pylog(after, "ERROR", "proofs.upload", (
                    f"upload failed for shipment {shipment} (photo {index}): An error occurred (AccessDenied) when "
                    f"calling the PutObject operation: User: arn:aws:sts::{_ACCOUNT}:assumed-role/{_NODE_ROLE}/"
                    f"{instance} is not authorized to perform: s3:PutObject on resource: \"arn:aws:s3:::{_BUCKET}/"
                    f"{key}\" because no identity-based policy allows the s3:PutObject action")),
                _uvicorn(after, client, "POST /v1/proofs", "500 Internal Server Error"),
            ]
        else:
            app.lines += [
                _pylog(after, "INFO", "proofs.upload", f"stored s3://{_BUCKET}/{key} "
                                                       f"({cluster.rng.randint(180_000, 2_400_000)} bytes)"),
                _uvicorn(after, client, "POST /v1/proofs", "201 Created"),
            ]


def irsa_missing(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """delivery-proof-api writes delivery photos to S3 through IRSA. One replica was recreated at 08:12 while the EKS
    pod identity webhook was unavailable (failurePolicy Ignore): it got no AWS_ROLE_ARN / token, so boto3 falls back to
    the node's instance role, which may not write to the bucket. A third of the uploads fail."""
    pods = cluster.pods_of("last-mile", "delivery-proof-api")
    web_identity = [{"name": "AWS_STS_REGIONAL_ENDPOINTS", "value": "regional"},
                    {"name": "AWS_DEFAULT_REGION", "value": "us-east-1"}, {"name": "AWS_REGION", "value": "us-east-1"},
                    {"name": "AWS_ROLE_ARN", "value": _IRSA_ROLE},
                    {"name": "AWS_WEB_IDENTITY_TOKEN_FILE",
                     "value": "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"}]
    own = [{"name": "PROOF_BUCKET", "value": _BUCKET}, {"name": "MAX_PHOTO_BYTES", "value": "8388608"}]
    for index, pod in enumerate(pods):
        good = index < 2
        _pin(cluster, pod, GENERAL[index % 2], 3 * 24 * 60 + index * 7 if good else 228.0)
        pod.containers[0].env = own + (web_identity if good else [])
        _proof_traffic(cluster, pod, not good, f"i-0{_hex(cluster, 16)}")
    ok, bad = pods[0], pods[2]
    cluster.ask(
        "hb-irsa-1", "Drivers report that roughly one proof-of-delivery photo upload in three fails with a server "
                     "error since this morning; pressing retry usually works. What's failing?",
        f"S3 refuses the writes from one delivery-proof-api pod ({bad.name}): 'An error occurred (AccessDenied) when "
        f"calling the PutObject operation: User: arn:aws:sts::{_ACCOUNT}:assumed-role/{_NODE_ROLE}/... is not "
        f"authorized to perform: s3:PutObject'. That pod is using the node instance role {_NODE_ROLE}, not the "
        "service's IRSA role, so every upload it handles fails with a 500; the load balancing across three pods "
        "explains the one-in-three rate and why retries succeed.",
        "delivery-proof-irsa-missing",
        Evidence(bad.namespace, bad.name, "because no identity-based policy allows the s3:PutObject action"),
        facts=("AccessDenied", _NODE_ROLE),
    )
    cluster.ask(
        "hb-irsa-2", "All three delivery-proof-api pods run the same image and the same Deployment. Why is only one "
                     "of them using the wrong AWS identity?",
        f"The failing pod {bad.name} was created at 08:12 today, the other two three days ago. The healthy pods have "
        f"the web identity environment the EKS pod identity webhook injects (AWS_ROLE_ARN={_IRSA_ROLE}, "
        "AWS_WEB_IDENTITY_TOKEN_FILE); the 08:12 pod has neither, so botocore found no web identity and took "
        f"credentials from the instance metadata ('Found credentials from IAM Role: {_NODE_ROLE}'). The webhook "
        "must have been unavailable when it was admitted (its failurePolicy is Ignore). Delete the pod so it is "
        "recreated with the injection, and check the webhook.",
        "delivery-proof-irsa-missing",
        Evidence(bad.namespace, bad.name, f"Found credentials from IAM Role: {_NODE_ROLE}"),
        Evidence(ok.namespace, ok.name, "role/tw-prod-delivery-proof-uploader"),
        facts=("AWS_ROLE_ARN|AWS_WEB_IDENTITY_TOKEN_FILE", f"08:12|{bad.name}"),
    )


# ---------------------------------------------------------------- 4. CloudNativePG: WAL archiving fails, disk fills


_LAST_ARCHIVED = datetime(2026, 3, 14, 6, 14, 0, tzinfo=UTC)
_BACKUP_BUCKET = "s3://tw-prod-pg-backups"


def _wal(segment: int) -> str:
    """A WAL file name on timeline 1 (256 segments of 16 MiB per log id)."""
    return f"00000001{segment // 256:08X}{segment % 256:08X}"


def _instances(cluster: SampleCluster, workload: Workload, count: int, days: float) -> list[SamplePod]:
    """A CloudNativePG cluster's instance pods (named <cluster>-1..n, owned by the Cluster, one PVC pair each)."""
    pods = []
    for index in range(1, count + 1):
        pod = _placed(cluster, workload, GENERAL[index % 2], f"{workload.name}-{index}", ("Cluster", workload.name),
                      days * 24 * 60 + cluster.rng.uniform(0, 90))
        pod.claims = [pod.name, f"{pod.name}-wal"]
        pod.resources = {"requests": {"cpu": "2", "memory": "8Gi"}, "limits": {"memory": "8Gi"}}
        start = pod.start
        pod.init_containers = [SampleContainer(
            spec=ContainerSpec("bootstrap-controller", "ghcr.io/cloudnative-pg/cloudnative-pg:1.23.1", "worker"),
            image="ghcr.io/cloudnative-pg/cloudnative-pg:1.23.1", noise=False,
            state={"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": _ts(start),
                                  "finishedAt": _ts(start + timedelta(seconds=1)),
                                  "containerID": _container_id(cluster)}})]
        pod.containers[0].env = [{"name": "PGDATA", "value": "/var/lib/postgresql/data/pgdata"},
                                 {"name": "POD_NAME", "value": pod.name}, {"name": "NAMESPACE", "value": pod.namespace},
                                 {"name": "CLUSTER_NAME", "value": workload.name}, {"name": "PGPORT", "value": "5432"}]
        pods.append(pod)
    return pods


def _checkpoints(cluster: SampleCluster, pod: SamplePod, stuck_from: datetime | None, primary: bool) -> None:
    """Timed checkpoints every 5 minutes; once archiving is stuck, no WAL is removed or recycled any more."""
    kind = "checkpoint" if primary else "restartpoint"
    pid = 27 if primary else 31
    for moment in _every(cluster, _since(pod) + timedelta(seconds=40), NOW, 299.8, 300.2):
        stuck = stuck_from is not None and moment > stuck_from
        buffers = cluster.rng.randint(4000, 9000)
        added, removed, recycled = (cluster.rng.randint(9, 11), 0, 0) if stuck else (0, cluster.rng.randint(0, 2),
                                                                                      cluster.rng.randint(8, 11))
        written = moment + timedelta(seconds=269.9)
        if written > NOW:
            break
        session = "65eee8a3.1b"
        pod.containers[0].lines += [
            _pg_record(moment, pod.name, "LOG", "00000", f"{kind} starting: time", "checkpointer", pid, session),
            _pg_record(written, pod.name, "LOG", "00000", (
                f"{kind} complete: wrote {buffers} buffers ({buffers / 1310.72:.1f}%); {added} WAL file(s) added, "
                f"{removed} removed, {recycled} recycled; write=269.9{cluster.rng.randint(10, 99)} s, sync=0.00"
                f"{cluster.rng.randint(1, 9)} s, total=269.9{cluster.rng.randint(10, 99)} s; sync files="
                f"{cluster.rng.randint(200, 400)}, longest=0.002 s, average=0.001 s; distance="
                f"{cluster.rng.randint(150_000, 170_000)} kB, estimate={cluster.rng.randint(160_000, 175_000)} kB"),
                "checkpointer", pid, session),
        ]


def _archived(cluster: SampleCluster, pod: SamplePod, segment: int, moment: datetime) -> tuple[datetime, str]:
    return _cnpg(moment, "info", "wal-archive", "Archived WAL file", pod.name, walName=f"pg_wal/{_wal(segment)}",
                 startTime=iso(moment - timedelta(milliseconds=420), 6), endTime=iso(moment, 6),
                 elapsedWalTime=round(cluster.rng.uniform(0.3, 0.6), 6))


def cnpg_archive(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """consignments-pg's WAL archiving to S3 fails since 06:15: the backup IAM user's access key was deleted in the
    06:00 key rotation, but the cluster's backup secret still holds it. PostgreSQL keeps every WAL file until it is
    archived, so the primary's WAL volume grows ~2 GiB an hour. rates-pg, archived with another key, is fine."""
    members = _instances(cluster, _CONSIGNMENTS_PG, 3, 3.1)
    primary = members[0]
    postgres = primary.containers[0]
    segment = 0x3A * 256 + 0xA4
    moment = _since(primary) + timedelta(seconds=cluster.rng.uniform(5, 25))
    last_ok = _soon(cluster, _LAST_ARCHIVED, cluster.rng.uniform(20, 40))
    while moment < last_ok:
        postgres.lines.append(_archived(cluster, primary, segment, moment))
        segment += 1
        moment += timedelta(seconds=cluster.rng.uniform(26, 31))
    segment_ok = segment
    postgres.lines.append(_archived(cluster, primary, segment_ok, last_ok))
    stuck = _wal(segment_ok + 1)
    options = ["--endpoint-url", "https://s3.us-east-1.amazonaws.com", "--cloud-provider", "aws-s3",
               f"{_BACKUP_BUCKET}/consignments-pg", "consignments-pg"]
    for moment in _every(cluster, last_ok + timedelta(seconds=29), NOW, 60.5, 61.5):
        pid = cluster.rng.randint(20000, 99999)
        postgres.lines += [
            _cnpg(moment, "info", "barman-cloud-wal-archive", (
                f"{moment:%Y-%m-%d %H:%M:%S},{moment.microsecond // 1000:03d} [{pid}] ERROR: Barman cloud WAL archiver "
                "exception: An error occurred (InvalidAccessKeyId) when calling the PutObject operation: The AWS "
                "Access Key Id you provided does not exist in our records."), primary.name, pipe="stderr"),
            _cnpg(moment + timedelta(milliseconds=6), "error", "wal-archive", "Error invoking barman-cloud-wal-archive",
                  primary.name, walName=f"pg_wal/{stuck}", currentPrimary=primary.name, targetPrimary=primary.name,
                  options=options + [f"pg_wal/{stuck}"], exitCode=-1, error="exit status 4"),
            _pg_record(moment + timedelta(milliseconds=9), primary.name, "LOG", "00000",
                       "archive command failed with exit code 1", "archiver", 33, "65eee8a3.21",
                       detail=f"The failed archive command was: /controller/manager wal-archive --log-destination "
                              f"/controller/log/postgres.json pg_wal/{stuck}"),
            _pg_record(moment + timedelta(milliseconds=11), primary.name, "WARNING", "01000",
                       f'archiving write-ahead log file "{stuck}" failed too many times, will try again later',
                       "archiver", 33, "65eee8a3.21"),
        ]
    _checkpoints(cluster, primary, last_ok, True)
    for replica in members[1:]:
        _checkpoints(cluster, replica, None, False)
        replica.containers[0].lines.append(_pg_record(
            _since(replica) + timedelta(seconds=3), replica.name, "LOG", "00000",
            f"started streaming WAL from primary at 3A/A{cluster.rng.randint(0, 3)}000000 on timeline 1",
            "walreceiver", 58, "65eee8a4.3a"))
    # A healthy look-alike: the tariff database archives with its own key.
    rates = _instances(cluster, _RATES_PG, 2, 6.4)
    segment = 0x11 * 256 + 0x20
    for moment in _every(cluster, _since(rates[0]) + timedelta(seconds=11), NOW, 110, 190):
        rates[0].containers[0].lines.append(_archived(cluster, rates[0], segment, moment))
        segment += 1
    for pod, primary_role in ((rates[0], True), (rates[1], False)):
        _checkpoints(cluster, pod, None, primary_role)
    cluster.ask(
        "hb-wal-1", "Storage alert on the consignments Postgres primary: its data volume went from 40% to 91% since "
                    "early this morning, growing about 2 GiB an hour, and write traffic looks completely normal. "
                    "What is eating the disk?",
        f"WAL that cannot be archived. Since about 06:15 every WAL archive attempt on {primary.name} fails: "
        "barman-cloud-wal-archive gets 'An error occurred (InvalidAccessKeyId) when calling the PutObject operation: "
        f"The AWS Access Key Id you provided does not exist in our records' from S3, and PostgreSQL logs 'archiving "
        f"write-ahead log file \"{stuck}\" failed too many times'. PostgreSQL keeps every WAL segment until it has "
        "been archived (checkpoints now remove and recycle nothing), so pg_wal grows with normal traffic until the "
        "volume is full. Put a valid access key into the cluster's backup credentials secret.",
        "consignments-pg-wal-archive",
        Evidence(primary.namespace, primary.name, "Barman cloud WAL archiver exception: An error occurred "
                                                  "(InvalidAccessKeyId)"),
        facts=("barman-cloud-wal-archive|WAL archiv|archive command|archiving", "InvalidAccessKeyId"),
    )
    cluster.ask(
        "hb-wal-2", "If we lost the consignments primary right now, how far back would a restore from the backup "
                    "bucket take us?",
        f"To about 06:14 today. The last WAL file that reached {_BACKUP_BUCKET} is {_wal(segment_ok)} (logged as "
        f"archived at {last_ok:%H:%M:%S}); the next one, {stuck}, and everything after it have only ever existed on "
        "the primary's volume. The replicas still stream, so a failover loses nothing, but point-in-time recovery "
        "from the object store stops at 06:14 until archiving is repaired.",
        "consignments-pg-wal-archive",
        Evidence(primary.namespace, primary.name, f'"walName":"pg_wal/{_wal(segment_ok)}"'),
        facts=(_wal(segment_ok), "06:14"),
    )


# ---------------------------------------------------------------- 5. Kafka: the new consumer group is not in the ACL


_OLD_GROUP, _NEW_GROUP = "label-printing", "label-printing-v2"
_CONTAINER_LOGGER = "o.s.k.l.KafkaMessageListenerContainer"
_DENIED = "GroupAuthorizationException: Not authorized to access group: label-printing-v2"


def _broker_routine(cluster: SampleCluster, pod: SamplePod, broker: int) -> None:
    kafka = pod.containers[0]
    kafka.noise = False
    for moment in _every(cluster, _since(pod), NOW, 60, 240):
        roll = cluster.rng.random()
        topic = cluster.rng.choice(("telematics-raw", "shipment-status", "label-requests"))
        partition = f"{topic}-{cluster.rng.randint(0, 11)}"
        handler = f"data-plane-kafka-request-handler-{cluster.rng.randint(0, 7)}"
        if roll < 0.6:
            kafka.lines.append(_kafka(moment, "INFO", (
                f"[LocalLog partition={partition}, dir=/var/lib/kafka/data-0/kafka-log{broker}] Rolled new log "
                f"segment at offset {cluster.rng.randint(10**7, 9 * 10**7)} in {cluster.rng.randint(1, 4)} ms."),
                "kafka.log.LocalLog", handler))
        elif roll < 0.9:
            kafka.lines.append(_kafka(moment, "INFO", (
                f"[ProducerStateManager partition={partition}] Wrote producer snapshot at offset "
                f"{cluster.rng.randint(10**7, 9 * 10**7)} with 0 producer ids in {cluster.rng.randint(1, 9)} ms."),
                "org.apache.kafka.storage.internals.log.ProducerStateManager", handler))
        else:  # the load balancer's TCP health check on the TLS listener: routine
            peer = f"10.60.{cluster.rng.randint(0, 3)}.{cluster.rng.randint(2, 250)}"
            channel = (f"10.244.{cluster.rng.randint(0, 7)}.{cluster.rng.randint(2, 250)}:9093-{peer}:"
                       f"{cluster.rng.randint(30000, 60000)}-{cluster.rng.randint(1, 900)}")
            kafka.lines.append(_kafka(moment, "INFO", (
                f"[SocketServer listenerType=BROKER, nodeId={broker}] Failed authentication with /{peer} (channelId="
                f"{channel}) (SSL handshake failed)"), "org.apache.kafka.common.network.Selector",
                f"data-plane-kafka-network-thread-{broker}-ListenerName(TLS-9093)-SSL-{cluster.rng.randint(0, 5)}"))


def kafka_group_acl(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """label-printer 3.1.0 (deployed 10:35) renamed its consumer group to label-printing-v2. Its KafkaUser's ACLs,
    managed by Strimzi, only allow the group label-printing, so the broker denies the group and Spring Kafka stops the
    listener container on the authorization error. The pods stay Running and ready (the web endpoint is fine),
    nothing consumes label-requests, and the lag of the old group grows."""
    brokers = cluster.pods_of("fleet-events", "fleet-kafka-kafka")
    for index, pod in enumerate(brokers):
        pod.owner = ("StrimziPodSet", "fleet-kafka-kafka")
        _pin(cluster, pod, GENERAL[index % 2], 6 * 24 * 60 + cluster.rng.uniform(0, 200))
        _broker_routine(cluster, pod, index)
    coordinator = brokers[1].containers[0]
    deployed = 85.0
    printers = cluster.pods_of("fleet-events", "label-printer")
    old_members = [f"consumer-{_OLD_GROUP}-1-{cluster.uid()}" for _ in printers]
    left = ago(deployed + 0.2)
    coordinator.lines += [
        _kafka(left, "INFO", (
            f"[GroupCoordinator 1]: Preparing to rebalance group {_OLD_GROUP} in state PreparingRebalance with old "
            f"generation 57 (__consumer_offsets-27) (reason: Removing member {old_members[0]} on LeaveGroup; client "
            "reason: the consumer is being closed)"), "kafka.coordinator.group.GroupCoordinator",
            "data-plane-kafka-request-handler-3"),
        _kafka(left + timedelta(seconds=24), "INFO", (
            f"[GroupCoordinator 1]: Member MemberMetadata(memberId={old_members[1]}, groupInstanceId=None, "
            f"clientId=consumer-{_OLD_GROUP}-1, clientHost=/10.244.2.61, sessionTimeoutMs=45000, "
            f"rebalanceTimeoutMs=300000, supportedProtocols=List(range, cooperative-sticky)) has left group "
            f"{_OLD_GROUP} through explicit `LeaveGroup`; client reason: the consumer is being closed"),
            "kafka.coordinator.group.GroupCoordinator", "data-plane-kafka-request-handler-6"),
        _kafka(left + timedelta(seconds=24, milliseconds=3), "INFO", (
            f"[GroupCoordinator 1]: Group {_OLD_GROUP} with generation 58 is now empty (__consumer_offsets-27)"),
            "kafka.coordinator.group.GroupCoordinator", "data-plane-kafka-request-handler-6"),
    ]
    for index, pod in enumerate(printers):
        _pin(cluster, pod, GENERAL[index % 2], deployed - index * 0.4)
        app = pod.containers[0]
        app.noise = False
        app.env = [{"name": "SPRING_KAFKA_BOOTSTRAP_SERVERS", "value": "fleet-kafka-kafka-bootstrap:9093"},
                   {"name": "SPRING_KAFKA_CONSUMER_GROUP_ID", "value": _NEW_GROUP},
                   {"name": "SPRING_KAFKA_SECURITY_PROTOCOL", "value": "SSL"},
                   {"name": "CARRIER_API_TOKEN", "value": secrets.bearer_token}]
        start = _soon(cluster, pod.start, 3)
        client = f"[Consumer clientId=consumer-{_NEW_GROUP}-1, groupId={_NEW_GROUP}]"
        thread = "ntainer#0-0-C-1"
        failed = start + timedelta(seconds=9.4)
        app.lines += [
            _spring(start, "INFO", "main", "c.t.labels.LabelPrinterApplication",
                    "Starting LabelPrinterApplication v3.1.0 using Java 21.0.2 with PID 1 (/app/label-printer.jar "
                    "started by app in /app)"),
            _spring(start + timedelta(seconds=6.1), "INFO", "main", "o.a.kafka.common.utils.AppInfoParser",
                    "Kafka version: 3.7.0"),
            _spring(start + timedelta(seconds=6.2), "INFO", "main", "o.a.k.c.c.internals.LegacyKafkaConsumer",
                    f"{client} Subscribed to topic(s): label-requests"),
            _spring(start + timedelta(seconds=7.9), "INFO", "main", "c.t.labels.LabelPrinterApplication",
                    "Started LabelPrinterApplication in 7.912 seconds (process running for 8.604)"),
            _spring(failed, "ERROR", thread, _CONTAINER_LOGGER,
                    "Authentication/Authorization Exception and no authExceptionRetryInterval set"),
            *_block(failed, [f"org.apache.kafka.common.errors.{_DENIED}"]),
            _spring(failed + timedelta(milliseconds=2), "ERROR", thread, _CONTAINER_LOGGER,
                    "Fatal consumer exception; stopping container"),
            _spring(failed + timedelta(milliseconds=9), "INFO", thread, _CONTAINER_LOGGER,
                    f"{_NEW_GROUP}: Consumer stopped"),
        ]
        for moment in _every(cluster, start + timedelta(minutes=5), NOW, 299.5, 300.5):
            app.lines.append(_spring(moment, "INFO", "scheduling-1", "c.t.labels.printing.BacklogReporter",
                                     "labels printed in the last 5 minutes: 0 (printers online: 12)"))
        coordinator.lines.append(_kafka(failed - timedelta(milliseconds=40), "INFO", (
            f"Principal = User:CN=label-printer is Denied operation = READ from host = {_pod_ip(pod)} on resource = "
            f"Group:LITERAL:{_NEW_GROUP} for request = FindCoordinator with resourceRefCount = 1 based on rule "
            "DefaultDeny"), "kafka.authorizer.logger", f"data-plane-kafka-request-handler-{cluster.rng.randint(0, 7)}"))
    printer, broker = printers[0], brokers[1]
    cluster.ask(
        "hb-kafka-1", "Since the 10:35 label-printer deploy no shipping labels have printed at the Rotterdam "
                      "cross-dock, and lag on label-requests keeps climbing. The pods are Running and ready with zero "
                      "restarts. What's wrong?",
        "The Kafka listener inside label-printer stopped right after start-up: the consumer got "
        f"'org.apache.kafka.common.errors.{_DENIED}', Spring Kafka logged 'Authentication/Authorization Exception "
        "and no authExceptionRetryInterval set' and then 'Fatal consumer exception; stopping container' / "
        f"'{_NEW_GROUP}: Consumer stopped'. The process and its HTTP endpoint stay up, so the pods look healthy, but "
        "nothing consumes label-requests.",
        "label-printer-group-acl",
        Evidence(printer.namespace, printer.name, _DENIED),
        facts=("GroupAuthorizationException|Not authorized to access group", "stopping container|Consumer stopped"),
    )
    cluster.ask(
        "hb-kafka-2", "The Kafka team says nobody touched the ACLs in weeks. So why is label-printer being refused "
                      "now, and what does the broker say?",
        f"The consumer group changed, not the ACLs: 3.1.0 joins as {_NEW_GROUP} (SPRING_KAFKA_CONSUMER_GROUP_ID), "
        f"while the label-printer KafkaUser is only allowed to read the group {_OLD_GROUP}, which the old pods left at "
        f"10:35. The coordinator broker logs 'Principal = User:CN=label-printer is Denied operation = READ ... on "
        f"resource = Group:LITERAL:{_NEW_GROUP} for request = FindCoordinator'. Add the group to the KafkaUser's ACLs "
        f"(or go back to {_OLD_GROUP}, which also keeps the committed offsets) and restart the pods.",
        "label-printer-group-acl",
        Evidence(broker.namespace, broker.name, f"on resource = Group:LITERAL:{_NEW_GROUP} for request = "
                                                "FindCoordinator"),
        Evidence(printer.namespace, printer.name, "Starting LabelPrinterApplication v3.1.0"),
        facts=(_NEW_GROUP, "User:CN=label-printer"),
    )


# ---------------------------------------------------------------- 6. the corporate DNS zone's forwarders went away


_CORP = "tidewater.corp"
_TOS = f"tos.{_CORP}"
_OLD_RESOLVERS = ("10.60.0.53", "10.60.0.54")
_LOCAL_DNS = "169.254.20.10"


def _coredns(moment: datetime, level: str, message: str) -> tuple[datetime, str]:
    return moment, f"[{level}] {message}"


def corp_dns(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """NodeLocal DNSCache forwards the corporate zone tidewater.corp to the two corporate resolvers. Those were
    migrated to new addresses at 10:10 and the old ones stopped answering; every lookup of tos.tidewater.corp times
    out, so gate-ocr cannot reach the terminal operating system and gate transactions fail. Cluster names resolve."""
    broken = datetime(2026, 3, 14, 10, 10, 0, tzinfo=UTC)
    caches = cluster.pods_of("kube-system", "nodelocaldns")
    for pod in caches:
        cache = pod.containers[0]
        cache.noise = False
        start = _since(pod)
        cache.lines += [_coredns(start, "INFO", "Using Corefile /etc/coredns/Corefile"),
                        _coredns(start, "INFO", f"plugin/reload: Running configuration SHA512 = {_hex(cluster, 128)}"),
                        (start, "CoreDNS-1.11.1"), (start, "linux/amd64, go1.21.8, ")]
        for moment in _every(cluster, start + timedelta(seconds=20), NOW, 30, 240):
            name = cluster.rng.choice(("consignments-pg-rw.consignment-data.svc.cluster.local.",
                                       "fleet-kafka-kafka-bootstrap.fleet-events.svc.cluster.local.",
                                       "sts.us-east-1.amazonaws.com."))
            cache.lines.append(_coredns(moment, "INFO", (
                f'10.244.{cluster.rng.randint(0, 7)}.{cluster.rng.randint(2, 250)}:{cluster.rng.randint(30000, 60000)}'
                f' - {cluster.rng.randint(1, 65535)} "A IN {name} udp {cluster.rng.randint(60, 90)} false 1232" '
                f"NOERROR qr,aa,rd {cluster.rng.randint(90, 200)} {cluster.rng.randint(80, 900) / 1e6:.6f}s")))
    gates = cluster.pods_of("yard-ops", "gate-ocr")
    for index, pod in enumerate(gates):
        _pin(cluster, pod, GENERAL[index % 2], 2 * 24 * 60 + index * 11)
        pod.containers[0].env = [{"name": "TOS_URL", "value": f"https://{_TOS}:8443/api/gate"},
                                 {"name": "CAMERA_FEEDS", "value": "rtsp://gate-cams.yard-ops.svc:8554/lanes"}]
        app = pod.containers[0]
        app.noise = False
        cache = next(c for c in caches if c.node == pod.node)
        for moment in _every(cluster, _since(pod) + timedelta(seconds=5), NOW, 6, 45):
            code = f"TWXU{cluster.rng.randint(100000, 999999)}{cluster.rng.randint(0, 9)}"
            lane = cluster.rng.randint(1, 8)
            app.lines.append(_json(moment, "info", "container code read", lane=lane, code=code,
                                   confidence=round(cluster.rng.uniform(0.91, 0.99), 3)))
            done = moment + timedelta(milliseconds=cluster.rng.randint(40, 300))
            if moment < broken:
                app.lines.append(_json(done, "info", "gate transaction accepted", lane=lane, code=code,
                                       tos_ms=cluster.rng.randint(30, 180)))
                continue
            done = moment + timedelta(seconds=5, milliseconds=cluster.rng.randint(0, 40))
            app.lines.append(_json(done, "error", "TOS lookup failed, gate transaction rejected", lane=lane,
                                   code=code, error=f"getaddrinfo EAI_AGAIN {_TOS}"))
            for attempt, resolver in enumerate(_OLD_RESOLVERS):
                cache.containers[0].lines.append(_coredns(
                    done - timedelta(seconds=2.5 - attempt * 2), "ERROR", (
                        f"plugin/errors: 2 {_TOS}. A: read udp {_LOCAL_DNS}:{cluster.rng.randint(30000, 60000)}->"
                        f"{resolver}:53: i/o timeout")))
    gate = gates[0]
    cache = next(c for c in caches if c.node == gate.node)
    cluster.ask(
        "hb-dns-1", "Since about 10:10 the yard's container gates keep rejecting trucks with 'TOS unavailable', but "
                    "the terminal-operating-system team swears their system is up and answering. What's going on?",
        f"gate-ocr never reaches the TOS because it cannot resolve its name: every lookup fails with 'getaddrinfo "
        f"EAI_AGAIN {_TOS}' (a temporary DNS failure), so the transaction is rejected after about 5 seconds. Before "
        "10:10 the same calls succeeded. It is a name resolution problem inside the cluster, not the TOS itself.",
        "gate-ocr-corporate-dns",
        Evidence(gate.namespace, gate.name, f"getaddrinfo EAI_AGAIN {_TOS}"),
        facts=("EAI_AGAIN|name resolution|DNS", _CORP),
    )
    cluster.ask(
        "hb-dns-2", "Is it our DNS or theirs? Where do the lookups for the corporate names actually go, and what "
                    "happens there?",
        f"The node's NodeLocal DNSCache ({cache.name}) forwards the {_CORP} zone to the corporate resolvers "
        f"{_OLD_RESOLVERS[0]} and {_OLD_RESOLVERS[1]}, and since 10:10 both time out: 'plugin/errors: 2 {_TOS}. A: "
        f"read udp {_LOCAL_DNS}:...->{_OLD_RESOLVERS[0]}:53: i/o timeout'. Cluster-internal and AWS names still "
        "resolve (NOERROR), so only the corporate forward is dead; point the tidewater.corp forward at the resolvers' "
        "new addresses and reload.",
        "gate-ocr-corporate-dns",
        Evidence(cache.namespace, cache.name, f"->{_OLD_RESOLVERS[0]}:53: i/o timeout"),
        Evidence(gate.namespace, gate.name, "TOS lookup failed, gate transaction rejected"),
        facts=(f"{_OLD_RESOLVERS[0]}|{_OLD_RESOLVERS[1]}", "i/o timeout|timed out|timing out"),
    )


# ---------------------------------------------------------------- 7. Windows: image built for another OS build


def _windows_pull(cluster: SampleCluster, pod: SamplePod, image: str, node: str) -> None:
    """A Windows pod whose every pull fails: no manifest in the image index matches the node's OS build."""
    pod.phase = "Pending"
    bridge = pod.containers[0]
    bridge.state = {"waiting": {"reason": "ImagePullBackOff", "message": f'Back-off pulling image "{image}"'}}
    bridge.ready, bridge.noise = False, False
    ref = ("Pod", pod.namespace, pod.name)
    refused = (f'Failed to pull image "{image}": rpc error: code = NotFound desc = failed to pull and unpack image '
               f'"{image}": no match for platform in manifest: not found')
    pulls, first, last = cluster.rng.randint(150, 170), pod.start + timedelta(seconds=3), ago(cluster.rng.uniform(1, 5))
    cluster.event(ref, "Pulling", f'Pulling image "{image}"', last, count=pulls, host=node, first=first)
    cluster.event(ref, "Failed", refused, last, warning=True, count=pulls, host=node, first=first)
    cluster.event(ref, "Failed", "Error: ErrImagePull", last, warning=True, count=pulls, host=node, first=first)
    backoffs = pulls * 22 + cluster.rng.randint(0, 20)
    cluster.event(ref, "BackOff", f'Back-off pulling image "{image}"', ago(0.3), count=backoffs, host=node,
                  first=first + timedelta(seconds=2))
    cluster.event(ref, "Failed", "Error: ImagePullBackOff", ago(0.3), warning=True, count=backoffs, host=node,
                  first=first + timedelta(seconds=2))


def windows_platform(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """The EDI node group was replaced at 22:00 yesterday with Windows Server 2022 nodes (build 10.0.20348).
    edifact-bridge's image is built only for Windows Server 2019 (ltsc2019, 10.0.17763); containerd finds no manifest
    for the node's platform, so both recreated pods have been in ImagePullBackOff all night. bol-renderer, rebuilt on
    ltsc2022 last month, runs."""
    image = _EDI_BRIDGE.containers[0].image
    bridges = add_pods(cluster, _EDI_BRIDGE, 2, node=WIN_NODES[0])
    for index, pod in enumerate(bridges):
        node = WIN_NODES[index]
        _forget(cluster, pod)
        _pin(cluster, pod, node, _WIN_REPLACED - 4 - index * 0.1)
        pod.containers[0].env = [{"name": "PCS_ENDPOINT", "value": "https://pcs.portbase.example/edifact"},
                                 {"name": "MESSAGE_TYPES", "value": "IFTMIN,COPRAR,CODECO,BAPLIE"}]
        _windows_pull(cluster, pod, image, node)
    (renderer,) = add_pods(cluster, _BOL, 1, node=WIN_NODES[1])
    _forget(cluster, renderer)
    _pin(cluster, renderer, WIN_NODES[1], _WIN_REPLACED - 4.2)
    renderer.containers[0].noise = False
    for moment in _every(cluster, _since(renderer) + timedelta(seconds=9), NOW, 40, 400):
        renderer.containers[0].lines.append((moment, (
            f"{moment:%Y-%m-%d %H:%M:%S.%f}"[:-3] + f" [INF] Rendered bill of lading BL-NLRTM-"
            f"{cluster.rng.randint(100000, 999999)} ({cluster.rng.randint(1, 9)} pages) in "
            f"{cluster.rng.randint(300, 2400)} ms")))
    bad = bridges[0]
    win = cluster.node_named(WIN_NODES[0])
    cluster.ask(
        "hb-win-1", "EDIFACT messages from the port community system stopped being processed overnight. Both "
                    "edifact-bridge pods exist but neither is running. What's wrong?",
        f"They cannot pull their image: every pull of {image} fails with 'no match for platform in manifest: not "
        "found', so both pods sit in ErrImagePull / ImagePullBackOff. The image (tag ...-ltsc2019) only contains a "
        "Windows Server 2019 manifest, and the nodes they are scheduled on need an image for their own Windows build.",
        "edifact-bridge-windows-build",
        Evidence(bad.namespace, bad.name, "no match for platform in manifest"),
        facts=("no match for platform", "ltsc2019"),
    )
    cluster.ask(
        "hb-win-2", "The edifact-bridge pods ran on the same image tag all last week. What changed on the Windows "
                    "side?",
        f"The Windows nodes. The EDI node group was replaced at 22:00 yesterday: {WIN_NODES[0]} and {WIN_NODES[1]} "
        "run Windows Server 2022 Datacenter (build 10.0.20348), while edifact-bridge is built on the ltsc2019 base "
        "(build 10.0.17763), and Windows containers must match the host's build. bol-renderer, built for ltsc2022, "
        "runs on the same nodes. Rebuild edifact-bridge on ltsc2022 (or publish a multi-platform image), or bring "
        "back a 2019 node group for it.",
        "edifact-bridge-windows-build",
        Evidence(None, WIN_NODES[0], win["status"]["nodeInfo"]["kernelVersion"]),
        Evidence(bad.namespace, bad.name, WIN_NODES[0]),
        facts=("10.0.20348|Windows Server 2022|ltsc2022", "22:00"),
    )


# ---------------------------------------------------------------- 8. Airflow: no RBAC in the tasks' new namespace


_DAG = "carrier_invoice_reconcile"
_SA = "system:serviceaccount:wms-airflow:wms-airflow-scheduler"
_FORBIDDEN = (f'pods is forbidden: User "{_SA}" cannot create resource "pods" in API group "" in the namespace '
              '"wms-reporting"')


def _task_key(task: str, run: datetime) -> str:
    return (f"TaskInstanceKey(dag_id='{_DAG}', task_id='{task}', run_id='scheduled__{run:%Y-%m-%dT%H:%M:%S}+00:00', "
            "try_number=1, map_index=-1)")


def _pod_name(cluster: SampleCluster, task: str) -> str:
    return f"{_DAG.replace('_', '-')}-{task.replace('_', '-')}-{_hex(cluster, 8)}"


def _creation_failure(cluster: SampleCluster, moment: datetime, task: str, run: datetime) -> list[tuple[datetime, str]]:
    """KubernetesExecutor: the pod create call refused with 403, logged with the pod and the ApiException."""
    name = _pod_name(cluster, task)
    pod = json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {
        "annotations": {"dag_id": _DAG, "task_id": task, "try_number": "1",
                        "run_id": f"scheduled__{run:%Y-%m-%dT%H:%M:%S}+00:00"},
        "labels": {"airflow-worker": "412", "dag_id": _DAG, "kubernetes_executor": "True", "task_id": task},
        "name": name, "namespace": "wms-reporting"}, "spec": {"containers": [{
            "args": ["airflow", "tasks", "run", _DAG, task, f"scheduled__{run:%Y-%m-%dT%H:%M:%S}+00:00", "--local",
                     "--subdir", f"DAGS_FOLDER/{_DAG}.py"],
            "image": "docker.io/apache/airflow:2.9.3", "name": "base"}], "restartPolicy": "Never",
        "serviceAccountName": "wms-airflow-worker"}}, indent=2)
    body = json.dumps({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                       "message": _FORBIDDEN, "reason": "Forbidden", "details": {"kind": "pods"}, "code": 403},
                      separators=(",", ":"))
    audit = cluster.uid()
    return [
        _airflow(moment, "kubernetes_executor_utils.py:459", "ERROR",
                 f"Exception when attempting to create Namespaced Pod: {pod.splitlines()[0]}"),
        *_block(moment, [*pod.splitlines()[1:], "Traceback (most recent call last):",
                         '  File "/home/airflow/.local/lib/python3.12/site-packages/airflow/providers/cncf/kubernetes/'
                         'executors/kubernetes_executor_utils.py", line 455, in run_pod_async',
                         "    resp = self.kube_client.create_namespaced_pod(",
                         "kubernetes.client.exceptions.ApiException: (403)", "Reason: Forbidden",
                         f"HTTP response headers: HTTPHeaderDict({{'Audit-Id': '{audit}', 'Cache-Control': 'no-cache, "
                         "private', 'Content-Type': 'application/json', 'X-Content-Type-Options': 'nosniff', "
                         f"'Date': '{moment:%a, %d %b %Y %H:%M:%S} GMT', 'Content-Length': '{len(body)}'}})",
                         f"HTTP response body: {body}", ""]),
        _airflow(moment + timedelta(milliseconds=2), "kubernetes_executor.py:415", "WARNING",
                 f"ApiException when attempting to run task, re-queueing. Reason: 'Forbidden'. Message: {_FORBIDDEN}"),
    ]


def airflow_rbac(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """At 09:41 git-sync pulled a DAG change that runs carrier_invoice_reconcile's tasks in the new wms-reporting
    namespace (pod_override). The scheduler's service account may only create pods in wms-airflow, so every task pod is
    refused with 403; the executor re-queues them until they are failed as stuck in queued. Other DAGs run."""
    (scheduler,) = cluster.pods_of("wms-airflow", "wms-airflow-scheduler")
    _pin(cluster, scheduler, GENERAL[1], 4 * 24 * 60 + 17)
    airflow, git = scheduler.containers
    airflow.noise, git.noise = False, False
    airflow.env = [{"name": "AIRFLOW__CORE__EXECUTOR", "value": "KubernetesExecutor"},
                   {"name": "AIRFLOW_CONN_SLACK_ALERTS", "value": secrets.slack_webhook},
                   {"name": "AIRFLOW__KUBERNETES_EXECUTOR__NAMESPACE", "value": "wms-airflow"},
                   {"name": "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT", "value": "600.0"}]
    git.env = [{"name": "GITSYNC_REPO", "value": "https://git.tidewater.example/data/wms-dags.git"},
               {"name": "GITSYNC_REF", "value": "main"}, {"name": "GITSYNC_PERIOD", "value": "60s"}]
    changed = _soon(cluster, datetime(2026, 3, 14, 9, 41, 0, tzinfo=UTC), 12)
    commit = _hex(cluster, 40)
    sync = 4100
    for moment in _every(cluster, _since(scheduler), NOW, 59.5, 60.5):
        sync += 1
        if abs((moment - changed).total_seconds()) < 31:
            entry = {"logger": "", "ts": f"{moment:%Y-%m-%d %H:%M:%S.%f}", "caller": {"file": "main.go", "line": 1776},
                     "level": 0, "msg": "updated successfully", "ref": "main", "remote": commit, "syncCount": sync}
            git.lines.append((moment, json.dumps(entry, separators=(",", ":"))))
    for hour in range(6, 12):
        run = datetime(2026, 3, 14, hour - 1, 0, tzinfo=UTC)
        due = _soon(cluster, datetime(2026, 3, 14, hour, 0, 1, tzinfo=UTC), 0)
        if due < _since(scheduler):
            continue
        # a healthy neighbour DAG every hour
        for dag, task in (("dock_slot_refresh", "refresh"), (_DAG, "fetch_invoices")):
            key = _task_key(task, run).replace(_DAG, dag)
            if dag == _DAG and due > changed:
                continue
            name = f"{dag.replace('_', '-')}-{task}-{_hex(cluster, 8)}"
            airflow.lines += [
                _airflow(due, "scheduler_job_runner.py:417", "INFO", "1 tasks up for execution:\n\t<TaskInstance: "
                                                                      f"{dag}.{task} scheduled__{run:%Y-%m-%dT%H:%M:%S}"
                                                                      "+00:00 [scheduled]>"),
                _airflow(due + timedelta(milliseconds=40), "kubernetes_executor.py:362", "INFO",
                         f"Creating kubernetes pod for job is {key}, with pod name {name}, annotations: <omitted>"),
                _airflow(due + timedelta(seconds=46), "kubernetes_executor_utils.py:298", "INFO",
                         f"Event: {name} Succeeded, annotations: <omitted>"),
                _airflow(due + timedelta(seconds=47), "scheduler_job_runner.py:733", "INFO",
                         f"TaskInstance Finished: dag_id={dag}, task_id={task}, run_id=scheduled__"
                         f"{run:%Y-%m-%dT%H:%M:%S}+00:00, map_index=-1, run_duration=44.1, state=success, "
                         "executor_state=success, try_number=1, max_tries=2, pool=default_pool, queue=default"),
            ]
            due += timedelta(seconds=1)
        if due > changed:
            start = _soon(cluster, datetime(2026, 3, 14, hour, 0, 2, tzinfo=UTC), 0)
            if start >= NOW:
                continue
            airflow.lines += _creation_failure(cluster, start, "fetch_invoices", run)
            for moment in _every(cluster, start + timedelta(seconds=60), min(start + timedelta(seconds=600), NOW),
                                 58, 62):
                airflow.lines.append(_airflow(moment, "kubernetes_executor.py:415", "WARNING",
                                              "ApiException when attempting to run task, re-queueing. Reason: "
                                              f"'Forbidden'. Message: {_FORBIDDEN}"))
            stuck = start + timedelta(seconds=605)
            if stuck < NOW:
                airflow.lines.append(_airflow(stuck, "scheduler_job_runner.py:1780", "WARNING", (
                    f"Marking task instance <TaskInstance: {_DAG}.fetch_invoices scheduled__{run:%Y-%m-%dT%H:%M:%S}"
                    "+00:00 [queued]> stuck in queued as failed. If the task instance has available retries, it will "
                    "be retried.")))
    cluster.ask(
        "hb-airflow-1", "carrier_invoice_reconcile hasn't finished a run since the 09:00 one. Its tasks sit in "
                        "queued for ten minutes and then fail, and there's no task log at all. Other DAGs are fine. "
                        "What's happening?",
        "The tasks never get a pod. When the KubernetesExecutor creates the worker pod, the API server answers 403 "
        f"Forbidden: '{_FORBIDDEN}'. The executor re-queues the task, gets the same error, and after the queued "
        "timeout the scheduler marks the task instance failed, so nothing ever ran and there is no task log.",
        "airflow-worker-namespace-rbac",
        Evidence(scheduler.namespace, scheduler.name, "Exception when attempting to create Namespaced Pod"),
        facts=("Forbidden|403", "cannot create resource|create pods|create resource \"pods\""),
    )
    cluster.ask(
        "hb-airflow-2", "Why would Airflow suddenly lose permission to start that DAG's tasks at 10:00 when it could "
                        "at 09:00? What needs to be granted, and to whom?",
        "The DAG changed, not the permissions. At 09:41 git-sync pulled a new commit of the DAGs repository, and "
        "since then carrier_invoice_reconcile's task pods are created in the namespace wms-reporting instead of "
        f"wms-airflow. The scheduler's service account ({_SA}) is only bound to create pods in wms-airflow. Either "
        "add a Role and RoleBinding in wms-reporting that lets wms-airflow-scheduler create, get, list, watch and "
        "delete pods, or revert the pod_override namespace.",
        "airflow-worker-namespace-rbac",
        Evidence(scheduler.namespace, scheduler.name, '"namespace": "wms-reporting"'),
        facts=("wms-airflow-scheduler", "wms-reporting"),
    )


# ---------------------------------------------------------------- 9. CUDA 12.6 image on nodes with the R535 driver


def _start_error() -> str:
    return ("failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create "
            "failed: unable to start container process: error during container init: error running prestart hook #0: "
            "exit status 1, stdout: , stderr: Auto-detected mode as 'legacy'\nnvidia-container-cli: requirement error: "
            "unsatisfied condition: cuda>=12.6, please update your driver to a newer version, or use an earlier cuda "
            "container: unknown")


def _cannot_start(cluster: SampleCluster, pod: SamplePod, since: datetime) -> None:
    """The runtime's prestart hook refuses the container: StartError (exit 128), restarted with back-off."""
    planner = pod.containers[0]
    planner.noise, planner.ready = False, False
    restarts = cluster.rng.randint(17, 19)
    died = _soon(cluster, ago(cluster.rng.uniform(0.5, 4)), 0)
    message = _start_error()
    planner.restarts = restarts
    planner.state = {"waiting": {"reason": "CrashLoopBackOff", "message": (
        f"back-off 5m0s restarting failed container=planner pod={pod.name}_{pod.namespace}({pod.uid})")}}
    planner.last_state = {"terminated": {"exitCode": 128, "reason": "StartError", "message": message,
                                         "startedAt": "1970-01-01T00:00:00Z", "finishedAt": _ts(died),
                                         "containerID": _container_id(cluster)}}
    ref = ("Pod", pod.namespace, pod.name)
    image = planner.image
    cluster.event(ref, "Pulled", f'Container image "{image}" already present on machine', died, count=restarts + 1,
                  host=pod.node, first=since + timedelta(seconds=40))
    cluster.event(ref, "Created", "Created container planner", died, count=restarts + 1, host=pod.node,
                  first=since + timedelta(seconds=40))
    cluster.event(ref, "Failed", f"Error: {message}", died, warning=True, count=restarts + 1, host=pod.node,
                  first=since + timedelta(seconds=40))
    cluster.event(ref, "BackOff", f"Back-off restarting failed container planner in pod {pod.name}_{pod.namespace}"
                                  f"({pod.uid})", died + timedelta(seconds=cluster.rng.uniform(10, 40)), warning=True,
                  count=restarts * 4 + cluster.rng.randint(0, 6), host=pod.node, first=since + timedelta(seconds=45))


def cuda_driver(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """load-planner 2.0.0 (released 10:50, Recreate strategy) is built on CUDA 12.6; its image requires cuda>=12.6.
    The two a-nodes still run the R535 driver (CUDA 12.2), so the NVIDIA container CLI refuses to start it there; only
    the pod on gpu-l4-b-01 (R560, CUDA 12.6) serves. dock-slot-forecast, on CUDA 12.2, runs on the a-nodes."""
    released = 70.0
    planners = cluster.pods_of("dispatch-ai", "load-planner")
    placement = (NEW_GPU_NODE, OLD_GPU_NODES[0], OLD_GPU_NODES[1])
    for pod, node in zip(planners, placement):
        _pin(cluster, pod, node, released - 0.3)
        pod.resources = {"requests": {"cpu": "6", "memory": "40Gi", "nvidia.com/gpu": "1"},
                         "limits": {"memory": "40Gi", "nvidia.com/gpu": "1"}}
        if node in OLD_GPU_NODES:
            _cannot_start(cluster, pod, pod.start)
        else:
            app = pod.containers[0]
            app.noise = False
            start = _soon(cluster, pod.start, 6)
            app.lines += [
                _json(start, "info", "load-planner 2.0.0 starting", cuda_runtime="12.6", torch="2.5.1+cu126"),
                _json(start + timedelta(seconds=2), "info", "cuda device ready", device="NVIDIA L4",
                      driver=".".join(_NEW_DRIVER), memory_mib=23034),
                _json(start + timedelta(seconds=19), "info", "model loaded", model="load-planner-gnn-v11",
                      warmup_ms=8121),
            ]
            for moment in _every(cluster, start + timedelta(seconds=25), NOW, 5, 40):
                app.lines.append(_json(moment, "info", "plan computed", depot=cluster.rng.choice(("RTM", "ANR", "DUS")),
                                       trucks=cluster.rng.randint(12, 60),
                                       duration_ms=cluster.rng.randint(900, 9000)))
    (forecast,) = cluster.pods_of("dispatch-ai", "dock-slot-forecast")
    _pin(cluster, forecast, OLD_GPU_NODES[0])
    forecast.containers[0].env = [{"name": "OPENAI_API_KEY", "value": secrets.openai_key},
                                  {"name": "CUDA_VERSION", "value": "12.2.2"}]
    for pod in cluster.pods:
        if pod.workload.kind == "DaemonSet" and pod.node in GPU_NODES:
            _pin(cluster, pod, pod.node, 12 * 24 * 60 + cluster.rng.uniform(0, 60))
    bad = planners[1]
    cluster.ask(
        "hb-cuda-1", "Since the load-planner 2.0 release at 10:50 only one of its three pods is serving and route "
                     "plans are queueing up. The other two never get going. Why?",
        "Their container is refused at start by the NVIDIA container runtime hook: 'nvidia-container-cli: "
        "requirement error: unsatisfied condition: cuda>=12.6, please update your driver to a newer version, or use "
        "an earlier cuda container' (StartError, exit code 128, then CrashLoopBackOff). The 2.0.0 image is built on "
        "CUDA 12.6 and the GPU driver on those nodes is too old for it.",
        "load-planner-cuda-driver",
        Evidence(bad.namespace, bad.name, "unsatisfied condition: cuda>=12.6"),
        facts=("cuda>=12.6|CUDA 12.6", "please update your driver|driver is too old|older driver|driver too old"),
    )
    cluster.ask(
        "hb-cuda-2", "One load-planner 2.0 pod works and two don't. What's different between the nodes they landed "
                     "on?",
        f"The NVIDIA driver. The failing pods are on {OLD_GPU_NODES[0]} and {OLD_GPU_NODES[1]}, whose GPU feature "
        f"discovery labels show driver {'.'.join(_OLD_DRIVER)} (CUDA 12.2); the working pod is on {NEW_GPU_NODE} with "
        f"driver {'.'.join(_NEW_DRIVER)} (CUDA 12.6). Upgrade the a-nodes to the R560 driver, or constrain "
        "load-planner to nodes with nvidia.com/cuda.runtime-version.minor >= 6 until they are.",
        "load-planner-cuda-driver",
        Evidence(None, OLD_GPU_NODES[0], ".".join(_OLD_DRIVER)),
        Evidence(None, NEW_GPU_NODE, ".".join(_NEW_DRIVER)),
        facts=(".".join(_OLD_DRIVER), ".".join(_NEW_DRIVER)),
    )


# ---------------------------------------------------------------- 10. a new host served with another host's certificate


_TRACK = "track.tidewater.example"
_PORTAL = "portal.tidewater.example"
_SECRET = "tracking-web/portal-tidewater-tls"
_X509 = f"x509: certificate is valid for {_PORTAL}, www.{_PORTAL}, not {_TRACK}"


def _access(cluster: SampleCluster, moment: datetime, host: str, upstream: str, status: int) -> tuple[datetime, str]:
    """ingress-nginx's default log-format-upstream."""
    path = cluster.rng.choice(("/", "/api/v2/track/TWX7{0}".format(cluster.rng.randint(100000, 999999)),
                               "/static/js/main.4f1c2e.js", "/api/v2/eta"))
    took = cluster.rng.randint(3, 240) / 1000
    return moment, (
        f'{cluster.rng.randint(1, 223)}.{cluster.rng.randint(0, 255)}.{cluster.rng.randint(0, 255)}.'
        f'{cluster.rng.randint(1, 254)} - - [{moment:%d/%b/%Y:%H:%M:%S +0000}] "GET {path} HTTP/2.0" {status} '
        f'{cluster.rng.randint(300, 40000)} "https://{host}/" "Mozilla/5.0 (Windows NT 10.0; Win64; x64)" '
        f"{cluster.rng.randint(30, 600)} {took:.3f} [{upstream}] [] 10.244.{cluster.rng.randint(0, 7)}."
        f"{cluster.rng.randint(2, 250)}:3000 {cluster.rng.randint(300, 40000)} {took - 0.001:.3f} {status} "
        f"{_hex(cluster, 32)}")


def ingress_san(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """At 09:00 the tracking team added the host track.tidewater.example to the track-portal Ingress, reusing the TLS
    secret of the portal site. That certificate only covers portal.tidewater.example and www.portal..., so
    ingress-nginx falls back to its default (self-signed) certificate for the new host and browsers warn."""
    went_live = datetime(2026, 3, 14, 9, 0, 0, tzinfo=UTC)
    controllers = cluster.pods_of("public-edge", "public-edge-ingress-nginx-controller")
    for index, pod in enumerate(controllers):
        _pin(cluster, pod, GENERAL[index % 2], 5 * 24 * 60 + index * 3)
        controller = pod.containers[0]
        controller.noise = False
        controller.env = [{"name": "POD_NAME", "value": pod.name}, {"name": "POD_NAMESPACE", "value": "public-edge"}]
        syncs = [_soon(cluster, went_live, 2)] + _every(cluster, went_live + timedelta(minutes=20), NOW, 900, 2400)
        for number, moment in enumerate(syncs):
            if number == 0:
                controller.lines += [
                    _nginx_klog(moment, "I", "store.go:440", '"Found valid IngressClass" ingress="tracking-web/'
                                                             'track-portal" ingressclass="public-nginx"'),
                    _nginx_klog(moment, "I", "event.go:377", (
                        'Event(v1.ObjectReference{Kind:"Ingress", Namespace:"tracking-web", Name:"track-portal", '
                        f'UID:"{cluster.uid()}", APIVersion:"networking.k8s.io/v1", ResourceVersion:"'
                        f'{cluster.rng.randint(40_000_000, 49_000_000)}", FieldPath:""}}): type: \'Normal\' reason: '
                        "'Sync' Scheduled for sync")),
                ]
            at = moment + timedelta(milliseconds=cluster.rng.randint(200, 900))
            controller.lines += [
                _nginx_klog(at, "W", "controller.go:1406", f'Unexpected error validating SSL certificate "{_SECRET}" '
                                                           f'for server "{_TRACK}": {_X509}'),
                _nginx_klog(at, "W", "controller.go:1407", "Validating certificate against DNS names. This will be "
                                                           "deprecated in a future version"),
                _nginx_klog(at, "W", "controller.go:1412", (
                    f'SSL certificate "{_SECRET}" does not contain a Common Name or Subject Alternative Name for '
                    f'server "{_TRACK}": {_X509}')),
                _nginx_klog(at, "W", "controller.go:1413", "Using default certificate"),
                _nginx_klog(at + timedelta(milliseconds=300), "I", "controller.go:213", '"Backend successfully '
                                                                                        'reloaded"'),
            ]
        for moment in _every(cluster, _since(pod), NOW, 2, 25):
            if moment > went_live and cluster.rng.random() < 0.08:
                controller.lines.append(_access(cluster, moment, _TRACK, "tracking-web-track-portal-3000", 200))
            else:
                controller.lines.append(_access(cluster, moment, _PORTAL, "tracking-web-track-portal-3000",
                                                cluster.rng.choice((200, 200, 200, 304))))
    for pod in cluster.pods_of("tracking-web", "track-portal"):
        pod.containers[0].env = [{"name": "MAPS_API_KEY", "value": secrets.google_api_key},
                                 {"name": "PUBLIC_HOSTS", "value": f"{_PORTAL},{_TRACK}"}]
    edge = controllers[0]
    cluster.ask(
        "hb-tls-1", f"Since the new tracking site {_TRACK} went live at 09:00, customers get a 'your connection is "
                    f"not private' warning on it. {_PORTAL} is fine. What's wrong?",
        "The ingress controller serves its default certificate for the new host. For the track-portal Ingress it "
        f"logs that the certificate in the TLS secret {_SECRET} 'does not contain a Common Name or Subject "
        f"Alternative Name for server \"{_TRACK}\"' ({_X509}) and then 'Using default certificate', i.e. the "
        "self-signed Kubernetes Ingress Controller Fake Certificate, which browsers do not trust.",
        "track-host-certificate-san",
        Evidence(edge.namespace, edge.name, "does not contain a Common Name or Subject Alternative Name"),
        facts=("default certificate|Fake Certificate", "Subject Alternative Name|not valid for track|only covers"),
    )
    cluster.ask(
        "hb-tls-2", "Which TLS secret is the new tracking host using, and which names does that certificate actually "
                    "cover?",
        f"It reuses the portal's secret, portal-tidewater-tls in tracking-web ({_SECRET}), whose certificate is "
        f"valid only for {_PORTAL} and www.{_PORTAL}. Issue a certificate that includes {_TRACK} (for example a "
        "cert-manager Certificate with that dnsName and its own secretName) and point the Ingress tls entry at it.",
        "track-host-certificate-san",
        Evidence(edge.namespace, edge.name, f"x509: certificate is valid for {_PORTAL}, www.{_PORTAL}"),
        facts=("portal-tidewater-tls", f"www.{_PORTAL}"),
    )


def _plant_secrets(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """Credentials where real ones leak: env vars, a logged clone URL, a connection string."""
    for pod in cluster.pods_of("fleet-events", "fleet-position-ingest"):
        pod.containers[0].env = [{"name": "AWS_ACCESS_KEY_ID", "value": secrets.aws_access_key},
                                 {"name": "AWS_SECRET_ACCESS_KEY", "value": secrets.aws_secret_key},
                                 {"name": "FIREHOSE_STREAM", "value": "tw-telematics-raw"}]
    for pod in cluster.pods_of("consignment-data", "consignment-api"):
        pod.containers[0].env = [{"name": "DATABASE_URL", "value": (
            f"postgresql://consignments:{secrets.url_password}@consignments-pg-rw.consignment-data.svc:5432/app")}]
    for pod in cluster.pods_of("wms-airflow", "wms-airflow-webserver"):
        pod.containers[0].env = [{"name": "_AIRFLOW_WWW_USER_USERNAME", "value": "admin"},
                                 {"name": "_AIRFLOW_WWW_USER_PASSWORD", "value": secrets.env_password}]
    for pod in cluster.pods_of("customs-docs", "hs-code-classifier"):
        pod.containers[0].env = [{"name": "TARIFF_API_JWT", "value": secrets.jwt}]
    crane = cluster.pods_of("yard-ops", "crane-telemetry")[1]
    crane.containers[0].lines.append(_pylog(ago(301), "INFO", "crane.config", (
        f"syncing PLC tag maps from https://x-access-token:{secrets.github_token}@github.com/tidewater-yard/plc-tags.git"
        " (rev 5e0b7c1)")))


def apply_all(cluster: SampleCluster) -> None:
    """Move the generator's pods to where they ran before the incidents, then plant the ten incidents."""
    secrets = cluster.secrets
    _placement(cluster)
    _plant_secrets(cluster, secrets)
    seccomp_profile(cluster, secrets)
    kyverno_unsigned(cluster, secrets)
    irsa_missing(cluster, secrets)
    cnpg_archive(cluster, secrets)
    kafka_group_acl(cluster, secrets)
    corp_dns(cluster, secrets)
    windows_platform(cluster, secrets)
    airflow_rbac(cluster, secrets)
    cuda_driver(cluster, secrets)
    ingress_san(cluster, secrets)
