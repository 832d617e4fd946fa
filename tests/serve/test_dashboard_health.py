"""The dashboard's health rules and time series, on plain inventory JSON and GPU records."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from kubetrainer.records import make_record
from kubetrainer.serve.dashboard_health import (
    CRITICAL,
    ECC_DBE,
    FB_USED,
    OK,
    TEMP,
    UTIL,
    WARNING,
    XID,
    Finding,
    Thresholds,
    dashboard_view,
    gpu_samples,
    latest_by_gpu,
    status_of,
    telemetry_series,
    within_window,
    xid_codes,
)
from kubetrainer.serve.dashboard_sample import Incidents, sample_telemetry

T0 = datetime(2026, 11, 29, 4, 0, tzinfo=timezone.utc)


def gpu(node: str, index: int, minute: float, **metrics: float) -> dict:
    return make_record("gpu", T0 + timedelta(minutes=minute), "agent", f"GPU {index}", node=node, metrics=metrics, labels={"gpu": index})


def node(name: str, *, count: int = 8, allocated: int = 0, ready: bool = True, schedulable: bool = True) -> dict:
    gpus = {"vendor": "nvidia", "product": "NVIDIA H100 80GB", "count": count, "capacity": count, "allocated": allocated, "free": count - allocated, "memory_mib": 81559}
    return {"name": name, "ready": ready, "schedulable": schedulable, "taints": [], "cpu": 64, "memory_bytes": 1, "gpus": gpus if count else None}


def findings(view: dict, name: str) -> list[str]:
    row = next(row for row in view["nodes"] if row["name"] == name)
    return [f"{finding['severity']}: {finding['text']}" for finding in row["findings"]]


def test_only_gpu_records_with_a_node_count_and_come_out_oldest_first() -> None:
    log = make_record("log", T0, "agent", "hello", node="n1")
    no_node = make_record("gpu", T0, "agent", "GPU 0", metrics={UTIL: 5})
    samples = gpu_samples([gpu("n1", 0, 2, **{UTIL: 50}), log, no_node, gpu("n1", 1, 1, **{UTIL: 40})])
    assert [(sample.gpu, sample.ts) for sample in samples] == [("1", (T0 + timedelta(minutes=1)).timestamp()), ("0", (T0 + timedelta(minutes=2)).timestamp())]


def test_latest_keeps_each_metrics_newest_value_and_sorts_gpus_numerically() -> None:
    samples = gpu_samples([gpu("n1", 10, 0, **{UTIL: 1, TEMP: 40}), gpu("n1", 2, 0, **{UTIL: 5}), gpu("n1", 10, 1, **{UTIL: 90})])
    latest = latest_by_gpu(samples)["n1"]
    assert list(latest) == ["2", "10"]
    assert latest["10"][UTIL] == 90 and latest["10"][TEMP] == 40


def test_xid_codes_are_distinct_and_ignore_zero() -> None:
    samples = gpu_samples([gpu("n1", 3, minute, **{XID: code}) for minute, code in enumerate([0, 79, 79, 0, 48])])
    assert xid_codes(samples) == {"n1": {"3": [79, 48]}}


@pytest.mark.parametrize(
    ("inventory_node", "metrics", "expected"),
    [
        (node("n1"), {UTIL: 50, TEMP: 60}, []),
        (node("n1", ready=False), {}, ["critical: NotReady"]),
        (node("n1", schedulable=False), {}, ["warning: cordoned (unschedulable)"]),
        (node("n1", count=4, allocated=4), {}, ["warning: all 4 GPUs allocated"]),
        (node("n1"), {TEMP: 85}, ["warning: GPU 0: 85 °C"]),
        (node("n1"), {TEMP: 91}, ["critical: GPU 0: 91 °C"]),
        (node("n1"), {ECC_DBE: 1}, ["critical: GPU 0: 1 ECC double-bit error"]),
        (node("n1"), {XID: 79}, ["critical: GPU 0: Xid 79 (79: the GPU has fallen off the bus: a GPU hardware failure (PCIe, power or overheating))"]),
        (node("n1", count=2, allocated=2), {XID: 13, TEMP: 86}, [
            "warning: all 2 GPUs allocated",
            "warning: GPU 0: Xid 13 (13: graphics engine exception (usually an application fault, sometimes a driver or hardware fault))",
            "warning: GPU 0: 86 °C"]),
    ],
)
def test_health_rules(inventory_node: dict, metrics: dict, expected: list[str]) -> None:
    view = dashboard_view({"source": "test", "nodes": [inventory_node]}, gpu_samples([gpu("n1", 0, 0, **metrics)] if metrics else []))
    assert findings(view, "n1") == expected
    assert view["nodes"][0]["status"] == (expected[0].split(":")[0] if expected else OK)


def test_thresholds_are_configurable() -> None:
    view = dashboard_view({"nodes": [node("n1")]}, gpu_samples([gpu("n1", 0, 0, **{TEMP: 75})]), Thresholds(warn_temp_c=70, critical_temp_c=74))
    assert findings(view, "n1") == ["critical: GPU 0: 75 °C"]


def test_status_is_the_worst_finding() -> None:
    assert status_of([]) == OK
    assert status_of([Finding(WARNING, "w")]) == WARNING
    assert status_of([Finding(WARNING, "w"), Finding(CRITICAL, "c"), Finding(WARNING, "w2")]) == CRITICAL


def test_view_lists_gpu_nodes_from_either_source_unhealthy_first() -> None:
    inventory = {"source": "dump:x", "nodes": [node("a-ok"), node("b-bad", ready=False), node("cpu-only", count=0)]}
    samples = gpu_samples([gpu("a-ok", 0, 0, **{UTIL: 10}), gpu("z-unknown", 0, 0, **{UTIL: 20})])
    view = dashboard_view(inventory, samples)
    assert [row["name"] for row in view["nodes"]] == ["b-bad", "a-ok", "z-unknown"]
    unknown = view["nodes"][2]
    assert unknown["in_inventory"] is False and unknown["gpus"] is None and unknown["telemetry"]["0"][UTIL] == 20
    assert view["summary"] | {"newest_sample": None} == {
        "nodes": 3, "gpus": 16, "allocated": 0, "reporting_gpus": 2, "critical": 1, "warning": 0, "newest_sample": None,
    }


def test_window_keeps_recent_samples() -> None:
    samples = gpu_samples([gpu("n", 0, minute, **{UTIL: 1}) for minute in (0, 30, 60, 90)])
    assert len(within_window(samples, 3600)) == 3 and within_window([], 10) == []


def test_fleet_series_combine_a_nodes_gpus() -> None:
    records = [gpu("n1", 0, 0, **{UTIL: 20, FB_USED: 100, TEMP: 40, XID: 0}), gpu("n1", 1, 0, **{UTIL: 60, FB_USED: 300, TEMP: 70, XID: 79}),
               gpu("n2", 0, 1, **{UTIL: 5})]
    series = telemetry_series(gpu_samples(records))
    assert series["series"] == ["n1", "n2"] and len(series["ts"]) == 2
    assert series["metrics"][UTIL] == [[40.0, None], [None, 5.0]]  # mean; n2 has no sample in the first bucket
    assert series["metrics"][FB_USED][0][0] == 400 and series["metrics"][TEMP][0][0] == 70 and series["metrics"][XID][0][0] == 79


def test_node_series_has_one_line_per_gpu_and_is_bucketed() -> None:
    records = [gpu("n1", index, minute / 6, **{UTIL: minute}) for minute in range(120) for index in (0, 1, 10)]
    series = telemetry_series(gpu_samples(records), node="n1", max_points=20)
    assert series["series"] == ["0", "1", "10"]
    assert len(series["ts"]) <= 20 and all(len(values) == len(series["ts"]) for values in series["metrics"][UTIL])
    assert series["metrics"][UTIL][0][0] == pytest.approx(sum(range(0, 6)) / 6, abs=1.0)  # a bucket averages its samples
    assert telemetry_series([], node="x")["ts"] == []


def test_sample_telemetry_plants_the_incidents() -> None:
    inventory = {"nodes": [node("busy", allocated=8), node("faulty"), node("hot", count=1), node("down", count=1, ready=False)]}
    records = sample_telemetry(inventory, end=T0, minutes=20, incidents=Incidents(xid_node="faulty", hot_node="hot"))
    view = dashboard_view(inventory, gpu_samples(records))
    first, second = findings(view, "faulty")[:2]
    assert first.startswith("critical: GPU 3: Xid 79 (79: the GPU has fallen off the bus") and second == "critical: GPU 3: 2 ECC double-bit errors"
    assert findings(view, "hot") == ["critical: GPU 0: 94 °C"]
    assert findings(view, "busy") == ["warning: all 8 GPUs allocated"]
    latest = latest_by_gpu(gpu_samples(records))
    assert latest["busy"]["0"][UTIL] > 50 and latest["down"]["0"]["ts"] < T0.timestamp()
