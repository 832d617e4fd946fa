"""The held-out scenario: other incidents, on other objects, asked about in other words.

Used only to evaluate (`build_cluster(scenario="heldout")`, `kubetrainer samples
cluster --scenario heldout`), so scores on it are honest: nothing tuned on the
default scenario (incidents.py) has seen these namespaces, names or messages.
Every message is written the way the component that prints it really does
(kube-scheduler, controllers, kubelet, client-go, PyTorch/NCCL, mig-manager,
Flyway, gunicorn...). Each question names its evidence (object + verbatim
phrase) and the facts a right answer must state (see `Question`).
"""

from __future__ import annotations

from datetime import timedelta

from kubetrainer.samples.cluster import add_pods, is_ready
from kubetrainer.samples.model import NOW, Evidence, SampleCluster, SampleContainer, SamplePod
from kubetrainer.samples.nodes import gpu_node, sample_nodes
from kubetrainer.samples.noise import iso
from kubetrainer.samples.secrets import FakeSecrets
from kubetrainer.samples.workloads import ContainerSpec, Workload


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


# Placed like the default catalog (healthy first; apply_all then breaks some). Jobs with
# more than one GPU and pinned pods are created by the incidents themselves.
WORKLOADS: tuple[Workload, ...] = (
    _app("kube-system", "node-problem-detector", "DaemonSet", "registry.k8s.io/node-problem-detector/node-problem-detector:v0.8.19",
         "controller", container="node-problem-detector", weight=0.2),
    _app("flux-system", "source-controller", "Deployment", "ghcr.io/fluxcd/source-controller:v1.3.0", "controller", weight=0.3),
    _app("flux-system", "kustomize-controller", "Deployment", "ghcr.io/fluxcd/kustomize-controller:v1.3.0", "controller", weight=0.3),
    _app("ops", "db-backup-operator", "Deployment", "registry.example.com/platform/db-backup-operator:0.14.2", "controller", weight=0.5),
    _app("ledger", "ledger-api", "Deployment", "registry.example.com/fin/ledger-api:7.4.1", "json-api", replicas=4, port=8080, weight=3.0),
    _app("ledger", "ledger-postgres", "StatefulSet", "docker.io/library/postgres:16.2", "worker", port=5432, weight=0.5),
    _app("billing", "invoice-worker", "Deployment", "registry.example.com/billing/invoice-worker:5.2.0", "worker"),
    _app("billing", "billing-db", "StatefulSet", "docker.io/library/postgres:16.2", "worker", port=5432, weight=0.5),
    _app("search", "search-frontend", "Deployment", "registry.example.com/search/search-frontend:3.0.4", "nginx", replicas=3, port=8080, weight=4.0),
    _app("search", "search-indexer", "Deployment", "registry.example.com/search/search-indexer:1.9.0", "worker"),
    _app("search", "opensearch", "StatefulSet", "docker.io/opensearchproject/opensearch:2.13.0", "json-api", replicas=3, port=9200, weight=2.0),
    _app("pricing", "pricing-engine", "Deployment", "registry.example.com/commerce/pricing-engine:2.8.0", "json-api", replicas=2, port=8080, weight=2.0),
    _app("warehouse", "inventory", "Deployment", "registry.example.com/commerce/inventory:4.1.3", "json-api", replicas=2, port=8080, weight=2.0),
    _app("reporting", "statement-renderer", "Deployment", "registry.example.com/fin/statement-renderer:1.6.0", "worker", replicas=2, port=8080),
    _app("ml-research", "vision-notebook", "Deployment", "quay.io/jupyter/pytorch-notebook:cuda12-2024-05-27", "worker",
         gpu_vendor="nvidia", gpus=1, port=8888, weight=0.2),
    _app("ml-research", "moe-pretrain", "Job", "registry.example.com/research/moe-trainer:2026.03", "training", container="trainer",
         gpu_vendor="nvidia", gpus=8, weight=2.0),
)

_PINNED = {
    "fx-rates-sync": _app("ledger", "fx-rates-sync", "Deployment", "registry.example.com/fin/fx-rates-sync:0.7.2", "worker"),
    "mig-manager": _app("gpu-operator", "nvidia-mig-manager", "DaemonSet", "nvcr.io/nvidia/cloud-native/k8s-mig-manager:v0.7.0-ubuntu20.04",
                        "controller", container="nvidia-mig-manager", gpu_vendor="nvidia", weight=0.1),
}


def scenario_nodes() -> list[dict]:
    """The sample nodes plus this scenario's own: a third CPU node and two more H100 nodes."""
    return sample_nodes() + [
        gpu_node("cpu-2", None, None, 0, cpu="16", memory="65856108Ki", instance_type="m6i.4xlarge", zone="us-east-1b"),
        gpu_node("gpu-h100-2", "nvidia", "NVIDIA H100 80GB", 8, zone="us-east-1b"),
        gpu_node("gpu-h100-3", "nvidia", "NVIDIA H100 80GB", 8, zone="us-east-1b"),
    ]


def ago(minutes: float):
    return NOW - timedelta(minutes=minutes)


def stamp(minutes: float) -> str:
    return ago(minutes).strftime("%Y-%m-%dT%H:%M:%SZ")


def _terminated(reason: str, exit_code: int, minutes: float, message: str | None = None) -> dict:
    state = {"reason": reason, "exitCode": exit_code, "startedAt": stamp(minutes + 1), "finishedAt": stamp(minutes)}
    return {"terminated": {**state, **({"message": message} if message else {})}}


def _waiting(reason: str, message: str) -> dict:
    return {"waiting": {"reason": reason, "message": message}}


