"""NVIDIA GPUs on this host through NVML (the `pynvml` module of nvidia-ml-py).

A thin adapter: every call goes through the module object it is given, so tests hand
in one that replays values recorded on real GPUs. No driver is the normal case on a
CPU machine and comes back as a reason, never an exception.
"""

from __future__ import annotations

from typing import Any, Callable

from kubetrainer.hardware.inventory import LocalGpu

MIB = 2**20


def _text(value: str | bytes) -> str:
    """Old nvidia-ml-py releases return bytes."""
    return value.decode() if isinstance(value, bytes) else value


def _why(nvml: Any, error: Exception) -> str:
    code = getattr(error, "value", None)
    if code == nvml.NVML_ERROR_LIBRARY_NOT_FOUND:
        return "nvml: libnvidia-ml.so not found (no NVIDIA driver installed)"
    if code == nvml.NVML_ERROR_DRIVER_NOT_LOADED:
        return "nvml: the NVIDIA kernel driver is not loaded"
    return f"nvml: {error}"


def _cuda_version(encoded: int | None) -> str | None:
    """NVML encodes CUDA 12.4 as 12040."""
    return f"{encoded // 1000}.{encoded % 1000 // 10}" if encoded else None


def _device(nvml: Any, index: int, driver: str, cuda: str | None) -> LocalGpu:
    handle = nvml.nvmlDeviceGetHandleByIndex(index)

    def optional(call: Callable[..., Any], *args: Any) -> Any:
        """Queries a GPU may not support (power on some boards, utilisation under MIG) give None."""
        try:
            return call(handle, *args)
        except nvml.NVMLError:
            return None

    memory = nvml.nvmlDeviceGetMemoryInfo(handle)
    capability = optional(nvml.nvmlDeviceGetCudaComputeCapability)
    mig = optional(nvml.nvmlDeviceGetMigMode)
    utilization = optional(nvml.nvmlDeviceGetUtilizationRates)
    power_mw = optional(nvml.nvmlDeviceGetPowerUsage)
    limit_mw = optional(nvml.nvmlDeviceGetEnforcedPowerLimit)
    uuid = optional(nvml.nvmlDeviceGetUUID)
    return LocalGpu(
        index=index,
        vendor="nvidia",
        name=_text(nvml.nvmlDeviceGetName(handle)),
        memory_total_mib=memory.total // MIB,
        memory_used_mib=memory.used // MIB,
        source="nvml",
        uuid=_text(uuid) if uuid else None,
        compute_capability=f"{capability[0]}.{capability[1]}" if capability else None,
        driver_version=driver,
        runtime="cuda",
        runtime_version=cuda,
        mig_enabled=mig[0] == nvml.NVML_DEVICE_MIG_ENABLE if mig else None,
        utilization_pct=utilization.gpu if utilization else None,
        temperature_c=optional(nvml.nvmlDeviceGetTemperature, nvml.NVML_TEMPERATURE_GPU),
        power_w=power_mw / 1000 if power_mw is not None else None,
        power_limit_w=limit_mw / 1000 if limit_mw is not None else None,
    )


def probe_nvml(nvml: Any = None) -> tuple[list[LocalGpu], str | None]:
    """Every NVIDIA GPU NVML sees, or no GPUs and the reason why."""
    if nvml is None:
        try:
            import pynvml as nvml
        except ImportError:
            return [], "nvml: nvidia-ml-py is not installed"
    try:
        nvml.nvmlInit()
    except nvml.NVMLError as error:
        return [], _why(nvml, error)
    try:
        driver = _text(nvml.nvmlSystemGetDriverVersion())
        try:
            cuda = _cuda_version(nvml.nvmlSystemGetCudaDriverVersion())
        except nvml.NVMLError:
            cuda = None
        gpus = [_device(nvml, index, driver, cuda) for index in range(nvml.nvmlDeviceGetCount())]
    except nvml.NVMLError as error:
        return [], _why(nvml, error)
    finally:
        nvml.nvmlShutdown()
    return gpus, None if gpus else "nvml: the NVIDIA driver is loaded but reports no GPU"
