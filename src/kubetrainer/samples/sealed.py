"""The sealed scenario: a fifth set of incidents, kept only for honest evaluation of the on-call answers.

Selected with `build_cluster(scenario="sealed")` / `kubetrainer samples cluster
--scenario sealed`. None of its incident types, namespaces, evidence objects or
phrases appear in the default (incidents.py), heldout (heldout.py), fresh
(fresh.py) or blind (blind.py) scenarios, and it was written without reference
to any diagnosis, answering, retrieval or evaluation code, so nothing has been
tuned against it. Messages are written the way the component that prints them
does (kubelet and its eviction manager, the replicaset/deployment controllers and
the ServiceAccount admission check, the HPA, CoreDNS's loop plugin, Istio's
pilot-agent and Envoy access log, uvicorn, Redis, pino/ioredis, the HotSpot JVM and
Spring Boot, CPython's tempfile, PyTorch's CUDA initialisation and DataLoader,
Triton Inference Server and TensorRT). Each question names its evidence (object +
verbatim phrase) and the facts a right answer must state.

The helpers that every scenario writes its lines with (klog, Spring Boot, JSON and
Python logging lines; pinning pods to nodes; crash loops) are blind.py's.
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
    _pod_ip,
    _pylog,
    _spring,
    ago,
    stamp,
)
from kubetrainer.samples.cluster import add_pods
from kubetrainer.samples.model import NOW, Evidence, SampleCluster, SamplePod
from kubetrainer.samples.nodes import gpu_node, sample_nodes
from kubetrainer.samples.noise import iso
from kubetrainer.samples.secrets import FakeSecrets
from kubetrainer.samples.workloads import ContainerSpec, Workload

# When cpu-5 (the first node of the new Ubuntu 24.04 image) joined, in minutes before NOW (07:38 UTC).
JOINED = 262.0
# When gpu-v100-2, a V100 node of the old pool brought back for spare capacity, joined (09:30 UTC).
V100_BACK = 150.0
# When the underwriting namespace was enrolled in the Istio mesh and its pods restarted (08:30 UTC).
MESHED = 210.0
_PROXY_IMAGE = "docker.io/istio/proxyv2:1.20.3"
_V100_DRIVER = ("470", "223", "02")


def _meshed(namespace: str, name: str, image: str, style: str, *, replicas: int = 1, weight: float = 1.0) -> Workload:
    """An app container plus the istio-proxy sidecar Istio injects after it."""
    return Workload(namespace, name, "Deployment", (ContainerSpec("app", image, style, weight),
                                                    ContainerSpec("istio-proxy", _PROXY_IMAGE, "controller", 0.1)), replicas)


# Healthy first (the generator places each of these); the incidents then break some.
WORKLOADS: tuple[Workload, ...] = (
    _app("claims", "claims-portal", "Deployment", "registry.example.com/claims/claims-portal:3.3.1", "nginx", replicas=2, port=8080,
         weight=2.0),
    _app("claims", "claims-adjudicator", "Deployment", "registry.example.com/claims/claims-adjudicator:6.2.0", "json-api", replicas=2,
         port=8080),
    _app("documents", "docs-gateway", "Deployment", "registry.example.com/documents/docs-gateway:1.14.0", "nginx", port=8080,
         weight=1.5),
    _app("documents", "contract-renderer", "Deployment", "registry.example.com/documents/contract-renderer:4.0.2", "worker",
         replicas=2),
    _app("bookings", "slot-cache", "StatefulSet", "docker.io/library/redis:7.2.5", "redis", container="redis", port=6379, weight=0.5),
    _app("bookings", "booking-api", "Deployment", "registry.example.com/bookings/booking-api:5.1.0", "json-api", replicas=3,
         port=3000, weight=3.0),
    _app("bookings", "availability-sync", "Deployment", "registry.example.com/bookings/availability-sync:2.0.4", "worker"),
    _meshed("underwriting", "quote-api", "registry.example.com/underwriting/quote-api:8.0.1", "json-api", replicas=2, weight=2.0),
    _meshed("underwriting", "risk-scorer", "registry.example.com/underwriting/risk-scorer:1.7.0", "json-api", replicas=2),
    _meshed("underwriting", "underwriting-ui", "registry.example.com/underwriting/underwriting-ui:2.9.0", "nginx", weight=1.0),
    _app("ranking", "query-rewriter", "Deployment", "registry.example.com/ranking/query-rewriter:1.5.2", "json-api", replicas=2,
         port=8080, weight=2.0),
    _app("ranking", "passage-reranker", "Deployment", "registry.example.com/ranking/passage-reranker:3.0.0", "json-api",
         replicas=2, gpu_vendor="nvidia", gpus=1, port=8000, weight=1.5),
    _app("shelf-vision", "planogram-api", "Deployment", "registry.example.com/retail-vision/planogram-api:0.12.0", "json-api",
         port=8080),
    _app("shelf-vision", "shelf-detector", "Deployment", "nvcr.io/nvidia/tritonserver:24.05-py3", "json-api", container="triton",
         gpu_vendor="nvidia", gpus=1, port=8000),
    _app("forecasting", "forecast-api", "Deployment", "registry.example.com/forecasting/forecast-api:2.2.0", "json-api", port=8080),
    _app("marketing", "campaign-api", "Deployment", "registry.example.com/marketing/campaign-api:7.0.3", "json-api", replicas=2,
         port=8080, weight=1.5),
    _app("payouts", "payout-ledger-api", "Deployment", "registry.example.com/payouts/payout-ledger-api:3.6.0", "json-api", replicas=2,
         port=8080),
    _app("payouts", "payout-scheduler", "Deployment", "registry.example.com/payouts/payout-scheduler:1.8.3", "worker", replicas=2),
)

# Placed by their incidents, not by the generator.
_FEED_EXPORTER = _app("marketing", "feed-exporter", "Deployment", "registry.example.com/marketing/feed-exporter:2.4.0", "worker",
                      container="exporter")
_FORECAST_TRAIN = _app("forecasting", "demand-forecast-train", "Job", "registry.example.com/forecasting/tft-trainer:2026.03.1",
                       "training", container="trainer", gpu_vendor="nvidia", gpus=1)


def scenario_nodes() -> list[dict]:
    """The sample nodes plus this scenario's own.

    cpu-5 is the first node of the new Ubuntu 24.04 image (joined 07:38); its resolv.conf
    puts systemd-resolved's stub 127.0.0.53 first. gpu-v100-2 is a V100 node of the old
    pool, brought back at 09:30 for spare capacity, still on NVIDIA driver 470 (CUDA 11.4).
    """
    new = gpu_node("cpu-5", None, None, 0, cpu="16", memory="65288748Ki", instance_type="m7i.4xlarge", zone="us-east-1a")
    new["metadata"]["creationTimestamp"] = stamp(JOINED)
    new["metadata"]["labels"]["eks.amazonaws.com/nodegroup"] = "general-noble"
    new["status"]["nodeInfo"] |= {"osImage": "Ubuntu 24.04.1 LTS", "kernelVersion": "6.8.0-1016-aws"}
    old = gpu_node("gpu-v100-2", "nvidia", "Tesla-V100-SXM2-16GB", 4, cpu="32", memory="251754524Ki", instance_type="p3.8xlarge")
    old["metadata"]["creationTimestamp"] = stamp(V100_BACK)
    labels = old["metadata"]["labels"]
    for part, value in zip(("major", "minor", "revision"), _V100_DRIVER):
        labels[f"nvidia.com/cuda.driver-version.{part}"] = value
    labels["nvidia.com/cuda.driver-version.full"] = ".".join(_V100_DRIVER)
    labels |= {"nvidia.com/cuda.runtime-version.major": "11", "nvidia.com/cuda.runtime-version.minor": "4",
               "nvidia.com/cuda.runtime-version.full": "11.4"}
    old["status"]["nodeInfo"] |= {"osImage": "Ubuntu 20.04.6 LTS", "kernelVersion": "5.15.0-1051-aws"}
    return sample_nodes() + [new, old]


# ---------------------------------------------------------------- helpers


def _workload(namespace: str, name: str) -> Workload:
    return next(w for w in WORKLOADS if w.namespace == namespace and w.name == name)


def _traceback(moment: datetime, lines: list[str]) -> list[tuple[datetime, str]]:
    """Lines printed together (a traceback), a microsecond apart so they keep their order."""
    return [(moment + timedelta(microseconds=i), line) for i, line in enumerate(lines)]


def _redis(moment: datetime, pid: int, role: str, mark: str, message: str) -> tuple[datetime, str]:
    return moment, f"{pid}:{role} {moment:%d %b %Y %H:%M:%S}.{moment.microsecond // 1000:03d} {mark} {message}"


def _pino(cluster: SampleCluster, pod: SamplePod, moment: datetime, level: int, message: str, **fields) -> tuple[datetime, str]:
    """A pino line (Node.js): level number, epoch milliseconds, pid, hostname, the fields, then msg."""
    body = {"level": level, "time": int(moment.timestamp() * 1000), "pid": 1, "hostname": pod.name, **fields, "msg": message}
    return moment, json.dumps(body, separators=(",", ":"))


def _agent(moment: datetime, level: str, message: str, scope: str = "") -> tuple[datetime, str]:
    """Istio pilot-agent's log line: RFC 3339 with microseconds, tab-separated level, scope and message."""
    return moment, "\t".join(part for part in (iso(moment, 6), level, scope, message) if part)


