"""GPU check: the real NVML path of `kubetrainer detect` on an NVIDIA machine.

Probes every GPU through NVML (no replay), cross-checks the count and memory against
torch.cuda when torch has CUDA, checks that the host turns into a node with a known
product, prints what it found and writes $OUT/detect.json. Exits non-zero, loudly,
when NVML finds no GPU or a check disagrees.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from kubetrainer import atomic
from kubetrainer.hardware.local import detect_local
from kubetrainer.hardware.nvml import probe_nvml
from kubetrainer.hardware.products import find_product


def fail(message: str) -> int:
    sys.stderr.write(f"check_detect: FAILED: {message}\n")
    return 1


def main() -> int:
    out = Path(os.environ.get("OUT", "bench/results/gpu"))
    gpus, reason = probe_nvml()
    if not gpus:
        return fail(f"NVML found no GPU ({reason})")
    machine = detect_local()
    node = machine.as_node()
    problems = []
    import torch

    if torch.cuda.is_available():
        if torch.cuda.device_count() != len(gpus):
            problems.append(f"torch sees {torch.cuda.device_count()} GPUs, NVML {len(gpus)}")
        for gpu in gpus:
            torch_mib = torch.cuda.get_device_properties(gpu.index).total_memory // 2**20
            if abs(torch_mib - gpu.memory_total_mib) > 0.02 * gpu.memory_total_mib:
                problems.append(f"GPU {gpu.index}: torch says {torch_mib} MiB, NVML {gpu.memory_total_mib} MiB")
    if find_product(gpus[0].name, vendor="nvidia") is None:
        problems.append(f"{gpus[0].name!r} is not in the product table (hardware/products.py)")
    report = {"machine": machine.to_json(), "as_node": node.to_json(), "problems": problems}
    atomic.write_json(out / "detect.json", report)
    for gpu in gpus:
        print(f"GPU {gpu.index}: {gpu.name}, {gpu.memory_used_mib}/{gpu.memory_total_mib} MiB, CC {gpu.compute_capability}, "
              f"driver {gpu.driver_version}, CUDA {gpu.runtime_version}, MIG {gpu.mig_enabled}, "
              f"util {gpu.utilization_pct}%, {gpu.temperature_c} C, {gpu.power_w}/{gpu.power_limit_w} W")
    print(json.dumps(report["as_node"], indent=2))
    if problems:
        return fail("; ".join(problems))
    print(f"check_detect: OK ({len(gpus)} GPU(s) through NVML, written to {out / 'detect.json'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
