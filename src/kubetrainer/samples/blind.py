"""The blind scenario: a fourth set of incidents, kept for a final held-out score.

Selected with `build_cluster(scenario="blind")` / `kubetrainer samples cluster
--scenario blind`. It exists only to score honestly: none of its incident types,
namespaces, evidence objects or phrases appear in the default (incidents.py),
heldout (heldout.py) or fresh (fresh.py) scenarios, and it was written without
reference to any diagnosis, answering, retrieval or evaluation code. Messages are
written the way the component that prints them does (kube-scheduler and its
preemption summary, cluster-autoscaler, the cronjob/replicaset/statefulset/
attach-detach controllers, Pod Security admission, kubelet and the CSI attacher,
runc and nvidia-container-cli, ingress-nginx's nginx and controller logs,
cert-manager, the NVIDIA device plugin, the AWS EBS CSI driver, Fluent Bit and
Elasticsearch, the Apache Kafka Java client, HikariCP, PostgreSQL, pg_dump,
node_exporter, PyTorch). Each question names its evidence (object + verbatim
phrase) and the facts a right answer must state.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

from kubetrainer.samples.cluster import add_pods
from kubetrainer.samples.model import NOW, Evidence, SampleCluster, SampleContainer, SamplePod
from kubetrainer.samples.nodes import gpu_node, sample_nodes
from kubetrainer.samples.noise import iso
from kubetrainer.samples.secrets import FakeSecrets
from kubetrainer.samples.workloads import ContainerSpec, Workload

# When the new general-purpose node group (cpu-b-*) joined, in minutes before NOW (08:05 UTC).
NEW_POOL = 235.0
# When cpu-c-0, the last node of the old group in us-east-1c, was cordoned (09:10 UTC).
CORDONED = 170.0
_API_VERSIONS = {
    "Job": "batch/v1", "CronJob": "batch/v1", "Ingress": "networking.k8s.io/v1", "Certificate": "cert-manager.io/v1",
    "CertificateRequest": "cert-manager.io/v1",
}


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


# Healthy first (the generator places each of these); the incidents then break some.
WORKLOADS: tuple[Workload, ...] = (
    _app("logging", "fluent-bit", "DaemonSet", "cr.fluentbit.io/fluent/fluent-bit:3.0.7", "controller", container="fluent-bit",
         weight=0.05),
    _app("observability", "prometheus-node-exporter", "DaemonSet", "quay.io/prometheus/node-exporter:v1.8.2", "controller",
         container="node-exporter", weight=0.05),
    _app("accounts", "sso-portal", "Deployment", "registry.example.com/identity/sso-portal:3.0.0", "json-api", replicas=2, port=8080,
         weight=2.0),
    _app("fulfillment", "shipment-events-consumer", "Deployment", "registry.example.com/logistics/shipment-events-consumer:4.2.1",
         "json-api", replicas=3),
    _app("inventory", "stock-api", "Deployment", "registry.example.com/commerce/stock-api:5.7.0", "json-api", replicas=3, port=8080,
         weight=3.0),
    _app("inventory", "inventory-db", "StatefulSet", "docker.io/library/postgres:16.2", "worker", port=5432, weight=0.5),
    _app("inventory", "stock-sync-worker", "Deployment", "registry.example.com/commerce/stock-sync-worker:1.11.0", "worker", replicas=2),
    _app("recommendations", "recs-api", "Deployment", "registry.example.com/reco/recs-api:1.9.4", "json-api", replicas=2, port=8080,
         weight=2.0),
    _app("partner-portal", "partner-portal", "Deployment", "registry.example.com/partners/partner-portal:3.4.1", "nginx", replicas=2,
         port=8080, weight=2.0),
    _app("telemetry", "timescaledb", "StatefulSet", "docker.io/timescale/timescaledb-ha:pg16.4-ts2.16.1", "worker", replicas=3,
         port=5432, weight=0.5),
    _app("ci", "jenkins", "StatefulSet", "docker.io/jenkins/jenkins:2.440.3-lts-jdk17", "worker", port=8080, weight=0.5),
    _app("helpdesk", "helpdesk-web", "Deployment", "registry.example.com/support/helpdesk-web:8.1.2", "nginx", replicas=2, port=8080,
         weight=1.5),
)

# Placed by their incidents, not by the generator.
_OLD_EXPORTER = _app("monitoring", "node-exporter", "DaemonSet", "quay.io/prometheus/node-exporter:v1.7.0", "controller",
                     container="node-exporter", weight=0.05)
_EBS_NODE = Workload("kube-system", "ebs-csi-node", "DaemonSet", (
    ContainerSpec("ebs-plugin", "public.ecr.aws/ebs-csi-driver/aws-ebs-csi-driver:v1.28.0", "controller", 0.05),
    ContainerSpec("node-driver-registrar", "public.ecr.aws/eks-distro/kubernetes-csi/node-driver-registrar:v2.10.0-eks-1-29-5",
                  "controller", 0.02),
    ContainerSpec("liveness-probe", "public.ecr.aws/eks-distro/kubernetes-csi/livenessprobe:v2.12.0-eks-1-29-5", "controller", 0.02),
))
_WHISPER = _app("speech", "whisper-asr", "Deployment", "registry.example.com/speech/whisper-asr:2.2.0", "json-api",
                gpu_vendor="nvidia", gpus=1, port=8000)
_CPU_NODES = ("cpu-0", "cpu-1", "cpu-b-0", "cpu-b-1", "cpu-c-0")


def _workload(namespace: str, name: str) -> Workload:
    return next(w for w in WORKLOADS if w.namespace == namespace and w.name == name)


def scenario_nodes() -> list[dict]:
    """The sample nodes plus this scenario's own.

    cpu-b-0/1 are the new general-purpose node group (us-east-1b) that joined at 08:05;
    cpu-c-0 is the old group's last node in us-east-1c, cordoned at 09:10 for decommissioning;
    gpu-h100-6 is an H100 node whose device plugin no longer offers its GPUs.
    """
    nodes = sample_nodes()
    for node in nodes:
        if node["metadata"]["name"] in ("cpu-0", "cpu-1"):
            node["metadata"]["labels"]["eks.amazonaws.com/nodegroup"] = "general-v1"
    new = []
    for name in ("cpu-b-0", "cpu-b-1"):
        node = gpu_node(name, None, None, 0, cpu="16", memory="65288748Ki", instance_type="m7i.4xlarge", zone="us-east-1b")
        node["metadata"]["creationTimestamp"] = stamp(NEW_POOL)
        node["metadata"]["labels"]["eks.amazonaws.com/nodegroup"] = "general-v2"
        new.append(node)
    old = gpu_node("cpu-c-0", None, None, 0, cpu="16", memory="65856108Ki", instance_type="m6i.4xlarge", zone="us-east-1c",
                   cordoned=True)
    old["metadata"]["labels"]["eks.amazonaws.com/nodegroup"] = "general-v1"
    for taint in old["spec"]["taints"]:
        taint["timeAdded"] = stamp(CORDONED)
    gpu = gpu_node("gpu-h100-6", "nvidia", "NVIDIA H100 80GB", 8)
    gpu["status"]["allocatable"]["nvidia.com/gpu"] = "0"
    return nodes + new + [old, gpu]


# ---------------------------------------------------------------- helpers


def ago(minutes: float) -> datetime:
    return NOW - timedelta(minutes=minutes)


def stamp(minutes: float) -> str:
    return ago(minutes).strftime("%Y-%m-%dT%H:%M:%SZ")


def _event(cluster: SampleCluster, involved: tuple[str, str | None, str], reason: str, message: str, at: datetime, **options) -> dict:
    """cluster.event, with the right involvedObject.apiVersion for batch, networking and cert-manager objects."""
    event = cluster.event(involved, reason, message, at, **options)
    if involved[0] in _API_VERSIONS:
        event["involvedObject"]["apiVersion"] = _API_VERSIONS[involved[0]]
    return event


def _klog(cluster: SampleCluster, level: str, moment: datetime, source: str, message: str, pid: int = 1) -> tuple[datetime, str]:
    moment = moment + timedelta(microseconds=cluster.rng.randint(0, 999_999))
    return moment, f"{level}{moment:%m%d %H:%M:%S.%f}{pid:>8} {source}] {message}"


def _klogs(cluster: SampleCluster, moment: datetime, *entries: tuple[str, str, str], pid: int = 1) -> list[tuple[datetime, str]]:
    """klog lines (level, source:line, message) printed one after another from `moment`, a few hundred microseconds apart."""
    lines = []
    for level, source, message in entries:
        moment += timedelta(microseconds=cluster.rng.randint(40, 900))
        lines.append((moment, f"{level}{moment:%m%d %H:%M:%S.%f}{pid:>8} {source}] {message}"))
    return lines


def _json(moment: datetime, level: str, message: str, **fields) -> tuple[datetime, str]:
    """A line in the json-api style (the apps' routine noise uses the same keys)."""
    return moment, json.dumps({"ts": iso(moment), "level": level, "msg": message, **fields})


def _pylog(moment: datetime, level: str, logger: str, message: str) -> tuple[datetime, str]:
    return moment, f"{moment:%Y-%m-%d %H:%M:%S},{moment.microsecond // 1000:03d} {level} {logger}: {message}"


def _postgres(moment: datetime, pid: int, level: str, message: str) -> tuple[datetime, str]:
    return moment, f"{moment:%Y-%m-%d %H:%M:%S}.{moment.microsecond // 1000:03d} UTC [{pid}] {level}:  {message}"


def _spring(moment: datetime, level: str, thread: str, logger: str, message: str) -> tuple[datetime, str]:
    """Spring Boot's default console line."""
    return moment, f"{moment:%Y-%m-%d %H:%M:%S}.{moment.microsecond // 1000:03d} {level:>5} 1 --- [{thread[-15:]:>15}] {logger:<40.40} : {message}"


def _fluent(moment: datetime, level: str, source: str, message: str) -> tuple[datetime, str]:
    return moment, f"[{moment:%Y/%m/%d %H:%M:%S}] [{level:>5}] [{source}] {message}"


def _pod_ip(pod: SamplePod) -> str:
    return f"10.244.{len(pod.name) % 8}.{sum(map(ord, pod.name)) % 250 + 2}"  # what objects.pod_json reports


def _forget(cluster: SampleCluster, pod: SamplePod) -> None:
    cluster.events = [e for e in cluster.events if e["involvedObject"]["name"] != pod.name]


def _started(cluster: SampleCluster, pod: SamplePod, at: datetime) -> None:
    ref = ("Pod", pod.namespace, pod.name)
    cluster.event(ref, "Scheduled", f"Successfully assigned {pod.namespace}/{pod.name} to {pod.node}", at, component="default-scheduler")
    for container in pod.init_containers + pod.containers:
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


def _crash_loop(cluster: SampleCluster, pod: SamplePod, container: SampleContainer, restarts: int, exit_code: int, minutes: float,
                first: float, *, reason: str = "Error", message: str | None = None) -> None:
    """`container` is in CrashLoopBackOff; it last exited `exit_code` `minutes` ago, first back-off `first` minutes ago."""
    container.restarts, container.ready, container.noise = restarts, False, False
    container.state = {"waiting": {"reason": "CrashLoopBackOff", "message": (
        f"back-off 5m0s restarting failed container={container.spec.name} pod={pod.name}_{pod.namespace}({pod.uid})")}}
    terminated = {"reason": reason, "exitCode": exit_code, "startedAt": stamp(minutes + 0.01), "finishedAt": stamp(minutes)}
    if message:
        terminated["message"] = message
    container.last_state = {"terminated": terminated}
    text = f"Back-off restarting failed container {container.spec.name} in pod {pod.name}_{pod.namespace}({pod.uid})"
    cluster.event(("Pod", pod.namespace, pod.name), "BackOff", text, ago(0.3), warning=True, count=max(1, 4 * restarts),
                  host=pod.node, first=ago(first))


def _reason(node: dict, tolerated: tuple[str, ...] = ()) -> str | None:
    """Why kube-scheduler's first filters (NodeUnschedulable, TaintToleration) reject a node for a pod, or None."""
    spec = node["spec"]
    if spec.get("unschedulable"):
        return "node(s) were unschedulable"
    for taint in spec.get("taints", []):
        if taint["effect"] in ("NoSchedule", "NoExecute") and taint["key"] not in tolerated:
            return f"node(s) had untolerated taint {{{taint['key']}: {taint.get('value', '')}}}"
    return None


def _fit_error(nodes: list[dict], reason_of: Callable[[dict], str]) -> str:
    """kube-scheduler's FailedScheduling text: one reason per node, `count reason` strings sorted, then the preemption summary."""
    reasons = Counter(reason_of(node) for node in nodes)
    total = len(nodes)
    found = ", ".join(sorted(f"{count} {reason}" for reason, count in reasons.items()))
    victims = sum(count for reason, count in reasons.items() if reason.startswith(("node(s) didn't have free ports", "Insufficient ")))
    summary = sorted(part for part in (f"{victims} No preemption victims found for incoming pod" if victims else "",
                                       f"{total - victims} Preemption is not helpful for scheduling" if total > victims else "") if part)
    return f"0/{total} nodes are available: {found}. preemption: 0/{total} nodes are available: {', '.join(summary)}."


def _placement(cluster: SampleCluster) -> None:
    """Where things ran before the incidents: nothing but DaemonSets on the cordoned cpu-c-0, and nothing
    on the new cpu-b-* nodes older than the nodes themselves (the node-group rotation moved those pods there)."""
    for pod in cluster.pods:
        if pod.node in ("cpu-b-0", "cpu-b-1"):
            _pin(cluster, pod, pod.node, NEW_POOL - 1 - cluster.rng.uniform(0, 4))
    for pod, node in zip(cluster.pods_of("telemetry", "timescaledb"), ("cpu-0", "cpu-1", "cpu-c-0")):
        _pin(cluster, pod, node)
    (jenkins,) = cluster.pods_of("ci", "jenkins")
    _pin(cluster, jenkins, "cpu-b-0")


# ---------------------------------------------------------------- incidents


def oversized_headers(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """sso-portal 3.0.0 puts the ID token in its session cookie: ingress-nginx rejects the callback response (502)."""
    released, host = 175.0, "login.example.com"
    pods = cluster.pods_of("accounts", "sso-portal")
    controllers = cluster.pods_of("ingress-nginx", "ingress-nginx-controller")
    new_rs, old_rs = pods[0].owner[1], f"sso-portal-{cluster.suffix(10)}"
    deployment = ("Deployment", "accounts", "sso-portal")
    for offset, message in enumerate((f"Scaled up replica set {new_rs} to 1", f"Scaled down replica set {old_rs} to 1 from 2",
                                       f"Scaled up replica set {new_rs} to 2 from 1", f"Scaled down replica set {old_rs} to 0 from 1")):
        cluster.event(deployment, "ScalingReplicaSet", message, ago(released - 0.4 * offset), component="deployment-controller")
    for index, pod in enumerate(pods):
        _pin(cluster, pod, pod.node, released - 0.1 - 0.8 * index)
        pod.containers[0].lines += [
            _json(pod.start + timedelta(seconds=2), "info", "sso-portal 3.0.0 listening", addr=":8080"),
            _json(pod.start + timedelta(seconds=2), "info", "session store configured", store="cookie",
                  cookie="__Host-sso_session", include_id_token=True, include_access_token=True),
        ]
    pods[0].containers[0].lines.append(_json(ago(released - 6), "debug", "issued session cookie", user="u_40213",
                                             cookie=f"__Host-sso_session={secrets.jwt}; Path=/; Secure; HttpOnly"))
    agents = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_3) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Safari/605.1.15",
              "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36")
    connection = 2_251_900
    for step, minutes in enumerate(range(int(released) - 3, 0, -3)):
        pod, controller = pods[step % 2], controllers[step % len(controllers)]
        moment = ago(minutes) + timedelta(seconds=cluster.rng.uniform(0, 59))
        code = "".join(cluster.rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(24))
        path = f"/oauth2/callback?code=4%2F0Ae{code}&state={cluster.rng.getrandbits(48):012x}"
        size = cluster.rng.randint(7100, 7900)
        user = f"u_{cluster.rng.randint(10000, 99999)}"
        pod.containers[0].lines.append(_json(moment, "info", "oauth2 callback completed", user=user, status=302,
                                             set_cookie_bytes=size, duration_ms=cluster.rng.randint(40, 160)))
        client = f"10.0.{cluster.rng.randint(0, 3)}.{cluster.rng.randint(2, 250)}"
        upstream = f"{_pod_ip(pod)}:8080"
        connection += cluster.rng.randint(40, 900)
        worker = 812 + step % 4
        controller.containers[0].lines += [
            (moment, (f'{moment:%Y/%m/%d %H:%M:%S} [error] {worker}#{worker}: *{connection} upstream sent too big header while reading '
                     f'response header from upstream, client: {client}, server: {host}, request: "GET {path} HTTP/2.0", upstream: '
                     f'"http://{upstream}{path}", host: "{host}", referrer: "https://accounts.google.com/"')),
            (moment + timedelta(microseconds=1), (
                f'{client} - - [{moment:%d/%b/%Y:%H:%M:%S} +0000] "GET {path} HTTP/2.0" 502 150 "https://accounts.google.com/" '
                f'"{agents[step % 2]}" {cluster.rng.randint(380, 620)} 0.0{cluster.rng.randint(10, 60)} [accounts-sso-portal-8080] [] '
                f"{upstream} 0 0.0{cluster.rng.randint(10, 60)} 502 {cluster.rng.getrandbits(128):032x}")),
        ]
    cluster.ask(
        "hdr-1", "Since this morning's SSO release people land on a 502 Bad Gateway right after they log in. What's going on?",
        "ingress-nginx rejects sso-portal's response to the OAuth2 callback: 'upstream sent too big header while reading response "
        "header from upstream', so it answers 502. sso-portal 3.0.0 (rolled out at 09:05) stores the ID and access tokens in its "
        "session cookie, making the Set-Cookie header about 7-8 KB, more than the controller's default proxy buffer (4k). Raise "
        "nginx.ingress.kubernetes.io/proxy-buffer-size (e.g. 16k) on the Ingress, or shrink the cookie.",
        "header-size", Evidence(controllers[0].namespace, controllers[0].name, "upstream sent too big header"),
        facts=("too big header|proxy-buffer-size|proxy_buffer_size|proxy buffer", "cookie|Set-Cookie|header size"),
    )
    cluster.ask(
        "hdr-2", "Is the sso-portal app itself failing the logins?",
        "No. sso-portal completes every callback with a 302, but since 3.0.0 its Set-Cookie header is over 7 KB (set_cookie_bytes "
        "7100-7900); ingress-nginx cannot fit that into its proxy buffer ('upstream sent too big header') and returns 502 instead. "
        "The fix is a larger proxy-buffer-size on the Ingress or a smaller session cookie.",
        "header-size", Evidence(pods[0].namespace, pods[0].name, "set_cookie_bytes"),
        facts=("too big header|proxy buffer|proxy-buffer-size", "cookie"),
    )


