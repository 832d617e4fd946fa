"""The cobalt scenario: a thirteenth set of incidents, written blind for a held-out score of the on-call answers.

Selected with `build_cluster(scenario="cobalt")` / `kubetrainer samples cluster
--scenario cobalt`. Its setting is a fintech / e-commerce platform team's EKS cluster
in us-east-2: a merchant portal, checkout, merchant onboarding, settlement, refunds,
the ledger, payouts, product listings, fraud scoring, the wallet and FX rates. It was
written blind: only the sample generator's own modules and the quarry scenario and its
test were read; no diagnosis, answering, retrieval or evaluation code was opened or run
against it, so nothing in it has been tuned against the tool.

Ten incidents, two questions each. Some causes sit in Kubernetes events (an Ingress the
AWS Load Balancer Controller cannot build, a Secrets Store CSI mount, a container the
runtime cannot create, a readiness probe, the scheduler's and Karpenter's view of a GPU
pod), some in the failing pod's own log (a Rails migration, a KafkaJS consumer, a gRPC
client, a memcached client) and several in another object than the one showing the
symptom (Argo CD pruning a cert-manager Secret, the ingress controller's default
certificate, the Secrets Store provider, the gRPC server, the memcached StatefulSet, the
node's conditions, a neighbour on the same node). Messages are written the way the
component that prints them does: the kubelet, scheduler, HPA (and KEDA's metric names),
the Deployment, ReplicaSet and Job controllers; the AWS Load Balancer Controller's zap
JSON; cert-manager's events and klog lines; ingress-nginx; Argo CD's logrus text; Rails 7.1
and Puma; KafkaJS 2 and pino; ASP.NET Core 8's console logger; Go's slog (JSON and text)
and grpc-go; the Secrets Store CSI AWS provider; pymemcache and structlog; Karpenter 1.0;
node-problem-detector's kernel monitor and containerd.

Each question names its evidence (object + verbatim phrase) and the facts a right
answer must state; every fact is written verbatim in that evidence.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from kubetrainer.samples.blind import _fit_error
from kubetrainer.samples.cluster import add_pods
from kubetrainer.samples.model import NOW, Evidence, SampleCluster, SamplePod
from kubetrainer.samples.nodes import gpu_node, sample_nodes
from kubetrainer.samples.noise import iso
from kubetrainer.samples.quarry import (
    _app,
    _batch_event,
    _block,
    _every,
    _forget,
    _hex,
    _klog,
    _pin,
    _pod_ip,
    _rescale,
    _since,
    _soon,
    _terminated,
    _ts,
    ago,
)
from kubetrainer.samples.secrets import FakeSecrets
from kubetrainer.samples.workloads import Workload

_ECR = "418272766213.dkr.ecr.us-east-2.amazonaws.com"
_ACCOUNT = "418272766213"
GENERAL_NODES = ("ip-10-62-11-204.us-east-2.compute.internal", "ip-10-62-27-18.us-east-2.compute.internal",
                 "ip-10-62-38-150.us-east-2.compute.internal")
RO_NODE = "ip-10-62-22-91.us-east-2.compute.internal"  # its root filesystem went read-only at 11:19
GPU_NODES = ("ip-10-62-40-12.us-east-2.compute.internal", "ip-10-62-41-77.us-east-2.compute.internal")
_ZONES = ("us-east-2a", "us-east-2b", "us-east-2c")
_NODEPOOL = "karpenter.sh/nodepool"
_GPU_POOL = "gpu-inference"


def _ecr(path: str) -> str:
    return f"{_ECR}/{path}"


# Healthy first (the generator places each of these); the incidents then break some.
WORKLOADS: tuple[Workload, ...] = (
    _app("kube-system", "aws-load-balancer-controller", "Deployment",
         "public.ecr.aws/eks/aws-load-balancer-controller:v2.7.2", "controller", container="aws-load-balancer-controller",
         replicas=2, port=9443, weight=0.2),
    _app("kube-system", "karpenter", "Deployment", "public.ecr.aws/karpenter/controller:1.0.6", "controller",
         container="controller", replicas=2, port=8000, weight=0.2),
    _app("kube-system", "csi-secrets-store-provider-aws", "DaemonSet",
         "public.ecr.aws/aws-secrets-manager/secrets-store-csi-driver-provider-aws:1.0.r2-72-gfb78a36-2024.05.29.23.03",
         "controller", container="provider-aws-installer", weight=0.05),
    _app("merchant-portal", "merchant-portal-web", "Deployment", _ecr("cobalt/merchant-portal-web:5.18.2"),
         "nginx", replicas=2, port=3000, weight=2.0),
    _app("merchant-portal", "merchant-portal-bff", "Deployment", _ecr("cobalt/merchant-portal-bff:5.18.2"),
         "json-api", replicas=2, port=8080, weight=2.0),
    _app("argocd", "argo-cd-application-controller", "StatefulSet", "quay.io/argoproj/argocd:v2.11.7", "controller",
         container="argo-cd-application-controller", weight=0.2),
    _app("argocd", "argo-cd-repo-server", "Deployment", "quay.io/argoproj/argocd:v2.11.7", "controller",
         container="argo-cd-repo-server", replicas=2, port=8081, weight=0.4),
    _app("edge-ingress", "edge-ingress-nginx-controller", "Deployment", "registry.k8s.io/ingress-nginx/controller:v1.10.1",
         "nginx", container="controller", replicas=2, port=443, weight=5.0),
    _app("checkout-edge", "checkout-web", "Deployment", _ecr("cobalt/checkout-web:12.4.0"), "json-api",
         replicas=3, port=8080, weight=4.0),
    _app("merchant-onboarding", "onboarding-web", "Deployment", _ecr("cobalt/onboarding-web:3.8.4"), "json-api",
         container="rails", replicas=2, port=3000, weight=0.2),
    _app("settlement", "settlement-ledger-writer", "Deployment", _ecr("cobalt/settlement-ledger-writer:2.6.1"),
         "json-api", container="writer", replicas=4, weight=0.2),
    _app("refunds", "refund-api", "Deployment", _ecr("cobalt/refund-api:1.9.3"), "json-api", replicas=3, port=80,
         weight=0.2),
    _app("ledger-core", "ledger-grpc", "Deployment", _ecr("cobalt/ledger-grpc:4.2.0"), "json-api", container="ledger",
         replicas=3, port=50051, weight=0.2),
    _app("ledger-core", "statement-export", "Deployment", _ecr("cobalt/statement-export:1.7.5"), "json-api",
         container="exporter", replicas=2, weight=0.2),
    _app("disbursements", "payout-dispatcher", "Deployment", _ecr("cobalt/payout-dispatcher:3.1.0"), "worker",
         container="dispatcher", replicas=2, weight=0.2),
    _app("catalog-browse", "plp-api", "Deployment", _ecr("cobalt/plp-api:7.4.0"), "json-api", replicas=3,
         port=8000, weight=0.2),
    _app("catalog-browse", "listing-memcached", "StatefulSet", "docker.io/bitnami/memcached:1.6.26", "worker",
         container="memcached", replicas=3, port=11211, weight=0.05),
    _app("risk-scoring", "fraud-model-server", "Deployment", _ecr("cobalt/fraud-model-server:2026.03.1"), "json-api",
         container="server", replicas=2, gpu_vendor="nvidia", gpus=1, port=8000, weight=0.2),
    _app("wallet", "wallet-api", "Deployment", _ecr("cobalt/wallet-api:6.2.0"), "json-api", replicas=3, port=8080,
         weight=2.0),
    _app("fx-rates", "fx-rate-sync", "Deployment", _ecr("cobalt/fx-rate-sync:1.3.2"), "json-api", container="sync",
         weight=0.2),
)

# Placed by its incident, not by the generator.
_MIGRATE = _app("merchant-onboarding", "onboarding-web-db-migrate", "Job", _ecr("cobalt/onboarding-web:3.9.0"),
                "worker", container="migrate")
PLACED: tuple[Workload, ...] = (_MIGRATE,)
_OWN_NAMESPACES = {w.namespace for w in WORKLOADS + PLACED} - {"kube-system"}


def _npd_conditions(node: dict, readonly: tuple[str, str] | None = None) -> None:
    """node-problem-detector's kernel-monitor conditions (before the kubelet's), healthy unless `readonly`."""
    def condition(kind: str, status: str, reason: str, message: str, since: str) -> dict:
        return {"type": kind, "status": status, "reason": reason, "message": message,
                "lastHeartbeatTime": _ts(ago(0.4)), "lastTransitionTime": since}

    created = node["metadata"]["creationTimestamp"]
    added = [condition("KernelDeadlock", "False", "KernelHasNoDeadlock", "kernel has no deadlock", created)]
    if readonly:
        added.append(condition("ReadonlyFilesystem", "True", "FilesystemIsReadOnly", *readonly))
    else:
        added.append(condition("ReadonlyFilesystem", "False", "FilesystemIsNotReadOnly", "Filesystem is not read-only",
                               created))
    node["status"]["conditions"] = added + node["status"]["conditions"]


_KERNEL_RO = "EXT4-fs (nvme0n1p1): Remounting filesystem read-only"
_RO_AT = 40.9  # minutes ago the root filesystem of RO_NODE was remounted read-only (11:19:06)


def scenario_nodes() -> list[dict]:
    """The sample nodes plus the platform's own: three general m6i nodes in us-east-2, a fourth (the one whose disk
    fails) and two g5.2xlarge GPU nodes of the Karpenter `gpu-inference` NodePool, all in us-east-2a."""
    nodes = sample_nodes()
    own = []
    for index, name in enumerate((*GENERAL_NODES, RO_NODE)):
        node = gpu_node(name, None, None, 0, cpu="16", memory="65021812Ki", instance_type="m6i.4xlarge",
                        zone=_ZONES[index % 3])
        node["metadata"]["labels"] |= {"eks.amazonaws.com/nodegroup": "general-m6i",
                                       "eks.amazonaws.com/capacityType": "ON_DEMAND"}
        node["status"]["nodeInfo"] |= {"kubeletVersion": "v1.30.4-eks-a737599", "kubeProxyVersion": "v1.30.4-eks-a737599"}
        own.append(node)
    for name in GPU_NODES:
        node = gpu_node(name, "nvidia", "a10g", 1, labels="karpenter", cpu="8", memory="32327004Ki",
                        instance_type="g5.2xlarge", zone="us-east-2a")
        node["metadata"]["labels"] |= {_NODEPOOL: _GPU_POOL, "karpenter.sh/capacity-type": "on-demand",
                                       "karpenter.sh/registered": "true", "karpenter.sh/initialized": "true"}
        node["status"]["nodeInfo"] |= {"kubeletVersion": "v1.30.4-eks-a737599", "kubeProxyVersion": "v1.30.4-eks-a737599"}
        own.append(node)
    for node in own:
        readonly = node["metadata"]["name"] == RO_NODE
        _npd_conditions(node, (_KERNEL_RO, _ts(ago(_RO_AT))) if readonly else None)
    return nodes + own


# ---------------------------------------------------------------- helpers and line formats


def _event(cluster: SampleCluster, kind: str, api: str, namespace: str | None, name: str, reason: str, message: str,
           at: datetime, **options) -> dict:
    """An event about an object whose apiVersion `SampleCluster.event` does not know (Ingress, Certificate...)."""
    event = cluster.event((kind, namespace, name), reason, message, at, **options)
    event["involvedObject"]["apiVersion"] = api
    return event


def _new_pod(cluster: SampleCluster, workload: Workload, owner: tuple[str, str], node: str | None, minutes: float,
             image: str | None = None) -> SamplePod:
    """A pod of `owner` created `minutes` ago on `node` (None: Pending), with the start-up events a new pod has."""
    (pod,) = add_pods(cluster, workload, 1, node=node or GENERAL_NODES[0], image=image)
    _forget(cluster, pod)
    pod.owner, pod.name = owner, f"{owner[1]}-{cluster.suffix()}"
    if node is None:
        cluster.unschedule(pod)
        pod.start = ago(minutes)
    else:
        _pin(cluster, pod, node, minutes)
    return pod


def _replica_set(cluster: SampleCluster, name: str) -> str:
    return f"{name}-{cluster.suffix(10)}"


def _created(cluster: SampleCluster, pod: SamplePod, at: datetime) -> None:
    cluster.event(("ReplicaSet", pod.namespace, pod.owner[1]), "SuccessfulCreate", f"Created pod: {pod.name}", at,
                  component="replicaset-controller")


def _scaled(cluster: SampleCluster, namespace: str, deployment: str, message: str, at: datetime) -> None:
    cluster.event(("Deployment", namespace, deployment), "ScalingReplicaSet", message, at,
                  component="deployment-controller")


def _compact(entry: dict) -> str:
    return json.dumps(entry, separators=(",", ":"))


def _zapiso(moment: datetime, level: str, message: str, **fields) -> tuple[datetime, str]:
    """controller-runtime's zap JSON with an ISO-8601 second-precision ts (the AWS Load Balancer Controller)."""
    return moment, _compact({"level": level, "ts": _ts(moment), "msg": message, **fields})


