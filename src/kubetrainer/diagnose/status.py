"""Read back the status text `sources.render` writes, as structured facts.

Records carry an object's status as one readable line (that is what gets embedded and
shown); the renderer's vocabulary is small and fixed, so the diagnosis reads it back
here rather than needing the raw object. Tests render real Kubernetes objects with the
renderer and parse them with these functions, so the two cannot drift apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kubetrainer.sources.render import NONE_REGISTERED

_CONTAINER = re.compile(
    r"^(?P<init>init )?container (?P<name>\S+) (?P<state>waiting|terminated|running)"
    r"(?::\s*(?P<reason>[\w:]+))?(?: exit code (?P<code>-?\d+))?(?: \((?P<message>.*?)\))?(?P<notready>, not ready)?"
    r"(?:, (?P<restarts>\d+) restarts)?(?:, last terminated: (?P<last>\w+) exit code (?P<last_code>-?\w+))?$"
)
_RESTARTS = re.compile(
    r"^(?P<restarts>\d+) restarts(?:, last terminated: (?P<last>\w+) exit code (?P<last_code>-?\w+))?$"
)
_PHASE = re.compile(r"^phase (?P<phase>\w+)(?:, (?P<reason>\w+): (?P<message>.*))?$")
_ENV = re.compile(r"^env (?P<container>[\w.-]+): ")
_CONDITION = re.compile(r"(?P<type>\w+)=(?P<status>True|False|Unknown)(?: \((?P<detail>[^)]*)\))?")


@dataclass
class ContainerStatus:
    name: str
    init: bool
    state: str  # waiting | terminated | running
    reason: str = ""
    exit_code: int | None = None
    message: str = ""
    ready: bool = True
    restarts: int = 0
    last_reason: str = ""
    last_exit_code: int | None = None
    text: str = ""  # the clause as rendered, quoted as evidence

    @property
    def label(self) -> str:
        return f"{'init container' if self.init else 'container'} {self.name}"


@dataclass
class PodStatus:
    scheduled: bool
    phase: str = "Unknown"
    reason: str = ""
    message: str = ""
    conditions: dict[str, str] = field(default_factory=dict)
    containers: list[ContainerStatus] = field(default_factory=list)
    claims: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    gpu_limits: str = ""
    jvm_heap: str = ""  # `-Xmx512m`
    v8_heap: str = ""  # `--max-old-space-size=256`
    memory_limits: dict[str, str] = field(default_factory=dict)  # container -> `384Mi`
    shm: str = ""  # what is mounted at /dev/shm (`emptyDir Memory, sizeLimit 8Gi`), "" for nothing
    ip: str = ""
    env: dict[str, str] = field(default_factory=dict)  # container -> its `env app: KEY=value, ...` clause


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _clauses(summary: str) -> tuple[str, list[str]]:
    head, _, rest = summary.rstrip(".").partition(": ")
    return head, [clause.strip() for clause in rest.split("; ") if clause.strip()]


def parse_pod(summary: str) -> PodStatus:
    """The pod's phase, conditions and containers from a `render_pod` line."""
    head, clauses = _clauses(summary)
    status = PodStatus(scheduled="(not scheduled to a node)" not in head)
    for clause in clauses:
        if match := _PHASE.match(clause):
            status.phase, status.reason, status.message = match["phase"], match["reason"] or "", match["message"] or ""
        elif clause.startswith("conditions "):
            status.conditions = {m["type"]: m["status"] for m in _CONDITION.finditer(clause)}
        elif match := _CONTAINER.match(clause):
            status.containers.append(
                ContainerStatus(
                    name=match["name"],
                    init=bool(match["init"]),
                    state=match["state"],
                    reason=match["reason"] or "",
                    exit_code=_int(match["code"]),
                    message=match["message"] or "",
                    ready=not match["notready"],
                    restarts=int(match["restarts"] or 0),
                    last_reason=match["last"] or "",
                    last_exit_code=_int(match["last_code"]),
                    text=clause,
                )
            )
        elif (match := _RESTARTS.match(clause)) and status.containers:
            last = status.containers[-1]
            last.restarts = int(match["restarts"])
            last.last_reason, last.last_exit_code = match["last"] or "", _int(match["last_code"])
            last.text += f"; {clause}"
        elif clause.startswith("volume claims "):
            status.claims = clause.removeprefix("volume claims ").split(", ")
        elif clause.startswith("images "):
            status.images = clause.removeprefix("images ").split(", ")
        elif clause.startswith("GPU limits "):
            status.gpu_limits = clause.removeprefix("GPU limits ")
        elif clause.startswith("JVM heap "):
            status.jvm_heap = clause.removeprefix("JVM heap ")
        elif clause.startswith("Node.js heap "):
            status.v8_heap = clause.removeprefix("Node.js heap ")
        elif clause.startswith("memory limits "):
            pairs = (pair.partition("=") for pair in clause.removeprefix("memory limits ").split(", "))
            status.memory_limits = {name: limit for name, _, limit in pairs}
        elif clause.startswith("/dev/shm "):
            status.shm = clause.removeprefix("/dev/shm ")
        elif clause.startswith("pod IP "):
            status.ip = clause.removeprefix("pod IP ")
        elif match := _ENV.match(clause):
            status.env[match["container"]] = clause
    return status


