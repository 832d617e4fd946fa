"""`kubetrainer detect` end to end: tables, the DESIGN.md JSON contract, errors, the seed shim."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from kubetrainer.cli import main, render
from kubetrainer.cli.detect import show
from kubetrainer.hardware.detect import Detection, detect
from kubetrainer.hardware.local import detect_local
from kubetrainer.samples.nodes import gpu_node, sample_nodes, sample_pods
from tests.hardware.dumps import write_dump
from tests.hardware.gpu_replay import amdsmi_replay, nvml_replay

REPO = Path(__file__).resolve().parents[2]

_NULLABLE_STR = {"type": ["string", "null"]}
_COUNT = {"type": "integer", "minimum": 0}
GPUS_SCHEMA = {
    "type": ["object", "null"],
    "additionalProperties": False,
    "required": ["vendor", "product", "count", "capacity", "allocated", "free", "memory_mib", "compute_capability",
                 "family", "runtime", "runtime_version", "driver_version", "mig", "sharing"],
    "properties": {
        "vendor": {"enum": ["nvidia", "amd", "intel"]},
        "product": {"type": "string", "minLength": 1},
        "count": _COUNT, "capacity": _COUNT, "allocated": _COUNT, "free": _COUNT,
        "memory_mib": {"type": ["integer", "null"], "minimum": 1},
        "compute_capability": _NULLABLE_STR, "family": _NULLABLE_STR, "runtime": _NULLABLE_STR,
        "runtime_version": _NULLABLE_STR, "driver_version": _NULLABLE_STR,
        "mig": {
            "type": ["object", "null"], "additionalProperties": False, "required": ["strategy", "devices"],
            "properties": {
                "strategy": _NULLABLE_STR,
                "devices": {"type": "object", "additionalProperties": {
                    "type": "object", "additionalProperties": False,
                    "required": ["capacity", "allocatable", "allocated", "memory_mib"],
                    "properties": {"capacity": _COUNT, "allocatable": _COUNT, "allocated": _COUNT,
                                   "memory_mib": {"type": ["integer", "null"]}}}},
            },
        },
        "sharing": {"type": ["object", "null"], "additionalProperties": False, "required": ["strategy", "replicas"],
                    "properties": {"strategy": {"type": "string"}, "replicas": {"type": ["integer", "null"]}}},
    },
}
DETECT_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["source", "nodes", "summary"],
    "properties": {
        "source": {"type": "string"},
        "nodes": {"type": "array", "items": {
            "type": "object", "additionalProperties": False,
            "required": ["name", "ready", "schedulable", "taints", "cpu", "memory_bytes", "gpus"],
            "properties": {
                "name": {"type": "string"}, "ready": {"type": "boolean"}, "schedulable": {"type": "boolean"},
                "taints": {"type": "array", "items": {
                    "type": "object", "additionalProperties": False, "required": ["key", "effect", "value"],
                    "properties": {"key": {"type": "string"}, "effect": {"type": "string"}, "value": _NULLABLE_STR}}},
                "cpu": {"type": "number", "minimum": 0}, "memory_bytes": _COUNT, "gpus": GPUS_SCHEMA,
            },
        }},
        "summary": {"type": "array", "items": {
            "type": "object", "additionalProperties": False,
            "required": ["vendor", "product", "memory_mib", "nodes", "capacity", "allocatable", "allocated", "free"],
            "properties": {"vendor": {"type": "string"}, "product": {"type": "string"},
                           "memory_mib": {"type": ["integer", "null"]}, "nodes": _COUNT, "capacity": _COUNT,
                           "allocatable": _COUNT, "allocated": _COUNT, "free": _COUNT},
        }},
    },
}


@pytest.fixture(autouse=True)
def no_ambient_cluster(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests must not find a kubeconfig of whoever runs them."""
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))


