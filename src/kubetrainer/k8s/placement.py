"""Where a distributed training job can run: enough free GPUs of one product that fits.

Pure: it reads a `ClusterInventory` (from `kubetrainer detect`) and the raw node labels,
and either returns a `Placement` or raises a `UserError` that shows the inventory, so a
job that cannot fit says why before anything is submitted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kubetrainer.errors import UserError
from kubetrainer.hardware.inventory import ClusterInventory, NodeGpus, NodeInventory

MIB = 2**20
GPU_RESOURCE = {"nvidia": "nvidia.com/gpu", "amd": "amd.com/gpu", "intel": "gpu.intel.com/i915"}
# Labels that name a node's GPU product, most specific first; the first one a node carries
# becomes the job's nodeSelector, so the scheduler keeps the job on that product.
PRODUCT_LABELS = (
    "nvidia.com/gpu.product",
    "amd.com/gpu.product-name",
    "beta.amd.com/gpu.product-name",
    "gpu.intel.com/product",
    "cloud.google.com/gke-accelerator",
    "karpenter.k8s.aws/instance-gpu-name",
)


@dataclass(frozen=True)
class GpuRequest:
    """What the job needs: GPUs per node, nodes, and bytes of GPU memory each GPU must hold."""

    gpus_per_node: int
    nodes: int = 1
    bytes_per_gpu: int = 0

    def __post_init__(self) -> None:
        if self.gpus_per_node < 1:
            raise UserError(f"{self.gpus_per_node} GPUs per node", where="--gpus", expected="at least 1")
        if self.nodes < 1:
            raise UserError(f"{self.nodes} nodes", where="--nodes", expected="at least 1")


@dataclass(frozen=True)
class Placement:
    """The chosen product and nodes, and what the pod spec needs to land there."""

    vendor: str
    product: str
    memory_mib: int | None
    nodes: tuple[str, ...]
    gpu_resource: str
    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: tuple[dict[str, Any], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "vendor": self.vendor,
            "product": self.product,
            "memory_mib": self.memory_mib,
            "nodes": list(self.nodes),
            "gpu_resource": self.gpu_resource,
            "node_selector": self.node_selector,
            "tolerations": list(self.tolerations),
        }


def place(inventory: ClusterInventory, request: GpuRequest, node_labels: dict[str, dict[str, str]]) -> Placement:
    """The product group with enough schedulable nodes that each have enough free GPUs with enough memory.

    Among products that fit, the one with the least memory per GPU wins (big GPUs stay free
    for jobs that need them), then the one with the most free GPUs; within it, the nodes
    with the most free GPUs.
    """
    groups: dict[tuple[str, str], list[tuple[NodeInventory, NodeGpus]]] = {}
    for node in inventory.nodes:
        if node.gpus is not None and _fits(node, node.gpus, request):
            groups.setdefault((node.gpus.vendor, node.gpus.product), []).append((node, node.gpus))
    viable = [members for members in groups.values() if len(members) >= request.nodes]
    if not viable:
        raise UserError(_why_not(inventory, request), where="placement", hint="see `kubetrainer detect` for the inventory")
    best = min(viable, key=lambda members: (members[0][1].memory_mib or 0, -sum(gpus.free for _, gpus in members)))
    chosen = sorted(best, key=lambda member: (-member[1].free, member[0].name))[: request.nodes]
    nodes = [node for node, _ in chosen]
    gpus = chosen[0][1]
    return Placement(
        vendor=gpus.vendor,
        product=gpus.product,
        memory_mib=gpus.memory_mib,
        nodes=tuple(node.name for node in nodes),
        gpu_resource=GPU_RESOURCE.get(gpus.vendor, "nvidia.com/gpu"),
        node_selector=_selector(nodes, node_labels),
        tolerations=_tolerations(nodes),
    )


def _fits(node: NodeInventory, gpus: NodeGpus, request: GpuRequest) -> bool:
    if not node.schedulable or gpus.free < request.gpus_per_node:
        return False
    if request.bytes_per_gpu and gpus.memory_mib is not None:
        return gpus.memory_mib * MIB >= request.bytes_per_gpu
    # Unknown memory (no labels): only a job with no stated need may go there.
    return not request.bytes_per_gpu


def _selector(nodes: list[NodeInventory], node_labels: dict[str, dict[str, str]]) -> dict[str, str]:
    """The first product label all chosen nodes share; else pin the hostnames."""
    for key in PRODUCT_LABELS:
        values = {node_labels.get(node.name, {}).get(key) for node in nodes}
        if len(values) == 1 and None not in values:
            return {key: str(values.pop())}
    if len(nodes) == 1:
        return {"kubernetes.io/hostname": nodes[0].name}
    return {}


def _tolerations(nodes: list[NodeInventory]) -> tuple[dict[str, Any], ...]:
    """Tolerate exactly the scheduling taints the chosen nodes carry (GPU taints, dedicated pools)."""
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for node in nodes:
        for taint in node.taints:
            if taint.effect in ("NoSchedule", "NoExecute"):
                seen[(taint.key, taint.effect)] = {"key": taint.key, "operator": "Exists", "effect": taint.effect}
    return tuple(seen[key] for key in sorted(seen))


def _why_not(inventory: ClusterInventory, request: GpuRequest) -> str:
    need = f"{request.nodes} node(s) with {request.gpus_per_node} free GPU(s) each"
    if request.bytes_per_gpu:
        need += f" of at least {request.bytes_per_gpu / 2**30:.1f} GiB"
    lines = [f"no GPU product in the cluster has {need}; free GPUs now:"]
    for product in inventory.summary:
        memory = f"{product.memory_mib / 1024:.0f} GiB" if product.memory_mib else "memory unknown"
        per_node = sorted(
            (node.gpus.free for node in inventory.nodes if node.gpus and node.gpus.product == product.product and node.schedulable),
            reverse=True,
        )
        lines.append(f"  {product.product} ({memory}): {product.free} free on {product.nodes} node(s), per node {per_node}")
    if not inventory.summary:
        lines.append("  (no GPU nodes)")
    return "\n".join(lines)
