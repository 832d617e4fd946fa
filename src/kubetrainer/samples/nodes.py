"""Realistic Kubernetes Node and Pod objects for GPU clusters, as the API server returns them.

Used by the sample cluster generator, the local control plane's simulated (kwok) nodes,
the detect tests and the detect benchmark. Labels follow what the real components write:
NVIDIA GPU Feature Discovery (current `*-version.*` and legacy forms), GKE and Karpenter
cloud labels, AMD's node labeller (current and legacy `beta.amd.com/*`), Intel's NFD rules;
NVIDIA nodes carry the `nvidia.com/gpu=present:NoSchedule` taint GPU node pools use.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from kubetrainer.hardware.products import GpuProduct, product_by_name

CREATED = "2026-01-05T09:12:00Z"
NVIDIA_DRIVER = ("550", "90", "07")
CUDA_RUNTIME = ("12", "4")
AMD_DRIVER = "6.8.5"
GPU_RESOURCE = {"nvidia": "nvidia.com/gpu", "amd": "amd.com/gpu", "intel": "gpu.intel.com/i915"}
# What GFD reports as nvidia.com/mig-<profile>.memory (MiB) on A100/H100.
MIG_MEMORY_MIB = {
    "1g.5gb": 4864, "2g.10gb": 9856, "3g.20gb": 19968, "4g.20gb": 19968, "7g.40gb": 40192,
    "1g.10gb": 9856, "1g.20gb": 19968, "2g.20gb": 19968, "3g.40gb": 40192, "4g.40gb": 40192, "7g.80gb": 80896,
}


def _uid(kind: str, name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"kubetrainer-sample/{kind}/{name}"))


def _nvidia_labels(product: GpuProduct, count: int, style: str) -> dict[str, str]:
    major, minor = product.compute_capability.split(".")
    labels = {
        "nvidia.com/gpu.present": "true",
        "nvidia.com/gpu.product": product.label,
        "nvidia.com/gpu.memory": str(product.memory_mib),
        "nvidia.com/gpu.count": str(count),
        "nvidia.com/gpu.family": product.family,
        "nvidia.com/gpu.compute.major": major,
        "nvidia.com/gpu.compute.minor": minor,
        "nvidia.com/mig.capable": str(product.family in ("ampere", "hopper", "blackwell")).lower(),
        "nvidia.com/mig.strategy": "none",
        "nvidia.com/gpu.sharing-strategy": "none",
        "nvidia.com/gpu.replicas": "1",
        "feature.node.kubernetes.io/pci-10de.present": "true",
    }
    if style == "gfd":
        labels |= {
            "nvidia.com/cuda.driver-version.major": NVIDIA_DRIVER[0],
            "nvidia.com/cuda.driver-version.minor": NVIDIA_DRIVER[1],
            "nvidia.com/cuda.driver-version.revision": NVIDIA_DRIVER[2],
            "nvidia.com/cuda.driver-version.full": ".".join(NVIDIA_DRIVER),
            "nvidia.com/cuda.runtime-version.major": CUDA_RUNTIME[0],
            "nvidia.com/cuda.runtime-version.minor": CUDA_RUNTIME[1],
            "nvidia.com/cuda.runtime-version.full": ".".join(CUDA_RUNTIME),
        }
    else:  # "gfd-legacy": the GFD releases before v0.15
        labels |= {
            "nvidia.com/cuda.driver.major": NVIDIA_DRIVER[0],
            "nvidia.com/cuda.driver.minor": NVIDIA_DRIVER[1],
            "nvidia.com/cuda.driver.rev": NVIDIA_DRIVER[2],
            "nvidia.com/cuda.runtime.major": CUDA_RUNTIME[0],
            "nvidia.com/cuda.runtime.minor": CUDA_RUNTIME[1],
        }
    return labels


def _alias(product: GpuProduct, pattern: str) -> str:
    """The product's first alias matching `pattern` (a PCI id, a GKE or Karpenter name)."""
    return next(alias for alias in product.aliases if re.fullmatch(pattern, alias))


def _amd_labels(product: GpuProduct, count: int, style: str) -> dict[str, str]:
    device_id = _alias(product, r"[0-9a-f]{4}")
    properties = {
        "product-name": product.label,
        "vram": f"{round(product.memory_mib / 1024)}G",
        "family": "AI",
        "device-id": device_id,
        "cu-count": {"cdna3": "304", "cdna2": "110"}.get(product.family, "120"),
        "driver-version": AMD_DRIVER,
    }
    if style == "amd-legacy":  # one label per property value, the value being the GPU count
        return {f"beta.amd.com/gpu.{key}.{value}": str(count) for key, value in properties.items()
                if key != "driver-version"}
    return {f"amd.com/gpu.{key}": value for key, value in properties.items()}


