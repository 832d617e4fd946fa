"""Node and GPU rules: NotReady, pressure, cordons, GPUs withheld by the device plugin, Xid and ECC.

GPU problems are reported on the node that holds the GPU (with the GPU's id), whether they
come from the device plugin's or the kernel's log lines or from DCGM telemetry.
"""

from __future__ import annotations

import re

from kubetrainer.diagnose.collect import ObjectFacts
from kubetrainer.diagnose.finding import Evidence, Finding
from kubetrainer.diagnose.knowledge import CRITICAL, WARNING, XID_HARDWARE, xid_fix, xid_meaning
from kubetrainer.diagnose.status import parse_node
from kubetrainer.sources.render import NONE_REGISTERED

XID_METRIC = "DCGM_FI_DEV_XID_ERRORS"
ECC_DBE_METRIC = "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL"
PRESSURE_MEANINGS = {
    "MemoryPressure": "the node is low on memory; the kubelet evicts pods, lowest priority first, until it recovers",
    "DiskPressure": "the node's root or image filesystem is nearly full; the kubelet garbage-collects images and evicts pods",
    "PIDPressure": "the node is running out of process ids; the kubelet evicts pods to free them",
    "NetworkUnavailable": "the node's network is not configured; pods there cannot reach the cluster network",
}


def _node_finding(
    facts: ObjectFacts,
    rule: str,
    severity: str,
    cause: str,
    meaning: str,
    fix: str,
    terms: tuple[str, ...],
    gpu: str | None = None,
) -> Finding:
    return Finding(
        rule=rule,
        severity=severity,
        kind="Node",
        namespace=None,
        name=facts.name,
        cause=cause,
        meaning=meaning,
        fix=fix,
        terms=terms,
        node=facts.name,
        gpu=gpu,
    )


def _fragment(facts: ObjectFacts, text: str) -> Evidence:
    status = facts.status
    assert status is not None
    return Evidence(text, status.kind, None, facts.name, None, facts.name, status.ts, status.record)


HUNG_TASK = re.compile(r"task (?P<task>\S+?):\d+ blocked for more than \d+ seconds")
# Processes of the container runtime: when they hang, the kubelet's PLEG cannot relist containers and the node
# goes NotReady ("PLEG is not healthy"), though the kubelet itself still runs.
RUNTIME_TASKS = re.compile(r"^(?:containerd(?:-shim\S*)?|dockerd|crio|conmon|runc)$")


def _name_hung_tasks(finding: Finding, facts: ObjectFacts, used: set[str]) -> None:
    """A NotReady node whose kernel reports hung tasks (node-problem-detector's TaskHung events, or the kernel log
    line itself) is explained by them: the runtime's tasks first, then what else hangs (a filesystem journal says
    the disk stalled)."""
    lines = [event for event in facts.events if HUNG_TASK.search(event.text)]
    lines += [item for logs in facts.logs.values() if (hits := logs.signatures.get("hung-task"))
              for item in hits.variants.values()]
    tasks = dict.fromkeys(match["task"] for item in lines if (match := HUNG_TASK.search(item.text)))
    if not tasks:
        return
    ranked = sorted(tasks, key=lambda task: RUNTIME_TASKS.match(task) is None)
    finding.cause += (f"; the kernel reports tasks blocked for more than 120 seconds: {', '.join(ranked[:3])}"
                      + (" (the container runtime is hung, so the kubelet cannot relist containers)"
                         if RUNTIME_TASKS.match(ranked[0]) else ""))
    finding.terms = (*finding.terms, "blocked", ranked[0])
    for task in ranked[:2]:
        finding.add_evidence(next(item for item in lines if f"task {task}:" in item.text))
    used.update(event.text for event in lines)


