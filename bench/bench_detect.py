"""Detect at scale: the inventory of a generated 5,000-node cluster-info dump (~20 pods per node).

Ours: `inventory_from_path` (read every file, index pods by node once, apply the
labels/allocation rules, summarise). Baseline: what a competent user writes after
`kubectl get nodes -o json` + `kubectl get pods -A -o json`: the same JSON loading, one pass
over the pods grouping GPU requests by node, then one pass over the nodes (O(nodes + pods)).
Both read the same dump, run in full at every size, RUNS times each with the sides
interleaved (median and range), and must agree on the GPUs allocated per node. Target: ours
under 2 s at 5,000 nodes. Writes bench/results/detect.{md,json,png}.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from rich.progress import track

from kubetrainer import atomic
from kubetrainer.hardware import inventory_from_path
from kubetrainer.samples.nodes import gpu_node, gpu_pod

RESULTS = Path(__file__).resolve().parent / "results"
SIZES = (500, 5000)
PODS_PER_NODE = 20
NAMESPACES = 50
TARGET_S = 2.0
RUNS = 3
# (share of nodes, vendor, product, GPUs per node, label style)
FLEET = (
    (0.35, "nvidia", "NVIDIA H100 80GB", 8, "gfd"),
    (0.20, "nvidia", "NVIDIA A100 80GB", 8, "gfd-legacy"),
    (0.10, "nvidia", "nvidia-l4", 1, "gke"),
    (0.10, "amd", "AMD Instinct MI300X 192GB", 8, "amd"),
    (0.25, None, None, 0, "gfd"),
)
GPU_RESOURCE = {"nvidia": "nvidia.com/gpu", "amd": "amd.com/gpu"}


def generate_dump(directory: Path, node_count: int, seed: int = 7) -> int:
    """A cluster-info dump with `node_count` nodes and PODS_PER_NODE pods each; returns the pod count."""
    rng = random.Random(seed)
    nodes, pods_by_namespace = [], defaultdict(list)
    for index in track(range(node_count), description=f"generating {node_count} nodes", transient=True):
        share = rng.random()
        for fraction, vendor, product, count, style in FLEET:
            share -= fraction
            if share <= 0:
                break
        name = f"node-{index:05d}"
        nodes.append(gpu_node(name, vendor, product, count, labels=style, ready=rng.random() > 0.01))
        free = count
        for number in range(PODS_PER_NODE):
            wanted = min(free, rng.choice((1, 2, 4))) if vendor and number < 3 else 0
            free -= wanted
            phase = rng.choices(("Running", "Succeeded", "Failed"), (0.93, 0.05, 0.02))[0]
            node = None if rng.random() < 0.01 else name
            namespace = f"team-{rng.randrange(NAMESPACES):02d}"
            pods_by_namespace[namespace].append(
                gpu_pod(f"job-{index}-{number}", namespace, node, wanted,
                        resource=GPU_RESOURCE.get(vendor, "nvidia.com/gpu"), phase=phase))
    (directory / "nodes.json").write_text(json.dumps({"kind": "NodeList", "apiVersion": "v1", "items": nodes}))
    for namespace, pods in pods_by_namespace.items():
        (directory / namespace).mkdir()
        (directory / namespace / "pods.json").write_text(json.dumps({"kind": "PodList", "items": pods}))
    return sum(len(pods) for pods in pods_by_namespace.values())


def baseline(directory: Path) -> tuple[dict[str, int], dict[str, list[int]]]:
    """The competent script: load the nodes and every namespace's pods, group GPU requests of live pods by node in
    one pass, then per node its GPUs allocated and a per-product [nodes, GPUs, allocated] summary (raw label)."""
    nodes = json.loads((directory / "nodes.json").read_text())["items"]
    used: dict[str, int] = defaultdict(int)
    for path in sorted(directory.glob("*/pods.json")):
        for pod in json.loads(path.read_text())["items"]:
            node = pod["spec"].get("nodeName")
            if node and pod["status"].get("phase") not in ("Succeeded", "Failed"):
                for container in pod["spec"]["containers"]:
                    requests = container.get("resources", {}).get("requests", {})
                    used[node] += int(requests.get("nvidia.com/gpu", 0)) + int(requests.get("amd.com/gpu", 0))
    summary: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    allocated: dict[str, int] = {}
    for node in nodes:
        name = node["metadata"]["name"]
        labels = node["metadata"].get("labels", {})
        allocatable = node["status"].get("allocatable", {})
        gpus = int(allocatable.get("nvidia.com/gpu", 0)) + int(allocatable.get("amd.com/gpu", 0))
        product = (labels.get("nvidia.com/gpu.product") or labels.get("cloud.google.com/gke-accelerator")
                   or labels.get("amd.com/gpu.product-name") or "unknown")
        if gpus:
            row = summary[product]
            row[0] += 1
            row[1] += gpus
            row[2] += used[name]
        allocated[name] = used[name]
    return allocated, dict(summary)


def measure(node_count: int, workdir: Path) -> dict[str, Any]:
    """Both sides in full, RUNS times each, interleaved; CPU and wall seconds as median and range."""
    directory = workdir / f"dump-{node_count}"
    directory.mkdir()
    pod_count = generate_dump(directory, node_count)
    size_mb = sum(path.stat().st_size for path in directory.rglob("*.json")) / 1e6
    ours_runs, baseline_runs = [], []
    for _ in range(RUNS):
        ours_runs.append(timed(inventory_from_path, directory))
        baseline_runs.append(timed(baseline, directory))
    inventory = ours_runs[0][0]
    baseline_allocated, baseline_summary = baseline_runs[0][0]
    ours_allocated = {node.name: node.gpus.allocated if node.gpus else 0 for node in inventory.nodes}
    disagree = {name: (ours_allocated[name], used) for name, used in baseline_allocated.items()
                if ours_allocated[name] != used}
    if disagree:
        raise SystemExit(f"ours and the baseline disagree on GPUs allocated (ours, baseline): {disagree}")
    ours, base = _spread(ours_runs), _spread(baseline_runs)
    return {"nodes": node_count, "pods": pod_count, "dump_mb": round(size_mb, 1), "runs": RUNS,
            "ours": ours, "baseline": base, "speedup_cpu": round(base["cpu_s"] / ours["cpu_s"], 2),
            "allocated_gpus": sum(ours_allocated.values()), "summary_rows": len(inventory.summary),
            "baseline_summary_rows": len(baseline_summary), "load_average": round(os.getloadavg()[0], 1)}


def _spread(runs: list[tuple[Any, float, float]]) -> dict[str, float]:
    walls, cpus = [run[1] for run in runs], [run[2] for run in runs]
    return {"wall_s": round(statistics.median(walls), 3), "wall_min_s": round(min(walls), 3),
            "wall_max_s": round(max(walls), 3), "cpu_s": round(statistics.median(cpus), 3),
            "cpu_min_s": round(min(cpus), 3), "cpu_max_s": round(max(cpus), 3)}


def timed(function: Any, *args: Any) -> tuple[Any, float, float]:
    """The result, wall seconds and this process's CPU seconds (the machine is shared, so both count)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = function(*args)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def _cell(side: dict[str, float]) -> str:
    return f"{side['cpu_s']:.2f} [{side['cpu_min_s']:.2f}-{side['cpu_max_s']:.2f}] ({side['wall_s']:.2f})"


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 3.5))
    labels = [f"{row['nodes']} nodes" for row in rows]
    positions = range(len(rows))
    axis.bar([p - 0.2 for p in positions], [row["ours"]["cpu_s"] for row in rows], 0.4, label="ours (inventory_from_path)")
    axis.bar([p + 0.2 for p in positions], [row["baseline"]["cpu_s"] for row in rows], 0.4,
             label="baseline (one pass, pods grouped by node)")
    axis.axhline(TARGET_S, color="red", linestyle="--", linewidth=1, label=f"target {TARGET_S:.0f} s")
    axis.set_xticks(list(positions), labels)
    axis.set_yscale("log")
    axis.set_ylabel("CPU seconds (log)")
    axis.set_title("kubetrainer detect: cluster inventory from a dump")
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-detect-") as workdir:
        rows = [measure(size, Path(workdir)) for size in SIZES]
    largest = rows[-1]
    # Judged on CPU seconds: the 2-core machine is shared, and wall time there measures the neighbours.
    passed = largest["ours"]["cpu_s"] < TARGET_S
    RESULTS.mkdir(parents=True, exist_ok=True)
    atomic.write_json(RESULTS / "detect.json", {"date": dt.date.today().isoformat(), "target_s": TARGET_S,
                                                "passed": passed, "runs": rows})
    plot(rows, RESULTS / "detect.png")
    table = "\n".join(
        f"| {row['nodes']:,} | {row['pods']:,} | {row['dump_mb']} MB | {_cell(row['ours'])} | {_cell(row['baseline'])} "
        f"| {row['speedup_cpu']:.2f}x | {row['load_average']} |" for row in rows)
    atomic.write_text(RESULTS / "detect.md", f"""## Detect: cluster inventory at scale ({dt.date.today().isoformat()})

`inventory_from_path` on a generated `kubectl cluster-info dump` directory ({PODS_PER_NODE} pods per node,
H100/A100/L4/MI300X and CPU nodes, finished and unbound pods mixed in), against what a competent user writes: load
the same JSON, group the live pods' GPU requests by node in one pass, then walk the nodes. Both include reading the
files, run in full at every size ({RUNS} runs each, sides interleaved) and agree on the GPUs allocated per node.
Cells: median CPU seconds of the process [range], then median wall seconds in brackets (the machine is shared; the
load average at the end is listed). Ours also reads vendors, products, MIG and sharing labels and summarises them,
which the script does not. Target: under {TARGET_S:.0f} s at 5,000 nodes:
**{"met" if passed else "missed"}** ({largest['ours']['cpu_s']:.2f} s CPU). Plot: `bench/results/detect.png`.

| nodes | pods | dump | ours: CPU s [range] (wall s) | baseline: CPU s [range] (wall s) | CPU ratio | load avg |
|---|---|---|---|---|---|---|
{table}
""")
    print(json.dumps(rows, indent=2))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