def _proxy_start(cluster: SampleCluster, pod: SamplePod) -> None:
    """istio-proxy's start-up, then its routine reconnections to istiod every half hour."""
    proxy = pod.containers[1]
    proxy.noise = False
    start = pod.start + timedelta(seconds=1)
    ready = cluster.rng.uniform(1.2, 2.4)
    proxy.lines += [
        _agent(start, "info", 'FLAG: --concurrency="2"'),
        _agent(start + timedelta(milliseconds=2), "info", "Version 1.20.3-5a8b7e0a1f6c10de5bc0a7fe8b2e3ba6d5f0c7e2-Clean"),
        _agent(start + timedelta(milliseconds=90), "info", "Workload SDS socket not found. Starting Istio SDS Server"),
        _agent(start + timedelta(milliseconds=140), "info",
               'Initializing with upstream address "istiod.istio-system.svc:15012" and cluster "Kubernetes"', "xdsproxy"),
        _agent(start + timedelta(milliseconds=700), "info", (
            f"generated new workload certificate\tlatency={cluster.rng.uniform(300, 600):.3f}ms ttl=23h59m59.{cluster.rng.randint(100, 999)}"
            f"{cluster.rng.randint(100000, 999999)}s"), "cache"),
        _agent(start + timedelta(seconds=ready), "info", f"Readiness succeeded in {ready:.6f}s"),
        _agent(start + timedelta(seconds=ready, microseconds=300), "info", "Envoy proxy is ready"),
    ]
    moment, stream = start + timedelta(minutes=cluster.rng.uniform(25, 32)), 2
    while moment < NOW:
        proxy.lines.append(_agent(moment, "info", f"connected to delta upstream XDS server: istiod.istio-system.svc:15012\tid={stream}",
                                  "xdsproxy"))
        moment += timedelta(minutes=cluster.rng.uniform(25, 32))
        stream += 1


def _placement(cluster: SampleCluster) -> None:
    """Where things ran before the incidents: pods on the two new nodes are younger than the nodes, nothing but
    DaemonSets on the V100 node (the reranker's scale-up lands there later), the mesh restarted underwriting."""
    for pod in cluster.pods:
        if pod.node == "gpu-v100-2" and pod.workload.kind != "DaemonSet":
            _pin(cluster, pod, "gpu-h100-0")
        elif pod.node == "gpu-v100-2":
            _pin(cluster, pod, pod.node, V100_BACK - 0.5 - cluster.rng.uniform(0, 1))
        elif pod.node == "cpu-5":
            _pin(cluster, pod, pod.node, JOINED - 1 - cluster.rng.uniform(0, 6))
    for pod in cluster.pods:
        if pod.namespace == "underwriting":
            _pin(cluster, pod, pod.node, MESHED - 2 - cluster.rng.uniform(0, 2))
            _proxy_start(cluster, pod)


# ---------------------------------------------------------------- incidents


def java_heap(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """claims-adjudicator runs with -Xmx512m in a 2Gi container: today's big claim batch exhausts the heap, the JVM exits 3."""
    arrived = 55.0
    pods = cluster.pods_of("claims", "claims-adjudicator")
    options = "-Xmx512m -XX:+ExitOnOutOfMemoryError"
    for index, pod in enumerate(pods):
        app = pod.containers[0]
        app.env = [{"name": "JAVA_TOOL_OPTIONS", "value": options},
                   {"name": "SPRING_DATASOURCE_URL", "value": "jdbc:postgresql://claims-db.claims.svc:5432/claims"},
                   {"name": "SPRING_DATASOURCE_PASSWORD", "value": secrets.env_password}]
        pod.resources = {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"memory": "2Gi"}}
        exited = 1.6 + 2.1 * index
        _crash_loop(cluster, pod, app, 9 - index, 3, exited, arrived - 3)
        died = ago(exited)
        begin = died - timedelta(seconds=cluster.rng.uniform(95, 130))
        intake = f"intake-{index + 1}"
        app.lines += [
            (begin, f"Picked up JAVA_TOOL_OPTIONS: {options}"),
            _spring(begin + timedelta(seconds=1), "INFO", "main", "c.a.claims.AdjudicatorApplication",
                    "Starting AdjudicatorApplication v6.2.0 using Java 17.0.10 with PID 1 (/app/app.jar started by app in /app)"),
            _spring(begin + timedelta(seconds=9), "INFO", "main", "o.s.b.w.embedded.tomcat.TomcatWebServer",
                    "Tomcat started on port 8080 (http) with context path ''"),
            _spring(begin + timedelta(seconds=10), "INFO", "main", "c.a.claims.AdjudicatorApplication",
                    f"Started AdjudicatorApplication in {cluster.rng.uniform(9.5, 11.5):.3f} seconds (process running for "
                    f"{cluster.rng.uniform(11.6, 12.9):.3f})"),
            _spring(begin + timedelta(seconds=12), "INFO", intake, "c.a.claims.intake.BatchIntake",
                    "Resuming batch CLM-20260314-B07: 184220 claims, loading into rule session"),
            _spring(died - timedelta(seconds=14), "WARN", intake, "c.a.claims.rules.RuleSession",
                    f"Rule session working memory {cluster.rng.randint(455, 490)} MiB after {cluster.rng.randint(58, 66)}000 claims "
                    "(GC overhead 61%)"),
            (died, "Terminating due to java.lang.OutOfMemoryError: Java heap space"),
        ]
    cluster.ask(
        "heap-1", "claims-adjudicator has been restarting over and over for the last hour, each time right after it picks up "
                  "today's large claim batch. What is killing it?",
        "The JVM itself: loading batch CLM-20260314-B07 (184220 claims) exhausts the Java heap, and because it runs with "
        "-XX:+ExitOnOutOfMemoryError it prints 'Terminating due to java.lang.OutOfMemoryError: Java heap space' and exits with "
        "code 3. The heap is capped at 512 MiB by JAVA_TOOL_OPTIONS=-Xmx512m, far below the container's 2Gi memory limit.",
        "java-heap", Evidence(pods[0].namespace, pods[0].name, "Terminating due to java.lang.OutOfMemoryError"),
        facts=("Java heap space|OutOfMemoryError", "-Xmx512m|Xmx|512 MiB"),
    )
    cluster.ask(
        "heap-2", "Should we just give the claims-adjudicator pods a bigger memory limit?",
        "No. Kubernetes is not killing them (they exit with code 3, not OOMKilled/137) and the 2Gi limit is not reached: the "
        "heap is fixed at -Xmx512m through JAVA_TOOL_OPTIONS, and -XX:+ExitOnOutOfMemoryError makes the JVM quit when it fills. "
        "Raise -Xmx (or use -XX:MaxRAMPercentage) within the existing limit.",
        "java-heap", Evidence(pods[1].namespace, pods[1].name, "Picked up JAVA_TOOL_OPTIONS"),
        facts=("-Xmx512m|512m", "ExitOnOutOfMemoryError|exit code 3"),
    )


