"""What a pod's own spec adds to a log signature's cause.

A log line says what failed; the pod that printed it often says why: a full disk sits
on the pod's volume claims, a container that finds no GPU never asked for one, a JVM out
of heap was capped by its -Xmx. Both
the crash rules (pods.py) and the log rules (logs.py) append the same note.
"""

from __future__ import annotations

from kubetrainer.diagnose.collect import ObjectFacts
from kubetrainer.diagnose.status import parse_pod

STORAGE_RULES = ("disk-full",)
GPU_RULES = ("gpu-not-visible",)
JVM_RULES = ("jvm-oom",)
V8_RULES = ("node-heap-oom",)
SHM_RULES = ("nccl-shm", "dataloader-worker")


def pod_note(facts: ObjectFacts, rule: str) -> str:
    """`; its volume claims: data-db-0`, `; the pod requests no GPU (...)`, `; its JVM heap is capped at -Xmx512m`
    (or its V8 heap at --max-old-space-size=256) with its memory limit, what its /dev/shm is, or ""."""
    if facts.kind != "Pod" or facts.status is None:
        return ""
    status = parse_pod(facts.status.text)
    if rule in STORAGE_RULES and status.claims:
        return f"; its volume claims: {', '.join(status.claims)}"
    if rule in GPU_RULES and not status.gpu_limits:
        return "; the pod requests no GPU (no nvidia.com/gpu limit), so it was given none"
    limits = ", ".join(f"{name}={limit}" for name, limit in status.memory_limits.items())
    within = f", within the memory limit {limits}" if limits else ""
    if rule in JVM_RULES and status.jvm_heap:
        return f"; its JVM heap is capped at {status.jvm_heap}{within}"
    if rule in V8_RULES and status.v8_heap:
        return f"; its V8 heap is capped at {status.v8_heap} (MiB){within}"
    if rule in SHM_RULES:
        return f"; its /dev/shm: {status.shm}" if status.shm else \
            "; the pod mounts nothing at /dev/shm, so its containers have the runtime's 64M default"
    return ""
