"""Dashboard polling at fleet scale: one browser refresh (/api/gpu/nodes + /api/gpu/telemetry) over 2 h of telemetry.

Ours: `DashboardSource` keeps each records file's parsed GPU samples until the file's
mtime or size changes, so a refresh only re-runs the health rules and the bucketing.
Baseline: the obvious endpoint that re-reads and parses every JSONL file on each request.
Both serve the same app through FastAPI's TestClient in the same run and must return the
same JSON on every refresh, REFRESHES refreshes each, interleaved, at every size in SIZES.
Target: a refresh under 1 s of CPU at 100 GPU nodes (800 GPUs, 30 s samples). Writes
bench/results/dashboard.{md,json}.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from kubetrainer import atomic
from kubetrainer.hardware.cluster import build_inventory
from kubetrainer.records import write_jsonl
from kubetrainer.samples.nodes import gpu_node
from kubetrainer.serve.dashboard import DashboardSource, standalone_app
from kubetrainer.serve.dashboard_sample import Incidents, sample_telemetry

RESULTS = Path(__file__).resolve().parent / "results"
SIZES = (25, 100)  # GPU nodes of 8 GPUs each; the target is stated at the largest
MINUTES = 120
INTERVAL_S = 30
REFRESHES = 5
TARGET_S = 1.0


def fleet(directory: Path, node_count: int) -> tuple[Path, Path, int]:
    """nodes.json of `node_count` 8-GPU nodes and their telemetry, one JSONL file per node (as the agent writes)."""
    nodes = [gpu_node(f"gpu-{index:03d}", "nvidia", "NVIDIA H100 80GB", 8) for index in range(node_count)]
    inventory_path = directory / "nodes.json"
    inventory_path.write_text(json.dumps({"kind": "NodeList", "apiVersion": "v1", "items": nodes}))
    inventory = build_inventory("bench", nodes, []).to_json()
    incidents = Incidents(xid_node="gpu-007", hot_node="gpu-012")
    records = sample_telemetry(inventory, end=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), minutes=MINUTES,
                               interval_s=INTERVAL_S, incidents=incidents)
    by_node: dict[str, list[dict]] = {}
    for record in records:
        by_node.setdefault(record["node"], []).append(record)
    for node, node_records in by_node.items():
        write_jsonl(directory / "records" / f"{node}.jsonl", node_records)
    return inventory_path, directory / "records", len(records)


def refresh(client: TestClient) -> tuple[dict, dict]:
    return client.get("/api/gpu/nodes").json(), client.get("/api/gpu/telemetry").json()


def timed(client: TestClient) -> tuple[tuple[dict, dict], float, float]:
    """One refresh: its JSON, wall and CPU seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = refresh(client)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def spread(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3), "max": round(max(values), 3)}


def measure(node_count: int, workdir: Path) -> dict:
    """REFRESHES refreshes of each side, interleaved; both must return the same JSON every time."""
    inventory, records, count = fleet(workdir, node_count)
    size_mb = sum(path.stat().st_size for path in records.glob("*.jsonl")) / 1e6
    ours_source = DashboardSource(records_dir=records, inventory_path=inventory)
    ours = TestClient(standalone_app(ours_source))
    baseline_source = DashboardSource(records_dir=records, inventory_path=inventory)
    baseline = TestClient(standalone_app(baseline_source))
    first, cold_wall, cold_cpu = timed(ours)
    sides: dict[str, dict[str, list[float]]] = {side: {"wall": [], "cpu": []} for side in ("ours", "baseline")}
    for _ in range(REFRESHES):
        baseline_source._files.clear()  # the baseline re-reads and parses every file per request
        for side, client in (("ours", ours), ("baseline", baseline)):
            result, wall, cpu = timed(client)
            if result[0]["nodes"] != first[0]["nodes"] or result[1] != first[1]:
                raise SystemExit(f"{side} returned other JSON than the first refresh at {node_count} nodes")
            sides[side]["wall"].append(wall)
            sides[side]["cpu"].append(cpu)
    return {
        "nodes": node_count, "gpus": node_count * 8, "records": count, "records_mb": round(size_mb, 1),
        "points_per_chart": len(first[1]["ts"]), "critical_nodes": first[0]["summary"]["critical"],
        "cold_s": round(cold_wall, 3), "cold_cpu_s": round(cold_cpu, 3),
        **{f"{side}_{clock}": spread(values) for side, clocks in sides.items() for clock, values in clocks.items()},
        "load_average": round(os.getloadavg()[0], 1),
    }


def _cell(row: dict, side: str) -> str:
    cpu, wall = row[f"{side}_cpu"], row[f"{side}_wall"]
    return f"{cpu['median']:.2f} [{cpu['min']:.2f}-{cpu['max']:.2f}] ({wall['median']:.2f})"


def render(rows: list[dict], passed: bool) -> str:
    largest = rows[-1]
    table = "\n".join(
        f"| {row['gpus']} | {row['records']:,} | {row['records_mb']:.0f} MB | {_cell(row, 'ours')} | "
        f"{_cell(row, 'baseline')} | {row['baseline_cpu']['median'] / row['ours_cpu']['median']:.1f}x | "
        f"{row['load_average']} |" for row in rows)
    return f"""## Dashboard: one page refresh at fleet scale ({dt.date.today().isoformat()})

One browser refresh of `/dashboard` (`/api/gpu/nodes` + `/api/gpu/telemetry`) over {MINUTES} minutes of
telemetry from GPU nodes with 8 GPUs each, sampled every {INTERVAL_S} s (one JSONL file per node, as the agent
writes them, with an Xid and an overheating GPU planted). Ours keeps each file's parsed samples until it changes;
the baseline re-reads and parses every file per request. Same app, same JSON (checked on every refresh);
{REFRESHES} refreshes per side, interleaved, in full at every size. Cells: median CPU seconds of the process
[range], then median wall seconds in brackets (shared machine, load average listed). The first (cold) refresh at
{largest['gpus']} GPUs takes {largest['cold_cpu_s']:.2f} s CPU. Target: a refresh under {TARGET_S:.0f} s at
{largest['gpus']} GPUs: **{"met" if passed else "missed"}**.

| GPUs | records | JSONL | ours: CPU s [range] (wall s) | baseline: CPU s [range] (wall s) | CPU ratio | load avg |
|---|---|---|---|---|---|---|
{table}
"""


def main() -> int:
    rows = []
    for node_count in SIZES:
        with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as workdir:
            rows.append(measure(node_count, Path(workdir)))
    passed = rows[-1]["ours_cpu"]["median"] < TARGET_S
    RESULTS.mkdir(parents=True, exist_ok=True)
    atomic.write_json(RESULTS / "dashboard.json", {"date": dt.date.today().isoformat(), "target_s": TARGET_S,
                                                   "passed": passed, "rows": rows})
    atomic.write_text(RESULTS / "dashboard.md", render(rows, passed))
    print(json.dumps(rows, indent=2))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