@pytest.fixture
def dump(tmp_path: Path) -> Path:
    return write_dump(tmp_path / "dump", sample_nodes(), sample_pods())


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr (whitespace collapsed: rich wraps to the terminal)."""
    code = main(["detect", *args])
    out, err = capsys.readouterr()
    return code, out if "--json" in args else " ".join(out.split()), " ".join(err.split())


def test_json_matches_the_design_contract(capsys: pytest.CaptureFixture[str], dump: Path) -> None:
    code, out, _ = run(capsys, "--from", str(dump), "--json")
    assert code == 0
    document = json.loads(out)
    jsonschema.validate(document, DETECT_SCHEMA)
    assert document["source"] == f"dump:{dump}" and len(document["nodes"]) == len(sample_nodes())
    h100 = next(node for node in document["nodes"] if node["name"] == "gpu-h100-0")
    assert h100["gpus"]["count"] == 8 and h100["gpus"]["allocated"] == 7 and h100["gpus"]["free"] == 1
    assert h100["taints"] == [{"key": "nvidia.com/gpu", "effect": "NoSchedule", "value": "present"}]
    assert {row["product"] for row in document["summary"]} >= {"NVIDIA H100 80GB", "AMD Instinct MI300X 192GB"}


def test_json_with_this_machine_as_a_node(capsys: pytest.CaptureFixture[str], dump: Path) -> None:
    code, out, _ = run(capsys, "--from", str(dump), "--local", "--json")
    document = json.loads(out)
    jsonschema.validate(document, DETECT_SCHEMA)
    assert code == 0 and document["source"] == f"local+dump:{dump}"
    assert len(document["nodes"]) == len(sample_nodes()) + 1
    assert document["nodes"][0]["schedulable"] and document["nodes"][0]["memory_bytes"] > 0


def test_local_only_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--json")
    document = json.loads(out)
    jsonschema.validate(document, DETECT_SCHEMA)
    assert code == 0 and document["source"] == "local" and len(document["nodes"]) == 1


def test_nothing_to_detect(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--no-local", "--json")
    assert code == 0 and json.loads(out) == {"source": "none", "nodes": [], "summary": []}
    code, out, err = run(capsys, "--no-local", "--verbose")
    assert code == 0 and "Nothing detected" in out and "cluster: no kubeconfig" in err


def test_tables(capsys: pytest.CaptureFixture[str], dump: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render.console, "width", 250)
    code, out, _ = run(capsys, "--from", str(dump))
    assert code == 0
    for text in ("gpu-h100-0", "NVIDIA H100 80GB", "unknown", "13 GPU nodes, 2 CPU-only nodes", "time-slicing x4",
                 "Per product"):
        assert text in out
    assert "This machine" not in out  # --from names a cluster: the host is only probed on --local


def test_big_cluster_shows_the_summary_unless_verbose(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(render.console, "width", 250)
    nodes = [gpu_node(f"h100-{index:03d}", "nvidia", "NVIDIA H100 80GB", 8) for index in range(60)]
    dump = write_dump(tmp_path / "big", nodes, [])
    _, out, _ = run(capsys, "--from", str(dump))
    assert "60 GPU nodes, 0 CPU-only nodes (--verbose lists every GPU node" in out and "h100-000" not in out
    assert "NVIDIA H100 80GB" in out and "480" in out  # the summary row
    _, verbose, _ = run(capsys, "--from", str(dump), "--verbose")
    assert "h100-000" in verbose and "h100-059" in verbose


def test_local_gpu_table(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render.console, "width", 250)
    machine = detect_local(nvml=nvml_replay("nvml_h100_sxm.json"), amdsmi=amdsmi_replay(None))
    show(Detection(local=machine, cluster=None), verbose=False)
    out = " ".join(capsys.readouterr().out.split())
    assert "NVIDIA H100 80GB HBM3" in out and "0.5/79.6 GiB" in out and "36.6/79.6 GiB" in out
    assert "612 W / 700 W" in out and "97%" in out and "58 C" in out and "cuda 12.4" in out
    assert "No GPU found" not in out


def test_local_table_says_why_only_when_verbose(capsys: pytest.CaptureFixture[str]) -> None:
    if detect(local=True).local.gpus:
        pytest.fail("this test expects a host without GPUs; the GPU path is checked by bench/gpu/check_detect.py")
    _, quiet, _ = run(capsys)
    assert "This machine" in quiet and "No GPU found. (--verbose says why)" in quiet and "nvml:" not in quiet
    _, verbose, err = run(capsys, "--verbose")
    assert "nvml:" in verbose and "torch:" in verbose and "cluster: no kubeconfig" in err


def test_malformed_file_is_one_clear_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "nodes.json"
    bad.write_text('{"kind": "NodeList", "items": [')
    code, out, err = run(capsys, "--from", str(bad))
    assert code == 2 and out == ""
    assert f"{bad}:1:" in err and "not valid JSON" in err and "Traceback" not in err


def test_missing_kubeconfig_is_unavailable(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "--kubeconfig", str(tmp_path / "absent"))
    assert code == 3 and "no usable Kubernetes credentials" in err and "Traceback" not in err


def test_unreachable_api_server(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: k, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "users: [{name: u, user: {token: not-a-secret}}]\n"
        "contexts: [{name: c, context: {cluster: k, user: u}}]\n"
    )
    code, _, err = run(capsys, "--kubeconfig", str(kubeconfig))
    assert code == 3 and "cannot reach the API server" in err and "127.0.0.1:9" in err


def test_ambient_but_unreachable_cluster_is_only_a_note(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    found = detect()
    assert found.cluster is None and found.local is not None
    assert found.notes and found.notes[0].startswith("cluster: ")


def test_seed_shim_detect(tmp_path: Path) -> None:
    shim = subprocess.run(
        [sys.executable, str(REPO / "infra_training" / "infra_learning.py"), "--detect"],
        capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "KUBETRAINER_HOME": str(tmp_path / "home")},
    )
    assert shim.returncode == 0, shim.stderr
    assert "This machine" in shim.stdout
