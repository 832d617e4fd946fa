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

import numpy as np

from kubetrainer.diagnose.knowledge import CRITICAL, WARNING, XID_HARDWARE, xid_meaning
from kubetrainer.records import parse_ts

UTIL = "DCGM_FI_DEV_GPU_UTIL"
FB_USED = "DCGM_FI_DEV_FB_USED"
FB_FREE = "DCGM_FI_DEV_FB_FREE"
TEMP = "DCGM_FI_DEV_GPU_TEMP"
POWER = "DCGM_FI_DEV_POWER_USAGE"
XID = "DCGM_FI_DEV_XID_ERRORS"
ECC_DBE = "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL"

# How one node's GPUs combine into the node's line on a fleet chart.
NODE_AGGREGATE = {UTIL: "mean", FB_USED: "sum", FB_FREE: "sum", TEMP: "max", POWER: "sum", XID: "max", ECC_DBE: "sum"}
METRICS = tuple(NODE_AGGREGATE)
OK = "ok"  # critical and warning are the diagnosis's severities (`diagnose.knowledge`)
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
    row: tuple[float, ...] = ()  # METRICS in order, NaN where missing: made once per parsed file, read by numpy


def metric_row(metrics: dict[str, float]) -> tuple[float, ...]:
    return tuple(metrics.get(metric, math.nan) for metric in METRICS)


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
        uuid = labels.get("UUID") or labels.get("uuid")
        samples.append(GpuSample(ts, record["node"], str(labels.get("gpu", "0")), metrics, uuid, labels.get("modelName"), metric_row(metrics)))
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
    latest: dict[tuple[str, str], dict] = {}
    complete = len(METRICS) + 3
    for sample in reversed(samples):  # newest first: most samples only cost a lookup
        current = latest.get((sample.node, sample.gpu))
        if current is None:
            latest[(sample.node, sample.gpu)] = {**sample.metrics, "ts": sample.ts, "uuid": sample.uuid, "model": sample.model}
        elif len(current) < complete or current["uuid"] is None or current["model"] is None:
            for name, value in sample.metrics.items():
                current.setdefault(name, value)
            current["uuid"] = current["uuid"] or sample.uuid
            current["model"] = current["model"] or sample.model
    by_node: dict[str, dict[str, dict]] = defaultdict(dict)
    for (node, gpu), values in sorted(latest.items(), key=lambda item: (item[0][0], gpu_sort_key(item[0][1]))):
        by_node[node][gpu] = values
    return dict(by_node)


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
    """One finding per GPU with Xid errors, explained by NVIDIA's catalogue (`diagnose.knowledge`).

    Hardware and firmware codes are critical (drain the node); application-class codes are warnings.
    """
    findings = []
    for gpu, codes in sorted(codes_by_gpu.items(), key=lambda item: gpu_sort_key(item[0])):
        severity = CRITICAL if any(code in XID_HARDWARE for code in codes) else WARNING
        meanings = "; ".join(f"{code}: {xid_meaning(code)}" for code in codes if xid_meaning(code))
        text = f"GPU {gpu}: Xid {', '.join(str(code) for code in codes)}" + (f" ({meanings})" if meanings else "")
        findings.append(Finding(severity, text))
    return findings


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


def _group(keys: np.ndarray, values: np.ndarray, how: str, size: int) -> np.ndarray:
    """Combine `values` by integer group `keys` into `size` slots ("mean", "sum" or "max"); NaN: no value."""
    valid = ~np.isnan(values)
    keys, values = keys[valid], values[valid]
    counts = np.bincount(keys, minlength=size)
    if how == "max":
        out = np.full(size, -np.inf)
        np.maximum.at(out, keys, values)
    else:
        out = np.bincount(keys, weights=values, minlength=size).astype(float)  # int when nothing is valid
        if how == "mean":
            out = out / np.maximum(counts, 1)
    out[counts == 0] = np.nan
    return out


def telemetry_series(samples: list[GpuSample], node: str | None = None, max_points: int = 240) -> dict:
    """Time series ready for charting: one line per node (fleet view) or per GPU (one node's view).

    Time is cut into at most `max_points` equal buckets; a GPU's samples in a bucket are
    averaged (Xid: the highest code), then a node's GPUs combine by `NODE_AGGREGATE`
    (mean utilisation, total memory and power, hottest GPU). Gaps are None. Vectorised
    with numpy: a fleet refresh groups a few hundred thousand samples.
    """
    chosen = [sample for sample in samples if node is None or sample.node == node]
    if not chosen:
        return {"node": node, "ts": [], "series": [], "metrics": {metric: [] for metric in METRICS}}
    start, end = chosen[0].ts, chosen[-1].ts
    step = max(1.0, math.ceil((end - start) / max(max_points - 1, 1)))
    buckets = np.floor((np.fromiter((sample.ts for sample in chosen), float, len(chosen)) - start) / step).astype(np.int64)
    gpus = sorted({(sample.node, sample.gpu) for sample in chosen})
    gpu_index = {gpu: position for position, gpu in enumerate(gpus)}
    names = sorted({gpu if node else node_name for node_name, gpu in gpus}, key=gpu_sort_key if node else str)
    name_index = {name: position for position, name in enumerate(names)}
    series_of_gpu = np.array([name_index[gpu if node else node_name] for node_name, gpu in gpus])
    sample_gpu = np.fromiter((gpu_index[(sample.node, sample.gpu)] for sample in chosen), np.int64, len(chosen))
    values = np.array([sample.row for sample in chosen], dtype=float)
    # level 1: each GPU's samples within a bucket
    gpu_groups, gpu_group_of_sample = np.unique(buckets * len(gpus) + sample_gpu, return_inverse=True)
    group_bucket, group_series = gpu_groups // len(gpus), series_of_gpu[gpu_groups % len(gpus)]
    used_buckets = np.unique(group_bucket)
    # level 2: a series (node or GPU) per bucket, laid out as [series][bucket]
    cell = group_series * len(used_buckets) + np.searchsorted(used_buckets, group_bucket)
    cells = len(names) * len(used_buckets)
    metrics = {}
    for column, metric in enumerate(METRICS):
        per_gpu = _group(gpu_group_of_sample, values[:, column], "max" if metric == XID else "mean", len(gpu_groups))
        combined = np.round(_group(cell, per_gpu, NODE_AGGREGATE[metric], cells), 3).reshape(len(names), len(used_buckets))
        metrics[metric] = [[None if math.isnan(value) else value for value in row] for row in combined.tolist()]
    return {"node": node, "ts": (start + used_buckets * step).tolist(), "series": names, "metrics": metrics}
