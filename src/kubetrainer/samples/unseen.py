"""The unseen scenario: a sixth set of incidents, written blind for a held-out score of the on-call answers.

Selected with `build_cluster(scenario="unseen")` / `kubetrainer samples cluster
--scenario unseen`. None of its incident types, namespaces, workloads, evidence
objects or phrases appear in the default (incidents.py), heldout (heldout.py),
fresh (fresh.py), blind (blind.py) or sealed (sealed.py) scenarios. It was written
blind: without opening any diagnosis, answering, retrieval, evaluation, training,
investigation or serving code, or their tests, so nothing has been tuned against it.
Messages are written the way the component that prints them does (kube-scheduler's
preemption, the kubelet's sysctl admission and volume ownership change, the
LimitRanger admission plugin, the replicaset/deployment/statefulset/job controllers
and the HPA, the AWS VPC CNI and its ipamd, PostgreSQL streaming replication, ASP.NET
Core Data Protection, a Rust tracing/tower-http service and its panic, vLLM's engine
start-up, PyTorch's DataLoader, rsync under `set -x`). Each question
names its evidence (object + verbatim phrase) and the facts a right answer must state.

The helpers shared with the other scenarios (PostgreSQL and JSON lines, tracebacks,
pinning pods to nodes, crash loops) are blind.py's and sealed.py's.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from kubetrainer.samples.blind import _app, _crash_loop, _event, _forget, _json, _pin, _postgres, ago, stamp
from kubetrainer.samples.cluster import add_pods
from kubetrainer.samples.model import NOW, Evidence, SampleCluster, SamplePod
from kubetrainer.samples.nodes import gpu_node, sample_nodes
from kubetrainer.samples.noise import iso
from kubetrainer.samples.sealed import _traceback
from kubetrainer.samples.secrets import FakeSecrets
from kubetrainer.samples.workloads import Workload

# When the adserving spot node group (cpu-spot-0/1, in a small us-east-1b subnet) joined, minutes before NOW (10:40).
SPOT_JOINED = 80.0
SPOT_NODES = ("cpu-spot-0", "cpu-spot-1")
_SPOT_SUBNET = "subnet-0c4e6f8d2a91b7e35"
_CNI_IMAGE = "602401143452.dkr.ecr.us-east-1.amazonaws.com/amazon-k8s-cni:v1.18.2-eksbuild.1"
_REGISTRY = "registry.example.com"

# Healthy first (the generator places each of these); the incidents then break some.
WORKLOADS: tuple[Workload, ...] = (
    _app("kube-system", "aws-node", "DaemonSet", _CNI_IMAGE, "controller", container="aws-node", weight=0.05),
    _app("insights", "analytics-pg", "StatefulSet", "docker.io/library/postgres:16.4", "worker", container="postgres",
         replicas=2, port=5432, weight=0.5),
    _app("insights", "bi-dashboard-api", "Deployment", f"{_REGISTRY}/insights/bi-dashboard-api:4.1.0", "json-api",
         replicas=2, port=8080, weight=2.0),
    _app("clinic", "patient-portal", "Deployment", f"{_REGISTRY}/clinic/patient-portal:5.2.0", "json-api",
         replicas=3, port=8080),
    _app("clinic", "appointments-api", "Deployment", f"{_REGISTRY}/clinic/appointments-api:2.8.1", "json-api",
         replicas=2, port=8080, weight=2.0),
    _app("assistant", "support-copilot", "Deployment", "docker.io/vllm/vllm-openai:v0.6.4.post1", "json-api",
         container="vllm", gpu_vendor="nvidia", gpus=1, port=8000),
    _app("assistant", "copilot-gateway", "Deployment", f"{_REGISTRY}/assistant/copilot-gateway:1.3.0", "json-api",
         replicas=2, port=8080, weight=1.5),
    _app("voice", "realtime-asr", "Deployment", f"{_REGISTRY}/voice/realtime-asr:3.2.1", "json-api", replicas=3,
         gpu_vendor="nvidia", gpus=1, port=8000, weight=1.5),
    _app("fraud", "fraud-features", "Deployment", f"{_REGISTRY}/fraud/fraud-features:2.3.7", "json-api",
         replicas=2, port=8080, weight=2.0),
    _app("fraud", "fraud-scorer", "Deployment", f"{_REGISTRY}/fraud/fraud-scorer:1.12.0", "json-api",
         replicas=2, port=8080, weight=1.5),
    _app("adserving", "bid-router", "Deployment", f"{_REGISTRY}/adserving/bid-router:6.0.2", "json-api",
         replicas=6, port=8080, weight=3.0),
    _app("adserving", "pacing-worker", "Deployment", f"{_REGISTRY}/adserving/pacing-worker:2.2.0", "worker"),
    _app("markets", "tick-gateway", "Deployment", f"{_REGISTRY}/markets/tick-gateway:2.9.4", "json-api",
         replicas=2, port=9000, weight=2.0),
    _app("genomics", "lims-api", "Deployment", f"{_REGISTRY}/genomics/lims-api:3.0.5", "json-api", port=8080),
    _app("maps", "tile-server", "Deployment", f"{_REGISTRY}/maps/tile-server:1.8.3", "json-api",
         replicas=3, port=80, weight=2.0),
)

# Placed by their incidents, not by the generator.
_ATTR_TRAIN = _app("product-ml", "attr-classifier-train", "Job", f"{_REGISTRY}/product-ml/vit-trainer:2026.03.2",
                   "training", container="trainer", gpu_vendor="nvidia", gpus=1)
_TTS_FINETUNE = _app("voice", "tts-finetune", "Job", f"{_REGISTRY}/voice/tts-trainer:0.9.1", "training",
                     container="trainer", gpu_vendor="nvidia", gpus=6)
_VARIANT_CALLING = _app("genomics", "variant-calling", "Job", f"{_REGISTRY}/genomics/variant-pipeline:4.5.0",
                        "worker", container="caller")
_REFDATA_SYNC = _app("genomics", "refdata-sync", "Job", f"{_REGISTRY}/genomics/refdata-sync:1.2.0", "worker",
                     container="sync")
PLACED: tuple[Workload, ...] = (_ATTR_TRAIN, _TTS_FINETUNE, _VARIANT_CALLING, _REFDATA_SYNC)


def scenario_nodes() -> list[dict]:
    """The sample nodes plus the adserving spot node group.

    cpu-spot-0/1 joined at 10:40 in a small us-east-1b subnet, tainted so that only the
    workloads meant for spot capacity (and DaemonSets) run there.
    """
    spot = []
    for name in SPOT_NODES:
        node = gpu_node(name, None, None, 0, cpu="8", memory="32408816Ki", instance_type="m6a.2xlarge",
                        zone="us-east-1b", taints=[{"key": "capacity", "value": "spot", "effect": "NoSchedule"}])
        node["metadata"]["creationTimestamp"] = stamp(SPOT_JOINED)
        node["metadata"]["labels"] |= {"eks.amazonaws.com/nodegroup": "adserving-spot",
                                       "eks.amazonaws.com/capacityType": "SPOT"}
        spot.append(node)
    return sample_nodes() + spot


# ---------------------------------------------------------------- line formats


# Where ASP.NET Core's Data Protection logs from.
_KEYS = "Microsoft.AspNetCore.DataProtection"


def _dotnet(moment: datetime, level: str, category: str, event_id: int, *lines: str) -> list[tuple[datetime, str]]:
    """One entry of .NET's simple console formatter with a UTC timestamp: the level and category on the first
    line, the message (and any exception) indented by six spaces under it."""
    head = f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z {level}: {category}[{event_id}]"
    return _traceback(moment, [head, *(f"      {line}" for line in lines)])


def _tracing(moment: datetime, level: str, target: str, message: str) -> tuple[datetime, str]:
    """tracing-subscriber's default fmt line (Rust): RFC 3339 with microseconds, the level right-aligned, the target."""
    return moment, f"{iso(moment, 6)} {level:>5} {target}: {message}"


def _vllm(moment: datetime, level: str, source: str, message: str) -> tuple[datetime, str]:
    """vLLM's logger: level, month-day time, file:line, then the message."""
    return moment, f"{level} {moment:%m-%d %H:%M:%S} {source}] {message}"


def _ipamd(moment: datetime, level: str, caller: str, message: str) -> tuple[datetime, str]:
    """The VPC CNI's zap JSON line (ipamd logs to stdout when AWS_VPC_K8S_CNI_LOG_FILE=stdout)."""
    line = {"level": level, "ts": iso(moment), "caller": caller, "msg": message}
    return moment, json.dumps(line, separators=(",", ":"))


def _train(moment: datetime, message: str) -> tuple[datetime, str]:
    """The trainers' own progress line (the same shape as the catalog's training noise)."""
    return moment, f"[{iso(moment, 0)}] INFO {message}"


def _lsn(value: int) -> str:
    """A WAL position the way PostgreSQL prints it (high/low 32 bits in hex)."""
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"


def _segment(value: int, timeline: int = 1) -> str:
    """The 16 MiB WAL segment file holding LSN `value`."""
    number = value >> 24
    return f"{timeline:08X}{number >> 8:08X}{number & 0xFF:08X}"


def _hex(cluster: SampleCluster, digits: int) -> str:
    """A random lowercase hex id (sandbox ids, ENI ids)."""
    return f"{cluster.rng.getrandbits(4 * digits):0{digits}x}"


def _soon(cluster: SampleCluster, moment: datetime, seconds: float) -> datetime:
    """`seconds` after `moment`, give or take the fraction of a second real processes take to get there."""
    return moment + timedelta(seconds=seconds, microseconds=cluster.rng.randint(0, 999_999))