def _klog(cluster: SampleCluster, level: str, minutes: float, source: str, message: str) -> tuple:
    """A klog line (`E0314 10:02:13.412345       1 file.go:42] message`) at `minutes` ago."""
    moment = ago(minutes) + timedelta(microseconds=cluster.rng.randint(0, 999_999))
    return moment, f"{level}{moment:%m%d %H:%M:%S.%f}       1 {source}] {message}"


def _host_ip(node: str) -> str:
    return f"10.0.0.{sum(map(ord, node)) % 250 + 2}"  # what objects.pod_json reports as hostIP


def _pod_ip(pod: SamplePod) -> str:
    return f"10.244.{len(pod.name) % 8}.{sum(map(ord, pod.name)) % 250 + 2}"  # objects.pod_json's podIP


def _forget(cluster: SampleCluster, pod: SamplePod) -> None:
    """Drop the start-up events the generator gave a pod whose history the incident rewrites."""
    cluster.events = [e for e in cluster.events if e["involvedObject"]["name"] != pod.name]


def _back_off(cluster: SampleCluster, pod: SamplePod, container: str, count: int, first: float) -> None:
    message = f"Back-off restarting failed container {container} in pod {pod.name}_{pod.namespace}({pod.uid})"
    cluster.event(("Pod", pod.namespace, pod.name), "BackOff", message, ago(0.5), warning=True, count=count, host=pod.node, first=ago(first))