def _logrus(moment: datetime, level: str, message: str, **fields) -> tuple[datetime, str]:
    """logrus's text formatter, as Argo CD logs: time="..." level=info msg="..." key=value."""
    def value(text: object) -> str:
        text = str(text)
        return json.dumps(text) if not text or any(c in text for c in ' ="\'') else text

    tail = "".join(f" {key}={value(item)}" for key, item in fields.items())
    return moment, f'time="{_ts(moment)}" level={level} msg={json.dumps(message)}{tail}'


def _karpenter(moment: datetime, level: str, message: str, **fields) -> tuple[datetime, str]:
    return moment, _compact({"level": level, "time": iso(moment), "logger": "controller", "message": message,
                             "commit": "6174c75", **fields})


def _kafkajs(moment: datetime, level: str, message: str, **fields) -> tuple[datetime, str]:
    return moment, _compact({"level": level, "timestamp": iso(moment), "logger": "kafkajs", "message": message,
                             **fields})


def _pino(pod: SamplePod, moment: datetime, level: int, message: str, **fields) -> tuple[datetime, str]:
    """pino's default JSON: numeric level, epoch-millisecond time, pid and hostname, msg last."""
    return moment, _compact({"level": level, "time": int(moment.timestamp() * 1000), "pid": 1, "hostname": pod.name,
                             **fields, "msg": message})


def _slog(moment: datetime, level: str, message: str, **fields) -> tuple[datetime, str]:
    """Go's log/slog JSON handler (RFC 3339 time with nanoseconds)."""
    stamp = f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond:06d}{moment.microsecond % 7 * 111:03d}Z"
    return moment, _compact({"time": stamp, "level": level, "msg": message, **fields})


def _slogtext(moment: datetime, level: str, message: str, **fields) -> tuple[datetime, str]:
    """Go's log/slog text handler: time=... level=INFO msg="..." key=value."""
    def value(text: object) -> str:
        text = str(text)
        return json.dumps(text) if not text or any(c in text for c in ' ="') else text

    tail = "".join(f" {key}={value(item)}" for key, item in fields.items())
    return moment, f"time={iso(moment)} level={level} msg={value(message)}{tail}"


def _dotnet(moment: datetime, level: str, category: str, event_id: int, message: str) -> list[tuple[datetime, str]]:
    """ASP.NET Core's default console formatter: no timestamp, the message indented on the next line."""
    return [(moment, f"{level}: {category}[{event_id}]"), (moment, f"      {message}")]


def _rails(moment: datetime, level: str, message: str, request: str | None = None) -> tuple[datetime, str]:
    """Ruby's Logger format as Rails writes it to stdout, with the request id tag."""
    tag = f"[{request}] " if request else ""
    return moment, (f"{level[0]}, [{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond:06d} #1] {level:>5} -- : "
                    f"{tag}{message}")