# ---------------------------------------------------------------- placement


def _placement(cluster: SampleCluster) -> None:
    """Where things ran before the incidents: the spot nodes carry only DaemonSets, younger than the nodes; the two
    H100 nodes are kept for the voice and translation GPU work (the preemption incident places it), so whatever
    else the generator put there runs on the A100 node."""
    for pod in cluster.pods:
        if pod.node in SPOT_NODES:
            _pin(cluster, pod, pod.node, SPOT_JOINED - 0.5 - cluster.rng.uniform(0, 1))
        elif pod.node in ("gpu-h100-0", "gpu-h100-1") and pod.workload.kind != "DaemonSet":
            _pin(cluster, pod, "gpu-a100-0")


# ---------------------------------------------------------------- incidents


def _checkpoint(cluster: SampleCluster, moment: datetime, reason: str, lsn: int, last: int,
                write: float) -> list[tuple[datetime, str]]:
    """A PostgreSQL 16 checkpoint: its start and its completion summary, `write` seconds later."""
    done = moment + timedelta(seconds=write + 0.05)
    removed = max(0, (lsn - last) >> 24)
    distance = (lsn - last) // 1024
    summary = (f"checkpoint complete: wrote {cluster.rng.randint(900, 16000)} buffers "
               f"({cluster.rng.uniform(0.5, 12):.1f}%); 0 WAL file(s) added, {removed * 2 // 3} removed, "
               f"{removed - removed * 2 // 3} recycled; write={write:.3f} s, "
               f"sync={cluster.rng.uniform(0.002, 0.09):.3f} s, total={write + 0.05:.3f} s; "
               f"sync files={cluster.rng.randint(12, 60)}, longest={cluster.rng.uniform(0.001, 0.02):.3f} s, "
               f"average={cluster.rng.uniform(0.001, 0.004):.3f} s; "
               f"distance={distance} kB, estimate={distance + cluster.rng.randint(0, 4096)} kB; "
               f"lsn={_lsn(lsn + 0x2A0)}, redo lsn={_lsn(lsn)}")
    return [_postgres(moment, 28, "LOG", f"checkpoint starting: {reason}"), _postgres(done, 28, "LOG", summary)]


