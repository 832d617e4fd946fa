"""The shipped Prometheus rules: valid for Debian's promtool, each one firing (and only then) on the series
it is about, with the labels investigations scope by; the chart's optional PrometheusRule is the same rules."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from kubetrainer.serve.dashboard_health import Thresholds
from tests.helm.test_chart import render
from tests.investigate.conftest import RULES

POD = 'namespace="ml",pod="fe-1",container="app"'
GPU = 'Hostname="gpu-3",gpu="0",UUID="GPU-1a2b",modelName="NVIDIA H100 80GB HBM3"'
POD_LABELS = {"namespace": "ml", "pod": "fe-1", "container": "app"}
GPU_LABELS = {"Hostname": "gpu-3", "gpu": "0", "UUID": "GPU-1a2b", "modelName": "NVIDIA H100 80GB HBM3"}


SHIPPED = {rule["alert"]: rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]}


def _alert(name: str, severity: str, at: str, labels: dict[str, str], summary: str = "", **annotations: str) -> dict:
    """No alert at `at` without labels; else one with them, its summary rendered as given."""
    if not labels:
        return {"eval_time": at, "alertname": name, "exp_alerts": []}
    expected = {"description": SHIPPED[name]["annotations"]["description"], "summary": summary, **annotations}
    return {"eval_time": at, "alertname": name,
            "exp_alerts": [{"exp_labels": {**labels, "severity": severity}, "exp_annotations": expected}]}


UNIT_TESTS = [
    {"interval": "1m", "input_series": [
        {"series": f"DCGM_FI_DEV_XID_ERRORS{{{GPU}}}", "values": "0 0 79 79"},
        {"series": f"DCGM_FI_DEV_ECC_DBE_VOL_TOTAL{{{GPU}}}", "values": "0 0 0 2"},
        {"series": f"DCGM_FI_DEV_GPU_TEMP{{{GPU}}}", "values": "70 84 84 84 84 84 84 91 91 91 91"},
    ], "alert_rule_test": [
        _alert("GPUXidError", "critical", "1m", {}),
        _alert("GPUXidError", "critical", "2m", GPU_LABELS, "GPU 0 on node gpu-3 reported Xid 79.",
               description="The NVIDIA driver reported Xid 79 for GPU 0 (GPU-1a2b); the investigation says what "
               "the code means and whether to drain the node."),
        _alert("GPUUncorrectableECCErrors", "critical", "2m", {}),
        _alert("GPUUncorrectableECCErrors", "critical", "3m", GPU_LABELS,
               "GPU 0 on node gpu-3 has 2 uncorrectable ECC errors."),
        _alert("GPUTemperatureHigh", "warning", "5m", {}),
        _alert("GPUTemperatureHigh", "warning", "6m", GPU_LABELS, "GPU 0 on node gpu-3 runs at 84 °C."),
        _alert("GPUTemperatureCritical", "critical", "8m", {}),
        _alert("GPUTemperatureCritical", "critical", "9m", GPU_LABELS, "GPU 0 on node gpu-3 is overheating at 91 °C."),
    ]},
    {"interval": "1m", "input_series": [
        {"series": 'kube_node_status_condition{node="cpu-1",condition="MemoryPressure",status="true"}',
         "values": "0 1 1 1 1 1 1"},
        {"series": 'kube_node_status_condition{node="cpu-1",condition="Ready",status="true"}', "values": "1x6"},
        {"series": f'kube_pod_container_status_waiting_reason{{{POD},reason="CrashLoopBackOff"}}',
         "values": "1 1 0 1 1 0 1 1 1 1 1 1 1 1 0"},  # flips to Running on each restart
        {"series": f'kube_pod_container_status_last_terminated_reason{{{POD},reason="OOMKilled"}}', "values": "1x14"},
        {"series": f"kube_pod_container_status_restarts_total{{{POD}}}", "values": "3 3 4 4 4 4 4 4 4 4 4 4 4 4 4"},
    ], "alert_rule_test": [
        _alert("KubeNodePressure", "warning", "5m", {}),
        _alert("KubeNodePressure", "warning", "6m", {"node": "cpu-1", "condition": "MemoryPressure"},
               "Node cpu-1 reports MemoryPressure."),
        _alert("KubePodCrashLooping", "warning", "9m", {}),
        _alert("KubePodCrashLooping", "warning", "10m", POD_LABELS, "Container app of pod ml/fe-1 is in CrashLoopBackOff."),
        _alert("KubePodOOMKilled", "warning", "1m", {}),
        _alert("KubePodOOMKilled", "warning", "3m", POD_LABELS, "Container app of pod ml/fe-1 was OOMKilled and restarted."),
        _alert("KubePodOOMKilled", "warning", "13m", {}),  # no restart in the last 10 minutes
    ]},
]


def _promtool() -> str:
    binary = shutil.which("promtool")
    assert binary, "promtool is missing: run `make setup-test` (scripts/setup.d/50-alerting.sh)"
    return binary


def test_promtool_accepts_the_rules_and_each_fires_on_its_series(tmp_path: Path) -> None:
    checked = subprocess.run([_promtool(), "check", "rules", str(RULES)], capture_output=True, text=True)
    assert checked.returncode == 0 and "SUCCESS: 7 rules found" in checked.stdout, checked.stdout + checked.stderr
    tests = tmp_path / "rules_test.yml"
    tests.write_text(yaml.safe_dump({"rule_files": [str(RULES)], "evaluation_interval": "1m", "tests": UNIT_TESTS}))
    result = subprocess.run([_promtool(), "test", "rules", str(tests)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_temperature_rules_use_the_dashboards_thresholds() -> None:
    thresholds = Thresholds()
    assert SHIPPED["GPUTemperatureHigh"]["expr"].endswith(f">= {thresholds.warn_temp_c:g}")
    assert SHIPPED["GPUTemperatureCritical"]["expr"].endswith(f">= {thresholds.critical_temp_c:g}")


def test_the_chart_ships_the_same_rules_as_a_prometheus_rule_only_when_asked(helm: Path) -> None:
    assert not [doc for doc in render(helm) if doc["kind"] == "PrometheusRule"]
    (rule,) = [doc for doc in render(helm, "--set", "prometheusRule.enabled=true",
                                     "--set", "prometheusRule.labels.release=kps") if doc["kind"] == "PrometheusRule"]
    assert rule["apiVersion"] == "monitoring.coreos.com/v1" and rule["metadata"]["labels"]["release"] == "kps"
    assert rule["spec"] == yaml.safe_load(RULES.read_text())
