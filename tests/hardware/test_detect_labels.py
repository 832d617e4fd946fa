"""Every label family resolves to one canonical product, memory and runtime facts."""

from __future__ import annotations

import pytest

from kubetrainer.hardware.labels import labelled_vendor, read_gpu_labels
from kubetrainer.hardware.products import PRODUCTS, find_product, product_by_name
from kubetrainer.samples.nodes import gpu_node


def labels_of(*args: object, **kwargs: object) -> dict[str, str]:
    return gpu_node("n", *args, **kwargs)["metadata"]["labels"]


@pytest.mark.parametrize(
    ("spelling", "memory", "expected"),
    [
        ("NVIDIA-A100-SXM4-80GB", None, "NVIDIA A100 80GB"),
        ("nvidia-tesla-a100", None, "NVIDIA A100 40GB"),  # GKE's name for the 40 GB card
        ("nvidia-a100-80gb", None, "NVIDIA A100 80GB"),
        ("a100", None, "NVIDIA A100 80GB"),
        ("a100", 40960, "NVIDIA A100 40GB"),  # Karpenter's memory label disambiguates
        ("NVIDIA-H100-80GB-HBM3", None, "NVIDIA H100 80GB"),
        ("NVIDIA H100 80GB HBM3", None, "NVIDIA H100 80GB"),  # NVML's name
        ("Tesla-T4", None, "NVIDIA T4 16GB"),
        ("AMD_Instinct_MI300X_OAM", None, "AMD Instinct MI300X 192GB"),
        ("74a1", None, "AMD Instinct MI300X 192GB"),
        ("Max_1550", None, "Intel Data Center GPU Max 1550 128GB"),
    ],
)
def test_product_spellings(spelling: str, memory: int | None, expected: str) -> None:
    assert find_product(spelling, memory_mib=memory).name == expected


def test_unknown_spelling_and_vendor_filter() -> None:
    assert find_product("NVIDIA-RTX-A4000") is None
    assert find_product("74a1", vendor="nvidia") is None
    with pytest.raises(KeyError, match="unknown GPU product 'warp-drive'"):
        product_by_name("warp-drive")


def test_every_product_has_a_unique_canonical_name() -> None:
    assert len({p.name for p in PRODUCTS}) == len(PRODUCTS)
    assert all(find_product(p.name) == p for p in PRODUCTS)


def test_gfd_current_labels() -> None:
    gpu = read_gpu_labels(labels_of("nvidia", "NVIDIA H100 80GB", 8), "nvidia")
    assert (gpu.product, gpu.memory_mib, gpu.family, gpu.compute_capability) == (
        "NVIDIA H100 80GB", 81559, "hopper", "9.0")
    assert (gpu.runtime, gpu.runtime_version, gpu.driver_version) == ("cuda", "12.4", "550.90.07")
    assert gpu.mig_strategy == "none" and gpu.sharing is None


def test_gfd_version_labels_without_full_form() -> None:
    labels = labels_of("nvidia", "NVIDIA H100 80GB", 8)
    del labels["nvidia.com/cuda.driver-version.full"], labels["nvidia.com/cuda.runtime-version.full"]
    gpu = read_gpu_labels(labels, "nvidia")
    assert (gpu.runtime_version, gpu.driver_version) == ("12.4", "550.90.07")


def test_gfd_legacy_labels() -> None:
    gpu = read_gpu_labels(labels_of("nvidia", "NVIDIA A100 80GB", 8, labels="gfd-legacy"), "nvidia")
    assert (gpu.product, gpu.runtime_version, gpu.driver_version) == ("NVIDIA A100 80GB", "12.4", "550.90.07")


def test_gfd_unknown_product_keeps_its_label_name_and_memory() -> None:
    gpu = read_gpu_labels({"nvidia.com/gpu.product": "NVIDIA-RTX-A4000", "nvidia.com/gpu.memory": "16376"}, "nvidia")
    assert (gpu.product, gpu.memory_mib) == ("NVIDIA RTX A4000", 16376)