def _intel_labels(product: GpuProduct, count: int) -> dict[str, str]:
    device_id = _alias(product, r"[0-9a-f]{4}")
    return {
        f"gpu.intel.com/device-id.0380-{device_id}.present": "true",
        f"gpu.intel.com/device-id.0380-{device_id}.count": str(count),
        "gpu.intel.com/device.count": str(count),
        "gpu.intel.com/family": product.family,
        "gpu.intel.com/product": product.label,
        "gpu.intel.com/memory.max": str(product.memory_mib * 2**20 * count),
    }


def _gpu_labels(product: GpuProduct, count: int, style: str) -> dict[str, str]:
    if style == "none":
        return {}
    if style == "gke":
        return {"cloud.google.com/gke-accelerator": _alias(product, r"nvidia-[a-z0-9-]+"), "cloud.google.com/gke-gpu": "true"}
    if style == "karpenter":
        return {
            "karpenter.k8s.aws/instance-gpu-name": _alias(product, r"[a-z][a-z0-9]+"),
            "karpenter.k8s.aws/instance-gpu-manufacturer": product.vendor,
            "karpenter.k8s.aws/instance-gpu-memory": str(product.memory_mib),
            "karpenter.k8s.aws/instance-gpu-count": str(count),
        }
    if product.vendor == "nvidia":
        return _nvidia_labels(product, count, style)
    if product.vendor == "amd":
        return _amd_labels(product, count, style)
    return _intel_labels(product, count)


def _mig_resources_and_labels(
    product: GpuProduct, count: int, mig: dict[str, int], strategy: str, labels: dict[str, str]
) -> dict[str, str]:
    """The extended resources MIG exposes, updating the GFD labels in place to match."""
    labels["nvidia.com/mig.strategy"] = strategy
    if strategy == "single":
        ((profile, per_gpu),) = mig.items()
        labels["nvidia.com/gpu.product"] = f"{product.label}-MIG-{profile}"
        labels["nvidia.com/gpu.memory"] = str(MIG_MEMORY_MIB[profile])
        labels["nvidia.com/gpu.count"] = str(count * per_gpu)
        return {"nvidia.com/gpu": str(count * per_gpu)}
    resources = {"nvidia.com/gpu": "0"}
    for profile, per_gpu in mig.items():
        resources[f"nvidia.com/mig-{profile}"] = str(count * per_gpu)
        labels[f"nvidia.com/mig-{profile}.count"] = str(count * per_gpu)
        labels[f"nvidia.com/mig-{profile}.memory"] = str(MIG_MEMORY_MIB[profile])
    return resources


