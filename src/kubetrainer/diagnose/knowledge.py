"""What KubeTrainer knows about failures: the one catalogue every stage reads.

Logs and events speak in codes ("Xid=79", "exit code 137", "x509: certificate has
expired"); people ask "has a GPU gone bad?". Each `Signature` pairs a real message
format (Kubernetes, the kubelet, NVIDIA drivers, NCCL, Go and Python runtimes) with
what it means in plain words, the words that state the cause, and what to do. The
diagnosis rules (`diagnose.logs`, `diagnose.objects`, `diagnose.events`) turn them into
findings; retrieval (`rag.chunk`) adds the meaning of coded signatures to problem
chunks, so on-call phrasing meets coded lines. A signature already in plain words
("Back-off restarting failed container") is not explained there: repeating a symptom
would rank it above the chunk that holds its cause. Xid meanings follow NVIDIA's Xid
catalogue (docs.nvidia.com/deploy/xid-errors). Nothing here names a particular cluster.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CRITICAL, WARNING, INFO = "critical", "warning", "info"
SEVERITY_ORDER = {CRITICAL: 0, WARNING: 1, INFO: 2}

# NVIDIA Xid code -> what it means for the GPU. Hardware-class codes say so: the node needs draining.
XID_MEANINGS: dict[int, str] = {
    13: "graphics engine exception (usually an application fault, sometimes a driver or hardware fault)",
    31: "GPU memory page fault (an application accessed an illegal address)",
    32: "invalid or corrupted push buffer stream (driver or PCIe fault)",
    38: "driver firmware error",
    43: "GPU stopped processing (the application faulted)",
    45: "preemptive cleanup after an earlier error",
    48: "double-bit ECC error: uncorrectable GPU memory error, a GPU hardware failure",
    61: "internal micro-controller breakpoint: firmware fault, reset the GPU",
    62: "internal micro-controller halt: firmware fault, reset the GPU",
    63: "ECC page retirement or row remapping recorded: the GPU memory is degrading",
    64: "ECC page retirement or row remapping failed: a GPU hardware failure",
    74: "NVLink error: a GPU interconnect hardware failure",
    79: "the GPU has fallen off the bus: a GPU hardware failure (PCIe, power or overheating)",
    92: "high single-bit ECC error rate: the GPU memory is degrading",
    94: "contained ECC error: a GPU memory hardware error, the affected application was stopped",
    95: "uncontained ECC error: a GPU memory hardware failure, reset the GPU",
    119: "GSP RPC timeout: the GPU firmware stopped responding",
    120: "GSP error: a GPU firmware fault",
}
# Codes NVIDIA classes as hardware or firmware faults: drain the node and have the GPU checked or reset.
XID_HARDWARE = frozenset({48, 61, 62, 64, 74, 79, 95, 119, 120})
XID = re.compile(r"\bXid\b(?:\s*\(PCI:[^)]*\))?\s*[:=]?\s*(\d+)", re.IGNORECASE)
GPU_DEVICE = re.compile(r"\b(GPU-[0-9a-fA-F-]{6,}|PCI:[0-9a-fA-F:.]+)")


def xid_meaning(code: int) -> str | None:
    return XID_MEANINGS.get(code)


def xid_fix(code: int) -> str:
    if code in XID_HARDWARE:
        return "cordon and drain the node, then reset or replace the GPU (nvidia-smi -r, or a hardware ticket)"
    return "check the application that ran on the GPU; if the code repeats across jobs, reset the GPU"


# Substrings of lower-cased log lines that mark a problem worth keeping verbatim. Plain
# substring tests are several times faster than one case-insensitive regex, and logs are
# millions of lines.
PROBLEM_WORDS = (
    "error",
    "fatal",
    "panic",
    "exception",
    "traceback",
    "fail",
    "warn",
    "critical",
    "oom",
    "killed",
    "refused",
    "denied",
    "unauthori",
    "forbidden",
    "timeout",
    "timed out",
    "unhealthy",
    "x509",
    "xid",
    "expired",
    "no such host",
    "unable",
    "invalid",
    "crash",
    "segfault",
    "backoff",
    "back-off",
    "out of memory",
    "unavailable",
    "unreachable",
    "already in use",
    "no healthy upstream",
    "fallen off the bus",
    "client-side throttling",
    "too frequently",  # PostgreSQL's `LOG:  checkpoints are occurring too frequently`
    "blocked for more than",  # the kernel's hung-task detector: `INFO: task containerd:1187 blocked for more ...`
    "is sealed",  # `* Vault is sealed`, the body line under Vault's `Error making API request.`
    "see a majority",  # mongod's `Not standing for election because I cannot see a majority` (an info line)
    "delaying inserting block",  # ClickHouse's early warning before TOO_MANY_PARTS (an information line)
    "thermal slowdown",  # nvidia-smi -q `HW Thermal Slowdown : Active` (a GPU's clock event reasons, no level)
    "max size reached",  # cluster-autoscaler at info level: `Skipping node group <id> - max size reached`
    "thermal_slowdown",  # NVML's reason names as monitors print them: `reasons=HW_SLOWDOWN,HW_THERMAL_SLOWDOWN`
    # failures said without a level or a problem word: wget's `Cannot write to '/models/x.gguf' (No space left on
    # device).`, `Operation not permitted`, `Too many open files`, `Read-only file system`, `context deadline exceeded`
    "cannot ",
    "no space left",
    "not permitted",
    "too many open files",
    "read-only file system",
    "exceeded",
    "connection reset",
    "broken pipe",
    "corrupt",
    "abort",  # `Aborted (core dumped)`, vLLM's `Aborted request chatcmpl-...` when its client went away
)
# A launcher's report that the child it ran failed (torchrun's ChildFailedError, Python's CalledProcessError): the
# child's own error, logged before it, is the cause.
WRAPPER_ERROR = re.compile(r"\b(?:ChildFailedError|CalledProcessError|ProcessExitedException)\b")
EXCEPTION_LINE = re.compile(r"\b\w+(?:Error|Exception): \S")  # `[rank0]: RuntimeError: No HIP GPUs are available`
# containerd's and Docker's answer when an image index has no build for the node's OS, architecture or (on Windows)
# OS version: `no match for platform in manifest: not found`, `no matching manifest for windows/amd64 10.0.20348`.
NO_PLATFORM_MATCH = re.compile(r"no match for platform in manifest|no matching manifest for", re.IGNORECASE)
KLOG_PROBLEM = re.compile(r"^[EWF]\d{4} ")
# TensorFlow's and absl's C++ log prefix: `2026-03-14 07:10:06.919466: W tensorflow/core/.../gpu_device.cc:2211]`
CC_PROBLEM = re.compile(r": [EWF] [\w/.-]+\.(?:cc|cpp|h):\d+\]")

# Phrases the status renderer (sources.render) writes only when an object is unhealthy.
UNHEALTHY_STATUS_MARKERS = (
    "NotReady",
    "Pressure=True",
    "PIDPressure=True",
    "waiting:",
    "terminated:",
    "last terminated",
    "restarts",
    "phase Pending",
    "phase Failed",
    "=False",
    "cordoned",
    "Evicted",
    "Lost",
    "failed",
)


def is_problem_line(line: str) -> bool:
    """Whether a log line reports a problem (klog E/W/F prefix, or a problem word)."""
    if KLOG_PROBLEM.match(line) or (".cc:" in line and CC_PROBLEM.search(line)):
        return True
    lowered = line.lower()
    return any(word in lowered for word in PROBLEM_WORDS)


def status_looks_unhealthy(summary: str) -> bool:
    """Whether a rendered object status says something is wrong."""
    return any(marker in summary for marker in UNHEALTHY_STATUS_MARKERS)


@dataclass(frozen=True)
class Signature:
    """A failure message format and what it means.

    `cause` is the plain one-line cause a finding states; `terms` are the words any
    correct explanation of it contains (one of them); `explain` says whether retrieval
    adds `meaning` to chunks holding it (coded signatures only); `in_logs` whether the
    log analyzer turns a matching log line into a finding; `generic` marks a symptom
    ("connection refused") that a more specific signature on the same line explains
    ("failed calling webhook ...: connection refused" is about the webhook); `covers` names the
    specific signatures a line of this one also matches but which it explains (NCCL's failing
    posix_fallocate in /dev/shm says "No space left on device" and "NCCL WARN", yet no disk is
    full and no network failed); `detail`
    finds the specifics a finding names (the verb and resource RBAC denied, the missing
    table), so "which permission is missing?" is answered by the finding itself; `settings`
    finds the start-up line that states what governs the failure (the -Xmx a heap exhaustion
    hit, the GPU a TensorRT engine was loaded on), which `diagnose.startup` quotes with it.
    """

    rule: str
    pattern: re.Pattern[str]
    cause: str
    meaning: str
    fix: str
    terms: tuple[str, ...]
    severity: str = WARNING
    explain: bool = True
    in_logs: bool = True
    generic: bool = False
    covers: tuple[str, ...] = ()
    detail: re.Pattern[str] | None = None
    settings: re.Pattern[str] | None = None

    def details(self, texts: list[str]) -> list[str]:
        """The specifics the lines name (which permission, which table), verbatim, each once."""
        if self.detail is None:
            return []
        return list(dict.fromkeys(match.group(0) for text in texts for match in self.detail.finditer(text)))


_PRIVILEGED_PORT = r"(?:[1-9]\d?|[1-9]\d\d|10[01]\d|102[0-3])"  # 1-1023


def _sig(rule: str, pattern: str, cause: str, meaning: str, fix: str, terms: tuple[str, ...], *,
         detail: str | None = None, settings: str | None = None, **options) -> Signature:
    return Signature(rule, re.compile(pattern, re.IGNORECASE), cause, meaning, fix, terms,
                     detail=re.compile(detail, re.IGNORECASE) if detail else None,
                     settings=re.compile(settings, re.IGNORECASE) if settings else None, **options)


SIGNATURES: tuple[Signature, ...] = (
    _sig(
        "oom-killed",
        r"OOMKilled|exit code 137|Out of memory: Killed process",
        "the container ran out of memory and was OOMKilled (exit code 137)",
        "out of memory: the container went over its memory limit and was killed; raise the limit or cut its usage",
        "raise the container's memory limit or reduce its memory use",
        ("OOMKilled", "out of memory", "memory limit"),
        severity=CRITICAL,
        in_logs=False,
    ),
    _sig(
        "cuda-oom",
        r"CUDA out of memory|(?:torch|cuda)\.OutOfMemoryError|CUDA error: out of memory|HIP out of memory"
        r"|\(error code out of memory\)",
        "the job ran out of GPU memory (CUDA out of memory)",
        "GPU memory exhausted: the job needs more GPU memory than is free (smaller batch, gradient checkpointing, a larger GPU)",
        "lower the batch size or sequence length, enable gradient checkpointing, or use a GPU with more memory",
        ("out of memory", "OutOfMemoryError", "GPU memory"),
        severity=CRITICAL,
    ),
    _sig(
        "jvm-oom",
        r"java\.lang\.OutOfMemoryError(?!: unable to create (?:new )?native thread)",
        "the Java program ran out of heap memory (java.lang.OutOfMemoryError)",
        "the JVM's own memory (its -Xmx heap, metaspace or native threads) is exhausted: the program fails inside "
        "the JVM, below the container's limit, so Kubernetes reports an error exit rather than OOMKilled",
        "raise -Xmx (or -XX:MaxRAMPercentage) within the container's memory limit, or cut the work's memory use",
        ("OutOfMemoryError", "heap", "Xmx"),
        severity=CRITICAL,
        settings=r"-Xmx\d|MaxRAMPercentage=|JAVA_TOOL_OPTIONS|JAVA_OPTS|JDK_JAVA_OPTIONS",
    ),
    _sig(
        "x509-expired",
        r"certificate has expired(?! or is not yet valid: current time \S+ is before)",
        "a TLS certificate has expired",
        "a TLS certificate expired: connections using it are refused until it is renewed",
        "renew the certificate (check the issuer, e.g. cert-manager, for why renewal failed)",
        ("expired", "certificate"),
        # what a TLS server logs of its certificate as it starts (Go's x509 fields, OpenSSL's `notAfter=`)
        settings=r"not ?after|valid until|expires?[ =:]|issuer",
    ),
    _sig(
        "x509-not-yet-valid",
        r"x509: certificate is not yet valid|certificate is not yet valid|"
        r"certificate has expired or is not yet valid: current time \S+ is before",
        "a TLS certificate is rejected as not yet valid: the clock of the host is behind (clock skew)",
        "a TLS certificate is not yet valid for this host's clock: the system time is wrong (clock skew, NTP)",
        "fix the node's time synchronisation (chrony/NTP) and restart the affected pods",
        ("not yet valid", "clock"),
    ),
    _sig(
        "x509-hostname",
        r"x509: certificate is valid for [^,]+(?:, [^,]+)*, not \S+|certificate is not valid for any names",
        "the server's TLS certificate does not cover the host name the client dialled",
        "the client reached a server whose certificate lists other names (a wrong Service or Ingress host, or a "
        "certificate issued for another name)",
        "issue the certificate for the name clients use (its SANs), or have clients use a name it covers",
        ("valid for", "host name", "certificate", "SAN"),
        detail=r"certificate is valid for [^,]+(?:, [^,]+)*, not [\w.-]+",
    ),
    _sig(
        "api-unauthorized",
        r"failed to list \*\S+: Unauthorized|You must be logged in to the server|Unable to authenticate the request",
        "the API server rejects the client's credentials (Unauthorized): its token is expired or invalid",
        "the API server does not accept the service account token or certificate the client presents (a rotated "
        "token, a deleted service account, or another cluster's credentials)",
        "restart the pod to mount a fresh service account token, or fix the kubeconfig's credentials",
        ("Unauthorized", "token", "credentials"),
    ),
    _sig(
        "x509-unknown-authority",
        r"certificate signed by unknown authority|unable to get local issuer certificate|self[- ]signed certificate in "
        r"certificate chain",
        "a TLS certificate is not trusted: it is signed by a CA the client does not know",
        "the client rejects the server's certificate because its issuing CA is not in the client's trust bundle",
        "add the issuing CA to the client's trust bundle (or fix the server to present a certificate from a trusted CA)",
        ("unknown authority", "not trusted", "CA"),
    ),
    _sig(
        "tls-peer-rejected",
        r"remote error: tls: (?:bad certificate|unknown certificate authority|certificate required)",
        "TLS handshakes fail because the peer rejects this side's certificate (it does not trust it)",
        "the other side of the connection (the client, for a server) rejects the certificate presented: it does not "
        "trust its issuer (its CA bundle lacks the CA) or the certificate does not match",
        "compare the certificate this side presents with the CA bundle the peer trusts; rotate one of them to match",
        ("bad certificate", "not trust", "CA"),
    ),
    _sig(
        "multi-attach",
        r"Multi-Attach error for volume",
        "the pod's volume is still attached to another node (Multi-Attach error)",
        "a ReadWriteOnce volume can be attached to one node at a time, and it is still attached to another node "
        "(usually where the pod ran before, or a stale VolumeAttachment)",
        "delete the old pod on the other node or wait for the detach; check `kubectl get volumeattachment` for a stale one",
        ("Multi-Attach", "another node", "ReadWriteOnce"),
        in_logs=False,
    ),
    _sig(
        "eviction-blocked",
        r"Cannot evict pod as it would violate the pod's disruption budget",
        "a node drain is blocked: evicting a pod would violate its PodDisruptionBudget",
        "the eviction API refuses to evict a pod while its PodDisruptionBudget allows no disruption, so the drain "
        "(and the reboot or upgrade waiting for it) retries forever",
        "restore the budget's healthy pods, or relax the PodDisruptionBudget (minAvailable / maxUnavailable)",
        ("disruption budget", "PodDisruptionBudget", "evict"),
    ),
    _sig(
        "kernel-module-missing",
        r"modprobe: FATAL: Module \S+ not found|Module \S+ not found in directory /lib/modules",
        "a kernel module cannot be loaded: it is not built for the node's running kernel",
        "the driver's kernel module does not exist for this kernel version, so the device (a GPU) stays unusable",
        "install the driver build for the node's kernel (or pin the kernel the driver supports) and reload it",
        ("kernel", "modprobe", "driver"),
        severity=CRITICAL,
    ),
    _sig(
        "dns-failure",
        # Node.js: ENOTFOUND for a name that does not exist, EAI_AGAIN when the DNS server did not answer in time
        r"no such host|NXDOMAIN|server misbehaving|Temporary failure in name resolution|UnknownHostException"
        r"|getaddrinfo (?:ENOTFOUND|EAI_AGAIN)|Name or service not known",
        "a DNS lookup fails: the service name does not resolve",
        "DNS lookup failure: a service name does not resolve, so calls to it fail",
        "check the service name and namespace, that the Service exists, and CoreDNS health",
        ("no such host", "DNS", "resolve"),
        detail=r"lookup [\w.-]+|UnknownHostException: [\w.-]+|getaddrinfo (?:ENOTFOUND|EAI_AGAIN) [\w.-]+",
    ),
    _sig(
        "image-pull",
        r"ImagePullBackOff|ErrImagePull|manifest unknown|pull access denied|Failed to pull image",
        "the container image cannot be pulled",
        "the container image cannot be pulled: wrong image name or tag, or missing registry credentials",
        "fix the image name or tag, or add imagePullSecrets for the registry",
        ("image", "pull"),
        in_logs=False,
    ),
    _sig(
        "insufficient-gpu",
        r"Insufficient (?:nvidia\.com|amd\.com|gpu\.intel\.com)/[\w.-]+",
        "no node has enough free GPUs for the pod",
        "not enough free GPUs: no node has the GPUs this pod requests, so it cannot be scheduled",
        "free GPUs (finished jobs, lower requests), add GPU nodes, or fix the requested GPU resource name",
        ("Insufficient", "GPU"),
        in_logs=False,
    ),
    _sig(
        "unbound-pvc",
        r"unbound immediate PersistentVolumeClaims|ProvisioningFailed|didn't find available persistent volumes",
        "the pod's volume claim is not bound",
        "storage not provisioned: the volume claim is not bound, so the pod cannot start",
        "fix the claim's storage class or provisioner, or create a matching PersistentVolume",
        ("unbound", "not bound", "storage"),
        in_logs=False,
    ),
    _sig(
        "nccl-failure",
        r"NCCL (?:WARN|error)|ncclSystemError|ncclInternalError|ncclRemoteError|collective operation timeout"
        r"|Watchdog caught collective operation timeout|NCCL communicator was aborted",
        "GPU collective communication (NCCL) failed or timed out between ranks",
        "GPU collective communication failed between ranks (network, NVLink or a stuck peer)",
        "check the network between the nodes (NCCL_SOCKET_IFNAME, firewall, InfiniBand), and whether one rank died first",
        ("NCCL", "collective", "timeout"),
        severity=CRITICAL,
    ),
    _sig(
        "node-pressure",
        r"(?:Memory|Disk|PID)Pressure=True|EvictionThresholdMet",
        "the node is short of memory, disk or process ids and evicts pods",
        "the node is short of memory, disk or process ids and evicts pods",
        "free resources on the node or move workloads; set requests so the scheduler accounts for usage",
        ("pressure", "evict"),
        in_logs=False,
    ),
    _sig(
        "node-not-ready",
        r"\bNotReady\b|NodeStatusUnknown",
        "the node is NotReady: its kubelet stopped reporting",
        "the node is down: its kubelet stopped reporting, and pods on it are not running",
        "check the node's kubelet, container runtime and network; drain it if it does not recover",
        ("NotReady", "down"),
        in_logs=False,
    ),
    # Plain-word symptoms: findings, never an index meaning line.
    _sig(
        "rbac-forbidden",
        r"is forbidden: User \"[^\"]+\" cannot [a-z]+ resource|\bforbidden: User\b|"
        r"cannot (?:get|list|watch|create|update|patch|delete) resource \"",
        "a request is denied by RBAC: the service account lacks a permission",
        "the Kubernetes API refused the call: the caller's Role/ClusterRole does not grant that verb on that resource",
        "grant the missing verb and resource to the service account (Role + RoleBinding), least privilege",
        ("forbidden", "RBAC", "permission"),
        explain=False,
        # klog's structured `err="..."` escapes the quotes: \"volumesnapshots\"
        detail=r'cannot [a-z]+ resource \\?"[^"\\]+\\?"(?: in API group \\?"[^"\\]*\\?")?'
        r'(?: in the namespace \\?"[^"\\]+\\?"| at the cluster scope)?',
    ),
    _sig(
        "connection-refused",
        r"connection refused|ECONNREFUSED",
        "connections to a dependency are refused: nothing is listening there",
        "the target address answered but nothing accepts connections on that port (the service is down or not ready)",
        "check that the dependency's pods are running and ready and that the Service port is right",
        ("connection refused", "refused"),
        explain=False,
        generic=True,
    ),
    _sig(
        "network-timeout",
        r"i/o timeout|context deadline exceeded|dial tcp [^ ]+: connect: connection timed out|"
        r"Connection timed out|ETIMEDOUT",
        "connections to a dependency time out: traffic is dropped on the way (NetworkPolicy, firewall) or the target hangs",
        "packets get no answer: a NetworkPolicy or firewall drops them, or the target is overloaded",
        "check NetworkPolicies in the source and target namespaces (egress and ingress) and the target's health",
        ("timeout", "timed out", "NetworkPolicy"),
        explain=False,
        generic=True,
    ),
    _sig(
        "quota-exceeded",
        # the API server's admission denial, as the controller's event and as any client that creates pods (a CI
        # runner, a workflow engine, a Spark driver) logs it; a cloud API's "Quota exceeded for ..." is not this
        r"exceeded quota: [\w.-]+",
        "pods cannot be created: the namespace's ResourceQuota is exhausted",
        "the namespace has used up its ResourceQuota, so the controller cannot create more pods",
        "raise the ResourceQuota, lower the pods' requests, or remove unused workloads in the namespace",
        ("quota",),
        explain=False,
        detail=r"exceeded quota: [\w.-]+, requested: [^,]+|exceeded quota: [\w.-]+",
    ),
    _sig(
        "autoscaler-group-at-max",
        # cluster-autoscaler's scale-up orchestrator, for each node group it may not grow while pods are unschedulable
        # (`Skipping node group eks-gpu-pool-asg - max size reached`); the pods' events say only "max node group
        # size reached", this line says which group
        r"Skipping node group \S+ - max size reached",
        "the cluster autoscaler cannot add nodes: the node group is at its maximum size",
        "the autoscaler grows a node group only up to its configured maximum; unschedulable pods that fit only there "
        "stay Pending",
        "raise the node group's maximum size (the cloud's auto scaling group or the autoscaler's --nodes flag), or let "
        "the pods fit another group",
        ("max size", "maximum size", "max node group size"),
        explain=False,
        detail=r"node group \S+(?= - max size reached)",
    ),
    _sig(
        "cloud-capacity",
        # the cloud's answer to a node autoscaler launching an instance: AWS EC2 Fleet's InsufficientInstanceCapacity
        # (Karpenter: `creating instance, insufficient capacity, with fleet error(s), InsufficientInstanceCapacity:
        # We currently do not have sufficient p5.48xlarge capacity in the Availability Zone you requested
        # (us-east-1a)...`), GCE's ZONE_RESOURCE_POOL_EXHAUSTED, Azure's SkuNotAvailable / AllocationFailed
        r"InsufficientInstanceCapacity|insufficient capacity|ZONE_RESOURCE_POOL_EXHAUSTED|SkuNotAvailable"
        r"|AllocationFailed|does not have enough resources available to fulfill the request",
        "the cloud has no capacity for the instance type the node autoscaler launches, so no node is added",
        "the cloud provider is out of that instance type in that zone (GPU instances most often): every launch "
        "fails, and pods waiting for the node stay Pending until capacity returns or another type or zone is allowed",
        "allow other zones or instance types in the NodePool / node group (the error names where capacity is), use a "
        "capacity reservation, or wait and retry",
        ("capacity", "InsufficientInstanceCapacity", "instance type"),
        detail=r"\b[a-z]+\d[a-z0-9-]*\.\d*x?large\b|(?:Availability Zone|zone) you requested \([\w-]+\)"
               r"|choosing [\w-]+(?:, [\w-]+)*",
    ),
    _sig(
        "kueue-not-admitted",
        # Kueue's `Pending` event on a Workload: `couldn't assign flavors to pod set main: insufficient unused quota
        # for nvidia.com/gpu in flavor h100-80gb, 8 more needed`
        r"couldn't assign flavors to pod set|insufficient unused quota for|insufficient quota for [\w./-]+ in flavor",
        "Kueue has not admitted the workload: its ClusterQueue lacks unused quota, so the Job stays suspended and "
        "creates no pods",
        "Kueue admits a workload only when its ClusterQueue (with what it may borrow from its cohort) has unused "
        "quota for every resource it requests; until then the Job is suspended and no pod exists",
        "wait for admitted workloads to finish, lower the request, raise the ClusterQueue's nominalQuota, or let it "
        "reclaim quota lent to its cohort (preemption.reclaimWithinCohort)",
        ("quota", "admitted", "Kueue"),
        in_logs=False,
        detail=r"insufficient (?:unused )?quota for [\w./-]+ in flavor [\w.-]+(?:, \d+ more needed)?",
    ),
    _sig(
        "probe-failed",
        r"(?:Readiness|Liveness|Startup) probe failed",
        "a health probe of the container fails",
        "a failing readiness probe takes the pod out of its Service; a failing liveness probe restarts the container",
        "check why the health endpoint fails (its dependencies) or fix the probe's path, port and timeouts",
        ("probe",),
        explain=False,
        in_logs=False,
    ),
    _sig(
        "mig-error",
        r"MIG (?:mode|config|configuration)[^\n]*(?:fail|error|invalid|not enabled|unsupported)|"
        r"nvidia-mig-manager[^\n]*(?:fail|error)|mig-parted[^\n]*(?:fail|error)|unable to (?:create|apply) MIG",
        "partitioning the GPU into MIG devices failed: the requested MIG configuration is invalid for this GPU or "
        "could not be applied",
        "the GPUs are not partitioned as the MIG profile requests, so MIG devices are missing",
        "fix the node's nvidia.com/mig.config label to a profile the GPU supports and let the MIG manager re-apply it",
        ("MIG",),
        severity=CRITICAL,
    ),
    _sig(
        "ecc-error",
        r"(?:uncorrectable|double[- ]bit) ECC|ECC error|row remapping failure",
        "the GPU reports ECC memory errors",
        "the GPU memory reports uncorrectable errors: a GPU hardware problem",
        "drain the node and have the GPU reset or replaced",
        ("ECC",),
        severity=CRITICAL,
    ),
    _sig(
        "gpu-thermal-slowdown",
        r"\b[HS]W[ _]Thermal[ _]Slowdown\b(?!\s*:\s*Not Active)",
        "a GPU is throttling its clocks because it is too hot (thermal slowdown)",
        "the GPU reached its slowdown temperature and cut its clocks; in a data-parallel job every rank waits for the "
        "slowest GPU at each all-reduce, so one hot GPU slows the whole job",
        "check the node's cooling (fans, airflow, inlet temperature) and that GPU's temperature; keep jobs off the GPU "
        "or drain the node until it is fixed",
        ("thermal", "throttl", "slowdown", "temperature"),
        detail=r"\bcuda:\d+|\bGPU \d+\b",
    ),
    _sig(
        "disk-full",
        r"no space left on device|ENOSPC",
        "a disk is full (no space left on device)",
        "writes fail because the filesystem is full",
        "free space or grow the volume; check the node's image and log garbage collection",
        ("no space left", "disk"),
        explain=False,
    ),
    _sig(
        "hung-task",
        # the kernel's hung-task detector, in the kernel log and as node-problem-detector's TaskHung event
        r"task \S+:\d+ blocked for more than \d+ seconds",
        "the kernel reports tasks hung in uninterruptible I/O (blocked for more than 120 seconds)",
        "processes wait on I/O that never completes: usually the disk or network storage under the node stalled",
        "check the node's disk (cloud volume health, I/O errors in dmesg); drain and reboot or replace the node",
        ("blocked for more than", "hung", "I/O"),
        explain=False,
    ),
    _sig(
        "too-many-files",
        r"too many open files|EMFILE",
        "the process ran out of file descriptors (too many open files)",
        "the process hit its open file limit",
        "raise the limit (ulimit -n) or fix the descriptor leak",
        ("too many open files",),
        explain=False,
        settings=r"open file limit|max open files|nofile|RLIMIT_NOFILE|ulimit -n",
    ),
    _sig(
        "db-auth",
        r"password authentication failed|Access denied for user|authentication failed for user",
        "the database rejected the credentials",
        "the application's database user or password is wrong or was rotated",
        "fix the credentials the application uses (its Secret) or the database user",
        ("authentication failed", "credentials", "password"),
        explain=False,
    ),
    _sig(
        "gpu-not-visible",
        r"Found no NVIDIA driver on your system|No CUDA GPUs are available|no CUDA-capable device is detected"
        r"|CUDA_ERROR_NO_DEVICE|NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver"
        r"|libcuda\.so(?:\.1)?: cannot open shared object file",
        "the container sees no NVIDIA GPU or driver",
        "a container gets a GPU, and the driver libraries the NVIDIA container toolkit mounts with it, only when it "
        "requests nvidia.com/gpu; without the request it sees no GPU even on a GPU node",
        "request the GPU in the container's resources.limits (nvidia.com/gpu: 1); if it does, check the node's "
        "device plugin and driver",
        ("no NVIDIA driver", "no GPU", "nvidia.com/gpu", "CUDA"),
        severity=CRITICAL,
    ),
    _sig(
        "nvml-mismatch",
        r"driver/library version mismatch|ERROR_LIB_RM_VERSION_MISMATCH",
        "the node's NVIDIA kernel module and its driver libraries are different versions (NVML: driver/library "
        "version mismatch)",
        "the NVIDIA driver was upgraded on the node but the old kernel module is still loaded; nothing on the node "
        "can use its GPUs (the device plugin and every GPU container fail) until they match",
        "drain and reboot the node (or unload and reload the nvidia kernel modules) so the loaded module matches "
        "the installed driver",
        ("version mismatch", "driver", "kernel module", "NVML"),
        severity=CRITICAL,
    ),
    _sig(
        "cronjob-skipped",
        r"Not starting job because prior execution is (?:running|still running) and concurrency policy is Forbid",
        "the CronJob skips its runs: its previous Job is still active and concurrencyPolicy is Forbid",
        "with concurrencyPolicy Forbid a CronJob starts no new Job while one is active, so one hung run blocks "
        "every later one",
        "find why the active Job does not finish (its pod's logs), delete it to unblock, and bound runs with "
        "activeDeadlineSeconds on the Job template",
        ("Forbid", "still active", "still running", "prior execution"),
        in_logs=False,
    ),
    _sig(
        "redis-misconf",
        r"MISCONF Redis is configured to save RDB snapshots",
        "Redis refuses writes because its last RDB snapshot failed (MISCONF, stop-writes-on-bgsave-error)",
        "Redis stops accepting writes while its background save (BGSAVE) fails; reads still work",
        "find in the Redis server's log why the save fails (permission denied or a full disk on its data directory) "
        "and fix that; writes resume after the next successful save",
        ("MISCONF", "RDB", "snapshot", "persist"),
        severity=CRITICAL,
    ),
    _sig(
        "redis-bgsave",
        r"Background saving error|Failed opening the (?:temp )?RDB file|Write error saving DB on disk"
        r"|Can't save in background",
        "Redis cannot save its RDB snapshot to disk",
        "Redis's background save fails; with stop-writes-on-bgsave-error (the default) it then refuses every write",
        "fix what the save error names: the data directory's permissions (fsGroup, the volume's owner), free space "
        "or memory for the fork",
        ("RDB", "saving", "snapshot", "save"),
    ),
    _sig(
        "kafka-poll-timeout",
        r"consumer poll timeout has expired|longer than the configured max\.poll\.interval\.ms|CommitFailedException",
        "the Kafka consumer spends longer than max.poll.interval.ms between polls, so the group drops it and rebalances",
        "a consumer that does not poll within max.poll.interval.ms is removed from its group; its partitions move, "
        "its offset commits fail (CommitFailedException) and the lag grows",
        "process fewer records per poll (max.poll.records) or faster, or raise max.poll.interval.ms",
        ("max.poll.interval.ms", "poll", "rebalanc"),
    ),
    _sig(
        "nccl-shm",
        r"include/shm\.h:\d+ NCCL WARN|Error while creating shared memory segment|NCCL WARN.*?/dev/shm"
        r"|transport/shm\.cc.*?NCCL WARN",
        "NCCL cannot create its shared-memory segments in /dev/shm: the container's /dev/shm is too small (64M unless a "
        "memory-backed volume is mounted there)",
        "NCCL passes data between the GPUs of one node through segments in /dev/shm, which a container gets at 64 MiB "
        "by default; with several GPUs the segments do not fit, posix_fallocate fails with 'No space left on device' "
        "and NCCL initialisation ends in ncclSystemError (unhandled system error)",
        "mount an emptyDir with medium: Memory at /dev/shm in the pod spec (a sizeLimit of a few GiB), or set "
        "NCCL_SHM_DISABLE=1 (slower)",
        ("/dev/shm", "shared memory"),
        severity=CRITICAL,
        covers=("nccl-failure", "disk-full"),
    ),
    _sig(
        "cuda-arch-mismatch",
        r"no kernel image is available for execution on the device|cudaErrorNoKernelImageForDevice"
        r"|CUDA capability sm_\d+ is not compatible with the current PyTorch installation"
        r"|hipErrorNoBinaryForGpu|Unable to find code object for all current devices",
        "the program's CUDA (or ROCm) build has no kernels for this node's GPU architecture (compute capability)",
        "a GPU program runs only on the architectures it was compiled for (PyTorch's TORCH_CUDA_ARCH_LIST, sm_80 for "
        "A100, sm_75 for T4); on another GPU generation every kernel launch fails",
        "schedule the pod on a supported GPU (nodeAffinity on the nvidia.com/gpu.product or compute-capability label) "
        "or use an image built for this GPU's architecture",
        ("kernel image", "compute capability", "architecture", "sm_"),
        severity=CRITICAL,
        settings=r"CUDA capability sm_\d+|supports CUDA capabilities|compute capabilit|\bsm_\d{2,3}\b|gfx\d{3,4}",
    ),
    _sig(
        "llm-request-aborted",
        # vLLM's engine, when the HTTP client of a request disconnects: `INFO 03-14 10:18:02 engine.py:291] Aborted
        # request chatcmpl-5f0c...`; what a proxy's read timeout (nginx's 60s default) looks like from the server
        r"\bAborted request (?:chatcmpl|cmpl)-",
        "the inference server aborted requests because their client (or a proxy in front of it) disconnected before "
        "the response was complete",
        "the server was still generating when the caller gave up: long generations (large max_tokens, no "
        "streaming) outlast a proxy's or client's timeout, so the caller sees a 504 while the model works",
        "stream the response, lower max_tokens, or raise the proxy's read timeout (ingress-nginx proxy-read-timeout) "
        "and the client's timeout above the longest generation",
        ("aborted", "disconnected", "timeout", "timed out"),
        # how long a generation may run: the request's token limit as vLLM logs it (`max_tokens=4096` among the
        # SamplingParams of `Received request`) or a client states it
        settings=r"\bmax_(?:completion_)?tokens\b\W{0,3}\d",
    ),
    _sig(
        # the kubelet's Topology Manager at admission (pkg/kubelet/cm/topologymanager): `Pod was rejected: Resources
        # cannot be allocated with Topology locality`, status reason TopologyAffinityError
        "topology-affinity",
        r"TopologyAffinityError|cannot be allocated with Topology locality",
        "the kubelet's Topology Manager rejected the pod: the GPUs and CPUs it requests cannot all be placed on one "
        "NUMA node under the node's topologyManagerPolicy",
        "the node has enough free GPUs (or CPUs) in total, but not on one NUMA node as its kubelet's Topology Manager "
        "policy (single-numa-node, or restricted) requires; the pod is rejected at admission, so it fails instead of "
        "waiting, and its controller keeps creating new ones",
        "request as many GPUs as one NUMA node holds free, free GPUs on the same NUMA node, or run it on nodes "
        "whose kubelet uses topologyManagerPolicy best-effort",
        ("NUMA", "Topology", "topologyManagerPolicy", "TopologyAffinityError"),
        severity=CRITICAL,
        in_logs=False,
    ),
    _sig(
        "rocm-device-access",
        # ROCm's runtime without its devices: `Unable to open /dev/kfd read-write: Permission denied`, rocminfo's
        # `<user> is not member of "render" group`, then PyTorch's `RuntimeError: No HIP GPUs are available`
        r"No HIP GPUs are available|Unable to open /dev/kfd|is not member of \"render\" group|hipErrorNoDevice",
        "the ROCm runtime cannot open the AMD GPU devices (/dev/kfd, /dev/dri), so the program sees no GPU",
        "ROCm needs read-write access to /dev/kfd and the /dev/dri render nodes, which the host's render and video "
        "groups own; a container user outside those groups (a non-root image) sees no GPU even with amd.com/gpu "
        "allocated",
        "add the render and video groups' GIDs to the pod's securityContext.supplementalGroups (or run as a user in "
        "them), and check the AMD device plugin passes the devices in",
        ("/dev/kfd", "render", "HIP GPUs", "Permission denied"),
        severity=CRITICAL,
        detail=r"Unable to open /dev/kfd[^.]*|\S+ is not member of \"\w+\" group",
        settings=r"\buid=\d+\(",
    ),
    _sig(
        "kafka-not-enough-replicas",
        r"NOT_ENOUGH_REPLICAS|NotEnoughReplicas(?:AfterAppend)?Exception|insufficient to satisfy the min\.isr",
        "Kafka rejects the writes: a partition has fewer in-sync replicas than min.insync.replicas (NOT_ENOUGH_REPLICAS)",
        "with acks=all a broker accepts a write only while at least min.insync.replicas replicas are in sync; a broker "
        "down or falling behind takes partitions below it, and producers retry until their batches expire",
        "bring the missing broker back (its log says why it stopped), or give the topic more replicas than "
        "min.insync.replicas so one broker down does not stop writes",
        ("min.insync.replicas", "in-sync replica", "NOT_ENOUGH_REPLICAS"),
        severity=CRITICAL,
    ),
    # Data stores and the runtimes in front of them: the server's own line, and the client's when it says why.
    _sig(
        "es-flood-stage",
        # the data node's DiskThresholdMonitor, and a writer's cluster_block_exception (ES 7: FORBIDDEN/12/index
        # read-only / allow delete (api); ES 8: TOO_MANY_REQUESTS/12/disk usage exceeded flood-stage watermark)
        r"flood[- ]stage (?:disk )?watermark|read-only-allow-delete block|index read-only / allow delete",
        "Elasticsearch blocks writes: a data node's disk passed the flood-stage watermark (95%), so the indices with "
        "shards on it are read-only (read_only_allow_delete)",
        "past the flood stage every index with a shard on that node gets a write block; searches still work, "
        "indexing fails (429 cluster_block_exception)",
        "free disk on the data node (delete old indices, add nodes or disk); since 7.4 the block lifts by itself "
        "once usage falls below the high watermark, before that clear index.blocks.read_only_allow_delete",
        ("flood stage", "flood-stage", "watermark", "read-only", "disk"),
        severity=CRITICAL,
        detail=r"exceeded on \[[^\]]*\]\[[^\]]+\]",
        covers=("disk-full",),
    ),
    _sig(
        "es-disk-watermark",
        r"(?:high|low) disk watermark \[[^\]]+\] exceeded on",
        "an Elasticsearch data node's disk passed the low or high watermark: no new shards go to it (low), "
        "its shards are moved off it (high)",
        "a node filling up; at the flood stage (95% by default) its indices stop taking writes",
        "free disk on the node or add capacity before it reaches the flood stage",
        ("watermark", "disk"),
        detail=r"(?:high|low) disk watermark \[[^\]]+\] exceeded on \[[^\]]*\]\[[^\]]+\]",
    ),
    _sig(
        "es-circuit-breaker",
        r"circuit_breaking_exception|Data too large, data for \[",
        "Elasticsearch rejects requests to protect its JVM heap (circuit_breaking_exception: Data too large)",
        "a request would push the node's heap past a circuit breaker's limit, so it is refused (HTTP 429)",
        "give the nodes more heap (and memory), reduce request sizes or aggregations, or add nodes",
        ("circuit", "heap", "Data too large"),
    ),
    _sig(
        "mongo-no-primary",
        r"ReplicaSetNoPrimary|cannot see a majority|Can't see a majority|No primary found in replica set"
        r"|not primary and secondaryOk=false|NotWritablePrimary",
        "the MongoDB replica set has no primary: the members that are up cannot see a majority of the voting members, "
        "so none can be elected and writes fail",
        "a primary needs the votes of a majority of the replica set's voting members; with too few members up or "
        "reachable, the rest stay SECONDARY",
        "bring the missing members back (or, if they are gone for good, reconfigure the set with force from a "
        "surviving member); never scale a replica set's StatefulSet below a majority",
        ("primary", "majority", "SECONDARY"),
        severity=CRITICAL,
        covers=("mongo-server-selection",),
    ),
    _sig(
        "mongo-server-selection",
        r"MongoServerSelectionError|Server selection timed out after \d+ ms|No suitable servers found",
        "the MongoDB client finds no server to send the operation to (server selection timed out): the replica set "
        "has no primary, or its members are unreachable",
        "the driver waits serverSelectionTimeoutMS for a suitable member (the primary, for writes) and gives up",
        "check the replica set's members: whether a primary exists (their logs) and whether they are reachable",
        ("server selection", "primary", "MongoDB"),
    ),
    _sig(
        "rabbitmq-alarm",
        r"(?:memory|disk) resource limit alarm set|vm_memory_high_watermark set|disk_free_limit.*alarm"
        r"|Publishers will be blocked",
        "RabbitMQ raised a resource alarm (memory high watermark or free disk limit): it blocks every publishing "
        "connection until the alarm clears",
        "the broker holds more messages than its memory (or disk) limit allows, usually because consumers stopped or "
        "fell behind; publishers hang until it drains",
        "get the consumers running (or scale them up) so the queues drain; raise the broker's memory only if the "
        "backlog is expected",
        ("alarm", "memory", "watermark", "blocked"),
        severity=CRITICAL,
    ),
    _sig(
        "rabbitmq-blocked",
        r"connection blocked by broker|connection\.blocked|blocked connection|Connection\.Blocked",
        "the client's RabbitMQ connection is blocked by the broker: a resource alarm (memory or disk) stops publishers",
        "the broker blocks publishing connections while a memory or disk alarm is set; publishes hang or time out",
        "find the alarm in the broker's log and why queues grow (stopped or slow consumers)",
        ("blocked", "alarm", "memory"),
        severity=CRITICAL,  # publishing stops altogether
    ),
    _sig(
        "etcd-nospace",
        r"database space exceeded|alarm:NOSPACE|\bNOSPACE\b|exceeded backend quota",
        "etcd's database reached its space quota (NOSPACE alarm): it refuses every write until it is compacted, "
        "defragmented and the alarm disarmed",
        "etcd keeps every revision until compaction; without it (or with a quota too small) the database grows to "
        "--quota-backend-bytes (2 GiB by default) and becomes read-only",
        "compact old revisions, defragment each member and run `etcdctl alarm disarm`; turn on auto-compaction "
        "(--auto-compaction-retention) so it does not recur",
        ("NOSPACE", "space exceeded", "quota", "compact"),
        severity=CRITICAL,
        covers=("etcd-slow-disk",),  # a refused write is logged as a slow apply too: the quota is why
        detail=r"quota[-_ ]?(?:size[-_ ]?)?bytes\W{1,3}\d+",
    ),
    _sig(
        "patroni-demoted",
        r"demot(?:ed|ing) self because|failed to update leader lock|not promoting because failed to update leader lock",
        "Patroni demoted the PostgreSQL primary because it could not renew its leader lock in the DCS (etcd, Consul, "
        "ZooKeeper or the Kubernetes API), so the cluster has no writable leader",
        "Patroni keeps a primary only while it holds the leader key in its distributed configuration store; when "
        "writes to the DCS fail, the primary steps down to read-only to avoid split brain",
        "fix the DCS (its own log says why writes fail); Patroni promotes a leader again once it can take the lock",
        ("leader lock", "demoted", "DCS", "Patroni"),
        severity=CRITICAL,
    ),
    _sig(
        "pg-read-only",
        r"cannot execute \w+ in a read-only transaction",
        "PostgreSQL refuses the client's writes: the server it reached is read-only (a standby, a demoted primary, or "
        "default_transaction_read_only)",
        "writes reach a server that is not a writable primary",
        "find why no primary is writable (failover or demotion in the HA manager's log) or point the client at the "
        "primary's Service",
        ("read-only", "primary", "standby"),
    ),
    _sig(
        "vault-sealed",
        r"Vault is sealed|\bSealed\s+true\b|core: vault is sealed",
        "Vault is sealed: it serves no secrets (HTTP 503) until enough key holders unseal it, or auto-unseal works",
        "a Vault server starts sealed after every restart; with Shamir seals it needs the unseal threshold of key "
        "shares entered, and clients (vault-agent init containers) wait or fail meanwhile",
        "unseal it (`vault operator unseal` with the threshold of key shares) or fix auto-unseal (its KMS access); "
        "consider auto-unseal so restarts do not need people",
        ("sealed", "unseal", "503"),
        severity=CRITICAL,
        detail=r"Seal Type\s+\w+|Unseal Progress\s+\d+/\d+",
    ),
    _sig(
        "node-heap-oom",
        r"JavaScript heap out of memory|Reached heap limit Allocation failed",
        "the Node.js process hit its V8 heap limit (JavaScript heap out of memory) and aborted (exit code 134)",
        "V8 stops at its old-space limit (--max-old-space-size, else a default from the memory it sees), which can be "
        "far below the container's memory limit; raising the container limit alone does not move it",
        "set --max-old-space-size (in NODE_OPTIONS) to about 75% of the container's memory limit, or find the leak",
        ("heap", "max-old-space-size", "out of memory"),
        severity=CRITICAL,
        settings=r"max[-_]old[-_]space[-_]size|NODE_OPTIONS",
    ),
    _sig(
        "api-kind-unknown",
        r'no matches for kind \\?"[^"\\]+\\?" in version \\?"[^"\\]+\\?"|ensure CRDs are installed first',
        "the API server does not serve the manifest's kind in that version: its CustomResourceDefinition is not "
        "installed, or the API version was removed from this Kubernetes release",
        "kubectl and Helm map each kind and apiVersion to a resource the API server serves; a kind from a CRD that is "
        "not installed (or a removed beta API) cannot be created, so the whole release fails",
        "install the CRDs first (the operator's chart, or Helm's crds/ directory), or move the manifest to an API "
        "version this cluster serves (kubectl api-resources)",
        ("CRD", "CustomResourceDefinition", "no matches for kind", "api version"),
        severity=CRITICAL,
        detail=r'no matches for kind \\?"[^"\\]+\\?" in version \\?"[^"\\]+\\?"',
    ),
    _sig(
        "tf-no-gpu",
        r"Cannot dlopen some GPU libraries|Skipping registering GPU devices",
        "TensorFlow cannot load the CUDA libraries (cuDNN, cuBLAS...) in the image, so it skips the GPUs and runs "
        "on the CPU",
        "the job still runs, many times slower: the image's TensorFlow does not match (or lacks) the CUDA libraries "
        "for the node's driver",
        "use an image with the CUDA and cuDNN versions its TensorFlow build needs (tensorflow[and-cuda] or the "
        "-gpu image) and check the image change that dropped them",
        ("GPU", "CUDA", "CPU", "dlopen"),
        severity=CRITICAL,
    ),
    _sig(
        "clickhouse-too-many-parts",
        r"TOO_MANY_PARTS|Too many parts \(\d+|Delaying inserting block by",
        "ClickHouse throttles and then rejects inserts: a partition has too many parts, because inserts arrive in "
        "many small batches faster than merges combine them",
        "every INSERT creates a part; past parts_to_delay_insert ClickHouse delays inserts, past "
        "parts_to_throw_insert it refuses them (TOO_MANY_PARTS)",
        "insert in large batches (thousands of rows, at most about one insert per second per table) or turn on "
        "async_insert; find the client whose batches shrank",
        ("too many parts", "TOO_MANY_PARTS", "batch", "insert"),
        severity=CRITICAL,
    ),
    # Common failures of the services and tools every cluster runs, from their own messages.
    _sig(
        "redis-maxmemory",
        r"OOM command not allowed when used memory > 'maxmemory'",
        "Redis refuses writes: it is at its maxmemory limit and its eviction policy (noeviction) frees nothing",
        "with maxmemory-policy noeviction (or no keys to evict under a volatile-* policy) Redis answers every write "
        "with an OOM error once used memory reaches maxmemory; reads still work",
        "raise maxmemory (and the container's limit with it), set an eviction policy such as allkeys-lru for a "
        "cache, or find the keys that grow without a TTL",
        ("maxmemory", "OOM", "eviction"),
        severity=CRITICAL,
    ),
    _sig(
        "redis-readonly",
        r"READONLY You can't write against a read only replica",
        "the client writes to a Redis replica, which is read-only: after a failover it still talks to the old "
        "primary's address, or it was pointed at a replica",
        "Redis replicas reject writes; clients must follow the primary (Sentinel or Cluster aware clients do)",
        "point writes at the primary (the Sentinel master name or the primary's Service) and reconnect after "
        "failovers",
        ("read only replica", "READONLY", "primary", "replica"),
    ),
    _sig(
        "db-lock",
        r"deadlock detected|Deadlock found when trying to get lock|Lock wait timeout exceeded"
        r"|canceling statement due to lock timeout|could not obtain lock on",
        "database transactions block each other on locks (a deadlock, or a lock wait timeout)",
        "two transactions wait for locks the other holds (the database kills one), or one waits longer than the "
        "lock timeout behind a long transaction or migration",
        "find the transactions that hold the locks (pg_locks / SHOW ENGINE INNODB STATUS), shorten them or take locks "
        "in one order; retry deadlocked transactions",
        ("deadlock", "lock"),
    ),
    _sig(
        "pg-statement-timeout",
        r"canceling statement due to statement timeout",
        "PostgreSQL cancels queries that run longer than statement_timeout",
        "the query took longer than the statement_timeout set for the role, database or session",
        "find the slow query (missing index, a plan change, lock waits) or raise statement_timeout for that job",
        ("statement timeout", "statement_timeout", "slow"),
    ),
    _sig(
        "pg-not-accepting",
        r"the database system is (?:in recovery mode|starting up|shutting down|not yet accepting connections)",
        "PostgreSQL is not accepting connections: it is starting up, recovering after a crash, or shutting down",
        "the server is running but not ready for clients; after a crash it replays its WAL first, which can take a "
        "while on a large database",
        "wait for recovery to finish and read the server's log for why it restarted (an OOM kill, a full disk)",
        ("recovery", "starting up", "shutting down"),
    ),
    _sig(
        "hf-hub-unreachable",
        r"We couldn't connect to '?https://huggingface\.co|LocalEntryNotFoundError|outgoing traffic has been "
        r"disabled|Cannot find the requested files in the (?:disk )?cache",
        "the model or dataset is not in the local cache and the Hugging Face Hub cannot be reached (offline, no "
        "egress, or HF_HUB_OFFLINE set)",
        "transformers and huggingface_hub download files on first use; without network access to huggingface.co "
        "they need the files already in HF_HOME (or a local path)",
        "pre-download the model into the cache volume (or an image), point HF_HOME at it, or allow egress to the Hub "
        "or a mirror (HF_ENDPOINT)",
        ("Hugging Face", "huggingface.co", "cache", "offline", "download"),
        severity=CRITICAL,
    ),
    _sig(
        "hf-gated",
        r"Cannot access gated repo|GatedRepoError|401 Client Error: Unauthorized for url: https://huggingface\.co"
        r"|Access to model \S+ is restricted",
        "the model is gated on the Hugging Face Hub and the download has no token with access to it",
        "gated repositories need an accepted licence and a token (HF_TOKEN) of an account that was granted access",
        "accept the model's terms on the Hub and give the pod an HF_TOKEN from a Secret, or use a local copy",
        ("gated", "token", "HF_TOKEN", "access"),
        severity=CRITICAL,
    ),
    _sig(
        "helm-pending-operation",
        r"another operation \(install/upgrade/rollback\) is in progress",
        "Helm refuses to act: an earlier install, upgrade or rollback of the release did not finish and left it "
        "pending",
        "an interrupted Helm operation leaves the release in pending-install/pending-upgrade/pending-rollback, and "
        "Helm will not start another until that is resolved",
        "check `helm history RELEASE`; roll back to the last deployed revision (helm rollback) or, if it was a first "
        "install, uninstall it, then retry",
        ("pending", "in progress", "helm"),
    ),
    _sig(
        "immutable-field",
        r"field is immutable",
        "the update changes a field Kubernetes does not allow to change on an existing object (a selector, a Job's "
        "pod template, a StatefulSet's volumeClaimTemplates, a Service's clusterIP)",
        "the API server rejects the whole apply, so nothing in it is rolled out",
        "delete and re-create the object (kubectl replace --force, or a new name), or keep the field as it was",
        ("immutable",),
        severity=CRITICAL,
    ),
    _sig(
        "connection-reset",
        r"connection reset by peer|ECONNRESET",
        "connections to a dependency are reset by the other side (connection reset by peer)",
        "the peer (or a proxy, load balancer or NAT in between) closed the connection abruptly: it restarted, it "
        "dropped idle connections, or it crashed",
        "check the peer's restarts and its idle timeouts against the client's keep-alive and pool settings",
        ("reset", "connection"),
        explain=False,
        generic=True,
    ),
    _sig(
        "nfs-stale",
        r"[Ss]tale (?:NFS )?file handle|\bESTALE\b",
        "the NFS server no longer knows a file handle the client holds (stale file handle)",
        "the export was re-created, the file was replaced on the server, or the NFS server failed over without "
        "keeping its handles",
        "restart the pods (remount the volume); if it recurs, check the NFS server's failovers and exports",
        ("stale", "NFS", "file handle"),
    ),
    _sig(
        "rate-limited",
        r"\b429 Too Many Requests\b|ThrottlingException|\bRate exceeded\b|rate limit exceeded"
        r"|TooManyRequestsException|RequestLimitExceeded",
        "an API the service calls is rate-limiting it (HTTP 429 or throttling)",
        "the service sends more requests than the API's quota allows, so some are refused",
        "slow the client down (backoff, caching, batching) or raise the API's quota",
        ("rate", "429", "throttl"),
        generic=True,
    ),
    _sig(
        "dataloader-worker",
        r"DataLoader worker \(pids?(?:\(s\))? [\d, ]+\) (?:exited unexpectedly|is killed by signal)"
        r"|Unexpected bus error encountered in worker|insufficient shared memory \(shm\)",
        "PyTorch DataLoader worker processes died, most often because the container's shared memory (/dev/shm) "
        "is too small",
        "DataLoader workers pass batches through /dev/shm, which a container gets at 64 MiB by default; a bus error "
        "or a worker that exits unexpectedly means it ran out (or the pod hit its memory limit)",
        "mount an emptyDir with medium: Memory at /dev/shm (with a sizeLimit), or lower num_workers",
        ("shared memory", "/dev/shm", "shm"),
        severity=CRITICAL,
    ),
    _sig(
        "tensorrt-engine",
        r"engine plan file is generated on an incompatible device|engine plan file is not compatible"
        r"|Serialization assertion .* failed|Engine deserialization failed|deserializeCudaEngine|unable to create "
        r"TensorRT engine",
        "a TensorRT engine cannot be loaded: it was built for another GPU or TensorRT version",
        "a TensorRT engine (plan file) only runs on the GPU compute capability and TensorRT version it was built with",
        "rebuild the engine on the target GPU type and TensorRT version, or schedule the pod onto the GPU it was "
        "built for",
        ("TensorRT", "engine", "rebuild", "compute"),
        severity=CRITICAL,
        settings=r"GPU \d+: (?:NVIDIA|Tesla)|compute capability|\bsm_\d{2,3}\b",
    ),
    _sig(
        "exec-format",
        r"exec format error",
        "the image's program is built for another CPU architecture (exec format error)",
        "the kernel cannot run a binary of another architecture: an arm64 image on amd64 nodes, or the reverse",
        "build the image for the nodes' architecture (a multi-arch image), or select nodes by kubernetes.io/arch",
        ("exec format error", "architecture"),
        severity=CRITICAL,
    ),
    _sig(
        "db-connections-exhausted",
        r"sorry, too many clients already|remaining connection slots are reserved|too many connections for role"
        r"|Too many connections",
        "the database refuses new connections: all of its connection slots are in use",
        "every allowed connection (PostgreSQL max_connections, MySQL max_connections) is held, so new clients fail",
        "find which clients hold the connections and pool or cap them (PgBouncer, a smaller pool per replica), or "
        "raise the limit",
        ("too many clients", "connections", "max_connections"),
    ),
    _sig(
        "pg-prepared-statement-pooler",
        # pgjdbc's S_1, asyncpg's __asyncpg_stmt_1__, Rails' a1: named server-side prepared statements missing or
        # duplicated on the connection a query runs on (SQLSTATE 26000 / 42P05)
        r'prepared statement \\?"[^"\\]+\\?" (?:does not exist|already exists)',
        "the client's server-side prepared statements are missing on the PostgreSQL connection its query runs on: "
        "typical of a connection pooler in transaction pool mode (PgBouncer pool_mode=transaction), which hands each "
        "transaction any server connection",
        "a statement prepared on one server connection is run on another (\"does not exist\") or prepared twice on "
        "one (\"already exists\"); PgBouncer before 1.21 does not carry prepared statements across transactions",
        "use session pooling (pool_mode=session), or turn off server-side prepared statements in the client "
        "(pgjdbc prepareThreshold=0, asyncpg statement_cache_size=0), or PgBouncer 1.21+ with max_prepared_statements",
        ("prepared statement", "pool_mode", "transaction", "pooler"),
    ),
    _sig(
        "nginx-big-header",
        r"upstream sent too big header while reading response header from upstream",
        "nginx rejects the upstream's response headers as larger than its proxy buffer (clients get 502)",
        "the backend answered with headers (often large Set-Cookie) bigger than nginx's proxy_buffer_size",
        "raise the proxy buffer (ingress-nginx: nginx.ingress.kubernetes.io/proxy-buffer-size) or shrink the headers",
        ("too big header", "proxy buffer", "proxy-buffer-size", "header"),
    ),
    _sig(
        "volume-source-missing",
        r'MountVolume\.SetUp failed for volume "[^"]+" : (?:configmap|secret) "[^"]+" not found'
        r"|(?:configmap|secret) references non-existent config key",
        "a volume's ConfigMap or Secret does not exist, so the kubelet cannot mount it and the pod stays in "
        "ContainerCreating",
        "the kubelet retries the mount (FailedMount) and starts no container until the referenced object exists",
        "create the ConfigMap or Secret the volume names in the pod's namespace, or fix the name in the pod spec "
        "(or mark the volume optional)",
        ("not found", "ConfigMap", "Secret", "ContainerCreating", "mount"),
        severity=CRITICAL,
        detail=r'(?:configmap|secret) "[^"]+" not found',
    ),
    _sig(
        "csi-driver-missing",
        r"not found in the list of registered CSI drivers",
        "the volume's CSI driver is not registered on the node (its node plugin is not running there), so the "
        "volume cannot be mounted",
        "each node runs the CSI driver's node plugin (a DaemonSet pod) that registers it with the kubelet; without "
        "it every volume of that driver fails to mount on the node and its pods stay in ContainerCreating",
        "check the CSI driver's node plugin pod on that node (its logs say why it does not start or register)",
        ("CSI", "driver", "not registered", "registered"),
        severity=CRITICAL,
    ),
    _sig(
        "volume-attach",
        r"AttachVolume\.Attach failed for volume|Unable to attach or mount volumes",
        "a volume cannot be attached or mounted on the node, so the pod waits in ContainerCreating",
        "the attach-detach controller asked the storage provider to attach the disk and it refused or failed",
        "read the provider's reason in the event (volume still attached elsewhere, wrong zone, attachment limit) "
        "and fix it",
        ("attach", "volume"),
    ),
    _sig(
        "volume-ownership-slow",
        r"Setting volume ownership for \S+ is taking longer than expected",
        "the kubelet is still changing the owner of every file in the volume to the pod's fsGroup (a recursive "
        "chown), so mounting it takes very long",
        "with fsGroup set and the default fsGroupChangePolicy (Always), the kubelet walks the whole volume on every "
        "mount; a volume holding millions of files takes minutes to hours, and the pod waits in ContainerCreating",
        "set securityContext.fsGroupChangePolicy: OnRootMismatch (or drop fsGroup for volumes already owned right)",
        ("volume ownership", "fsGroup", "OnRootMismatch", "chown"),
        severity=WARNING,
        in_logs=False,
    ),
    _sig(
        "sandbox-network",
        r"failed to (?:setup|set up) network for sandbox|NetworkPluginNotReady|cni plugin not initialized"
        r"|networkPlugin cni failed to set up pod",
        "the CNI network plugin cannot set up the pod's network, so its sandbox is not created (ContainerCreating)",
        "the kubelet creates each pod's network through the CNI plugin; while the plugin fails, no pod on the node "
        "can start",
        "check the CNI plugin's pods on the node (calico-node, cilium, aws-node) and their logs",
        ("CNI", "network", "sandbox", "ContainerCreating"),
        severity=CRITICAL,
    ),
    _sig(
        "webhook-unavailable",
        r'failed calling webhook "[^"]+"',
        "an admission webhook cannot be reached, so the API server rejects the request",
        "with failurePolicy Fail the API server refuses every object the webhook must see while its service has no "
        "ready endpoint or does not answer",
        "restore the webhook's pods and Service (or, in an emergency, set its failurePolicy to Ignore)",
        ("webhook", "admission"),
        severity=CRITICAL,
    ),
    _sig(
        "webhook-denied",
        r'admission webhook "[^"]+" denied the request',
        "an admission webhook's policy rejects the object",
        "a policy engine (Gatekeeper, Kyverno) or a custom webhook validates objects and denied this one",
        "change the object to satisfy the policy the message names, or ask its owners for an exception",
        ("webhook", "denied", "policy"),
    ),
    _sig(
        "pod-security",
        r'violates PodSecurity "[^"]+"',
        "Pod Security admission rejects the pods: their securityContext breaks the namespace's enforced level",
        "the namespace's pod-security.kubernetes.io/enforce label sets a level (baseline, restricted) that these "
        "pods do not meet, so none of them is created",
        "set the securityContext fields the message lists (allowPrivilegeEscalation, capabilities, runAsNonRoot, "
        "seccompProfile), or change the namespace's level",
        ("PodSecurity", "securityContext", "restricted"),
        severity=CRITICAL,
    ),
    _sig(
        "run-as-root",
        r"container has runAsNonRoot and image will run as root"
        r"|container has runAsNonRoot and image has non-numeric user",
        "the pod requires runAsNonRoot but the image runs as root, so the kubelet refuses to start it",
        "runAsNonRoot makes the kubelet check the image's user; an image without a numeric non-root USER fails it",
        "set runAsUser to a non-zero UID in the securityContext, or build the image with a numeric non-root USER",
        ("runAsNonRoot", "root", "runAsUser"),
        severity=CRITICAL,
    ),
    _sig(
        "exec-not-found",
        r"executable file not found in \$PATH|exec: \"[^\"]+\": stat [^:]+: no such file or directory",
        "the container's command does not exist in the image (executable file not found)",
        "the runtime cannot start the process the pod spec's command (or the image's entrypoint) names",
        "fix the command or args in the pod spec, or use an image that contains the program",
        ("not found", "executable", "command"),
        severity=CRITICAL,
        detail=r'exec: "[^"]+"',
    ),
    _sig(
        "read-only-fs",
        r"Read-only file system|\bEROFS\b",
        "the program writes to a read-only filesystem (readOnlyRootFilesystem or a read-only mount)",
        "with readOnlyRootFilesystem every write outside a mounted volume fails",
        "mount a writable volume (an emptyDir) at the path the program writes to, or point it at one",
        ("read-only", "readOnlyRootFilesystem", "emptyDir"),
        detail=r"Read-only file system: '[^']+'",
    ),
    _sig(
        "permission-denied",
        r"\[Errno 13\] Permission denied|EACCES|(?:open|mkdir|create|write) \S+: permission denied",
        "the process is not allowed to write or read a file or directory it needs (permission denied)",
        "the process's user (runAsUser) does not own the path or the volume (fsGroup), so the operating system "
        "refuses access",
        "set securityContext.fsGroup or runAsUser to match the volume's owner, or fix the path's ownership",
        ("permission denied", "fsGroup", "runAsUser", "permission"),
        detail=r"Permission denied: '[^']+'|(?:open|mkdir|create|write) \S+: permission denied",
        generic=True,  # a more specific reason on the same line (a privileged port) says more
    ),
    _sig(
        "address-in-use",
        r"address already in use|EADDRINUSE|errno: 98\b",
        "the port the program listens on is already taken on that network namespace",
        "another process in the pod (a sidecar) or, with hostNetwork/hostPort, on the node holds the port",
        "find what holds the port (another container in the pod, or a hostNetwork pod on the node) and give one of "
        "them another port",
        ("address already in use", "port"),
        severity=CRITICAL,
        detail=r"listen tcp \S+|bind to \S+",
    ),
    _sig(
        "privileged-port",
        # Go `listen tcp :80: bind: permission denied`, Rust `failed to bind 0.0.0.0:80: Os { code: 13, kind:
        # PermissionDenied ...`, nginx `bind() to 0.0.0.0:80 failed (13: Permission denied)`, Node.js `listen EACCES:
        # permission denied 0.0.0.0:80`, uvicorn `[Errno 13] error while attempting to bind on address ('0.0.0.0', 80)`.
        rf"listen tcp [\w.\[\]:]*:{_PRIVILEGED_PORT}: bind: permission denied"
        rf"|bind\S* (?:to )?[\w.\[\]:]*:{_PRIVILEGED_PORT}:? (?:failed \(13: |Os \{{ code: 13)"
        rf"|listen EACCES: permission denied [\w.\[\]:]*:{_PRIVILEGED_PORT}\b"
        rf"|\[Errno 13\] error while attempting to bind on address \('[^']*', {_PRIVILEGED_PORT}\)",
        "the program runs as a non-root user and cannot listen on a port below 1024 (permission denied)",
        "ports below 1024 are privileged: only root, or a process with the NET_BIND_SERVICE capability, may bind "
        "them; images that run as non-root (distroless :nonroot, USER in the Dockerfile) cannot",
        "listen on a port of 1024 or above (the Service can still expose port 80 through targetPort), or add the "
        "NET_BIND_SERVICE capability to the container's securityContext",
        ("port", "privileged", "non-root", "nonroot", "NET_BIND_SERVICE", "permission denied"),
        severity=CRITICAL,
        settings=r"\bnon-?root\b|runAsUser|running as (?:user|uid)|\buid=\d+",
        detail=rf"[\w.\[\]]*:{_PRIVILEGED_PORT}\b|address \('[^']*', {_PRIVILEGED_PORT}\)",
    ),
    _sig(
        "dataprotection-keys",
        # ASP.NET Core Data Protection: a cookie or antiforgery token protected by another replica's key.
        r"was not found in the key ring|Unprotect ticket failed|The antiforgery token could not be decrypted"
        r"|Storing keys in a directory '[^']+' that may not be persisted outside of the container",
        "ASP.NET Core cannot decrypt cookies or tokens that another replica protected: its Data Protection key ring "
        "is not shared between the pods",
        "each pod keeps its own Data Protection keys in a directory inside its container, so a request that lands on "
        "another replica cannot be decrypted: users are logged out and antiforgery-protected posts fail with 400",
        "persist the key ring where every replica reads it (PersistKeysToStackExchangeRedis, a shared volume, a "
        "cloud key store) with one SetApplicationName, then restart the pods",
        ("key ring", "Data Protection", "DataProtection", "Unprotect ticket failed", "could not be decrypted"),
        severity=CRITICAL,
        detail=r"The key \{[0-9a-f-]+\}|Storing keys in a directory '[^']+'",
    ),
    _sig(
        "pg-wal-removed",
        r"requested WAL segment \S+ has already been removed",
        "the PostgreSQL standby needs WAL that its primary has already recycled, so streaming replication stopped "
        "and the standby cannot catch up on its own",
        "the primary keeps only max_wal_size/wal_keep_size of WAL unless a replication slot holds it; a standby that "
        "fell further behind than that can never stream the missing segments",
        "re-seed the standby (pg_basebackup, or the operator's reinit) and keep WAL for it: a physical replication "
        "slot, or a larger wal_keep_size/max_wal_size on the primary",
        ("WAL", "already been removed", "replication", "standby"),
        severity=CRITICAL,
        detail=r"WAL segment \S+",
    ),
    _sig(
        "pg-checkpoints-frequent",
        r"checkpoints are occurring too frequently",
        "PostgreSQL checkpoints come too often for the write load (max_wal_size is too small)",
        "each checkpoint lets the primary recycle older WAL, so a burst of writes removes WAL quickly: slow standbys "
        "and archivers lose segments they still need",
        "raise max_wal_size (and checkpoint_timeout) on the primary, as its HINT says",
        ("max_wal_size", "checkpoints", "too frequently"),
        severity=WARNING,
        detail=r"\(\d+ seconds apart\)",
    ),
    _sig(
        "vpc-cni-ip-exhaustion",
        r"InsufficientFreeAddressesInSubnet|does not have enough free addresses|failed to assign an IP address to "
        r"container|AssignPodIPv4Address: no available IP",
        "the subnet has no free IP addresses left for pods, so the AWS VPC CNI cannot give new pods an address",
        "with the AWS VPC CNI every pod takes an address from the node's subnet; when the subnet is used up, ipamd "
        "cannot grow its pool (InsufficientFreeAddressesInSubnet) and pods on those nodes stay in ContainerCreating",
        "add address space (a larger or additional subnet, custom networking / secondary CIDR, prefix delegation) or "
        "lower WARM_IP_TARGET/WARM_ENI_TARGET so nodes hold fewer spare addresses",
        ("free addresses", "InsufficientFreeAddressesInSubnet", "IP address", "subnet"),
        severity=CRITICAL,
        detail=r"subnet-[0-9a-f]+",
    ),
    _sig(
        "python-module-missing",
        r"ModuleNotFoundError: No module named|ImportError: cannot import name",
        "a Python module the program imports is missing from the image (or the wrong version is installed)",
        "the image was built without a dependency, or with a version that no longer has the imported name",
        "add the package (at the right version) to the image's requirements and rebuild",
        ("module", "import", "installed"),
        severity=CRITICAL,
        detail=r"No module named '[^']+'|cannot import name '[^']+'",
    ),
    _sig(
        "db-missing-object",
        r'database "[^"]+" does not exist|relation "[^"]+" does not exist|Unknown database \'|Table \'[^\']+\' '
        r"doesn't exist",
        "the database or table the program uses does not exist (schema not created, or migrations not run)",
        "the program connects, but the database or the table it queries is absent",
        "run the schema migrations, or point the program at the right database",
        ("does not exist", "migration", "schema"),
        severity=CRITICAL,
        detail=r'(?:database|relation) "[^"]+" does not exist' r"|Unknown database '[^']+'|Table '[^']+' doesn't exist",
    ),
    _sig(
        "rendezvous-timeout",
        r"RendezvousTimeoutError|RendezvousClosedError|The client socket has timed out after \d+m?s while trying to "
        r"connect to",
        "the distributed training workers cannot all meet at the rendezvous (one is missing, or the master address "
        "is unreachable)",
        "torchrun waits for every worker to join the rendezvous; a worker that is not scheduled, crashed or cannot "
        "reach MASTER_ADDR:MASTER_PORT stalls them all until the timeout",
        "check that every worker pod is running and that they reach the master's address and port (NetworkPolicy, "
        "headless Service)",
        ("rendezvous", "workers", "master"),
        severity=CRITICAL,
        settings=r"join_timeout|rdzv_configs|rdzv[-_]conf|RDZV_CONF|last_call_timeout",  # torchrun's rendezvous timeouts
    ),
    _sig(
        "device-admission",
        r"UnexpectedAdmissionError|Allocate failed due to requested number of devices unavailable",
        "the kubelet could not give the pod the GPUs it was scheduled for: the device plugin has fewer healthy "
        "devices than it advertised",
        "the scheduler placed the pod by the node's allocatable count, but at admission the device plugin could "
        "not allocate them, so the kubelet failed the pod; most often right after a kubelet restart, before the "
        "device plugin has registered with the new kubelet again",
        "check the device plugin on the node (unhealthy or stale GPUs) and restart it; the controller retries the pod",
        ("device plugin", "GPU", "allocate", "devices"),
        severity=CRITICAL,
    ),
    _sig(
        "nvidia-container-cli",
        r"nvidia-container-cli: (?:initialization error|device error|mount error|detection error)",
        "the NVIDIA container runtime cannot give the container its GPU (driver not loaded or device unknown)",
        "the runtime hook that mounts the GPU into the container failed, so the container is not created",
        "check the node's NVIDIA driver (nvidia-smi) and that the requested device exists; restart the device "
        "plugin after a driver change",
        ("nvidia-container-cli", "driver", "GPU"),
        severity=CRITICAL,
    ),
    _sig(
        "nvml-unknown",
        r"Failed to initialize NVML: Unknown Error|Unable to determine the device handle for GPU",
        "NVML cannot talk to a GPU: the GPU or its driver is in a bad state",
        "the driver no longer reaches the device (after an Xid, a reset or a container losing its device cgroup)",
        "check the node's kernel log for Xid errors; reset the GPU or reboot the node",
        ("NVML", "GPU", "driver"),
        severity=CRITICAL,
    ),
    _sig(
        "gpu-off-bus",
        r"^(?!.*\bXid\b).*has fallen off the bus",  # an Xid 79 line is read by its code
        "a GPU has fallen off the PCIe bus: a GPU hardware failure",
        "the GPU stopped responding on the PCIe bus (power, overheating or hardware), and nothing can use it",
        "cordon and drain the node, then reset or replace the GPU",
        ("fallen off the bus", "GPU", "hardware"),
        severity=CRITICAL,
    ),
    _sig(
        "no-healthy-upstream",
        r"no healthy upstream|upstream connect error or disconnect/reset before headers",
        "the proxy (Envoy, Istio) has no healthy endpoint to send the request to",
        "the upstream Service has no ready endpoints (its pods are not ready, or its selector matches none), or "
        "they refuse the proxy's connections",
        "check the upstream Service's endpoints (kubectl get endpointslices) and its pods' readiness",
        ("upstream", "endpoints", "healthy"),
    ),
    _sig(
        "service-no-endpoints",
        r"does not have any active Endpoint|no endpoints available for service|Error obtaining Endpoints for Service",
        "the Service it sends to has no ready endpoint (ingress-nginx, the API server's proxy and webhook calls say so)",
        "a Service forwards only to ready pods its selector matches; with none, every request to it fails (503)",
        "check the Service's pods (are they running and ready?) and that its selector matches their labels "
        "(kubectl get endpointslices -l kubernetes.io/service-name=NAME)",
        ("endpoint", "Service"),
    ),
    _sig(
        "leader-election-lost",
        r"leaderelection lost|leader election lost|failed to renew lease",
        "the controller lost its leader lease (it could not renew it with the API server in time) and stopped",
        "a controller that cannot renew its Lease gives up leadership and exits; slow API server calls or CPU "
        "throttling are the usual reasons",
        "check the API server's latency and the controller's CPU limits; raise the lease and renew durations",
        ("leader", "lease"),
    ),
    _sig(
        "pleg-unhealthy",
        r"PLEG is not healthy|container runtime is down|container runtime not ready",
        "the kubelet's pod lifecycle event generator is stuck: the container runtime does not answer in time",
        "the kubelet cannot list containers from the runtime, so it marks the node NotReady",
        "check the container runtime (containerd) on the node and its load; restart it",
        ("PLEG", "container runtime", "kubelet"),
        severity=CRITICAL,
    ),
    _sig(
        "etcd-slow",
        r"etcdserver: (?:request timed out|leader changed|too many requests)",
        "etcd does not answer the API server in time (request timed out or leader changed)",
        "the API server's writes fail while etcd is slow (disk latency) or re-electing a leader",
        "check etcd's disk latency (wal fsync) and members' health",
        ("etcd", "timed out"),
        severity=CRITICAL,
    ),
    _sig(
        "etcd-slow-disk",
        r"slow fdatasync|leader failed to send out heartbeat on time|apply request took too long",
        "etcd's disk is too slow: its write-ahead log syncs and applies take longer than etcd allows (slow fdatasync,"
        " apply request took too long)",
        "etcd syncs every change to its write-ahead log before it answers; on a slow or contended disk each request "
        "waits, the leader misses its heartbeats and the API server's calls time out",
        "put etcd on a fast dedicated disk (SSD/NVMe, provisioned IOPS), check the member's WAL fsync latency "
        "(etcd_disk_wal_fsync_duration_seconds) and move leadership away from the slow member",
        ("etcd", "disk", "fdatasync", "took too long"),
        severity=CRITICAL,
    ),
    _sig(
        "es-mapping",
        r"mapper_parsing_exception|Could not dynamically add mapping for field|tried to parse field \[[^\]]+\] as "
        r"object, but found a concrete value",
        "Elasticsearch rejects the log records: a field conflicts with the index's mapping (mapper_parsing_exception),"
        " so those records are dropped",
        "a field arrives both as an object and as a value (Kubernetes labels such as app and app.kubernetes.io/name),"
        " and Elasticsearch refuses every document that does not fit the mapping",
        "have the shipper rewrite dotted keys (fluent-bit's Replace_Dots On) or map the field explicitly",
        ("mapping", "mapper_parsing_exception", "Elasticsearch", "Replace_Dots"),
        detail=r"mapping for field \[[^\]]+\]|tried to parse field \[[^\]]+\]",
    ),
    _sig(
        "ingress-tls-secret-missing",
        r"local SSL certificate \S+ was not found|Error getting SSL certificate \"[^\"]+\"",
        "the Ingress's TLS Secret does not exist, so ingress-nginx serves its default self-signed certificate "
        "(Kubernetes Ingress Controller Fake Certificate)",
        "the Ingress names a Secret in spec.tls.secretName that is not there; clients get a certificate warning",
        "point spec.tls.secretName at the Secret that holds the certificate (the Certificate's secretName), or "
        "create it",
        ("secretName", "TLS", "certificate", "Fake Certificate"),
        detail=r"local SSL certificate \S+ was not found",
    ),
    _sig(
        # ingress-nginx (controller.go) when the Secret an Ingress names holds a certificate for other names; it
        # then logs `Using default certificate` and serves that host its self-signed fallback
        "ingress-tls-wrong-host",
        r"SSL certificate \"[^\"]+\" does not contain a Common Name or Subject Alternative Name for server",
        "the Ingress's TLS Secret holds a certificate for other host names, so ingress-nginx serves its default "
        "self-signed certificate (Kubernetes Ingress Controller Fake Certificate) for this host",
        "the certificate in spec.tls.secretName does not list the host (its Subject Alternative Names); browsers get "
        "the controller's fake certificate for it and warn that the connection is not private",
        "issue a certificate that covers the host (add it to the Certificate's dnsNames) or point the Ingress's "
        "spec.tls at a Secret whose certificate covers it",
        ("Subject Alternative Name", "default certificate", "Fake Certificate", "certificate"),
        covers=("x509-hostname",),
        detail=r"SSL certificate \"[^\"]+\"|for server \"[^\"]+\"|certificate is valid for [^,]+(?:, [^,]+)*, not [\w.-]+",
    ),
    _sig(
        "thread-limit",
        r"unable to create (?:new )?native thread|pthread_create failed|can't start new thread"
        r"|fork: retry: Resource temporarily unavailable",
        "the process cannot start more threads: it reached the container's process limit (pids) or leaks threads",
        "threads count against the pod's PID limit (the kubelet's podPidsLimit) and the node's; more memory does not "
        "help (the JVM reports it as an OutOfMemoryError)",
        "find what keeps creating threads (a thread dump: jstack, py-spy) and fix the leak; raise the PID limit only "
        "if the count is legitimate",
        ("native thread", "thread", "PID limit", "pids"),
        severity=CRITICAL,
        settings=r"processes limit|pids\.max|pids limit|max user processes|ulimit -u",
    ),
    _sig(
        "vllm-kv-cache",
        r"larger than the maximum number of tokens that can be stored in KV cache|No available memory for the cache "
        r"blocks",
        "vLLM cannot fit the model's context length in the GPU memory left for its KV cache, so the engine does not "
        "start",
        "vLLM reserves KV cache for max_model_len tokens (the model's full context by default); after the weights, "
        "the GPU has room for fewer",
        "set --max-model-len to what the GPU holds (or raise --gpu-memory-utilization, or use a larger GPU or "
        "tensor parallelism)",
        ("KV cache", "max_model_len", "max-model-len", "context length"),
        severity=CRITICAL,
        detail=r"max seq len \(\d+\)|KV cache \(\d+\)",
        settings=r"max_seq_len=|max_model_len|gpu_memory_utilization|# GPU blocks",
    ),
    _sig(
        "sysctl-forbidden",
        r'forbidden sysctl: "[^"]+" not allowlisted|SysctlForbidden|unsafe sysctl "[^"]+" is not allowed',
        "the pod sets a sysctl the kubelet does not allow, so the kubelet rejects it (SysctlForbidden)",
        "only safe sysctls are allowed by default; an unsafe one needs the kubelet's --allowed-unsafe-sysctls on "
        "the nodes the pod runs on",
        "remove the sysctl from the pod's securityContext, or allow it on a dedicated node pool "
        "(--allowed-unsafe-sysctls) and schedule the pods there",
        ("sysctl", "allowed-unsafe-sysctls", "allowlist"),
        severity=CRITICAL,
        detail=r'sysctl:? "[^"]+"',
    ),
    _sig(
        "client-throttling",
        r"due to client-side throttling",
        "the program's own Kubernetes client delays its requests (client-side throttling by its QPS/Burst limits), "
        "not the API server",
        "client-go's rate limiter (QPS 5, Burst 10 by default) queues requests beyond its budget; a controller that "
        "needs more waits seconds per request and falls behind (lease renewals miss their deadline)",
        "raise the client's QPS and Burst (the controller's flags or rest.Config), or make fewer requests",
        ("client-side throttling", "QPS", "Burst", "rate limit"),
        detail=r"Waited for [\d.]+m?s",
    ),
    _sig(
        "go-panic",
        r"^panic: |\bgoroutine \d+ \[running\]",
        "the program panicked (a Go panic)",
        "the program hit an unrecoverable error and exited",
        "read the panic message and stack trace; fix the code path or its input",
        ("panic",),
        severity=CRITICAL,
        explain=False,
    ),
    _sig(
        "segfault",
        r"segmentation fault|SIGSEGV|segfault",
        "the process crashed with a segmentation fault",
        "the process accessed invalid memory and was killed",
        "check native libraries and driver versions; get a core dump",
        ("segmentation fault", "SIGSEGV", "segfault"),
        severity=CRITICAL,
        explain=False,
    ),
)
SIGNATURE_BY_RULE = {signature.rule: signature for signature in SIGNATURES}
LOG_SIGNATURES = tuple(signature for signature in SIGNATURES if signature.in_logs)

# Any line that states a setting some signature is governed by (collected beyond a log's first lines).
STATED_SETTING = re.compile(
    "|".join(f"(?:{signature.settings.pattern})" for signature in LOG_SIGNATURES if signature.settings), re.IGNORECASE
)


def matching(text: str, signatures: tuple[Signature, ...] = SIGNATURES) -> list[Signature]:
    """The signatures `text` shows, in catalogue order; generic ones only when no specific one matches, and none
    that another one found on the line covers."""
    found = [signature for signature in signatures if signature.pattern.search(text)]
    covered = {rule for signature in found for rule in signature.covers}
    found = [signature for signature in found if signature.rule not in covered]
    specific = [signature for signature in found if not signature.generic]
    return specific or found


def meanings(text: str) -> list[str]:
    """What the coded signatures in `text` mean, each once, in order of first appearance."""
    found: list[tuple[int, str]] = []
    for match in XID.finditer(text):
        code = int(match.group(1))
        if code in XID_MEANINGS:
            found.append((match.start(), f"Xid {code}: {XID_MEANINGS[code]}"))
    for signature in SIGNATURES:
        if not signature.explain:
            continue
        match = signature.pattern.search(text)
        if match:
            found.append((match.start(), signature.meaning))
    seen: set[str] = set()
    return [meaning for _, meaning in sorted(found) if not (meaning in seen or seen.add(meaning))]


def annotate(text: str) -> str:
    """`text` with a "Meaning:" line after its first line when it holds coded signatures."""
    explained = meanings(text)
    if not explained:
        return text
    header, newline, body = text.partition("\n")
    return f"{header}\nMeaning: {'; '.join(explained)}.{newline}{body}"
