"""What a node's labels say about its GPUs, whichever component wrote them.

Label families read: NVIDIA GPU Feature Discovery (`nvidia.com/gpu.*`, `nvidia.com/cuda.*`
in both the legacy `driver.major` and the current `driver-version.major` forms, MIG and
sharing labels), AMD's node labeller (`amd.com/gpu.*` and the legacy
`beta.amd.com/gpu.<property>.<value>=<count>` form), Intel's NFD rules (`gpu.intel.com/*`)
and cloud labels (`cloud.google.com/gke-accelerator`, `karpenter.k8s.aws/instance-gpu-*`).
All resolve through the product table to one canonical name and memory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from kubetrainer.hardware.products import UNKNOWN_PRODUCT, find_product, humanize

RUNTIME = {"nvidia": "cuda", "amd": "rocm", "intel": "xpu"}
GKE_ACCELERATOR = "cloud.google.com/gke-accelerator"
KARPENTER = "karpenter.k8s.aws/instance-gpu-"


@dataclass(frozen=True)
class GpuLabels:
    """A node's GPU identity as its labels describe it; fields the labels lack stay None."""

    vendor: str
    product: str = UNKNOWN_PRODUCT
    memory_mib: int | None = None
    family: str | None = None
    compute_capability: str | None = None
    runtime: str | None = None
    runtime_version: str | None = None
    driver_version: str | None = None
    mig_strategy: str | None = None
    mig_memory_mib: dict[str, int] = field(default_factory=dict)  # MIG profile -> memory per slice
    sharing: dict[str, Any] | None = None


def labelled_vendor(labels: dict[str, str]) -> str | None:
    """The GPU vendor the labels speak of, for nodes whose device plugin registered nothing."""
    if "nvidia.com/gpu.product" in labels or GKE_ACCELERATOR in labels:
        return "nvidia"
    if any(key.startswith(("amd.com/gpu.", "beta.amd.com/gpu.")) for key in labels):
        return "amd"
    if "gpu.intel.com/product" in labels:
        return "intel"
    manufacturer = labels.get(KARPENTER + "manufacturer")
    return manufacturer.lower() if manufacturer else None


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _joined(labels: dict[str, str], prefix: str, parts: tuple[str, ...]) -> str | None:
    """"550.90.07" from `<prefix>.major/.minor/.rev`-style labels, None when the major part is absent."""
    values = [labels.get(f"{prefix}.{part}") for part in parts]
    if values[0] is None:
        return None
    return ".".join(value for value in values if value)


def _nvidia(labels: dict[str, str]) -> GpuLabels:
    raw = labels.get("nvidia.com/gpu.product") or labels.get(GKE_ACCELERATOR) or labels.get(KARPENTER + "name")
    memory = _int(labels.get("nvidia.com/gpu.memory")) or _int(labels.get(KARPENTER + "memory"))
    mig_profile = None
    if raw:
        raw = raw.removesuffix("-SHARED")
        raw, _, mig_profile = raw.partition("-MIG-")
    product = find_product(raw, vendor="nvidia", memory_mib=None if mig_profile else memory) if raw else None
    name = product.name if product else (humanize(raw) if raw else UNKNOWN_PRODUCT)
    if mig_profile:  # strategy "single": every GPU is cut into slices of one profile
        name = f"{name} MIG {mig_profile}"
    major, minor = labels.get("nvidia.com/gpu.compute.major"), labels.get("nvidia.com/gpu.compute.minor")
    strategy = labels.get("nvidia.com/gpu.sharing-strategy") or labels.get("cloud.google.com/gke-gpu-sharing-strategy")
    replicas = _int(labels.get("nvidia.com/gpu.replicas") or labels.get("cloud.google.com/gke-max-shared-clients-per-gpu"))
    mig_memory = {
        match.group(1): int(value)
        for key, value in labels.items()
        if key.startswith("nvidia.com/mig-")
        and (match := re.fullmatch(r"nvidia\.com/mig-(.+)\.memory", key)) and value.isdigit()
    }
    return GpuLabels(
        vendor="nvidia",
        product=name,
        memory_mib=memory or (product.memory_mib if product else None),
        family=labels.get("nvidia.com/gpu.family") or (product.family if product else None),
        compute_capability=f"{major}.{minor}" if major and minor else (product.compute_capability if product else None),
        runtime="cuda",
        runtime_version=labels.get("nvidia.com/cuda.runtime-version.full")
        or _joined(labels, "nvidia.com/cuda.runtime-version", ("major", "minor"))
        or _joined(labels, "nvidia.com/cuda.runtime", ("major", "minor")),
        driver_version=labels.get("nvidia.com/cuda.driver-version.full")
        or _joined(labels, "nvidia.com/cuda.driver-version", ("major", "minor", "revision"))
        or _joined(labels, "nvidia.com/cuda.driver", ("major", "minor", "rev")),
        mig_strategy=labels.get("nvidia.com/mig.strategy") or ("single" if mig_profile else None),
        mig_memory_mib=mig_memory,
        sharing={"strategy": strategy, "replicas": replicas} if strategy and strategy != "none" else None,
    )


