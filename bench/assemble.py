"""Rewrite BENCHMARKS.md from the sections the benchmark scripts wrote in bench/results/."""

from __future__ import annotations

import datetime as dt
import platform
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gib = psutil.virtual_memory().total / 2**30
    return f"{cpu}, {psutil.cpu_count(logical=True)} cores, {ram_gib:.0f} GiB RAM, Python {platform.python_version()}"


def main() -> None:
    sections = sorted(RESULTS.glob("*.md"))
    parts = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`bench/assemble.py`); every row measures ours and the baseline in the same run.",
        f"Assembled {dt.date.today().isoformat()}; CPU machine: {machine()}. Each section names its own run date.",
        "",
    ]
    parts += [section.read_text().rstrip() + "\n" for section in sections]
    gpu_sections = sorted((RESULTS / "gpu").glob("*.md"))
    parts += [section.read_text().rstrip() + "\n" for section in gpu_sections] or [
        "## GPU checks\n",
        "Not run yet: no NVIDIA machine has been available. `bench/gpu_check.sh` runs every check in",
        "`bench/gpu/` (NVML detection, estimate vs measured peak memory, bf16 LoRA/QLoRA/full steps, the",
        "agent's NVML telemetry) and writes its figures to `bench/results/gpu/`; a `*.md` summary there is included here.\n",
    ]
    (ROOT / "BENCHMARKS.md").write_text("\n".join(parts))


if __name__ == "__main__":
    main()
