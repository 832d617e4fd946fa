"""Replays of the GPU libraries (test helpers), the one boundary this machine cannot have.

`nvml_replay` is the real pynvml module with only its driver calls replaced by values
recorded on real GPUs (tests/fixtures/hardware/nvml_*.json); its constants and its
NVMLError classes are pynvml's own. `amdsmi_replay` does the same for amdsmi's
dict-returning calls (the module is not installable without ROCm, so its exception and
enum names are spelled as amdsmi spells them).
"""

from __future__ import annotations

import json
import types
from pathlib import Path
from typing import Any

import pynvml

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "hardware"


def recording(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def nvml_replay(name: str | None, init_error: int | None = None) -> types.SimpleNamespace:
    """pynvml with the driver replaced by a recording; `init_error` makes nvmlInit fail with that code."""
    module = types.SimpleNamespace(**{key: getattr(pynvml, key) for key in dir(pynvml) if not key.startswith("__")})
    state = recording(name) if name else {"driver_version": "550.90.07", "cuda_driver_version": 12040, "devices": []}
    devices = state["devices"]

    def answer(value: Any) -> Any:
        if isinstance(value, dict) and "error" in value:
            raise pynvml.NVMLError(getattr(pynvml, f"NVML_ERROR_{value['error']}"))
        return value

    def init() -> None:
        if init_error is not None:
            raise pynvml.NVMLError(init_error)

    module.nvmlInit = init
    module.nvmlShutdown = lambda: None
    module.nvmlSystemGetDriverVersion = lambda: state["driver_version"]
    module.nvmlSystemGetCudaDriverVersion = lambda: state["cuda_driver_version"]
    module.nvmlDeviceGetCount = lambda: len(devices)
    module.nvmlDeviceGetHandleByIndex = lambda index: devices[index]
    module.nvmlDeviceGetName = lambda handle: handle["name"]
    module.nvmlDeviceGetUUID = lambda handle: handle["uuid"]
    module.nvmlDeviceGetMemoryInfo = lambda handle: types.SimpleNamespace(**handle["memory"])
    module.nvmlDeviceGetCudaComputeCapability = lambda handle: tuple(answer(handle["cuda_compute_capability"]))
    module.nvmlDeviceGetMigMode = lambda handle: list(answer(handle["mig_mode"]))
    module.nvmlDeviceGetUtilizationRates = lambda handle: types.SimpleNamespace(**answer(handle["utilization"]))
    module.nvmlDeviceGetTemperature = lambda handle, sensor: answer(handle["temperature_gpu"])
    module.nvmlDeviceGetPowerUsage = lambda handle: answer(handle["power_usage_mw"])
    module.nvmlDeviceGetEnforcedPowerLimit = lambda handle: answer(handle["enforced_power_limit_mw"])
    return module


class AmdSmiException(Exception):
    """amdsmi's base exception class."""


def amdsmi_replay(name: str | None, init_fails: bool = False) -> types.SimpleNamespace:
    devices = recording(name)["devices"] if name else []

    def answer(value: Any) -> Any:
        if isinstance(value, dict) and "error" in value:
            raise AmdSmiException(f"AMDSMI_STATUS_{value['error']}")
        return value

    def init() -> None:
        if init_fails:
            raise AmdSmiException("Error code:\n\t34 | AMDSMI_STATUS_DRIVER_NOT_LOADED - Driver not loaded")

    return types.SimpleNamespace(
        AmdSmiException=AmdSmiException,
        AmdSmiTemperatureType=types.SimpleNamespace(EDGE=0, HOTSPOT=1, VRAM=2),
        AmdSmiTemperatureMetric=types.SimpleNamespace(CURRENT=0),
        amdsmi_init=init,
        amdsmi_shut_down=lambda: None,
        amdsmi_get_processor_handles=lambda: devices,
        amdsmi_get_gpu_asic_info=lambda handle: handle["asic_info"],
        amdsmi_get_gpu_vram_usage=lambda handle: handle["vram_usage"],
        amdsmi_get_gpu_driver_info=lambda handle: handle["driver_info"],
        amdsmi_get_gpu_activity=lambda handle: handle["gpu_activity"],
        amdsmi_get_power_info=lambda handle: handle["power_info"],
        amdsmi_get_temp_metric=lambda handle, kind, metric: answer(handle["temp_hotspot"]),
        amdsmi_get_gpu_device_uuid=lambda handle: handle["uuid"],
    )


def rocm_smi_script(directory: Path) -> Path:
    """An executable printing rocm-smi's recorded output, so the adapter runs a real process."""
    script = directory / "rocm-smi"
    script.write_text(f"#!/bin/sh\ncat '{FIXTURES / 'rocm_smi_mi250x.txt'}'\n")
    script.chmod(0o755)
    return script
