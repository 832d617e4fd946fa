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


def render_section(path: Path) -> str:
    """The section as BENCHMARKS.md shows it, with a note under its heading when `make bench` ran it forced.

    scripts/bench_load.sh leaves NAME.forced (the 1-minute load) when FORCE=1 started a benchmark on a
    busy machine: a reader must see that other work may have slowed those figures.
    """
    text = path.read_text().rstrip()
    forced = path.with_suffix(".forced")
    if not forced.is_file():
        return text + "\n"
    heading, _, body = text.partition("\n")
    load = forced.read_text().strip()
    note = f"> **Measured at load {load} (forced)**: above the quiet limit, so other work may have slowed it."
    return f"{heading}\n\n{note}\n{body}\n"


def main() -> None:
    sections = sorted(RESULTS.glob("*.md"))
    parts = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`bench/assemble.py`); every row measures ours and the baseline in the same run.",
        f"Assembled {dt.date.today().isoformat()}; CPU machine: {machine()}. Each section names its own run date.",
        "",
    ]
    parts += [render_section(path) for path in sections]
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
