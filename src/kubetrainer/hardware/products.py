"""The GPU product table: many spellings of one accelerator mapped to one canonical name.

Clusters name the same card differently (GPU Feature Discovery says
"NVIDIA-A100-SXM4-80GB", GKE "nvidia-a100-80gb", Karpenter "a100", AMD's labeller
"AMD_Instinct_MI300X_OAM" or just a PCI device id). Model selection needs one name
and a memory size per card, so every reader resolves through `resolve_product`.
Memory is what the driver reports for one device (MiB), not the marketing figure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

UNKNOWN_PRODUCT = "unknown"


@dataclass(frozen=True)
class GpuProduct:
    """One accelerator model: its canonical name, memory, and the names clusters use for it."""

    name: str
    vendor: str  # "nvidia" | "amd" | "intel"
    memory_mib: int
    family: str
    compute_capability: str  # CUDA "major.minor" for NVIDIA, the gfx target for AMD, "" if none
    label: str  # the vendor's own node-label value (GFD product, AMD product-name, Intel product)
    aliases: tuple[str, ...] = ()  # cloud label values, PCI device ids, NVML/SMI names


PRODUCTS: tuple[GpuProduct, ...] = (
    GpuProduct("NVIDIA B200 180GB", "nvidia", 183359, "blackwell", "10.0", "NVIDIA-B200",
               ("nvidia-b200", "b200", "NVIDIA B200")),
    GpuProduct("NVIDIA H200 141GB", "nvidia", 143771, "hopper", "9.0", "NVIDIA-H200",
               ("NVIDIA-H200-141GB-HBM3e", "nvidia-h200-141gb", "h200", "NVIDIA H200")),
    GpuProduct("NVIDIA H100 80GB", "nvidia", 81559, "hopper", "9.0", "NVIDIA-H100-80GB-HBM3",
               ("NVIDIA-H100-SXM5-80GB", "NVIDIA-H100-PCIe", "nvidia-h100-80gb", "nvidia-h100-mega-80gb",
                "h100", "NVIDIA H100 80GB HBM3", "NVIDIA H100 PCIe")),
    GpuProduct("NVIDIA A100 80GB", "nvidia", 81920, "ampere", "8.0", "NVIDIA-A100-SXM4-80GB",
               ("NVIDIA-A100-80GB-PCIe", "nvidia-a100-80gb", "a100", "NVIDIA A100-SXM4-80GB",
                "NVIDIA A100 80GB PCIe")),
    GpuProduct("NVIDIA A100 40GB", "nvidia", 40960, "ampere", "8.0", "NVIDIA-A100-SXM4-40GB",
               ("NVIDIA-A100-PCIE-40GB", "nvidia-tesla-a100", "a100", "NVIDIA A100-SXM4-40GB",
                "NVIDIA A100-PCIE-40GB")),
    GpuProduct("NVIDIA L40S 48GB", "nvidia", 46068, "ada-lovelace", "8.9", "NVIDIA-L40S",
               ("l40s", "NVIDIA L40S")),
    GpuProduct("NVIDIA RTX A6000 48GB", "nvidia", 49140, "ampere", "8.6", "NVIDIA-RTX-A6000",
               ("NVIDIA RTX A6000",)),
    GpuProduct("NVIDIA RTX 4090 24GB", "nvidia", 24564, "ada-lovelace", "8.9", "NVIDIA-GeForce-RTX-4090",
               ("NVIDIA GeForce RTX 4090",)),
    GpuProduct("NVIDIA L4 24GB", "nvidia", 23034, "ada-lovelace", "8.9", "NVIDIA-L4",
               ("nvidia-l4", "l4", "NVIDIA L4")),
    GpuProduct("NVIDIA A10G 24GB", "nvidia", 23028, "ampere", "8.6", "NVIDIA-A10G", ("a10g", "NVIDIA A10G")),
    GpuProduct("NVIDIA V100 32GB", "nvidia", 32768, "volta", "7.0", "Tesla-V100-SXM2-32GB",
               ("v100", "Tesla V100-SXM2-32GB")),
    GpuProduct("NVIDIA V100 16GB", "nvidia", 16384, "volta", "7.0", "Tesla-V100-SXM2-16GB",
               ("nvidia-tesla-v100", "v100", "Tesla V100-SXM2-16GB")),
    GpuProduct("NVIDIA T4 16GB", "nvidia", 15360, "turing", "7.5", "Tesla-T4",
               ("nvidia-tesla-t4", "t4", "Tesla T4")),
    GpuProduct("AMD Instinct MI325X 256GB", "amd", 262128, "cdna3", "gfx942", "AMD_Instinct_MI325_OAM",
               ("74a5", "mi325x", "AMD Instinct MI325X")),
    GpuProduct("AMD Instinct MI300X 192GB", "amd", 196592, "cdna3", "gfx942", "AMD_Instinct_MI300X_OAM",
               ("74a1", "mi300x", "AMD Instinct MI300X", "AMD Instinct MI300X OAM")),
    GpuProduct("AMD Instinct MI250X 64GB", "amd", 65520, "cdna2", "gfx90a", "AMD_Instinct_MI250X",
               ("740c", "mi250x", "mi250", "AMD Instinct MI250X/MI250", "AMD Instinct MI250X")),
    GpuProduct("AMD Instinct MI210 64GB", "amd", 65520, "cdna2", "gfx90a", "AMD_Instinct_MI210",
               ("740f", "mi210", "AMD Instinct MI210")),
    GpuProduct("AMD Instinct MI100 32GB", "amd", 32752, "cdna", "gfx908", "AMD_Instinct_MI100",
               ("738c", "mi100", "AMD Instinct MI100")),
    GpuProduct("Intel Data Center GPU Max 1550 128GB", "intel", 131072, "Max_Series", "", "Max_1550",
               ("0bd5", "Intel Data Center GPU Max 1550")),
    GpuProduct("Intel Data Center GPU Max 1100 48GB", "intel", 49152, "Max_Series", "", "Max_1100",
               ("0bda", "Intel Data Center GPU Max 1100")),
    GpuProduct("Intel Data Center GPU Flex 170 16GB", "intel", 16384, "Flex_Series", "", "Flex_170",
               ("56c0", "Intel Data Center GPU Flex 170")),
)


def _key(name: str) -> str:
    """Spelling-insensitive lookup key: lower case, letters and digits only."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _build_index() -> dict[str, list[GpuProduct]]:
    index: dict[str, list[GpuProduct]] = {}
    for product in PRODUCTS:
        for spelling in {product.name, product.label, *product.aliases}:
            index.setdefault(_key(spelling), []).append(product)
    return index


_INDEX = _build_index()


def find_product(name: str, *, vendor: str | None = None, memory_mib: int | None = None) -> GpuProduct | None:
    """The table entry a name refers to, or None.

    Short names are ambiguous ("a100" is a 40 GB or an 80 GB card); a memory hint
    (from a label such as `nvidia.com/gpu.memory`) picks the closest entry, and
    without one the first listed (the current, larger variant) wins.
    """
    candidates = [p for p in _INDEX.get(_key(name), []) if vendor is None or p.vendor == vendor]
    if not candidates:
        return None
    if memory_mib:
        return min(candidates, key=lambda p: abs(p.memory_mib - memory_mib))
    return candidates[0]


def product_by_name(name: str) -> GpuProduct:
    """A table entry by any of its spellings; a KeyError names the known products."""
    product = find_product(name)
    if product is None:
        raise KeyError(f"unknown GPU product {name!r}; known: {', '.join(p.name for p in PRODUCTS)}")
    return product


def humanize(label_value: str) -> str:
    """A readable name for a product the table does not know ("NVIDIA-RTX-A4000" -> "NVIDIA RTX A4000")."""
    return re.sub(r"[-_]+", " ", label_value).strip()
