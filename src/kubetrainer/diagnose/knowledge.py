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
)
KLOG_PROBLEM = re.compile(r"^[EWF]\d{4} ")

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
    if KLOG_PROBLEM.match(line):
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
    log analyzer turns a matching log line into a finding.
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


def _sig(rule: str, pattern: str, cause: str, meaning: str, fix: str, terms: tuple[str, ...], **options) -> Signature:
    return Signature(rule, re.compile(pattern, re.IGNORECASE), cause, meaning, fix, terms, **options)


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
        r"CUDA out of memory|(?:torch|cuda)\.OutOfMemoryError|CUDA error: out of memory|HIP out of memory",
        "the job ran out of GPU memory (CUDA out of memory)",
        "GPU memory exhausted: the job needs more GPU memory than is free (smaller batch, gradient checkpointing, a larger GPU)",
        "lower the batch size or sequence length, enable gradient checkpointing, or use a GPU with more memory",
        ("out of memory", "OutOfMemoryError", "GPU memory"),
        severity=CRITICAL,
    ),
    _sig(
        "jvm-oom",
        r"java\.lang\.OutOfMemoryError",
        "the Java program ran out of heap memory (java.lang.OutOfMemoryError)",
        "the JVM's own memory (its -Xmx heap, metaspace or native threads) is exhausted: the program fails inside "
        "the JVM, below the container's limit, so Kubernetes reports an error exit rather than OOMKilled",
        "raise -Xmx (or -XX:MaxRAMPercentage) within the container's memory limit, or cut the work's memory use",
        ("OutOfMemoryError", "heap", "Xmx"),
        severity=CRITICAL,
    ),
    _sig(
        "x509-expired",
        r"certificate has expired(?! or is not yet valid: current time \S+ is before)",
        "a TLS certificate has expired",
        "a TLS certificate expired: connections using it are refused until it is renewed",
        "renew the certificate (check the issuer, e.g. cert-manager, for why renewal failed)",
        ("expired", "certificate"),
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
        r"no such host|NXDOMAIN|server misbehaving|Temporary failure in name resolution",
        "a DNS lookup fails: the service name does not resolve",
        "DNS lookup failure: a service name does not resolve, so calls to it fail",
        "check the service name and namespace, that the Service exists, and CoreDNS health",
        ("no such host", "DNS", "resolve"),
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
    ),
    _sig(
        "connection-refused",
        r"connection refused|ECONNREFUSED",
        "connections to a dependency are refused: nothing is listening there",
        "the target address answered but nothing accepts connections on that port (the service is down or not ready)",
        "check that the dependency's pods are running and ready and that the Service port is right",
        ("connection refused", "refused"),
        explain=False,
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
    ),
    _sig(
        "quota-exceeded",
        r"exceeded quota|forbidden: exceeded quota",
        "pods cannot be created: the namespace's ResourceQuota is exhausted",
        "the namespace has used up its ResourceQuota, so the controller cannot create more pods",
        "raise the ResourceQuota, lower the pods' requests, or remove unused workloads in the namespace",
        ("quota",),
        explain=False,
        in_logs=False,
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
        "the GPU's MIG partitioning is misconfigured",
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
        "disk-full",
        r"no space left on device|ENOSPC",
        "a disk is full (no space left on device)",
        "writes fail because the filesystem is full",
        "free space or grow the volume; check the node's image and log garbage collection",
        ("no space left", "disk"),
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
        "nginx-big-header",
        r"upstream sent too big header while reading response header from upstream",
        "nginx rejects the upstream's response headers as larger than its proxy buffer (clients get 502)",
        "the backend answered with headers (often large Set-Cookie) bigger than nginx's proxy_buffer_size",
        "raise the proxy buffer (ingress-nginx: nginx.ingress.kubernetes.io/proxy-buffer-size) or shrink the headers",
        ("too big header", "proxy buffer", "proxy-buffer-size", "header"),
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
