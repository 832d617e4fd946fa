"""GPU node health for the dashboard: pure functions from inventory JSON and GPU records to a view.

Inputs are plain data: the `kubetrainer detect --json` inventory (DESIGN.md section 5)
and schema-v1 records of kind "gpu" whose `metrics` use DCGM field names and whose
`labels.gpu` holds the GPU index (dcgm-exporter's label; `UUID` and `modelName` are
shown when present). Every rule that marks a node unhealthy is a small function here,
so what turns a row red is tested without a browser, a server or a GPU.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from statistics import fmean

from kubetrainer.records import parse_ts

UTIL = "DCGM_FI_DEV_GPU_UTIL"
FB_USED = "DCGM_FI_DEV_FB_USED"
FB_FREE = "DCGM_FI_DEV_FB_FREE"
TEMP = "DCGM_FI_DEV_GPU_TEMP"
POWER = "DCGM_FI_DEV_POWER_USAGE"
XID = "DCGM_FI_DEV_XID_ERRORS"
ECC_DBE = "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL"

# How one node's GPUs combine into the node's line on a fleet chart.
NODE_AGGREGATE = {UTIL: fmean, FB_USED: sum, FB_FREE: sum, TEMP: max, POWER: sum, XID: max, ECC_DBE: sum}
METRICS = tuple(NODE_AGGREGATE)
CRITICAL, WARNING, OK = "critical", "warning", "ok"
SEVERITY_ORDER = {CRITICAL: 0, WARNING: 1, OK: 2}


@dataclass(frozen=True)
class Thresholds:
    """Temperatures in °C: most data-centre GPUs slow down (thermal slowdown) around 85-90 °C."""

    warn_temp_c: float = 83.0
    critical_temp_c: float = 90.0


@dataclass(frozen=True)
class GpuSample:
    ts: float  # epoch seconds
    node: str
    gpu: str
    metrics: dict[str, float]
    uuid: str | None = None
    model: str | None = None


@dataclass(frozen=True)
class Finding:
    severity: str
    text: str

    def to_json(self) -> dict:
        return {"severity": self.severity, "text": self.text}


def gpu_samples(records: Iterable[dict]) -> list[GpuSample]:
    """The GPU telemetry in `records`, oldest first; other kinds and node-less records are ignored."""
    samples = []
    for record in records:
        if record.get("kind") != "gpu" or not record.get("node") or not isinstance(record.get("metrics"), dict):
            continue
        labels = record.get("labels") or {}
        try:
            ts = parse_ts(record["ts"]).timestamp()
        except (ValueError, TypeError):
            continue
        metrics = {name: float(value) for name, value in record["metrics"].items() if isinstance(value, (int, float))}
        samples.append(
            GpuSample(ts, record["node"], str(labels.get("gpu", "0")), metrics, labels.get("UUID") or labels.get("uuid"), labels.get("modelName"))
        )
    samples.sort(key=lambda sample: sample.ts)
    return samples


def within_window(samples: list[GpuSample], window_s: float) -> list[GpuSample]:
    """Samples no older than `window_s` before the newest one (the dashboard's time range)."""
    if not samples:
        return []
    start = samples[-1].ts - window_s
    return [sample for sample in samples if sample.ts >= start]


def gpu_sort_key(name: str) -> tuple[int, int | str]:
    """GPU "2" before "10": indices sort as numbers, other names after them as text."""
    return (0, int(name)) if name.isdigit() else (1, name)


def latest_by_gpu(samples: list[GpuSample]) -> dict[str, dict[str, dict]]:
    """node -> gpu -> {metric: newest value, "ts", "uuid", "model"} (a metric missing from the newest sample keeps its last value)."""
    latest: dict[str, dict[str, dict]] = defaultdict(dict)
    for sample in samples:
        current = latest[sample.node].setdefault(sample.gpu, {})
        current.update(sample.metrics)
        current["ts"] = sample.ts
        current["uuid"] = sample.uuid or current.get("uuid")
        current["model"] = sample.model or current.get("model")
    return {node: dict(sorted(gpus.items(), key=lambda item: gpu_sort_key(item[0]))) for node, gpus in latest.items()}


def xid_codes(samples: list[GpuSample]) -> dict[str, dict[str, list[int]]]:
    """node -> gpu -> the distinct non-zero Xid codes seen (DCGM reports the last Xid's code, 0 for none)."""
    codes: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for sample in samples:
        code = int(sample.metrics.get(XID, 0))
        if code and code not in codes[sample.node][sample.gpu]:
            codes[sample.node][sample.gpu].append(code)
    return codes


def readiness_findings(node: dict) -> list[Finding]:
    if not node.get("ready", True):
        return [Finding(CRITICAL, "NotReady")]
    if not node.get("schedulable", True):
        return [Finding(WARNING, "cordoned (unschedulable)")]
    return []


def allocation_findings(node: dict) -> list[Finding]:
    gpus = node.get("gpus") or {}
    count = gpus.get("count") or 0
    if count and gpus.get("allocated", 0) >= count:
        return [Finding(WARNING, f"all {count} GPUs allocated")]
    return []


def xid_findings(codes_by_gpu: dict[str, list[int]]) -> list[Finding]:
    return [
        Finding(CRITICAL, f"GPU {gpu}: Xid {', '.join(str(code) for code in codes)}")
        for gpu, codes in sorted(codes_by_gpu.items(), key=lambda item: gpu_sort_key(item[0]))
    ]


def telemetry_findings(latest: dict[str, dict], thresholds: Thresholds) -> list[Finding]:
    """ECC double-bit errors and temperature, from each GPU's newest values."""
    findings = []
    for gpu, values in latest.items():
        ecc = values.get(ECC_DBE, 0)
        if ecc > 0:
            findings.append(Finding(CRITICAL, f"GPU {gpu}: {ecc:g} ECC double-bit error{'s' if ecc != 1 else ''}"))
        temp = values.get(TEMP)
        if temp is not None and temp >= thresholds.warn_temp_c:
            severity = CRITICAL if temp >= thresholds.critical_temp_c else WARNING
            findings.append(Finding(severity, f"GPU {gpu}: {temp:g} °C"))
    return findings


def status_of(findings: list[Finding]) -> str:
    """The worst severity among the findings, "ok" for none."""
    return min((finding.severity for finding in findings), key=SEVERITY_ORDER.__getitem__, default=OK)


def node_row(name: str, node: dict | None, latest: dict[str, dict], codes: dict[str, list[int]], thresholds: Thresholds) -> dict:
    """One table row: inventory facts, each GPU's newest telemetry, and why the node is (un)healthy."""
    known = node or {"name": name}
    findings = []
    if node is not None:
        findings += readiness_findings(node) + allocation_findings(node)
    findings += xid_findings(codes) + telemetry_findings(latest, thresholds)
    findings.sort(key=lambda finding: SEVERITY_ORDER[finding.severity])
    return {
        "name": name,
        "in_inventory": node is not None,
        "ready": known.get("ready"),
        "schedulable": known.get("schedulable"),
        "gpus": known.get("gpus"),
        "telemetry": latest,
        "status": status_of(findings),
        "findings": [finding.to_json() for finding in findings],
    }


def dashboard_view(inventory: dict, samples: list[GpuSample], thresholds: Thresholds = Thresholds()) -> dict:
    """Every node with GPUs in the inventory or in the telemetry, unhealthy ones first, and a fleet summary."""
    latest = latest_by_gpu(samples)
    codes = xid_codes(samples)
    inventory_nodes = {node["name"]: node for node in inventory.get("nodes", []) if node.get("gpus") or node["name"] in latest}
    names = sorted(set(inventory_nodes) | set(latest))
    rows = [node_row(name, inventory_nodes.get(name), latest.get(name, {}), codes.get(name, {}), thresholds) for name in names]
    rows.sort(key=lambda row: (SEVERITY_ORDER[row["status"]], row["name"]))
    gpu_groups = [row["gpus"] for row in rows if row["gpus"]]
    return {
        "source": inventory.get("source"),
        "nodes": rows,
        "summary": {
            "nodes": len(rows),
            "gpus": sum(group.get("count", 0) for group in gpu_groups),
            "allocated": sum(group.get("allocated", 0) for group in gpu_groups),
            "reporting_gpus": sum(len(gpus) for gpus in latest.values()),
            "critical": sum(row["status"] == CRITICAL for row in rows),
            "warning": sum(row["status"] == WARNING for row in rows),
            "newest_sample": samples[-1].ts if samples else None,
        },
        "thresholds": {"warn_temp_c": thresholds.warn_temp_c, "critical_temp_c": thresholds.critical_temp_c},
    }


def _combine(metric: str, values: list[float] | None) -> float | None:
    return None if not values else round(float(NODE_AGGREGATE[metric](values)), 3)


def telemetry_series(samples: list[GpuSample], node: str | None = None, max_points: int = 240) -> dict:
    """Time series ready for charting: one line per node (fleet view) or per GPU (one node's view).

    Time is cut into at most `max_points` equal buckets; a GPU's samples in a bucket are
    averaged (Xid: the highest code), then a node's GPUs combine by `NODE_AGGREGATE`
    (mean utilisation, total memory and power, hottest GPU). Gaps are None.
    """
    chosen = [sample for sample in samples if node is None or sample.node == node]
    if not chosen:
        return {"node": node, "ts": [], "series": [], "metrics": {metric: [] for metric in METRICS}}
    start, end = chosen[0].ts, chosen[-1].ts
    step = max(1.0, math.ceil((end - start) / max(max_points - 1, 1)))
    per_gpu: dict[tuple[float, str, str, str], list[float]] = defaultdict(list)
    for sample in chosen:
        bucket = start + math.floor((sample.ts - start) / step) * step
        for metric, value in sample.metrics.items():
            if metric in NODE_AGGREGATE:
                per_gpu[(bucket, sample.node, sample.gpu, metric)].append(value)
    grouped: dict[tuple[float, str, str], list[float]] = defaultdict(list)
    for (bucket, node_name, gpu, metric), values in per_gpu.items():
        grouped[(bucket, gpu if node else node_name, metric)].append(max(values) if metric == XID else fmean(values))
    buckets = sorted({key[0] for key in grouped})
    names = sorted({key[1] for key in grouped}, key=gpu_sort_key if node else str)
    return {
        "node": node,
        "ts": buckets,
        "series": names,
        "metrics": {metric: [[_combine(metric, grouped.get((bucket, name, metric))) for bucket in buckets] for name in names] for metric in METRICS},
    }
