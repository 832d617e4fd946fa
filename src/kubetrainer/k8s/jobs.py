"""Follow what `kubetrainer submit` created: list, status, logs, cancel.

Jobs are found by the labels the manifests put on them, whatever the backend; the phase
is read from each backend's own status conditions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubetrainer.errors import UserError
from kubetrainer.k8s.client import KINDS, Cluster
from kubetrainer.k8s.manifests import JOB_LABEL, MANAGED_BY

MANAGED = f"app.kubernetes.io/managed-by={MANAGED_BY}"


@dataclass(frozen=True)
class JobStatus:
    name: str
    namespace: str
    backend: str
    phase: str  # Pending | Running | Succeeded | Failed
    message: str
    created: str | None

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


def phase_of(obj: dict[str, Any]) -> tuple[str, str]:
    """(phase, message) from a Job, PyTorchJob or TrainJob status."""
    status = obj.get("status") or {}
    conditions = {c.get("type"): c for c in status.get("conditions") or [] if c.get("status") == "True"}
    for kind, phase in (("Complete", "Succeeded"), ("Succeeded", "Succeeded"), ("Failed", "Failed")):
        if kind in conditions:
            return phase, conditions[kind].get("message") or conditions[kind].get("reason") or ""
    if status.get("active") or "Running" in conditions:
        return "Running", ""
    return "Pending", ""


def _status(obj: dict[str, Any], backend: str) -> JobStatus:
    meta = obj["metadata"]
    phase, message = phase_of(obj)
    return JobStatus(meta["name"], meta["namespace"], backend, phase, message, meta.get("creationTimestamp"))


def list_jobs(cluster: Cluster, namespace: str) -> list[JobStatus]:
    """Every KubeTrainer training job in `namespace`, across the backends the cluster serves."""
    found = []
    for backend in sorted(cluster.served_backends()):
        api_version, kind = KINDS[backend]
        found += [_status(obj, backend) for obj in cluster.list(api_version, kind, namespace, MANAGED)]
    return sorted(found, key=lambda job: (job.created or "", job.name))


def find_job(cluster: Cluster, namespace: str, name: str) -> tuple[str, dict[str, Any]]:
    for backend in sorted(cluster.served_backends()):
        api_version, kind = KINDS[backend]
        for obj in cluster.list(api_version, kind, namespace, f"{MANAGED},{JOB_LABEL}={name}"):
            return backend, obj
    raise UserError(f"no KubeTrainer job named {name!r}", where=f"namespace {namespace}",
                    hint="`kubetrainer jobs list` shows the jobs there")


def job_status(cluster: Cluster, namespace: str, name: str) -> JobStatus:
    backend, obj = find_job(cluster, namespace, name)
    return _status(obj, backend)


def pods_of(cluster: Cluster, namespace: str, name: str, backend: str) -> list[dict[str, Any]]:
    # TrainJob pods are made by JobSet from the runtime's template, which carries JobSet's labels, not ours.
    selector = f"jobset.sigs.k8s.io/jobset-name={name}" if backend == "trainjob" else f"{JOB_LABEL}={name}"
    return cluster.list("v1", "Pod", namespace, selector)


def logs(cluster: Cluster, namespace: str, name: str, tail_lines: int | None = None) -> dict[str, str]:
    """Each pod's log, by pod name (rank 0 first)."""
    backend, _ = find_job(cluster, namespace, name)
    pods = sorted(pods_of(cluster, namespace, name, backend), key=lambda pod: pod["metadata"]["name"])
    return {pod["metadata"]["name"]: cluster.pod_log(namespace, pod["metadata"]["name"], tail_lines) for pod in pods}


def cancel(cluster: Cluster, namespace: str, name: str) -> list[str]:
    """Delete the job and its rendezvous Service; the garbage collector removes the pods."""
    backend, _ = find_job(cluster, namespace, name)
    api_version, kind = KINDS[backend]
    deleted = [f"{kind} {namespace}/{name}"] if cluster.delete(api_version, kind, namespace, name) else []
    if backend == "job" and cluster.delete("v1", "Service", namespace, name):
        deleted.append(f"Service {namespace}/{name}")
    return deleted
