"""Memory budgets: the device groups a model can be placed on, from detection or from flags.

A `Budget` is one node's worth of identical devices (a model only shards across GPUs
of one node: tensor parallelism and FSDP need the fast intra-node links). Only part
of each device is usable: the driver, fragmentation and the allocator's slack take
the rest. A machine without GPUs budgets its RAM instead, and says so.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from kubetrainer.errors import UserError

GPU_USABLE_FRACTION = 0.90
CPU_USABLE_FRACTION = 0.80
CPU_NOTE = "no GPU found: the budget is system RAM and the model runs on the CPU (fp32)"
_SIZE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([kmgt]?)(i?)(b?)\s*$", re.IGNORECASE)
_POWERS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4}


@dataclass(frozen=True)
class Budget:
    """`devices` identical devices of `device_bytes` each on one node (or this host)."""

    kind: str  # "gpu" | "cpu"
    device_bytes: int
    devices: int
    label: str
    node: str | None = None
    note: str | None = None

    @property
    def usable_bytes(self) -> int:
        """Per device, what tensors may use."""
        fraction = GPU_USABLE_FRACTION if self.kind == "gpu" else CPU_USABLE_FRACTION
        return int(self.device_bytes * fraction)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "usable_bytes": self.usable_bytes}


def parse_size(text: str, *, where: str = "--gpu-memory") -> int:
    """Bytes from "24GiB", "80GB", "24G" or "24" (GiB). Binary units unless it says GB/MB/TB."""
    match = _SIZE.match(text)
    if not match:
        raise UserError(f"not a memory size: {text!r}", where=where, expected="e.g. 24GiB, 80GB, 16G or 24 (GiB)")
    number, prefix, binary, byte_suffix = match.groups()
    prefix = prefix.lower() or ("g" if not byte_suffix else "")
    decimal = byte_suffix and not binary and prefix  # "80GB" is 80e9; "24G" and "24GiB" are GiB
    base = 1000 if decimal else 1024
    size = int(float(number) * base ** _POWERS[prefix])
    if size <= 0:
        raise UserError(f"memory size must be positive: {text!r}", where=where)
    return size


def override(gpu_memory: str, gpus: int = 1) -> Budget:
    """The budget `--gpu-memory SIZE --gpus N` describes."""
    if gpus < 1:
        raise UserError(f"--gpus must be at least 1, got {gpus}", where="--gpus")
    size = parse_size(gpu_memory)
    gib = size / 2**30
    return Budget(kind="gpu", device_bytes=size, devices=gpus, label=f"{gpus} x {gib:g} GiB (--gpu-memory)")


def from_inventory(inventory: Any) -> list[Budget]:
    """One GPU budget per schedulable node with free GPUs of known memory (a `ClusterInventory`)."""
    budgets = []
    for node in inventory.nodes:
        gpus = node.gpus
        if not node.schedulable or gpus is None or not gpus.memory_mib or gpus.free < 1:
            continue
        budgets.append(
            Budget(
                kind="gpu",
                device_bytes=gpus.memory_mib * 2**20,
                devices=gpus.free,
                label=f"{gpus.free} x {gpus.product} ({gpus.memory_mib} MiB) on {node.name}",
                node=node.name,
            )
        )
    return budgets


def from_local_ram(machine: Any) -> Budget:
    """This host's RAM as the budget of a CPU-only run (a `LocalMachine`)."""
    return Budget(
        kind="cpu",
        device_bytes=machine.ram_bytes,
        devices=1,
        label=f"CPU RAM of {machine.hostname} ({machine.ram_bytes / 2**30:.0f} GiB)",
        node=machine.hostname,
        note=CPU_NOTE,
    )


def from_detection(detection: Any) -> list[Budget]:
    """GPU budgets of everything detected, else this host's RAM (a `hardware.Detection`)."""
    budgets = from_inventory(detection.inventory())
    if budgets:
        return budgets
    if detection.local is not None:
        return [from_local_ram(detection.local)]
    nodes = [node for node in detection.inventory().nodes if node.schedulable]
    if not nodes:
        raise UserError("no schedulable node in the inventory", where=detection.inventory().source)
    biggest = max(nodes, key=lambda node: node.memory_bytes)
    label = f"CPU RAM of node {biggest.name} ({biggest.memory_bytes / 2**30:.0f} GiB)"
    return [Budget("cpu", biggest.memory_bytes, 1, label, node=biggest.name, note=CPU_NOTE)]
