"""`diagnose(records)`: every rule over the collected facts, duplicates merged, related findings linked.

The one entry point: `kubetrainer diagnose`, the index (which stores the findings next to
its chunks for `ask`), the answer engine, `dataset build` and the dashboard all call it.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Iterator

from kubetrainer.diagnose.addresses import name_addresses, serves
from kubetrainer.diagnose.changes import name_changes, resolved
from kubetrainer.diagnose.collect import Collector
from kubetrainer.diagnose.finding import Finding
from kubetrainer.diagnose.fit import name_gpu_fit
from kubetrainer.diagnose.identifiers import trace_identifiers
from kubetrainer.diagnose.knowledge import INFO, LOG_SIGNATURES, SEVERITY_ORDER, SIGNATURE_BY_RULE
from kubetrainer.diagnose.logs import log_findings
from kubetrainer.diagnose.nodes import node_findings
from kubetrainer.diagnose.paths import trace_paths
from kubetrainer.diagnose.platform import name_node_platform
from kubetrainer.diagnose.pods import AWAITS_NODE, PodRules, name_last_lines
from kubetrainer.diagnose.ports import explain_ports
from kubetrainer.diagnose.quota import name_quota_consumers
from kubetrainer.diagnose.rollouts import (
    name_previous_runs,
    name_previous_versions,
    previous_versions,
    replicaset_images,
    working_counterparts,
)
from kubetrainer.diagnose.selectors import name_renamed_gpu_nodes
from kubetrainer.diagnose.services import service_findings
from kubetrainer.diagnose.settings import attach_settings
from kubetrainer.diagnose.startup import attach_before, attach_pulls, attach_server_settings, attach_startup
from kubetrainer.diagnose.taints import name_tainted_nodes
from kubetrainer.diagnose.workloads import event_findings, name_active_jobs, object_findings
from kubetrainer.diagnose.zones import name_closed_zones


def diagnose(records: Iterable[dict]) -> list[Finding]:
    """What is wrong in the cluster the records describe, most severe first."""
    return findings_of(Collector().add_all(records))


def findings_of(collector: Collector) -> list[Finding]:
    found: list[Finding] = []
    for facts in collector.objects.values():
        used: set[str] = set()
        explained: set[tuple[str, str]] = set()
        quoted: set[str] = set()
        if facts.kind == "Pod":
            rules = PodRules(facts)
            found += rules.findings()
            used, explained, quoted = rules.used, rules.used_signatures, rules.used_errors
        elif facts.kind == "Node":
            found += node_findings(facts, used)
        else:
            found += object_findings(facts, used)
        found += log_findings(facts, explained, quoted)
        found += event_findings(facts, used)
    merged = [finding for finding in merge([*found, *service_findings(collector.objects)])
              if not _repeats_its_owner(finding, found)]
    name_active_jobs(merged, collector.objects, collector.last_line)
    name_last_lines(merged, collector.last_line)
    name_closed_zones(merged, collector.objects)
    name_tainted_nodes(merged, collector.objects)
    name_renamed_gpu_nodes(merged, collector.objects)
    name_quota_consumers(merged, collector.objects)
    name_gpu_fit(merged, collector.objects)
    name_node_platform(merged, collector.objects)
    name_addresses(merged, collector.objects)
    explain_ports(merged, collector.objects, collector.opening)
    versions = previous_versions(merged, collector.objects)
    name_previous_versions(merged, collector.objects, versions)
    name_previous_runs(merged, collector.objects)
    counterparts = working_counterparts(merged, collector.objects)
    attach_startup(merged, collector.opening, counterparts)
    attach_pulls(merged, counterparts)
    attach_server_settings(merged, collector.opening)
    attach_before(merged, collector.objects)
    attach_settings(merged, collector.objects)
    images = replicaset_images(collector.objects)  # stored with the index too, so "what changed?" names releases
    collector.changes = deque((resolved(change, collector.pods_by_uid, images) for change in collector.changes),
                              maxlen=collector.changes.maxlen)
    name_changes(merged, list(collector.changes))
    trace_identifiers(merged, collector)
    trace_paths(merged, collector)
    link(merged)
    return sorted(merged, key=Finding.sort_key)


def merge(findings: list[Finding]) -> list[Finding]:
    """One finding per id: evidence and counts combined, the higher severity kept."""
    by_id: dict[str, Finding] = {}
    for finding in findings:
        held = by_id.get(finding.id)
        if held is None:
            by_id[finding.id] = finding
            continue
        for item in finding.evidence:
            held.add_evidence(item)
        held.count += finding.count
        if SEVERITY_ORDER.get(finding.severity, 9) < SEVERITY_ORDER.get(held.severity, 9):
            held.severity = finding.severity
    return list(by_id.values())


def _repeats_its_owner(finding: Finding, found: list[Finding]) -> bool:
    """A ReplicaSet short of replicas whose Deployment already says so."""
    return (
        finding.rule == "replicas-short"
        and finding.kind == "ReplicaSet"
        and any(
            other.rule == "replicas-short"
            and other.kind == "Deployment"
            and other.namespace == finding.namespace
            and finding.name.startswith(f"{other.name}-")
            for other in found
        )
    )


def _relate(one: Finding, other: Finding) -> None:
    if one is other:
        return
    if other.id not in one.related:
        one.related.append(other.id)
    if one.id not in other.related:
        other.related.append(one.id)


def _owned(pod: Finding, owner: Finding) -> bool:
    return pod.kind == "Pod" and pod.namespace == owner.namespace and pod.name.startswith(f"{owner.name}-")


OWNER_RULES = ("job-failed", "replicas-short", "quota-exceeded", "failed-create", "cronjob-skipped")
LOG_RULES = frozenset(signature.rule for signature in LOG_SIGNATURES)
# A client's error that reports its server's failure -> the server-side rules that explain it, in the same namespace.
SERVER_RULES: dict[str, frozenset[str]] = {
    "redis-misconf": frozenset({"redis-bgsave", "disk-full"}),
    "pg-wal-removed": frozenset({"pg-checkpoints-frequent"}),  # the standby's gap <- the primary's WAL churn
    "pg-read-only": frozenset({"patroni-demoted"}),  # writes refused <- the HA manager stepped the primary down
    "patroni-demoted": frozenset({"etcd-nospace"}),  # the leader lock not renewed <- its DCS refusing writes
    "etcd-slow": frozenset({"etcd-slow-disk"}),  # the API server's etcd timeouts <- the member's slow disk
    "mongo-server-selection": frozenset({"mongo-no-primary"}),
    "rabbitmq-blocked": frozenset({"rabbitmq-alarm"}),
}
# A pod's failure -> the node agent's failure on the same node that explains it.
NODE_AGENT_RULES: dict[str, frozenset[str]] = {"sandbox-network": frozenset({"vpc-cni-ip-exhaustion"})}
# A client's failure to reach what it addresses (`Finding.addressed`) <- that server's own failure to run or serve.
CLIENT_RULES = frozenset({"connection-refused", "network-timeout", "no-healthy-upstream", "webhook-unavailable",
                          "dns-failure", "image-pull", "service-no-endpoints"})
# A pod that fails on a line addressing another pod or Service (`Finding.addressed`) is that server's client too.
CRASH_RULES = frozenset({"crash-loop", "container-failed", "container-restarts"})
SERVER_DOWN_RULES = frozenset({"crash-loop", "container-failed", "oom-killed", "cuda-oom", "image-pull",
                               "container-config", "init-container-failed", "pod-failed", "unschedulable",
                               "replicas-short", "readiness-probe", "probe-failed", "service-selects-nothing"})
# What a failure says it depended on -> the pods of the cluster component that provides it, by their usual names:
# a name lookup (CoreDNS), the resource metrics API an HPA reads (metrics-server, prometheus-adapter, KEDA), a volume
# an external provisioner creates (a CSI controller, local-path-provisioner).
PROVIDERS: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...] = (
    (re.compile(re.escape(SIGNATURE_BY_RULE["dns-failure"].cause)), re.compile(r"^(?:coredns|kube-dns|node-?local-?dns)")),
    (re.compile(r"metrics\.k8s\.io|unable to fetch metrics|failed to get (?:cpu|memory) utilization"),
     re.compile(r"^(?:metrics-server|prometheus-adapter|keda-operator-metrics-apiserver)")),
    (re.compile(r"external provisioner"), re.compile(r"provisioner|csi-?controller|csi-[a-z0-9]+-controller")),
)
# A pod's GPU failure -> its node's GPU fault (an Xid, uncorrectable ECC errors, a GPU withheld by the device plugin).
GPU_POD_RULES = frozenset({"ecc-error", "gpu-off-bus", "nvml-unknown", "nccl-failure", "gpu-not-visible",
                           "crash-loop", "container-failed"})
GPU_NODE_RULES = frozenset({"gpu-xid", "gpu-ecc", "gpu-withheld"})
_GPU_WORDS = re.compile(r"\b(?:CUDA|GPU|NCCL|NVML|cuDNN|cuBLAS|Xid)\b")
# A node's clock problem as node-problem-detector reports it (NTPProblem, NTPIsDown, clock skew): a certificate "not
# yet valid" on a pod of that node is the skew seen from inside.
_CLOCK = re.compile(r"\bNTP|\bclock|chrony|time ?sync", re.IGNORECASE)
# A CSI driver's node plugin pods carry "csi" in their name (ebs-csi-node, pdcsi-node, csi-rbdplugin,
# longhorn-csi-plugin): a driver not registered on a node <- the failing plugin pod on that node.
CSI_PLUGIN = "csi"


# cluster-autoscaler's NotTriggerScaleUp event on a pod: `pod didn't trigger scale-up: 1 max node group size reached`.
AT_MAX_SIZE = "max node group size reached"


def link(findings: list[Finding]) -> None:
    """Relate findings that explain each other: pod -> node -> GPU, pending pod -> claim or shortage, job -> pod,
    a GPU node without GPUs -> the failing driver pods on it, a stuck drain -> the eviction it retries, the
    pods of one namespace failing with the same signature (one shared dependency), a pending pod no node group may
    grow for -> the autoscaler's report of the group at its maximum, a client's report of its
    server's failure -> the server's own finding, a client's failure to reach (or resolve, or pull from) a pod or
    Service -> that server's failure to run, a failed DNS lookup, metrics an HPA cannot read or a volume not provisioned -> the
    failure of CoreDNS, metrics-server or the provisioner, a pod's GPU failure -> its
    node's GPU fault, a pod's sandbox -> the CNI agent's failure on its node, a CSI driver not registered on a node
    -> the failing CSI node plugin pod there, a certificate not yet valid -> its node's clock problem, and findings
    about one object to each other."""
    nodes = [f for f in findings if f.kind == "Node"]
    for finding in findings:
        for other in _related(finding, findings, nodes):
            _relate(finding, other)


def _related(finding: Finding, findings: list[Finding], nodes: list[Finding]) -> Iterator[Finding]:
    rule, cause = finding.rule, finding.cause
    if rule == "unschedulable":
        yield from (o for o in findings if o.kind == "PersistentVolumeClaim" and o.namespace == finding.namespace
                    and o.name in cause)
        yield from (node for node in nodes if _blocks_scheduling(node, cause))
        if AT_MAX_SIZE in cause:  # the autoscaler's event says a group is at its maximum; its log says which
            yield from (o for o in findings if o.rule == "autoscaler-group-at-max")
        if AWAITS_NODE in cause:  # a node is on its way for it; the cloud may have none to give
            yield from (o for o in findings if o.rule == "cloud-capacity")
    elif rule == "pod-evicted":
        yield from (node for node in nodes if node.name == finding.node and node.rule == "node-pressure")
    elif rule in OWNER_RULES:
        yield from (o for o in findings if _owned(o, finding) or (
            o.kind == "ReplicaSet" and o.namespace == finding.namespace and o.name.startswith(f"{finding.name}-")))
    elif rule == "gpu-withheld":
        yield from (node for node in nodes if node.name == finding.name and node.rule == "gpu-xid")
    elif rule == "gpu-missing":
        yield from (o for o in findings if o.kind == "Pod" and o.node == finding.name)
    elif rule == "node-cordoned":
        yield from (o for o in findings if o.rule == "eviction-blocked" and o.node == finding.name)
    if rule in LOG_RULES and finding.kind == "Pod":
        yield from (o for o in findings if o.rule == rule and o.kind == "Pod" and o.namespace == finding.namespace)
    if rule in SERVER_RULES:
        yield from (o for o in findings if o.rule in SERVER_RULES[rule] and o.namespace == finding.namespace)
    if rule in NODE_AGENT_RULES and finding.node:
        yield from (o for o in findings if o.rule in NODE_AGENT_RULES[rule] and o.node == finding.node)
    if rule in CLIENT_RULES or rule in CRASH_RULES or _providers(finding):
        yield from (o for o in findings if server_down(o, finding))
    if rule in GPU_POD_RULES and finding.kind == "Pod" and finding.node and _GPU_WORDS.search(_said(finding)):
        yield from (node for node in nodes if node.name == finding.node and node.rule in GPU_NODE_RULES)
    if rule == "x509-not-yet-valid" and finding.node:
        yield from (node for node in nodes if node.name == finding.node and _CLOCK.search(node.cause))
    if rule == "csi-driver-missing" and finding.node:
        yield from (o for o in findings if o.kind == "Pod" and o.node == finding.node and CSI_PLUGIN in o.name)
    yield from (o for o in findings if o.kind == finding.kind and o.namespace == finding.namespace
                and o.name == finding.name)  # two findings about one object explain each other


# A cluster component failing to reach what it forwards to: a DNS cache whose upstream resolvers time out fails
# every lookup it is asked, so that failure explains its clients' as much as its own crash would.
UPSTREAM_RULES = frozenset({"network-timeout", "connection-refused", "dns-failure"})


def server_down(server: Finding, client: Finding) -> bool:
    """Whether `server` is the failure to run of what `client` failed to reach: a pod or Service its lines address,
    or the cluster component its failure says it depended on (`PROVIDERS`), failing to run or to reach its own
    upstream. A directed link: the server's failure explains the client's."""
    if server is client or server.severity == INFO:
        return False
    if server.rule in SERVER_DOWN_RULES and client.addressed and serves(server.kind, server.namespace, server.name,
                                                                        client.addressed):
        return True
    return (server.kind == "Pod" and server.rule in SERVER_DOWN_RULES | UPSTREAM_RULES
            and any(names.search(server.name) for names in _providers(client)))


def _providers(finding: Finding) -> list[re.Pattern[str]]:
    """The name patterns of the components a finding says it depended on."""
    said = " ".join([finding.cause, *(item.text for item in finding.evidence)])
    return [names for needs, names in PROVIDERS if needs.search(said)]


def _said(finding: Finding) -> str:
    return " ".join([finding.cause, *(item.text for item in finding.evidence)])


_GPU_SHORTAGE = re.compile(r"Insufficient [\w.-]+/gpu\b")


def _blocks_scheduling(node: Finding, cause: str) -> bool:
    """Whether a node finding explains a pending pod's scheduler message (`cause`): a GPU node's fault explains a
    shortage of GPUs, not a GPU taint the pod does not tolerate."""
    return (
        (node.rule in ("gpu-withheld", "gpu-xid") and bool(_GPU_SHORTAGE.search(cause)))
        or (node.rule == "gpu-missing" and f"Insufficient {node.evidence[0].text.partition(' ')[0]}" in cause)
        or ("unreachable" in cause and node.rule == "node-not-ready")
        or ("unschedulable" in cause and node.rule == "node-cordoned")
    )
