"""The fresh scenario: a third set of incidents, on objects no other scenario uses.

Selected with `build_cluster(scenario="fresh")` / `kubetrainer samples cluster
--scenario fresh`. Like `heldout`, it exists only to score honestly: none of its
incident types, namespaces, object names or messages appear in the default
scenario (incidents.py) or in heldout.py, and it was written without reference
to any diagnosis or answering code. Messages are written the way the component
that prints them does (kubelet, kube-scheduler, job/cronjob/statefulset/attach-
detach controllers, kubectl's drain helper inside kured, containerd, Go's net/http
and runtime, CPython's faulthandler, PostgreSQL, PyTorch, the NVIDIA and ROCm device
plugins, modprobe, Stakater Reloader, kube-downscaler). Each question names its
evidence (object + verbatim phrase) and the facts a right answer must state.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta

from kubetrainer.samples.cluster import add_pods
from kubetrainer.samples.model import NOW, Evidence, SampleCluster, SamplePod
from kubetrainer.samples.nodes import gpu_node, sample_nodes
from kubetrainer.samples.noise import iso
from kubetrainer.samples.secrets import FakeSecrets
from kubetrainer.samples.workloads import ContainerSpec, Workload

# The kernel the new MI300X node booted, for which no amdgpu module was built.
NEW_KERNEL = "6.8.0-1015-aws"
_API_VERSIONS = {"Job": "batch/v1", "CronJob": "batch/v1"}


def _app(
    namespace: str,
    name: str,
    kind: str,
    image: str,
    style: str,
    *,
    container: str = "app",
    replicas: int = 1,
    gpu_vendor: str | None = None,
    gpus: int = 0,
    port: int | None = None,
    weight: float = 1.0,
) -> Workload:
    return Workload(namespace, name, kind, (ContainerSpec(container, image, style, weight),), replicas, gpu_vendor, gpus, port)


# Healthy first (the generator places every workload with at most one GPU); the incidents then
# break some. The two multi-GPU Jobs are placed by their incidents.
WORKLOADS: tuple[Workload, ...] = (
    _app("kube-system", "kured", "DaemonSet", "ghcr.io/kubereboot/kured:1.15.1", "controller", container="kured", weight=0.05),
    _app("kube-system", "amdgpu-device-plugin-daemonset", "DaemonSet", "docker.io/rocm/k8s-device-plugin:1.31.0.6", "controller",
         container="amdgpu-dp-cntr", gpu_vendor="amd", weight=0.05),
    _app("kube-amd-gpu", "amdgpu-driver-loader", "DaemonSet", "registry.example.com/platform/amdgpu-driver-loader:6.8.5", "controller",
         container="loader", gpu_vendor="amd", weight=0.05),
    _app("platform", "kube-downscaler", "Deployment", "ghcr.io/caas-team/py-kube-downscaler:24.8.2", "worker", weight=0.1),
    _app("platform", "reloader-reloader", "Deployment", "ghcr.io/stakater/reloader:v1.0.121", "controller",
         container="reloader-reloader", weight=0.1),
    _app("gatekeeper-system", "gatekeeper-audit", "Deployment", "docker.io/openpolicyagent/gatekeeper:v3.16.3", "controller",
         container="manager", weight=0.3),
    _app("streaming", "zookeeper", "StatefulSet", "docker.io/bitnami/zookeeper:3.9.2", "worker", replicas=3, port=2181, weight=0.5),
    _app("media", "thumbnailer", "Deployment", "registry.example.com/media/thumbnailer:5.0.1", "worker", replicas=2),
    _app("media", "media-api", "Deployment", "registry.example.com/media/media-api:3.2.0", "json-api", replicas=2, port=8080, weight=2.0),
    _app("identity", "token-service", "Deployment", "registry.example.com/identity/token-service:1.19.0", "json-api", replicas=2, port=8443),
    _app("gateway", "api-gateway", "Deployment", "registry.example.com/edge/api-gateway:2.14.3", "json-api", replicas=2, port=8443, weight=6.0),
    _app("orders", "orders-api", "Deployment", "registry.example.com/commerce/orders-api:6.3.1", "json-api", replicas=3, port=8080, weight=3.0),
    _app("orders", "orders-db", "StatefulSet", "docker.io/library/postgres:16.2", "worker", port=5432, weight=0.5),
    _app("loyalty", "loyalty-api", "Deployment", "registry.example.com/commerce/loyalty-api:2.0.7", "worker", replicas=2, port=8080, weight=1.5),
    _app("loyalty", "loyalty-db", "StatefulSet", "docker.io/library/postgres:16.2", "worker", port=5432, weight=0.3),
    _app("notifications", "push-dispatcher", "Deployment", "registry.example.com/notify/push-dispatcher:1.12.0", "worker", replicas=2),
    _app("growth", "experiments-ui", "Deployment", "registry.example.com/growth/experiments-ui:1.7.4", "nginx", port=8080),
    _app("messaging", "rabbitmq", "StatefulSet", "docker.io/library/rabbitmq:3.12.14-management", "worker", replicas=3, port=5672),
    _app("payments", "payments-gateway", "Deployment", "registry.example.com/payments/payments-gateway:4.4.0", "json-api", replicas=2,
         port=8443, weight=2.0),
    _app("integrations", "partner-sync", "Deployment", "registry.example.com/integrations/partner-sync:1.3.2", "json-api", weight=0.5),
    _app("perception", "segformer-train", "Job", "registry.example.com/vision/segformer-trainer:2026.03", "training", container="trainer",
         gpu_vendor="nvidia", gpus=4, weight=2.0),
    _app("biosim", "fold-screen", "Job", "registry.example.com/biosim/fold-screen:0.9.1-rocm6.1", "training", container="worker",
         gpu_vendor="amd", gpus=8, weight=1.0),
)


def _workload(namespace: str, name: str) -> Workload:
    return next(w for w in WORKLOADS if w.namespace == namespace and w.name == name)


def scenario_nodes() -> list[dict]:
    """The sample nodes plus this scenario's own: two CPU nodes, an H100 node and a second MI300X node.

    The MI300X node joined yesterday on a newer kernel; its amdgpu driver never loaded,
    so it advertises no amd.com/gpu (tainted like a GPU pool, so CPU pods stay off it).
    """
    amd = gpu_node("amd-mi300x-1", "amd", "AMD Instinct MI300X 192GB", 8, labels="amd", cpu="192", memory="2113524768Ki",
                   instance_type="ND96isr_MI300X_v5", taints=[{"key": "amd.com/gpu", "value": "present", "effect": "NoSchedule"}])
    for key in ("capacity", "allocatable"):
        amd["status"][key]["amd.com/gpu"] = "0"
    amd["status"]["nodeInfo"]["kernelVersion"] = NEW_KERNEL
    amd["metadata"]["creationTimestamp"] = "2026-03-13T15:20:00Z"
    return sample_nodes() + [
        gpu_node("cpu-3", None, None, 0, cpu="16", memory="65856108Ki", instance_type="m6i.4xlarge", zone="us-east-1b"),
        gpu_node("cpu-4", None, None, 0, cpu="16", memory="65856108Ki", instance_type="m6i.4xlarge", zone="us-east-1b"),
        gpu_node("gpu-h100-4", "nvidia", "NVIDIA H100 80GB", 8, zone="us-east-1b"),
        amd,
    ]


# ---------------------------------------------------------------- helpers


def ago(minutes: float) -> datetime:
    return NOW - timedelta(minutes=minutes)


def stamp(minutes: float) -> str:
    return ago(minutes).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _event(cluster: SampleCluster, involved: tuple[str, str | None, str], reason: str, message: str, at: datetime, **options) -> dict:
    """cluster.event, with the right involvedObject.apiVersion for batch objects."""
    event = cluster.event(involved, reason, message, at, **options)
    if involved[0] in _API_VERSIONS:
        event["involvedObject"]["apiVersion"] = _API_VERSIONS[involved[0]]
    return event


def _klog(cluster: SampleCluster, level: str, moment: datetime, source: str, message: str) -> tuple[datetime, str]:
    moment = moment + timedelta(microseconds=cluster.rng.randint(0, 999_999))
    return moment, f"{level}{moment:%m%d %H:%M:%S.%f}       1 {source}] {message}"


def _logrus(moment: datetime, level: str, message: str) -> tuple[datetime, str]:
    return moment, f'time="{iso(moment, 0)}" level={level} msg="{message}"'


def _pylog(moment: datetime, level: str, logger: str, message: str) -> tuple[datetime, str]:
    return moment, f"{moment:%Y-%m-%d %H:%M:%S},{moment.microsecond // 1000:03d} {level} {logger}: {message}"


def _postgres(moment: datetime, pid: int, level: str, message: str) -> tuple[datetime, str]:
    return moment, f"{moment:%Y-%m-%d %H:%M:%S}.{moment.microsecond // 1000:03d} UTC [{pid}] {level}:  {message}"


def _json(moment: datetime, level: str, message: str, **fields) -> tuple[datetime, str]:
    """A line in the json-api style (the apps' routine noise uses the same keys)."""
    return moment, json.dumps({"ts": iso(moment), "level": level, "msg": message, **fields})


def _zap(moment: datetime, level: str, caller: str, message: str, **fields) -> tuple[datetime, str]:
    """A zap production-encoder line (epoch seconds, compact)."""
    body = {"level": level, "ts": round(moment.timestamp(), 6), "caller": caller, "msg": message, **fields}
    return moment, json.dumps(body, separators=(",", ":"))


def _golog(moment: datetime, message: str) -> tuple[datetime, str]:
    """Go's standard logger (what net/http writes when the server has no ErrorLog)."""
    return moment, f"{moment:%Y/%m/%d %H:%M:%S} {message}"


def _pod_ip(pod: SamplePod) -> str:
    return f"10.244.{len(pod.name) % 8}.{sum(map(ord, pod.name)) % 250 + 2}"  # what objects.pod_json reports


def _forget(cluster: SampleCluster, pod: SamplePod) -> None:
    cluster.events = [e for e in cluster.events if e["involvedObject"]["name"] != pod.name]


def _started(cluster: SampleCluster, pod: SamplePod, at: datetime) -> None:
    ref = ("Pod", pod.namespace, pod.name)
    cluster.event(ref, "Scheduled", f"Successfully assigned {pod.namespace}/{pod.name} to {pod.node}", at, component="default-scheduler")
    for container in pod.containers:
        cluster.event(ref, "Pulled", f'Container image "{container.image}" already present on machine', at, host=pod.node)
        cluster.event(ref, "Created", f"Created container {container.spec.name}", at, host=pod.node)
        cluster.event(ref, "Started", f"Started container {container.spec.name}", at, host=pod.node)


def _pin(cluster: SampleCluster, pod: SamplePod, node: str, minutes: float | None = None) -> None:
    """Put a pod on `node`, started `minutes` ago (None: keep its start), with fresh start-up events."""
    _forget(cluster, pod)
    pod.node = node
    if minutes is not None:
        pod.start = ago(minutes)
        for container in pod.containers:
            if "running" in container.state:
                container.state = {"running": {"startedAt": stamp(minutes)}}
    _started(cluster, pod, pod.start if minutes is not None else ago(cluster.rng.randint(5, 55)))


def _crash_loop(cluster: SampleCluster, pod: SamplePod, restarts: int, exit_code: int, minutes: float, first: float) -> None:
    """The pod's (only) container is in CrashLoopBackOff; it last exited `exit_code` `minutes` ago."""
    app = pod.containers[0]
    app.restarts, app.ready, app.noise = restarts, False, False
    app.state = {"waiting": {"reason": "CrashLoopBackOff",
                             "message": f"back-off 5m0s restarting failed container={app.spec.name} pod={pod.name}"}}
    app.last_state = {"terminated": {"reason": "Error", "exitCode": exit_code, "startedAt": stamp(minutes + 0.3),
                                     "finishedAt": stamp(minutes)}}
    message = f"Back-off restarting failed container {app.spec.name} in pod {pod.name}_{pod.namespace}({pod.uid})"
    cluster.event(("Pod", pod.namespace, pod.name), "BackOff", message, ago(0.4), warning=True, count=max(1, 4 * restarts),
                  host=pod.node, first=ago(first))


def _placement(cluster: SampleCluster) -> None:
    """Where things ran before this morning: the StatefulSets the incidents need, and this scenario's
    own pods off cpu-3 (the drain recreates what it evicts, and their logs go back further than that)."""
    for pod, node in zip(cluster.pods_of("streaming", "zookeeper"), ("cpu-0", "cpu-3", "cpu-4")):
        _pin(cluster, pod, node)
    for pod, node in zip(cluster.pods_of("messaging", "rabbitmq"), ("cpu-0", "cpu-4", "cpu-4")):
        _pin(cluster, pod, node)
    own = [(w.namespace, w.name) for w in WORKLOADS if w.kind != "DaemonSet"]
    targets = ("cpu-0", "cpu-1", "cpu-4")
    crowded = [p for p in cluster.pods if p.node == "cpu-3" and (p.namespace, p.workload.name) in own and p.workload.name != "zookeeper"]
    for index, pod in enumerate(crowded):
        _pin(cluster, pod, targets[index % len(targets)])


# ---------------------------------------------------------------- incidents


def drain_blocked_by_pdb(cluster: SampleCluster) -> None:
    """kured cordoned cpu-3 for a kernel reboot; evicting zookeeper-1 violates its PodDisruptionBudget, forever."""
    name, began = "cpu-3", 94.0
    node = cluster.node_named(name)
    node["spec"]["unschedulable"] = True
    node["spec"].setdefault("taints", []).append({"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule", "timeAdded": stamp(began)})
    cluster.event(("Node", None, name), "NodeNotSchedulable", f"Node {name} status is now: NodeNotSchedulable", ago(began), host=name)
    for kured in cluster.pods_of("kube-system", "kured"):
        kured.containers[0].noise = False
        start = kured.start
        kured.containers[0].lines += [
            _logrus(start, "info", "Kubernetes Reboot Daemon: 1.15.1"),
            _logrus(start + timedelta(milliseconds=1), "info", f"Node ID: {kured.node}"),
            _logrus(start + timedelta(milliseconds=2), "info", "Lock Annotation: kube-system/kured:weave.works/kured-node-lock"),
            _logrus(start + timedelta(milliseconds=3), "info", "Lock TTL not set, lock will remain until being released"),
            _logrus(start + timedelta(milliseconds=4), "info", "Concurrency: 1"),
            _logrus(start + timedelta(milliseconds=5), "info", "Reboot Sentinel: /var/run/reboot-required every 1h0m0s"),
            _logrus(start + timedelta(milliseconds=6), "info", "Blocking Pod Selectors: []"),
        ]
    kured = next(p for p in cluster.pods_of("kube-system", "kured") if p.node == name)
    blocked = next(p for p in cluster.pods_of("streaming", "zookeeper") if p.node == name)
    daemons = [p for p in cluster.pods if p.node == name and p.workload.kind == "DaemonSet"]
    movers = [p for p in cluster.pods if p.node == name and p.workload.kind != "DaemonSet" and p is not blocked]
    lines = kured.containers[0].lines
    lines += [
        _logrus(ago(began + 0.3), "info", "Reboot required"),
        _logrus(ago(began + 0.2), "info", "Acquired reboot lock"),
        _logrus(ago(began + 0.1), "info", f"Draining node {name}"),
        (ago(began), "WARNING: ignoring DaemonSet-managed Pods: " + ", ".join(f"{p.namespace}/{p.name}" for p in daemons)),
    ]
    for index, pod in enumerate([*movers, blocked]):
        lines.append((ago(began - 0.001 * (index + 1)), f"evicting pod {pod.namespace}/{pod.name}"))
    targets = ("cpu-0", "cpu-1", "cpu-4")
    for index, pod in enumerate(movers):  # evicted: their controllers recreated them elsewhere
        _forget(cluster, pod)
        if pod.owner[0] == "ReplicaSet":
            pod.name, pod.uid = f"{pod.owner[1]}-{cluster.suffix()}", cluster.uid()
        _pin(cluster, pod, targets[index % len(targets)], began - 0.4 - 0.02 * index)
    refusal = (f'error when evicting pods/"{blocked.name}" -n "{blocked.namespace}" (will retry after 5s): '
               "Cannot evict pod as it would violate the pod's disruption budget.")
    moment = ago(began - 0.05)
    while moment < NOW:
        lines.append((moment, refusal))
        moment += timedelta(seconds=5)
        lines.append((moment, f"evicting pod {blocked.namespace}/{blocked.name}"))
    cluster.ask(
        "drain-1", f"{name} should have rebooted for the kernel patch about an hour and a half ago, but it is still up and cordoned. "
        "What is holding it?",
        f"kured's drain of {name} never finishes: every eviction of {blocked.namespace}/{blocked.name} is refused because it would "
        "violate the pod's disruption budget (the zookeeper PodDisruptionBudget allows no disruption right now), so kured retries "
        "every 5s, never reboots, and the node stays cordoned (NodeNotSchedulable).",
        "pdb-drain", Evidence(kured.namespace, kured.name, "would violate the pod's disruption budget"),
        facts=("disruption budget|PodDisruptionBudget|PDB", "zookeeper"),
    )
    cluster.ask(
        "drain-2", "The weekend kernel patching is stuck on its first node. Which workload refuses to move?",
        f"ZooKeeper: kured evicted everything else from {name}, but {blocked.namespace}/{blocked.name} cannot be evicted without "
        "breaking its PodDisruptionBudget, so the drain retries it forever.",
        "pdb-drain", Evidence(kured.namespace, kured.name, f'error when evicting pods/"{blocked.name}" -n "{blocked.namespace}"'),
        facts=(blocked.name, "disruption budget|PodDisruptionBudget|PDB"),
    )


def job_deadline(cluster: SampleCluster) -> None:
    """The daily rollup Job ran into its activeDeadlineSeconds (3h): the job controller failed it and deleted its pod."""
    namespace, cron, began, killed = "analytics", "sessions-rollup", 240.0, 60.0
    job = f"{cron}-{int(ago(began).timestamp()) // 60}"  # the CronJob controller names Jobs after the scheduled minute
    pod, node = f"{job}-{cluster.suffix()}", "cpu-1"
    image = "registry.example.com/analytics/sessions-rollup:3.1.0"
    _event(cluster, ("CronJob", namespace, cron), "SuccessfulCreate", f"Created job {job}", ago(began), component="cronjob-controller")
    _event(cluster, ("Job", namespace, job), "SuccessfulCreate", f"Created pod: {pod}", ago(began - 0.01), component="job-controller")
    ref = ("Pod", namespace, pod)
    cluster.event(ref, "Scheduled", f"Successfully assigned {namespace}/{pod} to {node}", ago(began - 0.02), component="default-scheduler")
    cluster.event(ref, "Pulled", f'Container image "{image}" already present on machine', ago(began - 0.03), host=node)
    cluster.event(ref, "Created", "Created container rollup", ago(began - 0.03), host=node)
    cluster.event(ref, "Started", "Started container rollup", ago(began - 0.04), host=node)
    cluster.event(ref, "Killing", "Stopping container rollup", ago(killed), host=node)
    _event(cluster, ("Job", namespace, job), "SuccessfulDelete", f"Deleted pod: {pod}", ago(killed), component="job-controller")
    _event(cluster, ("Job", namespace, job), "DeadlineExceeded", "Job was active longer than specified deadline", ago(killed),
           warning=True, component="job-controller")
    _event(cluster, ("CronJob", namespace, cron), "SawCompletedJob", f"Saw completed job: {job}, status: Failed", ago(killed - 0.1),
           component="cronjob-controller")
    cluster.ask(
        "deadline-1", "Today's session numbers never landed in the warehouse. What happened to the rollup run?",
        f"Job {job} (created by CronJob {cron} at 08:00) was still running at 11:00 when it reached its activeDeadlineSeconds: "
        "the job controller failed it with DeadlineExceeded ('Job was active longer than specified deadline') and deleted its pod.",
        "job-deadline", Evidence(namespace, job, "Job was active longer than specified deadline"),
        facts=("deadline|DeadlineExceeded",),
    )
    cluster.ask(
        "deadline-2", "Did the analytics cron job fail today, or did it simply never get scheduled?",
        f"It was scheduled: CronJob {cron} created {job} at 08:00 and its pod ran for three hours, then the Job failed "
        "(status: Failed) because it exceeded its deadline (DeadlineExceeded) and the job controller stopped it.",
        "job-deadline", Evidence(namespace, cron, f"Saw completed job: {job}, status: Failed"),
        facts=("Failed|failed", "deadline|DeadlineExceeded"),
    )


def native_segfault(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """thumbnailer 5.0.1 (libvips 8.15) segfaults on HEIC uploads: exit 139, CrashLoopBackOff."""
    pods = cluster.pods_of("media", "thumbnailer")
    for index, pod in enumerate(pods):
        app = pod.containers[0]
        app.env = [{"name": "MEDIA_BUCKET", "value": "s3://acme-media/uploads"},
                   {"name": "AWS_ACCESS_KEY_ID", "value": secrets.aws_access_key},
                   {"name": "AWS_SECRET_ACCESS_KEY", "value": secrets.aws_secret_key}]
        exited = 1.5 + 2 * index
        _crash_loop(cluster, pod, 26 - 5 * index, 139, exited, 165)
        base = ago(exited + 0.25)
        upload = f"s3://acme-media/uploads/2026/03/14/IMG_{4411 + 7 * index}.HEIC"
        app.lines += [
            _pylog(base, "INFO", "thumbnailer", "thumbnailer 5.0.1 starting (pyvips 2.2.3, libvips 8.15.2)"),
            _pylog(base + timedelta(seconds=1), "INFO", "thumbnailer", "consuming from queue media-uploads (prefetch 4)"),
            _pylog(base + timedelta(seconds=2), "INFO", "thumbnailer", f"rendering 320x320 webp for {upload}"),
        ]
        crash = ago(exited) - timedelta(seconds=1)
        trace = [
            "Fatal Python error: Segmentation fault",
            "",
            f"Current thread 0x00007f{cluster.rng.getrandbits(40):010x} (most recent call first):",
            '  File "/usr/local/lib/python3.12/site-packages/pyvips/voperation.py", line 299 in call',
            '  File "/usr/local/lib/python3.12/site-packages/pyvips/vimage.py", line 1385 in call_function',
            '  File "/usr/local/lib/python3.12/site-packages/pyvips/vimage.py", line 283 in thumbnail_buffer',
            '  File "/app/thumbnailer/render.py", line 58 in make_thumbnail',
            '  File "/app/thumbnailer/worker.py", line 112 in handle',
            '  File "/app/thumbnailer/worker.py", line 141 in run',
            '  File "/app/thumbnailer/__main__.py", line 9 in <module>',
            "",
            "Extension modules: _cffi_backend, yaml._yaml, charset_normalizer.md (total: 3)",
        ]
        app.lines += [(crash + timedelta(microseconds=i), line) for i, line in enumerate(trace)]
    cluster.ask(
        "segv-1", "The thumbnailer pods have been restarting non-stop since the 5.0.1 release. What is killing them?",
        "The worker crashes in native code: CPython reports 'Fatal Python error: Segmentation fault' inside pyvips/libvips "
        "(thumbnail_buffer called from make_thumbnail) while thumbnailing HEIC uploads; the container exits with code 139 "
        "(SIGSEGV) and is in CrashLoopBackOff.",
        "segfault", Evidence(pods[0].namespace, pods[0].name, "Fatal Python error: Segmentation fault"),
        facts=("Segmentation fault|SIGSEGV|segfault|139", "vips|HEIC"),
    )
    cluster.ask(
        "segv-2", "Is thumbnailer being OOM-killed?",
        "No. Its last termination is reason Error with exit code 139 (128 + signal 11, SIGSEGV): a segmentation fault in libvips, "
        "not an out-of-memory kill (that would be OOMKilled, exit code 137).",
        "segfault", Evidence(pods[1].namespace, pods[1].name, "Segmentation fault"),
        facts=("139|SIGSEGV|segmentation fault|segfault",),
    )


def go_nil_panic(cluster: SampleCluster) -> None:
    """token-service 1.19.0 panics at start-up (nil key rotator when no signing key source is set): exit 2."""
    pods = cluster.pods_of("identity", "token-service")
    for index, pod in enumerate(pods):
        exited = 0.9 + 1.7 * index
        _crash_loop(cluster, pod, 31 - 4 * index, 2, exited, 140)
        base = ago(exited) - timedelta(seconds=2)
        addr = f"0xc000{cluster.rng.getrandbits(24):06x}"
        app = pod.containers[0]
        app.lines += [
            _zap(base, "info", "token-service/main.go:61", "starting token-service", version="1.19.0", listen=":8443"),
            _zap(base + timedelta(milliseconds=4), "info", "config/load.go:88", "configuration loaded", file="/etc/token-service/config.yaml"),
            _zap(base + timedelta(milliseconds=5), "warn", "keys/rotator.go:41", "signing key source not configured, key rotation disabled",
                 source=""),
        ]
        panic = [
            "panic: runtime error: invalid memory address or nil pointer dereference",
            "[signal SIGSEGV: segmentation violation code=0x1 addr=0x28 pc=0xb1e3f4]",
            "",
            "goroutine 1 [running]:",
            "github.com/acme/identity/internal/keys.(*Rotator).Current(0x0)",
            "\t/src/internal/keys/rotator.go:74 +0x14",
            f"github.com/acme/identity/internal/server.New({addr}, 0x0)",
            "\t/src/internal/server/server.go:58 +0x9a",
            "main.main()",
            "\t/src/cmd/token-service/main.go:97 +0x4c5",
        ]
        moment = base + timedelta(milliseconds=7)
        app.lines += [(moment + timedelta(microseconds=i), line) for i, line in enumerate(panic)]
    cluster.ask(
        "panic-1", "Nobody can log in and the token-service pods keep restarting. Why does it crash?",
        "token-service 1.19.0 panics at start-up: 'invalid memory address or nil pointer dereference' in "
        "keys.(*Rotator).Current (rotator.go:74), called from server.New with a nil rotator; the container exits with code 2 "
        "and is in CrashLoopBackOff.",
        "go-panic", Evidence(pods[0].namespace, pods[0].name, "invalid memory address or nil pointer dereference"),
        facts=("nil pointer", "Rotator|rotator.go"),
    )
    cluster.ask(
        "panic-2", "Is the token-service outage a configuration problem or a code bug?",
        "Both: version 1.19.0 starts with no signing key source configured (it logs 'signing key source not configured, key rotation "
        "disabled'), and instead of refusing that config it calls (*Rotator).Current on the nil rotator and panics with a nil pointer "
        "dereference.",
        "go-panic", Evidence(pods[1].namespace, pods[1].name, "signing key source not configured"),
        facts=("signing key source|key source", "nil pointer"),
    )


def fd_exhaustion(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """One api-gateway replica leaks idle upstream connections until it hits its 1024 file-descriptor limit."""
    pods = cluster.pods_of("gateway", "api-gateway")
    leaky, healthy = pods[0], pods[1]
    app = leaky.containers[0]
    app.lines.append(_json(leaky.start, "info", "open file limit", soft=1024, hard=524288))
    full = 80.0
    for minutes in range(360, int(full) - 1, -15):
        share = (360 - minutes) / (360 - full)
        fds = min(1024, int(290 + share * (1024 - 290)))
        active = cluster.rng.randint(28, 46)
        app.lines.append(_json(ago(minutes), "info", "connection stats", open_fds=fds, active_conns=active,
                               idle_upstream_conns=fds - active - 12))
    upstreams = (("orders-api.orders.svc.cluster.local:8080", "10.96.88.14:8080"),
                 ("media-api.media.svc.cluster.local:8080", "10.96.52.203:8080"))
    for step, minutes in enumerate(range(int(full) - 2, 0, -3)):
        delay = ("5ms", "10ms", "20ms", "40ms", "80ms", "160ms", "320ms", "640ms", "1s")[min(step, 8)]
        app.lines.append(_golog(ago(minutes), f"http: Accept error: accept tcp [::]:8443: accept4: too many open files; retrying in {delay}"))
        host, address = upstreams[step % 2]
        app.lines.append(_json(ago(minutes - 1), "error", "upstream request failed", upstream=host, status=502,
                               error=f"dial tcp {address}: socket: too many open files"))
        if minutes % 15 == 0:
            app.lines.append(_json(ago(minutes - 0.5), "info", "connection stats", open_fds=1024, active_conns=cluster.rng.randint(3, 9),
                                   idle_upstream_conns=1024 - 21))
    healthy.containers[0].lines.append(_json(ago(140), "debug", "forwarding request", path="/v1/orders",
                                             authorization=f"Bearer {secrets.jwt}"))
    cluster.ask(
        "fd-1", "Since roughly 10:40 about half of the requests through our API gateway fail with 502s or resets. What's going on?",
        f"One api-gateway replica ({leaky.name}) has run out of file descriptors: its listener fails with 'accept4: too many open "
        "files' and its upstream dials fail with 'socket: too many open files' (502). Its soft limit is 1024 open files and its "
        "idle upstream connections have been piling up until they reached it; the other replica is fine.",
        "fd-exhaustion", Evidence(leaky.namespace, leaky.name, "too many open files"),
        facts=("too many open files|file descriptor|EMFILE", "1024"),
    )
    cluster.ask(
        "fd-2", "Is one of the gateway replicas leaking connections?",
        f"Yes, {leaky.name}: its connection stats show idle upstream connections growing all morning while active connections stay "
        "flat, until open_fds reached its 1024 limit (a leak of idle upstream connections); since then it cannot accept clients.",
        "fd-exhaustion", Evidence(leaky.namespace, leaky.name, '"msg": "connection stats"'),
        facts=("idle|leak", "1024|file descriptor"),
    )


def disk_full(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """orders-db's 20Gi volume filled up: every INSERT fails with 'No space left on device'."""
    (database,) = cluster.pods_of("orders", "orders-db")
    database.claims = [f"data-{database.name}"]
    db = database.containers[0]
    db.noise = False
    for minutes in range(355, 60, -30):
        moment = ago(minutes)
        db.lines += [
            _postgres(moment, 27, "LOG", "checkpoint starting: time"),
            _postgres(moment + timedelta(seconds=179), 27, "LOG", (
                f"checkpoint complete: wrote {cluster.rng.randint(1500, 2600)} buffers ({cluster.rng.uniform(9, 16):.1f}%); "
                f"0 WAL file(s) added, 0 removed, {cluster.rng.randint(1, 4)} recycled; write=179.911 s, sync=0.012 s, "
                f"total=179.963 s; sync files=41, longest=0.004 s, average=0.001 s; distance={cluster.rng.randint(28000, 34000)} kB, "
                f"estimate=31204 kB")),
        ]
    statement = "INSERT INTO order_events (order_id, kind, payload, created_at) VALUES ($1, $2, $3, now())"
    for step, seconds in enumerate(range(62 * 60, 0, -90)):
        moment = NOW - timedelta(seconds=seconds)
        pid = 48213 + step
        db.lines += [
            _postgres(moment, pid, "ERROR", 'could not extend file "base/16384/24673.3": No space left on device'),
            _postgres(moment, pid, "HINT", "Check free disk space."),
            _postgres(moment, pid, "STATEMENT", statement),
        ]
    api_pods = cluster.pods_of("orders", "orders-api")
    api_pods[0].containers[0].lines.append(_json(ago(330), "info", "database configured", dsn=(
        f"postgres://orders:{secrets.url_password}@{database.name}.orders-db.orders.svc.cluster.local:5432/orders?sslmode=disable")))
    for index, pod in enumerate(api_pods):
        for minutes in range(61 - index, 0, -2 - index):
            order = f"ord_{cluster.rng.getrandbits(48):012x}"
            pod.containers[0].lines.append(_json(ago(minutes), "error", "create order failed", order_id=order, status=500,
                                                 error='pq: could not extend file "base/16384/24673.3": No space left on device'))
    cluster.ask(
        "disk-1", "Since about 11:00 nobody can place an order, although browsing order history still works. Where is it failing?",
        f"In the database: PostgreSQL {database.name} has run out of disk. Its data volume (PVC data-{database.name}) is full, so every "
        "INSERT fails with 'could not extend file ...: No space left on device', and orders-api returns 500 on create; reads still work.",
        "disk-full", Evidence(database.namespace, database.name, "No space left on device"),
        facts=("No space left|disk full|out of disk|out of space|volume is full", "orders-db"),
    )
    cluster.ask(
        "disk-2", "Is the orders database healthy?",
        f"No. {database.name} is up, but its volume data-{database.name} is full: writes fail with 'No space left on device' "
        "(HINT: Check free disk space) since about 11:00.",
        "disk-full", Evidence(database.namespace, database.name, "could not extend file"),
        facts=("No space left|full", f"data-{database.name}"),
    )


def rotated_db_password(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """The DB password Secret was rotated, Reloader restarted loyalty-api with it, but the DB role still has the old one."""
    rotated = 228.0
    reloader = cluster.pods_of("platform", "reloader-reloader")[0]
    reloader.containers[0].noise = False
    reloader.containers[0].env = [{"name": "ALERT_ON_RELOAD", "value": "true"}, {"name": "ALERT_SINK", "value": "slack"},
                                  {"name": "ALERT_WEBHOOK_URL", "value": secrets.slack_webhook}]
    reloader.containers[0].lines += [
        _logrus(reloader.start, "info", "Environment: Kubernetes"),
        _logrus(reloader.start + timedelta(seconds=1), "info", "Starting Reloader"),
        _logrus(reloader.start + timedelta(seconds=1), "info", "created controller for: configMaps"),
        _logrus(reloader.start + timedelta(seconds=1), "info", "created controller for: secrets"),
        _logrus(ago(rotated), "info", "Changes detected in 'loyalty-db-credentials' of type 'SECRET' in namespace 'loyalty'"),
        _logrus(ago(rotated) + timedelta(milliseconds=30), "info", "Updated 'loyalty-api' of type 'Deployment' in namespace 'loyalty'"),
    ]
    pods = cluster.pods_of("loyalty", "loyalty-api")
    new_rs, old_rs = pods[0].owner[1], f"loyalty-api-{cluster.suffix(10)}"
    deployment = ("Deployment", "loyalty", "loyalty-api")
    for offset, message in enumerate((f"Scaled up replica set {new_rs} to 1", f"Scaled down replica set {old_rs} to 1 from 2",
                                       f"Scaled up replica set {new_rs} to 2 from 1", f"Scaled down replica set {old_rs} to 0 from 1")):
        cluster.event(deployment, "ScalingReplicaSet", message, ago(rotated - 0.01 - 0.3 * offset), component="deployment-controller")
    (database,) = cluster.pods_of("loyalty", "loyalty-db")
    database.containers[0].noise = False
    failure = 'password authentication failed for user "loyalty_app"'
    hba = 'Connection matched file "/var/lib/postgresql/data/pg_hba.conf" line 128: "host all all all scram-sha-256"'
    for index, pod in enumerate(pods):
        _pin(cluster, pod, pod.node, rotated - 0.3 - 0.6 * index)
        app = pod.containers[0]
        app.env = [{"name": "DB_HOST", "value": "loyalty-db.loyalty.svc.cluster.local"}, {"name": "DB_USER", "value": "loyalty_app"},
                   {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "loyalty-db-credentials", "key": "password"}}}]
        app.lines.append(_pylog(pod.start + timedelta(seconds=3), "INFO", "loyalty.api",
                                "loyalty-api 2.0.7 listening on :8080, database loyalty_app@loyalty-db.loyalty.svc.cluster.local:5432/loyalty"))
        for step, minutes in enumerate(range(int(rotated) - 1 - index, 0, -4)):
            moment = ago(minutes)
            app.lines.append(_pylog(moment, "ERROR", "loyalty.api", (
                "request failed: (psycopg2.OperationalError) connection to server at \"loyalty-db.loyalty.svc.cluster.local\" "
                f"(10.96.41.7), port 5432 failed: FATAL:  {failure}")))
            pid = 4121 + 2 * step + index
            database.containers[0].lines += [_postgres(moment - timedelta(milliseconds=4), pid, "FATAL", failure),
                                             _postgres(moment - timedelta(milliseconds=4), pid, "DETAIL", hba)]
    cluster.ask(
        "auth-1", "The loyalty points API has answered every request with an error since early this morning. What's wrong?",
        "loyalty-api cannot log in to its database: PostgreSQL rejects user loyalty_app with 'password authentication failed'. "
        "At 08:12 the Secret loyalty-db-credentials changed and Reloader restarted loyalty-api with the new password, but the "
        "loyalty_app role in loyalty-db still has the old one.",
        "db-auth", Evidence(pods[0].namespace, pods[0].name, "password authentication failed for user"),
        facts=("password authentication failed|wrong password|password mismatch", "loyalty-db-credentials"),
    )
    cluster.ask(
        "auth-2", "What changed for the loyalty service around 08:12?",
        "The Secret loyalty-db-credentials was rotated: Reloader detected the change and rolled the loyalty-api Deployment, and the "
        "new pods have failed to authenticate to loyalty-db ever since (password authentication failed for loyalty_app).",
        "db-auth", Evidence(reloader.namespace, reloader.name, "Changes detected in 'loyalty-db-credentials'"),
        facts=("loyalty-db-credentials", "Reloader|rolled|restart"),
    )


def webhook_without_endpoints(cluster: SampleCluster) -> None:
    """kube-downscaler took Gatekeeper's webhook to 0 replicas; its fail-closed webhook now rejects every new pod."""
    scaled = 300.0
    downscaler = cluster.pods_of("platform", "kube-downscaler")[0]
    down = downscaler.containers[0]
    down.noise = False
    config = ("debug=False, default_downtime=never, default_uptime=always, downscale_period=never, downtime_replicas=0, dry_run=False, "
              "exclude_deployments=kube-downscaler,downscaler, exclude_namespaces=kube-system, grace_period=900, "
              "include_resources=deployments, interval=60, namespace=, once=False, upscale_period=never")

    def line(moment: datetime, text: str) -> tuple[datetime, str]:
        return moment, f"{moment:%Y-%m-%d %H:%M:%S},{moment.microsecond // 1000:03d} INFO: {text}"

    down.lines += [
        line(downscaler.start, f"Downscaler v24.8.2 started with {config}"),
        line(ago(scaled), ("Scaling down Deployment gatekeeper-system/gatekeeper-controller-manager from 3 to 0 replicas "
                           "(uptime: always, downtime: Sat-Sun 08:00-24:00 Europe/Berlin)")),
    ]
    manager = ("Deployment", "gatekeeper-system", "gatekeeper-controller-manager")
    cluster.event(manager, "ScaleDown", "Scaling down replicas", ago(scaled), component="kube-downscaler")
    cluster.event(manager, "ScalingReplicaSet", f"Scaled down replica set gatekeeper-controller-manager-{cluster.suffix(10)} to 0 from 3",
                  ago(scaled - 0.01), component="deployment-controller")
    rolled = 52.0
    new_rs = f"push-dispatcher-{cluster.suffix(10)}"
    cluster.event(("Deployment", "notifications", "push-dispatcher"), "ScalingReplicaSet", f"Scaled up replica set {new_rs} to 1",
                  ago(rolled), component="deployment-controller")
    message = ('Error creating: Internal error occurred: failed calling webhook "validation.gatekeeper.sh": failed to call webhook: '
               'Post "https://gatekeeper-webhook-service.gatekeeper-system.svc:443/v1/admit?timeout=3s": '
               'no endpoints available for service "gatekeeper-webhook-service"')
    cluster.event(("ReplicaSet", "notifications", new_rs), "FailedCreate", message, ago(0.6), warning=True, count=31,
                  component="replicaset-controller", first=ago(rolled))
    cluster.ask(
        "webhook-1", "I rolled out push-dispatcher 1.13 almost an hour ago and not one new pod has appeared. Why?",
        f"The API server rejects every pod the new ReplicaSet {new_rs} tries to create (FailedCreate): the Gatekeeper validating "
        "admission webhook validation.gatekeeper.sh cannot be called — no endpoints available for service "
        "gatekeeper-webhook-service — and it fails closed.",
        "webhook", Evidence("notifications", new_rs, 'failed calling webhook "validation.gatekeeper.sh"'),
        facts=("webhook", "gatekeeper|no endpoints"),
    )
    cluster.ask(
        "webhook-2", "Where did the Gatekeeper controller pods go?",
        "kube-downscaler scaled the Deployment gatekeeper-system/gatekeeper-controller-manager from 3 to 0 replicas at 07:00 UTC "
        "(downtime schedule Sat-Sun 08:00-24:00 Europe/Berlin), so Gatekeeper's webhook service has no endpoints.",
        "webhook", Evidence(downscaler.namespace, downscaler.name, "gatekeeper-system/gatekeeper-controller-manager from 3 to 0"),
        facts=("downscaler", "to 0|0 replicas|zero|scaled down"),
    )


def private_registry_unauthorized(cluster: SampleCluster) -> None:
    """experiments-ui now pulls from the private Harbor project, but the pod has no imagePullSecrets: 401."""
    image = "harbor.corp.example.com/growth/experiments-ui:1.8.0"
    (pod,) = add_pods(cluster, _workload("growth", "experiments-ui"), 1, image=image)
    _forget(cluster, pod)
    pod.start, pod.phase = ago(41), "Pending"
    app = pod.containers[0]
    app.ready, app.noise = False, False
    app.state = {"waiting": {"reason": "ImagePullBackOff", "message": f'Back-off pulling image "{image}"'}}
    manifest = "https://harbor.corp.example.com/v2/growth/experiments-ui/manifests/1.8.0"
    failure = (f'Failed to pull image "{image}": rpc error: code = Unknown desc = failed to pull and unpack image "{image}": '
               f'failed to resolve reference "{image}": unexpected status from HEAD request to {manifest}: 401 Unauthorized')
    ref = ("Pod", pod.namespace, pod.name)
    cluster.event(ref, "Scheduled", f"Successfully assigned {pod.namespace}/{pod.name} to {pod.node}", ago(41), component="default-scheduler")
    cluster.event(ref, "Pulling", f'Pulling image "{image}"', ago(1.3), host=pod.node, count=12, first=ago(41))
    cluster.event(ref, "Failed", failure, ago(1.3), warning=True, host=pod.node, count=12, first=ago(41))
    cluster.event(ref, "Failed", "Error: ErrImagePull", ago(1.3), warning=True, host=pod.node, count=12, first=ago(41))
    cluster.event(ref, "BackOff", f'Back-off pulling image "{image}"', ago(0.2), host=pod.node, count=171, first=ago(40.8))
    cluster.event(ref, "Failed", "Error: ImagePullBackOff", ago(0.2), warning=True, host=pod.node, count=171, first=ago(40.8))
    cluster.ask(
        "pull-1", "The experiments dashboard deploy from this morning never came up. Is the new image broken?",
        f"The image is never fetched: pulling {image} from the private Harbor registry gets 401 Unauthorized because the pod has no "
        "imagePullSecrets (no registry credentials), so it sits in ImagePullBackOff.",
        "registry-auth", Evidence(pod.namespace, pod.name, "401 Unauthorized"),
        facts=("401|Unauthorized", "imagePullSecret|pull secret|credentials"),
    )
    cluster.ask(
        "pull-2", "Can our nodes reach the new Harbor registry at all?",
        "Yes, Harbor answers, but with 401 Unauthorized to the anonymous HEAD request for the experiments-ui:1.8.0 manifest: the pod "
        "needs an imagePullSecret for the private project and has none.",
        "registry-auth", Evidence(pod.namespace, pod.name, "unexpected status from HEAD request"),
        facts=("401|Unauthorized", "imagePullSecret|pull secret|credentials"),
    )


def multi_attach(cluster: SampleCluster) -> None:
    """The RabbitMQ upgrade moved rabbitmq-1 to cpu-1, but its RWO volume is still attached to cpu-4."""
    first, second, third = cluster.pods_of("messaging", "rabbitmq")
    image = "docker.io/library/rabbitmq:3.13.7-management"
    for pod in (first, second, third):
        pod.claims = [f"data-{pod.name}"]
    sts = ("StatefulSet", "messaging", "rabbitmq")
    cluster.event(sts, "SuccessfulDelete", f"delete Pod {third.name} in StatefulSet rabbitmq successful", ago(56),
                  component="statefulset-controller")
    cluster.event(sts, "SuccessfulCreate", f"create Pod {third.name} in StatefulSet rabbitmq successful", ago(55.9),
                  component="statefulset-controller")
    third.containers[0].image = image
    _pin(cluster, third, "cpu-4", 55.8)
    cluster.event(sts, "SuccessfulDelete", f"delete Pod {second.name} in StatefulSet rabbitmq successful", ago(47.6),
                  component="statefulset-controller")
    cluster.event(sts, "SuccessfulCreate", f"create Pod {second.name} in StatefulSet rabbitmq successful", ago(47.5),
                  component="statefulset-controller")
    _forget(cluster, second)
    second.node, second.start, second.phase = "cpu-1", ago(47.5), "Pending"
    app = second.containers[0]
    app.image, app.ready, app.noise = image, False, False
    app.state = {"waiting": {"reason": "ContainerCreating", "message": ""}}
    volumes = {pod.name: f"vol-0{cluster.rng.getrandbits(64):016x}" for pod in (second, third)}
    pv = f"pvc-{cluster.uid()}"
    old = cluster.node_named("cpu-4")
    handles = [f"kubernetes.io/csi/ebs.csi.aws.com^{volumes[pod.name]}" for pod in (second, third)]
    old["status"]["volumesInUse"] = handles
    old["status"]["volumesAttached"] = [{"name": handle, "devicePath": ""} for handle in handles]
    ref = ("Pod", second.namespace, second.name)
    cluster.event(ref, "Scheduled", f"Successfully assigned {second.namespace}/{second.name} to cpu-1", ago(47.4),
                  component="default-scheduler")
    cluster.event(ref, "FailedAttachVolume", (f'Multi-Attach error for volume "{pv}" Volume is already exclusively attached to one '
                                              "node and can't be attached to another"),
                  ago(1.1), warning=True, count=24, component="attachdetach-controller", first=ago(47.4))
    cluster.event(ref, "FailedMount", (f"Unable to attach or mount volumes: unmounted volumes=[data], unattached volumes=[data "
                                       f"kube-api-access-{cluster.suffix()}]: timed out waiting for the condition"),
                  ago(0.8), warning=True, count=21, host="cpu-1", first=ago(45.3))
    cluster.ask(
        "attach-1", "rabbitmq-1 has been stuck in ContainerCreating for three quarters of an hour since the upgrade. Why?",
        f"Its data volume (PVC data-{second.name}, {pv}) cannot be attached to cpu-1: the attach/detach controller reports a "
        "Multi-Attach error — the ReadWriteOnce EBS volume is still attached to the old node cpu-4 (listed in its volumesAttached "
        "and volumesInUse) — so the kubelet times out waiting to mount it.",
        "multi-attach", Evidence(second.namespace, second.name, "Multi-Attach error for volume"),
        facts=("Multi-Attach|exclusively attached|already attached|still attached", "cpu-4|another node|other node|ReadWriteOnce"),
    )
    cluster.ask(
        "attach-2", "Has the RabbitMQ upgrade finished?",
        f"No. {third.name} runs 3.13.7, {first.name} is still on 3.12.14, and the rolling update is stuck on {second.name}: its "
        "volume cannot attach to cpu-1 while it is still attached to cpu-4 (Multi-Attach error), so the pod stays in ContainerCreating.",
        "multi-attach", Evidence(second.namespace, second.name, "Unable to attach or mount volumes"),
        facts=(second.name, "attach"),
    )


def gpu_ecc(cluster: SampleCluster) -> None:
    """A GPU on gpu-h100-4 hit an uncorrectable ECC error (Xid 48): the training run died, the GPU went unhealthy."""
    name, failed = "gpu-h100-4", 83.0
    (pod,) = add_pods(cluster, _workload("perception", "segformer-train"), 1, node=name)
    _pin(cluster, pod, name, 300)
    pod.phase = "Failed"
    trainer = pod.containers[0]
    trainer.ready = False
    trainer.state = {"terminated": {"reason": "Error", "exitCode": 1, "startedAt": stamp(300), "finishedAt": stamp(failed)}}
    trace = [
        "Traceback (most recent call last):",
        '  File "/workspace/train_segformer.py", line 301, in <module>',
        "    main()",
        '  File "/workspace/train_segformer.py", line 262, in main',
        "    loss.backward()",
        '  File "/usr/local/lib/python3.11/site-packages/torch/_tensor.py", line 581, in backward',
        "    torch.autograd.backward(",
        '  File "/usr/local/lib/python3.11/site-packages/torch/autograd/__init__.py", line 347, in backward',
        "    _engine_run_backward(",
        '  File "/usr/local/lib/python3.11/site-packages/torch/autograd/graph.py", line 825, in _engine_run_backward',
        "    return Variable._execution_engine.run_backward(  # Calls into the C++ engine to run the backward pass",
        "RuntimeError: CUDA error: uncorrectable ECC error encountered",
        "CUDA kernel errors might be asynchronously reported at some other API call, so the stacktrace below might be incorrect.",
        "For debugging consider passing CUDA_LAUNCH_BLOCKING=1",
        "Compile with `TORCH_USE_CUDA_DSA` to enable device-side assertions.",
    ]
    crash = ago(failed) - timedelta(seconds=2)
    trainer.lines.append((ago(failed + 4), f"[{iso(ago(failed + 4), 0)}] INFO epoch 7/40: starting (4 GPUs, global batch 64)"))
    trainer.lines += [(crash + timedelta(microseconds=i), line) for i, line in enumerate(trace)]
    _event(cluster, ("Job", pod.namespace, "segformer-train"), "BackoffLimitExceeded", "Job has reached the specified backoff limit",
           ago(failed - 0.2), warning=True, component="job-controller")
    plugin = next(p for p in cluster.pods_of("kube-system", "nvidia-device-plugin-daemonset") if p.node == name)
    device = f"GPU-{cluster.uid()}"
    plugin.containers[0].lines += [
        _klog(cluster, "I", ago(failed + 0.05), "health.go:159",
              "Processing event {Device:0xc000b5c2a0 EventType:8 EventData:48 GpuInstanceId:4294967295 ComputeInstanceId:4294967295}"),
        _klog(cluster, "I", ago(failed + 0.04), "health.go:185", f"XidCriticalError: Xid=48 on Device={device}; marking device as unhealthy."),
    ]
    node = cluster.node_named(name)
    node["status"]["allocatable"]["nvidia.com/gpu"] = "7"
    cluster.ask(
        "ecc-1", "The segformer training run died mid-epoch with a CUDA error. Is it a bug in our training code?",
        f"No, it is the hardware: a GPU on {name} hit an uncorrectable (double-bit) ECC memory error. The trainer failed in "
        "backward() with 'CUDA error: uncorrectable ECC error encountered', and at the same moment the NVIDIA device plugin saw "
        "Xid 48 on that GPU and marked it unhealthy.",
        "gpu-ecc", Evidence(pod.namespace, pod.name, "uncorrectable ECC error encountered"),
        facts=("ECC|Xid 48|Xid=48|double-bit|double bit", name),
    )
    cluster.ask(
        "ecc-2", "Which GPU machine needs to be drained and sent for repair?",
        f"{name}: one of its GPUs reported Xid 48 (uncorrectable double-bit ECC error) and the device plugin marked it unhealthy; "
        "the node now advertises only 7 of its 8 nvidia.com/gpu.",
        "gpu-ecc", Evidence(plugin.namespace, plugin.name, "Xid=48"),
        facts=(name, "Xid 48|Xid=48|ECC"),
    )


def _scheduling_message(cluster: SampleCluster, tolerated: tuple[str, ...], selected, resource: str, amount: int) -> str:
    """kube-scheduler's FailedScheduling text for a pod, node by node in its filter order (sorted like it sorts reasons)."""
    reasons: Counter[str] = Counter()
    victims = 0
    for node in cluster.nodes:
        spec = node["spec"]
        taint = next((t for t in spec.get("taints", []) if t["effect"] != "PreferNoSchedule" and t["key"] not in tolerated), None)
        if spec.get("unschedulable"):
            reasons["node(s) were unschedulable"] += 1
        elif taint:
            reasons[f"node(s) had untolerated taint {{{taint['key']}: {taint.get('value', '')}}}"] += 1
        elif not selected(node):
            reasons["node(s) didn't match Pod's node affinity/selector"] += 1
        else:
            name = node["metadata"]["name"]
            used = sum(p.workload.gpus for p in cluster.pods if p.node == name and p.phase in ("Running", "Pending")
                       and p.workload.gpu_vendor == "amd")
            if int(node["status"]["allocatable"].get(resource, "0")) - used < amount:
                reasons[f"Insufficient {resource}"] += 1
                victims += 1
    total = len(cluster.nodes)
    found = ", ".join(f"{count} {reason}" for reason, count in sorted(reasons.items()))
    return (f"0/{total} nodes are available: {found}. preemption: 0/{total} nodes are available: {victims} No preemption victims found "
            f"for incoming pod, {total - victims} Preemption is not helpful for scheduling.")


def amd_driver_missing(cluster: SampleCluster) -> None:
    """amd-mi300x-1 booted a kernel with no amdgpu module: no /sys/class/kfd, so the ROCm plugin offers no GPUs."""
    name, joined = "amd-mi300x-1", 20 * 60.0
    loaders = cluster.pods_of("kube-amd-gpu", "amdgpu-driver-loader")
    plugins = cluster.pods_of("kube-system", "amdgpu-device-plugin-daemonset")
    (loader,) = add_pods(cluster, loaders[0].workload, 1, node=name)
    (plugin,) = add_pods(cluster, plugins[0].workload, 1, node=name)
    for pod in (loader, plugin):
        _pin(cluster, pod, name, joined)
    for pod in [*loaders, loader]:
        pod.containers[0].noise = False
    for pod in [*plugins, plugin]:
        pod.containers[0].noise = False
        lines = pod.containers[0].lines
        lines += [
            _klog(cluster, "I", pod.start, "main.go:140", "AMD GPU device plugin for Kubernetes"),
            _klog(cluster, "I", pod.start, "main.go:140", "./k8s-device-plugin version v1.31.0.6-0-g3b4cd6b"),
            _klog(cluster, "I", pod.start + timedelta(seconds=1), "main.go:163", "Heart beating every 30 seconds"),
        ]
        if pod is not plugin:
            lines.append(_klog(cluster, "I", pod.start + timedelta(seconds=2), "plugin.go:160", "Found 8 AMDGPUs"))
    for pod in loaders:
        kernel = cluster.node_named(pod.node)["status"]["nodeInfo"]["kernelVersion"]
        pod.containers[0].lines += [(pod.start, f"Loading amdgpu 6.8.5 for kernel {kernel}"),
                                    (pod.start + timedelta(seconds=6), "amdgpu loaded: /sys/class/kfd present")]
    _crash_loop(cluster, loader, 214, 1, 3.5, joined - 1)
    loader.containers[0].lines += [
        (ago(3.5) - timedelta(seconds=1), f"Loading amdgpu 6.8.5 for kernel {NEW_KERNEL}"),
        (ago(3.5), f"modprobe: FATAL: Module amdgpu not found in directory /lib/modules/{NEW_KERNEL}"),
    ]
    # The folding screen: two 8-GPU workers for the MI300X pool; the only healthy MI300X node holds one of them.
    for pod in cluster.pods_of("ml-training", "resnet-train"):
        if pod.node == "amd-mi300x-0":
            _pin(cluster, pod, "amd-mi300x-legacy-0")
    workload = _workload("biosim", "fold-screen")
    running, waiting = (add_pods(cluster, workload, 1, node="amd-mi300x-0")[0] for _ in range(2))
    for index, pod in enumerate((running, waiting)):
        _forget(cluster, pod)
        pod.name = f"fold-screen-{index}-{cluster.suffix()}"
    _pin(cluster, running, "amd-mi300x-0", 190)
    cluster.unschedule(waiting)
    waiting.start = ago(190)
    message = _scheduling_message(
        cluster, ("amd.com/gpu",), lambda n: n["metadata"]["labels"].get("node.kubernetes.io/instance-type") == "ND96isr_MI300X_v5",
        "amd.com/gpu", workload.gpus)
    cluster.event(("Pod", waiting.namespace, waiting.name), "FailedScheduling", message, ago(2), warning=True, count=64,
                  component="default-scheduler", first=ago(190))
    cluster.ask(
        "amd-1", "We added a second MI300X server yesterday, but it shows zero allocatable GPUs. Why?",
        f"Its amdgpu kernel driver never loaded: {name} boots kernel {NEW_KERNEL}, for which no amdgpu module exists, so the driver "
        f"loader's modprobe fails ('Module amdgpu not found in directory /lib/modules/{NEW_KERNEL}') and crash-loops. Without the "
        "driver there is no /sys/class/kfd, and the ROCm device plugin registers no amd.com/gpu on that node.",
        "amd-driver", Evidence(loader.namespace, loader.name, "Module amdgpu not found in directory"),
        facts=("amdgpu", "kernel|modprobe|driver"),
    )
    cluster.ask(
        "amd-2", "One of the two protein-folding workers has been waiting for hours. What is it waiting for?",
        f"A free MI300X: {running.name} holds all 8 GPUs of amd-mi300x-0, and {name} offers no amd.com/gpu at all because its "
        "amdgpu driver failed to load, so the scheduler reports Insufficient amd.com/gpu on both MI300X nodes.",
        "amd-driver", Evidence(waiting.namespace, waiting.name, "Insufficient amd.com/gpu"),
        facts=("Insufficient amd.com/gpu|no free|no amd.com/gpu", name),
    )


def unknown_authority(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """payments-gateway's certificate was reissued by a new internal CA (G2) that partner-sync's CA bundle doesn't trust."""
    switched = 180.0
    (client,) = cluster.pods_of("integrations", "partner-sync")
    gateways = cluster.pods_of("payments", "payments-gateway")
    for pod in gateways:
        pod.containers[0].lines.append(_json(ago(switched + 0.5), "info", "TLS certificate reloaded",
                                             subject="CN=payments-gateway.payments.svc", issuer="CN=Acme Internal CA G2, O=Acme Corp",
                                             not_after="2026-06-12T09:00:00Z"))
        for minutes in range(int(switched) - 1, 0, -5):
            port = cluster.rng.randint(32768, 60999)
            pod.containers[0].lines.append(_golog(ago(minutes), f"http: TLS handshake error from {_pod_ip(client)}:{port}: "
                                                                "remote error: tls: bad certificate"))
    app = client.containers[0]
    app.lines += [
        _json(client.start, "info", "loaded CA bundle", path="/etc/internal-ca/ca.crt", certificates=["CN=Acme Internal CA, O=Acme Corp"]),
        _json(ago(330), "debug", "outgoing request", url="https://api.partner-bank.example.net/v3/settlements",
              headers=f"Authorization: Bearer {secrets.bearer_token}"),
    ]
    for minutes in range(355, int(switched), -15):
        app.lines.append(_json(ago(minutes), "info", "settlement batch pushed", batch=cluster.rng.randint(880000, 889999), status=201))
    error = ('Post "https://payments-gateway.payments.svc:8443/v1/settlements": tls: failed to verify certificate: x509: certificate '
             'signed by unknown authority (possibly because of "crypto/rsa: verification error" while trying to verify candidate '
             'authority certificate "Acme Internal CA")')
    for minutes in range(int(switched) - 1, 0, -5):
        app.lines.append(_json(ago(minutes), "error", "settlement push failed", batch=cluster.rng.randint(890000, 899999), error=error))
    cluster.ask(
        "ca-1", "partner-sync stopped pushing settlements to payments around 09:00. What's going on?",
        "TLS verification fails: partner-sync rejects payments-gateway's certificate with 'x509: certificate signed by unknown "
        "authority'. At 09:00 the gateway reloaded a certificate issued by the new Acme Internal CA G2, but partner-sync's CA bundle "
        "(/etc/internal-ca/ca.crt) only contains the old Acme Internal CA.",
        "unknown-ca", Evidence(client.namespace, client.name, "certificate signed by unknown authority"),
        facts=("unknown authority", "G2|CA bundle|trust"),
    )
    cluster.ask(
        "ca-2", "payments-gateway is logging lots of TLS handshake errors. Is the gateway broken?",
        "No, those are a client aborting the handshake: since its certificate was reissued by Acme Internal CA G2 at 09:00, "
        "partner-sync does not trust it (certificate signed by unknown authority) and answers with a bad-certificate alert. The fix "
        "is the client's CA bundle, not the gateway.",
        "unknown-ca", Evidence(gateways[0].namespace, gateways[0].name, "remote error: tls: bad certificate"),
        facts=("unknown authority|not trust|doesn't trust", "G2|CA bundle"),
    )


def apply_all(cluster: SampleCluster) -> None:
    secrets = cluster.secrets
    _placement(cluster)
    drain_blocked_by_pdb(cluster)
    job_deadline(cluster)
    native_segfault(cluster, secrets)
    go_nil_panic(cluster)
    fd_exhaustion(cluster, secrets)
    disk_full(cluster, secrets)
    rotated_db_password(cluster, secrets)
    webhook_without_endpoints(cluster)
    private_registry_unauthorized(cluster)
    multi_attach(cluster)
    gpu_ecc(cluster)
    amd_driver_missing(cluster)
    unknown_authority(cluster, secrets)
