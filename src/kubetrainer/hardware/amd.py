"""AMD GPUs on this host: the `amdsmi` library when importable, else `rocm-smi --json`.

Both are thin adapters over plain data (the library's dicts, the tool's JSON), so
tests replay output recorded on real MI300X/MI250X machines. No ROCm stack is the
normal case and comes back as a reason.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from kubetrainer.hardware.inventory import LocalGpu

MIB = 2**20
ROCM_SMI_ARGS = ("--showallinfo", "--showmeminfo", "vram", "--json")


def rocm_version(root: Path = Path("/opt/rocm")) -> str | None:
    """The installed ROCm release ("6.2.0-66" in /opt/rocm/.info/version)."""
    try:
        return (root / ".info" / "version").read_text().strip() or None
    except OSError:
        return None


def _number(value: Any) -> float | None:
    """rocm-smi and amdsmi say "N/A" for what a board does not report."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _whole(value: Any) -> int | None:
    number = _number(value)
    return int(number) if number is not None else None


def probe_amdsmi(amdsmi: Any, rocm: str | None) -> list[LocalGpu]:
    """Every GPU amdsmi lists; raises the library's AmdSmiException when the driver is absent."""
    amdsmi.amdsmi_init()
    try:
        gpus = []
        for index, handle in enumerate(amdsmi.amdsmi_get_processor_handles()):

            def optional(call: Any, *args: Any) -> Any:
                try:
                    return call(handle, *args)
                except amdsmi.AmdSmiException:
                    return None

            asic = amdsmi.amdsmi_get_gpu_asic_info(handle)
            vram = amdsmi.amdsmi_get_gpu_vram_usage(handle)  # MB
            driver = optional(amdsmi.amdsmi_get_gpu_driver_info) or {}
            activity = optional(amdsmi.amdsmi_get_gpu_activity) or {}
            power = optional(amdsmi.amdsmi_get_power_info) or {}
            temperature = optional(amdsmi.amdsmi_get_temp_metric, amdsmi.AmdSmiTemperatureType.HOTSPOT,
                                   amdsmi.AmdSmiTemperatureMetric.CURRENT)
            gpus.append(LocalGpu(
                index=index,
                vendor="amd",
                name=asic["market_name"],
                memory_total_mib=int(vram["vram_total"]),
                memory_used_mib=_whole(vram.get("vram_used")),
                source="amdsmi",
                uuid=optional(amdsmi.amdsmi_get_gpu_device_uuid),
                compute_capability=asic.get("target_graphics_version"),
                driver_version=driver.get("driver_version"),
                runtime="rocm",
                runtime_version=rocm,
                utilization_pct=_whole(activity.get("gfx_activity")),
                temperature_c=_number(temperature),
                power_w=_number(power.get("current_socket_power")) or _number(power.get("average_socket_power")),
                power_limit_w=_number(power.get("power_limit")),
            ))
        return gpus
    finally:
        amdsmi.amdsmi_shut_down()


def _first(card: dict[str, Any], *keys: str) -> Any:
    return next((card[key] for key in keys if card.get(key) not in (None, "", "N/A")), None)


def parse_rocm_smi(output: dict[str, Any], rocm: str | None) -> list[LocalGpu]:
    """GPUs from `rocm-smi --showallinfo --showmeminfo vram --json`; key names vary across ROCm releases."""
    system_driver = (output.get("system") or {}).get("Driver version")
    cards = sorted((key for key in output if key.startswith("card")), key=lambda key: int(key[4:] or 0))
    gpus = []
    for index, key in enumerate(cards):
        card = output[key]
        total = _whole(_first(card, "VRAM Total Memory (B)"))
        if total is None:
            continue  # a display-only device without VRAM figures
        used = _whole(_first(card, "VRAM Total Used Memory (B)"))
        gpus.append(LocalGpu(
            index=index,
            vendor="amd",
            name=_first(card, "Card Series", "Device Name", "Card Model") or "AMD GPU",
            memory_total_mib=total // MIB,
            memory_used_mib=used // MIB if used is not None else None,
            source="rocm-smi",
            uuid=_first(card, "Unique ID"),
            compute_capability=_first(card, "GFX Version"),
            driver_version=_first(card, "Driver version") or system_driver,
            runtime="rocm",
            runtime_version=rocm,
            utilization_pct=_whole(_first(card, "GPU use (%)")),
            temperature_c=_number(_first(card, "Temperature (Sensor junction) (C)", "Temperature (Sensor edge) (C)")),
            power_w=_number(_first(card, "Current Socket Graphics Package Power (W)",
                                   "Average Graphics Package Power (W)")),
            power_limit_w=_number(_first(card, "Max Graphics Package Power (W)")),
        ))
    return gpus


def run_rocm_smi(executable: str) -> dict[str, Any]:
    """rocm-smi's JSON; it prints warnings before the JSON on some releases, so read from the first brace."""
    result = subprocess.run([executable, *ROCM_SMI_ARGS], capture_output=True, text=True, timeout=30, check=True)
    return json.loads(result.stdout[result.stdout.index("{"):])


def probe_amd(amdsmi: Any = None, rocm_smi: str | None = None) -> tuple[list[LocalGpu], str | None]:
    """AMD GPUs through amdsmi, else rocm-smi, or none and why."""
    rocm = rocm_version()
    if amdsmi is None:
        try:
            import amdsmi
        except ImportError:
            amdsmi = None
    if amdsmi is not None:
        try:
            gpus = probe_amdsmi(amdsmi, rocm)
        except amdsmi.AmdSmiException as error:
            return [], f"amdsmi: {error}"
        return gpus, None if gpus else "amdsmi: the driver reports no GPU"
    executable = rocm_smi or shutil.which("rocm-smi")
    if executable is None:
        return [], "amd: neither the amdsmi module nor rocm-smi is installed (no ROCm)"
    try:
        gpus = parse_rocm_smi(run_rocm_smi(executable), rocm)
    except (OSError, subprocess.SubprocessError, ValueError) as error:
        return [], f"rocm-smi: {error}"
    return gpus, None if gpus else "rocm-smi: no GPU with VRAM reported"
