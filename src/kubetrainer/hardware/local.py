"""This host: CPU, RAM and GPUs, each probe a thin adapter tried in order.

NVML for NVIDIA, amdsmi/rocm-smi for AMD, and torch (CUDA or ROCm build) as the
fallback when neither vendor library answers. Finding nothing is normal on a laptop
or CI runner: the result then carries each probe's reason (shown by `--verbose`).
"""

from __future__ import annotations

import platform
import socket
from pathlib import Path
from typing import Any

import psutil

from kubetrainer.hardware.amd import probe_amd
from kubetrainer.hardware.inventory import LocalGpu, LocalMachine
from kubetrainer.hardware.nvml import probe_nvml

MIB = 2**20
# torch can only see a GPU through one of these; checking first spares a 2 s import on CPU hosts.
GPU_DEVICE_NODES = ("/dev/nvidiactl", "/dev/kfd", "/dev/dxg")


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The CPU's marketing name ("model name" on x86, "Model"/"Hardware" on ARM), else the platform's."""
    try:
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "Hardware") and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def probe_torch(torch: Any = None) -> tuple[list[LocalGpu], str | None]:
    """GPUs a CUDA or ROCm build of torch can open, or none and why."""
    if torch is None:
        if not any(Path(node).exists() for node in GPU_DEVICE_NODES):
            return [], f"torch: none of {', '.join(GPU_DEVICE_NODES)} exists, so there is no GPU to open"
        try:
            import torch
        except ImportError:
            return [], "torch: not installed"
    hip, cuda = torch.version.hip, torch.version.cuda
    if not torch.cuda.is_available():
        build = f"ROCm {hip}" if hip else f"CUDA {cuda}" if cuda else "CPU-only"
        return [], f"torch: torch.cuda.is_available() is False ({build} build of torch {torch.__version__})"
    gpus = []
    for index in range(torch.cuda.device_count()):
        properties = torch.cuda.get_device_properties(index)
        free, total = torch.cuda.mem_get_info(index)
        gpus.append(LocalGpu(
            index=index,
            vendor="amd" if hip else "nvidia",
            name=properties.name,
            memory_total_mib=total // MIB,
            memory_used_mib=(total - free) // MIB,
            source="torch",
            compute_capability=properties.gcnArchName.split(":")[0] if hip else f"{properties.major}.{properties.minor}",
            runtime="rocm" if hip else "cuda",
            runtime_version=hip or cuda,
        ))
    return gpus, None


def detect_local(*, nvml: Any = None, amdsmi: Any = None, torch: Any = None) -> LocalMachine:
    """CPU, RAM and every GPU of this host; the keyword arguments replace a probe's library (tests)."""
    gpus: list[LocalGpu] = []
    reasons: list[str] = []
    for found, reason in (probe_nvml(nvml), probe_amd(amdsmi)):
        gpus += found
        reasons += [reason] if reason else []
    if not gpus:
        found, reason = probe_torch(torch)
        gpus += found
        reasons += [reason] if reason else []
    return LocalMachine(
        hostname=socket.gethostname(),
        cpu_model=cpu_model(),
        cpu_cores=psutil.cpu_count(logical=False) or psutil.cpu_count() or 1,
        cpu_threads=psutil.cpu_count() or 1,
        ram_bytes=psutil.virtual_memory().total,
        gpus=tuple(gpus),
        no_gpu_reasons=() if gpus else tuple(reasons),
    )