def _structlog(moment: datetime, level: str, event: str, logger: str, **fields) -> tuple[datetime, str]:
    """structlog's JSONRenderer (json.dumps defaults, event first)."""
    return moment, json.dumps({"event": event, **fields, "level": level, "logger": logger,
                               "timestamp": f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond:06d}Z"})


def _pylog(moment: datetime, level: str, logger: str, message: str) -> tuple[datetime, str]:
    return moment, f"{moment:%Y-%m-%d %H:%M:%S},{moment.microsecond // 1000:03d} {level} [{logger}] {message}"


def _placement(cluster: SampleCluster) -> None:
    """Where things ran before the incidents: the platform's pods on its own general nodes, the GPU nodes kept for
    fraud-model-server, and on the node whose disk fails only its DaemonSets, fx-rate-sync and a checkout-web pod."""
    mine = [p for p in cluster.pods if p.namespace in _OWN_NAMESPACES]
    for index, pod in enumerate(mine):
        if pod.node not in GENERAL_NODES:
            _pin(cluster, pod, GENERAL_NODES[index % 3])
    for pod in cluster.pods:
        if pod.workload.kind == "DaemonSet" or pod.namespace in _OWN_NAMESPACES:
            continue
        if pod.node in GPU_NODES:
            _pin(cluster, pod, "gpu-h100-0")
        elif pod.node in (*GENERAL_NODES, RO_NODE):
            _pin(cluster, pod, ("cpu-0", "cpu-1")[len(pod.name) % 2])
    (sync,) = cluster.pods_of("fx-rates", "fx-rate-sync")
    _pin(cluster, sync, RO_NODE)
    _pin(cluster, cluster.pods_of("checkout-edge", "checkout-web")[2], RO_NODE)
    for pod, node in zip(cluster.pods_of("risk-scoring", "fraud-model-server"), GPU_NODES):
        _pin(cluster, pod, node)


# ---------------------------------------------------------------- 1. ALB: no public subnet carries the elb role tag


_LB = "aws-load-balancer-controller"
_SUBNET_ERROR = ("couldn't auto-discover subnets: unable to resolve at least one subnet (0 match VPC and tags: "
                 "[kubernetes.io/role/elb])")
_INGRESS_API = "networking.k8s.io/v1"


def _alb_model(name: str, subnets: list[str], suffix: str) -> str:
    """The stack the controller logs after building it (abridged the way it prints: a JSON string)."""
    model = {"id": f"merchant-portal/{name}", "resources": {
        "AWS::ElasticLoadBalancingV2::LoadBalancer": {"LoadBalancer": {"spec": {
            "name": f"k8s-merchant-merchant-{suffix}", "type": "application",
            "scheme": "internal", "ipAddressType": "ipv4",
            "subnetMapping": [{"subnetID": subnet} for subnet in subnets],
            "securityGroups": [{"$ref": "#/resources/AWS::EC2::SecurityGroup/ManagedLBSecurityGroup/status/groupID"}]}}},
        "AWS::ElasticLoadBalancingV2::Listener": {"443": {"spec": {"protocol": "HTTPS", "port": 443}}}}}
    return json.dumps(model, separators=(",", ":"), sort_keys=True)


def alb_subnets(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """Argo CD created two Ingresses for the merchant portal at 11:12: merchant-portal-ops (scheme internal) and
    merchant-portal-public (internet-facing). The controller built and deployed the internal ALB in the private subnets
    (tagged kubernetes.io/role/internal-elb); for the public one it finds no subnet tagged kubernetes.io/role/elb (the
    public subnets were re-created by the network team's Terraform without it), so it has never been provisioned."""
    created = 48.0
    leader, standby = cluster.pods_of("kube-system", _LB)
    for pod in (leader, standby):
        pod.containers[0].noise = False
    lines = leader.containers[0].lines
    start = _since(leader)
    lines.append(_zapiso(start + timedelta(seconds=3), "info", "successfully acquired lease",
                         logger="setup", lease="kube-system/aws-load-balancer-controller-leader"))
    standby.containers[0].lines.append(_zapiso(_since(standby) + timedelta(seconds=2), "info",
                                               "attempting to acquire leader lease "
                                               "kube-system/aws-load-balancer-controller-leader..."))
    for moment in _every(cluster, start + timedelta(minutes=2), NOW, 500, 900):
        group = cluster.rng.choice(("checkout-edge/checkout-edge-nlb", "wallet/wallet-api-internal"))
        lines.append(_zapiso(moment, "info", "successfully deployed model", logger="controllers.service"
                             if "nlb" in group else "controllers.ingress", **{"service" if "nlb" in group
                                                                             else "ingressGroup": group}))
    private = [f"subnet-0{_hex(cluster, 16)}" for _ in range(3)]
    built = _soon(cluster, ago(created - 0.3), 0)
    lines += [
        _zapiso(built, "info", "successfully built model", logger="controllers.ingress",
                model=_alb_model("merchant-portal-ops", private, _hex(cluster, 10))),
        _zapiso(built + timedelta(seconds=1), "info", "creating securityGroup", logger="controllers.ingress",
                resourceID="ManagedLBSecurityGroup"),
        _zapiso(built + timedelta(seconds=2), "info", "creating loadBalancer", logger="controllers.ingress",
                stackID="merchant-portal/merchant-portal-ops", resourceID="LoadBalancer"),
        _zapiso(built + timedelta(seconds=4), "info", "created loadBalancer", logger="controllers.ingress",
                stackID="merchant-portal/merchant-portal-ops", resourceID="LoadBalancer",
                arn=f"arn:aws:elasticloadbalancing:us-east-2:{_ACCOUNT}:loadbalancer/app/k8s-merchant-merchant-"
                    f"{_hex(cluster, 10)}/{_hex(cluster, 16)}"),
        _zapiso(built + timedelta(seconds=9), "info", "successfully deployed model", logger="controllers.ingress",
                ingressGroup="merchant-portal/merchant-portal-ops"),
    ]
    ops, public = "merchant-portal-ops", "merchant-portal-public"
    _event(cluster, "Ingress", _INGRESS_API, "merchant-portal", ops, "SuccessfullyReconciled", "Successfully reconciled",
           built + timedelta(seconds=9), component="ingress")
    failures, delay, moment = [], 5.0, _soon(cluster, ago(created - 0.2), 0)
    while moment < NOW:
        failures.append(moment)
        moment += timedelta(seconds=delay + cluster.rng.uniform(0, 1))
        delay = min(delay * 2, 1000.0)
    for moment in failures:
        lines.append(_zapiso(moment, "error", "Reconciler error", controller="ingress",
                             object={"name": public, "namespace": "merchant-portal"}, namespace="merchant-portal",
                             name=public, reconcileID=cluster.uid(), error=_SUBNET_ERROR))
    _event(cluster, "Ingress", _INGRESS_API, "merchant-portal", public, "FailedBuildModel",
           f"Failed build model due to {_SUBNET_ERROR}", failures[-1], warning=True, count=len(failures),
           first=failures[0], component="ingress")
    for pod in cluster.pods_of("merchant-portal", "merchant-portal-bff"):
        pod.containers[0].env = [{"name": "PORTAL_SERVICE_TOKEN", "value": secrets.jwt},
                                 {"name": "LEDGER_URL", "value": "ledger-grpc.ledger-core.svc.cluster.local:50051"}]
    cluster.ask(
        "cb-albtags-1", "We created the public Ingress for the merchant portal at 11:12 and 45 minutes later it still has "
                     "no ADDRESS, so external-dns never created merchants.cobaltcart.example. What is going on?",
        "The AWS Load Balancer Controller cannot build the ALB: every reconcile of merchant-portal/merchant-portal-"
        f"public fails with FailedBuildModel '{_SUBNET_ERROR}'. An internet-facing ALB needs public subnets tagged "
        "kubernetes.io/role/elb (=1) and the controller finds none in the VPC, so no load balancer is created and the "
        "Ingress never gets an address. Tag the public subnets (or list them in the alb.ingress.kubernetes.io/subnets "
        "annotation).",
        "alb-public-subnet-tags",
        Evidence("merchant-portal", public, "unable to resolve at least one subnet (0 match VPC and tags"),
        Evidence("kube-system", leader.name, '"name":"merchant-portal-public","reconcileID"'),
        facts=("kubernetes.io/role/elb", "auto-discover subnets|FailedBuildModel|0 match VPC"),
    )
    cluster.ask(
        "cb-albtags-2", "The internal ops Ingress for the merchant portal came up fine at the same time, through the same "
                     "controller. So is the load balancer controller itself broken?",
        "No. The controller is healthy: it built and deployed merchant-portal-ops at 11:12 (scheme internal, in the "
        "private subnets, event 'Successfully reconciled'). Only the internet-facing Ingress fails, because subnet "
        "discovery for a public ALB looks for the kubernetes.io/role/elb tag and no subnet has it; the internal one uses "
        "subnets tagged kubernetes.io/role/internal-elb, which are in place.",
        "alb-public-subnet-tags",
        Evidence("merchant-portal", ops, "Successfully reconciled"),
        Evidence("merchant-portal", public, "Failed build model due to couldn't auto-discover subnets"),
        facts=("Successfully reconciled", "kubernetes.io/role/elb"),
    )


# ---------------------------------------------------------------- 2. Argo CD prunes the cert-manager Secret


_HOST = "checkout.cobaltcart.example"
_CERT = "checkout-cobaltcart-example"
_TLS = "checkout-cobaltcart-example-tls"
_CERT_API = "cert-manager.io/v1"
_APP_API = "argoproj.io/v1alpha1"


def _argo_app_event(cluster: SampleCluster, app: str, reason: str, message: str, at: datetime, **options) -> None:
    _event(cluster, "Application", _APP_API, "argocd", app, reason, message, at, component="argo-cd-application-controller",
           **options)


def _argo_routine(cluster: SampleCluster, pod: SamplePod) -> None:
    """The application controller's steady state: every app reconciled every few minutes."""
    apps = ("checkout-edge", "merchant-portal", "merchant-onboarding", "settlement", "refunds", "ledger-core", "disbursements",
            "catalog-browse", "risk-scoring", "wallet", "fx-rates")
    lines = pod.containers[0].lines
    for moment in _every(cluster, _since(pod) + timedelta(seconds=30), NOW, 20, 70):
        app = cluster.rng.choice(apps)
        lines.append(_logrus(moment, "info", f"Comparing app state (cluster: https://kubernetes.default.svc, "
                                             f"namespace: {app})", application=f"argocd/{app}"))
        lines.append(_logrus(moment + timedelta(milliseconds=cluster.rng.randint(30, 300)), "info",
                             "Reconciliation completed", application=f"argocd/{app}", dedup_ms=0, **{
                                 "dest-name": "", "dest-namespace": app,
                                 "dest-server": "https://kubernetes.default.svc"},
                             diff_ms=cluster.rng.randint(3, 40), **{"fields.level": cluster.rng.choice((0, 1, 2))},
                             git_ms=cluster.rng.randint(10, 400), health_ms=cluster.rng.randint(0, 6),
                             time_ms=cluster.rng.randint(40, 700)))


def _ingress_nginx_warnings(cluster: SampleCluster, pod: SamplePod, lost: datetime) -> None:
    """ingress-nginx since the TLS Secret went away: on every sync it falls back to its default (fake) certificate."""
    ctrl = pod.containers[0]
    start = _since(pod)
    ctrl.lines += [
        _seven(start, "I", "main.go:205", '"Creating API client" host="https://172.20.0.1:443"'),
        _seven(start + timedelta(milliseconds=20), "I", "main.go:249",
              '"Running in Kubernetes cluster" major="1" minor="30+" git="v1.30.4-eks-a737599" state="clean" '
              'commit="a737599b5a3db6d3b7d9cf53e9e8d2b6e4f3a1c2" platform="linux/amd64"'),
        _seven(start + timedelta(milliseconds=180), "I", "main.go:101",
               '"SSL fake certificate created" file="/etc/ingress-controller/ssl/default-fake-certificate.pem"'),
        _seven(start + timedelta(seconds=1), "I", "nginx.go:264", '"Starting NGINX Ingress controller"'),
    ]
    key = f"checkout-edge/{_TLS}"
    for moment in _every(cluster, lost + timedelta(seconds=2), NOW, 40, 160):
        ctrl.lines += [
            _seven(moment, "W", "backend_ssl.go:47",
                   f'Error obtaining X.509 certificate: no object matching key "{key}" in local store'),
            _seven(moment + timedelta(milliseconds=2), "W", "controller.go:1372",
                   f'Error getting SSL certificate "{key}": local SSL certificate {key} was not found. '
                   "Using default certificate"),
        ]


def _seven(moment: datetime, level: str, source: str, message: str) -> tuple[datetime, str]:
    """klog as the ingress-nginx controller prints it (it runs as pid 7 under dumb-init)."""
    return moment, f"{level}{moment:%m%d %H:%M:%S}.{moment.microsecond:06d}       7 {source}] {message}"


def cert_pruned(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """At 11:02 a commit added secretTemplate labels (app.kubernetes.io/instance: checkout-edge) to the checkout
    Certificate. cert-manager copies them onto the TLS Secret, so Argo CD now sees the Secret as part of the app but
    not in git, and its automated sync (prune, selfHeal) deletes it. cert-manager re-issues; five certificates later
    Let's Encrypt refuses the sixth (duplicate certificate limit), and since 11:20 the ingress controller serves its
    default fake certificate for checkout.cobaltcart.example."""
    (argo,) = cluster.pods_of("argocd", "argo-cd-application-controller")
    argo.containers[0].noise = False
    _argo_routine(cluster, argo)
    lines = argo.containers[0].lines
    revision = _hex(cluster, 40)
    prunes = [_soon(cluster, ago(minutes), 0) for minutes in (57.6, 54.1, 50.3, 46.8, 43.0, 39.4)]
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    sync_ids = [f"{61 + i:05d}-{''.join(cluster.rng.choice(letters) for _ in range(5))}" for i in range(len(prunes))]
    app = "argocd/checkout-edge"
    first_sync = prunes[0] - timedelta(seconds=19)
    lines += [
        _logrus(first_sync - timedelta(seconds=3), "info", "Updated sync status: Synced -> OutOfSync", application=app,
                dest_namespace="checkout-edge", dest_server="https://kubernetes.default.svc", reason="ResourceUpdated",
                type="Normal"),
        _logrus(first_sync, "info", f"Initiated automated sync to '{revision}'", application=app),
        _logrus(first_sync + timedelta(seconds=1), "info", "Adding resource result, status: 'Synced', phase: "
                "'Running', message: 'certificate.cert-manager.io/checkout-cobaltcart-example configured'",
                application=app, kind="Certificate", name=_CERT, namespace="checkout-edge", phase="Sync",
                syncId=f"00060-{_hex(cluster, 5)}"),
        _logrus(first_sync + timedelta(seconds=2), "info", f"Sync operation to {revision} succeeded", application=app),
    ]
    for moment, sync_id in zip(prunes, sync_ids):
        lines += [
            _logrus(moment - timedelta(seconds=6), "info", "Updated sync status: Synced -> OutOfSync", application=app,
                    dest_namespace="checkout-edge", dest_server="https://kubernetes.default.svc",
                    reason="ResourceUpdated", type="Normal"),
            _logrus(moment - timedelta(seconds=1), "info", f"Initiated automated sync to '{revision}'", application=app),
            _logrus(moment, "info", "Adding resource result, status: 'Pruned', phase: 'Running', message: 'pruned'",
                    application=app, kind="Secret", name=_TLS, namespace="checkout-edge", phase="Sync",
                    syncId=sync_id),
            _logrus(moment + timedelta(milliseconds=900), "info", f"Sync operation to {revision} succeeded",
                    application=app),
        ]
    _argo_app_event(cluster, "checkout-edge", "ResourceUpdated", "Updated sync status: Synced -> OutOfSync",
                    prunes[-1] - timedelta(seconds=6), count=len(prunes) + 1, first=first_sync - timedelta(seconds=3))
    _argo_app_event(cluster, "checkout-edge", "OperationStarted", f"Initiated automated sync to '{revision}'",
                    prunes[-1] - timedelta(seconds=1), count=len(prunes) + 1, first=first_sync)
    _argo_app_event(cluster, "checkout-edge", "OperationCompleted", f"Sync operation to {revision} succeeded",
                    prunes[-1] + timedelta(seconds=1), count=len(prunes) + 1, first=first_sync + timedelta(seconds=2))

    def cert_event(reason: str, message: str, at: datetime, **options) -> None:
        _event(cluster, "Certificate", _CERT_API, "checkout-edge", _CERT, reason, message, at, component="cert-manager-"
               "certificates-trigger" if reason == "Issuing" and "does not exist" in message else "cert-manager-"
               "certificates-issuing" if reason == "Issuing" else "cert-manager-certificates-request-manager"
               if reason == "Requested" else "cert-manager-certificates-key-manager" if reason == "Generated"
               else "cert-manager-certificates-issuing", **options)

    issued = []
    for index, moment in enumerate(prunes):
        key_secret = f"{_CERT}-{cluster.suffix()}"
        request = f"{_CERT}-{cluster.suffix()}"
        cert_event("Generated", f'Stored new private key in temporary Secret resource "{key_secret}"',
                   moment + timedelta(seconds=2))
        cert_event("Requested", f'Created new CertificateRequest resource "{request}"', moment + timedelta(seconds=3))
        if index < 5:
            issued.append(moment + timedelta(seconds=cluster.rng.uniform(38, 52)))
    cert_event("Issuing", "Issuing certificate as Secret does not exist", prunes[-1] + timedelta(seconds=1),
               count=len(prunes), first=prunes[0] + timedelta(seconds=1))
    cert_event("Issuing", "The certificate has been successfully issued", issued[-1], count=len(issued),
               first=issued[0])
    retry = (issued[0] + timedelta(days=7)).strftime("%Y-%m-%d %H:%M:%S UTC")
    order = f"{_CERT}-{cluster.suffix()}-{cluster.rng.randint(1_000_000_000, 4_294_967_295)}"
    limited = (f"429 urn:ietf:params:acme:error:rateLimited: Error creating new order :: too many certificates (5) "
               f"already issued for this exact set of identifiers in the last 168h0m0s, retry after {retry}: see "
               "https://letsencrypt.org/docs/rate-limits/#new-certificates-per-exact-set-of-hostnames")
    failed_at = prunes[-1] + timedelta(seconds=7)
    cert_event("Failed", "The certificate request has failed to complete and will be retried: Failed to wait for "
                         f'order resource "{order}" to become ready: order is in "errored" state: Failed to create '
                         f"Order: {limited}", failed_at, warning=True)
    _event(cluster, "Order", "acme.cert-manager.io/v1", "checkout-edge", order, "Failed",
           f"Failed to create Order: {limited}", failed_at - timedelta(seconds=1), warning=True,
           component="cert-manager-orders")
    edge = cluster.pods_of("edge-ingress", "edge-ingress-nginx-controller")
    for pod in edge:
        _pin(cluster, pod, pod.node, 297.0 + cluster.rng.uniform(0, 3))
        _ingress_nginx_warnings(cluster, pod, prunes[-1])
    cluster.ask(
        "cb-acmeprune-1", "Since about 11:20 customers at checkout get a browser certificate warning "
                       "(NET::ERR_CERT_AUTHORITY_INVALID) on checkout.cobaltcart.example. What happened?",
        f"The edge ingress controller no longer has the TLS Secret checkout-edge/{_TLS}: it logs 'local SSL "
        "certificate ... was not found. Using default certificate', so browsers get the controller's self-signed "
        "default (fake) certificate. The Secret was deleted and cert-manager cannot get a replacement: Let's Encrypt "
        "refuses the new order with 429 rateLimited, 'too many certificates (5) already issued for this exact set of "
        "identifiers in the last 168h0m0s'.",
        "argocd-prunes-cert-secret",
        Evidence("edge-ingress", edge[0].name, f"local SSL certificate checkout-edge/{_TLS} was not found"),
        Evidence("checkout-edge", _CERT, "The certificate request has failed to complete and will be retried"),
        facts=("default certificate|fake certificate", "rateLimited|too many certificates"),
    )
    cluster.ask(
        "cb-acmeprune-2", "Why was cert-manager requesting new certificates for checkout over and over this morning? The "
                       "existing one was valid until May.",
        "Because the Secret kept disappearing: Argo CD's automated sync of the checkout-edge app pruned it six times "
        f"between 11:02 and 11:20 ('Adding resource result, status: 'Pruned'' for Secret {_TLS}). Since the 11:02 "
        "commit the Certificate's secretTemplate puts the app's instance label on the Secret, so Argo CD treats it as "
        "part of the app and, not finding it in git, deletes it. Each time cert-manager logged 'Issuing certificate as "
        "Secret does not exist' and ordered another certificate, until Let's Encrypt's limit of 5 per week was hit. "
        "Remove the label (or mark the Secret Prune=false) before cert-manager retries.",
        "argocd-prunes-cert-secret",
        Evidence("argocd", argo.name, f"kind=Secret name={_TLS} namespace=checkout-edge phase=Sync"),
        Evidence("checkout-edge", _CERT, "Issuing certificate as Secret does not exist"),
        facts=("Pruned|prune", "Secret does not exist"),
    )


# ---------------------------------------------------------------- 3. Argo CD PreSync hook: a Rails migration fails


_MIGRATION = "20260312153000"
_MIGRATION_NAME = "AddSettlementCurrencyToMerchants"
_NULLS = 'PG::NotNullViolation: ERROR:  column "settlement_currency" of relation "merchants" contains null values'


def _migration_log(start: datetime) -> list[tuple[datetime, str]]:
    """`bin/rails db:migrate` on Rails 7.1 / Ruby 3.3 against PostgreSQL: the migration's transaction is rolled back."""
    path = f"/app/db/migrate/{_MIGRATION}_add_settlement_currency_to_merchants.rb:3:in `change'"
    banner = f"== {_MIGRATION} {_MIGRATION_NAME}: migrating "
    failed = start + timedelta(seconds=9, milliseconds=412)
    return [
        _rails(start + timedelta(seconds=8, milliseconds=903), "INFO",
               f"Migrating to {_MIGRATION_NAME} ({_MIGRATION})"),
        (failed - timedelta(milliseconds=300), banner + "=" * max(79 - len(banner), 3)),
        (failed - timedelta(milliseconds=299), "-- add_column(:merchants, :settlement_currency, :string, {:null=>false})"),
        *_block(failed, [
            "bin/rails aborted!",
            "StandardError: An error has occurred, this and all later migrations canceled: (StandardError)",
            "",
            _NULLS,
            path,
            "",
            "Caused by:",
            f"ActiveRecord::NotNullViolation: {_NULLS}",
            path,
            "",
            "Caused by:",
            _NULLS,
            path,
            "Tasks: TOP => db:migrate",
            "(See full trace by running task with --trace)",
        ]),
    ]


def _puma(cluster: SampleCluster, pod: SamplePod) -> None:
    """onboarding-web 3.8.4 keeps serving: Puma's boot banner and Rails request logs."""
    rails = pod.containers[0]
    rails.noise = False
    start = _since(pod)
    rails.lines += [(start, "=> Booting Puma"), (start, "=> Rails 7.1.3.2 application starting in production "),
                    (start, "=> Run `bin/rails server --help` for more startup options"),
                    (start + timedelta(seconds=2), "Puma starting in cluster mode..."),
                    (start + timedelta(seconds=2), "* Puma version: 6.4.2 (ruby 3.3.0-p0) (\"The Eagle of Durango\")"),
                    (start + timedelta(seconds=2), "* Listening on http://0.0.0.0:3000")]
    for moment in _every(cluster, start + timedelta(seconds=20), NOW, 6, 45):
        request = f"{_hex(cluster, 8)}-{_hex(cluster, 4)}-{_hex(cluster, 4)}-{_hex(cluster, 4)}-{_hex(cluster, 12)}"
        path = cluster.rng.choice(("/onboarding/status", "/merchants/applications", "/kyc/documents", "/up"))
        took = cluster.rng.randint(8, 240)
        rails.lines += [
            _rails(moment, "INFO", f'Started GET "{path}" for 10.62.{cluster.rng.randint(0, 63)}.'
                                   f'{cluster.rng.randint(2, 250)} at {moment:%Y-%m-%d %H:%M:%S} +0000', request),
            _rails(moment + timedelta(milliseconds=took), "INFO",
                   f"Completed 200 OK in {took}ms (Views: {took * 0.3:.1f}ms | ActiveRecord: {took * 0.4:.1f}ms | "
                   f"Allocations: {cluster.rng.randint(2000, 40000)})", request),
        ]
        if cluster.rng.random() < 0.02:
            rails.lines.append(_rails(moment, "WARN", "Rack::Attack throttled request from 10.62.12.41 "
                                                      "(onboarding/ip)", request))


def rails_migration(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """onboarding-web 3.9.0 was merged at 11:05. Its chart's pre-upgrade hook (a PreSync hook in Argo CD) runs
    `bin/rails db:migrate`; the new migration adds a NOT NULL column to merchants, which already has rows, so PostgreSQL
    refuses it. The Job fails twice, Argo CD marks the sync failed, and 3.8.4 keeps running."""
    synced = 50.0
    revision = _hex(cluster, 40)
    (argo,) = cluster.pods_of("argocd", "argo-cd-application-controller")
    database = [{"name": "DATABASE_HOST", "value": "onboarding-db.cluster-c8x2k1q7w3ab.us-east-2.rds.amazonaws.com"},
                {"name": "DATABASE_PASSWORD", "value": secrets.env_password},
                {"name": "RAILS_ENV", "value": "production"}, {"name": "RAILS_LOG_TO_STDOUT", "value": "1"}]
    for pod in cluster.pods_of("merchant-onboarding", "onboarding-web"):
        pod.containers[0].env = database + [{"name": "SLACK_WEBHOOK_URL", "value": secrets.slack_webhook}]
        _puma(cluster, pod)
    job = _MIGRATE.name
    attempts = add_pods(cluster, _MIGRATE, 2, node=GENERAL_NODES[1])
    start = _soon(cluster, ago(synced), 4)
    for pod in attempts:
        _forget(cluster, pod)
        pod.owner, pod.name = ("Job", job), f"{job}-{cluster.suffix()}"
        _pin(cluster, pod, pod.node, (NOW - start).total_seconds() / 60)
        pod.containers[0].env = database
        pod.containers[0].lines += _migration_log(start)
        end = start + timedelta(seconds=10)
        _terminated(cluster, pod, 1, "Error", start + timedelta(seconds=1), end)
        _batch_event(cluster, "Job", pod.namespace, job, "SuccessfulCreate", f"Created pod: {pod.name}", start)
        start = end + timedelta(seconds=10, milliseconds=cluster.rng.randint(0, 999))
    _batch_event(cluster, "Job", "merchant-onboarding", job, "BackoffLimitExceeded",
                 "Job has reached the specified backoff limit", start - timedelta(seconds=9), warning=True)
    began, ended = _soon(cluster, ago(synced), 0), start - timedelta(seconds=8)
    sync_id = f"00014-{_hex(cluster, 5)}"
    app = "argocd/merchant-onboarding"
    argo.containers[0].lines += [
        _logrus(began - timedelta(seconds=2), "info", "Updated sync status: Synced -> OutOfSync", application=app,
                dest_namespace="merchant-onboarding", dest_server="https://kubernetes.default.svc",
                reason="ResourceUpdated", type="Normal"),
        _logrus(began, "info", f"Initiated automated sync to '{revision}'", application=app),
        _logrus(began + timedelta(seconds=1), "info", "Adding resource result, status: 'Synced', phase: 'Running', "
                "message: 'job.batch/onboarding-web-db-migrate created'", application=app, kind="Job", name=job,
                namespace="merchant-onboarding", phase="PreSync", syncId=sync_id),
        _logrus(ended, "info", "Adding resource result, status: 'SyncFailed', phase: 'Failed', message: 'Job has "
                "reached the specified backoff limit'", application=app, kind="Job", name=job,
                namespace="merchant-onboarding", phase="PreSync", syncId=sync_id),
        _logrus(ended + timedelta(milliseconds=40), "info", "Updating operation state. phase: Running -> Failed, "
                "message: 'waiting for completion of hook batch/Job/onboarding-web-db-migrate' -> 'one or more "
                "synchronization tasks completed unsuccessfully'", application=app, syncId=sync_id),
        _logrus(ended + timedelta(milliseconds=60), "info", f"Sync operation to {revision} failed: one or more "
                "synchronization tasks completed unsuccessfully", application=app, dest_namespace="merchant-onboarding",
                dest_server="https://kubernetes.default.svc", reason="OperationCompleted", type="Warning"),
    ]
    _argo_app_event(cluster, "merchant-onboarding", "OperationStarted", f"Initiated automated sync to '{revision}'",
                    began)
    _argo_app_event(cluster, "merchant-onboarding", "OperationCompleted",
                    f"Sync operation to {revision} failed: one or more synchronization tasks completed unsuccessfully",
                    ended, warning=True)
    failed = attempts[-1]
    cluster.ask(
        "cb-railsmig-1", "onboarding-web 3.9.0 was merged at 11:05 but production is still on 3.8.4, and Argo CD shows the "
                      "last sync of merchant-onboarding as failed. What failed?",
        "The PreSync hook did: the onboarding-web-db-migrate Job (bin/rails db:migrate from the 3.9.0 image) failed "
        "on both attempts and hit 'Job has reached the specified backoff limit', so Argo CD stopped the sync before "
        "updating the Deployment. The migration adds a NOT NULL column settlement_currency to merchants and PostgreSQL "
        f"rejects it: '{_NULLS}'.",
        "presync-migration-not-null",
        Evidence("argocd", argo.name, "status: 'SyncFailed', phase: 'Failed'"),
        Evidence("merchant-onboarding", failed.name, "column \"settlement_currency\" of relation \"merchants\""),
        facts=("settlement_currency", "backoff limit|BackoffLimitExceeded"),
    )
    cluster.ask(
        "cb-railsmig-2", "Did the failed onboarding deploy leave the merchants table half-migrated? Which migration is it?",
        f"No. It is migration {_MIGRATION} {_MIGRATION_NAME}; Rails runs it in a transaction on PostgreSQL and aborted "
        "with 'An error has occurred, this and all later migrations canceled', so the add_column was rolled back and "
        "the schema is unchanged (3.8.4 keeps working). Fix the migration: add the column nullable or with a default, "
        "backfill existing merchants, then add the NOT NULL constraint.",
        "presync-migration-not-null",
        Evidence("merchant-onboarding", failed.name, f"== {_MIGRATION} {_MIGRATION_NAME}: migrating"),
        facts=(f"{_MIGRATION}|{_MIGRATION_NAME}", "canceled|rolled back"),
    )


# ---------------------------------------------------------------- 4. KafkaJS: a poison message and a rebalance storm


_TOPIC = "settlement.captured"
_GROUP = "settlement-ledger-writer"
_POISON_OFFSET = "1882731"
_POISON_PARTITION = 4
_JSON_ERROR = "Unterminated string in JSON at position 4096"


def _member(cluster: SampleCluster) -> str:
    return f"{_GROUP}-{cluster.uid()}"


def _crash_cycle(cluster: SampleCluster, pod: SamplePod, at: datetime, retry: int) -> datetime:
    """The owner of partition 4: eachMessage throws on the truncated message, retries, then the consumer crashes and
    restarts. Returns when it rejoins."""
    lines = pod.containers[0].lines
    stack = (f"SyntaxError: {_JSON_ERROR}\n    at JSON.parse (<anonymous>)\n    at decodeCapture "
             "(/app/dist/codec.js:18:23)\n    at Runner.eachMessage (/app/dist/consumer.js:64:29)\n    at "
             "Runner.processEachMessage (/app/node_modules/kafkajs/src/consumer/runner.js:231:20)")
    moment = at
    for attempt in range(6):
        lines.append(_kafkajs(moment, "ERROR", "[Runner] Error when calling eachMessage", topic=_TOPIC,
                              partition=_POISON_PARTITION, offset=_POISON_OFFSET, stack=stack,
                              error=_JSON_ERROR))
        moment += timedelta(milliseconds=int(300 * 2 ** attempt * cluster.rng.uniform(0.8, 1.2)))
    restart = cluster.rng.randint(9000, 14000)
    lines += [
        _kafkajs(moment, "ERROR", f"[Consumer] Crash: KafkaJSNumberOfRetriesExceeded: {_JSON_ERROR}",
                 groupId=_GROUP, retryCount=5, stack=f"KafkaJSNonRetriableError\n  Caused by: {stack}"),
        _kafkajs(moment + timedelta(milliseconds=3), "INFO", "[Consumer] Stopped", groupId=_GROUP),
        _kafkajs(moment + timedelta(milliseconds=5), "ERROR", f"[Consumer] Restarting the consumer in {restart}ms",
                 retryCount=retry, retryTime=restart, groupId=_GROUP),
        _kafkajs(moment + timedelta(milliseconds=restart), "INFO", "[Consumer] Starting", groupId=_GROUP),
    ]
    return moment + timedelta(milliseconds=restart + cluster.rng.randint(300, 900))


def kafka_poison(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """A capture event truncated at 4096 bytes landed on partition 4 of settlement.captured at 11:02. The KafkaJS
    consumer that owns partition 4 throws on it, retries, crashes and restarts, and every restart rebalances the whole
    group, so all six partitions stall. KEDA sees the lag and scales the writer from 4 to 8 to 12 pods, which only
    makes rebalances slower: the topic has 6 partitions, so half the members get no assignment at all."""
    first = 58.0
    keda = "keda-hpa-settlement-ledger-writer"
    metric = ("external metric s0-kafka-settlement-captured(&LabelSelector{MatchLabels:map[string]string{"
              "scaledobject.keda.sh/name: settlement-ledger-writer,},MatchExpressions:[]LabelSelectorRequirement{},}) "
              "above target")
    old = cluster.pods_of("settlement", "settlement-ledger-writer")
    writers = list(old)
    for size, minutes in ((8, 50.5), (12, 41.2)):
        _rescale(cluster, "settlement", keda, size, metric, ago(minutes))
        _scaled(cluster, "settlement", "settlement-ledger-writer",
                f"Scaled up replica set {old[0].owner[1]} to {size} from {len(writers)}", ago(minutes - 0.01))
        for _ in range(size - len(writers)):
            pod = _new_pod(cluster, old[0].workload, old[0].owner, GENERAL_NODES[len(writers) % 3], minutes - 0.02)
            _created(cluster, pod, ago(minutes - 0.02))
            writers.append(pod)
    members = {pod.name: _member(cluster) for pod in writers}
    for pod in writers:
        writer = pod.containers[0]
        writer.noise = False
        writer.env = [{"name": "KAFKA_BROKERS", "value": "b-1.cobalt-msk.kx3v9a.c4.kafka.us-east-2.amazonaws.com:9096,"
                                                         "b-2.cobalt-msk.kx3v9a.c4.kafka.us-east-2.amazonaws.com:9096"},
                      {"name": "KAFKA_GROUP_ID", "value": _GROUP}, {"name": "KAFKA_TOPIC", "value": _TOPIC},
                      {"name": "NODE_OPTIONS", "value": "--max-old-space-size=768"}]
        start = _soon(cluster, pod.start, 1)
        writer.lines += [
            _pino(pod, start, 30, "settlement-ledger-writer 2.6.1 starting", node="v20.12.2", kafkajs="2.2.4"),
            _pino(pod, start + timedelta(milliseconds=800), 30, f"topic {_TOPIC} has 6 partitions", topic=_TOPIC,
                  partitions=6),
            _kafkajs(start + timedelta(milliseconds=900), "INFO", "[Consumer] Starting", groupId=_GROUP),
        ]
    # Healthy processing until the poison message, then one rebalance per crash of partition 4's owner.
    poison_at = _soon(cluster, ago(first), 0)
    cycles, moment, retry = [], poison_at, 0
    while moment < NOW:
        alive = sorted((p for p in writers if p.start < moment), key=lambda p: members[p.name])
        owner = alive[_POISON_PARTITION % len(alive)]
        rejoined = _crash_cycle(cluster, owner, moment, retry)
        cycles.append((moment, rejoined, alive))
        retry += 1
        moment = rejoined + timedelta(seconds=cluster.rng.uniform(4, 9))
    for start, rejoined, alive in cycles:
        leader = members[alive[0].name]
        for index, pod in enumerate(alive):
            assigned = [p for p in range(6) if p % len(alive) == index]
            lines = pod.containers[0].lines
            if members[pod.name] != members[alive[_POISON_PARTITION % len(alive)].name]:
                lines.append(_kafkajs(start + timedelta(seconds=cluster.rng.uniform(10, 14)), "ERROR",
                                      "[Runner] The group is rebalancing, re-joining", groupId=_GROUP,
                                      memberId=members[pod.name], error="The group is rebalancing, so a rejoin is needed",
                                      retryCount=0, retryTime=cluster.rng.randint(250, 400)))
            lines.append(_kafkajs(rejoined + timedelta(milliseconds=cluster.rng.randint(0, 200)), "INFO",
                                  "[ConsumerGroup] Consumer has joined the group", groupId=_GROUP,
                                  memberId=members[pod.name], leaderId=leader, isLeader=members[pod.name] == leader,
                                  memberAssignment={_TOPIC: assigned} if assigned else {},
                                  groupProtocol="RoundRobinAssigner", duration=cluster.rng.randint(900, 4200)))
    for pod in writers:
        lines = pod.containers[0].lines
        for moment in _every(cluster, max(_since(pod), ago(first + 40)), poison_at, 20, 60):
            lines.append(_pino(pod, moment, 30, "batch committed", topic=_TOPIC,
                               partition=cluster.rng.randint(0, 5), messages=cluster.rng.randint(40, 400),
                               lag=cluster.rng.randint(0, 900)))
        if cluster.rng.random() < 0.5:
            lines.append(_kafkajs(_since(pod) + timedelta(minutes=3), "WARN", "[Connection] Connection timeout",
                                  broker="b-2.cobalt-msk.kx3v9a.c4.kafka.us-east-2.amazonaws.com:9096",
                                  clientId="settlement-ledger-writer"))
    crashing = next(p for p in writers if any(_POISON_OFFSET in line for _, line in p.containers[0].lines))
    idle = next(p for p in writers[4:] if any('"memberAssignment":{}' in line for _, line in p.containers[0].lines))
    cluster.ask(
        "cb-kafkapoison-1", "Settlement lag has been climbing on every partition since about 11:02 even though KEDA scaled "
                         "settlement-ledger-writer out. What is holding it up?",
        f"One bad message: offset {_POISON_OFFSET} on partition {_POISON_PARTITION} of {_TOPIC} is truncated JSON, and "
        f"the handler throws 'SyntaxError: {_JSON_ERROR}'. KafkaJS retries it, then crashes the consumer "
        "(KafkaJSNumberOfRetriesExceeded) and restarts it; every restart makes the whole consumer group rebalance "
        "('The group is rebalancing, re-joining'), so all partitions stall, not just partition 4. Skip or dead-letter "
        "that offset.",
        "kafkajs-poison-rebalance",
        Evidence("settlement", crashing.name, f'"partition":{_POISON_PARTITION},"offset":"{_POISON_OFFSET}"'),
        Evidence("settlement", idle.name, "[Runner] The group is rebalancing, re-joining"),
        facts=(f"{_POISON_OFFSET}", "rebalanc"),
    )
    cluster.ask(
        "cb-kafkapoison-2", "Why did going from 4 to 12 settlement writers not help at all?",
        f"{_TOPIC} has 6 partitions, and a partition is consumed by one member of the group at a time. With 12 "
        "members, six get a partition and the other six join with an empty assignment (\"memberAssignment\":{}) and "
        "sit idle; more members also make each rebalance slower. Scaling past the partition count cannot add "
        "throughput (cap the ScaledObject at 6), and here the real blocker is the crash loop on partition 4.",
        "kafkajs-poison-rebalance",
        Evidence("settlement", idle.name, '"memberAssignment":{}'),
        Evidence("settlement", keda, "New size: 12; reason: external metric s0-kafka-settlement-captured"),
        facts=("6 partitions", "memberAssignment\":{}|empty assignment|no partitions"),
    )


# ---------------------------------------------------------------- 5. .NET 8 images listen on 8080


def _refunds(cluster: SampleCluster, pod: SamplePod, version: str, runtime: str, port: int, started: datetime) -> None:
    app = pod.containers[0]
    app.noise = False
    app.lines += _dotnet(started, "info", "Cobalt.Refunds.Api.Program", 0,
                         f"refund-api {version} starting on {runtime} (linux-x64)")
    app.lines += _dotnet(started + timedelta(milliseconds=640), "info", "Microsoft.Hosting.Lifetime", 14,
                         f"Now listening on: http://[::]:{port}")
    for offset, message in enumerate(("Application started. Press Ctrl+C to shut down.",
                                      "Hosting environment: Production", "Content root path: /app")):
        app.lines += _dotnet(started + timedelta(milliseconds=642 + offset), "info", "Microsoft.Hosting.Lifetime", 0,
                             message)
    app.lines += _dotnet(started + timedelta(seconds=3), "warn",
                         "Microsoft.AspNetCore.HttpsPolicy.HttpsRedirectionMiddleware", 3,
                         "Failed to determine the https port for redirect.")
    if port != 80:
        return
    for moment in _every(cluster, max(started, ago(360)) + timedelta(seconds=30), NOW, 30, 200):
        amount = cluster.rng.randint(300, 40000) / 100
        app.lines += _dotnet(moment, "info", "Cobalt.Refunds.Api.RefundService", 1001,
                             f"Refund rf_{_hex(cluster, 14)} for order ord_{_hex(cluster, 12)} issued "
                             f"({amount:.2f} {cluster.rng.choice(('EUR', 'USD', 'GBP'))})")


def dotnet_port(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """refund-api 2.0.0 moved from the mcr.microsoft.com/dotnet/aspnet:7.0 base image to 8.0, where ASP.NET Core
    listens on 8080 by default (ASPNETCORE_HTTP_PORTS) instead of 80. The manifests still say containerPort 80 and
    probe port 80, so the new pod never becomes ready and the rollout (maxUnavailable 0) is stuck since 11:05."""
    rolled = 55.0
    old = cluster.pods_of("refunds", "refund-api")
    for pod in old:
        _refunds(cluster, pod, "1.9.3", ".NET 7.0.17", 80, pod.start + timedelta(seconds=1))
    new_rs = _replica_set(cluster, "refund-api")
    image = _ecr("cobalt/refund-api:2.0.0")
    _scaled(cluster, "refunds", "refund-api", f"Scaled up replica set {new_rs} to 1", ago(rolled))
    new = _new_pod(cluster, old[0].workload, ("ReplicaSet", new_rs), GENERAL_NODES[2], rolled - 0.01, image=image)
    _created(cluster, new, ago(rolled - 0.01))
    app = new.containers[0]
    app.ready = False
    _refunds(cluster, new, "2.0.0", ".NET 8.0.3", 8080, _soon(cluster, new.start, 2))
    ip = _pod_ip(new)
    checks = int(rolled * 6) - 3
    cluster.event(("Pod", "refunds", new.name), "Unhealthy",
                  f'Readiness probe failed: Get "http://{ip}:80/ready": dial tcp {ip}:80: connect: connection refused',
                  ago(0.1), warning=True, count=checks, host=new.node, first=ago(rolled - 0.1))
    for pod in (*old, new):
        pod.containers[0].env = [{"name": "ASPNETCORE_ENVIRONMENT", "value": "Production"},
                                 {"name": "Payments__Provider", "value": "adyen"}]
    cluster.ask(
        "cb-dotnetport-1", "The refund-api 2.0.0 rollout started at 11:05 and hasn't moved since: the new pod is Running "
                        "but never becomes Ready. Why?",
        "The app in the new pod listens on port 8080 ('Now listening on: http://[::]:8080'), but the readiness probe "
        "(and the Service) still target port 80, so every probe fails with 'dial tcp ...:80: connect: connection "
        "refused'. The pod never becomes Ready, and with maxUnavailable 0 the Deployment keeps the three 1.9.3 pods and "
        "waits.",
        "dotnet8-default-port",
        Evidence("refunds", new.name, "Now listening on: http://[::]:8080"),
        Evidence("refunds", new.name, "connect: connection refused"),
        facts=("8080", "connection refused"),
    )
    cluster.ask(
        "cb-dotnetport-2", "What is different between refund-api 1.9.3 and 2.0.0 that would explain that?",
        "The runtime: 1.9.3 runs on .NET 7.0.17, 2.0.0 on .NET 8.0.3. Starting with .NET 8 the official ASP.NET Core "
        "images set ASPNETCORE_HTTP_PORTS=8080 (non-root friendly), where the .NET 7 images listened on port 80. Either "
        "set ASPNETCORE_HTTP_PORTS=80 in the Deployment or move containerPort, probes and the Service's targetPort to "
        "8080.",
        "dotnet8-default-port",
        Evidence("refunds", new.name, "refund-api 2.0.0 starting on .NET 8.0.3"),
        Evidence("refunds", old[0].name, "refund-api 1.9.3 starting on .NET 7.0.17"),
        facts=(".NET 8", ".NET 7"),
    )


# ---------------------------------------------------------------- 6. gRPC: responses over the client's 4 MiB limit


_GRPC_MAX = 4194304


def grpc_limit(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """statement-export asks ledger-grpc for a merchant's month of ledger entries in one unary ListEntries call. Since
    ledger 4.2.0 (09:40) entries carry their metadata, and for the largest merchants the response now exceeds grpc-go's
    default 4 MiB receive limit on the client; the server answers OK every time."""
    servers = cluster.pods_of("ledger-core", "ledger-grpc")
    exporters = cluster.pods_of("ledger-core", "statement-export")
    for pod in servers:
        _pin(cluster, pod, pod.node, 140.0 + cluster.rng.uniform(0, 2))
        pod.containers[0].noise = False
        pod.containers[0].lines.append(_slogtext(_soon(cluster, pod.start, 1), "INFO", "ledger-grpc listening",
                                                 addr=":50051", version="4.2.0", go="go1.22.5"))
    for pod in exporters:
        pod.containers[0].noise = False
        pod.containers[0].env = [{"name": "LEDGER_ADDR", "value": "dns:///ledger-grpc.ledger-core.svc.cluster.local:"
                                                                  "50051"}, {"name": "GOMEMLIMIT", "value": "900MiB"}]
    big = {f"mer_{_hex(cluster, 10)}": size for size in (7340122, 5391877, 4577310)}
    small = [f"mer_{_hex(cluster, 10)}" for _ in range(40)]
    worst = next(iter(big))
    home = servers[0]

    def server_call(moment: datetime, merchant: str, size: int, server: SamplePod) -> None:
        server.containers[0].lines.append(_slogtext(
            moment, "INFO", "finished call", **{"grpc.component": "server", "grpc.service": "ledger.v1.LedgerService",
                                                "grpc.method": "ListEntries", "grpc.method_type": "unary",
                                                "peer.address": f"{_pod_ip(cluster.rng.choice(exporters))}:"
                                                                f"{cluster.rng.randint(33000, 60000)}",
                                                "grpc.code": "OK", "grpc.time_ms": f"{size / 9000:.3f}",
                                                "merchant_id": merchant, "resp_bytes": size}))

    for moment in _every(cluster, ago(355), NOW, 25, 110):
        exporter = cluster.rng.choice(exporters)
        after = moment > ago(140)
        if after and cluster.rng.random() < 0.3:
            merchant = cluster.rng.choice(list(big))
            size = big[merchant]
        else:
            merchant, size = cluster.rng.choice(small), cluster.rng.randint(40_000, 2_900_000)
        if not after and merchant in big:
            size = int(size / 1.4)
        server = home if merchant == worst else cluster.rng.choice(servers)
        server_call(moment, merchant, size, server)
        lines = exporter.containers[0].lines
        lines.append(_slog(moment - timedelta(milliseconds=40), "INFO", "export started", merchant_id=merchant,
                           period="2026-02", format="pdf"))
        if size > _GRPC_MAX:
            lines.append(_slog(moment + timedelta(milliseconds=60), "ERROR", "export failed", merchant_id=merchant,
                               period="2026-02", err=f"list entries: rpc error: code = ResourceExhausted desc = grpc: "
                                                     f"received message larger than max ({size} vs. {_GRPC_MAX})"))
        else:
            lines.append(_slog(moment + timedelta(milliseconds=cluster.rng.randint(300, 4000)), "INFO",
                               "export uploaded", merchant_id=merchant, period="2026-02",
                               object=f"s3://cobalt-statements-prod/2026-02/{merchant}.pdf"))
    # make sure the worst merchant was asked for and failed at least twice since the ledger upgrade
    for minutes in (37.4, 12.9):
        moment = _soon(cluster, ago(minutes), 0)
        server_call(moment, worst, big[worst], home)
        exporters[0].containers[0].lines += [
            _slog(moment - timedelta(milliseconds=40), "INFO", "export started", merchant_id=worst, period="2026-02",
                  format="csv"),
            _slog(moment + timedelta(milliseconds=55), "ERROR", "export failed", merchant_id=worst, period="2026-02",
                  err=f"list entries: rpc error: code = ResourceExhausted desc = grpc: received message larger than "
                      f"max ({big[worst]} vs. {_GRPC_MAX})"),
        ]
    exporters[1].containers[0].lines.append(_slog(
        _since(exporters[1]) + timedelta(minutes=4), "DEBUG", "partner webhook registered",
        url="https://hooks.partner-bank.example/statements", authorization=f"Bearer {secrets.bearer_token}"))
    for pod in exporters:
        pod.containers[0].lines.append(_slog(_since(pod) + timedelta(minutes=7), "WARN",
                                             "s3 upload retried", attempt=2, err="RequestTimeout: Your socket "
                                             "connection to the server was not read from or written to within the "
                                             "timeout period."))
    cluster.ask(
        "cb-grpcmax-1", "Merchants are telling support that downloading their February statement fails for some of our "
                     "biggest accounts, while small merchants are fine. What's failing?",
        "statement-export fails on the ledger call: 'rpc error: code = ResourceExhausted desc = grpc: received message "
        f"larger than max (... vs. {_GRPC_MAX})'. The whole month of entries comes back in one ListEntries response "
        "and for the largest merchants it is bigger than the client's default 4 MiB (4194304 bytes) receive limit. "
        "Raise grpc.MaxCallRecvMsgSize on the client or, better, page/stream the entries.",
        "grpc-recv-msg-limit",
        Evidence("ledger-core", exporters[0].name, "desc = grpc: received message larger than max"),
        facts=("ResourceExhausted|received message larger than max", "4194304|4 MiB"),
    )
    cluster.ask(
        "cb-grpcmax-2", f"Is ledger-grpc returning errors for those statement calls, e.g. for merchant {worst}?",
        f"No. ledger-grpc completes the calls: 'finished call' with grpc.code=OK for {worst}, resp_bytes={big[worst]} "
        f"(about 7 MB). The error is raised in the client, statement-export, whose grpc-go default refuses messages "
        f"over {_GRPC_MAX} bytes; responses grew when ledger 4.2.0 added entry metadata this morning.",
        "grpc-recv-msg-limit",
        Evidence("ledger-core", home.name, f"merchant_id={worst} resp_bytes={big[worst]}"),
        Evidence("ledger-core", exporters[0].name, f"({big[worst]} vs. {_GRPC_MAX})"),
        facts=("grpc.code=OK", f"{big[worst]}"),
    )


# ---------------------------------------------------------------- 7. Secrets Store CSI: the secret is gone


_SECRET_ID = "prod/payouts/bank-partner-api"
_ROLE = "eks-prod-payout-dispatcher"


def csi_secret(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """payout-dispatcher mounts its bank-partner credentials with the Secrets Store CSI driver (AWS provider). The
    Secrets Manager secret prod/payouts/bank-partner-api was deleted at 10:58 during a migration to a new naming
    scheme. The two running pods mounted it yesterday and keep working; the two the HPA added at 11:20 cannot mount it
    and stay in ContainerCreating."""
    scaled = 40.0
    old = cluster.pods_of("disbursements", "payout-dispatcher")
    for pod in old:
        dispatcher = pod.containers[0]
        dispatcher.noise = False
        dispatcher.lines.append(_pylog(_soon(cluster, pod.start, 2), "INFO", "dispatcher",
                                       "loaded bank partner credentials from /mnt/secrets-store/bank-partner-api"))
        for moment in _every(cluster, _since(pod) + timedelta(seconds=30), NOW, 40, 240):
            dispatcher.lines.append(_pylog(moment, "INFO", "dispatcher", (
                f"payout batch pb_{_hex(cluster, 10)}: {cluster.rng.randint(20, 900)} transfers submitted to "
                f"bank partner, status=ACCEPTED")))
    _rescale(cluster, "disbursements", "payout-dispatcher", 4, "cpu resource utilization (percentage of request) above "
                                                         "target", ago(scaled))
    _scaled(cluster, "disbursements", "payout-dispatcher", f"Scaled up replica set {old[0].owner[1]} to 4 from 2",
            ago(scaled - 0.01))
    providers = {p.node: p for p in cluster.pods_of("kube-system", "csi-secrets-store-provider-aws")}
    stuck = []
    for node in GENERAL_NODES[1:]:
        pod = _new_pod(cluster, old[0].workload, old[0].owner, node, scaled - 0.02)
        _created(cluster, pod, ago(scaled - 0.02))
        _forget(cluster, pod)
        ref = ("Pod", pod.namespace, pod.name)
        cluster.event(ref, "Scheduled", f"Successfully assigned disbursements/{pod.name} to {node}", pod.start,
                      component="default-scheduler")
        pod.phase = "Pending"
        pod.conditions = {"Initialized": "True", "Ready": "False", "ContainersReady": "False"}
        for container in pod.containers:
            container.state = {"waiting": {"reason": "ContainerCreating"}}
            container.ready, container.noise = False, False
        mount = (f'MountVolume.SetUp failed for volume "bank-partner-secrets" : rpc error: code = Unknown desc = failed '
                 f"to mount secrets store objects for pod disbursements/{pod.name}, err: rpc error: code = Unknown desc = "
                 "Failed to fetch secret from all regions. Verify secret exists and required permissions are granted "
                 f"for: {_SECRET_ID}")
        tries = [pod.start + timedelta(seconds=1)]
        delay = 0.5
        while tries[-1] < NOW:
            delay = min(delay * 2, 122)
            tries.append(tries[-1] + timedelta(seconds=delay + cluster.rng.uniform(0, 0.4)))
        tries.pop()
        cluster.event(ref, "FailedMount", mount, tries[-1], warning=True, count=len(tries), host=node, first=tries[0])
        cluster.event(ref, "FailedMount", "Unable to attach or mount volumes: unmounted volumes=[bank-partner-secrets], "
                                          "unattached volumes=[], failed to process volumes=[]: context deadline "
                                          "exceeded", ago(cluster.rng.uniform(0.5, 1.5)), warning=True,
                      count=int(scaled / 2.03), host=node, first=pod.start + timedelta(minutes=2, seconds=1))
        provider = providers[node]
        provider.containers[0].noise = False
        for moment in tries:
            moment += timedelta(milliseconds=cluster.rng.randint(5, 30), microseconds=cluster.rng.randint(0, 999))
            provider.containers[0].lines += [
                _klog(moment, "I", "server.go:124", f"Servicing mount request for pod {pod.name} in namespace disbursements "
                                                    "using service account payout-dispatcher with region(s) us-east-2"),
                _klog(moment + timedelta(milliseconds=40), "I", "auth.go:123",
                      f"Role ARN for disbursements:payout-dispatcher is arn:aws:iam::{_ACCOUNT}:role/{_ROLE}"),
                _klog(moment + timedelta(milliseconds=260), "E", "secrets_manager_provider.go:240",
                      f"{_SECRET_ID}: Failed fetching secret value: ResourceNotFoundException: Secrets Manager can't "
                      "find the specified secret."),
                _klog(moment + timedelta(milliseconds=262), "E", "server.go:151",
                      "Failure getting secret values from provider type secretsmanager: Failed to fetch secret from all "
                      f"regions. Verify secret exists and required permissions are granted for: {_SECRET_ID}"),
            ]
        stuck.append(pod)
    for node, provider in providers.items():
        if provider.containers[0].noise:
            provider.containers[0].noise = False
            provider.containers[0].lines.append(_klog(_since(provider), "I", "main.go:117",
                                                      "Listening for connections on address: "
                                                      "/etc/kubernetes/secrets-store-csi-providers/aws.sock"))
    provider = providers[stuck[0].node]
    cluster.ask(
        "cb-csimount-1", "payout-dispatcher was scaled up at 11:20 for the afternoon payout run, but the new pods still "
                      "haven't started. Why?",
        "They are stuck in ContainerCreating because the kubelet cannot mount their secrets volume: FailedMount "
        "'MountVolume.SetUp failed for volume \"bank-partner-secrets\" ... Failed to fetch secret from all regions. "
        f"Verify secret exists and required permissions are granted for: {_SECRET_ID}'. The Secrets Store CSI driver "
        "fetches the secret from AWS Secrets Manager at mount time and that fetch fails, so the containers are never "
        "created.",
        "csi-secret-not-found",
        Evidence("disbursements", stuck[0].name, 'MountVolume.SetUp failed for volume "bank-partner-secrets"'),
        facts=("MountVolume.SetUp failed|FailedMount", _SECRET_ID),
    )
    cluster.ask(
        "cb-csimount-2", "Security says the IAM role for payouts hasn't changed. Is it a permissions problem or something "
                      "else, and why do the two older payout pods still work?",
        f"Not permissions: the AWS provider assumes role {_ROLE} fine, and Secrets Manager answers "
        f"'ResourceNotFoundException: Secrets Manager can't find the specified secret.' for {_SECRET_ID}, i.e. the "
        "secret no longer exists under that name. The two older pods mounted it when they started, before it was "
        "removed; the driver only fetches at mount time, so they keep their copy but would fail the same way if "
        "restarted. Point the SecretProviderClass at the secret's new name or restore it.",
        "csi-secret-not-found",
        Evidence("kube-system", provider.name, "Secrets Manager can't find the specified secret"),
        Evidence("disbursements", old[0].name, "loaded bank partner credentials from /mnt/secrets-store/bank-partner-api"),
        facts=("ResourceNotFoundException|can't find the specified secret", _ROLE),
    )


# ---------------------------------------------------------------- 8. memcached: items over the 1 MiB item size


_MAX_ITEM = 1048576


def _bitnami_banner(moment: datetime) -> list[tuple[datetime, str]]:
    stamp = f"{moment:%H:%M:%S}.{moment.microsecond // 10000:02d}"
    return [(moment, f"memcached {stamp} INFO  ==> {text}".rstrip()) for text in (
        "", "Welcome to the Bitnami memcached container",
        "Subscribe to project updates by watching https://github.com/bitnami/containers",
        "Submit issues and feature requests at https://github.com/bitnami/containers/issues", "",
        "** Starting Memcached setup **", "** Memcached setup finished! **", "** Starting Memcached **")]


def memcached_item(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """plp-api 7.4.0 (10:32) adds per-variant availability to the cached category pages. The big categories are
    now 1.1-1.4 MB and memcached (max item size 1 MiB) answers every set with SERVER_ERROR object too large for cache,
    so those pages are never cached and every request runs the category query on the database."""
    deployed = 88.0
    (memcached, *others) = sorted(cluster.pods_of("catalog-browse", "listing-memcached"), key=lambda p: p.name)
    for pod in (memcached, *others):
        cache = pod.containers[0]
        cache.noise = False
        cache.env = [{"name": "MEMCACHED_CACHE_SIZE", "value": "2048"},
                     {"name": "MEMCACHED_MAX_ITEM_SIZE", "value": str(_MAX_ITEM)},
                     {"name": "MEMCACHED_THREADS", "value": "4"}, {"name": "MEMCACHED_MAX_CONNECTIONS", "value": "4096"}]
        cache.lines += _bitnami_banner(_soon(cluster, pod.start, 1))
    big = {f"category:{name}:p1:v7": size for name, size in (
        ("womens-shoes", 1384211), ("mens-jackets", 1209877), ("kitchen-appliances", 1117455))}
    other = ["category:gift-cards:p1:v7", "category:garden-tools:p1:v7", "category:kids-toys:p2:v7",
             "category:phone-cases:p1:v7", "category:vinyl:p1:v7"]
    apis = cluster.pods_of("catalog-browse", "plp-api")
    url = f"postgresql://listing:{secrets.url_password}@catalog-db.cluster-ro-c8x2k1q7w3ab.us-east-2.rds.amazonaws.com/catalog"
    for pod in apis:
        _pin(cluster, pod, pod.node, deployed - cluster.rng.uniform(0, 1.5))
        api = pod.containers[0]
        api.noise = False
        api.env = [{"name": "DATABASE_URL", "value": url},
                   {"name": "MEMCACHED_SERVERS", "value": ",".join(
                       f"listing-memcached-{i}.listing-memcached.catalog-browse.svc:11211" for i in range(3))},
                   {"name": "OPENAI_API_KEY", "value": secrets.openai_key}]
        start = _soon(cluster, pod.start, 2)
        api.lines += [
            (start, f"[{start:%Y-%m-%d %H:%M:%S} +0000] [1] [INFO] Starting gunicorn 22.0.0"),
            (start, f"[{start:%Y-%m-%d %H:%M:%S} +0000] [1] [INFO] Listening at: http://0.0.0.0:8000 (1)"),
            (start, f"[{start:%Y-%m-%d %H:%M:%S} +0000] [1] [INFO] Using worker: uvicorn.workers.UvicornWorker"),
            _structlog(start + timedelta(seconds=2), "info", "plp-api started", "listing.app", version="7.4.0",
                       features=["variant_availability"]),
        ]
        for moment in _every(cluster, start + timedelta(seconds=10), NOW, 2, 14):
            key = cluster.rng.choice(list(big) + other)
            if key in big:
                took = cluster.rng.randint(1400, 3200)
                api.lines += [
                    _structlog(moment, "info", "cache miss", "listing.cache", key=key),
                    _structlog(moment + timedelta(milliseconds=took - 40), "warning", "slow query", "listing.db",
                               duration_ms=took - 60, query="category_page", rows=cluster.rng.randint(2400, 3100)),
                    _structlog(moment + timedelta(milliseconds=took), "warning", "cache set failed", "listing.cache",
                               key=key, bytes=big[key], error="MemcacheServerError: b'object too large for cache'"),
                ]
            else:
                api.lines.append(_structlog(moment, "info", "cache hit", "listing.cache", key=key))
        for moment in _every(cluster, start + timedelta(minutes=3), NOW, 600, 1500):
            api.lines.append(_structlog(moment, "warning", "upstream recommendation timeout", "listing.reco",
                                        timeout_ms=250))
    cluster.ask(
        "cb-mcitem-1", "Category pages on the storefront have been slow since about 10:30 and catalog-db CPU has doubled. "
                    "What's going on?",
        "The category page cache is not working for the big categories. Since plp-api 7.4.0 was deployed at 10:32 "
        "those cached pages are larger, and every attempt to store them fails with memcached's 'SERVER_ERROR object "
        "too large for cache' (MemcacheServerError). So each request is a cache miss and runs the slow category query "
        "against catalog-db.",
        "memcached-item-too-large",
        Evidence("catalog-browse", apis[0].name, "MemcacheServerError: b'object too large for cache'"),
        facts=("object too large for cache", "7.4.0"),
    )
    cluster.ask(
        "cb-mcitem-2", "How large are the listing cache entries now, and what will memcached accept?",
        f"The failing entries are 1.1-1.4 MB: category:womens-shoes:p1:v7 is 1384211 bytes. listing-memcached runs "
        f"with MEMCACHED_MAX_ITEM_SIZE={_MAX_ITEM} (1 MiB, memcached's default -I 1m), so anything larger is refused. "
        "Raise the item size (-I), compress the values, or cache the pages in smaller pieces.",
        "memcached-item-too-large",
        Evidence("catalog-browse", apis[0].name, '"bytes": 1384211'),
        Evidence("catalog-browse", memcached.name, "MEMCACHED_MAX_ITEM_SIZE"),
        facts=(f"{_MAX_ITEM}|1 MiB", "1384211"),
    )


# ---------------------------------------------------------------- 9. Karpenter: no g5.2xlarge capacity in us-east-2a


def _gpu_reason(node: dict) -> str:
    """The first filter a fraud-model-server pod fails on a node (it tolerates the GPU taint, selects the NodePool)."""
    taints = [t for t in node["spec"].get("taints", []) if t["key"] != "nvidia.com/gpu"]
    if node["spec"].get("unschedulable"):
        return "node(s) were unschedulable"
    if taints:
        return f"node(s) had untolerated taint {{{taints[0]['key']}: {taints[0].get('value', '')}}}"
    if node["metadata"]["labels"].get(_NODEPOOL) != _GPU_POOL:
        return "node(s) didn't match Pod's node affinity/selector"
    return "Insufficient nvidia.com/gpu"


def karpenter_ice(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """fraud-model-server's HPA asked for 4 replicas at 11:24. Both GPU nodes are full (one A10G each), and the
    gpu-inference NodePool only allows g5.2xlarge in us-east-2a, where EC2 has no capacity: every launch fails with
    InsufficientInstanceCapacity, Karpenter marks the offering unavailable for 3 minutes and tries again."""
    scaled = 36.0
    old = cluster.pods_of("risk-scoring", "fraud-model-server")
    for pod in old:
        server = pod.containers[0]
        server.noise = False
        for moment in _every(cluster, _since(pod), NOW, 3, 30):
            server.lines.append((moment, f'INFO:     10.62.{cluster.rng.randint(0, 63)}.{cluster.rng.randint(2, 250)}:'
                                         f'{cluster.rng.randint(33000, 60000)} - "POST /v1/score HTTP/1.1" 200 OK'))
        warned = _since(pod) + timedelta(seconds=5)
        server.lines.append((warned, f"{warned:%Y-%m-%d %H:%M:%S}.{warned.microsecond // 1000:03d} [W:onnxruntime:, "
                             "session_state.cc:1166 VerifyEachNodeIsAssignedToAnEp] Some nodes were not assigned to "
                             "the preferred execution providers which may or may not have an negative impact on "
                             "performance. e.g. ORT explicitly assigns shape related ops to CPU to improve perf."))
    _rescale(cluster, "risk-scoring", "fraud-model-server", 4, "pods metric DCGM_FI_DEV_GPU_UTIL above target",
             ago(scaled))
    _scaled(cluster, "risk-scoring", "fraud-model-server", f"Scaled up replica set {old[0].owner[1]} to 4 from 2",
            ago(scaled - 0.01))
    message = _fit_error(cluster.nodes, _gpu_reason)
    pending = []
    for _ in range(2):
        pod = _new_pod(cluster, old[0].workload, old[0].owner, None, scaled - 0.02)
        _created(cluster, pod, ago(scaled - 0.02))
        cluster.event(("Pod", pod.namespace, pod.name), "FailedScheduling", message, ago(cluster.rng.uniform(0.3, 3)),
                      warning=True, count=cluster.rng.randint(14, 22), component="default-scheduler",
                      first=ago(scaled - 0.03))
        pending.append(pod)
    (leader, standby) = cluster.pods_of("kube-system", "karpenter")
    for pod in (leader, standby):
        pod.containers[0].noise = False
    lines = leader.containers[0].lines
    for moment in _every(cluster, _since(leader) + timedelta(minutes=1), ago(scaled), 600, 1500):
        lines.append(_karpenter(moment, "INFO", "disrupting nodeclaim(s) via delete, terminating 1 nodes (0 pods) "
                                                f"ip-10-62-{cluster.rng.randint(1, 60)}-{cluster.rng.randint(2, 250)}"
                                                ".us-east-2.compute.internal/m6i.large/spot",
                                controller="disruption", command_id=cluster.uid(), reason="empty"))
    pods = ", ".join(f"risk-scoring/{p.name}" for p in pending)
    moment = _soon(cluster, ago(scaled - 0.05), 0)
    ice = ("creating instance, insufficient capacity, with fleet error(s), InsufficientInstanceCapacity: We currently "
           "do not have sufficient g5.2xlarge capacity in the Availability Zone you requested (us-east-2a). Our system "
           "will be working on provisioning additional capacity. You can currently get g5.2xlarge capacity by not "
           "specifying an Availability Zone in your request or choosing us-east-2b, us-east-2c.")
    while moment < NOW:
        claim = f"{_GPU_POOL}-{cluster.suffix()}"
        lines += [
            _karpenter(moment, "INFO", "found provisionable pod(s)", controller="provisioner", Pods=pods,
                       duration=f"{cluster.rng.uniform(20, 60):.1f}ms"),
            _karpenter(moment + timedelta(milliseconds=2), "INFO", "computed new nodeclaim(s) to fit pod(s)",
                       controller="provisioner", nodeclaims=1, pods=2),
            _karpenter(moment + timedelta(milliseconds=9), "INFO", "created nodeclaim", controller="provisioner",
                       NodePool={"name": _GPU_POOL}, NodeClaim={"name": claim},
                       requests={"cpu": "6350m", "memory": "25790Mi", "nvidia.com/gpu": "2", "pods": "8"},
                       **{"instance-types": "g5.2xlarge"}),
            _karpenter(moment + timedelta(seconds=1, milliseconds=420), "ERROR", "failed launching nodeclaim",
                       controller="nodeclaim.lifecycle", controllerGroup="karpenter.sh", controllerKind="NodeClaim",
                       NodeClaim={"name": claim}, namespace="", name=claim, reconcileID=cluster.uid(), error=ice),
            _karpenter(moment + timedelta(seconds=1, milliseconds=421), "INFO", "removing offering from offerings",
                       controller="nodeclaim.lifecycle", NodeClaim={"name": claim}, reason="InsufficientInstanceCapacity",
                       **{"instance-type": "g5.2xlarge", "zone": "us-east-2a", "capacity-type": "on-demand"},
                       ttl="3m0s"),
            _karpenter(moment + timedelta(seconds=1, milliseconds=500), "INFO", "deleted nodeclaim",
                       controller="nodeclaim.termination", NodeClaim={"name": claim}, Node={"name": ""},
                       **{"provider-id": ""}),
        ]
        for pod in pending:
            cluster.event(("Pod", pod.namespace, pod.name), "Nominated", f"Pod should schedule on: nodeclaim/{claim}",
                          moment + timedelta(milliseconds=12), component="karpenter")
        moment += timedelta(seconds=180 + cluster.rng.uniform(5, 40))
    cluster.ask(
        "cb-gpuice-1", "Fraud scoring latency went up after lunch. fraud-model-server wanted 4 replicas but two have been "
                    "Pending since 11:24. Why aren't they getting GPUs?",
        "The existing GPU nodes are full: the scheduler reports 'Insufficient nvidia.com/gpu' on the two g5.2xlarge "
        "nodes (one A10G each, both in use) and every other node is excluded by the NodePool selector or taints. "
        "Karpenter tries to add a node for them, but every launch fails with InsufficientInstanceCapacity: EC2 has no "
        "g5.2xlarge capacity in the zone it asks for, so the nodeclaim is deleted and retried every few minutes.",
        "karpenter-gpu-ice",
        Evidence("risk-scoring", pending[0].name, "2 Insufficient nvidia.com/gpu"),
        Evidence("kube-system", leader.name, "InsufficientInstanceCapacity: We currently do not have sufficient"),
        facts=("InsufficientInstanceCapacity|insufficient capacity", "Insufficient nvidia.com/gpu"),
    )
    cluster.ask(
        "cb-gpuice-2", "What exactly is Karpenter trying to launch for the fraud model, and what would unblock it?",
        "Each nodeclaim of the gpu-inference NodePool asks for a g5.2xlarge on-demand instance in us-east-2a only (the "
        "NodePool allows just that type and zone), and EC2 keeps answering that there is no g5.2xlarge capacity in "
        "us-east-2a, suggesting us-east-2b or us-east-2c. Allow those zones and other GPU types (g5.4xlarge, g6.2xlarge, "
        "spot) in the NodePool, or use a capacity reservation.",
        "karpenter-gpu-ice",
        Evidence("kube-system", leader.name, "You can currently get g5.2xlarge capacity by not specifying"),
        Evidence("risk-scoring", pending[1].name, "Pod should schedule on: nodeclaim/gpu-inference-"),
        facts=("g5.2xlarge", "us-east-2a"),
    )


# ---------------------------------------------------------------- 10. a node's root filesystem goes read-only


def _node_events(cluster: SampleCluster) -> None:
    """What node-problem-detector's kernel monitor reports for RO_NODE."""
    at = ago(_RO_AT)
    ref = ("Node", None, RO_NODE)
    cluster.event(ref, "Ext4Error", "EXT4-fs error (device nvme0n1p1): ext4_journal_check_start:83: comm containerd: "
                                    "Detected aborted journal", at - timedelta(seconds=1), warning=True,
                  component="kernel-monitor", host=RO_NODE)
    cluster.event(ref, "FilesystemIsReadOnly", f"Node condition ReadonlyFilesystem is now: True, reason: "
                                               f"FilesystemIsReadOnly, message: \"{_KERNEL_RO}\"", at, warning=True,
                  component="kernel-monitor", host=RO_NODE)


def readonly_node(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """At 11:19 the EBS root volume of ip-10-62-22-91 aborted its journal and was remounted read-only. Nothing
    taints the node, so the wallet-api rollout at 11:30 placed a new pod there, which containerd cannot create; and
    fx-rate-sync, already running there, can no longer write its rate snapshots to its emptyDir."""
    rolled = 30.0
    _node_events(cluster)
    old = cluster.pods_of("wallet", "wallet-api")
    new_rs = _replica_set(cluster, "wallet-api")
    image = _ecr("cobalt/wallet-api:6.3.0")
    new_pods = []
    for index, node in enumerate((GENERAL_NODES[0], GENERAL_NODES[1], RO_NODE)):
        at = rolled - 0.6 * index
        _scaled(cluster, "wallet", "wallet-api", f"Scaled up replica set {new_rs} to {index + 1}" +
                (f" from {index}" if index else ""), ago(at))
        if index:
            _scaled(cluster, "wallet", "wallet-api", f"Scaled down replica set {old[0].owner[1]} to {3 - index} from "
                                                     f"{4 - index}", ago(at - 0.01))
        pod = _new_pod(cluster, old[0].workload, ("ReplicaSet", new_rs), node, at - 0.01, image=image)
        _created(cluster, pod, ago(at - 0.01))
        new_pods.append(pod)
    for pod in old[:2]:
        cluster.pods.remove(pod)
    for pod in new_pods:
        pod.containers[0].env = [{"name": "LEDGER_ADDR", "value": "ledger-grpc.ledger-core.svc.cluster.local:50051"},
                                 {"name": "GOMAXPROCS", "value": "2"}]
    stuck = new_pods[-1]
    app = stuck.containers[0]
    app.noise, app.ready = False, False
    stuck.phase = "Pending"
    snapshot = cluster.rng.randint(1_000_000_000, 4_000_000_000)
    error = ("failed to create containerd container: failed to create prepare snapshot dir: failed to create temp "
             f"dir: mkdir /var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/new-{snapshot}: "
             "read-only file system")
    app.state = {"waiting": {"reason": "CreateContainerError", "message": error}}
    _forget(cluster, stuck)
    ref = ("Pod", "wallet", stuck.name)
    first = stuck.start + timedelta(seconds=1)
    cluster.event(ref, "Scheduled", f"Successfully assigned wallet/{stuck.name} to {RO_NODE}", stuck.start,
                  component="default-scheduler")
    tries = int((rolled - 1.5) * 6)
    cluster.event(ref, "Pulling", f'Pulling image "{image}"', first, host=RO_NODE)
    cluster.event(ref, "Pulled", f'Successfully pulled image "{image}" in 2.841s (2.841s including waiting). Image '
                                 "size: 41823716 bytes.", first + timedelta(seconds=3), host=RO_NODE)
    cluster.event(ref, "Pulled", f'Container image "{image}" already present on machine', ago(0.2), count=tries,
                  host=RO_NODE, first=first + timedelta(seconds=14))
    cluster.event(ref, "Failed", f"Error: {error}", ago(0.2), warning=True, count=tries + 1, host=RO_NODE,
                  first=first + timedelta(seconds=3))
    for pod in new_pods[:2]:
        app = pod.containers[0]
        app.noise = True
    (sync,) = cluster.pods_of("fx-rates", "fx-rate-sync")
    worker = sync.containers[0]
    worker.noise = False
    worker.env = [{"name": "AWS_ACCESS_KEY_ID", "value": secrets.aws_access_key},
                  {"name": "AWS_SECRET_ACCESS_KEY", "value": secrets.aws_secret_key},
                  {"name": "RATES_CACHE_DIR", "value": "/var/cache/fx"}]
    broken = ago(_RO_AT)
    for moment in _every(cluster, _since(sync), NOW, 59.5, 60.5):
        name = f"/var/cache/fx/rates-{moment:%Y%m%dT%H%M}.json.tmp"
        if moment < broken:
            worker.lines.append(_slog(moment, "INFO", "rates snapshot written", path=name.removesuffix(".tmp"),
                                      pairs=168, source="ecb+oanda"))
        else:
            worker.lines.append(_slog(moment, "ERROR", "rates snapshot failed", pairs=168,
                                      err=f"open {name}: read-only file system"))
    cluster.ask(
        "cb-rofs-1", "The wallet-api rollout at 11:30 is stuck: two new pods are up, but the third has been failing to "
                  "start for almost half an hour. What's wrong with it?",
        f"Its container can't even be created: the pod sits in CreateContainerError because containerd fails with "
        f"'mkdir /var/lib/containerd/...: read-only file system' on the node it was scheduled to, {RO_NODE}. The "
        "node's root filesystem is read-only; the image pulls fine but no container can be created there. Cordon and "
        "drain the node and delete the pod so it is rescheduled elsewhere.",
        "node-readonly-rootfs",
        Evidence("wallet", stuck.name, "io.containerd.snapshotter.v1.overlayfs/snapshots/new-"),
        facts=("read-only file system|read-only", RO_NODE),
    )
    cluster.ask(
        "cb-rofs-2", f"What does {RO_NODE} itself report, and is anything else running on it affected?",
        f"node-problem-detector set the node condition ReadonlyFilesystem=True (FilesystemIsReadOnly) at 11:19: the "
        f"kernel logged an ext4 aborted journal and '{_KERNEL_RO}'. fx-rate-sync runs there and has failed to write its "
        "rate snapshots since 11:19 ('open /var/cache/fx/...: read-only file system'), so FX rates served from that "
        "cache are going stale. Replace the node.",
        "node-readonly-rootfs",
        Evidence(None, RO_NODE, _KERNEL_RO),
        Evidence("fx-rates", sync.name, '"msg":"rates snapshot failed"'),
        facts=("ReadonlyFilesystem|Remounting filesystem read-only", "fx-rate-sync"),
    )


def _plant_secrets(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """Credentials where real ones leak: a public API key in env, a token in a logged git URL (the rest are planted by
    the incidents: a JWT, a database password and a Slack webhook in env, AWS keys, an OpenAI key, a URL password and
    a bearer token in a debug line)."""
    for pod in cluster.pods_of("merchant-portal", "merchant-portal-web"):
        pod.containers[0].env = [{"name": "NEXT_PUBLIC_MAPS_API_KEY", "value": secrets.google_api_key}]
    repo = cluster.pods_of("argocd", "argo-cd-repo-server")[0]
    repo.containers[0].lines.append(_logrus(ago(211), "info", "git fetch origin --tags --force --prune", dir=(
        "/tmp/_argocd-repo/7f3c2a91-4d1e-4c0b-9a57-2b1e8f6d0c44"), execID=_hex(cluster, 5), url=(
        f"https://x-access-token:{secrets.github_token}@github.com/cobaltcart/platform-deploy.git")))


def apply_all(cluster: SampleCluster) -> None:
    """Move the generator's pods to where they ran before the incidents, then plant the ten incidents."""
    secrets = cluster.secrets
    _placement(cluster)
    _plant_secrets(cluster, secrets)
    alb_subnets(cluster, secrets)
    cert_pruned(cluster, secrets)
    rails_migration(cluster, secrets)
    kafka_poison(cluster, secrets)
    dotnet_port(cluster, secrets)
    grpc_limit(cluster, secrets)
    csi_secret(cluster, secrets)
    memcached_item(cluster, secrets)
    karpenter_ice(cluster, secrets)
    readonly_node(cluster, secrets)