def wal_removed(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """analytics-pg-1 was scaled away for the night; the primary recycled the WAL it needs during the bulk load,
    so since it came back the standby asks for a segment that no longer exists and never catches up."""
    down, load, loaded, back = 380.0, 355.0, 282.0, 160.0  # 05:40, 06:05, 07:18, 09:20
    primary, replica = cluster.pods_of("insights", "analytics-pg")
    host = "analytics-pg-0.analytics-pg.insights.svc.cluster.local"
    for pod in (primary, replica):
        pod.claims = [f"data-{pod.name}"]
        pod.containers[0].noise = False
        pod.containers[0].env = [{"name": "POSTGRES_USER", "value": "analytics"},
                                 {"name": "POSTGRES_PASSWORD", "value": secrets.env_password},
                                 {"name": "PGDATA", "value": "/var/lib/postgresql/data/pgdata"}]
    replica.containers[0].env.append({"name": "PRIMARY_CONNINFO", "value": f"host={host} port=5432 user=replicator"})
    _pin(cluster, replica, replica.node, back)
    sts = ("StatefulSet", "insights", "analytics-pg")
    for reason, verb, minutes in (("SuccessfulDelete", "delete", down), ("SuccessfulCreate", "create", back + 0.01)):
        cluster.event(sts, reason, f"{verb} Pod {replica.name} in StatefulSet analytics-pg successful", ago(minutes),
                      component="statefulset-controller")

    needed = (0x2A << 32) | 0x3F000000  # where the standby stopped at 05:40
    lines: list[tuple[datetime, str]] = []
    moment, previous, lsn = _soon(cluster, ago(360), 17), ago(365), needed + 0x1800000
    while moment < NOW:
        apart = (moment - previous).total_seconds()
        if apart < 30:  # what the checkpointer says when WAL volume forces checkpoints closer than checkpoint_warning
            lines.append(_postgres(moment, 28, "LOG", f"checkpoints are occurring too frequently ({apart:.0f} seconds "
                                                      "apart)"))
            hint = 'Consider increasing the configuration parameter "max_wal_size".'
            lines.append(_postgres(moment, 28, "HINT", hint))
        if ago(load) <= moment < ago(loaded):  # the bulk load writes ~20 MiB of WAL a second
            gap = cluster.rng.uniform(19, 27)
            step, reason, write = int(gap * cluster.rng.uniform(19, 23) * 2**20), "wal", gap * 0.8
        else:
            gap = 300.0
            step, reason, write = cluster.rng.randint(20, 60) * 2**20, "time", cluster.rng.uniform(260, 270)
        lines += _checkpoint(cluster, moment, reason, lsn + step, lsn, write)
        lsn += step
        previous, moment = moment, moment + timedelta(seconds=gap)
    segment = _segment(needed)
    start = _soon(cluster, ago(back), 2)
    standby = [
        _postgres(start, 1, "LOG", "starting PostgreSQL 16.4 (Debian 16.4-1.pgdg120+2) on x86_64-pc-linux-gnu, "
                                   "compiled by gcc (Debian 12.2.0-14) 12.2.0, 64-bit"),
        _postgres(start, 1, "LOG", 'listening on IPv4 address "0.0.0.0", port 5432'),
        _postgres(start, 1, "LOG", 'listening on IPv6 address "::", port 5432'),
        _postgres(start, 1, "LOG", 'listening on Unix socket "/var/run/postgresql/.s.PGSQL.5432"'),
        _postgres(start + timedelta(milliseconds=9), 27, "LOG",
                  f"database system was shut down in recovery at {_soon(cluster, ago(down), 1):%Y-%m-%d %H:%M:%S} UTC"),
        _postgres(start + timedelta(milliseconds=9), 27, "LOG", "entering standby mode"),
        _postgres(start + timedelta(milliseconds=12), 27, "LOG", f"redo starts at {_lsn(needed - 0x1FE58)}"),
        _postgres(start + timedelta(milliseconds=40), 27, "LOG",
                  f"consistent recovery state reached at {_lsn(needed)}"),
        _postgres(start + timedelta(milliseconds=40), 27, "LOG",
                  f"invalid record length at {_lsn(needed + 0xA0)}: expected at least 24, got 0"),
        _postgres(start + timedelta(milliseconds=41), 1, "LOG", "database system is ready to accept read-only "
                                                                "connections"),
    ]
    attempt, receiver, sender = start + timedelta(milliseconds=60), 31, 48210
    while attempt < NOW:
        standby += _traceback(attempt, [
            _postgres(attempt, receiver, "LOG",
                      f"started streaming WAL from primary at {_lsn(needed)} on timeline 1")[1],
            _postgres(attempt, receiver, "FATAL", "could not receive data from WAL stream: ERROR:  requested "
                                                  f"WAL segment {segment} has already been removed")[1],
        ])
        lines += _traceback(attempt, [
            _postgres(attempt, sender, "ERROR", f"requested WAL segment {segment} has already been removed")[1],
            _postgres(attempt, sender, "STATEMENT", f"START_REPLICATION {_lsn(needed)} TIMELINE 1")[1],
        ])
        if receiver == 31:
            standby.append(_postgres(attempt + timedelta(milliseconds=3), 27, "LOG",
                                     f"waiting for WAL to become available at {_lsn(needed + 0xB8)}"))
        attempt += timedelta(seconds=5, milliseconds=cluster.rng.randint(2, 40))
        receiver += cluster.rng.randint(1, 3)
        sender += cluster.rng.randint(1, 4)
    primary.containers[0].lines += lines
    replica.containers[0].lines += standby

    url = f"postgresql://bi_reader:{secrets.url_password}@analytics-pg-ro.insights.svc.cluster.local:5432/analytics"
    for pod in cluster.pods_of("insights", "bi-dashboard-api"):
        pod.containers[0].env = [{"name": "DATABASE_URL", "value": url}]
        moment = ago(back) + timedelta(minutes=cluster.rng.uniform(1, 10))
        while moment < NOW:
            pod.containers[0].lines.append(_json(moment, "warn", "read replica lagging, dashboards may be stale",
                                                 lag_seconds=int((moment - ago(down)).total_seconds()),
                                                 last_replayed="2026-03-14T05:39:58Z"))
            moment += timedelta(minutes=cluster.rng.uniform(8, 14))
    cluster.ask(
        "wal-1", "The BI dashboards still show yesterday's figures although this morning's load finished hours ago. "
                 "What's wrong?",
        f"The dashboards read from the standby {replica.name}, and it has not replayed anything since 05:40: every "
        "time its WAL receiver connects it fails with 'could not receive data from WAL stream: ERROR: requested "
        f"WAL segment {segment} has already been removed'. The primary no longer has the WAL the standby needs, so it "
        "can never catch up on its own; rebuild the standby from a fresh base backup (pg_basebackup).",
        "wal-removed", Evidence(replica.namespace, replica.name, "could not receive data from WAL stream"),
        facts=("already been removed|WAL segment", replica.name),
    )
    cluster.ask(
        "wal-2", "Why can't the analytics Postgres standby catch up on its own, and how do we stop this happening "
                 "again?",
        "Nothing retained it: the standby was scaled away from 05:40 to 09:20, and during the 06:05-07:18 bulk load "
        "the primary wrote WAL so fast that checkpoints ran every ~20 s ('checkpoints are occurring too frequently', "
        "max_wal_size too small) and recycled the old segments. Without a replication slot (or a large wal_keep_size "
        f"/ WAL archive) segment {segment} was removed, so each START_REPLICATION {_lsn(needed)} from the standby "
        "is refused. Re-clone the standby, then add a replication slot.",
        "wal-removed", Evidence(primary.namespace, primary.name, f"START_REPLICATION {_lsn(needed)} TIMELINE 1"),
        Evidence(primary.namespace, primary.name, "checkpoints are occurring too frequently"),
        facts=("checkpoints are occurring too frequently|max_wal_size", segment),
    )


def _portal_start(cluster: SampleCluster, pod: SamplePod, key: str) -> None:
    """ASP.NET Core 8 start-up in a container: no shared key store, so Data Protection makes a key of its own."""
    start = _soon(cluster, pod.start, 1)
    created = f"{start:%Y-%m-%d %H:%M:%S}Z"
    expires = f"{start + timedelta(days=90):%Y-%m-%d %H:%M:%S}Z"
    app = pod.containers[0]
    app.lines += _dotnet(start, "warn", f"{_KEYS}.Repositories.FileSystemXmlRepository", 60,
                         "Storing keys in a directory '/home/app/.aspnet/DataProtection-Keys' that may not "
                         "be persisted outside of the container. Protected data will be unavailable when container "
                         "is destroyed. For more information go to https://aka.ms/aspnet/dataprotectionwarning")
    app.lines += _dotnet(start + timedelta(milliseconds=40), "info", f"{_KEYS}.KeyManagement.XmlKeyManager", 58,
                         f"Creating key {key} with creation date {created}, activation date {created}, "
                         f"and expiration date {expires}.")
    app.lines += _dotnet(start + timedelta(milliseconds=52), "warn", f"{_KEYS}.KeyManagement.XmlKeyManager", 35,
                         f"No XML encryptor configured. Key {key} may be persisted to storage in unencrypted form.")
    app.lines += _dotnet(start + timedelta(milliseconds=55), "info", f"{_KEYS}.Repositories.FileSystemXmlRepository",
                         39, f"Writing data to file '/home/app/.aspnet/DataProtection-Keys/key-{key[1:-1]}.xml'.")
    lifetime = ((14, "Now listening on: http://[::]:8080"), (0, "Application started. Press Ctrl+C to shut down."),
                (0, "Hosting environment: Production"), (0, "Content root path: /app"))
    for offset, (event_id, message) in enumerate(lifetime):
        moment = start + timedelta(milliseconds=300 + offset)
        app.lines += _dotnet(moment, "info", "Microsoft.Hosting.Lifetime", event_id, message)


def _request(moment: datetime, method: str, path: str, status: int, took: float,
             kind: str = "text/html;+charset=utf-8") -> list[tuple[datetime, str]]:
    """Kestrel's request start and finish lines (Microsoft.AspNetCore.Hosting.Diagnostics at Information)."""
    url, hosting = f"http://portal.clinic.example.com{path}", "Microsoft.AspNetCore.Hosting.Diagnostics"
    return (_dotnet(moment, "info", hosting, 1, f"Request starting HTTP/1.1 {method} {url} - - -")
            + _dotnet(moment + timedelta(milliseconds=took), "info", hosting, 2,
                      f"Request finished HTTP/1.1 {method} {url} - {status} - {kind} {took:.4f}ms"))


def _unprotect_failure(moment: datetime, key: str) -> list[tuple[datetime, str]]:
    """A form post whose antiforgery cookie was issued by another replica: its key is not in this pod's key ring."""
    return (_dotnet(moment, "fail", "Microsoft.AspNetCore.Antiforgery.DefaultAntiforgery", 7,
                    "An exception was thrown while deserializing the token.",
                    "Microsoft.AspNetCore.Antiforgery.AntiforgeryValidationException: The antiforgery token could "
                    "not be decrypted.",
                    f" ---> System.Security.Cryptography.CryptographicException: The key {key} was not found in the "
                    "key ring. For more information go to https://aka.ms/aspnet/dataprotectionwarning",
                    f"   at {_KEYS}.KeyManagement.KeyRingBasedDataProtector.UnprotectCore(Byte[] protectedData, "
                    "Boolean allowOperationsOnRevokedKeys, UnprotectStatus& status)",
                    f"   at {_KEYS}.KeyManagement.KeyRingBasedDataProtector.Unprotect(Byte[] protectedData)",
                    "   at Microsoft.AspNetCore.Antiforgery.DefaultAntiforgeryTokenSerializer.Deserialize(String "
                    "serializedToken)",
                    "   --- End of inner exception stack trace ---",
                    "   at Microsoft.AspNetCore.Antiforgery.DefaultAntiforgeryTokenSerializer.Deserialize(String "
                    "serializedToken)",
                    "   at Microsoft.AspNetCore.Antiforgery.DefaultAntiforgery.GetCookieTokenDoesNotThrow(HttpContext "
                    "httpContext)")
            + _dotnet(moment + timedelta(milliseconds=1), "info", "Microsoft.AspNetCore.Mvc.ViewFeatures.Filters."
                      "AutoValidateAntiforgeryTokenAuthorizationFilter", 1,
                      "Antiforgery token validation failed. The antiforgery token could not be decrypted."))


def key_ring(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """patient-portal was scaled 1 -> 3; each replica keeps its own Data Protection key ring inside its container,
    so cookies and antiforgery tokens issued by one pod cannot be read by the others."""
    scaled = 175.0
    pods = cluster.pods_of("clinic", "patient-portal")
    for pod in pods[1:]:
        _pin(cluster, pod, pod.node, scaled - 0.1 - cluster.rng.uniform(0, 0.3))
    cluster.event(("Deployment", "clinic", "patient-portal"), "ScalingReplicaSet",
                  f"Scaled up replica set {pods[0].owner[1]} to 3 from 1", ago(scaled),
                  component="deployment-controller")
    keys = ["{" + cluster.uid() + "}" for _ in pods]
    for pod, key in zip(pods, keys):
        app = pod.containers[0]
        app.noise = False
        app.env = [{"name": "ASPNETCORE_HTTP_PORTS", "value": "8080"},
                   {"name": "Logging__LogLevel__Microsoft.AspNetCore", "value": "Information"},
                   {"name": "Logging__Console__FormatterOptions__TimestampFormat",
                    "value": "yyyy-MM-ddTHH:mm:ss.fffZ "},
                   {"name": "Logging__Console__FormatterOptions__UseUtcTimestamp", "value": "true"},
                   {"name": "OpenAI__ApiKey", "value": secrets.openai_key}]
        _portal_start(cluster, pod, key)
        moment = max(pod.start, ago(360)) + timedelta(seconds=cluster.rng.uniform(20, 90))
        while moment < NOW:
            others = [k for k in keys if k != key] if moment > ago(scaled) else []
            if others and cluster.rng.random() < 0.2:
                handler = "Microsoft.AspNetCore.Authentication.Cookies.CookieAuthenticationHandler"
                app.lines += _dotnet(moment, "info", handler, 7,
                                     "Cookies was not authenticated. Failure message: Unprotect ticket failed")
                app.lines += _request(moment - timedelta(milliseconds=2), "GET", "/appointments", 302,
                                      cluster.rng.uniform(2, 6), "-")
            elif others and cluster.rng.random() < 0.2:
                app.lines += _unprotect_failure(moment, cluster.rng.choice(others))
                app.lines += _request(moment - timedelta(milliseconds=3), "POST", "/appointments/book", 400,
                                      cluster.rng.uniform(3, 9), "-")
            else:
                path = cluster.rng.choice(("/appointments", "/prescriptions", "/messages", "/", "/profile"))
                app.lines += _request(moment, "GET", path, 200, cluster.rng.uniform(12, 90))
            moment += timedelta(seconds=cluster.rng.uniform(25, 80))
    first, second = pods[0], pods[1]
    second.containers[0].lines += _unprotect_failure(ago(1.7), keys[0])
    first.containers[0].lines += _request(ago(300), "GET", f"/signin-oidc?id_token={secrets.jwt}", 302, 14.2, "-")
    cluster.ask(
        "keyring-1", "Since patient-portal was scaled out this morning, patients keep getting bounced back to the "
                     "login page and some appointment bookings fail with a 400. What's going on?",
        "The replicas cannot read each other's cookies. Each patient-portal pod created its own ASP.NET Core Data "
        "Protection key ring inside its container, so a session cookie or antiforgery token issued by one pod fails "
        "on another: 'Unprotect ticket failed' (logged out) and 'The antiforgery token could not be decrypted ... The "
        "key {...} was not found in the key ring' (400 on form posts). It only started when the Deployment went from "
        "1 to 3 replicas. Persist the keys to a shared store (PersistKeysToStackExchangeRedis, a database or a shared "
        "volume) with one application name.",
        "dataprotection-keys", Evidence(second.namespace, second.name, "was not found in the key ring"),
        facts=("key ring|Data Protection|DataProtection", "Unprotect ticket failed|could not be decrypted"),
    )
    cluster.ask(
        "keyring-2", "Where was the key that patient-portal says it can't find actually created, and why doesn't every "
                     "pod have it?",
        f"In pod {first.name}: at start-up it logged 'Creating key {keys[0]}' and stored it in "
        "/home/app/.aspnet/DataProtection-Keys, a directory inside that container ('may not be persisted outside "
        f"of the container'). {second.name} has only its own key, so tokens protected with {keys[0]} fail there. "
        "The keys have to live in storage all replicas share.",
        "dataprotection-keys", Evidence(second.namespace, second.name, f"The key {keys[0]} was not found"),
        Evidence(first.namespace, first.name, f"Creating key {keys[0]}"),
        facts=(keys[0], "DataProtection-Keys|not be persisted outside of the container"),
    )


def kv_cache(cluster: SampleCluster) -> None:
    """support-copilot switched to Llama 3.1 8B (131072-token context); on a 24 GB A10G the KV cache holds only
    27952 tokens, so vLLM refuses to start the engine."""
    rolled, name = 108.0, "karpenter-a10g-0"
    (pod,) = cluster.pods_of("assistant", "support-copilot")
    _pin(cluster, pod, name, rolled)
    old_rs = f"support-copilot-{cluster.suffix(10)}"
    deployment = ("Deployment", "assistant", "support-copilot")
    cluster.event(deployment, "ScalingReplicaSet", f"Scaled down replica set {old_rs} to 0 from 1", ago(rolled + 0.6),
                  component="deployment-controller")
    cluster.event(deployment, "ScalingReplicaSet", f"Scaled up replica set {pod.owner[1]} to 1", ago(rolled + 0.02),
                  component="deployment-controller")
    vllm = pod.containers[0]
    model = "meta-llama/Llama-3.1-8B-Instruct"
    vllm.env = [{"name": "MODEL", "value": model}, {"name": "HF_HOME", "value": "/models/hf"}]
    pod.resources = {"requests": {"cpu": "6", "memory": "48Gi", "nvidia.com/gpu": "1"},
                     "limits": {"memory": "48Gi", "nvidia.com/gpu": "1"}}
    _crash_loop(cluster, pod, vllm, 19, 1, 1.2, rolled - 3)
    died = ago(1.2)
    start = died - timedelta(seconds=cluster.rng.uniform(62, 70))
    message = ("The model's max seq len (131072) is larger than the maximum number of tokens that can be stored in KV "
               "cache (27952). Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when initializing "
               "the engine.")
    vllm.lines += [
        _vllm(start, "INFO", "api_server.py:585", "vLLM API server version 0.6.4.post1"),
        _vllm(start, "INFO", "api_server.py:586", (
            "args: Namespace(host=None, port=8000, uvicorn_log_level='info', allow_credentials=False, "
            f"model='{model}', task='auto', tokenizer=None, trust_remote_code=False, download_dir=None, "
            "load_format='auto', dtype='auto', kv_cache_dtype='auto', max_model_len=None, tensor_parallel_size=1, "
            "block_size=16, swap_space=4, gpu_memory_utilization=0.9, max_num_seqs=256, enforce_eager=False, "
            "served_model_name=['support-copilot'])")),
        _vllm(start + timedelta(seconds=1), "INFO", "api_server.py:194", "Started engine process with PID 77"),
        _vllm(start + timedelta(seconds=7), "INFO", "config.py:350",
              "This model supports multiple tasks: {'generate', 'embedding'}. Defaulting to 'generate'."),
        _vllm(start + timedelta(seconds=8), "INFO", "llm_engine.py:249", (
            f"Initializing an LLM engine (v0.6.4.post1) with config: model='{model}', speculative_config=None, "
            f"tokenizer='{model}', skip_tokenizer_init=False, tokenizer_mode=auto, revision=None, "
            "trust_remote_code=False, dtype=torch.bfloat16, max_seq_len=131072, download_dir=None, "
            "load_format=LoadFormat.AUTO, tensor_parallel_size=1, pipeline_parallel_size=1, "
            "disable_custom_all_reduce=False, quantization=None, enforce_eager=False, kv_cache_dtype=auto, seed=0, "
            "served_model_name=support-copilot, use_v2_block_manager=True")),
        _vllm(start + timedelta(seconds=10), "INFO", "selector.py:135", "Using Flash Attention backend."),
        _vllm(start + timedelta(seconds=11), "INFO", "model_runner.py:1072", f"Starting to load model {model}..."),
        _vllm(start + timedelta(seconds=12), "INFO", "weight_utils.py:243",
              "Using model weights format ['*.safetensors']"),
        _vllm(died - timedelta(seconds=6), "INFO", "model_runner.py:1077", "Loading model weights took 14.9888 GB"),
        _vllm(died - timedelta(seconds=3), "INFO", "worker.py:232", (
            "Memory profiling results: total_gpu_memory=22.49GiB initial_memory_usage=15.21GiB "
            "peak_torch_memory=16.49GiB memory_usage_post_profile=15.29GiB non_torch_memory=0.34GiB "
            "kv_cache_size=3.41GiB gpu_memory_utilization=0.90")),
        _vllm(died - timedelta(seconds=3), "INFO", "gpu_executor.py:113", "# GPU blocks: 1747, # CPU blocks: 2048"),
        _vllm(died - timedelta(seconds=3), "INFO", "gpu_executor.py:117",
              "Maximum concurrency for 131072 tokens per request: 0.21x"),
    ]
    packages = "/usr/local/lib/python3.12/dist-packages"
    vllm.lines += _traceback(died - timedelta(seconds=2), [
        "Process SpawnProcess-1:",
        "Traceback (most recent call last):",
        '  File "/usr/lib/python3.12/multiprocessing/process.py", line 314, in _bootstrap',
        "    self.run()",
        '  File "/usr/lib/python3.12/multiprocessing/process.py", line 108, in run',
        "    self._target(*self._args, **self._kwargs)",
        f'  File "{packages}/vllm/engine/multiprocessing/engine.py", line 366, in run_mp_engine',
        "    raise e",
        f'  File "{packages}/vllm/engine/multiprocessing/engine.py", line 355, in run_mp_engine',
        "    engine = MQLLMEngine.from_engine_args(engine_args=engine_args,",
        f'  File "{packages}/vllm/engine/multiprocessing/engine.py", line 119, in from_engine_args',
        "    return cls(ipc_path=ipc_path,",
        f'  File "{packages}/vllm/engine/multiprocessing/engine.py", line 71, in __init__',
        "    self.engine = LLMEngine(*args, **kwargs)",
        f'  File "{packages}/vllm/engine/llm_engine.py", line 350, in __init__',
        "    self._initialize_kv_caches()",
        f'  File "{packages}/vllm/engine/llm_engine.py", line 500, in _initialize_kv_caches',
        "    self.model_executor.initialize_cache(num_gpu_blocks, num_cpu_blocks)",
        f'  File "{packages}/vllm/executor/gpu_executor.py", line 120, in initialize_cache',
        "    self.driver_worker.initialize_cache(num_gpu_blocks, num_cpu_blocks)",
        f'  File "{packages}/vllm/worker/worker.py", line 275, in initialize_cache',
        "    raise_if_cache_size_invalid(num_gpu_blocks,",
        f'  File "{packages}/vllm/worker/worker.py", line 497, in raise_if_cache_size_invalid',
        "    raise ValueError(",
        f"ValueError: {message}",
    ])
    server = f"{packages}/vllm/entrypoints/openai/api_server.py"
    vllm.lines += _traceback(died, [
        "Traceback (most recent call last):",
        '  File "<frozen runpy>", line 198, in _run_module_as_main',
        '  File "<frozen runpy>", line 88, in _run_code',
        f'  File "{server}", line 643, in <module>',
        "    uvloop.run(run_server(args))",
        f'  File "{packages}/uvloop/__init__.py", line 109, in run',
        "    return __asyncio.run(",
        '  File "/usr/lib/python3.12/asyncio/runners.py", line 194, in run',
        "    return runner.run(main)",
        '  File "/usr/lib/python3.12/asyncio/runners.py", line 118, in run',
        "    return self._loop.run_until_complete(task)",
        '  File "uvloop/loop.pyx", line 1518, in uvloop.loop.Loop.run_until_complete',
        f'  File "{packages}/uvloop/__init__.py", line 61, in wrapper',
        "    return await main",
        f'  File "{server}", line 609, in run_server',
        "    async with build_async_engine_client(args) as engine_client:",
        '  File "/usr/lib/python3.12/contextlib.py", line 210, in __aenter__',
        "    return await anext(self.gen)",
        f'  File "{server}", line 113, in build_async_engine_client',
        "    async with build_async_engine_client_from_engine_args(",
        '  File "/usr/lib/python3.12/contextlib.py", line 210, in __aenter__',
        "    return await anext(self.gen)",
        f'  File "{server}", line 210, in build_async_engine_client_from_engine_args',
        "    raise RuntimeError(",
        "RuntimeError: Engine process failed to start. See stack trace for the root cause.",
    ])
    upstream = "http://support-copilot.assistant.svc.cluster.local:8000/v1/chat/completions"
    for gateway in cluster.pods_of("assistant", "copilot-gateway"):
        moment = ago(rolled - 0.5) + timedelta(seconds=cluster.rng.uniform(5, 60))
        while moment < NOW:
            failed = _json(moment, "error", "copilot upstream failed, answering with fallback", upstream=upstream,
                           error="connect ECONNREFUSED 10.96.212.40:8000")
            gateway.containers[0].lines.append(failed)
            moment += timedelta(seconds=cluster.rng.uniform(40, 160))
    cluster.ask(
        "kvcache-1", "The support copilot has been down since this morning's model upgrade; its vLLM pod keeps "
                     "restarting. Why?",
        "vLLM refuses to start the engine: the new model, meta-llama/Llama-3.1-8B-Instruct, defaults to a 131072-token "
        "context (max_model_len unset), but on this A10G (24 GB, 15 GB of it taken by the weights) the KV cache holds "
        "only 27952 tokens. The engine raises 'The model's max seq len (131072) is larger than the maximum number "
        "of tokens that can be stored in KV cache (27952)', the process exits with code 1 and the pod is in "
        "CrashLoopBackOff.",
        "kv-cache",
        Evidence(pod.namespace, pod.name, "larger than the maximum number of tokens that can be stored in KV cache"),
        facts=("131072", "KV cache"),
    )
    cluster.ask(
        "kvcache-2", "What should we change so the new copilot model runs on the GPU it has now?",
        "Cap the context: start vLLM with --max-model-len at most 27952 (for example 16384 or 24576), the number "
        "of tokens its 1747 KV-cache blocks of 16 can hold. Raising gpu_memory_utilization above 0.9 gains only about "
        "a gigabyte; otherwise move it to a GPU with more memory.",
        "kv-cache", Evidence(pod.namespace, pod.name, "# GPU blocks: 1747"),
        facts=("max_model_len|max-model-len", "27952"),
    )


def corrupt_image(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """The attribute classifier's new dataset snapshot holds one file Pillow cannot decode; a DataLoader worker
    raises on it at the same step every attempt, and the Job runs out of retries."""
    attempts, gave_up, node = (200.0, 184.5), 169.0, "gpu-a100-0"  # when each attempt started, when the Job failed
    pods = add_pods(cluster, _ATTR_TRAIN, len(attempts), node=node)
    bad = "/data/catalog-images/2026-03/part-0117/SKU-4471820-front.jpg"
    job = ("Job", "product-ml", "attr-classifier-train")
    packages = "/usr/local/lib/python3.11/site-packages"
    for index, (pod, began) in enumerate(zip(pods, attempts)):
        _pin(cluster, pod, node, began)
        pod.phase = "Failed"
        trainer = pod.containers[0]
        trainer.noise, trainer.ready = False, False
        labels = f"https://x-access-token:{secrets.github_token}@github.com/acme/attr-labels.git"
        trainer.env = [{"name": "LABELS_REPO", "value": labels}]
        pod.resources = {"requests": {"cpu": "12", "memory": "96Gi", "nvidia.com/gpu": "1"},
                         "limits": {"memory": "96Gi", "nvidia.com/gpu": "1"}}
        _event(cluster, job, "SuccessfulCreate", f"Created pod: {pod.name}", ago(began + 0.01),
               component="job-controller")
        start = _soon(cluster, ago(began), 5)
        trainer.lines += [
            _train(start, "attr-classifier 2026.03.2: ViT-B/16, 412 attribute heads, seed 1234"),
            _train(start + timedelta(seconds=2), "device cuda:0 (NVIDIA A100-SXM4-80GB), bf16 autocast"),
            _train(start + timedelta(seconds=31), "dataset catalog-images@2026-03-14: 1843220 images (61208 added "
                                                  "since catalog-images@2026-03-07), 14400 steps/epoch at batch 128"),
            _train(start + timedelta(seconds=32),
                   "DataLoader: num_workers=8, prefetch_factor=4, shuffle=True (generator seed 1234)"),
            _train(start + timedelta(seconds=40), "epoch 1/5 started"),
        ]
        moment, step = start + timedelta(seconds=40), 0
        while step < 3150:
            step += 50
            moment += timedelta(seconds=cluster.rng.uniform(12.5, 14.5))
            trainer.lines.append(_train(moment, (
                f"epoch 1/5 step {step}/14400 loss={0.62 + 1.9 * 0.9993**step + cluster.rng.uniform(-0.04, 0.04):.4f} "
                f"lr={min(step, 2000) * 1.5e-7:.2e} img/s={cluster.rng.randint(440, 510)}")))
        crash, worker = moment + timedelta(seconds=cluster.rng.uniform(3, 11)), (5, 2)[index]
        trainer.state = {"terminated": {"reason": "Error", "exitCode": 1, "startedAt": stamp(began),
                                        "finishedAt": f"{crash + timedelta(seconds=2):%Y-%m-%dT%H:%M:%SZ}"}}
        trainer.lines += _traceback(crash, [
            "Traceback (most recent call last):",
            '  File "/app/train.py", line 244, in <module>',
            "    main()",
            '  File "/app/train.py", line 201, in main',
            "    for step, (images, labels) in enumerate(train_loader, start=start_step):",
            f'  File "{packages}/torch/utils/data/dataloader.py", line 631, in __next__',
            "    data = self._next_data()",
            f'  File "{packages}/torch/utils/data/dataloader.py", line 1346, in _next_data',
            "    return self._process_data(data)",
            f'  File "{packages}/torch/utils/data/dataloader.py", line 1372, in _process_data',
            "    data.reraise()",
            f'  File "{packages}/torch/_utils.py", line 705, in reraise',
            "    raise exception",
            f"PIL.UnidentifiedImageError: Caught UnidentifiedImageError in DataLoader worker process {worker}.",
            "Original Traceback (most recent call last):",
            f'  File "{packages}/torch/utils/data/_utils/worker.py", line 308, in _worker_loop',
            "    data = fetcher.fetch(index)  # type: ignore[possibly-undefined]",
            f'  File "{packages}/torch/utils/data/_utils/fetch.py", line 51, in fetch',
            "    data = [self.dataset[idx] for idx in possibly_batched_index]",
            f'  File "{packages}/torch/utils/data/_utils/fetch.py", line 51, in <listcomp>',
            "    data = [self.dataset[idx] for idx in possibly_batched_index]",
            '  File "/app/data.py", line 58, in __getitem__',
            '    image = Image.open(path).convert("RGB")',
            f'  File "{packages}/PIL/Image.py", line 3339, in open',
            "    raise UnidentifiedImageError(msg)",
            f"PIL.UnidentifiedImageError: cannot identify image file '{bad}'",
            "",
        ])
    _event(cluster, job, "BackoffLimitExceeded", "Job has reached the specified backoff limit", ago(gave_up),
           warning=True, component="job-controller")
    first, last = pods
    cluster.ask(
        "corrupt-1", "The product attribute classifier training keeps failing partway through its first epoch. Is the "
                     "GPU node bad?",
        "No, the input data is: a DataLoader worker cannot decode one training image. Pillow raises 'cannot identify "
        f"image file {bad}' (PIL.UnidentifiedImageError); the DataLoader re-raises it in the main process, the trainer "
        "exits 1, and after its retry the Job hit its backoff limit. The file came with the new "
        "catalog-images@2026-03-14 snapshot. Remove or re-fetch it, or have the dataset skip unreadable images.",
        "corrupt-image", Evidence(last.namespace, last.name, "cannot identify image file"),
        facts=("UnidentifiedImageError|cannot identify image file", "SKU-4471820-front.jpg"),
    )
    cluster.ask(
        "corrupt-2", "Did both attempts of the attribute classifier Job die on the same thing, or is it random?",
        "The same thing, deterministically: with the fixed shuffle seed (1234) both attempts reached step 3150 "
        "of epoch 1 and then crashed on the same file, /data/catalog-images/2026-03/part-0117/SKU-4471820-front.jpg, "
        "which PIL cannot identify as an image. Retrying will not help until that file is fixed or skipped.",
        "corrupt-image",
        Evidence(first.namespace, first.name, "Caught UnidentifiedImageError in DataLoader worker process"),
        Evidence(last.namespace, last.name, "catalog-images@2026-03-14"),
        facts=("SKU-4471820-front.jpg", "3150"),
    )


def preemption(cluster: SampleCluster) -> None:
    """realtime-asr's autoscaler wanted a third replica; with both H100 nodes full, the scheduler preempted the
    lower-priority 8-GPU distillation pod (deleting it), and the Job, allowing no failures, failed outright."""
    preempted, node = 38.0, "gpu-h100-1"
    (busy,) = add_pods(cluster, _TTS_FINETUNE, 1, node="gpu-h100-0")
    _pin(cluster, busy, "gpu-h100-0", 300)
    *serving, preemptor = cluster.pods_of("voice", "realtime-asr")
    for pod in serving:
        _pin(cluster, pod, "gpu-h100-0")
    _pin(cluster, preemptor, node, preempted - 0.6)
    cluster.event(("HorizontalPodAutoscaler", "voice", "realtime-asr"), "SuccessfulRescale",
                  "New size: 3; reason: pods metric inference_queue_depth above target", ago(preempted + 0.05),
                  component="horizontal-pod-autoscaler")
    cluster.event(("Deployment", "voice", "realtime-asr"), "ScalingReplicaSet",
                  f"Scaled up replica set {preemptor.owner[1]} to 3 from 2", ago(preempted + 0.04),
                  component="deployment-controller")
    # The victim is gone from the API (preemption deletes it); what is left of it is its events and its Job's.
    victim = ("Pod", "translation", f"nmt-distill-{cluster.suffix()}")
    cluster.event(victim, "Preempted", f"Preempted by pod {preemptor.uid} on node {node}", ago(preempted),
                  component="default-scheduler")
    cluster.event(victim, "Killing", "Stopping container trainer", ago(preempted), host=node)
    job = ("Job", "translation", "nmt-distill")
    _event(cluster, job, "BackoffLimitExceeded", "Job has reached the specified backoff limit", ago(preempted - 0.6),
           warning=True, component="job-controller")
    cluster.ask(
        "preempt-1", "The 8-GPU distillation run in translation failed at about 11:22 and its pod has disappeared. "
                     "What happened to it?",
        f"It was preempted: kube-scheduler evicted and deleted pod {victim[2]} ('Preempted by pod {preemptor.uid} on "
        f"node {node}') to make room for {preemptor.name}, the third realtime-asr replica the voice autoscaler asked "
        "for at 11:22. That pod has a higher priority and both H100 nodes were full, so the scheduler took the GPUs "
        "of the lower-priority training pod; the kubelet stopped the trainer and the pod object was deleted.",
        "preemption", Evidence(victim[1], victim[2], "Preempted by pod"),
        Evidence(preemptor.namespace, preemptor.name, f"Successfully assigned voice/{preemptor.name} to {node}"),
        facts=("preempt", "realtime-asr"),
    )
    cluster.ask(
        "preempt-2", "Why did the translation Job fail for good instead of just starting a new pod after that?",
        f"Because the preempted pod counted as a failed attempt and the Job allows none: half a minute after the "
        f"preemption of {victim[2]} the job controller reported BackoffLimitExceeded ('Job has reached the specified "
        "backoff limit', backoffLimit 0). A podFailurePolicy rule that ignores the DisruptionTarget condition (or a "
        "non-zero backoffLimit) would have let it restart from its last checkpoint; a PriorityClass that inference "
        "cannot preempt would keep it running.",
        "preemption", Evidence("translation", "nmt-distill", "BackoffLimitExceeded"),
        Evidence(victim[1], victim[2], f"Preempted by pod {preemptor.uid}"),
        facts=("backoff limit|backoffLimit|BackoffLimitExceeded", "preempt"),
    )


def limit_range(cluster: SampleCluster) -> None:
    """fraud-features 2.4.0 raised its memory limit to 6Gi; the fraud namespace's LimitRange allows 4Gi per container,
    so the new ReplicaSet cannot create a single pod and the old ones keep serving."""
    rolled = 58.0
    old = cluster.pods_of("fraud", "fraud-features")
    new_rs = f"fraud-features-{cluster.suffix(10)}"
    cluster.event(("Deployment", "fraud", "fraud-features"), "ScalingReplicaSet",
                  f"Scaled up replica set {new_rs} to 1", ago(rolled), component="deployment-controller")
    for pod in old:
        pod.resources = {"requests": {"cpu": "1", "memory": "3Gi"}, "limits": {"memory": "3Gi"}}
        moment = max(pod.start, ago(360)) + timedelta(minutes=cluster.rng.uniform(5, 25))
        while moment < NOW:
            pod.containers[0].lines.append(_json(moment, "warn", "feature cache evicting under memory pressure",
                                                 cache_mb=cluster.rng.randint(2600, 2780), limit_mb=3072))
            moment += timedelta(minutes=cluster.rng.uniform(20, 45))
    rs = ("ReplicaSet", "fraud", new_rs)
    violation = "is forbidden: maximum memory usage per Container is 4Gi, but limit is 6Gi"
    for offset in range(9):
        cluster.event(rs, "FailedCreate", f'Error creating: pods "{new_rs}-{cluster.suffix()}" {violation}',
                      ago(rolled - 0.01 * (offset + 1)), warning=True, component="replicaset-controller")
    cluster.event(rs, "FailedCreate", '(combined from similar events): Error creating: pods '
                                      f'"{new_rs}-{cluster.suffix()}" {violation}',
                  ago(1.1), warning=True, count=31, first=ago(rolled - 0.2), component="replicaset-controller")
    cluster.ask(
        "limits-1", "fraud-features 2.4.0 was deployed almost an hour ago but every pod still runs the old version. "
                    "Why is the rollout stuck?",
        f"The new ReplicaSet {new_rs} cannot create any pod: the LimitRange in the fraud namespace caps memory at 4Gi "
        "per container, and the 2.4.0 pod template sets a 6Gi memory limit, so the API server rejects every "
        "pod ('maximum memory usage per Container is 4Gi, but limit is 6Gi', FailedCreate). The two 2.3.7 pods keep "
        "running.",
        "limit-range", Evidence("fraud", new_rs, "maximum memory usage per Container is 4Gi"),
        facts=("LimitRange|maximum memory usage per Container", "6Gi"),
    )
    cluster.ask(
        "limits-2", "How much memory may a fraud-features container get in its namespace, and what do the running pods "
                    "have?",
        "At most 4Gi per container (the namespace's LimitRange maximum); the new template asks for 6Gi and is refused. "
        f"The running fraud-features:2.3.7 pods ({', '.join(p.name for p in old)}) have a 3Gi limit. Either set the "
        "2.4.0 limit to 4Gi or less, or raise the LimitRange max for the fraud namespace.",
        "limit-range", Evidence("fraud", new_rs, "but limit is 6Gi"),
        Evidence(old[0].namespace, old[0].name, "fraud-features:2.3.7"),
        facts=("4Gi", "3Gi"),
    )


def _sandbox_failed(cluster: SampleCluster, pod: SamplePod, node: str, minutes: float) -> None:
    """A pod bound to `node` whose sandbox the CNI never wires up: ContainerCreating, FailedCreatePodSandBox retries."""
    _forget(cluster, pod)
    pod.node, pod.start, pod.phase = node, ago(minutes), "Pending"
    pod.conditions = {"PodReadyToStartContainers": "False"}
    for container in pod.containers:
        container.state = {"waiting": {"reason": "ContainerCreating"}}
        container.ready, container.noise = False, False
    ref = ("Pod", pod.namespace, pod.name)
    cluster.event(ref, "Scheduled", f"Successfully assigned {pod.namespace}/{pod.name} to {node}", ago(minutes),
                  component="default-scheduler")
    cluster.event(ref, "FailedCreatePodSandBox", (
        'Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network for sandbox '
        f'"{_hex(cluster, 64)}": plugin type="aws-cni" name="aws-cni" failed (add): add cmd: failed to assign an IP '
        'address to container'),
        ago(cluster.rng.uniform(0.2, 1.5)), warning=True, count=cluster.rng.randint(22, 30), host=node,
        first=ago(minutes - 0.02))


def _aws_node_start(cluster: SampleCluster, pod: SamplePod) -> None:
    """The VPC CNI's entrypoint and ipamd start-up, as every aws-node pod prints them."""
    node = cluster.node_named(pod.node)
    zone = node["metadata"]["labels"]["topology.kubernetes.io/zone"]
    subnet = _SPOT_SUBNET if pod.node in SPOT_NODES else "subnet-07f1a2b3c4d5e6f70"
    cni = pod.containers[0]
    cni.noise = False
    cni.env = [{"name": "AWS_VPC_K8S_CNI_LOG_FILE", "value": "stdout"},
               {"name": "AWS_VPC_K8S_CNI_LOGLEVEL", "value": "INFO"}, {"name": "WARM_ENI_TARGET", "value": "1"}]
    moment = _soon(cluster, pod.start, 2)
    entrypoint = ("Validating env variables ...", "Install CNI binaries..",
                  "Starting IPAM daemon in the background ... ", "Checking for IPAM connectivity ... ")
    for offset, message in enumerate(entrypoint):
        cni.lines.append(_ipamd(moment + timedelta(milliseconds=offset), "info", "entrypoint.sh", message))
    cni.lines += [
        _ipamd(moment + timedelta(milliseconds=20), "info", "aws-k8s-agent/main.go:42", "Starting L-IPAMD   ..."),
        _ipamd(moment + timedelta(milliseconds=31), "info", "awsutils/awsutils.go:468",
               f"Found availability zone: {zone} "),
        _ipamd(moment + timedelta(milliseconds=33), "info", "awsutils/awsutils.go:505", f"Found subnet-id: {subnet} "),
        _ipamd(moment + timedelta(seconds=1, milliseconds=200), "info", "entrypoint.sh", "Copying config file ... "),
        _ipamd(moment + timedelta(seconds=1, milliseconds=210), "info", "entrypoint.sh",
               "Successfully copied CNI plugin binary and config file."),
    ]


def ip_exhaustion(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """The spot node group's subnet has no free addresses: ipamd cannot get any secondary IPs, so the bid-router
    replicas the autoscaler put there never get a sandbox network."""
    scaled = 55.0
    for pod in cluster.pods_of("kube-system", "aws-node"):
        _aws_node_start(cluster, pod)
    pods = cluster.pods_of("adserving", "bid-router")
    stuck = pods[3:]
    for index, pod in enumerate(stuck):
        _sandbox_failed(cluster, pod, SPOT_NODES[index % 2], scaled - 0.05 * index)
    cluster.event(("HorizontalPodAutoscaler", "adserving", "bid-router"), "SuccessfulRescale",
                  "New size: 6; reason: pods metric bid_requests_per_second above target", ago(scaled + 0.02),
                  component="horizontal-pod-autoscaler")
    cluster.event(("Deployment", "adserving", "bid-router"), "ScalingReplicaSet",
                  f"Scaled up replica set {pods[0].owner[1]} to 6 from 3", ago(scaled + 0.01),
                  component="deployment-controller")
    insufficient = ("InsufficientFreeAddressesInSubnet: The specified subnet does not have enough free addresses "
                    "to satisfy the request.\n\tstatus code: 400, request id: ")
    cnis = {pod.node: pod for pod in cluster.pods_of("kube-system", "aws-node")}
    for name in SPOT_NODES:
        cni = cnis[name].containers[0]
        eni = f"eni-0{_hex(cluster, 16)}"
        moment = _soon(cluster, cnis[name].start, 3)
        while moment < NOW:
            cni.lines.append(_ipamd(moment, "error", "awsutils/awsutils.go:1271",
                                    f"Failed to allocate a private IP addresses on ENI {eni}: "
                                    f"{insufficient}{cluster.uid()}"))
            cni.lines.append(_ipamd(moment + timedelta(milliseconds=180), "error", "ipamd/ipamd.go:1013", (
                "Failed to increase pool size due to not able to allocate ENI AllocENI: failed to create ENI: failed "
                f"to create network interface: {insufficient}{cluster.uid()}")))
            moment += timedelta(seconds=cluster.rng.uniform(55, 75))
        for pod in stuck:
            if pod.node != name:
                continue
            moment = pod.start + timedelta(seconds=1)
            while moment < NOW:
                cni.lines += [
                    _ipamd(moment, "info", "rpc/rpc.pb.go:881", (
                        f"Received AddNetwork for NS /var/run/netns/cni-{cluster.uid()}, Sandbox {_hex(cluster, 64)}, "
                        "ifname eth0")),
                    _ipamd(moment + timedelta(milliseconds=1), "error", "datastore/data_store.go:685",
                           "DataStore has no available IP/Prefix addresses"),
                    _ipamd(moment + timedelta(milliseconds=1), "info", "rpc/rpc.pb.go:881", (
                        "Send AddNetworkReply: IPv4Addr: , IPv6Addr: , DeviceNumber: -1, err: AssignPodIPv4Address: "
                        "no available IP/Prefix addresses")),
                ]
                moment += timedelta(seconds=cluster.rng.uniform(100, 160))
    pods[0].containers[0].lines.append(_json(ago(200), "debug", "exchange handshake",
                                             exchange="https://rtb.exchange.example.net/v2",
                                             authorization=f"Bearer {secrets.bearer_token}"))
    first, spot = stuck[0], cnis[SPOT_NODES[0]]
    cluster.ask(
        "cni-1", "The bid-router replicas the autoscaler added at 11:05 are still stuck in ContainerCreating. "
                 "Why won't they start?",
        "They never get a network: every attempt to create their pod sandbox fails in the AWS VPC CNI with 'failed "
        "to assign an IP address to container' (FailedCreatePodSandBox). They were scheduled onto the new spot nodes "
        "cpu-spot-0/1, whose subnet has no free addresses left, so ipamd there has no IPs to hand out. The three older "
        "replicas on cpu-0/1 are fine.",
        "ip-exhaustion", Evidence(first.namespace, first.name, "failed to assign an IP address to container"),
        facts=("IP address", "aws-cni|CNI"),
    )
    cluster.ask(
        "cni-2", "What is the VPC CNI on the new spot nodes complaining about?",
        f"ipamd on {spot.node} cannot grow its IP pool: EC2 refuses both new secondary IPs and a new ENI with "
        "'InsufficientFreeAddressesInSubnet: The specified subnet does not have enough free addresses', and its "
        f"datastore has 'no available IP/Prefix addresses'. The spot node group's subnet {_SPOT_SUBNET} is exhausted; "
        "give the node group a larger subnet (or a secondary CIDR with custom networking) and lower WARM_ENI_TARGET "
        "so idle nodes hold fewer IPs.",
        "ip-exhaustion", Evidence(spot.namespace, spot.name, "InsufficientFreeAddressesInSubnet"),
        facts=("InsufficientFreeAddressesInSubnet|not have enough free addresses", _SPOT_SUBNET),
    )


def unsafe_sysctl(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """tick-gateway 3.0.0 sets net.core.somaxconn in its pod securityContext; the kubelets only allow the safe
    sysctls, so they reject every new pod and the ReplicaSet keeps making more."""
    rolled, count = 90.0, 24
    old = cluster.pods_of("markets", "tick-gateway")
    image = f"{_REGISTRY}/markets/tick-gateway:3.0.0"
    rejected = add_pods(cluster, old[0].workload, count, image=image)
    new_rs = rejected[0].owner[1]
    cluster.event(("Deployment", "markets", "tick-gateway"), "ScalingReplicaSet",
                  f"Scaled up replica set {new_rs} to 1", ago(rolled), component="deployment-controller")
    reason = 'forbidden sysctl: "net.core.somaxconn" not allowlisted'
    webhook = {"name": "ALERT_SLACK_WEBHOOK", "value": secrets.slack_webhook}
    for pod in old:
        pod.containers[0].env = [webhook]
        pod.containers[0].lines.append(_json(pod.start + timedelta(seconds=1), "info", "tick-gateway 2.9.4 listening",
                                             addr=":9000", backlog=4096))
    for index, pod in enumerate(rejected):
        _forget(cluster, pod)
        created = rolled - index * (rolled - 1) / count
        pod.node, pod.start, pod.phase = ("cpu-0", "cpu-1")[index % 2], ago(created), "Failed"
        pod.reason, pod.message = "SysctlForbidden", f"Pod was rejected: {reason}"
        for container in pod.containers:
            container.state = {"waiting": {"reason": "ContainerCreating"}}
            container.ready, container.noise = False, False
            container.env = [webhook, {"name": "LISTEN_BACKLOG", "value": "65535"}]
        ref = ("Pod", pod.namespace, pod.name)
        _event(cluster, ("ReplicaSet", "markets", new_rs), "SuccessfulCreate", f"Created pod: {pod.name}",
               ago(created + 0.005), component="replicaset-controller")
        cluster.event(ref, "Scheduled", f"Successfully assigned {pod.namespace}/{pod.name} to {pod.node}", ago(created),
                      component="default-scheduler")
        cluster.event(ref, "SysctlForbidden", reason, ago(created - 0.01), warning=True, host=pod.node)
    latest, earlier = rejected[-1], rejected[-2]
    cluster.ask(
        "sysctl-1", "Why is the markets namespace filling up with Failed tick-gateway pods since the 3.0 deploy?",
        "The kubelets refuse to run them: each new pod is rejected at admission with SysctlForbidden ('forbidden "
        "sysctl: \"net.core.somaxconn\" not allowlisted'). tick-gateway 3.0.0 sets net.core.somaxconn in the pod's "
        "securityContext.sysctls, which is not one of the safe sysctls the kubelet allows by default, so every "
        f"pod ends up Failed and ReplicaSet {new_rs} immediately creates another.",
        "unsafe-sysctl", Evidence(latest.namespace, latest.name, reason),
        facts=("SysctlForbidden|forbidden sysctl|not allowlisted", "net.core.somaxconn"),
    )
    cluster.ask(
        "sysctl-2", "Which tick-gateway pods are actually serving right now, and why didn't the new version replace "
                    "them?",
        f"Only the two old 2.9.4 pods ({', '.join(p.name for p in old)}). Every 3.0.0 pod is rejected by the kubelet "
        "('Pod was rejected: forbidden sysctl') because of its net.core.somaxconn sysctl, so the rollout never gets "
        "a ready new pod and never scales the old ReplicaSet down. Drop the sysctl, or allow it with the kubelet's "
        "--allowed-unsafe-sysctls on a dedicated node pool.",
        "unsafe-sysctl", Evidence(earlier.namespace, earlier.name, "Pod was rejected: forbidden sysctl"),
        Evidence(old[0].namespace, old[0].name, "tick-gateway:2.9.4"),
        facts=("2.9.4", "rejected|SysctlForbidden"),
    )


def fsgroup_chown(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """Last night's sync doubled the reference volume to ~11.8 million files; the variant-calling pod sets an fsGroup,
    so the kubelet recursively changes ownership of every file before it can start the container."""
    synced, finished, waiting, node = 660.0, 416.0, 52.0, "cpu-1"
    (sync,) = add_pods(cluster, _REFDATA_SYNC, 1, node="cpu-0")
    _pin(cluster, sync, "cpu-0", synced)
    sync.phase, sync.claims = "Succeeded", ["reference-genomes"]
    rsync = sync.containers[0]
    rsync.noise, rsync.ready = False, False
    rsync.state = {"terminated": {"reason": "Completed", "exitCode": 0, "startedAt": stamp(synced),
                                  "finishedAt": stamp(finished)}}
    rsync.env = [{"name": "AWS_ACCESS_KEY_ID", "value": secrets.aws_access_key},
                 {"name": "AWS_SECRET_ACCESS_KEY", "value": secrets.aws_secret_key},
                 {"name": "RELEASE", "value": "GRCh38-2026.03"}]
    start, done = _soon(cluster, ago(synced), 2), _soon(cluster, ago(finished), -2)
    rsync.lines += [(start, "+ aws s3 sync --only-show-errors s3://acme-genomics-refdata/releases/GRCh38-2026.03/ "
                            "/staging/GRCh38-2026.03/"),
                    (start + timedelta(minutes=38), "+ rsync -a --stats -h /staging/GRCh38-2026.03/ /refs/")]
    rsync.lines += _traceback(done, [
        "",
        "Number of files: 11,842,210 (reg: 11,790,118, dir: 52,092)",
        "Number of created files: 6,144,902 (reg: 6,131,877, dir: 13,025)",
        "Number of deleted files: 0",
        "Number of regular files transferred: 6,131,877",
        "Total file size: 1.62T bytes",
        "Total transferred file size: 611.48G bytes",
        "Literal data: 611.48G bytes",
        "Matched data: 0 bytes",
        "File list size: 402.11M",
        "File list generation time: 0.001 seconds",
        "File list transfer time: 0.000 seconds",
        "Total bytes sent: 611.64G",
        "Total bytes received: 117.92M",
        "",
        "sent 611.64G bytes  received 117.92M bytes  41.86M bytes/sec",
        "total size is 1.62T  speedup is 2.65",
        "+ echo 'reference release GRCh38-2026.03 published to /refs'",
        "reference release GRCh38-2026.03 published to /refs",
    ])
    sync_job = ("Job", "genomics", "refdata-sync")
    _event(cluster, sync_job, "SuccessfulCreate", f"Created pod: {sync.name}", ago(synced + 0.01),
           component="job-controller")
    _event(cluster, sync_job, "Completed", "Job completed", ago(finished - 0.02), component="job-controller")

    (caller,) = add_pods(cluster, _VARIANT_CALLING, 1, node=node)
    _forget(cluster, caller)
    caller.start, caller.phase, caller.claims = ago(waiting), "Pending", ["reference-genomes"]
    caller.conditions = {"PodReadyToStartContainers": "False"}
    for container in caller.containers:
        container.state = {"waiting": {"reason": "ContainerCreating"}}
        container.ready, container.noise = False, False
    volume = f"pvc-{cluster.uid()}"
    ref = ("Pod", caller.namespace, caller.name)
    _event(cluster, ("Job", "genomics", "variant-calling"), "SuccessfulCreate", f"Created pod: {caller.name}",
           ago(waiting + 0.01), component="job-controller")
    cluster.event(ref, "Scheduled", f"Successfully assigned {caller.namespace}/{caller.name} to {node}", ago(waiting),
                  component="default-scheduler")
    cluster.event(ref, "SuccessfulAttachVolume", f'AttachVolume.Attach succeeded for volume "{volume}" ',
                  ago(waiting - 0.3), component="attachdetach-controller")
    cluster.event(ref, "VolumePermissionChangeInProgress", (
        f"Setting volume ownership for /var/lib/kubelet/pods/{caller.uid}/volumes/kubernetes.io~csi/{volume}/mount "
        "is taking longer than expected, consider using OnRootMismatch "
        "- https://kubernetes.io/docs/tasks/configure-pod-container/"
        "security-context/#configure-volume-permission-and-ownership-change-policy-for-pods"), ago(waiting - 0.9),
        warning=True, host=node)
    cluster.event(ref, "FailedMount", ("Unable to attach or mount volumes: unmounted volumes=[data], unattached "
                                       "volumes=[], failed to process volumes=[]: context deadline exceeded"),
                  ago(cluster.rng.uniform(0.3, 1.8)), warning=True, count=24, host=node, first=ago(waiting - 2.1))
    cluster.ask(
        "chown-1", "The variant-calling job's pod has been sitting in ContainerCreating for most of an hour. Is its "
                   "volume failing to attach?",
        "No: the volume attached within seconds (AttachVolume.Attach succeeded). The kubelet is still recursively "
        "changing the ownership of every file on it to the pod's fsGroup before it starts the container ('Setting "
        "volume ownership ... is taking longer than expected, consider using OnRootMismatch'); the FailedMount "
        "timeouts are only the kubelet's 2-minute waits running out meanwhile. "
        "Set securityContext.fsGroupChangePolicy: OnRootMismatch.",
        "fsgroup-chown", Evidence(caller.namespace, caller.name, "consider using OnRootMismatch"),
        facts=("volume ownership|fsGroup", "OnRootMismatch"),
    )
    cluster.ask(
        "chown-2", "Mounting the genomics reference volume used to take seconds. Why has it become so slow since last "
                   "night?",
        f"Because it now holds far more files: last night's refdata-sync ({sync.name}) published GRCh38-2026.03 "
        "and created 6,144,902 files, bringing the volume to 11,842,210. Since the pod sets an fsGroup with "
        "the default fsGroupChangePolicy (Always), the kubelet walks and re-owns every one of them on each mount, "
        "which now takes longer than an hour.",
        "fsgroup-chown", Evidence(sync.namespace, sync.name, "Number of created files: 6,144,902"),
        Evidence(caller.namespace, caller.name, "Setting volume ownership for /var/lib/kubelet/pods/"),
        facts=("11,842,210|6,144,902", "volume ownership|fsGroup"),
    )


def _tiles_start(cluster: SampleCluster, moment: datetime, build: str, tileset: str,
                 tiles: int) -> list[tuple[datetime, str]]:
    """tile-server's start-up lines up to the point where it binds its port."""
    return [
        _tracing(moment, "INFO", "tile_server", f"tile-server {build}"),
        _tracing(moment + timedelta(milliseconds=1), "INFO", "tile_server::tiles",
                 f"opening tileset /tiles/{tileset}.mbtiles"),
        _tracing(moment + timedelta(seconds=cluster.rng.uniform(1.1, 1.5)), "INFO", "tile_server::tiles",
                 f"{tiles} tiles indexed (zoom 0-14)"),
    ]


def privileged_port(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """tile-server 1.9.0 moved to a distroless nonroot base image but still binds port 80: as a non-root user
    the bind fails with EACCES, the Rust binary panics (exit 101) and the old 1.8.3 pods keep serving."""
    rolled, node = 100.0, "cpu-1"
    old = cluster.pods_of("maps", "tile-server")
    (new,) = add_pods(cluster, old[0].workload, 1, node=node, image=f"{_REGISTRY}/maps/tile-server:1.9.0")
    _pin(cluster, new, node, rolled)
    cluster.event(("Deployment", "maps", "tile-server"), "ScalingReplicaSet",
                  f"Scaled up replica set {new.owner[1]} to 1", ago(rolled), component="deployment-controller")
    env = [{"name": "RUST_LOG", "value": "info,tower_http=info"},
           {"name": "GEOCODER_API_KEY", "value": secrets.google_api_key}]
    for pod in old:
        server = pod.containers[0]
        server.noise, server.env = False, env
        start = _soon(cluster, pod.start, 1)
        server.lines += _tiles_start(cluster, start, "1.8.3 (rustc 1.75.0, base image debian:bookworm-slim)",
                                     "planet-2026-02", 47960211)
        server.lines.append(_tracing(start + timedelta(seconds=2), "INFO", "tile_server", "listening on 0.0.0.0:80"))
        moment = max(pod.start, ago(360)) + timedelta(seconds=cluster.rng.uniform(5, 30))
        while moment < NOW:
            zoom = cluster.rng.randint(3, 14)
            x, y = cluster.rng.randrange(2**zoom), cluster.rng.randrange(2**zoom)
            status = cluster.rng.choice((200, 200, 200, 200, 304, 404))
            span = f"request{{method=GET uri=/tiles/{zoom}/{x}/{y}.pbf version=HTTP/1.1}}"
            server.lines.append(_tracing(moment, "INFO", f"{span}: tower_http::trace::on_response",
                                         f"finished processing request latency={cluster.rng.randint(1, 40)} ms "
                                         f"status={status}"))
            moment += timedelta(seconds=cluster.rng.uniform(8, 30))
    server = new.containers[0]
    server.env = env
    _crash_loop(cluster, new, server, 21, 101, 0.9, rolled - 2)
    died = ago(0.9)
    build = "1.9.0 (rustc 1.77.2, base image gcr.io/distroless/cc-debian12:nonroot)"
    server.lines += _tiles_start(cluster, _soon(cluster, died, -3), build, "planet-2026-03", 48211904)
    server.lines += _traceback(died, [
        "thread 'main' panicked at src/main.rs:88:10:",
        'failed to bind 0.0.0.0:80: Os { code: 13, kind: PermissionDenied, message: "Permission denied" }',
        "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace",
    ])
    cluster.ask(
        "privport-1", "tile-server 1.9.0 crash-loops right after it finishes indexing its tiles. What is the error?",
        "It panics when it tries to open its listener: 'failed to bind 0.0.0.0:80: Os { code: 13, kind: "
        "PermissionDenied, message: \"Permission denied\" }' (thread 'main' panicked at src/main.rs:88), and the "
        "process exits with 101, Rust's panic exit code. Port 80 is a privileged port (below 1024), and 1.9.0 runs "
        "as a non-root user.",
        "privileged-port", Evidence(new.namespace, new.name, "failed to bind 0.0.0.0:80"),
        facts=("Permission denied|PermissionDenied|code: 13", "0.0.0.0:80|port 80"),
    )
    cluster.ask(
        "privport-2", "Why can't 1.9.0 open the same port that 1.8.3 has been using all along?",
        "Because 1.9.0 is built on gcr.io/distroless/cc-debian12:nonroot and runs as a non-root user (uid 65532), "
        "which may not bind ports below 1024; 1.8.3 ran as root on debian:bookworm-slim and is still listening "
        "on 0.0.0.0:80 in the old pods, which keep serving. Listen on 8080 (and point the Service's targetPort at it), "
        "or grant NET_BIND_SERVICE / set the safe sysctl net.ipv4.ip_unprivileged_port_start=0.",
        "privileged-port", Evidence(new.namespace, new.name, "cc-debian12:nonroot"),
        Evidence(old[0].namespace, old[0].name, "listening on 0.0.0.0:80"),
        facts=("nonroot|non-root", "1.8.3"),
    )


def apply_all(cluster: SampleCluster) -> None:
    """Move the generator's pods to where they ran before the incidents, then plant the ten incidents."""
    secrets = cluster.secrets
    _placement(cluster)
    wal_removed(cluster, secrets)
    key_ring(cluster, secrets)
    kv_cache(cluster)
    corrupt_image(cluster, secrets)
    preemption(cluster)
    limit_range(cluster)
    ip_exhaustion(cluster, secrets)
    unsafe_sysctl(cluster, secrets)
    fsgroup_chown(cluster, secrets)
    privileged_port(cluster, secrets)
