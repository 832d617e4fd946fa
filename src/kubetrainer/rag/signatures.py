"""Known failure signatures, explained in the words an on-call engineer would search with.

Logs and events speak in codes ("Xid=79", "exit code 137", "x509: certificate has
expired"); people ask "has a GPU gone bad?" or "why did it run out of memory?". A
chunk that contains a known signature gets a one-line meaning after its header, so
both BM25 and the embedding meet the question halfway, and the answering model
reads what the code means. Symptoms already in plain words ("Back-off restarting failed
container", "Liveness probe failed") get no line: repeating a symptom would rank it above
the chunk that holds its cause. The Xid meanings follow NVIDIA's Xid catalogue
(docs.nvidia.com/deploy/xid-errors).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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
XID = re.compile(r"\bXid\b(?:\s*\(PCI:[^)]*\))?\s*[:=]?\s*(\d+)", re.IGNORECASE)


@dataclass(frozen=True)
class Signature:
    pattern: re.Pattern[str]
    meaning: str


SIGNATURES: tuple[Signature, ...] = tuple(Signature(re.compile(pattern, re.IGNORECASE), meaning) for pattern, meaning in (
    (r"OOMKilled|exit code 137|Out of memory: Killed process",
     "out of memory: the container went over its memory limit and was killed; raise the limit or cut its usage"),
    (r"CUDA out of memory|OutOfMemoryError|CUDA error: out of memory",
     "GPU memory exhausted: the job needs more GPU memory than is free (smaller batch, gradient checkpointing, a larger GPU)"),
    (r"x509: certificate has expired|certificate has expired",
     "a TLS certificate expired: connections using it are refused until it is renewed"),
    (r"no such host|NXDOMAIN|server misbehaving",
     "DNS lookup failure: a service name does not resolve, so calls to it fail"),
    (r"ImagePullBackOff|ErrImagePull|manifest unknown|pull access denied",
     "the container image cannot be pulled: wrong image name or tag, or missing registry credentials"),
    (r"Insufficient (?:nvidia\.com|amd\.com)/gpu",
     "not enough free GPUs: no node has the GPUs this pod requests, so it cannot be scheduled"),
    (r"unbound immediate PersistentVolumeClaims|ProvisioningFailed|didn't find available persistent volumes",
     "storage not provisioned: the volume claim is not bound, so the pod cannot start"),
    (r"NCCL (?:WARN|error)|ncclSystemError|ncclInternalError|collective operation timeout",
     "GPU collective communication failed between ranks (network, NVLink or a stuck peer)"),
    (r"(?:Memory|Disk|PID)Pressure=True|EvictionThresholdMet",
     "the node is short of memory, disk or process ids and evicts pods"),
    (r"\bNotReady\b|NodeStatusUnknown",
     "the node is down: its kubelet stopped reporting, and pods on it are not running"),
))


def meanings(text: str) -> list[str]:
    """What the known signatures in `text` mean, each once, in order of first appearance."""
    found: list[tuple[int, str]] = []
    for match in XID.finditer(text):
        code = int(match.group(1))
        if code in XID_MEANINGS:
            found.append((match.start(), f"Xid {code}: {XID_MEANINGS[code]}"))
    for signature in SIGNATURES:
        match = signature.pattern.search(text)
        if match:
            found.append((match.start(), signature.meaning))
    seen: set[str] = set()
    return [meaning for _, meaning in sorted(found) if not (meaning in seen or seen.add(meaning))]


def annotate(text: str) -> str:
    """`text` with a "Meaning:" line after its first line when it holds known signatures."""
    explained = meanings(text)
    if not explained:
        return text
    header, newline, body = text.partition("\n")
    return f"{header}\nMeaning: {'; '.join(explained)}.{newline}{body}"