def cronjob_blocked(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """Thursday's export Job hangs in pg_dump; the CronJob is Forbid, so it has skipped every run since."""
    namespace, cron = "crm", "nightly-export"
    scheduled = ago(2 * 24 * 60 + 11 * 60)  # 2026-03-12 01:00 UTC
    job = f"{cron}-{int(scheduled.timestamp()) // 60}"  # the CronJob controller names Jobs after the scheduled minute
    workload = _app(namespace, job, "Job", "registry.example.com/crm/nightly-export:1.6.0", "worker", container="export")
    (pod,) = add_pods(cluster, workload, 1, node="cpu-1")
    _forget(cluster, pod)
    pod.start = scheduled + timedelta(seconds=2)
    export = pod.containers[0]
    export.noise = False
    export.state = {"running": {"startedAt": pod.start.strftime("%Y-%m-%dT%H:%M:%SZ")}}
    export.env = [{"name": "PGHOST", "value": "crm-db.crm.svc.cluster.local"}, {"name": "PGUSER", "value": "crm_export"},
                  {"name": "EXPORT_BUCKET", "value": "s3://acme-crm-exports"},
                  {"name": "AWS_ACCESS_KEY_ID", "value": secrets.aws_access_key},
                  {"name": "AWS_SECRET_ACCESS_KEY", "value": secrets.aws_secret_key}]
    _event(cluster, ("CronJob", namespace, cron), "SuccessfulCreate", f"Created job {job}", scheduled, component="cronjob-controller")
    _event(cluster, ("Job", namespace, job), "SuccessfulCreate", f"Created pod: {pod.name}", scheduled, component="job-controller")
    _started(cluster, pod, pod.start)
    start = pod.start + timedelta(seconds=1)
    lines = [(start, f"{iso(start, 0)} nightly-export 1.6.0: exporting database crm to s3://acme-crm-exports/2026-03-12/ (format custom)")]
    steps = ["last built-in OID is 16383", "reading extensions", "identifying extension members", "reading schemas",
             "reading user-defined tables", "reading user-defined functions", "reading indexes", "reading constraints",
             "reading triggers", "reading dependency data", "saving encoding = UTF8", "saving standard_conforming_strings = on",
             'dumping contents of table "public.accounts"', 'dumping contents of table "public.account_owners"',
             'dumping contents of table "public.activities"']
    moment = start + timedelta(seconds=2)
    for index, step in enumerate(steps):
        moment += timedelta(seconds=1 if index < 12 else 190)
        lines.append((moment, f"pg_dump: {step}"))
    export.lines += lines
    stalled = f"{moment:%H:%M}"  # pg_dump's last line, on Thursday
    first, last = ago(35 * 60), ago(11 * 60)  # the two runs since: 2026-03-13 and 2026-03-14 01:00 UTC
    _event(cluster, ("CronJob", namespace, cron), "JobAlreadyActive",
           "Not starting job because prior execution is running and concurrency policy is Forbid", last, count=2, first=first,
           component="cronjob-controller")
    cluster.ask(
        "export-1", "The CRM nightly export hasn't dropped a file in the bucket for two nights now. Why?",
        f"The CronJob {cron} has concurrencyPolicy Forbid and its Thursday run, Job {job}, is still active, so on Friday and "
        "Saturday at 01:00 the cronjob controller skipped the run (JobAlreadyActive: 'prior execution is running'). That Job's pod "
        f"has been stuck in pg_dump since {stalled} on Thursday and, with no activeDeadlineSeconds, never ends.",
        "cronjob-forbid", Evidence(namespace, cron, "concurrency policy is Forbid"),
        facts=("Forbid|JobAlreadyActive|still running|still active", job),
    )
    cluster.ask(
        "export-2", f"What is the crm export pod that has been running since Thursday ({pod.name}) actually doing?",
        f"Nothing: it is hung. pg_dump's last message, at {stalled} on Thursday, is 'dumping contents of table "
        "\"public.activities\"' and it "
        "has printed nothing since (most likely waiting on a lock on that table). Because the Job has no deadline it stays active, "
        "and the Forbid CronJob skips every new export while it does; delete the Job (and find what blocks public.activities).",
        "cronjob-forbid", Evidence(namespace, pod.name, 'dumping contents of table "public.activities"'),
        facts=("public.activities", "hung|stuck|no progress|nothing since|waiting"),
    )


def es_mapping_conflict(cluster: SampleCluster) -> None:
    """Today's Elasticsearch index mapped kubernetes.labels.app as text: every record with an app.kubernetes.io/* label is rejected."""
    index = f"logstash-{NOW:%Y.%m.%d}"
    pods = cluster.pods_of("logging", "fluent-bit")
    rejected = {"type": "mapper_parsing_exception", "reason": (
        "Could not dynamically add mapping for field [app.kubernetes.io/name]. Existing mapping for [kubernetes.labels.app] must be "
        "of type object but found [text].")}
    for pod in pods:
        bit = pod.containers[0]
        bit.noise = False
        start = pod.start
        bit.lines += [
            (start, "Fluent Bit v3.0.7"),
            (start, "* Copyright (C) 2015-2024 The Fluent Bit Authors"),
            (start, "* Fluent Bit is a CNCF sub-project under the umbrella of Fluentd"),
            (start, "* https://fluentbit.io"),
            _fluent(start, "info", "fluent bit", "version=3.0.7, commit=73e72bdf6d, pid=1"),
            _fluent(start, "info", "storage", "ver=1.5.2, type=memory, sync=normal, checksum=off, max_chunks_up=128"),
            _fluent(start, "info", "filter:kubernetes:kubernetes.0", "connectivity OK"),
            _fluent(start, "info", "output:es:es.0", "worker #0 started"),
            _fluent(start, "info", "sp", "stream processor started"),
        ]
        task = cluster.rng.randint(0, 40)
        moment = NOW.replace(hour=0, minute=0, second=4) + timedelta(seconds=cluster.rng.randint(0, 400))
        while moment < NOW:
            chunk = f"1-{int(moment.timestamp())}.{cluster.rng.randint(100000000, 999999999)}.flb"
            task = (task + 1) % 64
            response = {"took": cluster.rng.randint(3, 40), "errors": True, "items": [
                {"create": {"_index": index, "_id": f"{cluster.rng.getrandbits(72):018x}", "status": 400, "error": rejected}}
                for _ in range(2)]}
            bit.lines += [
                _fluent(moment, "error", "output:es:es.0", "error: Output"),
                (moment + timedelta(microseconds=1), json.dumps(response, separators=(",", ":"))),
                _fluent(moment + timedelta(microseconds=2), " warn", "engine",
                        f"failed to flush chunk '{chunk}', retry in {cluster.rng.randint(6, 14)} seconds: task_id={task}, "
                        "input=tail.0 > output=es.0 (out_id=0)"),
                _fluent(moment + timedelta(seconds=40), "error", "engine",
                        f"chunk '{chunk}' cannot be retried: task_id={task}, input=tail.0 > output=es.0"),
            ]
            moment += timedelta(minutes=15, seconds=cluster.rng.randint(-90, 90))
    cluster.ask(
        "logs-1", "Kibana has shown almost no new container logs since midnight. Is the logging pipeline down?",
        f"fluent-bit runs and reaches Elasticsearch, but Elasticsearch rejects the records: today's index {index} mapped "
        "kubernetes.labels.app as a text field, so every record from a pod labelled app.kubernetes.io/* fails with "
        "mapper_parsing_exception ('Existing mapping for [kubernetes.labels.app] must be of type object but found [text]'), and "
        "fluent-bit drops the chunks after its retries. Turn on Replace_Dots in the es output (or map labels as flattened/rename "
        "the plain app label).",
        "log-mapping", Evidence(pods[0].namespace, pods[0].name, "Could not dynamically add mapping for field"),
        facts=("mapper_parsing_exception|mapping", "kubernetes.labels.app"),
    )
    cluster.ask(
        "logs-2", "fluent-bit keeps complaining that it failed to flush chunks. Is Elasticsearch unreachable?",
        "No, Elasticsearch answers every bulk request, but rejects the documents with status 400 mapper_parsing_exception: in "
        f"{index} kubernetes.labels.app is text, so the dotted label app.kubernetes.io/name cannot become an object under it. "
        "The chunks are retried and then dropped ('cannot be retried'); Replace_Dots On in the es output fixes it.",
        "log-mapping", Evidence(pods[1].namespace, pods[1].name, "cannot be retried"),
        facts=("mapper_parsing_exception|mapping|400", "app.kubernetes.io|kubernetes.labels.app|Replace_Dots"),
    )


def kafka_poll_timeout(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """Since the carrier-rates API slowed down, each 500-record batch takes > max.poll.interval.ms: endless rebalances."""
    slow, group = 150.0, "shipment-events"
    pods = cluster.pods_of("fulfillment", "shipment-events-consumer")
    coordinator = "o.a.k.c.c.internals.ConsumerCoordinator"
    listener = "c.a.l.shipments.ShipmentEventListener"
    broker = "kafka-1.kafka-headless.kafka.svc.cluster.local:9092 (id: 2147483646 rack: null)"
    generation = 4117
    for index, pod in enumerate(pods):
        app = pod.containers[0]
        app.noise = False
        app.env = [{"name": "KAFKA_BOOTSTRAP_SERVERS", "value": "kafka-0.kafka-headless.kafka.svc.cluster.local:9092"},
                   {"name": "CARRIER_RATES_URL", "value": "https://rates.carrier-hub.example.net/v2/quote"},
                   {"name": "ALERT_WEBHOOK_URL", "value": secrets.slack_webhook}]
        client = f"consumer-{group}-{index + 1}"
        prefix = f"[Consumer clientId={client}, groupId={group}]"
        start = pod.start
        app.lines += [
            _spring(start, "INFO", "main", "c.a.l.shipments.Application", "Starting Application v4.2.1 using Java 21.0.2 with PID 1"),
            _spring(start + timedelta(seconds=3), "INFO", "main", "o.a.k.clients.consumer.ConsumerConfig",
                    "ConsumerConfig values: \n\tallow.auto.create.topics = true\n\tauto.offset.reset = earliest\n\tenable.auto.commit = "
                    f"false\n\tgroup.id = {group}\n\tmax.poll.interval.ms = 300000\n\tmax.poll.records = 500\n\tsession.timeout.ms = 45000"),
            _spring(start + timedelta(seconds=4), "INFO", "main", "o.a.kafka.common.utils.AppInfoParser", "Kafka version: 3.6.1"),
            _spring(start + timedelta(seconds=5), "INFO", f"ntainer#0-0-C-{index + 1}", coordinator,
                    f"{prefix} Successfully joined group with generation Generation{{generationId={generation - 40}, "
                    f"memberId='{client}-{cluster.uid()}', protocol='range'}}"),
        ]
        thread = f"ntainer#0-0-C-{index + 1}"
        moment = max(start + timedelta(seconds=30), ago(360))
        while moment < ago(slow):
            app.lines.append(_spring(moment, "INFO", thread, listener,
                                     f"Processed batch of 500 records in {cluster.rng.uniform(38, 70):.1f}s (carrier-rates avg "
                                     f"{cluster.rng.randint(70, 130)}ms/record)"))
            moment += timedelta(seconds=cluster.rng.uniform(60, 90))
        app.lines.append(_spring(ago(slow - 3 - index) + timedelta(seconds=cluster.rng.uniform(0, 59)), "WARN", thread, "c.a.l.shipments.CarrierRatesClient",
                                 f"carrier-rates p50 latency {cluster.rng.randint(1150, 1300)}ms over the last 5m (was 95ms); "
                                 f"request to POST /v2/quote with Authorization: Bearer {secrets.bearer_token}"))
        moment = ago(slow - 5 - 2 * index) + timedelta(seconds=cluster.rng.uniform(0, 59))
        while moment < NOW - timedelta(minutes=3):
            member = f"{client}-{cluster.uid()}"
            timeout = moment + timedelta(seconds=300, milliseconds=cluster.rng.randint(1, 999))
            took = cluster.rng.uniform(585, 640)
            done = moment + timedelta(seconds=took)
            generation += 1
            app.lines += [
                _spring(timeout, "WARN", f"kafka-coordinator-heartbeat-thread | {group}", coordinator, (
                    f"{prefix} consumer poll timeout has expired. This means the time between subsequent calls to poll() was longer "
                    "than the configured max.poll.interval.ms, which typically implies that the poll loop is spending too much time "
                    "processing messages. You can address this either by increasing max.poll.interval.ms or by reducing the maximum "
                    "size of batches returned in poll() with max.poll.records.")),
                _spring(timeout + timedelta(milliseconds=2), "INFO", f"kafka-coordinator-heartbeat-thread | {group}", coordinator,
                        f"{prefix} Member {member} sending LeaveGroup request to coordinator {broker} due to consumer poll timeout "
                        "has expired."),
                _spring(done, "INFO", thread, listener,
                        f"Processed batch of 500 records in {took:.1f}s (carrier-rates avg {took / 500 * 1000:.0f}ms/record)"),
                _spring(done + timedelta(milliseconds=4), "ERROR", thread, "o.s.k.l.KafkaMessageListenerContainer", (
                    "Consumer exception\norg.apache.kafka.clients.consumer.CommitFailedException: Offset commit cannot be completed "
                    "since the consumer is not part of an active group for auto partition assignment; it is likely that the consumer "
                    "was kicked out of the group.\n\tat org.apache.kafka.clients.consumer.internals.ConsumerCoordinator."
                    "sendOffsetCommitRequest(ConsumerCoordinator.java:1351)")),
                _spring(done + timedelta(milliseconds=9), "INFO", thread, coordinator,
                        f"{prefix} (Re-)joining group"),
                _spring(done + timedelta(seconds=3), "INFO", thread, coordinator,
                        f"{prefix} Successfully joined group with generation Generation{{generationId={generation}, "
                        f"memberId='{client}-{cluster.uid()}', protocol='range'}}"),
                _spring(done + timedelta(seconds=3, milliseconds=5), "INFO", thread, coordinator,
                        f"{prefix} Adding newly assigned partitions: {group}-{index * 4}, {group}-{index * 4 + 1}, "
                        f"{group}-{index * 4 + 2}, {group}-{index * 4 + 3}"),
            ]
            moment = done + timedelta(seconds=4)
    cluster.ask(
        "kafka-1", "Lag on the shipment events topic keeps climbing and the consumer group rebalances every few minutes. Why?",
        "The consumers take longer than max.poll.interval.ms (300000 ms) to process one poll: each batch is max.poll.records = 500 "
        "records, and since about 09:30 every record waits ~1.2 s on the carrier-rates API, so a batch takes ~600 s. The heartbeat "
        "thread reports 'consumer poll timeout has expired' and leaves the group, the offsets of the finished batch cannot be "
        "committed, and the same records are processed again after the rebalance. Lower max.poll.records (or raise "
        "max.poll.interval.ms) and deal with the slow carrier-rates calls.",
        "kafka-poll", Evidence(pods[0].namespace, pods[0].name, "consumer poll timeout has expired"),
        facts=("max.poll.interval.ms|poll timeout|poll interval", "max.poll.records|500|batch"),
    )
    cluster.ask(
        "kafka-2", "Why can't the shipment consumers commit their offsets?",
        "Because by the time a batch is finished the consumer is no longer in the group: processing 500 records takes ~600 s, more "
        "than max.poll.interval.ms (300 s), so the member is kicked out (LeaveGroup due to consumer poll timeout) and the commit "
        "fails with CommitFailedException; after rejoining it gets the same partitions and reprocesses the batch.",
        "kafka-poll", Evidence(pods[1].namespace, pods[1].name, "CommitFailedException"),
        facts=("max.poll.interval.ms|poll timeout|poll interval", "CommitFailedException|kicked out|not part of an active group"),
    )


def db_connection_limit(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """stock-sync-worker was scaled 2 -> 12 for a backfill; its pools take all of inventory-db's max_connections."""
    scaled = 102.0
    (database,) = cluster.pods_of("inventory", "inventory-db")
    database.claims = [f"data-{database.name}"]
    db = database.containers[0]
    db.noise = False
    for minutes in range(355, 0, -30):
        moment = ago(minutes) + timedelta(seconds=17.482)
        db.lines += [
            _postgres(moment, 31, "LOG", "checkpoint starting: time"),
            _postgres(moment + timedelta(seconds=164), 31, "LOG", (
                f"checkpoint complete: wrote {cluster.rng.randint(900, 1900)} buffers ({cluster.rng.uniform(5, 12):.1f}%); 0 WAL "
                f"file(s) added, 0 removed, {cluster.rng.randint(1, 3)} recycled; write=161.812 s, sync=0.009 s, total=164.030 s; "
                f"sync files=37, longest=0.003 s, average=0.001 s; distance={cluster.rng.randint(18000, 26000)} kB, estimate=23310 kB")),
        ]
    workers = cluster.pods_of("inventory", "stock-sync-worker")
    rs = workers[0].owner[1]
    workload = workers[0].workload
    added = add_pods(cluster, workload, 10)
    for index, pod in enumerate(added):
        _forget(cluster, pod)
        pod.owner, pod.name = workers[0].owner, f"{rs}-{cluster.suffix()}"
        node = ("cpu-0", "cpu-1", "cpu-b-0", "cpu-b-1")[index % 4]
        _pin(cluster, pod, node, scaled - 0.2 - 0.05 * index)
    cluster.event(("Deployment", "inventory", "stock-sync-worker"), "ScalingReplicaSet", f"Scaled up replica set {rs} to 12 from 2",
                  ago(scaled), component="deployment-controller")
    dsn = f"postgres://stock_sync:{secrets.url_password}@inventory-db.inventory.svc.cluster.local:5432/inventory?pool_max_conns=10"
    for pod in workers + added:
        app = pod.containers[0]
        app.env = [{"name": "DATABASE_URL", "value": dsn}, {"name": "SYNC_MODE", "value": "full-backfill"}]
        app.lines.append(_pylog(max(pod.start, ago(360)) + timedelta(seconds=2), "INFO", "stock_sync.db",
                                "connection pool ready: min_size=10 max_size=10 host=inventory-db.inventory.svc.cluster.local"))
    apis = cluster.pods_of("inventory", "stock-api")
    for pod in apis:
        pod.containers[0].env = [{"name": "SPRING_DATASOURCE_URL", "value": "jdbc:postgresql://inventory-db.inventory.svc:5432/inventory"},
                                 {"name": "SPRING_DATASOURCE_HIKARI_MAXIMUM_POOL_SIZE", "value": "10"}]
    pid = 52_000
    for minutes in range(int(scaled) - 1, 0, -1):
        for _ in range(cluster.rng.randint(2, 4)):
            pid += cluster.rng.randint(1, 9)
            text = ("sorry, too many clients already" if cluster.rng.random() < 0.7 else
                    "remaining connection slots are reserved for roles with the SUPERUSER attribute")
            db.lines.append(_postgres(ago(minutes) + timedelta(seconds=cluster.rng.uniform(0, 59)), pid, "FATAL", text))
    for index, pod in enumerate(apis):
        for minutes in range(int(scaled) - 2 - index, 0, -2):
            moment = ago(minutes) + timedelta(seconds=cluster.rng.uniform(0, 59))
            waiting = cluster.rng.randint(20, 60)
            total = cluster.rng.randint(2, 4)
            pod.containers[0].lines.append(_json(
                moment, "error", "request failed", path=f"/api/v1/stock/{cluster.rng.randint(100000, 999999)}", status=500,
                duration_ms=30004 + cluster.rng.randint(0, 40), logger="c.a.c.stock.web.StockController",
                error=("org.springframework.jdbc.CannotGetJdbcConnectionException: Failed to obtain JDBC Connection; nested exception is "
                       "java.sql.SQLTransientConnectionException: HikariPool-1 - Connection is not available, request timed out after "
                       f"30000ms (total={total}, active={total}, idle=0, waiting={waiting}); caused by: "
                       "org.postgresql.util.PSQLException: FATAL: sorry, too many clients already")))
    cluster.ask(
        "conn-1", "The stock API has been timing out on most requests since about 10:20. What's wrong?",
        "stock-api cannot get database connections: its Hikari pool times out after 30 s ('Connection is not available') because "
        "inventory-db refuses new connections with 'FATAL: sorry, too many clients already' — PostgreSQL's max_connections is used "
        "up. At 10:18 stock-sync-worker was scaled from 2 to 12 replicas for a full backfill, and each replica holds a pool of 10 "
        "connections, about 120 in all, so the API's pools cannot grow.",
        "db-connections", Evidence(apis[0].namespace, apis[0].name, "Connection is not available, request timed out"),
        facts=("too many clients|max_connections|connection slots", "stock-sync-worker"),
    )
    cluster.ask(
        "conn-2", "inventory-db started rejecting connections this morning. Who is holding them all?",
        "stock-sync-worker: its Deployment was scaled from 2 to 12 replicas at 10:18 and every replica opens a fixed pool of 10 "
        "connections (max_size=10), which exhausts PostgreSQL's max_connections; since then inventory-db answers 'sorry, too many "
        "clients already' to everyone else, including stock-api. Scale the workers back or cap their pools (or add PgBouncer).",
        "db-connections", Evidence(database.namespace, database.name, "sorry, too many clients already"),
        Evidence("inventory", "stock-sync-worker", "to 12 from 2"),
        facts=("stock-sync-worker", "12|scaled"),
    )


def wrong_architecture(cluster: SampleCluster) -> None:
    """recs-api 2.0.0 was built on an arm64 laptop: exec format error on the amd64 nodes."""
    released = 40.0
    image = "registry.example.com/reco/recs-api:2.0.0"
    old = cluster.pods_of("recommendations", "recs-api")
    (pod,) = add_pods(cluster, old[0].workload, 1, image=image)
    new_rs = pod.owner[1]
    _pin(cluster, pod, pod.node, released)
    _forget(cluster, pod)
    ref = ("Pod", pod.namespace, pod.name)
    cluster.event(ref, "Scheduled", f"Successfully assigned {pod.namespace}/{pod.name} to {pod.node}", ago(released),
                  component="default-scheduler")
    cluster.event(ref, "Pulling", f'Pulling image "{image}"', ago(released - 0.01), host=pod.node)
    cluster.event(ref, "Pulled", (f'Successfully pulled image "{image}" in 2.874s (2.874s including waiting). Image size: 48213377 '
                                  "bytes."), ago(released - 0.06), host=pod.node)
    cluster.event(ref, "Created", "Created container app", ago(1.2), host=pod.node, count=13, first=ago(released - 0.06))
    cluster.event(ref, "Started", "Started container app", ago(1.2), host=pod.node, count=13, first=ago(released - 0.06))
    cluster.event(ref, "Pulled", f'Container image "{image}" already present on machine', ago(1.2), host=pod.node, count=12,
                  first=ago(released - 0.2))
    app = pod.containers[0]
    _crash_loop(cluster, pod, app, 12, 1, 1.2, released - 0.1)
    app.lines.append((ago(1.2), "exec /app/recs-api: exec format error"))
    cluster.event(("Deployment", "recommendations", "recs-api"), "ScalingReplicaSet", f"Scaled up replica set {new_rs} to 1",
                  ago(released), component="deployment-controller")
    cluster.ask(
        "arch-1", "recs-api 2.0.0 crash-loops right after the deploy and its log has a single line. What does it mean?",
        "The container cannot even start its binary: 'exec /app/recs-api: exec format error' means the executable was built for a "
        "different CPU architecture than the node's (the nodes are amd64; the 2.0.0 image was evidently built for arm64, e.g. on an "
        "Apple-silicon machine). It exits with code 1 at once and sits in CrashLoopBackOff; rebuild and push a linux/amd64 (or "
        "multi-arch) image. The old 1.9.4 pods keep serving.",
        "exec-format", Evidence(pod.namespace, pod.name, "exec format error"),
        facts=("exec format error|CPU architecture|wrong architecture", "amd64|arm64"),
    )


def pod_security_rejects(cluster: SampleCluster) -> None:
    """partner-portal's namespace now enforces the restricted Pod Security Standard; the new ReplicaSet can't create pods."""
    rolled = 230.0
    old = cluster.pods_of("partner-portal", "partner-portal")
    new_rs = f"partner-portal-{cluster.suffix(10)}"
    cluster.event(("Deployment", "partner-portal", "partner-portal"), "ScalingReplicaSet", f"Scaled up replica set {new_rs} to 1",
                  ago(rolled), component="deployment-controller")
    container = old[0].containers[0].spec.name
    violations = (f'allowPrivilegeEscalation != false (container "{container}" must set securityContext.allowPrivilegeEscalation=false), '
                  f'unrestricted capabilities (container "{container}" must set securityContext.capabilities.drop=["ALL"]), '
                  f'runAsNonRoot != true (pod or container "{container}" must set securityContext.runAsNonRoot=true), '
                  f'seccompProfile (pod or container "{container}" must set securityContext.seccompProfile.type to "RuntimeDefault" '
                  'or "Localhost")')
    rs = ("ReplicaSet", "partner-portal", new_rs)
    for offset in range(9):
        message = (f'Error creating: pods "{new_rs}-{cluster.suffix()}" is forbidden: violates PodSecurity "restricted:latest": '
                   f"{violations}")
        cluster.event(rs, "FailedCreate", message, ago(rolled - 0.01 * (offset + 1)), warning=True, component="replicaset-controller")
    cluster.event(rs, "FailedCreate", (f'(combined from similar events): Error creating: pods "{new_rs}-{cluster.suffix()}" is forbidden: '
                                       f'violates PodSecurity "restricted:latest": {violations}'),
                  ago(2.5), warning=True, count=47, first=ago(rolled - 0.2), component="replicaset-controller")
    cluster.ask(
        "psa-1", "The partner-portal rollout from this morning hasn't produced a single new pod. Why?",
        f"The new ReplicaSet {new_rs} cannot create pods: the API server rejects each one (FailedCreate) because the "
        "partner-portal namespace now enforces the restricted Pod Security Standard ('violates PodSecurity \"restricted:latest\"') "
        "and the pod template sets no securityContext (allowPrivilegeEscalation, capabilities, runAsNonRoot, seccompProfile). "
        "The two old 3.4.1 pods created before the enforcement keep running.",
        "pod-security", Evidence("partner-portal", new_rs, 'violates PodSecurity "restricted:latest"'),
        facts=("PodSecurity|restricted|Pod Security", "securityContext|runAsNonRoot|allowPrivilegeEscalation"),
    )
    cluster.ask(
        "psa-2", "What exactly has to change in the partner-portal pod spec before it can be deployed again?",
        f"Its container {container!r} must satisfy the restricted Pod Security level: set securityContext.allowPrivilegeEscalation=false, "
        'capabilities.drop=["ALL"], runAsNonRoot=true (and an image that runs as a non-root user), and '
        'seccompProfile.type RuntimeDefault (or Localhost).',
        "pod-security", Evidence("partner-portal", new_rs, "must set securityContext.runAsNonRoot=true"),
        facts=("allowPrivilegeEscalation", "runAsNonRoot", "seccompProfile|capabilities"),
    )


def host_port_conflict(cluster: SampleCluster) -> None:
    """The new node-exporter DaemonSet (observability) can't land on the CPU nodes: the old one still holds hostPort 9100."""
    created = 140.0
    olds = []
    for node in _CPU_NODES:
        (pod,) = add_pods(cluster, _OLD_EXPORTER, 1, node=node)
        _pin(cluster, pod, node, NEW_POOL - 1.5 if node.startswith("cpu-b-") else None)
        exporter = pod.containers[0]
        exporter.noise = False
        exporter.lines += [
            (pod.start, (f'ts={iso(pod.start)} caller=node_exporter.go:192 level=info msg="Starting node_exporter" '
                        'version="(version=1.7.0, branch=HEAD, revision=7333465abf9efba81876303bb57e6fadb946041b)"')),
            (pod.start, (f'ts={iso(pod.start)} caller=node_exporter.go:193 level=info msg="Build context" '
                        'build_context="(go=go1.21.4, platform=linux/amd64, user=root@35918982f6d8, date=20231112-23:53:35, '
                        'tags=netgo osusergo static_build)"')),
            (pod.start, f"ts={iso(pod.start)} caller=node_exporter.go:117 level=info collector=textfile"),
            (pod.start + timedelta(milliseconds=3), (f'ts={iso(pod.start + timedelta(milliseconds=3))} caller=tls_config.go:274 '
                                                    'level=info msg="Listening on" address=[::]:9100')),
            (pod.start + timedelta(milliseconds=3), (f'ts={iso(pod.start + timedelta(milliseconds=3))} caller=tls_config.go:277 '
                                                    'level=info msg="TLS is disabled." http2=false address=[::]:9100')),
        ]
        olds.append(pod)
    pending = []
    for pod in cluster.pods_of("observability", "prometheus-node-exporter"):
        exporter = pod.containers[0]
        exporter.noise = False
        if pod.node in _CPU_NODES:
            target = pod.node
            cluster.unschedule(pod)
            pod.start = ago(created)
            message = _fit_error(cluster.nodes, lambda n, t=target: "node(s) didn't have free ports for the requested pod ports"
                                 if n["metadata"]["name"] == t else "node(s) didn't match Pod's node affinity/selector")
            cluster.event(("Pod", pod.namespace, pod.name), "FailedScheduling", message, ago(cluster.rng.uniform(0.5, 4)), warning=True,
                          count=cluster.rng.randint(28, 34), component="default-scheduler", first=ago(created))
            pending.append((pod, target))
            continue
        _pin(cluster, pod, pod.node, created - 0.1)
        moment = pod.start + timedelta(seconds=2)
        exporter.lines += [
            (moment, (f'time={iso(moment)} level=INFO source=node_exporter.go:193 msg="Starting node_exporter" '
                     'version="(version=1.8.2, branch=HEAD, revision=f1e0e8360aa60b6cb5e5cc1560bed348fc2c1895)"')),
            (moment, f'time={iso(moment)} level=INFO source=tls_config.go:313 msg="Listening on" address=[::]:9100'),
        ]
    daemonset = ("DaemonSet", "observability", "prometheus-node-exporter")
    for pod, _ in pending:
        cluster.event(daemonset, "SuccessfulCreate", f"Created pod: {pod.name}", ago(created), component="daemonset-controller")
    (first, target) = pending[0]
    old = next(p for p in olds if p.node == target)
    cluster.ask(
        "ports-1", "The new node-exporter DaemonSet in observability stays Pending on every CPU node. Why?",
        "Its pods ask for hostPort 9100, and on the CPU nodes that port is already taken: the scheduler reports \"didn't have free "
        "ports for the requested pod ports\" for the one node each DaemonSet pod is pinned to. The old exporter, DaemonSet "
        "node-exporter in the monitoring namespace, still runs there and listens on 9100; on the GPU nodes, where it never ran, the "
        "new pods started fine. Remove the old DaemonSet (or move one of them to another port).",
        "host-port", Evidence(first.namespace, first.name, "didn't have free ports for the requested pod ports"),
        facts=("9100|hostPort|free ports", "monitoring"),
    )
    cluster.ask(
        "ports-2", f"What is already holding port 9100 on {target}?",
        f"The old node-exporter (DaemonSet monitoring/node-exporter, v1.7.0): its pod {old.name} on {target} listens on "
        "address [::]:9100 as a hostPort, so the new observability/prometheus-node-exporter pod for that node cannot be scheduled.",
        "host-port", Evidence(old.namespace, old.name, 'msg="Listening on" address=[::]:9100'),
        facts=("monitoring", "node-exporter"),
    )


def volume_zone_conflict(cluster: SampleCluster) -> None:
    """timescaledb-2's EBS volume is in us-east-1c; the only node there, cpu-c-0, was cordoned and drained for decommissioning."""
    evicted = CORDONED - 2
    pods = cluster.pods_of("telemetry", "timescaledb")
    for pod in pods:
        pod.claims = [f"data-{pod.name}"]
    replica = pods[2]
    cluster.event(("Node", None, "cpu-c-0"), "NodeNotSchedulable", "Node cpu-c-0 status is now: NodeNotSchedulable", ago(CORDONED),
                  host="cpu-c-0")
    sts = ("StatefulSet", "telemetry", "timescaledb")
    cluster.event(sts, "SuccessfulCreate", f"create Pod {replica.name} in StatefulSet timescaledb successful", ago(evicted - 0.02),
                  component="statefulset-controller")
    cluster.unschedule(replica)
    replica.start = ago(evicted - 0.02)
    # cpu-c-0, the one node in the volume's zone, fails the earlier NodeUnschedulable filter; the rest fail here or before.
    message = _fit_error(cluster.nodes, lambda n: _reason(n) or "node(s) had volume node affinity conflict")
    cluster.event(("Pod", replica.namespace, replica.name), "FailedScheduling", message, ago(1.5), warning=True, count=41,
                  component="default-scheduler", first=ago(evicted - 0.02))
    cluster.event(("Pod", replica.namespace, replica.name), "NotTriggerScaleUp", (
        "pod didn't trigger scale-up: 2 node(s) had volume node affinity conflict, 4 node(s) had untolerated taint "
        "{nvidia.com/gpu: present}"), ago(0.8), count=33, component="cluster-autoscaler", first=ago(evicted - 0.01))
    for pod in pods[:2]:
        app = pod.containers[0]
        app.noise = False
        for minutes in range(int(evicted), 0, -10):
            app.lines.append(_pylog(ago(minutes), "WARNING", "patroni",
                                    f"Lock owner: timescaledb-0; I am {pod.name}; replica timescaledb-2 not streaming (last seen "
                                    f"{evicted - minutes:.0f} min ago)"))
    cluster.ask(
        "zone-1", "timescaledb-2 has been Pending since the node-pool change this morning. Why won't it start?",
        "Its data volume (PVC data-timescaledb-2) is an EBS volume in us-east-1c, and a pod can only run in its volume's zone. The "
        "only node in us-east-1c, cpu-c-0, was cordoned at 09:10 for decommissioning (node(s) were unschedulable) and every other "
        "node is in us-east-1a/b or tainted, so the scheduler reports 'volume node affinity conflict' for them.",
        "volume-zone", Evidence(replica.namespace, replica.name, "had volume node affinity conflict"),
        facts=("volume node affinity|zone", "us-east-1c|cpu-c-0"),
    )
    cluster.ask(
        "zone-2", "Can't the cluster autoscaler just add a node for the pending TimescaleDB replica?",
        "No: cluster-autoscaler reports NotTriggerScaleUp ('pod didn't trigger scale-up'), because none of its node groups can make "
        "a node in us-east-1c, where the replica's volume lives. Uncordon cpu-c-0 (or add a us-east-1c node group) until the "
        "replica is rebuilt in another zone.",
        "volume-zone", Evidence(replica.namespace, replica.name, "pod didn't trigger scale-up"), Evidence(None, "cpu-c-0", "us-east-1c"),
        facts=("us-east-1c", "NotTriggerScaleUp|didn't trigger scale-up|no node group|node groups"),
    )


def csi_driver_unregistered(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """On the new node group the EBS CSI node plugin can't reach instance metadata and panics: no driver, no mounts."""
    moved = 38.0
    csi = []
    for node in _CPU_NODES:
        (pod,) = add_pods(cluster, _EBS_NODE, 1, node=node)
        _pin(cluster, pod, node, NEW_POOL - 1 if node.startswith("cpu-b-") else None)
        csi.append(pod)
    for pod in csi:
        plugin, registrar, probe = pod.containers
        for container in pod.containers:
            container.noise = False
        start = pod.start + timedelta(seconds=1)
        registrar.lines += _klogs(cluster, start, ("I", "main.go:135", "Version: v2.10.0"),
                                  ("I", "main.go:136", "Running node-driver-registrar in mode="),
                                  ("I", "main.go:157", 'Attempting to open a gRPC connection with: "/csi/csi.sock"'))
        probe.lines += _klogs(cluster, start, ("I", "main.go:133", '"Calling CSI driver to discover driver name"'))
        if not pod.node.startswith("cpu-b-"):
            registrar.lines += _klogs(
                cluster, start + timedelta(seconds=3), ("I", "main.go:165", "Calling CSI driver to discover driver name"),
                ("I", "main.go:173", 'CSI driver name: "ebs.csi.aws.com"'),
                ("I", "node_register.go:55", "Starting Registration Server at: /registration/ebs.csi.aws.com-reg.sock"),
                ("I", "node_register.go:65", "Registration Server started at: /registration/ebs.csi.aws.com-reg.sock"),
                ("I", "main.go:90", "Received NotifyRegistrationStatus call: &RegistrationStatus{PluginRegistered:true,Error:,}"))
            probe.lines += _klogs(cluster, start + timedelta(seconds=3), ("I", "main.go:145",
                                                                          '"Serving requests to /healthz on" address="0.0.0.0:9808"'))
            plugin.lines += _klogs(cluster, start, ("I", "main.go:157", '"Initializing metadata"'),
                                   ("I", "metadata.go:48", '"Retrieved metadata from IMDS"'),
                                   ("I", "driver.go:69", '"Driver Information" Driver="ebs.csi.aws.com" Version="v1.28.0"'))
            plugin.lines += _klogs(cluster, start + timedelta(seconds=2), ("I", "node.go:941", (
                f'"CSINode Allocatable value is set" nodeName="{pod.node}" count=26')))
            continue
        # CrashLoopBackOff: the log holds only the last run.
        crashed = cluster.rng.uniform(0.5, 4.5)
        _crash_loop(cluster, pod, plugin, 46 + cluster.rng.randint(0, 4), 2, crashed, NEW_POOL - 2)
        moment = ago(crashed) - timedelta(seconds=35)
        plugin.lines += _klogs(cluster, moment, ("I", "main.go:157", '"Initializing metadata"'),
                               ("I", "ec2.go:40", '"Retrieving EC2 instance identity metadata" regionFromSession=""'))
        plugin.lines += _klogs(cluster, moment + timedelta(seconds=5), ("I", "metadata.go:52", (
            '"failed to retrieve instance data from ec2 metadata; retrieving instance data from kubernetes api" err="could not get '
            'EC2 instance identity metadata: operation error ec2imds: GetInstanceIdentityDocument, request canceled, context '
            'deadline exceeded"')))
        fatal = moment + timedelta(seconds=35)
        plugin.lines += _klogs(cluster, fatal, ("E", "main.go:154", (
            '"Could not determine region from any metadata service. The region can be manually supplied via the AWS_REGION '
            'environment variable." err="error getting instance data from ec2 metadata or kubernetes api"')))
        panic = ["panic: error getting instance data from ec2 metadata or kubernetes api", "", "goroutine 1 [running]:", "main.main()",
                 "\t/go/src/github.com/kubernetes-sigs/aws-ebs-csi-driver/cmd/main.go:155 +0xf27"]
        plugin.lines += [(fatal + timedelta(milliseconds=2, microseconds=i), line) for i, line in enumerate(panic)]
    (jenkins,) = cluster.pods_of("ci", "jenkins")
    jenkins.claims = [f"jenkins-home-{jenkins.name}"]
    jenkins.containers[0].env = [{"name": "GITHUB_TOKEN", "value": secrets.github_token},
                                 {"name": "JAVA_OPTS", "value": "-Djenkins.install.runSetupWizard=false"}]
    _forget(cluster, jenkins)
    jenkins.start, jenkins.phase = ago(moved), "Pending"
    app = jenkins.containers[0]
    app.ready, app.noise = False, False
    app.state = {"waiting": {"reason": "ContainerCreating", "message": ""}}
    sts = ("StatefulSet", "ci", "jenkins")
    cluster.event(sts, "SuccessfulCreate", f"create Pod {jenkins.name} in StatefulSet jenkins successful", ago(moved),
                  component="statefulset-controller")
    pv = f"pvc-{cluster.uid()}"
    ref = ("Pod", jenkins.namespace, jenkins.name)
    cluster.event(ref, "Scheduled", f"Successfully assigned {jenkins.namespace}/{jenkins.name} to {jenkins.node}", ago(moved - 0.01),
                  component="default-scheduler")
    cluster.event(ref, "SuccessfulAttachVolume", f'AttachVolume.Attach succeeded for volume "{pv}"', ago(moved - 0.3),
                  component="attachdetach-controller")
    cluster.event(ref, "FailedMount", (f'MountVolume.MountDevice failed for volume "{pv}" : kubernetes.io/csi: attacher.MountDevice '
                                       "failed to create newCsiDriverClient: driver name ebs.csi.aws.com not found in the list of "
                                       "registered CSI drivers"),
                  ago(0.7), warning=True, count=26, host=jenkins.node, first=ago(moved - 0.35))
    cluster.event(ref, "FailedMount", ("Unable to attach or mount volumes: unmounted volumes=[data], unattached volumes=[], failed to "
                                       "process volumes=[]: timed out waiting for the condition"),
                  ago(1.6), warning=True, count=17, host=jenkins.node, first=ago(moved - 2.4))
    broken = next(p for p in csi if p.node == jenkins.node)
    cluster.ask(
        "csi-1", "Jenkins has been stuck in ContainerCreating since it was moved to the new nodes. Why?",
        f"Its volume is attached to {jenkins.node} but the kubelet cannot mount it: 'driver name ebs.csi.aws.com not found in the "
        f"list of registered CSI drivers'. On the new node group the EBS CSI node plugin (ebs-csi-node, pod {broken.name}) is in "
        "CrashLoopBackOff — it cannot read EC2 instance metadata (IMDS) to learn its region and panics — so it never registers "
        "the driver with the kubelet.",
        "csi-driver", Evidence(jenkins.namespace, jenkins.name, "not found in the list of registered CSI drivers"),
        facts=("not found in the list of registered CSI drivers|not registered|CSI driver", "ebs-csi-node|metadata|IMDS"),
    )
    cluster.ask(
        "csi-2", "Why is ebs-csi-node crash-looping on the new cpu-b nodes but fine on the old ones?",
        "Its ebs-plugin container cannot reach the EC2 instance metadata service on those nodes (GetInstanceIdentityDocument times "
        "out), cannot determine the AWS region, and panics. The new node group's launch template most likely requires IMDSv2 "
        "with a hop limit of 1, which blocks pods; raise the hop limit to 2 or set AWS_REGION for the node plugin. On the old "
        "nodes it retrieved its metadata from IMDS.",
        "csi-driver", Evidence(broken.namespace, broken.name, "Could not determine region from any metadata service"),
        facts=("metadata|IMDS", "region|hop limit"),
    )


def nvml_mismatch(cluster: SampleCluster) -> None:
    """gpu-h100-6's NVIDIA user-space libraries were upgraded under a running kernel module: nothing GPU starts any more."""
    name, scheduled, restarted = "gpu-h100-6", 330.0, 319.0  # libraries upgraded 06:25, pod scheduled 06:30, plugin restarted 06:41
    plugin_workload = next(p.workload for p in cluster.pods if p.workload.name == "nvidia-device-plugin-daemonset")
    (plugin,) = add_pods(cluster, plugin_workload, 1, node=name)
    _pin(cluster, plugin, name, restarted)
    dp = plugin.containers[0]
    _crash_loop(cluster, plugin, dp, 64, 1, 2.2, restarted - 0.5)
    moment = ago(2.2) - timedelta(milliseconds=40)
    dp.lines += _klogs(
        cluster, moment,
        ("I", "main.go:178", "Starting FS watcher."),
        ("I", "main.go:185", "Starting OS watcher."),
        ("I", "main.go:200", "Starting Plugins."),
        ("I", "main.go:257", "Loading configuration."),
        ("I", "main.go:265", "Updating config with default resource matching patterns."),
        ("I", "main.go:279", "Retrieving plugins."),
        ("I", "factory.go:104", "Detected NVML platform: found NVML library"),
        ("I", "factory.go:104", "Detected non-Tegra platform: /sys/devices/soc0/family file not found"),
        ("E", "factory.go:68", "Failed to initialize NVML: ERROR_LIB_RM_VERSION_MISMATCH."),
        ("E", "factory.go:69", "If this is a GPU node, did you set the docker default runtime to `nvidia`?"),
        ("E", "factory.go:70", "You can check the prerequisites at: https://github.com/NVIDIA/k8s-device-plugin#prerequisites"),
        ("E", "factory.go:71", "You can learn how to set the runtime at: https://github.com/NVIDIA/k8s-device-plugin#quick-start"),
        ("E", "factory.go:72", ("If this is not a GPU node, you should set up a toleration or nodeSelector to only deploy this plugin on "
                               "GPU nodes")),
        ("E", "main.go:132", ("error starting plugins: error creating plugin manager: unable to create plugin manager: nvml init failed: "
                             "ERROR_LIB_RM_VERSION_MISMATCH")),
    )
    (pod,) = add_pods(cluster, _WHISPER, 1, node=name)
    _forget(cluster, pod)
    pod.start = ago(scheduled)
    app = pod.containers[0]
    error = ("failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to "
             "start container process: error during container init: error running hook #0: error running hook: exit status 1, "
             "stdout: , stderr: Auto-detected mode as 'legacy'\nnvidia-container-cli: initialization error: nvml error: "
             "driver/library version mismatch: unknown")
    _crash_loop(cluster, pod, app, 66, 128, 3.1, scheduled - 0.2, reason="StartError", message=error)
    ref = ("Pod", pod.namespace, pod.name)
    cluster.event(ref, "Scheduled", f"Successfully assigned {pod.namespace}/{pod.name} to {name}", ago(scheduled),
                  component="default-scheduler")
    cluster.event(ref, "Pulled", f'Container image "{app.image}" already present on machine', ago(3.1), host=name, count=67,
                  first=ago(scheduled - 0.05))
    cluster.event(ref, "Created", "Created container app", ago(3.1), host=name, count=67, first=ago(scheduled - 0.05))
    cluster.event(ref, "Failed", f"Error: {error}", ago(3.1), warning=True, host=name, count=67, first=ago(scheduled - 0.05))
    cluster.event(("Deployment", pod.namespace, "whisper-asr"), "ScalingReplicaSet", f"Scaled up replica set {pod.owner[1]} to 1",
                  ago(scheduled + 0.01), component="deployment-controller")
    cluster.ask(
        "nvml-1", "The speech-to-text pod fails with StartError over and over since this morning. Is the new image broken?",
        f"No, the node is: on {name} every GPU container fails in the NVIDIA runtime hook with 'nvidia-container-cli: "
        "initialization error: nvml error: driver/library version mismatch' before the image runs at all. The host's NVIDIA "
        "user-space libraries no longer match the loaded kernel module (the driver package was upgraded without a reboot); "
        f"drain and reboot {name}.",
        "nvml-mismatch", Evidence(pod.namespace, pod.name, "nvml error: driver/library version mismatch"),
        facts=("version mismatch|driver/library", name),
    )
    cluster.ask(
        "nvml-2", "One of the H100 nodes suddenly advertises zero allocatable GPUs. Which one, and why?",
        f"{name}: its NVIDIA device plugin crash-loops since 06:41 with 'Failed to initialize NVML: ERROR_LIB_RM_VERSION_MISMATCH', "
        "so the kubelet has no nvidia.com/gpu to offer (allocatable 0 of 8). The user-space driver libraries on the host were "
        "upgraded while the old kernel module is still loaded; a reboot loads the matching module.",
        "nvml-mismatch", Evidence(plugin.namespace, plugin.name, "ERROR_LIB_RM_VERSION_MISMATCH"),
        facts=(name, "ERROR_LIB_RM_VERSION_MISMATCH|version mismatch|NVML"),
    )


def gpu_not_requested(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """The embedding backfill Job runs on a GPU node but requests no nvidia.com/gpu: no device, no driver in the container."""
    ran, failed = 50.0, 49.6
    workload = _app("merch-ml", "embed-backfill", "Job", "registry.example.com/merch/embed-backfill:0.4.0", "worker",
                    container="backfill", gpu_vendor="nvidia", gpus=0)
    (pod,) = add_pods(cluster, workload, 1, node="gpu-h100-1")
    _pin(cluster, pod, "gpu-h100-1", ran)
    pod.resources = {"requests": {"cpu": "8", "memory": "48Gi"}, "limits": {"memory": "48Gi"}}
    pod.phase = "Failed"
    job = pod.containers[0]
    job.noise, job.ready = False, False
    job.state = {"terminated": {"reason": "Error", "exitCode": 1, "startedAt": stamp(ran), "finishedAt": stamp(failed)}}
    job.env = [{"name": "MODEL_NAME", "value": "intfloat/e5-large-v2"}, {"name": "OPENAI_API_KEY", "value": secrets.openai_key}]
    start = ago(ran) + timedelta(seconds=3)
    job.lines += [
        _pylog(start, "INFO", "embed_backfill", "embed-backfill 0.4.0: 2,481,337 products to embed, batch size 256"),
        _pylog(start + timedelta(seconds=9), "INFO", "embed_backfill", "loading model intfloat/e5-large-v2 on cuda"),
        _pylog(start + timedelta(seconds=9), "INFO", "embed_backfill",
               "torch 2.3.1+cu121, CUDA available: False (device_count=0)"),
    ]
    trace = [
        "Traceback (most recent call last):",
        '  File "/app/embed_backfill.py", line 88, in <module>',
        "    main()",
        '  File "/app/embed_backfill.py", line 61, in main',
        '    model = SentenceTransformer(args.model, device="cuda")',
        '  File "/usr/local/lib/python3.11/site-packages/sentence_transformers/SentenceTransformer.py", line 339, in __init__',
        "    self.to(device)",
        '  File "/usr/local/lib/python3.11/site-packages/torch/nn/modules/module.py", line 1173, in to',
        "    return self._apply(convert)",
        '  File "/usr/local/lib/python3.11/site-packages/torch/nn/modules/module.py", line 779, in _apply',
        "    module._apply(fn)",
        '  File "/usr/local/lib/python3.11/site-packages/torch/nn/modules/module.py", line 804, in _apply',
        "    param_applied = fn(param)",
        '  File "/usr/local/lib/python3.11/site-packages/torch/nn/modules/module.py", line 1159, in convert',
        "    return t.to(",
        '  File "/usr/local/lib/python3.11/site-packages/torch/cuda/__init__.py", line 293, in _lazy_init',
        "    torch._C._cuda_init()",
        ("RuntimeError: Found no NVIDIA driver on your system. Please check that you have an NVIDIA GPU and installed a driver from "
        "http://www.nvidia.com/Download/index.aspx"),
    ]
    crash = start + timedelta(seconds=12)
    job.lines += [(crash + timedelta(microseconds=i), line) for i, line in enumerate(trace)]
    job_ref = ("Job", pod.namespace, "embed-backfill")
    _event(cluster, job_ref, "SuccessfulCreate", f"Created pod: {pod.name}", ago(ran + 0.01), component="job-controller")
    _event(cluster, job_ref, "BackoffLimitExceeded", "Job has reached the specified backoff limit", ago(failed - 0.05), warning=True,
           component="job-controller")
    cluster.ask(
        "nogpu-1", "The product-embedding backfill died saying there is no NVIDIA driver, yet it ran on a GPU node. How come?",
        "The pod never asked for a GPU: its container requests only cpu and memory, no nvidia.com/gpu in resources.limits, so the "
        "device plugin allocated no GPU and the NVIDIA runtime mounted neither a device nor the driver libraries into the container. "
        "PyTorch saw CUDA available: False (device_count=0) and failed with 'Found no NVIDIA driver on your system'. Add "
        "nvidia.com/gpu: 1 to the limits.",
        "gpu-not-requested", Evidence(pod.namespace, pod.name, "Found no NVIDIA driver on your system"),
        facts=("nvidia.com/gpu", "request|limit|resources"),
    )
    cluster.ask(
        "nogpu-2", "Is something wrong with the GPUs on gpu-h100-1, where the embedding backfill failed?",
        "No. The node is fine; the backfill pod simply had no GPU assigned: its resources contain no nvidia.com/gpu request or "
        "limit, so the container saw device_count=0 and no driver. Other pods on gpu-h100-1 that request GPUs are unaffected.",
        "gpu-not-requested", Evidence(pod.namespace, pod.name, "device_count=0"),
        facts=("nvidia.com/gpu", "request|limit|no GPU"),
    )


def tls_secret_mismatch(cluster: SampleCluster) -> None:
    """cert-manager issued the certificate into one Secret; the Ingress points at another, so nginx serves its fake certificate."""
    created, namespace = 65.0, "helpdesk"
    host, wanted, issued, certificate = "support.example.com", "helpdesk-tls", "support-example-com-tls", "support-example-com"
    ingress = ("Ingress", namespace, "helpdesk")
    controllers = cluster.pods_of("ingress-nginx", "ingress-nginx-controller")
    for controller in controllers:
        _event(cluster, ingress, "Sync", "Scheduled for sync", ago(created), component="nginx-ingress-controller",
               host=controller.name)
        moment = ago(created) + timedelta(seconds=1)
        controller.containers[0].lines.append(_klog(cluster, "I", moment, "event.go:364", (
            f'Event(v1.ObjectReference{{Kind:"Ingress", Namespace:"{namespace}", Name:"helpdesk", UID:"{cluster.uid()}", '
            'APIVersion:"networking.k8s.io/v1", ResourceVersion:"9184412", FieldPath:""}): type: \'Normal\' reason: \'Sync\' '
            "Scheduled for sync"), pid=7))
        while moment < NOW:
            controller.containers[0].lines.append(_klog(cluster, "W", moment, "controller.go:1387", (
                f'Error getting SSL certificate "{namespace}/{wanted}": local SSL certificate {namespace}/{wanted} was not found. '
                "Using default certificate"), pid=7))
            moment += timedelta(minutes=cluster.rng.uniform(6, 14))
    cert = ("Certificate", namespace, certificate)
    steps = (("Issuing", "Issuing certificate as Secret does not exist", "cert-manager-certificates-trigger"),
             ("Generated", f'Stored new private key in temporary Secret resource "{certificate}-{cluster.suffix()}"',
              "cert-manager-certificates-key-manager"),
             ("Requested", f'Created new CertificateRequest resource "{certificate}-1"', "cert-manager-certificates-request-manager"),
             ("Issuing", "The certificate has been successfully issued", "cert-manager-certificates-issuing"))
    for offset, (reason, message, component) in enumerate(steps):
        _event(cluster, cert, reason, message, ago(created - 0.5 - 0.4 * offset), component=component)
    _event(cluster, ("CertificateRequest", namespace, f"{certificate}-1"), "CertificateIssued",
           "Certificate fetched from issuer successfully", ago(created - 1.6), component="cert-manager-certificaterequests-issuer-acme")
    cluster.ask(
        "tls-1", f"Browsers get a certificate warning on https://{host} (the 'Kubernetes Ingress Controller Fake Certificate'). "
                 "Didn't cert-manager issue a certificate for it?",
        f"It did, but into a different Secret: Certificate {certificate} was issued successfully and stored in Secret {issued}, while "
        f"the helpdesk Ingress's tls section references Secret {wanted}, which does not exist. ingress-nginx logs 'local SSL "
        f"certificate {namespace}/{wanted} was not found. Using default certificate' and serves its self-signed default. Point the "
        f"Ingress at {issued} (or set the Certificate's secretName to {wanted}).",
        "tls-secret", Evidence(controllers[0].namespace, controllers[0].name, f"local SSL certificate {namespace}/{wanted} was not found"),
        facts=(wanted, f"{issued}|secretName|secret name"),
    )
    cluster.ask(
        "tls-2", "Is cert-manager failing for the helpdesk site?",
        f"No. The Certificate {certificate} went through issuance at 10:55 and its last event is 'The certificate has been "
        f"successfully issued' (into Secret {issued}). The problem is the Ingress: it references Secret {wanted}, which does not "
        "exist, so ingress-nginx falls back to its default certificate.",
        "tls-secret", Evidence(namespace, certificate, "The certificate has been successfully issued"),
        facts=("successfully issued|issued|succeeded", wanted),
    )


def apply_all(cluster: SampleCluster) -> None:
    secrets = cluster.secrets
    _placement(cluster)
    oversized_headers(cluster, secrets)
    cronjob_blocked(cluster, secrets)
    es_mapping_conflict(cluster)
    kafka_poll_timeout(cluster, secrets)
    db_connection_limit(cluster, secrets)
    wrong_architecture(cluster)
    pod_security_rejects(cluster)
    host_port_conflict(cluster)
    volume_zone_conflict(cluster)
    csi_driver_unregistered(cluster, secrets)
    nvml_mismatch(cluster)
    gpu_not_requested(cluster, secrets)
    tls_secret_mismatch(cluster)
