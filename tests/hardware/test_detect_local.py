"""Local probes at their library boundary, replaying outputs recorded on real GPUs."""

from __future__ import annotations

import sys
import types
from dataclasses import replace
from pathlib import Path

import pynvml
import pytest

from kubetrainer.hardware.amd import parse_rocm_smi, probe_amd, rocm_version
from kubetrainer.hardware.inventory import LocalMachine
from kubetrainer.hardware.local import cpu_model, detect_local, probe_torch
from kubetrainer.hardware.nvml import probe_nvml
from tests.hardware.gpu_replay import amdsmi_replay, nvml_replay, rocm_smi_script


def test_nvml_h100_every_field() -> None:
    gpus, reason = probe_nvml(nvml_replay("nvml_h100_sxm.json"))
    assert reason is None and len(gpus) == 2
    idle, busy = gpus
    assert (idle.name, idle.memory_total_mib, idle.memory_used_mib) == ("NVIDIA H100 80GB HBM3", 81559, 528)
    assert (idle.compute_capability, idle.driver_version, idle.runtime, idle.runtime_version) == (
        "9.0", "550.90.07", "cuda", "12.4")
    assert (idle.mig_enabled, idle.uuid, idle.source) == (False, "GPU-5f2a8b1e-3c7d-4e90-a6b2-19d4c8e7f031", "nvml")
    assert (busy.index, busy.utilization_pct, busy.temperature_c, busy.power_w, busy.power_limit_w) == (
        1, 97, 58, 612.448, 700.0)
    assert busy.memory_used_mib == 37463


def test_nvml_mig_gpu_without_utilisation() -> None:
    (gpu,), _ = probe_nvml(nvml_replay("nvml_a100_mig.json"))
    assert (gpu.name, gpu.memory_total_mib, gpu.mig_enabled) == ("NVIDIA A100-SXM4-40GB", 40960, True)
    assert gpu.utilization_pct is None  # NVML does not report it under MIG
    assert (gpu.runtime_version, gpu.compute_capability) == ("12.2", "8.0")


def test_nvml_consumer_gpu_without_mig() -> None:
    (gpu,), _ = probe_nvml(nvml_replay("nvml_rtx4090.json"))
    assert (gpu.mig_enabled, gpu.compute_capability, gpu.memory_total_mib) == (None, "8.9", 24564)


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (pynvml.NVML_ERROR_LIBRARY_NOT_FOUND, "libnvidia-ml.so not found"),
        (pynvml.NVML_ERROR_DRIVER_NOT_LOADED, "kernel driver is not loaded"),
    ],
)
def test_nvml_without_driver_gives_a_reason(code: int, reason: str) -> None:
    gpus, why = probe_nvml(nvml_replay(None, init_error=code))
    assert gpus == [] and reason in why


def test_nvml_driver_but_no_gpu() -> None:
    assert probe_nvml(nvml_replay(None)) == ([], "nvml: the NVIDIA driver is loaded but reports no GPU")


def test_nvml_real_library_on_this_machine() -> None:
    """The real pynvml: GPUs on a GPU host, a reason (never an exception) anywhere else."""
    gpus, reason = probe_nvml()
    assert bool(gpus) != bool(reason)


def test_amdsmi_mi300x() -> None:
    gpus, reason = probe_amd(amdsmi_replay("amdsmi_mi300x.json"))
    assert reason is None and len(gpus) == 2
    first, second = gpus
    assert (first.name, first.memory_total_mib, first.memory_used_mib, first.compute_capability) == (
        "AMD Instinct MI300X", 196592, 281, "gfx942")
    assert (first.driver_version, first.runtime, first.power_w, first.power_limit_w, first.temperature_c) == (
        "6.7.0", "rocm", 138.0, 750.0, 37.0)
    assert (second.utilization_pct, second.temperature_c, second.source) == (88, None, "amdsmi")


def test_amdsmi_driver_not_loaded() -> None:
    gpus, reason = probe_amd(amdsmi_replay(None, init_fails=True))
    assert gpus == [] and reason.startswith("amdsmi:") and "Driver not loaded" in reason
    assert probe_amd(amdsmi_replay(None)) == ([], "amdsmi: the driver reports no GPU")


def test_rocm_smi_process_with_warning_preamble(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "amdsmi", None)  # as on a host with rocm-smi but no Python bindings
    gpus, reason = probe_amd(rocm_smi=str(rocm_smi_script(tmp_path)))
    assert reason is None and [gpu.index for gpu in gpus] == [0, 1]
    first, second = gpus
    assert (first.name, first.memory_total_mib, first.compute_capability, first.driver_version) == (
        "AMD Instinct MI250X", 65520, "gfx90a", "6.3.6")
    assert (first.temperature_c, first.power_w, first.power_limit_w, first.utilization_pct) == (37.0, 92.0, 560.0, 0)
    assert (second.power_w, second.utilization_pct, second.memory_used_mib) == (None, 100, 46552)