def _amd_properties(labels: dict[str, str]) -> dict[str, str]:
    """The labeller's properties from either form: `amd.com/gpu.vram=192G` or `beta.amd.com/gpu.vram.192G=8`."""
    properties: dict[str, str] = {}
    for key, value in labels.items():
        if key.startswith("beta.amd.com/gpu."):
            name, _, legacy_value = key.removeprefix("beta.amd.com/gpu.").partition(".")
            properties.setdefault(name, legacy_value)
        elif key.startswith("amd.com/gpu."):
            properties[key.removeprefix("amd.com/gpu.")] = value
    return properties


def _vram_mib(text: str | None) -> int | None:
    match = re.fullmatch(r"(\d+)([GM])", text or "")
    if not match:
        return None
    return int(match.group(1)) * (1024 if match.group(2) == "G" else 1)


def _amd(labels: dict[str, str]) -> GpuLabels:
    properties = _amd_properties(labels)
    memory = _vram_mib(properties.get("vram")) or _int(labels.get(KARPENTER + "memory"))
    raw = properties.get("product-name") or labels.get(KARPENTER + "name")
    product = None
    for spelling in (raw, properties.get("device-id")):
        if spelling and product is None:
            product = find_product(spelling, vendor="amd", memory_mib=memory)
    return GpuLabels(
        vendor="amd",
        product=product.name if product else (humanize(raw) if raw else UNKNOWN_PRODUCT),
        # the vram label is rounded to whole GiB; the table holds what the driver reports
        memory_mib=product.memory_mib if product else memory,
        family=product.family if product else properties.get("family"),
        compute_capability=product.compute_capability if product else None,
        runtime="rocm",
        driver_version=properties.get("driver-version"),
    )


def _intel(labels: dict[str, str]) -> GpuLabels:
    raw = labels.get("gpu.intel.com/product")
    device_ids = [m.group(1) for key in labels if (m := re.fullmatch(r"gpu\.intel\.com/device-id\.\d{4}-([0-9a-f]{4})\.present", key))]
    product = None
    for spelling in (raw, *device_ids):
        if spelling and product is None:
            product = find_product(spelling, vendor="intel")
    # memory.max is the sum over the node's cards
    total = _int(labels.get("gpu.intel.com/memory.max"))
    cards = _int(labels.get("gpu.intel.com/device.count")) or 1
    memory = total // cards // 2**20 if total else None
    return GpuLabels(
        vendor="intel",
        product=product.name if product else (humanize(raw) if raw else UNKNOWN_PRODUCT),
        memory_mib=memory or (product.memory_mib if product else None),
        family=labels.get("gpu.intel.com/family") or (product.family if product else None),
        runtime="xpu",
    )


def read_gpu_labels(labels: dict[str, str], vendor: str) -> GpuLabels:
    """The GPU identity for `vendor` from a node's labels; product "unknown" when they say nothing."""
    if vendor == "nvidia":
        return _nvidia(labels)
    if vendor == "amd":
        return _amd(labels)
    if vendor == "intel":
        return _intel(labels)
    return GpuLabels(vendor=vendor, runtime=RUNTIME.get(vendor))