def test_gke_accelerator_and_sharing_labels() -> None:
    labels = labels_of("nvidia", "nvidia-l4", 1, labels="gke")
    assert labels["cloud.google.com/gke-accelerator"] == "nvidia-l4"
    labels |= {"cloud.google.com/gke-gpu-sharing-strategy": "time-sharing",
               "cloud.google.com/gke-max-shared-clients-per-gpu": "2"}
    gpu = read_gpu_labels(labels, "nvidia")
    assert (gpu.product, gpu.memory_mib, gpu.compute_capability) == ("NVIDIA L4 24GB", 23034, "8.9")
    assert gpu.sharing == {"strategy": "time-sharing", "replicas": 2}
    assert labelled_vendor(labels) == "nvidia"


def test_karpenter_labels() -> None:
    labels = labels_of("nvidia", "NVIDIA A100 40GB", 8, labels="karpenter")
    assert labels["karpenter.k8s.aws/instance-gpu-name"] == "a100"
    gpu = read_gpu_labels(labels, "nvidia")
    assert (gpu.product, gpu.memory_mib) == ("NVIDIA A100 40GB", 40960)
    assert labelled_vendor(labels) == "nvidia"


def test_amd_labeller_labels() -> None:
    labels = labels_of("amd", "AMD Instinct MI300X 192GB", 8, labels="amd")
    assert labels["amd.com/gpu.vram"] == "192G" and labels["amd.com/gpu.device-id"] == "74a1"
    gpu = read_gpu_labels(labels, "amd")
    assert (gpu.product, gpu.memory_mib, gpu.family, gpu.compute_capability) == (
        "AMD Instinct MI300X 192GB", 196592, "cdna3", "gfx942")
    assert (gpu.runtime, gpu.driver_version) == ("rocm", "6.8.5")
    assert labelled_vendor(labels) == "amd"


def test_amd_legacy_beta_labels() -> None:
    labels = labels_of("amd", "AMD Instinct MI250X 64GB", 8, labels="amd-legacy")
    assert labels["beta.amd.com/gpu.vram.64G"] == "8"
    gpu = read_gpu_labels(labels, "amd")
    assert (gpu.product, gpu.compute_capability) == ("AMD Instinct MI250X 64GB", "gfx90a")


def test_amd_device_id_only_and_unknown_card() -> None:
    assert read_gpu_labels({"beta.amd.com/gpu.device-id.740f": "4"}, "amd").product == "AMD Instinct MI210 64GB"
    gpu = read_gpu_labels({"amd.com/gpu.product-name": "AMD_Radeon_PRO_W7900", "amd.com/gpu.vram": "48G",
                           "amd.com/gpu.family": "GC_11_0_0"}, "amd")
    assert (gpu.product, gpu.memory_mib, gpu.family) == ("AMD Radeon PRO W7900", 49152, "GC_11_0_0")


def test_intel_labels() -> None:
    labels = labels_of("intel", "Max_1550", 2, labels="intel")
    gpu = read_gpu_labels(labels, "intel")
    assert (gpu.product, gpu.memory_mib, gpu.family, gpu.runtime) == (
        "Intel Data Center GPU Max 1550 128GB", 131072, "Max_Series", "xpu")
    only_pci = {"gpu.intel.com/device-id.0380-56c0.present": "true"}
    assert read_gpu_labels(only_pci, "intel").product == "Intel Data Center GPU Flex 170 16GB"
    assert labelled_vendor(labels) == "intel"


def test_no_labels_is_unknown() -> None:
    gpu = read_gpu_labels({}, "nvidia")
    assert (gpu.product, gpu.memory_mib, gpu.runtime) == ("unknown", None, "cuda")
    assert labelled_vendor({"kubernetes.io/os": "linux"}) is None
