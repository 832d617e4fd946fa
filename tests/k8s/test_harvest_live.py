"""`kubetrainer harvest --kubeconfig` against the local control plane: real objects in, no secrets out."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from kubernetes import client

from .conftest import Cluster

pytestmark = pytest.mark.k8s
PLANTED = "s3cr3t-Value-4242"


def test_live_harvest_reads_the_cluster_and_never_secret_values(cluster: Cluster, api: client.ApiClient,
                                                                   namespace: str, tmp_path: Path) -> None:
    core = client.CoreV1Api(api)
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "app-config"},
                                                  "data": {"log_level": "debug", "db_password": PLANTED}})
    core.create_namespaced_secret(namespace, {"metadata": {"name": "app-secret"}, "stringData": {"token": PLANTED}})
    proc = subprocess.run([sys.executable, "-m", "kubetrainer", "--home", str(tmp_path), "harvest",
                           "--kubeconfig", str(cluster.kubeconfig), "--name", "live", "--json"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    text = (tmp_path / "harvest" / "live.jsonl").read_text()
    records = [json.loads(line) for line in text.splitlines()]
    kinds = {record["object"]["kind"] for record in records if record["kind"] == "object"}
    assert {"Node", "ConfigMap"} <= kinds
    assert "Secret" not in kinds
    config = next(r for r in records if r["kind"] == "object" and r["object"]["name"] == "app-config")
    assert "db_password" in config["message"] and "log_level" in config["message"]
    assert PLANTED not in text
    assert all(r.get("source") == "api" for r in records)