@dataclass
class NodeStatus:
    ready: bool
    ready_detail: str = ""
    cordoned: bool = False
    pressure: dict[str, str] = field(default_factory=dict)  # MemoryPressure -> detail
    conditions: dict[str, str] = field(default_factory=dict)  # other conditions that are True (node-problem-detector's)
    gpus_unallocatable: list[tuple[str, int, int]] = field(default_factory=list)  # (resource, allocatable, capacity)
    gpus_missing: list[tuple[str, str]] = field(default_factory=list)  # (resource, labelled product): none registered
    taints: list[str] = field(default_factory=list)
    gpu: str = ""  # the labelled GPU product, its memory in its name: `NVIDIA L4 24GB`
    platform: str = ""  # its OS and CPU architecture as images name theirs: `linux/arm64`
    system: str = ""  # its OS image and kernel: `Windows Server 2022 Datacenter, kernel 10.0.20348.2340`


_NOT_READY = re.compile(r": NotReady(?: \(Ready=(?P<detail>[^)]*)\))?")
_GPU_SHORT = re.compile(r"(?P<resource>[\w.-]+/[\w.-]+) (?P<allocatable>\d+) of (?P<capacity>\d+) allocatable")
_GPU_IDENTITY = re.compile(r"; GPU (?P<gpu>[^;,]+?)\.?(?=[;,]|$)")
_PLATFORM = re.compile(r"\bplatform (?P<platform>\w+/\w+)")
_SYSTEM = re.compile(r"; (?P<system>[^;,]+, kernel [^,;]+)")
_GPU_MISSING = re.compile(rf"(?P<resource>[\w.-]+/[\w.-]+) 0 \(labelled (?P<product>.+?) GPUs, {NONE_REGISTERED}\)")


def parse_node(summary: str) -> NodeStatus:
    """Readiness, cordon, pressure conditions, GPUs below capacity, GPU product, platform, OS and taints from a
    `render_node` line."""
    not_ready = _NOT_READY.search(summary)
    status = NodeStatus(ready=not_ready is None, ready_detail=(not_ready["detail"] or "") if not_ready else "")
    status.cordoned = "cordoned (unschedulable)" in summary
    for match in _CONDITION.finditer(summary):
        if match["status"] != "True" or match["type"] == "Ready":
            continue
        if match["type"].endswith("Pressure") or match["type"] == "NetworkUnavailable":
            status.pressure[match["type"]] = match["detail"] or ""
        else:
            status.conditions[match["type"]] = match["detail"] or ""
    status.gpus_unallocatable = [
        (m["resource"], int(m["allocatable"]), int(m["capacity"])) for m in _GPU_SHORT.finditer(summary)
    ]
    status.gpus_missing = [(m["resource"], m["product"]) for m in _GPU_MISSING.finditer(summary)]
    identity = _GPU_IDENTITY.search(summary)
    status.gpu = identity["gpu"].strip() if identity else ""
    platform = _PLATFORM.search(summary)
    status.platform = platform["platform"] if platform else ""
    system = _SYSTEM.search(summary)
    status.system = system["system"] if system else ""
    _, _, taints = summary.rstrip(".").partition("; taints ")
    status.taints = [t for t in taints.split(", ") if t] if taints else []
    return status


_REPLICAS = re.compile(r": (?P<ready>\d+)/(?P<desired>\d+) (?:replicas )?ready")
_JOB = re.compile(r": (?P<succeeded>\d+) succeeded, (?P<failed>\d+) failed, (?P<active>\d+) active")


def workload_counts(summary: str) -> tuple[int, int] | None:
    """(ready, desired) of a Deployment, StatefulSet, ReplicaSet or DaemonSet line."""
    match = _REPLICAS.search(summary)
    return (int(match["ready"]), int(match["desired"])) if match else None


def job_counts(summary: str) -> tuple[int, int, int] | None:
    """(succeeded, failed, active) of a Job line."""
    match = _JOB.search(summary)
    return (int(match["succeeded"]), int(match["failed"]), int(match["active"])) if match else None


def claim_phase(summary: str) -> str:
    match = re.search(r": (\w+), ", summary)
    return match.group(1) if match else "Unknown"
