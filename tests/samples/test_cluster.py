"""The sample cluster generator: layout of a real cluster-info dump, incidents, questions, secrets."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from kubetrainer.samples.cluster import generate_cluster, resolve_size
from kubetrainer.samples.secrets import planted_secrets

LOG_BLOCK = re.compile(r"^==== (START|END) logs for container (\S+) of pod (\S+)/(\S+) ====$")


@pytest.fixture(scope="module")
def dump(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample") / "dump"
    generate_cluster(out, seed=7, size="small")
    return out


def test_same_seed_same_bytes_other_seed_differs(dump: Path, tmp_path: Path) -> None:
    generate_cluster(tmp_path / "again", seed=7, size="small")
    generate_cluster(tmp_path / "other", seed=8, size="small")
    files = sorted(p.relative_to(dump) for p in dump.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "again") for p in (tmp_path / "again").rglob("*") if p.is_file())
    assert all((dump / f).read_bytes() == (tmp_path / "again" / f).read_bytes() for f in files)
    assert (dump / "questions.jsonl").read_text() != (tmp_path / "other" / "questions.jsonl").read_text()


def test_layout_matches_kubectl_cluster_info_dump(dump: Path) -> None:
    assert json.loads((dump / "nodes.json").read_text())["kind"] == "NodeList"
    namespaces = [p for p in dump.iterdir() if p.is_dir()]
    assert {"kube-system", "web", "ml-training", "inference", "data"} <= {p.name for p in namespaces}
    for namespace in namespaces:
        for name in ("events", "pods", "services", "deployments", "replicasets", "daemonsets", "replication-controllers"):
            listed = json.loads((namespace / f"{name}.json").read_text())
            assert listed["kind"].endswith("List") and isinstance(listed["items"], list)
    logs = list(dump.glob("*/*/logs.txt"))
    assert len(logs) > 20
    for path in logs:
        lines = path.read_text().splitlines()
        starts = [LOG_BLOCK.match(line) for line in lines if line.startswith("==== START")]
        ends = [line for line in lines if line.startswith("==== END")]
        assert starts and len(starts) == len(ends) and all(starts)
        assert starts[0].group(3) == path.parent.parent.name and starts[0].group(4) == path.parent.name


def test_incidents_are_reported_the_kubernetes_way(dump: Path) -> None:
    pods = json.loads((dump / "ml-training" / "pods.json").read_text())["items"]
    states = json.dumps([p["status"].get("containerStatuses") for p in pods])
    assert '"reason": "OOMKilled"' in states and '"exitCode": 137' in states
    pending = [p for p in pods if p["status"]["phase"] == "Pending"]
    assert pending and pending[0]["spec"]["containers"][0]["resources"]["requests"]["nvidia.com/gpu"] == "8"
    events = (dump / "ml-training" / "events.json").read_text() + (dump / "data" / "events.json").read_text()
    for phrase in ("Insufficient nvidia.com/gpu", "unbound immediate PersistentVolumeClaims", "Failed to pull image", "BackoffLimitExceeded"):
        assert phrase in events
    nodes = (dump / "nodes.json").read_text()
    assert "KubeletHasInsufficientMemory" in nodes and '"Unknown"' in nodes
    all_logs = "".join(p.read_text() for p in dump.glob("*/*/logs.txt"))
    for phrase in ("Xid=79", "CUDA out of memory", "no such host", "certificate has expired", "Traceback (most recent call last)"):
        assert phrase in all_logs


def test_questions_point_at_objects_that_exist(dump: Path) -> None:
    questions = [json.loads(line) for line in (dump / "questions.jsonl").read_text().splitlines()]
    assert len(questions) >= 12 and len({q["id"] for q in questions}) == len(questions)
    everything = "".join(p.read_text() for p in dump.rglob("*") if p.is_file() and p.name != "questions.jsonl")
    for question in questions:
        assert question["question"] and question["answer"] and question["evidence"]
        assert 1 <= len(question["facts"]) <= 3, question["id"]
        for evidence in question["evidence"]:
            assert evidence["name"] in everything and evidence["contains"] in everything
            assert evidence["contains"].lower() not in question["question"].lower()


def test_secrets_of_every_kind_are_planted(dump: Path) -> None:
    everything = "".join(p.read_text() for p in dump.rglob("*") if p.is_file())
    for kind, value in planted_secrets(7).values().items():
        assert value.split("\n")[0][:40] in everything, kind


def test_size_controls_the_noise_volume(tmp_path: Path) -> None:
    generate_cluster(tmp_path / "tiny", seed=1, size=500)
    small_lines = sum(len(p.read_text().splitlines()) for p in (tmp_path / "tiny").glob("*/*/logs.txt"))
    assert 500 <= small_lines < 1500
    assert resolve_size("huge").log_lines == 1_000_000
    with pytest.raises(ValueError):
        resolve_size("gigantic")