def gpu_node(
    name: str,
    vendor: str | None,
    product: str | None,
    count: int,
    *,
    labels: str = "gfd",
    ready: bool = True,
    cordoned: bool = False,
    taints: list[dict[str, str]] | None = None,
    mig: dict[str, int] | None = None,
    mig_strategy: str = "mixed",
    time_slicing_replicas: int = 0,
    cpu: str = "96",
    memory: str = "1056762384Ki",
    instance_type: str = "p5.48xlarge",
    zone: str = "us-east-1a",
) -> dict[str, Any]:
    """A Node object: `count` GPUs of `product` (any spelling in the product table) or a CPU node.

    `labels` picks which component labelled it: "gfd" (current GFD), "gfd-legacy",
    "gke", "karpenter", "amd", "amd-legacy", "intel", or "none" (device plugin only).
    `mig` maps MIG profiles to slices per GPU; `time_slicing_replicas` > 1 shares each GPU.
    """
    node_labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "node.kubernetes.io/instance-type": instance_type,
        "topology.kubernetes.io/zone": zone,
        # AWS zones append a letter (us-east-1a), GCP zones a "-letter" (us-central1-a).
        "topology.kubernetes.io/region": zone[:-1].rstrip("-"),
    }
    resources = {"cpu": cpu, "memory": memory, "pods": "110", "ephemeral-storage": "1844594708Ki"}
    node_taints = list(taints or [])
    if vendor and product and count:
        gpu_product = product_by_name(product)
        gpu_labels = _gpu_labels(gpu_product, count, labels)
        if mig:
            resources |= _mig_resources_and_labels(gpu_product, count, mig, mig_strategy, gpu_labels)
        else:
            replicas = max(time_slicing_replicas, 1)
            resources[GPU_RESOURCE[vendor]] = str(count * replicas)
            if replicas > 1 and "nvidia.com/gpu.product" in gpu_labels:
                gpu_labels["nvidia.com/gpu.product"] += "-SHARED"
                gpu_labels["nvidia.com/gpu.sharing-strategy"] = "time-slicing"
                gpu_labels["nvidia.com/gpu.replicas"] = str(replicas)
        node_labels |= gpu_labels
        if vendor == "nvidia" and taints is None:
            node_taints.append({"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"})
    if not ready:
        node_taints.append({"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule",
                            "timeAdded": CREATED})
    if cordoned:
        node_taints.append({"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule",
                            "timeAdded": CREATED})
    allocatable = dict(resources)
    allocatable["cpu"] = f"{int(cpu) * 1000 - 500}m" if cpu.isdigit() else cpu
    spec: dict[str, Any] = {"providerID": f"aws:///{zone}/i-{_uid('instance', name)[:17].replace('-', '')}"}
    if node_taints:
        spec["taints"] = node_taints
    if cordoned:
        spec["unschedulable"] = True
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "uid": _uid("node", name),
            "resourceVersion": "48213",
            "creationTimestamp": CREATED,
            "labels": node_labels,
            "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                            "volumes.kubernetes.io/controller-managed-attach-detach": "true"},
        },
        "spec": spec,
        "status": {
            "capacity": resources,
            "allocatable": allocatable,
            "conditions": _conditions(ready),
            "addresses": [{"type": "InternalIP", "address": f"10.0.{len(name) % 250}.{sum(map(ord, name)) % 250}"},
                          {"type": "Hostname", "address": name}],
            "nodeInfo": {
                "machineID": _uid("machine", name).replace("-", ""),
                "systemUUID": _uid("system", name).upper(),
                "bootID": _uid("boot", name),
                "architecture": "amd64",
                "operatingSystem": "linux",
                "osImage": "Ubuntu 22.04.4 LTS",
                "kernelVersion": "6.5.0-1022-aws",
                "kubeletVersion": "v1.30.4",
                "kubeProxyVersion": "v1.30.4",
                "containerRuntimeVersion": "containerd://1.7.19",
            },
        },
    }


def _conditions(ready: bool) -> list[dict[str, str]]:
    def condition(kind: str, status: str, reason: str) -> dict[str, str]:
        return {"type": kind, "status": status, "reason": reason, "lastHeartbeatTime": CREATED,
                "lastTransitionTime": CREATED}

    conditions = [condition(kind, "False", f"KubeletHas{reason}")
                  for kind, reason in (("MemoryPressure", "SufficientMemory"), ("DiskPressure", "NoDiskPressure"),
                                       ("PIDPressure", "SufficientPID"))]
    if ready:
        conditions.append(condition("Ready", "True", "KubeletReady"))
    else:
        conditions.append(condition("Ready", "Unknown", "NodeStatusUnknown"))
    return conditions


def gpu_pod(
    name: str,
    namespace: str,
    node: str | None,
    gpus: int = 0,
    *,
    resource: str = "nvidia.com/gpu",
    phase: str = "Running",
    init_gpus: int = 0,
    limits_only: bool = False,
) -> dict[str, Any]:
    """A Pod bound to `node` (None: still Pending, unscheduled) asking for `gpus` of `resource`.

    `init_gpus` gives it an init container with its own GPU request (the effective
    request is the larger of the two); `limits_only` sets limits without requests, which
    Kubernetes treats as requests equal to the limits.
    """
    def container(container_name: str, count: int) -> dict[str, Any]:
        amounts = {"cpu": "4", "memory": "32Gi", **({resource: str(count)} if count else {})}
        resources = {"limits": amounts} if limits_only else {"requests": amounts, "limits": amounts}
        return {"name": container_name, "image": "nvcr.io/nvidia/pytorch:24.05-py3", "resources": resources}

    spec: dict[str, Any] = {"containers": [container("trainer", gpus)], "restartPolicy": "Never",
                            "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]}
    if init_gpus:
        spec["initContainers"] = [container("warmup", init_gpus)]
    if node:
        spec["nodeName"] = node
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "uid": _uid("pod", f"{namespace}/{name}"),
                     "creationTimestamp": CREATED, "labels": {"app": name.rsplit("-", 1)[0]}},
        "spec": spec,
        "status": {"phase": phase if node else "Pending", **({"hostIP": "10.0.0.1"} if node else {})},
    }


