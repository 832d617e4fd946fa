"""Hardware detection: what GPUs this machine and a cluster have, and how many are free.

    from kubetrainer.hardware import inventory_from_path
    inventory = inventory_from_path("dump/")          # or a nodes JSON file
    inventory.to_json()                               # the `detect --json` shape

The types live in `hardware.inventory`; the cluster rules in `hardware.cluster`.
"""

from kubetrainer.hardware.inventory import (
    ClusterInventory,
    LocalGpu,
    LocalMachine,
    NodeGpus,
    NodeInventory,
    ProductSummary,
    Taint,
)
from kubetrainer.hardware.readers import inventory_from_path

__all__ = [
    "ClusterInventory",
    "LocalGpu",
    "LocalMachine",
    "NodeGpus",
    "NodeInventory",
    "ProductSummary",
    "Taint",
    "inventory_from_path",
]
