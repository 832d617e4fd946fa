"""`kubetrainer submit train`: from a request to a placed, rendered, submitted training job.

`plan()` is pure (inventory, labels and the cluster's backends in; a job spec out), so
`--dry-run` and the tests see exactly what would be applied; `submit()` creates it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from kubetrainer.errors import UserError
from kubetrainer.hardware.inventory import ClusterInventory
from kubetrainer.k8s import manifests
from kubetrainer.k8s.client import Cluster
from kubetrainer.k8s.placement import GpuRequest, Placement, place
from kubetrainer.models.bundled import DEFAULT_LLM_ID
from kubetrainer.models.estimate import Workload, estimate
from kubetrainer.models.plan import model_spec

DEFAULT_IMAGE = "ghcr.io/kubetrainer/kubetrainer:0.1.0"
DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]{0,50}[a-z0-9])?$")


@dataclass(frozen=True)
class TrainRequest:
    """What the user asked for on the command line."""

    name: str
    dataset: str
    method: str = "lora"
    model: str | None = None
    gpus: int = 1
    nodes: int = 1
    namespace: str = "default"
    image: str = DEFAULT_IMAGE
    backend: str = "auto"
    data_pvc: str | None = None
    shm_size: str = "16Gi"
    fsdp: bool = False
    extra_args: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Plan:
    backend: str
    placement: Placement
    bytes_per_gpu: int
    objects: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {"backend": self.backend, "placement": self.placement.to_json(),
                "bytes_per_gpu": self.bytes_per_gpu, "objects": self.objects}


def plan(request: TrainRequest, inventory: ClusterInventory, node_labels: dict[str, dict[str, str]],
         served_backends: set[str]) -> Plan:
    """Place and render the job; a job that cannot fit raises a UserError that shows the inventory."""
    if not DNS_LABEL.match(request.name):
        raise UserError(f"job name {request.name!r} is not a DNS label", where="--name",
                        expected="lower-case letters, digits and '-', starting with a letter, at most 52 characters")
    backend = choose_backend(request.backend, served_backends)
    bytes_per_gpu = memory_per_gpu(request)
    placement = place(inventory, GpuRequest(request.gpus, request.nodes, bytes_per_gpu), node_labels)
    train_args = ("--dataset", request.dataset, "--method", request.method,
                  *(("--model", request.model) if request.model else ()),
                  *(("--fsdp",) if request.fsdp else ()), *request.extra_args)
    spec = manifests.TrainingJobSpec(
        name=request.name, namespace=request.namespace, image=request.image, gpus_per_node=request.gpus,
        nodes=request.nodes, placement=placement, train_args=train_args, data_pvc=request.data_pvc,
        shm_size=request.shm_size,
    )
    return Plan(backend=backend, placement=placement, bytes_per_gpu=bytes_per_gpu, objects=manifests.render(spec, backend))


def choose_backend(wanted: str, served: set[str]) -> str:
    """Kubeflow Trainer's TrainJob, else the Training Operator's PyTorchJob, else a plain Indexed Job."""
    if wanted == "auto":
        return next(backend for backend in ("trainjob", "pytorchjob", "job") if backend in served | {"job"})
    if wanted not in manifests.BACKENDS:
        raise UserError(f"unknown backend {wanted!r}", where="--backend", expected="auto | " + " | ".join(manifests.BACKENDS))
    if wanted not in served | {"job"}:
        raise UserError(f"this cluster does not serve the {wanted} backend's CRDs", where="--backend",
                        hint="install its operator, or use --backend job (works on any cluster)")
    return wanted


def memory_per_gpu(request: TrainRequest) -> int:
    """Bytes each GPU must hold: the whole model state per GPU, or a shard of it under FSDP."""
    spec = model_spec(request.model or DEFAULT_LLM_ID)
    needed = estimate(spec, Workload(task=request.method))
    devices = request.gpus * request.nodes if request.fsdp else 1
    return needed.per_device_bytes(devices)


def submit(cluster: Cluster, objects: list[dict[str, Any]]) -> list[str]:
    """Create the objects in order; their `Kind namespace/name`s."""
    created = []
    for obj in objects:
        cluster.create(obj)
        created.append(f"{obj['kind']} {obj['metadata']['namespace']}/{obj['metadata']['name']}")
    return created