def test_rocm_smi_failures_are_reasons(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "amdsmi", None)
    broken = tmp_path / "rocm-smi"
    broken.write_text("#!/bin/sh\necho 'ERROR: GPU[0] : Unable to open device' >&2\nexit 2\n")
    broken.chmod(0o755)
    gpus, reason = probe_amd(rocm_smi=str(broken))
    assert gpus == [] and reason.startswith("rocm-smi:")
    assert parse_rocm_smi({"system": {"Driver version": "6.3.6"}}, None) == []


def test_rocm_version(tmp_path: Path) -> None:
    (tmp_path / ".info").mkdir()
    (tmp_path / ".info" / "version").write_text("6.2.0-66\n")
    assert rocm_version(tmp_path) == "6.2.0-66"
    assert rocm_version(tmp_path / "missing") is None


def test_torch_fallback_with_a_rocm_build() -> None:
    """torch.cuda as a ROCm build on an MI300X reports it (the values recorded from torch 2.4+rocm6.1)."""
    properties = types.SimpleNamespace(name="AMD Instinct MI300X", major=9, minor=4,
                                       gcnArchName="gfx942:sramecc+:xnack-", total_memory=206141652992)
    cuda = types.SimpleNamespace(is_available=lambda: True, device_count=lambda: 1,
                                 get_device_properties=lambda index: properties,
                                 mem_get_info=lambda index: (205563625472, 206141652992))
    torch = types.SimpleNamespace(version=types.SimpleNamespace(hip="6.1.40091", cuda=None), cuda=cuda,
                                  __version__="2.4.1+rocm6.1")
    (gpu,), reason = probe_torch(torch)
    assert reason is None
    assert (gpu.vendor, gpu.compute_capability, gpu.runtime, gpu.runtime_version) == ("amd", "gfx942", "rocm", "6.1.40091")
    assert (gpu.memory_total_mib, gpu.memory_used_mib) == (196592, 551)


def test_torch_real_cpu_build_says_why() -> None:
    import torch

    if torch.cuda.is_available():  # a GPU host: the real probe must find them
        assert probe_torch(torch)[0]
    else:
        gpus, reason = probe_torch(torch)
        assert gpus == [] and "torch.cuda.is_available() is False" in reason


def test_cpu_model_from_cpuinfo(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9654 96-Core Processor\n")
    assert cpu_model(cpuinfo) == "AMD EPYC 9654 96-Core Processor"
    assert cpu_model(tmp_path / "missing")  # falls back to the platform's name


def test_detect_local_with_replayed_nvidia_host() -> None:
    machine = detect_local(nvml=nvml_replay("nvml_h100_sxm.json"), amdsmi=amdsmi_replay(None))
    assert len(machine.gpus) == 2 and machine.no_gpu_reasons == ()
    assert machine.cpu_threads >= machine.cpu_cores >= 1 and machine.ram_bytes > 0
    node = machine.as_node()
    assert (node.gpus.product, node.gpus.count, node.gpus.memory_mib, node.gpus.family) == (
        "NVIDIA H100 80GB", 2, 81559, "hopper")


def test_detect_local_without_gpus_lists_every_reason() -> None:
    machine = detect_local(nvml=nvml_replay(None, init_error=pynvml.NVML_ERROR_LIBRARY_NOT_FOUND),
                           amdsmi=amdsmi_replay(None, init_fails=True),
                           torch=types.SimpleNamespace(version=types.SimpleNamespace(hip=None, cuda=None),
                                                       cuda=types.SimpleNamespace(is_available=lambda: False),
                                                       __version__="2.5.1+cpu"))
    assert machine.gpus == ()
    assert [reason.split(":")[0] for reason in machine.no_gpu_reasons] == ["nvml", "amdsmi", "torch"]
    assert "CPU-only build" in machine.no_gpu_reasons[2]
    assert machine.as_node().gpus is None


def test_detect_local_on_this_machine() -> None:
    machine = detect_local()
    assert machine.cpu_model and machine.hostname
    assert bool(machine.gpus) != bool(machine.no_gpu_reasons)


def test_mixed_gpus_host_is_represented_by_its_largest_group() -> None:
    (h100, _), _ = probe_nvml(nvml_replay("nvml_h100_sxm.json"))
    (rtx,), _ = probe_nvml(nvml_replay("nvml_rtx4090.json"))
    machine = LocalMachine(hostname="ws", cpu_model="x", cpu_cores=8, cpu_threads=16, ram_bytes=2**36,
                           gpus=(rtx, h100, replace(rtx, index=2)))
    node = machine.as_node()
    assert (node.name, node.cpu, node.memory_bytes) == ("ws", 16.0, 2**36)
    assert (node.gpus.product, node.gpus.count, node.gpus.free, node.gpus.memory_mib) == ("NVIDIA H100 80GB", 1, 1, 81559)
    (mig_gpu,), _ = probe_nvml(nvml_replay("nvml_a100_mig.json"))
    mig_node = replace(machine, gpus=(mig_gpu,)).as_node()
    assert mig_node.gpus.mig == {"strategy": None, "devices": {}} and mig_node.gpus.product == "NVIDIA A100 40GB"
