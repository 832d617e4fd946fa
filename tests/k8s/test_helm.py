"""`helm install` of a trivial chart works against the local control plane."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kubernetes import client

from .conftest import Cluster

pytestmark = pytest.mark.k8s

# Helm keeps its release records in ConfigMaps here: the tests never touch Secrets.
HELM_ENV = {"HELM_DRIVER": "configmap"}


def _trivial_chart(root: Path) -> Path:
    chart = root / "hello"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: hello\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("greeting: hi\n")
    (chart / "templates" / "configmap.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-hello\n"
        "data:\n  greeting: {{ .Values.greeting | quote }}\n"
    )
    return chart


def test_helm_install_of_a_trivial_chart(cluster: Cluster, api: client.ApiClient, namespace: str, tmp_path: Path) -> None:
    chart = _trivial_chart(tmp_path)
    cluster.run("helm", "install", "demo", str(chart), "-n", namespace, "--set", "greeting=hello", "--wait",
                env=HELM_ENV)

    releases = json.loads(cluster.run("helm", "list", "-n", namespace, "-o", "json", env=HELM_ENV))
    assert [(r["name"], r["status"]) for r in releases] == [("demo", "deployed")]
    configmap = client.CoreV1Api(api).read_namespaced_config_map("demo-hello", namespace)
    assert configmap.data == {"greeting": "hello"}
