"""Render a distributed training run as Kubernetes objects, for three backends.

- `job`: a plain Indexed Job plus a headless Service; torchrun's c10d rendezvous meets at
  pod 0's stable DNS name. Works on any cluster (batch/v1 only).
- `pytorchjob`: the Kubeflow Training Operator's PyTorchJob (kubeflow.org/v1).
- `trainjob`: Kubeflow Trainer's TrainJob (trainer.kubeflow.org/v1alpha1) on its
  `torch-distributed` runtime.

Every backend runs the same container command, `kubetrainer train ... --nproc G`, which
starts torchrun; the environment tells it how many nodes meet where (train/distributed.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kubetrainer.k8s.placement import Placement

BACKENDS = ("job", "pytorchjob", "trainjob")
RDZV_PORT = 29400
MANAGED_BY = "kubetrainer"
JOB_LABEL = "kubetrainer.dev/job"
DATA_MOUNT = "/data"


@dataclass(frozen=True)
class TrainingJobSpec:
    """Everything the manifests need; `train_args` are passed to `kubetrainer train` unchanged."""

    name: str
    namespace: str
    image: str
    gpus_per_node: int
    nodes: int
    placement: Placement
    train_args: tuple[str, ...]
    data_pvc: str | None = None
    shm_size: str = "16Gi"
    cpu: str | None = None
    memory: str | None = None
    labels: dict[str, str] = field(default_factory=dict)


def render(spec: TrainingJobSpec, backend: str) -> list[dict[str, Any]]:
    """The objects to create, in order."""
    if backend == "job":
        return [_headless_service(spec), _indexed_job(spec)]
    if backend == "pytorchjob":
        return [_pytorchjob(spec)]
    if backend == "trainjob":
        return [_trainjob(spec)]
    raise ValueError(f"unknown backend {backend!r}")


def labels(spec: TrainingJobSpec) -> dict[str, str]:
    return {"app.kubernetes.io/managed-by": MANAGED_BY, JOB_LABEL: spec.name, **spec.labels}


def _metadata(spec: TrainingJobSpec, name: str | None = None) -> dict[str, Any]:
    return {"name": name or spec.name, "namespace": spec.namespace, "labels": labels(spec)}


def _command(spec: TrainingJobSpec) -> list[str]:
    return [
        "kubetrainer", "train", *spec.train_args,
        "--nproc", str(spec.gpus_per_node),
        "--run-id", spec.name,
    ]


def _resources(spec: TrainingJobSpec) -> dict[str, Any]:
    limits: dict[str, Any] = {spec.placement.gpu_resource: spec.gpus_per_node}
    requests: dict[str, Any] = {}
    if spec.cpu:
        requests["cpu"] = spec.cpu
    if spec.memory:
        requests["memory"] = limits["memory"] = spec.memory
    return {"limits": limits, **({"requests": requests} if requests else {})}


def _container(spec: TrainingJobSpec, env: list[dict[str, Any]]) -> dict[str, Any]:
    mounts = [{"name": "dshm", "mountPath": "/dev/shm"}]
    if spec.data_pvc:
        mounts.append({"name": "data", "mountPath": DATA_MOUNT})
    return {
        "name": "trainer",
        "image": spec.image,
        "command": _command(spec),
        "env": [{"name": "KUBETRAINER_HOME", "value": DATA_MOUNT}, *env],
        "resources": _resources(spec),
        "volumeMounts": mounts,
    }


def _pod_spec(spec: TrainingJobSpec, container: dict[str, Any]) -> dict[str, Any]:
    # Data loaders share batches through /dev/shm; the container default (64 MiB) is far too small.
    volumes: list[dict[str, Any]] = [{"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": spec.shm_size}}]
    if spec.data_pvc:
        volumes.append({"name": "data", "persistentVolumeClaim": {"claimName": spec.data_pvc}})
    pod: dict[str, Any] = {"restartPolicy": "Never", "containers": [container], "volumes": volumes}
    if spec.placement.node_selector:
        pod["nodeSelector"] = dict(spec.placement.node_selector)
    if spec.placement.tolerations:
        pod["tolerations"] = [dict(t) for t in spec.placement.tolerations]
    return pod


def _headless_service(spec: TrainingJobSpec) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(spec),
        "spec": {
            "clusterIP": "None",
            # Pods must be resolvable before they are ready: the rendezvous happens first.
            "publishNotReadyAddresses": True,
            "selector": {JOB_LABEL: spec.name},
            "ports": [{"name": "rdzv", "port": RDZV_PORT}],
        },
    }


def _indexed_job(spec: TrainingJobSpec) -> dict[str, Any]:
    endpoint = f"{spec.name}-0.{spec.name}.{spec.namespace}.svc:{RDZV_PORT}"
    env = [
        {"name": "NNODES", "value": str(spec.nodes)},
        {"name": "RDZV_ENDPOINT", "value": endpoint},
        {"name": "JOB_ID", "value": spec.name},
        {"name": "NODE_RANK", "valueFrom": {"fieldRef": {"fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"}}},
    ]
    pod = _pod_spec(spec, _container(spec, env))
    pod["subdomain"] = spec.name
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _metadata(spec),
        "spec": {
            "completionMode": "Indexed",
            "completions": spec.nodes,
            "parallelism": spec.nodes,
            # torchrun restarts failed workers itself; a pod failure means the run failed.
            "backoffLimit": 0,
            "template": {"metadata": {"labels": labels(spec)}, "spec": pod},
        },
    }


def _pytorchjob(spec: TrainingJobSpec) -> dict[str, Any]:
    def replica(count: int) -> dict[str, Any]:
        container = _container(spec, [])
        container["name"] = "pytorch"  # the Training Operator finds its container by this name
        return {
            "replicas": count,
            "restartPolicy": "Never",
            "template": {"metadata": {"labels": labels(spec)}, "spec": _pod_spec(spec, container)},
        }

    replicas = {"Master": replica(1)}
    if spec.nodes > 1:
        replicas["Worker"] = replica(spec.nodes - 1)
    return {
        "apiVersion": "kubeflow.org/v1",
        "kind": "PyTorchJob",
        "metadata": _metadata(spec),
        "spec": {"nprocPerNode": str(spec.gpus_per_node), "pytorchReplicaSpecs": replicas},
    }


def _trainjob(spec: TrainingJobSpec) -> dict[str, Any]:
    container = _container(spec, [])
    trainer: dict[str, Any] = {
        "image": spec.image,
        "command": container["command"],
        "numNodes": spec.nodes,
        "resourcesPerNode": container["resources"],
        "env": container["env"],
    }
    pod = _pod_spec(spec, container)
    # The runtime owns the pod template; these overrides add placement and volumes to its `node` job.
    override: dict[str, Any] = {key: pod[key] for key in ("nodeSelector", "tolerations", "volumes") if key in pod}
    override["containers"] = [{"name": "node", "volumeMounts": container["volumeMounts"]}]
    return {
        "apiVersion": "trainer.kubeflow.org/v1alpha1",
        "kind": "TrainJob",
        "metadata": _metadata(spec),
        "spec": {
            "runtimeRef": {"name": "torch-distributed"},
            "trainer": trainer,
            "podTemplateOverrides": [{"targetJobs": [{"name": "node"}], "spec": override}],
        },
    }