def read_only_tmp(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """The hardened contract-renderer pod spec (read-only root filesystem) leaves tempfile nowhere to write its PDFs."""
    rolled = 160.0
    pods = cluster.pods_of("documents", "contract-renderer")
    new_rs, old_rs = pods[0].owner[1], f"contract-renderer-{cluster.suffix(10)}"
    deployment = ("Deployment", "documents", "contract-renderer")
    for offset, message in enumerate((f"Scaled up replica set {new_rs} to 1", f"Scaled down replica set {old_rs} to 1 from 2",
                                       f"Scaled up replica set {new_rs} to 2 from 1", f"Scaled down replica set {old_rs} to 0 from 1")):
        cluster.event(deployment, "ScalingReplicaSet", message, ago(rolled - 0.3 * offset), component="deployment-controller")
    for index, pod in enumerate(pods):
        _pin(cluster, pod, pod.node, rolled - 0.1 - 0.6 * index)
        app = pod.containers[0]
        app.noise = False
        app.env = [{"name": "RENDER_QUEUE", "value": "contract-render"},
                   {"name": "PORTAL_BASE_URL", "value": "https://portal.example.com/contracts"}]
        start = pod.start + timedelta(seconds=2)
        app.lines += [
            _pylog(start, "INFO", "contract_renderer", "contract-renderer 4.0.2 starting (weasyprint 62.3, 4 worker threads)"),
            _pylog(start + timedelta(seconds=1), "INFO", "contract_renderer.queue", "consuming from queue contract-render (prefetch 4)"),
        ]
        moment = start + timedelta(minutes=cluster.rng.uniform(1, 3))
        while moment < NOW:
            contract = f"C-2026-{cluster.rng.randint(110000, 129999)}"
            handle = f"contract-{''.join(cluster.rng.choice('abcdefghijklmnopqrstuvwxyz0123456789_') for _ in range(8))}"
            app.lines.append(_pylog(moment, "INFO", "contract_renderer.worker", (
                f"rendering contract {contract} (template {cluster.rng.choice(('residential-lease-v7', 'service-agreement-v3'))}, "
                f"{cluster.rng.randint(4, 22)} pages)")))
            failed = moment + timedelta(milliseconds=cluster.rng.randint(600, 1900))
            app.lines.append(_pylog(failed, "ERROR", "contract_renderer.worker",
                                    f"job {contract} failed, requeued (attempt {cluster.rng.randint(1, 5)}/5)"))
            app.lines += _traceback(failed, [
                "Traceback (most recent call last):",
                '  File "/app/contract_renderer/worker.py", line 88, in handle',
                "    pdf_path = render_pdf(job)",
                '  File "/app/contract_renderer/render.py", line 41, in render_pdf',
                '    with tempfile.NamedTemporaryFile(prefix="contract-", suffix=".pdf", delete=False) as out:',
                '  File "/usr/local/lib/python3.12/tempfile.py", line 582, in NamedTemporaryFile',
                "    file = _io.open(dir, mode, buffering=buffering,",
                '  File "/usr/local/lib/python3.12/tempfile.py", line 579, in opener',
                "    fd = _os.open(name, flags2, 0o600)",
                f"OSError: [Errno 30] Read-only file system: '/tmp/{handle}.pdf'",
            ])
            moment += timedelta(minutes=cluster.rng.uniform(4, 9))
    pods[0].containers[0].lines.append(_pylog(ago(rolled + 40), "DEBUG", "contract_renderer.links",
                                              f"signed portal download link token={secrets.jwt}"))
    cluster.ask(
        "rofs-1", "Customers haven't received a single contract PDF since about 09:20, yet the contract-renderer pods are Running "
                  "and not restarting. What's going on?",
        "Every render job fails and is requeued: when the renderer creates its output file with tempfile.NamedTemporaryFile under "
        "/tmp it gets 'OSError: [Errno 30] Read-only file system'. The 09:20 rollout of contract-renderer runs the container with "
        "a read-only root filesystem (readOnlyRootFilesystem) and nothing writable is mounted at /tmp.",
        "read-only-fs", Evidence(pods[0].namespace, pods[0].name, "[Errno 30] Read-only file system"),
        facts=("Read-only file system|read-only|Errno 30", "/tmp"),
    )
    cluster.ask(
        "rofs-2", "Which change broke the contract renderer, and how do we fix it without undoing the hardening?",
        f"The rollout at 09:20 (ReplicaSet {new_rs} replaced {old_rs}) made the container's root filesystem read-only, and the "
        "worker writes each PDF to a temporary file in /tmp. Keep readOnlyRootFilesystem and mount an emptyDir volume at /tmp (or "
        "point TMPDIR at a writable volume).",
        "read-only-fs", Evidence("documents", "contract-renderer", f"Scaled up replica set {new_rs} to 2 from 1"),
        Evidence(pods[1].namespace, pods[1].name, "tempfile.NamedTemporaryFile"),
        facts=("/tmp|TMPDIR", f"{new_rs}|09:20"),
    )


def dns_forward_loop(cluster: SampleCluster) -> None:
    """The CoreDNS replica on the new Ubuntu 24.04 node forwards to 127.0.0.53, i.e. to itself: plugin/loop kills it."""
    started = JOINED - 4
    pods = cluster.pods_of("kube-system", "coredns")
    broken = next((pod for pod in pods if pod.node == "cpu-5"), pods[-1])
    for pod in pods:
        if pod is not broken and pod.node == "cpu-5":
            _pin(cluster, pod, "cpu-0")
    _pin(cluster, broken, "cpu-5", started)
    dns = broken.containers[0]
    exited = cluster.rng.uniform(0.8, 3.5)
    _crash_loop(cluster, broken, dns, 55, 1, exited, started - 0.5)
    died = ago(exited)
    query = f"{cluster.rng.getrandbits(62)}.{cluster.rng.getrandbits(62)}."
    digest = f"{cluster.rng.getrandbits(512):0128x}"
    dns.lines += _traceback(died - timedelta(seconds=2.1), [
        ".:53",
        f"[INFO] plugin/reload: Running configuration SHA512 = {digest}",
        "CoreDNS-1.11.1",
        "linux/amd64, go1.20.7, ae2bbc2",
    ])
    dns.lines.append((died, (f"[FATAL] plugin/loop: Loop (127.0.0.1:{cluster.rng.randint(33000, 60999)} -> :53) detected for zone \".\", "
                             f'see https://coredns.io/plugins/loop#troubleshooting. Query: "HINFO {query}"')))
    line = "Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: 127.0.0.53 10.0.0.2 169.254.169.253"
    proxy = next(pod for pod in cluster.pods_of("kube-system", "kube-proxy") if pod.node == "cpu-5")
    for pod, begin in ((broken, ago(started)), (proxy, proxy.start)):
        cluster.event(("Pod", pod.namespace, pod.name), "DNSConfigForming", line, ago(cluster.rng.uniform(0.2, 1.5)), warning=True,
                      count=cluster.rng.randint(180, 260), host="cpu-5", first=begin)
    healthy = next(pod for pod in pods if pod is not broken)
    cluster.ask(
        "loop-1", "Only one of the two CoreDNS pods is ready; the other one has restarted dozens of times since early this morning. "
                  "What is wrong with it?",
        f"CoreDNS {broken.name} detects a forwarding loop and exits: '[FATAL] plugin/loop: Loop (127.0.0.1:... -> :53) detected "
        "for zone \".\"'. It runs on cpu-5, where the kubelet hands pods the node's resolv.conf with the systemd-resolved stub "
        "127.0.0.53 as first nameserver; CoreDNS forwards to that address, which inside the pod is CoreDNS itself. Point the "
        f"kubelet's resolvConf at /run/systemd/resolve/resolv.conf on the new image (or forward to the VPC resolver). "
        f"{healthy.name} on an older node is fine.",
        "dns-loop", Evidence(broken.namespace, broken.name, "plugin/loop: Loop (127.0.0.1:"),
        facts=("plugin/loop|forwarding loop|loop detected", "127.0.0.53|systemd-resolved|resolv.conf"),
    )
    cluster.ask(
        "loop-2", "Why does only the DNS pod on the new node crash, and not the one on the older nodes?",
        "Because of the new node image: cpu-5 (Ubuntu 24.04.1, joined at 07:38) gives pods a nameserver line that starts with "
        "127.0.0.53 (systemd-resolved's local stub); the kubelet reports 'the applied nameserver line is: 127.0.0.53 10.0.0.2 "
        "169.254.169.253'. CoreDNS there forwards to 127.0.0.53, which loops back into itself; the older nodes' resolv.conf "
        "lists the VPC resolver.",
        "dns-loop", Evidence(broken.namespace, broken.name, "the applied nameserver line is: 127.0.0.53"),
        Evidence(None, "cpu-5", "Ubuntu 24.04.1 LTS"),
        facts=("127.0.0.53|systemd-resolved", "cpu-5|Ubuntu 24.04"),
    )


def redis_cannot_persist(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """slot-cache restarted under a new user that cannot write /data: RDB saves fail, stop-writes-on-bgsave-error blocks writes."""
    restarted, first_save = 182.0, 177.0
    (cache,) = cluster.pods_of("bookings", "slot-cache")
    cache.claims = [f"data-{cache.name}"]
    _pin(cluster, cache, cache.node, restarted)
    sts = ("StatefulSet", "bookings", "slot-cache")
    cluster.event(sts, "SuccessfulDelete", f"delete Pod {cache.name} in StatefulSet slot-cache successful", ago(restarted + 0.2),
                  component="statefulset-controller")
    cluster.event(sts, "SuccessfulCreate", f"create Pod {cache.name} in StatefulSet slot-cache successful", ago(restarted + 0.1),
                  component="statefulset-controller")
    redis = cache.containers[0]
    redis.noise = False
    start = ago(restarted) + timedelta(seconds=1)
    redis.lines += [
        _redis(start, 1, "C", "#", ("WARNING Memory overcommit must be enabled! Without it, a background save or replication may "
                                    "fail under low memory condition. Being disabled, it can also cause failures without low memory "
                                    "condition, see https://github.com/jemalloc/jemalloc/issues/1328. To fix this issue add "
                                    "'vm.overcommit_memory = 1' to /etc/sysctl.conf and then reboot or run the command 'sysctl "
                                    "vm.overcommit_memory=1' for this to take effect.")),
        _redis(start, 1, "C", "*", "oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo"),
        _redis(start, 1, "C", "*", "Redis version=7.2.5, bits=64, commit=00000000, modified=0, pid=1, just started"),
        _redis(start, 1, "C", "*", "Configuration loaded"),
        _redis(start + timedelta(milliseconds=1), 1, "M", "*", "monotonic clock: POSIX clock_gettime"),
        _redis(start + timedelta(milliseconds=2), 1, "M", "*", "Running mode=standalone, port=6379."),
        _redis(start + timedelta(milliseconds=2), 1, "M", "*", "Server initialized"),
        _redis(start + timedelta(milliseconds=9), 1, "M", "*", "Loading RDB produced by version 7.2.4"),
        _redis(start + timedelta(milliseconds=9), 1, "M", "*", "RDB age 38 seconds"),
        _redis(start + timedelta(milliseconds=9), 1, "M", "*", "RDB memory usage when created 212.48 Mb"),
        _redis(start + timedelta(milliseconds=488), 1, "M", "*", "Done loading RDB, keys loaded: 1841203, keys expired: 0."),
        _redis(start + timedelta(milliseconds=488), 1, "M", "*", "DB loaded from disk: 0.479 seconds"),
        _redis(start + timedelta(milliseconds=489), 1, "M", "*", "Ready to accept connections tcp"),
    ]
    moment, child = ago(first_save) + timedelta(seconds=12.004), 27
    while moment < NOW:
        redis.lines += [
            _redis(moment, 1, "M", "*", f"{cluster.rng.choice((100, 10000))} changes in {cluster.rng.choice((60, 300))} seconds. Saving..."),
            _redis(moment + timedelta(milliseconds=1), 1, "M", "*", f"Background saving started by pid {child}"),
            _redis(moment + timedelta(milliseconds=2), child, "C", "#", (
                f"Failed opening the temp RDB file temp-{child}.rdb (in server root dir /data) for saving: Permission denied")),
            _redis(moment + timedelta(milliseconds=101), 1, "M", "#", "Background saving error"),
        ]
        child += cluster.rng.randint(1, 3)
        moment += timedelta(seconds=cluster.rng.uniform(100, 140))
    url = f"redis://:{secrets.url_password}@slot-cache-0.slot-cache.bookings.svc.cluster.local:6379/0"
    misconf = ("MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may "
               "modify the data set are disabled, because this instance is configured to report errors during writes if RDB "
               "snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.")
    apis = cluster.pods_of("bookings", "booking-api")
    for index, pod in enumerate(apis):
        app = pod.containers[0]
        app.noise = False
        app.env = [{"name": "REDIS_URL", "value": url}, {"name": "NODE_ENV", "value": "production"}]
        app.lines.append(_pino(cluster, pod, max(pod.start, ago(360)) + timedelta(seconds=1), 30,
                               "connected to redis slot-cache-0.slot-cache.bookings.svc.cluster.local:6379"))
        moment = max(pod.start, ago(360)) + timedelta(seconds=cluster.rng.uniform(20, 90))
        while moment < NOW:
            slot = f"{cluster.rng.choice(('physio', 'dental', 'gp', 'eye'))}-{cluster.rng.randint(1000, 9999)}"
            app.lines.append(_pino(cluster, pod, moment, 30, "request completed",
                                   req={"method": "GET", "url": f"/v1/slots?clinic={cluster.rng.randint(10, 99)}"},
                                   res={"statusCode": 200}, responseTime=cluster.rng.randint(3, 40)))
            hold = moment + timedelta(seconds=cluster.rng.uniform(5, 60))
            if hold < ago(first_save - 0.2):
                app.lines.append(_pino(cluster, pod, hold, 30, "request completed", req={"method": "POST", "url": "/v1/holds"},
                                       res={"statusCode": 201}, responseTime=cluster.rng.randint(4, 30)))
            else:
                app.lines += [
                    _pino(cluster, pod, hold, 50, "slot hold failed", slot=slot,
                          err={"type": "ReplyError", "message": misconf, "stack": (
                              f"ReplyError: {misconf}\n    at parseError (/app/node_modules/redis-parser/lib/parser.js:179:12)\n"
                              "    at parseType (/app/node_modules/redis-parser/lib/parser.js:302:14)"),
                               "command": {"name": "set", "args": [f"hold:{slot}", "[REDACTED]", "PX", "600000", "NX"]}}),
                    _pino(cluster, pod, hold + timedelta(milliseconds=2), 30, "request completed",
                          req={"method": "POST", "url": "/v1/holds"}, res={"statusCode": 500}, responseTime=cluster.rng.randint(2, 9)),
                ]
            moment += timedelta(seconds=cluster.rng.uniform(120, 240) + 30 * index)
    cluster.ask(
        "rdb-1", "Since a little after nine nobody can hold or book an appointment slot, but browsing availability still works. "
                 "What's broken?",
        "Writes to the bookings Redis (slot-cache) are refused: every SET from booking-api fails with 'MISCONF Redis is configured "
        "to save RDB snapshots, but it's currently unable to persist to disk'. slot-cache cannot write its RDB snapshot since it "
        "was restarted at 08:58, and with stop-writes-on-bgsave-error it rejects all writes while reads still work.",
        "redis-rdb", Evidence(apis[0].namespace, apis[0].name, "MISCONF Redis is configured to save RDB snapshots"),
        facts=("MISCONF|RDB|persist to disk|stop-writes-on-bgsave-error", "slot-cache"),
    )
    cluster.ask(
        "rdb-2", "Why can't the bookings Redis save its snapshot, and what needs fixing?",
        f"Its background save cannot create the temp RDB file in its data directory: 'Failed opening the temp RDB file temp-N.rdb "
        f"(in server root dir /data) for saving: Permission denied'. Since the 08:58 restart the container's user cannot write to "
        f"/data on volume data-{cache.name}; fix the ownership (fsGroup/runAsUser, or chown the volume). Reads keep working, and "
        "writes resume once a save succeeds.",
        "redis-rdb", Evidence(cache.namespace, cache.name, "Failed opening the temp RDB file"),
        facts=("Permission denied", "/data"),
    )


def mesh_localhost(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """risk-scorer's uvicorn binds 127.0.0.1; since joining the mesh, the sidecar forwards to the pod IP and is refused."""
    scorers = cluster.pods_of("underwriting", "risk-scorer")
    quotes = cluster.pods_of("underwriting", "quote-api")
    body = ("upstream connect error or disconnect/reset before headers. retried and the latest reset reason: remote connection "
            "failure, transport failure reason: delayed connect error: 111")
    service = "risk-scorer.underwriting.svc.cluster.local:8000"
    for pod in scorers:
        app = pod.containers[0]
        app.noise = False
        app.env = [{"name": "UVICORN_HOST", "value": "127.0.0.1"}, {"name": "UVICORN_PORT", "value": "8000"},
                   {"name": "MODEL_PATH", "value": "/models/gbm-2026-02.bin"}]
        start = pod.start + timedelta(seconds=3)
        app.lines += [
            (start, "INFO:     Started server process [1]"),
            (start, "INFO:     Waiting for application startup."),
            (start + timedelta(seconds=2), f"{start + timedelta(seconds=2):%Y-%m-%d %H:%M:%S},412 INFO risk_scorer: model gbm-2026-02 "
                                           "loaded (412 features)"),
            (start + timedelta(seconds=2, milliseconds=1), "INFO:     Application startup complete."),
            (start + timedelta(seconds=2, milliseconds=1), "INFO:     Uvicorn running on http://127.0.0.1:8000 (Press CTRL+C to quit)"),
        ]
    for index, pod in enumerate(quotes):
        app, proxy = pod.containers
        app.env = [{"name": "RISK_SCORER_URL", "value": f"http://{service}/v1/score"}]
        moment = pod.start + timedelta(minutes=cluster.rng.uniform(1, 4))
        while moment < NOW:
            scorer = scorers[cluster.rng.randrange(len(scorers))]
            request = cluster.uid()
            quote = f"Q-{cluster.rng.randint(4000000, 4999999)}"
            app.lines.append(_json(moment, "error", "risk score unavailable, quote declined", quote=quote, status=503,
                                   upstream=f"http://{service}/v1/score", body=body))
            tried = moment - timedelta(milliseconds=cluster.rng.randint(60, 90))
            sent = cluster.rng.randint(380, 460)
            proxy.lines.append((tried, (
                f'[{iso(tried)}] "POST /v1/score HTTP/1.1" 503 URX via_upstream - "-" {sent} 190 {cluster.rng.randint(50, 80)} '
                f'{cluster.rng.randint(50, 80)} "-" "python-httpx/0.27.0" "{request}" "{service}" "{_pod_ip(scorer)}:8000" '
                f"outbound|8000||risk-scorer.underwriting.svc.cluster.local {_pod_ip(pod)}:{cluster.rng.randint(32768, 60999)} "
                f"10.96.143.27:8000 {_pod_ip(pod)}:{cluster.rng.randint(32768, 60999)} - default")))
            inbound = tried + timedelta(milliseconds=cluster.rng.randint(1, 9))
            scorer.containers[1].lines.append((inbound, (
                f'[{iso(inbound)}] "POST /v1/score HTTP/1.1" 503 UF upstream_reset_before_response_started'
                f'{{remote_connection_failure,delayed_connect_error:_111}} - "delayed_connect_error:_111" {sent} 145 0 - "-" '
                f'"python-httpx/0.27.0" "{request}" "{service}" "{_pod_ip(scorer)}:8000" inbound|8000|| - {_pod_ip(scorer)}:8000 '
                f"{_pod_ip(pod)}:{cluster.rng.randint(32768, 60999)} outbound_.8000_._.risk-scorer.underwriting.svc.cluster.local "
                "default")))
            moment += timedelta(minutes=cluster.rng.uniform(3, 7) + index)
    quotes[0].containers[0].lines.append(_json(ago(MESHED + 40), "debug", "calling rating partner",
                                               url="https://rating.partner.example.net/v2/rate",
                                               authorization=f"Bearer {secrets.bearer_token}"))
    scorer = scorers[0]
    cluster.ask(
        "mesh-1", "Every quote has come back declined with 'risk score unavailable' since the underwriting services were added to "
                  "the service mesh this morning, although the risk-scorer pods are Running. What's wrong?",
        "risk-scorer is unreachable through its sidecar: its uvicorn listens only on 127.0.0.1:8000 (UVICORN_HOST=127.0.0.1), "
        "but the istio-proxy sidecar delivers inbound traffic to the pod IP on port 8000, where nothing listens, so Envoy gets "
        "connection refused (503 UF, 'delayed connect error: 111') and quote-api declines the quote. Bind the app to 0.0.0.0.",
        "mesh-localhost", Evidence(scorer.namespace, scorer.name, "Uvicorn running on http://127.0.0.1:8000"),
        Evidence(quotes[0].namespace, quotes[0].name, "transport failure reason: delayed connect error: 111"),
        facts=("127.0.0.1|localhost", "delayed connect error: 111|connection refused|503 UF"),
    )
    cluster.ask(
        "mesh-2", "Is the Istio sidecar in front of risk-scorer misconfigured? Should we take underwriting out of the mesh?",
        f"No. The sidecar is ready and does what Istio does since 1.10: it forwards inbound requests to the pod IP "
        f"({_pod_ip(scorer)}:8000), and the connection is refused (503 UF upstream_reset_before_response_started, "
        "delayed_connect_error:_111) because uvicorn is bound to 127.0.0.1 only (UVICORN_HOST=127.0.0.1). Set UVICORN_HOST to "
        "0.0.0.0 and keep the mesh.",
        "mesh-localhost", Evidence(scorer.namespace, scorer.name, "503 UF upstream_reset_before_response_started"),
        facts=("127.0.0.1", "UVICORN_HOST|pod IP"),
    )


def ephemeral_storage(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """feed-exporter writes the whole product feed into its container filesystem: evicted at its 1Gi ephemeral-storage limit."""
    runs = (240.0, 183.0, 126.0, 69.0, 12.0)  # when each pod started; all but the last were evicted when the next one began
    pods = add_pods(cluster, _FEED_EXPORTER, len(runs))
    replica_set = pods[0].owner[1]
    nodes = ("cpu-0", "cpu-1", "cpu-5", "cpu-0", "cpu-1")
    path = f"/var/tmp/exports/google-shopping-{NOW:%Y%m%d}.csv"
    limit = "Container exporter exceeded its local ephemeral storage limit \"1Gi\". "
    total = cluster.rng.randint(2_900_000, 2_990_000)
    for index, (pod, began) in enumerate(zip(pods, runs)):
        _pin(cluster, pod, nodes[index], began)
        app = pod.containers[0]
        app.noise = False
        app.env = [{"name": "FEED_BUCKET", "value": "s3://acme-marketing-feeds/google-shopping"},
                   {"name": "AWS_ACCESS_KEY_ID", "value": secrets.aws_access_key},
                   {"name": "AWS_SECRET_ACCESS_KEY", "value": secrets.aws_secret_key}]
        pod.resources = {"requests": {"cpu": "500m", "memory": "1Gi", "ephemeral-storage": "512Mi"},
                         "limits": {"memory": "1Gi", "ephemeral-storage": "1Gi"}}
        start = pod.start + timedelta(seconds=2)
        app.lines += [
            _pylog(start, "INFO", "feed_exporter", "feed-exporter 2.4.0: export google-shopping started"),
            _pylog(start + timedelta(seconds=41), "INFO", "feed_exporter",
                   f"{total} products selected, writing {path}"),
        ]
        end = ago(runs[index + 1]) if index + 1 < len(runs) else NOW
        moment, rows = start + timedelta(minutes=5), 0
        while moment < end - timedelta(seconds=30):
            rows += cluster.rng.randint(180_000, 200_000)
            app.lines.append(_pylog(moment, "INFO", "feed_exporter",
                                    f"{rows}/{total} rows, {rows * 505 // 2**20} MiB written"))
            moment += timedelta(minutes=5)
        if index + 1 == len(runs):
            continue
        pod.phase, pod.reason, pod.message = "Failed", "Evicted", limit
        app.ready = False
        app.state = {"terminated": {"reason": "Error", "exitCode": 137, "startedAt": stamp(began), "finishedAt": stamp(runs[index + 1])}}
        ref = ("Pod", pod.namespace, pod.name)
        cluster.event(ref, "Evicted", limit, end, warning=True, host=pod.node)
        cluster.event(ref, "Killing", "Stopping container exporter", end, host=pod.node)
        _event(cluster, ("ReplicaSet", "marketing", replica_set), "SuccessfulCreate", f"Created pod: {pods[index + 1].name}",
               end + timedelta(milliseconds=40), component="replicaset-controller")
    cluster.ask(
        "ephem-1", "The Google Shopping product feed hasn't been refreshed all day and the marketing namespace keeps collecting Failed "
                   "feed-exporter pods. Why do they die?",
        "The kubelet evicts them: 'Container exporter exceeded its local ephemeral storage limit \"1Gi\"'. Each run writes the "
        "whole feed into the container's own filesystem and is evicted (status Evicted) before it finishes; the ReplicaSet starts "
        "a new pod, which begins again from zero.",
        "ephemeral-storage", Evidence(pods[0].namespace, pods[0].name, "exceeded its local ephemeral storage limit"),
        facts=("ephemeral storage|ephemeral-storage", "1Gi"),
    )
    cluster.ask(
        "ephem-2", "What is eating the feed exporter's local disk?",
        f"The feed file itself: the exporter writes all ~{total // 1_000_000} million rows to {path}, in the container's writable "
        "layer, which counts against its 1Gi ephemeral-storage limit. Stream the upload to S3 in parts, or write to a volume "
        "sized for it (an emptyDir with a sizeLimit or a PVC) and raise the limit.",
        "ephemeral-storage", Evidence(pods[1].namespace, pods[1].name, "writing /var/tmp/exports/"),
        facts=("/var/tmp/exports|google-shopping", "ephemeral"),
    )


def missing_service_account(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """payout-scheduler's chart 2.0 references ServiceAccount payout-scheduler-sa, which it no longer creates."""
    upgraded, account = 65.0, "payout-scheduler-sa"
    pods = cluster.pods_of("payouts", "payout-scheduler")
    for pod in pods:
        pod.containers[0].env = [{"name": "PAYOUT_WINDOW", "value": "12:00-13:00 Europe/London"},
                                 {"name": "ALERT_WEBHOOK_URL", "value": secrets.slack_webhook}]
    new_rs = f"payout-scheduler-{cluster.suffix(10)}"
    cluster.event(("Deployment", "payouts", "payout-scheduler"), "ScalingReplicaSet", f"Scaled up replica set {new_rs} to 1",
                  ago(upgraded), component="deployment-controller")
    message = (f'Error creating: pods "{new_rs}-" is forbidden: error looking up service account payouts/{account}: '
               f'serviceaccount "{account}" not found')
    rs = ("ReplicaSet", "payouts", new_rs)
    for offset in range(9):
        cluster.event(rs, "FailedCreate", message, ago(upgraded - 0.01 * (offset + 1)), warning=True, component="replicaset-controller")
    cluster.event(rs, "FailedCreate", f"(combined from similar events): {message}", ago(1.8), warning=True, count=38,
                  first=ago(upgraded - 0.2), component="replicaset-controller")
    cluster.ask(
        "svcacct-1", "We upgraded payout-scheduler to its new Helm chart an hour ago, but only the old pods are running. Why isn't the "
                     "rollout progressing?",
        f"The new ReplicaSet {new_rs} cannot create a single pod: the API server rejects each one (FailedCreate) because the pod "
        f"template names ServiceAccount {account} and there is no such service account in payouts ('error looking up service "
        f"account payouts/{account}'). The old pods keep running. Create the ServiceAccount (serviceAccount.create in the chart) "
        "or point the chart at the existing one.",
        "missing-sa", Evidence("payouts", new_rs, "error looking up service account"),
        facts=("service account|serviceaccount", account),
    )
    cluster.ask(
        "svcacct-2", "What has to exist in the payouts namespace before the new payout-scheduler pods can be created?",
        f"The ServiceAccount {account}: the new pod template refers to it and the API server answers 'serviceaccount \"{account}\" "
        "not found' to every create.",
        "missing-sa", Evidence("payouts", new_rs, f'serviceaccount "{account}" not found'),
        facts=(account, "ServiceAccount|service account"),
    )


def trt_engine_mismatch(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """shelf-detector moved from the A10G pool to an H100: its TensorRT plan was built for compute 8.6 and won't deserialize."""
    moved, name = 80.0, "gpu-h100-1"
    (pod,) = cluster.pods_of("shelf-vision", "shelf-detector")
    _pin(cluster, pod, name, moved)
    _forget(cluster, pod)
    triton = pod.containers[0]
    triton.env = [{"name": "MODEL_REPOSITORY", "value": "s3://acme-retail-models/triton"},
                  {"name": "MODEL_SYNC_URL", "value": f"https://x-access-token:{secrets.github_token}@github.com/acme/shelf-models.git"}]
    ref = ("Pod", pod.namespace, pod.name)
    cluster.event(ref, "Scheduled", f"Successfully assigned {pod.namespace}/{pod.name} to {name}", ago(moved), component="default-scheduler")
    cluster.event(ref, "Pulling", f'Pulling image "{triton.image}"', ago(moved - 0.01), host=name)
    cluster.event(ref, "Pulled", (f'Successfully pulled image "{triton.image}" in 1m12.408s (1m12.408s including waiting). Image size: '
                                  "7814533208 bytes."), ago(moved - 1.2), host=name)
    cluster.event(ref, "Created", "Created container triton", ago(1.4), host=name, count=17, first=ago(moved - 1.2))
    cluster.event(ref, "Started", "Started container triton", ago(1.4), host=name, count=17, first=ago(moved - 1.2))
    cluster.event(("Deployment", pod.namespace, "shelf-detector"), "ScalingReplicaSet", f"Scaled up replica set {pod.owner[1]} to 1",
                  ago(moved + 0.01), component="deployment-controller")
    _crash_loop(cluster, pod, triton, 16, 1, 1.3, moved - 2)
    model = "shelf_detector"
    failure = "Internal: unable to create TensorRT engine: Error Code 2: Internal Error (Assertion engine->deserialize(start, size, allocator, runtime) failed. )"
    triton.lines += _klogs(
        cluster, ago(1.3) - timedelta(seconds=4),
        ("I", "pinned_memory_manager.cc:277", "\"Pinned memory pool is created at '0x7f3a9c000000' with size 268435456\""),
        ("I", "cuda_memory_manager.cc:107", '"CUDA memory pool is created on device 0 with size 67108864"'),
        ("I", "metrics.cc:877", '"Collecting metrics for GPU 0: NVIDIA H100 80GB HBM3"'),
        ("I", "model_lifecycle.cc:469", f'"loading: {model}:1"'),
        ("I", "tensorrt.cc:65", '"TRITONBACKEND_Initialize: tensorrt"'),
        ("I", "tensorrt.cc:75", '"Triton TRITONBACKEND API version: 1.19"'),
        ("I", "tensorrt.cc:81", "\"'tensorrt' TRITONBACKEND API version: 1.19\""),
        ("I", "tensorrt.cc:222", f'"TRITONBACKEND_ModelInitialize: {model} (version 1)"'),
        ("I", "logging.cc:46", '"Loaded engine size: 87 MiB"'),
        ("E", "logging.cc:40", ('"6: The engine plan file is generated on an incompatible device, expecting compute 9.0 got compute 8.6, '
                                'please rebuild."')),
        ("E", "logging.cc:40", ('"2: [engine.cpp::deserializeEngine::951] Error Code 2: Internal Error (Assertion '
                                'engine->deserialize(start, size, allocator, runtime) failed. )"')),
        ("I", "tensorrt.cc:258", '"TRITONBACKEND_ModelFinalize: delete model state"'),
        ("E", "model_lifecycle.cc:638", f"\"failed to load '{model}' version 1: {failure}\""),
        ("I", "model_lifecycle.cc:773", f"\"failed to load '{model}'\""),
        ("I", "server.cc:288", '"Waiting for in-flight requests to complete."'),
        ("I", "server.cc:304", '"Timeout 30: Found 0 model versions that have in-flight inferences"'),
        ("I", "server.cc:319", '"All models are stopped, unloading models"'),
        ("I", "server.cc:328", '"Timeout 30: Found 0 live models and 0 in-flight non-inference requests"'),
    )
    triton.lines.append((ago(1.3), "error: creating server: Internal - failed to load all models"))
    cluster.ask(
        "trt-1", "shelf-detector has been crash-looping since this morning's change; Triton exits during start-up. Is the model "
                 "repository broken?",
        "The model files are there, but TensorRT refuses the shelf_detector engine: 'The engine plan file is generated on an "
        "incompatible device, expecting compute 9.0 got compute 8.6, please rebuild.' The plan was built on an A10G (compute "
        "8.6) and the pod now runs on an H100 (compute 9.0); the model fails to load and Triton exits ('failed to load all "
        "models'). Rebuild the engine on an H100 or keep the pod on the A10G pool.",
        "trt-engine", Evidence(pod.namespace, pod.name, "engine plan file is generated on an incompatible device"),
        facts=("incompatible device|compute 8.6|rebuild", "TensorRT|engine plan|TRT engine"),
    )
    cluster.ask(
        "trt-2", "The shelf detector worked fine last week. What is different now?",
        f"Where it runs: since 10:40 the pod is on {name}, an H100 (NVIDIA H100 80GB HBM3, compute capability 9.0), while its "
        "TensorRT plan was built for the A10G pool (compute 8.6). TensorRT engines only load on the GPU architecture they were "
        "built for, so Triton cannot deserialize it.",
        "trt-engine", Evidence(pod.namespace, pod.name, "Collecting metrics for GPU 0: NVIDIA H100 80GB HBM3"),
        facts=("9.0|H100", "8.6|A10G"),
    )


def cuda_driver_too_old(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """The reranker's HPA scale-up landed on the revived V100 node, whose driver 470 (CUDA 11.4) is too old for torch cu121."""
    scaled, name = 108.0, "gpu-v100-2"
    serving, pod = cluster.pods_of("ranking", "passage-reranker")
    if serving.node != "gpu-h100-0":
        _pin(cluster, serving, "gpu-h100-0")
    _pin(cluster, pod, name, scaled)
    _forget(cluster, pod)
    for replica in (serving, pod):
        replica.containers[0].env = [{"name": "MODEL_NAME", "value": "BAAI/bge-reranker-large"},
                                     {"name": "OPENAI_API_KEY", "value": secrets.openai_key}]
    hpa = ("HorizontalPodAutoscaler", "ranking", "passage-reranker")
    cluster.event(hpa, "SuccessfulRescale", "New size: 2; reason: cpu resource utilization (percentage of request) above target",
                  ago(scaled + 0.02), component="horizontal-pod-autoscaler")
    cluster.event(("Deployment", "ranking", "passage-reranker"), "ScalingReplicaSet",
                  f"Scaled up replica set {serving.owner[1]} to 2 from 1", ago(scaled + 0.01), component="deployment-controller")
    ref = ("Pod", pod.namespace, pod.name)
    cluster.event(ref, "Scheduled", f"Successfully assigned {pod.namespace}/{pod.name} to {name}", ago(scaled), component="default-scheduler")
    cluster.event(ref, "Pulled", f'Container image "{pod.containers[0].image}" already present on machine', ago(2.6), host=name,
                  count=25, first=ago(scaled - 0.05))
    app = pod.containers[0]
    _crash_loop(cluster, pod, app, 24, 1, 2.5, scaled - 1)
    died = ago(2.5)
    start = died - timedelta(seconds=7)
    message = ("The NVIDIA driver on your system is too old (found version 11040). Please update your GPU driver by downloading and "
               "installing a new version from the URL: http://www.nvidia.com/Download/index.aspx Alternatively, go to: "
               "https://pytorch.org to install a PyTorch version that has been compiled with your version of the CUDA driver.")
    app.lines += [
        _pylog(start, "INFO", "reranker", "passage-reranker 3.0.0 (torch 2.4.1+cu121, transformers 4.44.2, sentence-transformers 3.0.1)"),
        _pylog(start + timedelta(seconds=1), "INFO", "reranker", "loading cross-encoder BAAI/bge-reranker-large on cuda:0"),
    ]
    app.lines += _traceback(died - timedelta(seconds=1), [
        f"/usr/local/lib/python3.11/site-packages/torch/cuda/__init__.py:128: UserWarning: CUDA initialization: {message} "
        "(Triggered internally at ../c10/cuda/CUDAFunctions.cpp:108.)",
        "  return torch._C._cuda_getDeviceCount() > 0",
    ])
    app.lines += _traceback(died, [
        "Traceback (most recent call last):",
        '  File "/app/reranker/server.py", line 41, in <module>',
        "    model = CrossEncoder(MODEL_NAME, device=\"cuda:0\")",
        '  File "/usr/local/lib/python3.11/site-packages/sentence_transformers/cross_encoder/CrossEncoder.py", line 124, in __init__',
        "    self.model.to(self._target_device)",
        '  File "/usr/local/lib/python3.11/site-packages/transformers/modeling_utils.py", line 2905, in to',
        "    return super().to(*args, **kwargs)",
        '  File "/usr/local/lib/python3.11/site-packages/torch/nn/modules/module.py", line 1174, in to',
        "    return self._apply(convert)",
        '  File "/usr/local/lib/python3.11/site-packages/torch/nn/modules/module.py", line 780, in _apply',
        "    module._apply(fn)",
        '  File "/usr/local/lib/python3.11/site-packages/torch/nn/modules/module.py", line 805, in _apply',
        "    param_applied = fn(param)",
        '  File "/usr/local/lib/python3.11/site-packages/torch/nn/modules/module.py", line 1160, in convert',
        "    return t.to(",
        '  File "/usr/local/lib/python3.11/site-packages/torch/cuda/__init__.py", line 314, in _lazy_init',
        "    torch._C._cuda_init()",
        f"RuntimeError: {message}",
    ])
    cluster.ask(
        "drv-1", "One of the two passage-reranker pods has been crash-looping ever since the autoscaler added it, while the other one "
                 "serves fine. What's the difference between them?",
        f"The node: the new replica was scheduled on {name}, the V100 node brought back this morning, whose NVIDIA driver is "
        "470.223.02 (CUDA 11.4). The image's PyTorch is built for CUDA 12.1 (torch 2.4.1+cu121), so CUDA initialisation fails "
        "with 'The NVIDIA driver on your system is too old (found version 11040)' and the server exits. The first replica runs "
        "on an H100 node with driver 550.",
        "cuda-driver", Evidence(pod.namespace, pod.name, "The NVIDIA driver on your system is too old"),
        facts=("too old|driver version|update your GPU driver", name),
    )
    cluster.ask(
        "drv-2", "Which NVIDIA driver does the node of the failing reranker have, and what would the image need?",
        f"{name} runs driver 470.223.02, which supports CUDA up to 11.4 (PyTorch reports found version 11040); the image ships "
        "torch 2.4.1+cu121, which needs a CUDA 12.1-capable driver (525 or newer). Upgrade that node's driver, or keep the "
        "reranker off it (nodeSelector on nvidia.com/cuda.driver-version.major).",
        "cuda-driver", Evidence(None, name, "470.223.02"), Evidence(pod.namespace, pod.name, "torch 2.4.1+cu121"),
        facts=("470.223.02|driver 470|11.4|11040", "cu121|12.1"),
    )


def shm_too_small(cluster: SampleCluster) -> None:
    """The forecasting trainer's 8 DataLoader workers share tensors through /dev/shm, which is the runtime's default 64M."""
    began, failed, name = 95.0, 89.0, "gpu-a100-0"
    (pod,) = add_pods(cluster, _FORECAST_TRAIN, 1, node=name)
    _pin(cluster, pod, name, began)
    pod.phase = "Failed"
    trainer = pod.containers[0]
    trainer.noise, trainer.ready = False, False
    trainer.state = {"terminated": {"reason": "Error", "exitCode": 1, "startedAt": stamp(began), "finishedAt": stamp(failed)}}
    pod.resources = {"requests": {"cpu": "16", "memory": "120Gi", "nvidia.com/gpu": "1"},
                     "limits": {"memory": "120Gi", "nvidia.com/gpu": "1"}}
    start = ago(began) + timedelta(seconds=4)

    def info(moment: datetime, text: str) -> tuple[datetime, str]:
        return moment, f"[{iso(moment, 0)}] INFO {text}"

    epoch = start + timedelta(seconds=64)
    trainer.lines += [
        info(start, "demand-forecast 2026.03.1: TFT model, 4218544 series, horizon 28d"),
        info(start + timedelta(seconds=1), "device cuda:0 (NVIDIA A100-SXM4-80GB), host memory limit 120Gi, /dev/shm size 64M"),
        info(start + timedelta(seconds=52), "DataLoader: num_workers=8, batch_size=1024, pin_memory=True"),
        info(epoch, "epoch 1/30 started"),
    ]
    crash = ago(failed) - timedelta(seconds=3)
    bus = "ERROR: Unexpected bus error encountered in worker. This might be caused by insufficient shared memory (shm)."
    pids = sorted(cluster.rng.sample(range(80, 120), 2))
    trainer.lines += _traceback(crash - timedelta(milliseconds=5), [bus, bus])
    trainer.lines += _traceback(crash, [
        "Traceback (most recent call last):",
        '  File "/usr/local/lib/python3.11/site-packages/torch/utils/data/dataloader.py", line 1133, in _try_get_data',
        "    data = self._data_queue.get(timeout=timeout)",
        '  File "/usr/lib/python3.11/multiprocessing/queues.py", line 113, in get',
        "    if not self._poll(timeout):",
        '  File "/usr/lib/python3.11/multiprocessing/connection.py", line 257, in poll',
        "    return self._poll(timeout)",
        '  File "/usr/lib/python3.11/multiprocessing/connection.py", line 440, in _poll',
        "    r = wait([self], timeout)",
        '  File "/usr/lib/python3.11/multiprocessing/connection.py", line 948, in wait',
        "    ready = selector.select(timeout)",
        '  File "/usr/lib/python3.11/selectors.py", line 415, in select',
        "    fd_event_list = self._selector.poll(timeout)",
        '  File "/usr/local/lib/python3.11/site-packages/torch/utils/data/_utils/signal_handling.py", line 66, in handler',
        "    _error_if_any_worker_fails()",
        (f"RuntimeError: DataLoader worker (pid {pids[0]}) is killed by signal: Bus error. It is possible that dataloader's workers "
         "are out of shared memory. Please try to raise your shared memory limit."),
        "",
        "The above exception was the direct cause of the following exception:",
        "",
        "Traceback (most recent call last):",
        '  File "/app/train.py", line 203, in <module>',
        "    main()",
        '  File "/app/train.py", line 171, in main',
        "    for step, batch in enumerate(loader):",
        '  File "/usr/local/lib/python3.11/site-packages/torch/utils/data/dataloader.py", line 631, in __next__',
        "    data = self._next_data()",
        '  File "/usr/local/lib/python3.11/site-packages/torch/utils/data/dataloader.py", line 1329, in _next_data',
        "    idx, data = self._get_data()",
        '  File "/usr/local/lib/python3.11/site-packages/torch/utils/data/dataloader.py", line 1295, in _get_data',
        "    success, data = self._try_get_data()",
        '  File "/usr/local/lib/python3.11/site-packages/torch/utils/data/dataloader.py", line 1146, in _try_get_data',
        "    raise RuntimeError(f'DataLoader worker (pid(s) {pids_str}) exited unexpectedly') from e",
        f"RuntimeError: DataLoader worker (pid(s) {pids[0]}, {pids[1]}) exited unexpectedly",
    ])
    job = ("Job", pod.namespace, "demand-forecast-train")
    _event(cluster, job, "SuccessfulCreate", f"Created pod: {pod.name}", ago(began + 0.01), component="job-controller")
    _event(cluster, job, "BackoffLimitExceeded", "Job has reached the specified backoff limit", ago(failed - 0.1), warning=True,
           component="job-controller")
    cluster.ask(
        "shm-1", "The demand-forecast training job dies in its first epoch every time we launch it. What is the error?",
        "Its DataLoader workers crash with a bus error: 'Unexpected bus error encountered in worker. This might be caused by "
        "insufficient shared memory (shm)', then 'DataLoader worker ... is killed by signal: Bus error'. The 8 workers pass "
        "batches through /dev/shm, which in the pod is only 64M, so the job fails and hits its backoff limit.",
        "shm-bus-error", Evidence(pod.namespace, pod.name, "Unexpected bus error encountered in worker"),
        facts=("shared memory|shm", "Bus error|DataLoader worker"),
    )
    cluster.ask(
        "shm-2", "The forecast trainer has plenty of GPU and RAM. How do we stop its data loading from crashing?",
        "Give the pod a bigger /dev/shm: it has the container runtime's default of 64M, far too little for 8 DataLoader workers "
        "with batch size 1024. Mount an emptyDir with medium: Memory (and a sizeLimit of several Gi) at /dev/shm, or lower "
        "num_workers.",
        "shm-bus-error", Evidence(pod.namespace, pod.name, "out of shared memory. Please try to raise your shared memory limit"),
        facts=("/dev/shm|shared memory", "64M"),
    )


def apply_all(cluster: SampleCluster) -> None:
    secrets = cluster.secrets
    _placement(cluster)
    java_heap(cluster, secrets)
    read_only_tmp(cluster, secrets)
    dns_forward_loop(cluster)
    redis_cannot_persist(cluster, secrets)
    mesh_localhost(cluster, secrets)
    ephemeral_storage(cluster, secrets)
    missing_service_account(cluster, secrets)
    trt_engine_mismatch(cluster, secrets)
    cuda_driver_too_old(cluster, secrets)
    shm_too_small(cluster)