def node_findings(facts: ObjectFacts, used: set[str]) -> list[Finding]:
    """Findings from a node's status and warning events; explained event texts go into `used`."""
    found: list[Finding] = []
    events = {event.text: event for event in facts.events}

    def take(*reasons: str) -> list[Evidence]:
        hits = [event for text, event in events.items() if facts.reasons.get(text) in reasons]
        used.update(event.text for event in hits)
        return hits

    status = parse_node(facts.status.text) if facts.status else None
    if status and not status.ready:
        finding = _node_finding(
            facts,
            "node-not-ready",
            CRITICAL,
            f"node {facts.name} is NotReady" + (f" ({status.ready_detail.strip()})" if status.ready_detail else ""),
            "its kubelet stopped reporting; new pods are not scheduled there and its pods are not running",
            "check the node's kubelet, container runtime and network; drain it if it does not recover",
            ("NotReady", "not ready", "down"),
        )
        finding.add_evidence(
            _fragment(facts, "NotReady" + (f" (Ready={status.ready_detail})" if status.ready_detail else ""))
        )
        for event in take("NodeNotReady", "NodeStatusUnknown"):
            finding.add_evidence(event)
        _name_hung_tasks(finding, facts, used)
        found.append(finding)
    for condition, detail in status.pressure.items() if status else ():
        finding = _node_finding(
            facts,
            "node-pressure",
            CRITICAL if condition == "MemoryPressure" else WARNING,
            f"node {facts.name} reports {condition}" + (f" ({detail})" if detail else ""),
            PRESSURE_MEANINGS.get(condition, "the node is short of a resource"),
            "free the resource on the node or move workloads; set requests to real usage",
            (condition, "pressure"),
        )
        finding.add_evidence(_fragment(facts, f"{condition}=True" + (f" ({detail})" if detail else "")))
        for event in take(
            "EvictionThresholdMet", "NodeHasDiskPressure", "NodeHasInsufficientMemory", "FreeDiskSpaceFailed"
        ):
            finding.add_evidence(event)
        found.append(finding)
    for condition, detail in (status.conditions.items() if status else ()):
        finding = _node_finding(facts, "node-condition", WARNING,
                                f"node {facts.name} reports {condition}" + (f" ({detail})" if detail else ""),
                                "a node health check (node-problem-detector or the kubelet) reports a problem on the node",
                                "read the condition's reason and message; fix the node or drain it", (condition,))
        finding.add_evidence(_fragment(facts, f"{condition}=True" + (f" ({detail})" if detail else "")))
        for event in take(condition):
            finding.add_evidence(event)
        found.append(finding)
    if status and status.cordoned:
        finding = _node_finding(
            facts,
            "node-cordoned",
            WARNING,
            f"node {facts.name} is cordoned (SchedulingDisabled)",
            "no new pods are placed on it; pods that need its resources stay Pending",
            "uncordon it (kubectl uncordon) once maintenance is over",
            ("cordon", "unschedulable", "SchedulingDisabled"),
        )
        finding.add_evidence(_fragment(facts, "cordoned (unschedulable)"))
        found.append(finding)
    for resource, allocatable, capacity in status.gpus_unallocatable if status else ():
        finding = _node_finding(
            facts,
            "gpu-withheld",
            CRITICAL,
            f"node {facts.name} offers {allocatable} of its {capacity} {resource}: "
            f"the device plugin marked {capacity - allocatable} unhealthy",
            "an unhealthy GPU is withheld from scheduling; usually a hardware or driver fault (see its Xid)",
            "find the failed GPU (Xid in the device plugin or kernel log), drain the node and reset or replace it",
            ("unhealthy", "allocatable", "GPU"),
        )
        finding.add_evidence(_fragment(facts, f"{resource} {allocatable} of {capacity} allocatable"))
        found.append(finding)
    for resource, product in status.gpus_missing if status else ():
        finding = _node_finding(
            facts,
            "gpu-missing",
            CRITICAL,
            f"node {facts.name} is labelled with {product} GPUs but registers no {resource}: "
            "its GPU driver or device plugin is not working",
            "the node's GPUs cannot be scheduled: the device plugin registers none, which happens when the driver "
            "(kernel module) is not loaded or the device plugin is not running there",
            "check the driver and device plugin pods on this node (their logs name the failure), fix and restart them",
            ("driver", "device plugin", "none registered", "no GPU"),
        )
        finding.add_evidence(_fragment(facts, f"{resource} 0 (labelled {product} GPUs, {NONE_REGISTERED})"))
        found.append(finding)
    found += telemetry_findings(facts)
    return found


def xid_finding(node: str, code: int, device: str, first: Evidence, last: Evidence, count: int) -> Finding:
    """A GPU's Xid error, seen in a device plugin, DCGM or kernel log line on `node`."""
    meaning = xid_meaning(code) or "an Xid code outside NVIDIA's published catalogue"
    gpu = device or None
    finding = Finding(
        rule="gpu-xid",
        severity=CRITICAL if code in XID_HARDWARE else WARNING,
        kind="Node",
        namespace=None,
        name=node,
        cause=f"GPU {device + ' ' if device else ''}on node {node} reported Xid {code}: {meaning}",
        meaning=meaning,
        fix=xid_fix(code),
        terms=(f"Xid {code}", f"Xid={code}", "Xid"),
        node=node,
        gpu=gpu,
        count=count,
    )
    finding.add_evidence(first)
    finding.add_evidence(last)
    return finding


def telemetry_findings(facts: ObjectFacts) -> list[Finding]:
    """Xid and uncorrectable ECC counters from DCGM-style GPU records."""
    found = []
    for gpu, metrics in sorted(facts.gpu_metrics.items()):
        code = int(metrics.get(XID_METRIC, 0))
        if code:
            text = f"GPU {gpu} {XID_METRIC}={code}"
            item = Evidence(text, "gpu", None, facts.name, None, facts.name)
            found.append(xid_finding(facts.name, code, f"GPU {gpu}", item, item, 1))
        ecc = metrics.get(ECC_DBE_METRIC, 0)
        if ecc:
            finding = _node_finding(
                facts,
                "gpu-ecc",
                CRITICAL,
                f"GPU {gpu} on node {facts.name} has {ecc:g} uncorrectable ECC errors",
                "the GPU memory has uncorrectable errors: a hardware fault",
                "drain the node and have the GPU reset or replaced",
                ("ECC",),
                gpu=gpu,
            )
            finding.add_evidence(
                Evidence(f"GPU {gpu} {ECC_DBE_METRIC}={ecc:g}", "gpu", None, facts.name, None, facts.name)
            )
            found.append(finding)
    return found
