"""The live-API adapter's edges that need no cluster: a bad kubeconfig and an unreachable server.

Listing a real cluster is exercised against the local control plane (tests/k8s); the
conversion of what it returns is the shared `sources.kube` code tested with the dump.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kubetrainer.errors import Unavailable, UserError
from kubetrainer.sources.api import list_calls, read_api
from kubetrainer.sources.base import Problems
from kubetrainer.sources.kube import records_from_list

KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:9", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: not-a-real-token}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
"""


def test_a_missing_kubeconfig_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="Kubernetes credentials") as error:
        list(read_api(str(tmp_path / "absent"), Problems()))
    assert error.value.where == str(tmp_path / "absent")


def test_an_unreachable_api_server_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG)
    with pytest.raises(Unavailable, match="cannot reach"):
        list(read_api(str(path), Problems()))


def test_secrets_are_never_listed_and_list_items_get_their_kind(tmp_path: Path) -> None:
    from kubernetes import config

    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG)
    names = [what for _, what, _ in list_calls(config.new_client_from_config(config_file=str(path)))]
    assert "secrets" not in names and {"pods", "events", "nodes", "configmaps", "persistentvolumeclaims"} <= set(names)
    claims = records_from_list({"kind": "PersistentVolumeClaimList", "items": [{"metadata": {"name": "data-0", "namespace": "db"}, "spec": {"storageClassName": "fast-ssd", "resources": {"requests": {"storage": "10Gi"}}}, "status": {"phase": "Pending"}}]}, "api")
    assert claims[0]["message"] == "PersistentVolumeClaim db/data-0: Pending, 10Gi of storage class fast-ssd." and claims[0]["source"] == "api"
    assert records_from_list({"kind": "SecretList", "items": [{"metadata": {"name": "s"}, "data": {"k": "djE="}}]}, "api") == []
