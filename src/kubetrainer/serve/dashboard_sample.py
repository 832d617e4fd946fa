"""Realistic GPU telemetry for an inventory, with incidents: the dashboard's demo and test data.

The records are what the agent writes (schema v1, kind "gpu", DCGM field names,
`labels.gpu` = index), generated per node from its inventory entry: allocated GPUs run
hot and busy, free ones idle. Incidents are chosen by name so a test knows which node
must stand out: an Xid 79 plus ECC double-bit errors, an overheating GPU, and a NotReady
node whose agent stopped reporting.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from kubetrainer import atomic
from kubetrainer.records import make_record
from kubetrainer.serve.dashboard_health import ECC_DBE, FB_FREE, FB_USED, POWER, TEMP, UTIL, XID

# Board power limits in watts by product family substring (data-sheet values, rounded).
POWER_LIMIT_W = {"H100": 700, "A100": 400, "L4": 72, "A10G": 300, "T4": 70, "V100": 300, "MI300X": 750, "MI250X": 560, "MAX": 600}


@dataclass(frozen=True)
class Incidents:
    """Which node and GPU get which fault; a name not in the inventory is simply not used."""

    xid_node: str | None = None
    xid_gpu: int = 3
    xid_code: int = 79  # "GPU has fallen off the bus"
    hot_node: str | None = None
    hot_gpu: int = 0


def _power_limit(product: str) -> float:
    upper = product.upper().replace("-", "").replace(" ", "")
    return next((float(watts) for key, watts in POWER_LIMIT_W.items() if key in upper), 300.0)


def _gpu_values(rng: random.Random, busy: bool, memory_mib: float, power_limit: float, minute: int) -> dict[str, float]:
    wave = 0.5 + 0.5 * ((minute % 10) / 10)  # a training loop's rhythm: eval every ten minutes
    util = rng.uniform(82, 99) * (0.85 + 0.15 * wave) if busy else rng.uniform(0, 3)
    used = memory_mib * (rng.uniform(0.7, 0.93) if busy else rng.uniform(0.0, 0.02))
    return {
        UTIL: round(util),
        FB_USED: round(used),
        FB_FREE: round(memory_mib - used),
        TEMP: round((rng.uniform(62, 76) if busy else rng.uniform(31, 38))),
        POWER: round(power_limit * (rng.uniform(0.72, 0.9) if busy else rng.uniform(0.08, 0.12)), 1),
        XID: 0,
        ECC_DBE: 0,
    }


def sample_telemetry(
    inventory: dict,
    end: datetime | None = None,
    minutes: int = 60,
    interval_s: int = 60,
    incidents: Incidents = Incidents(),
    seed: int = 0,
) -> list[dict]:
    """GPU records for every GPU node of `inventory` (section-5 JSON) over the last `minutes`."""
    rng = random.Random(seed)
    end = end or datetime.now(timezone.utc).replace(microsecond=0)
    steps = max(1, minutes * 60 // interval_s)
    records = []
    for node in inventory.get("nodes", []):
        gpus = node.get("gpus")
        if not gpus:
            continue
        count = max(gpus.get("count") or 0, gpus.get("capacity") or 0, 1)
        busy = set(range(min(gpus.get("allocated") or 0, count)))
        memory = float(gpus.get("memory_mib") or 16384)
        limit = _power_limit(gpus.get("product") or "")
        # a NotReady node's agent went quiet a third of the way before the end
        last_step = steps if node.get("ready", True) else steps * 2 // 3
        for step in range(last_step + 1):
            ts = end - timedelta(seconds=(steps - step) * interval_s)
            for index in range(count):
                values = _gpu_values(rng, index in busy, memory, limit, step * interval_s // 60)
                if node["name"] == incidents.hot_node and index == incidents.hot_gpu:
                    values[TEMP] = round(70 + 24 * step / steps)  # creeps up to 94 °C: a failing fan
                if node["name"] == incidents.xid_node and index == incidents.xid_gpu and step >= steps * 3 // 4:
                    values.update({XID: incidents.xid_code, ECC_DBE: 2, UTIL: 0, POWER: round(limit * 0.05, 1)})
                records.append(make_record(
                    "gpu", ts, "agent", f"GPU {index} telemetry", node=node["name"], metrics=values,
                    labels={"gpu": index, "UUID": f"GPU-{node['name']}-{index}", "modelName": gpus.get("product")},
                ))
    return records


def write_demo(directory: Path, seed: int = 0) -> tuple[Path, Path]:
    """Sample nodes/pods (nodes.json) and an hour of their telemetry with incidents; returns (inventory, records dir)."""
    from kubetrainer.hardware import inventory_from_path
    from kubetrainer.records import write_jsonl
    from kubetrainer.samples.nodes import sample_nodes, sample_pods

    inventory_path = directory / "nodes.json"
    atomic.write_json(inventory_path, {"apiVersion": "v1", "kind": "List", "items": sample_nodes() + sample_pods()})
    inventory = inventory_from_path(inventory_path).to_json()
    incidents = Incidents(xid_node="gpu-h100-1", hot_node="gpu-a100-0")
    write_jsonl(directory / "records" / "gpu.jsonl", sample_telemetry(inventory, incidents=incidents, seed=seed))
    return inventory_path, directory / "records"
