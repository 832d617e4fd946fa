"""The hardware inventory types every later stage reads (model selection, submit, serve).

`LocalMachine` is what this host has (CPU, RAM, GPUs found by NVML/amdsmi/torch, and
why none were found). `ClusterInventory` is a list of `NodeInventory`, each with at most
one `NodeGpus` group, plus a per-product summary; `ClusterInventory.to_json()` is the
`kubetrainer detect --json` contract of DESIGN.md section 5. A local machine is turned
into a node (`LocalMachine.as_node()`) so a planner treats "this box" and "that cluster"
the same way.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, replace
from typing import Any

from kubetrainer.hardware.products import find_product


@dataclass(frozen=True)
class LocalGpu:
    """One GPU on this host, as its driver library reports it."""

    index: int
    vendor: str  # "nvidia" | "amd" | "intel"
    name: str  # the driver's name, e.g. "NVIDIA H100 80GB HBM3"
    memory_total_mib: int
    source: str  # which probe found it: "nvml" | "amdsmi" | "rocm-smi" | "torch"
    memory_used_mib: int | None = None
    uuid: str | None = None
    compute_capability: str | None = None  # CUDA "9.0" or the AMD gfx target "gfx942"
    driver_version: str | None = None
    runtime: str | None = None  # "cuda" | "rocm"
    runtime_version: str | None = None
    mig_enabled: bool | None = None
    utilization_pct: int | None = None
    temperature_c: float | None = None
    power_w: float | None = None
    power_limit_w: float | None = None


@dataclass(frozen=True)
class LocalMachine:
    """This host: CPU, RAM, GPUs, and the reasons each probe found no GPU (shown by --verbose)."""

    hostname: str
    cpu_model: str
    cpu_cores: int  # physical cores
    cpu_threads: int  # logical CPUs
    ram_bytes: int
    gpus: tuple[LocalGpu, ...] = ()
    no_gpu_reasons: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def as_node(self) -> NodeInventory:
        """This host as a schedulable node; with mixed GPUs the group with the most memory stands for it."""
        gpus: NodeGpus | None = None
        if self.gpus:
            groups = Counter(gpu.name for gpu in self.gpus)
            best = max(self.gpus, key=lambda gpu: (gpu.memory_total_mib, groups[gpu.name]))
            product = find_product(best.name, vendor=best.vendor, memory_mib=best.memory_total_mib)
            count = groups[best.name]
            gpus = NodeGpus(
                vendor=best.vendor,
                product=product.name if product else best.name,
                count=count,
                capacity=count,
                allocated=0,
                memory_mib=best.memory_total_mib,
                compute_capability=best.compute_capability,
                family=product.family if product else None,
                runtime=best.runtime,
                runtime_version=best.runtime_version,
                driver_version=best.driver_version,
                mig={"strategy": None, "devices": {}} if best.mig_enabled else None,
            )
        return NodeInventory(
            name=self.hostname,
            ready=True,
            schedulable=True,
            cpu=float(self.cpu_threads),
            memory_bytes=self.ram_bytes,
            gpus=gpus,
        )


@dataclass(frozen=True)
class NodeGpus:
    """The GPUs of one node: one product, its counts, and what the labels say about it.

    `count` is allocatable (what the scheduler can hand out), `capacity` what the device
    plugin registered; `allocated` sums the requests of unfinished pods bound to the node.
    `mig` is None when MIG is off, else `{"strategy", "devices": {profile: {"capacity",
    "allocatable", "allocated", "memory_mib"}}}`; `sharing` is None or `{"strategy", "replicas"}`
    (time-slicing or MPS).
    """

    vendor: str
    product: str
    count: int
    capacity: int
    allocated: int
    memory_mib: int | None = None
    compute_capability: str | None = None
    family: str | None = None
    runtime: str | None = None
    runtime_version: str | None = None
    driver_version: str | None = None
    mig: dict[str, Any] | None = None
    sharing: dict[str, Any] | None = None

    @property
    def free(self) -> int:
        return max(self.count - self.allocated, 0)

    def to_json(self) -> dict[str, Any]:
        return {
            "vendor": self.vendor,
            "product": self.product,
            "count": self.count,
            "capacity": self.capacity,
            "allocated": self.allocated,
            "free": self.free,
            "memory_mib": self.memory_mib,
            "compute_capability": self.compute_capability,
            "family": self.family,
            "runtime": self.runtime,
            "runtime_version": self.runtime_version,
            "driver_version": self.driver_version,
            "mig": self.mig,
            "sharing": self.sharing,
        }


@dataclass(frozen=True)
class Taint:
    key: str
    effect: str
    value: str | None = None

    def __str__(self) -> str:
        return f"{self.key}{'=' + self.value if self.value else ''}:{self.effect}"


@dataclass(frozen=True)
class NodeInventory:
    """One node: whether pods can land on it, its allocatable CPU and memory, its GPUs."""

    name: str
    ready: bool
    schedulable: bool  # Ready and not cordoned; taints are listed, not judged
    cpu: float  # allocatable cores
    memory_bytes: int  # allocatable memory
    taints: tuple[Taint, ...] = ()
    gpus: NodeGpus | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ready": self.ready,
            "schedulable": self.schedulable,
            "taints": [asdict(taint) for taint in self.taints],
            "cpu": self.cpu,
            "memory_bytes": self.memory_bytes,
            "gpus": self.gpus.to_json() if self.gpus else None,
        }


@dataclass(frozen=True)
class ProductSummary:
    """All nodes with one product: `free` counts schedulable nodes only, since only those can take work."""

    vendor: str
    product: str
    memory_mib: int | None
    nodes: int
    capacity: int
    allocatable: int
    allocated: int
    free: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ClusterInventory:
    """Every node a source showed, and the per-product summary; `source` says where it came from."""

    source: str
    nodes: tuple[NodeInventory, ...] = ()
    summary: tuple[ProductSummary, ...] = ()

    @classmethod
    def of(cls, source: str, nodes: tuple[NodeInventory, ...]) -> ClusterInventory:
        """An inventory with its summary computed from `nodes`."""
        return cls(source=source, nodes=nodes, summary=summarize(nodes))

    def to_json(self) -> dict[str, Any]:
        """The `kubetrainer detect --json` shape (DESIGN.md section 5)."""
        return {
            "source": self.source,
            "nodes": [node.to_json() for node in self.nodes],
            "summary": [row.to_json() for row in self.summary],
        }

    def with_nodes(self, source: str, nodes: tuple[NodeInventory, ...]) -> ClusterInventory:
        """A new inventory with `nodes` added in front and the summary recomputed."""
        return replace(self, source=source, nodes=(*nodes, *self.nodes), summary=summarize((*nodes, *self.nodes)))


def summarize(nodes: tuple[NodeInventory, ...]) -> tuple[ProductSummary, ...]:
    """One row per (vendor, product, memory), MIG profiles as their own products, largest memory first."""
    rows: dict[tuple[str, str, int | None], list[int]] = {}

    def add(key: tuple[str, str, int | None], node: NodeInventory, capacity: int, count: int, allocated: int) -> None:
        row = rows.setdefault(key, [0, 0, 0, 0, 0])
        free = max(count - allocated, 0) if node.schedulable else 0
        for position, value in enumerate((1, capacity, count, allocated, free)):
            row[position] += value

    for node in nodes:
        gpus = node.gpus
        if gpus is None:
            continue
        mig_devices = (gpus.mig or {}).get("devices", {})
        if gpus.capacity or not mig_devices:
            add((gpus.vendor, gpus.product, gpus.memory_mib), node, gpus.capacity, gpus.count, gpus.allocated)
        for profile, device in mig_devices.items():
            key = (gpus.vendor, f"{gpus.product} MIG {profile}", device.get("memory_mib"))
            add(key, node, device["capacity"], device["allocatable"], device["allocated"])
    summary = [
        ProductSummary(vendor, product, memory, *counts) for (vendor, product, memory), counts in rows.items()
    ]
    summary.sort(key=lambda row: (-(row.memory_mib or 0), row.vendor, row.product))
    return tuple(summary)