def rbac_forbidden(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """The backup operator's ServiceAccount lost its RoleBinding in `ledger`: every call there is forbidden."""
    pod = cluster.pods_of("ops", "db-backup-operator")[0]
    app = pod.containers[0]
    app.env = [
        {"name": "BACKUP_BUCKET", "value": "s3://acme-ledger-backups/postgres"},
        {"name": "AWS_ACCESS_KEY_ID", "value": secrets.aws_access_key},
        {"name": "AWS_SECRET_ACCESS_KEY", "value": secrets.aws_secret_key},
    ]
    user = "system:serviceaccount:ops:db-backup-operator"
    reflector = "pkg/mod/k8s.io/client-go@v0.29.3/tools/cache/reflector.go:229"
    listing = (f'failed to list *v1.PersistentVolumeClaim: persistentvolumeclaims is forbidden: User "{user}" '
               f'cannot list resource "persistentvolumeclaims" in API group "" in the namespace "ledger"')
    for minutes in range(330, 0, -17):
        app.lines.append(_klog(cluster, "W", minutes, "reflector.go:539", f"{reflector}: {listing}"))
        app.lines.append(_klog(cluster, "E", minutes - 0.02, "reflector.go:147", f"{reflector}: Failed to watch *v1.PersistentVolumeClaim: {listing}"))
    for hour in range(5, 0, -1):
        minutes = hour * 60 - 0.05
        snapshot = f"ledger-postgres-hourly-{ago(minutes):%Y%m%d-%H00}"
        error = (f'creating VolumeSnapshot ledger/{snapshot}: volumesnapshots.snapshot.storage.k8s.io is forbidden: User \\"{user}\\" '
                 f'cannot create resource \\"volumesnapshots\\" in API group \\"snapshot.storage.k8s.io\\" in the namespace \\"ledger\\"')
        app.lines.append(_klog(
            cluster, "E", minutes, "controller.go:329",
            f'"Reconciler error" err="{error}" controller="backupschedule" controllerGroup="backup.acme.io" controllerKind="BackupSchedule" '
            f'BackupSchedule="ledger/ledger-postgres-hourly" namespace="ledger" name="ledger-postgres-hourly" reconcileID="{cluster.uid()}"',
        ))
    cluster.ask(
        "rbac-1", "No snapshots of the ledger database have been taken for hours. Why isn't the backup operator doing its job?",
        f"Its service account ({user}) is forbidden by RBAC in the ledger namespace: every hourly BackupSchedule reconcile fails "
        "because it cannot create volumesnapshots (snapshot.storage.k8s.io) there, and it cannot even list persistentvolumeclaims.",
        "rbac", Evidence(pod.namespace, pod.name, "volumesnapshots.snapshot.storage.k8s.io is forbidden"),
        facts=("forbidden|RBAC|permission", "volumesnapshots|VolumeSnapshot"),
    )
    cluster.ask(
        "rbac-2", "Which permissions does db-backup-operator lack, and where?",
        'In namespace ledger its service account may neither list persistentvolumeclaims (core API group "") nor create '
        "volumesnapshots (snapshot.storage.k8s.io): no Role/RoleBinding grants them, so the API server answers forbidden.",
        "rbac", Evidence(pod.namespace, pod.name, "persistentvolumeclaims is forbidden"),
        facts=("persistentvolumeclaims|PVC", "volumesnapshots", "ledger"),
    )


def quota_exceeded(cluster: SampleCluster) -> None:
    """ledger-api scaled 2 -> 4, but the namespace's CPU quota is used up: the ReplicaSet cannot create pods."""
    pods = cluster.pods_of("ledger", "ledger-api")
    for pod in pods[2:]:
        cluster.pods.remove(pod)
        _forget(cluster, pod)
    replica_set = pods[0].owner[1]
    cluster.event(("Deployment", "ledger", "ledger-api"), "ScalingReplicaSet", f"Scaled up replica set {replica_set} to 4 from 2",
                  ago(96), component="deployment-controller")
    message = (f'Error creating: pods "{replica_set}-{cluster.suffix()}" is forbidden: exceeded quota: ledger-compute, '
               "requested: requests.cpu=500m, used: requests.cpu=2, limited: requests.cpu=2")
    cluster.event(("ReplicaSet", "ledger", replica_set), "FailedCreate", message, ago(1), warning=True, count=212,
                  component="replicaset-controller", first=ago(96))
    evidence = Evidence("ledger", replica_set, "exceeded quota: ledger-compute")
    cluster.ask(
        "quota-1", "ledger-api was scaled to 4 replicas an hour and a half ago, but only 2 pods exist. Where are the other two?",
        f"They are never created: the ReplicaSet {replica_set} gets FailedCreate because the ResourceQuota ledger-compute is used up "
        "(requests.cpu used 2 of a limit of 2; each new pod asks for 500m).",
        "quota", evidence, facts=("quota", "cpu"),
    )
    cluster.ask(
        "quota-2", "Is the ledger namespace out of some resource allowance?",
        "Yes: ResourceQuota ledger-compute is full on requests.cpu (2 used, 2 allowed), so pod creation is rejected.",
        "quota", Evidence("ledger", replica_set, "limited: requests.cpu=2"), facts=("ledger-compute", "requests.cpu|cpu"),
    )


def hpa_without_metrics(cluster: SampleCluster) -> None:
    """metrics-server crash-loops (cannot bind :443), so the search HPA has no CPU metrics and never scales."""
    server = cluster.pods_of("kube-system", "metrics-server")[0]
    app = server.containers[0]
    app.restarts, app.ready, app.noise = 38, False, False
    app.state = _waiting("CrashLoopBackOff", f"back-off 5m0s restarting failed container={app.spec.name} pod={server.name}")
    app.last_state = _terminated("Error", 1, 2)
    app.lines += [
        _klog(cluster, "I", 2.2, "serving.go:374", "Generated self-signed cert (/tmp/apiserver.crt, /tmp/apiserver.key)"),
        (ago(2.1), "Error: failed to create listener: failed to listen on 0.0.0.0:443: listen tcp 0.0.0.0:443: bind: permission denied"),
    ]
    _back_off(cluster, server, app.spec.name, 730, 175)
    hpa = ("HorizontalPodAutoscaler", "search", "search-frontend")
    cause = ("failed to get cpu utilization: unable to get metrics for resource cpu: unable to fetch metrics from resource metrics API: "
             "the server is currently unable to handle the request (get pods.metrics.k8s.io)")
    cluster.event(hpa, "FailedGetResourceMetric", cause, ago(0.3), warning=True, count=689, component="horizontal-pod-autoscaler", first=ago(172))
    cluster.event(hpa, "FailedComputeMetricsReplicas", f"invalid metrics (1 invalid out of 1), first error is: failed to get cpu resource metric value: {cause}",
                  ago(0.3), warning=True, count=689, component="horizontal-pod-autoscaler", first=ago(172))
    cluster.ask(
        "hpa-1", "Search traffic tripled this morning and search-frontend is still stuck at 3 pods. Why didn't it autoscale?",
        "Its HorizontalPodAutoscaler cannot read CPU utilization: the resource metrics API (pods.metrics.k8s.io) is unavailable "
        "(FailedGetResourceMetric / FailedComputeMetricsReplicas), because metrics-server is crash-looping.",
        "hpa", Evidence("search", "search-frontend", "unable to fetch metrics from resource metrics API"),
        facts=("metrics-server|metrics.k8s.io|metrics API|resource metrics", "cpu"),
    )
    cluster.ask(
        "hpa-2", "Is metrics-server working?",
        "No: it is in CrashLoopBackOff; each start fails to listen on 0.0.0.0:443 (bind: permission denied), so the metrics API is down.",
        "hpa", Evidence(server.namespace, server.name, "bind: permission denied"), facts=("permission denied", "443"),
    )


def init_container_fails(cluster: SampleCluster) -> None:
    """invoice-worker's Flyway init container fails migration V42, so the pod never leaves Init."""
    pod = cluster.pods_of("billing", "invoice-worker")[0]
    _forget(cluster, pod)
    pod.start, pod.phase = ago(44), "Pending"
    pod.conditions = {"Initialized": "False", "ContainersReady": "False", "Ready": "False"}
    app = pod.containers[0]
    app.state, app.ready, app.noise = _waiting("PodInitializing", ""), False, False
    image = "registry.example.com/billing/invoice-migrations:5.2.0"
    failure = [
        'ERROR: Migration of schema "public" to version "42 - add invoice currency" failed! Changes successfully rolled back.',
        "ERROR: Migration V42__add_invoice_currency.sql failed",
        "-------------------------------------------------",
        "SQL State  : 42701",
        "Error Code : 0",
        'Message    : ERROR: column "currency" of relation "invoices" already exists',
        "Location   : /flyway/sql/V42__add_invoice_currency.sql (/flyway/sql/V42__add_invoice_currency.sql)",
        "Line       : 1",
        "Statement  : ALTER TABLE invoices ADD COLUMN currency char(3) NOT NULL DEFAULT 'EUR'",
    ]
    migrate = SampleContainer(
        spec=ContainerSpec("db-migrate", image, "worker"), image=image,
        state=_waiting("CrashLoopBackOff", f"back-off 5m0s restarting failed container=db-migrate pod={pod.name}"),
        last_state=_terminated("Error", 1, 2.4, "\n".join(failure) + "\n"), ready=False, restarts=12, noise=False,
        env=[{"name": "FLYWAY_URL", "value": "jdbc:postgresql://billing-db.billing.svc:5432/invoices"},
             {"name": "FLYWAY_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "billing-db", "key": "password"}}}],
    )
    head = [
        "Flyway OSS Edition 10.10.0 by Redgate",
        "",
        "See release notes here: https://rd.gt/416ObMi",
        "Database: jdbc:postgresql://billing-db.billing.svc:5432/invoices (PostgreSQL 16.2)",
        "Successfully validated 42 migrations (execution time 00:00.087s)",
        'Current version of schema "public": 41',
        'Migrating schema "public" to version "42 - add invoice currency"',
    ]
    migrate.lines = [(ago(3.35), line) for line in head + failure]
    pod.init_containers = [migrate]
    ref = ("Pod", pod.namespace, pod.name)
    cluster.event(ref, "Scheduled", f"Successfully assigned {pod.namespace}/{pod.name} to {pod.node}", ago(44), component="default-scheduler")
    cluster.event(ref, "Pulled", f'Container image "{image}" already present on machine', ago(3.45), host=pod.node, count=13, first=ago(43))
    cluster.event(ref, "Created", "Created container db-migrate", ago(3.45), host=pod.node, count=13, first=ago(43))
    cluster.event(ref, "Started", "Started container db-migrate", ago(3.4), host=pod.node, count=13, first=ago(43))
    _back_off(cluster, pod, "db-migrate", 187, 42)
    cluster.ask(
        "init-1", "invoice-worker has been stuck initialising ever since the deploy 45 minutes ago. What is failing?",
        "Its init container db-migrate (Flyway) exits 1 and is in CrashLoopBackOff (Init:CrashLoopBackOff): migration "
        'V42__add_invoice_currency.sql fails because column "currency" of relation "invoices" already exists.',
        "init-container", Evidence(pod.namespace, pod.name, "Migration V42__add_invoice_currency.sql failed"),
        facts=("migration|flyway", "currency", "already exists"),
    )
    cluster.ask(
        "init-2", "Did the billing schema change go through?",
        'No: migration 42 (add invoice currency) is rolled back every time — column "currency" already exists on invoices — '
        "so the db-migrate init container keeps failing and the invoice workers never start.",
        "init-container", Evidence(pod.namespace, pod.name, "Back-off restarting failed container db-migrate"),
        facts=("already exists", "db-migrate|init container"),
    )


def network_policy_blocks(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """Flux applied a default-deny ingress policy in warehouse: pricing-engine's calls to inventory time out."""
    flux = cluster.pods_of("flux-system", "kustomize-controller")[0]
    revision = f"main@sha1:{cluster.rng.getrandbits(160):040x}"
    common = ('"controller":"kustomization","controllerGroup":"kustomize.toolkit.fluxcd.io","controllerKind":"Kustomization",'
              '"Kustomization":{"name":"warehouse","namespace":"flux-system"},"namespace":"flux-system","name":"warehouse"')
    reconcile = cluster.uid()
    flux.containers[0].lines += [
        (ago(82), (f'{{"level":"info","ts":"{iso(ago(82))}","msg":"server-side apply completed",{common},"reconcileID":"{reconcile}",'
                  '"output":{"Deployment/warehouse/inventory":"unchanged","NetworkPolicy/warehouse/allow-from-ingress-nginx":"created",'
                  '"NetworkPolicy/warehouse/default-deny-ingress":"created","Service/warehouse/inventory":"unchanged"}}')),
        (ago(81.97), (f'{{"level":"info","ts":"{iso(ago(81.97))}","msg":"Reconciliation finished in 1.84s, next run in 10m0s",{common},'
                     f'"reconcileID":"{reconcile}","revision":"{revision}"}}')),
    ]
    service = "inventory.warehouse.svc.cluster.local:8080"
    pricing = cluster.pods_of("pricing", "pricing-engine")
    for index, pod in enumerate(pricing):
        app = pod.containers[0]
        if index == 0:
            app.lines.append((ago(345), (f'{{"level":"info","ts":"{iso(ago(345))}","caller":"config/load.go:61","msg":"config loaded",'
                                        f'"inventory_url":"http://{service}","redis_url":"redis://:{secrets.url_password}@redis.pricing.svc:6379/0"}}')))
        for minutes in range(80 - 2 * index, 0, -6):
            sku = f"SKU-{cluster.rng.randint(10000, 99999)}"
            app.lines.append((ago(minutes), (f'{{"level":"error","ts":"{iso(ago(minutes))}","caller":"inventory/client.go:118","msg":"stock lookup failed",'
                                            f'"sku":"{sku}","error":"Get \\"http://{service}/v1/stock/{sku}\\": dial tcp 10.96.201.44:8080: i/o timeout"}}')))
        app.lines.append((ago(77 - index), (f'{{"level":"warn","ts":"{iso(ago(77 - index))}","caller":"inventory/breaker.go:44",'
                                           f'"msg":"circuit breaker opened","target":"{service}","consecutive_failures":5}}')))
    cluster.ask(
        "netpol-1", "Since about 10:40 pricing can't look up stock levels. Is the inventory service down?",
        "No, inventory's pods are Running and Ready; pricing-engine's connections to inventory.warehouse.svc.cluster.local:8080 "
        "time out (dial tcp ... i/o timeout) because Flux created NetworkPolicy warehouse/default-deny-ingress at 10:38, which "
        "drops ingress from the pricing namespace.",
        "network-policy", Evidence("pricing", pricing[0].name, "i/o timeout"),
        Evidence(flux.namespace, flux.name, "NetworkPolicy/warehouse/default-deny-ingress"),
        facts=("timeout|timed out|time out", "NetworkPolic|network polic|default-deny"),
    )
    cluster.ask(
        "netpol-2", "What changed in the warehouse namespace this morning?",
        "Flux (kustomize-controller, Kustomization warehouse) created two NetworkPolicies at 10:38: default-deny-ingress and "
        "allow-from-ingress-nginx; everything else was unchanged.",
        "network-policy", Evidence(flux.namespace, flux.name, "NetworkPolicy/warehouse/default-deny-ingress"),
        facts=("default-deny", "NetworkPolic|network polic"),
    )


def nccl_timeout(cluster: SampleCluster) -> None:
    """A two-node, 16-rank run: an InfiniBand completion error on one rank, then every rank's NCCL watchdog fires."""
    workload = next(w for w in WORKLOADS if w.name == "moe-pretrain")
    nodes = ("gpu-h100-2", "gpu-h100-3")
    pods = []
    for index, node in enumerate(nodes):
        start = ago(9 * 60 + index)
        container = SampleContainer(spec=workload.containers[0], image=workload.containers[0].image,
                                    state=_terminated("Error", 1, 50 - 0.1 * index), ready=False)
        container.state["terminated"]["startedAt"] = start.strftime("%Y-%m-%dT%H:%M:%SZ")
        pod = SamplePod(workload, f"moe-pretrain-{index}-{cluster.suffix()}", cluster.uid(), node, start, [container], ("Job", "moe-pretrain"))
        pod.phase = "Failed"
        cluster.pods.append(pod)
        pods.append(pod)
    work = "WorkNCCL(SeqNum=48213, OpType=ALLREDUCE, NumelIn=262668288, NumelOut=262668288, Timeout(ms)=600000)"
    hung, peer = pods[1], pods[0]
    trainer = hung.containers[0]
    bad = ago(61)
    for offset, line in enumerate((
        (f"{hung.name}:214:1873 [3] transport/net_ib.cc:1696 NCCL WARN NET/IB : Got completion from peer {_host_ip(peer.node)}<43517> with "
        f"status=12 opcode=0 len=0 vendor err 129 (Recv) localGid ::ffff:{_host_ip(hung.node)} remoteGids::ffff:{_host_ip(peer.node)}"),
        f"{hung.name}:214:1873 [3] NCCL INFO transport/net.cc:1134 -> 6",
        f"{hung.name}:214:1873 [3] NCCL INFO proxy.cc:878 -> 6 [Progress Thread]",
    )):
        trainer.lines.append((bad + timedelta(milliseconds=offset), line))
    for index, pod in enumerate(pods):
        lines = pod.containers[0].lines
        fired = ago(51) + timedelta(milliseconds=40 * index)
        for local in range(8):
            rank = 8 * index + local
            moment = fired + timedelta(milliseconds=3 * local)
            head = f"[rank{rank}]:[E{moment.month}{moment:%d %H:%M:%S}.{moment.microsecond:06d}{cluster.rng.randint(100, 999)}"
            lines.append((moment, (f"{head} ProcessGroupNCCL.cpp:616] [Rank {rank}] Watchdog caught collective operation timeout: {work} "
                                  f"ran for {600000 + cluster.rng.randint(10, 90)} milliseconds before timing out.")))
            lines.append((moment, (f"{head} ProcessGroupNCCL.cpp:1785] [PG ID 0 PG GUID 0(default_pg) Rank {rank}] Exception (either an error "
                                  "or timeout) detected by watchdog at work: 48213, last enqueued NCCL work: 48214, last completed NCCL work: 48212.")))
        first = 8 * index + (3 if index else 0)
        moment = fired + timedelta(milliseconds=60)
        head = f"[rank{first}]:[E{moment.month}{moment:%d %H:%M:%S}.{moment.microsecond:06d}512"
        lines += [(moment, line) for line in (
            (f"{head} ProcessGroupNCCL.cpp:630] [Rank {first}] Some NCCL operations have failed or timed out. Due to the asynchronous nature "
            "of CUDA kernels, subsequent GPU operations might run on corrupted/incomplete data."),
            f"{head} ProcessGroupNCCL.cpp:636] [Rank {first}] To avoid data inconsistency, we are taking the entire process down.",
            "terminate called after throwing an instance of 'c10::DistBackendError'",
            (f"  what():  [PG ID 0 PG GUID 0(default_pg) Rank {first}] Process group watchdog thread terminated with exception: [Rank {first}] "
            f"Watchdog caught collective operation timeout: {work} ran for 600047 milliseconds before timing out."),
        )]
        done = fired + timedelta(seconds=9)
        pid = 211 + (first % 8)
        for local in range(8):
            if local != first % 8:
                lines.append((done, (f"W{done:%m%d %H:%M:%S}.{done.microsecond:06d} 1 torch/distributed/elastic/multiprocessing/api.py:897] "
                                    f"Sending process {211 + local} closing signal SIGTERM")))
        ended = done + timedelta(seconds=2)
        lines += [(ended, line) for line in (
            (f"E{ended:%m%d %H:%M:%S}.{ended.microsecond:06d} 1 torch/distributed/elastic/multiprocessing/api.py:869] failed (exitcode: -6) "
            f"local_rank: {first % 8} (pid: {pid}) of binary: /usr/bin/python3"),
            "torch.distributed.elastic.multiprocessing.errors.ChildFailedError: ",
            "============================================================",
            "train_moe.py FAILED",
            "------------------------------------------------------------",
            "Failures:",
            "  <NO_OTHER_FAILURES>",
            "------------------------------------------------------------",
            "Root Cause (first observed failure):",
            "[0]:",
            f"  time      : {ended:%Y-%m-%d_%H:%M:%S}",
            f"  host      : {pod.name}",
            f"  rank      : {first} (local_rank: {first % 8})",
            f"  exitcode  : -6 (pid: {pid})",
            "  error_file: <N/A>",
            f"  traceback : Signal 6 (SIGABRT) received by PID {pid}",
            "============================================================",
        )]
    cluster.event(("Job", "ml-research", "moe-pretrain"), "BackoffLimitExceeded", "Job has reached the specified backoff limit",
                  ago(49.5), warning=True, component="job-controller")
    cluster.ask(
        "nccl-1", "The 16-GPU MoE pretraining run crashed about 50 minutes ago after going fine all morning. What brought it down?",
        "An NCCL collective hung: every rank's ProcessGroupNCCL watchdog reported the ALLREDUCE (SeqNum 48213) timed out after "
        "600000 ms, the ranks aborted (SIGABRT) and the Job hit its backoff limit.",
        "nccl-timeout", Evidence(peer.namespace, peer.name, "Watchdog caught collective operation timeout"),
        facts=("NCCL", "timeout|timed out|watchdog"),
    )
    cluster.ask(
        "nccl-2", "Was it a network fault between the two H100 nodes that killed the MoE run?",
        f"Yes: ten minutes before the watchdog fired, rank 11 (local rank 3 of {hung.name} on {hung.node}) got an InfiniBand "
        f"completion error from its peer on {peer.node} (NET/IB status=12, vendor err 129: retries exceeded); the ALLREDUCE "
        "never completed and the NCCL watchdog took every rank down after 600000 ms.",
        "nccl-timeout", Evidence(hung.namespace, hung.name, "NET/IB : Got completion from peer"),
        facts=("InfiniBand|NET/IB|status=12", "gpu-h100-3|rank 11"),
    )


def mig_misconfigured(cluster: SampleCluster) -> None:
    """all-3g.40gb was requested on a 40GB A100: mig-manager fails, and a notebook asking for 3g.40gb never schedules."""
    mig_node = next(n for n in cluster.nodes if n["metadata"]["name"] == "gpu-a100-mig-0")
    labels = mig_node["metadata"]["labels"]
    labels["nvidia.com/mig.config"], labels["nvidia.com/mig.config.state"] = "all-3g.40gb", "failed"
    workload = _PINNED["mig-manager"]
    capable = [n["metadata"]["name"] for n in cluster.nodes
               if n["metadata"]["labels"].get("nvidia.com/mig.capable") == "true" and is_ready(n)]
    managers = {}
    for name in capable:
        (pod,) = add_pods(cluster, workload, 1, node=name)
        pod.containers[0].noise = False
        pod.containers[0].lines.append((pod.start, f'time="{iso(pod.start, 0)}" level=info msg="Waiting for change to \'nvidia.com/mig.config\' label"'))
        managers[name] = pod
    manager = managers["gpu-a100-mig-0"]

    def logrus(minutes: float, level: str, msg: str) -> tuple:
        return ago(minutes), f'time="{iso(ago(minutes), 0)}" level={level} msg="{msg}"'

    plain = [
        "Getting current value of the 'nvidia.com/gpu.deploy.device-plugin' node label",
        "Current value of 'nvidia.com/gpu.deploy.device-plugin=true'",
        "Asserting that the requested configuration is present in the configuration file",
        "Selected MIG configuration is valid",
        "Getting current value of the 'nvidia.com/mig.config.state' node label",
        "Current value of 'nvidia.com/mig.config.state=success'",
        "Checking if the selected MIG config is currently applied or not",
    ]
    manager.containers[0].lines += [
        logrus(214, "info", "Updating to MIG config: all-3g.40gb"),
        *[(ago(214) + timedelta(milliseconds=i + 1), line) for i, line in enumerate(plain)],
        logrus(213.98, "fatal", "Assertion failure: selected configuration not currently applied"),
        (ago(213.97), "Changing the 'nvidia.com/mig.config.state' node label to 'pending'"),
        (ago(213.96), "Shutting down all GPU clients in Kubernetes by disabling their component-specific nodeSelector labels"),
        (ago(213.5), "Applying the selected MIG config to the node"),
        logrus(213.2, "error", "Error applying MIG configuration with hooks: error setting MIGConfig: error attempting multiple config "
                                "orderings: unsupported MIG Device specified 3g.40gb, expected 3g.20gb instead"),
        (ago(213.1), "Restarting all GPU clients previously shutdown in Kubernetes by reenabling their component-specific nodeSelector labels"),
        (ago(213.0), "Changing the 'nvidia.com/mig.config.state' node label to 'failed'"),
        logrus(212.9, "error", "Error: exit status 1"),
        logrus(212.8, "info", "Waiting for change to 'nvidia.com/mig.config' label"),
    ]
    notebook = cluster.pods_of("ml-research", "vision-notebook")[0]
    cluster.unschedule(notebook)
    notebook.resources = {"requests": {"cpu": "4", "memory": "32Gi", "nvidia.com/mig-3g.40gb": "1"},
                          "limits": {"memory": "32Gi", "nvidia.com/mig-3g.40gb": "1"}}
    total = len(cluster.nodes)
    down = sum(1 for n in cluster.nodes if not is_ready(n))
    cordoned = sum(1 for n in cluster.nodes if is_ready(n) and n["spec"].get("unschedulable"))
    short = total - down - cordoned
    message = (f"0/{total} nodes are available: {down} node(s) had untolerated taint {{node.kubernetes.io/unreachable: }}, "
               f"{cordoned} node(s) were unschedulable, {short} Insufficient nvidia.com/mig-3g.40gb. preemption: 0/{total} nodes are "
               f"available: {down + cordoned} Preemption is not helpful for scheduling, {short} No preemption victims found for incoming pod.")
    cluster.event(("Pod", notebook.namespace, notebook.name), "FailedScheduling", message, ago(2), warning=True, count=61,
                  component="default-scheduler", first=ago(205))
    cluster.ask(
        "mig-1", "The vision team's notebook has been waiting for its GPU slice since early morning. Why won't it start?",
        "It requests nvidia.com/mig-3g.40gb, which no node offers (the scheduler reports Insufficient nvidia.com/mig-3g.40gb): the only "
        "MIG node, gpu-a100-mig-0, is a 40GB A100 whose 3g slices are 3g.20gb, and its re-partitioning to all-3g.40gb failed.",
        "mig", Evidence(notebook.namespace, notebook.name, "Insufficient nvidia.com/mig-3g.40gb"),
        facts=("3g.40gb", "Insufficient|no node|not offer|doesn't offer|does not offer"),
    )
    cluster.ask(
        "mig-2", "Did re-partitioning the A100 MIG node work?",
        "No: mig-manager on gpu-a100-mig-0 tried MIG config all-3g.40gb, but on an A100-SXM4-40GB that profile is 3g.20gb "
        "(unsupported MIG Device specified 3g.40gb, expected 3g.20gb instead); the apply failed and nvidia.com/mig.config.state is failed.",
        "mig", Evidence(manager.namespace, manager.name, "unsupported MIG Device specified 3g.40gb"),
        facts=("failed", "3g.20gb"),
    )


def clock_skew(cluster: SampleCluster) -> None:
    """cpu-2's clock stepped back 1h47m when its NTP daemon died: a freshly renewed TLS certificate looks 'not yet valid' there."""
    name, broke, skew = "cpu-2", 236, timedelta(minutes=107)
    node = cluster.node_named(name)
    node["status"]["conditions"].insert(0, {
        "type": "NTPProblem", "status": "True", "reason": "NTPIsDown", "message": "NTP service is not running",
        "lastHeartbeatTime": (ago(0.4) - skew).strftime("%Y-%m-%dT%H:%M:%SZ"), "lastTransitionTime": stamp(broke),
    })
    change = 'Node condition NTPProblem is now: True, reason: NTPIsDown, message: "NTP service is not running"'
    cluster.event(("Node", None, name), "NTPIsDown", change, ago(broke), warning=True, component="ntp-custom-plugin-monitor", host=name)
    detector = next(p for p in cluster.pods_of("kube-system", "node-problem-detector") if p.node == name)
    since = f"{ago(broke):%Y-%m-%d %H:%M:%S} +0000 UTC"
    detector.containers[0].lines.append(_klog(
        cluster, "I", broke, "custom_plugin_monitor.go:280",
        f"New status generated: &{{Source:ntp-custom-plugin-monitor Events:[{{Severity:warn Timestamp:{since} Reason:NTPIsDown "
        f"Message:{change}}}] Conditions:[{{Type:NTPProblem Status:True Transition:{since} Reason:NTPIsDown "
        "Message:NTP service is not running}]}",
    ))
    (pod,) = add_pods(cluster, _PINNED["fx-rates-sync"], 1, node=name)
    app = pod.containers[0]
    app.noise = False  # every line below, stamped by the node's clock (which jumps back when NTP dies)
    for minutes in range(355, 0, -5):
        local = ago(minutes) - (skew if minutes < broke else timedelta(0))
        text = f"{local:%Y-%m-%d %H:%M:%S},{cluster.rng.randint(0, 999):03d}"
        if minutes > 152:
            rates = cluster.rng.randint(160, 170)
            app.lines.append((ago(minutes), f"{text} INFO fxsync: refreshed {rates} EUR rates from api.fxfeed.example.com"))
            continue
        app.lines.append((ago(minutes), (f"{text} ERROR fxsync: rate refresh failed: HTTPSConnectionPool(host='api.fxfeed.example.com', port=443): "
                                        "Max retries exceeded with url: /v2/latest?base=EUR (Caused by SSLError(SSLCertVerificationError(1, "
                                        "'[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate is not yet valid (_ssl.c:1000)')))")))
        if minutes % 30 == 0:
            app.lines.append((ago(minutes), f"{text} WARNING fxsync: serving stale rates, last refresh {(ago(155) - skew):%H:%M:%S}"))
    cluster.ask(
        "skew-1", "fx-rates-sync can't reach the FX rates API over HTTPS since around 09:30, although the provider's certificate checks out "
        "fine from a laptop. What's going on?",
        "TLS verification fails with 'certificate is not yet valid': the provider renewed its certificate, and the pod runs on cpu-2, "
        "whose clock is about 1h47m behind (NTP service is not running), so the new certificate's start date lies in the node's future.",
        "clock-skew", Evidence(pod.namespace, pod.name, "certificate is not yet valid"), Evidence(None, name, "NTP service is not running"),
        facts=("not yet valid", "clock|NTP|skew|behind"),
    )
    cluster.ask(
        "skew-2", "Is the time wrong on any of our machines?",
        "Yes: cpu-2 has condition NTPProblem=True (NTPIsDown: NTP service is not running since about 08:04), and its clock is about "
        "1h47m behind: the log timestamps of fx-rates-sync on that node jump back by that much when NTP stopped.",
        "clock-skew", Evidence(None, name, "NTP service is not running"), facts=("cpu-2", "NTP"),
    )


def missing_secret_key(cluster: SampleCluster) -> None:
    """search-indexer's env refers to a key the rotated Secret no longer has: CreateContainerConfigError."""
    pod = cluster.pods_of("search", "search-indexer")[0]
    _forget(cluster, pod)
    pod.start, pod.phase = ago(38), "Pending"
    app = pod.containers[0]
    reason = "couldn't find key api-token in Secret search/opensearch-credentials"
    app.state, app.ready, app.noise = _waiting("CreateContainerConfigError", reason), False, False
    app.env = [{"name": "OPENSEARCH_URL", "value": "https://opensearch.search.svc:9200"},
               {"name": "OPENSEARCH_TOKEN", "valueFrom": {"secretKeyRef": {"name": "opensearch-credentials", "key": "api-token"}}}]
    ref = ("Pod", pod.namespace, pod.name)
    cluster.event(ref, "Scheduled", f"Successfully assigned {pod.namespace}/{pod.name} to {pod.node}", ago(38), component="default-scheduler")
    cluster.event(ref, "Pulled", f'Container image "{app.image}" already present on machine', ago(0.7), host=pod.node, count=176, first=ago(38))
    cluster.event(ref, "Failed", f"Error: {reason}", ago(0.7), warning=True, host=pod.node, count=176, first=ago(38))
    cluster.ask(
        "envkey-1", "search-indexer hasn't started once since this morning's rollout. What's blocking it?",
        "The kubelet cannot build its environment (CreateContainerConfigError): OPENSEARCH_TOKEN refers to key api-token in Secret "
        "search/opensearch-credentials, and that Secret has no such key.",
        "config-error", Evidence(pod.namespace, pod.name, "couldn't find key api-token"),
        facts=("opensearch-credentials", "api-token"),
    )


def liveness_kills(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """statement-renderer's workers are all busy rendering, /healthz times out and the kubelet restarts the container."""
    pods = cluster.pods_of("reporting", "statement-renderer")
    for index, pod in enumerate(pods):
        app = pod.containers[0]
        app.restarts = 14 - 3 * index
        app.state = {"running": {"startedAt": stamp(4 + 6 * index)}}
        app.last_state = _terminated("Error", 137, 4.2 + 6 * index)
        for cycle in range(min(app.restarts, 12)):
            minutes = 4.5 + 6 * index + 25 * cycle
            at = ago(minutes)
            text = f"[{at:%Y-%m-%d %H:%M:%S} +0000]"
            pid = 20 + cycle % 7
            app.lines += [
                (ago(minutes + 9), (f"{ago(minutes + 9):%Y-%m-%d %H:%M:%S},000 INFO render: statement batch 2026-02 started for "
                                   f"{cluster.rng.randint(15000, 20000)} accounts")),
                (at, f"{text} [1] [CRITICAL] WORKER TIMEOUT (pid:{pid})"),
                (at, f"{text} [{pid}] [INFO] Worker exiting (pid: {pid})"),
                (at + timedelta(seconds=1), (f"[{at + timedelta(seconds=1):%Y-%m-%d %H:%M:%S} +0000] [1] [ERROR] Worker (pid:{pid}) "
                                            "was sent SIGKILL! Perhaps out of memory?")),
            ]
        ref = ("Pod", pod.namespace, pod.name)
        probe = f'Liveness probe failed: Get "http://{_pod_ip(pod)}:8080/healthz": context deadline exceeded (Client.Timeout exceeded while awaiting headers)'
        cluster.event(ref, "Unhealthy", probe, ago(4.3 + 6 * index), warning=True, count=3 * app.restarts, host=pod.node, first=ago(330))
        cluster.event(ref, "Killing", f"Container {app.spec.name} failed liveness probe, will be restarted", ago(4.2 + 6 * index),
                      count=app.restarts, host=pod.node, first=ago(329))
    pods[0].containers[0].lines.append((ago(300), f"{ago(300):%Y-%m-%d %H:%M:%S},000 INFO notify: posting summary to {secrets.slack_webhook}"))
    cluster.ask(
        "liveness-1", "Why do the statement-renderer pods keep restarting?",
        "The kubelet restarts them: the liveness probe GET /healthz times out (context deadline exceeded) while every gunicorn "
        "worker is busy rendering the monthly statement batch (WORKER TIMEOUT), so the container 'failed liveness probe, will be "
        "restarted' (exit 137). It is not an out-of-memory kill.",
        "liveness", Evidence(pods[0].namespace, pods[0].name, "failed liveness probe, will be restarted"),
        facts=("liveness", "timeout|timed out|deadline"),
    )


def plant_log_secrets(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """A few more leaks in this scenario's own workloads, so evaluation also goes through redaction."""
    api = cluster.pods_of("ledger", "ledger-api")[0].containers[0]
    api.lines.append((ago(200), f'{{"ts":"{iso(ago(200))}","level":"debug","msg":"calling fx service","auth":"Bearer {secrets.bearer_token}"}}'))
    source = cluster.pods_of("flux-system", "source-controller")[0].containers[0]
    source.lines.append((ago(260), (f'{{"level":"info","ts":"{iso(ago(260))}","msg":"cloning https://x-access-token:{secrets.github_token}'
                                   '@github.com/example/fleet.git","controller":"gitrepository"}')))


def apply_all(cluster: SampleCluster) -> None:
    secrets = cluster.secrets
    plant_log_secrets(cluster, secrets)
    rbac_forbidden(cluster, secrets)
    quota_exceeded(cluster)
    hpa_without_metrics(cluster)
    init_container_fails(cluster)
    network_policy_blocks(cluster, secrets)
    nccl_timeout(cluster)
    mig_misconfigured(cluster)
    clock_skew(cluster)
    missing_secret_key(cluster)
    liveness_kills(cluster, secrets)