def sample_nodes() -> list[dict[str, Any]]:
    """A mixed GPU cluster: every label family, MIG, time-slicing, unlabelled, NotReady, cordoned, CPU-only."""
    return [
        gpu_node("gpu-h100-0", "nvidia", "NVIDIA H100 80GB", 8),
        gpu_node("gpu-h100-1", "nvidia", "NVIDIA H100 80GB", 8),
        gpu_node("gpu-a100-0", "nvidia", "NVIDIA-A100-SXM4-80GB", 8, labels="gfd-legacy",
                 instance_type="p4de.24xlarge"),
        gpu_node("gpu-a100-mig-0", "nvidia", "NVIDIA-A100-SXM4-40GB", 8, mig={"1g.5gb": 2, "2g.10gb": 1, "3g.20gb": 1},
                 instance_type="p4d.24xlarge"),
        gpu_node("gke-l4-pool-0", "nvidia", "nvidia-l4", 1, labels="gke", cpu="8", memory="32880480Ki",
                 instance_type="g2-standard-8", zone="us-central1-a"),
        gpu_node("karpenter-a10g-0", "nvidia", "a10g", 4, labels="karpenter", cpu="48", memory="195784732Ki",
                 instance_type="g5.12xlarge"),
        gpu_node("gpu-t4-shared-0", "nvidia", "Tesla-T4", 1, time_slicing_replicas=4, cpu="8",
                 memory="32880480Ki", instance_type="g4dn.2xlarge"),
        gpu_node("gpu-unlabelled-0", "nvidia", "NVIDIA H100 80GB", 8, labels="none"),
        gpu_node("gpu-v100-cordoned-0", "nvidia", "Tesla-V100-SXM2-16GB", 8, cordoned=True,
                 instance_type="p3.16xlarge"),
        gpu_node("gpu-t4-notready-0", "nvidia", "Tesla-T4", 1, ready=False, cpu="8", memory="32880480Ki",
                 instance_type="g4dn.2xlarge"),
        gpu_node("amd-mi300x-0", "amd", "AMD Instinct MI300X 192GB", 8, labels="amd", cpu="192",
                 memory="2113524768Ki", instance_type="ND96isr_MI300X_v5"),
        gpu_node("amd-mi250x-legacy-0", "amd", "mi250x", 8, labels="amd-legacy", cpu="128",
                 memory="528381192Ki", instance_type="bare-metal"),
        gpu_node("intel-max-0", "intel", "Max_1550", 2, labels="intel", cpu="112", memory="1056762384Ki",
                 instance_type="bare-metal"),
        gpu_node("cpu-0", None, None, 0, cpu="16", memory="65856108Ki", instance_type="m6i.4xlarge"),
        gpu_node("cpu-1", None, None, 0, cpu="16", memory="65856108Ki", instance_type="m6i.4xlarge"),
    ]


def sample_pods() -> list[dict[str, Any]]:
    """Pods on `sample_nodes()`: running, finished, unbound, init-container and MIG requests."""
    return [
        gpu_pod("llm-train-0", "ml", "gpu-h100-0", 4),
        gpu_pod("llm-train-1", "ml", "gpu-h100-0", 2, init_gpus=3),
        gpu_pod("llm-eval-done", "ml", "gpu-h100-0", 2, phase="Succeeded"),
        gpu_pod("llm-eval-crashed", "ml", "gpu-h100-1", 8, phase="Failed"),
        gpu_pod("llm-pending", "ml", None, 8),
        gpu_pod("finetune-0", "ml", "gpu-a100-0", 8, limits_only=True),
        gpu_pod("notebook-0", "research", "gpu-a100-mig-0", 1, resource="nvidia.com/mig-1g.5gb"),
        gpu_pod("notebook-1", "research", "gpu-a100-mig-0", 1, resource="nvidia.com/mig-3g.20gb"),
        gpu_pod("rocm-train-0", "ml", "amd-mi300x-0", 4, resource="amd.com/gpu"),
        gpu_pod("xpu-infer-0", "ml", "intel-max-0", 1, resource="gpu.intel.com/i915"),
        gpu_pod("web-0", "default", "cpu-0", 0),
    ]
