"""Hardware detection: what GPUs this machine and a cluster have, and how many are free.

    from kubetrainer.hardware import detect, detect_local, inventory_from_api, inventory_from_path
    inventory_from_path("dump/")          # a cluster-info dump directory or a nodes JSON/YAML file
    inventory_from_api(None)              # the live cluster (kubeconfig or in-cluster)
    detect_local()                        # this host: CPU, RAM, GPUs (or why none)
    detect().inventory().to_json()        # what `kubetrainer detect --json` prints

The types live in `hardware.inventory`; the cluster rules in `hardware.cluster`.
"""

from kubetrainer.hardware.detect import Detection, detect
from kubetrainer.hardware.inventory import (
    ClusterInventory,
    LocalGpu,
    LocalMachine,
    NodeGpus,
    NodeInventory,
    ProductSummary,
    Taint,
)
from kubetrainer.hardware.live import inventory_from_api
from kubetrainer.hardware.local import detect_local
from kubetrainer.hardware.readers import inventory_from_path

__all__ = [
    "ClusterInventory",
    "Detection",
    "LocalGpu",
    "LocalMachine",
    "NodeGpus",
    "NodeInventory",
    "ProductSummary",
    "Taint",
    "detect",
    "detect_local",
    "inventory_from_api",
    "inventory_from_path",
]
