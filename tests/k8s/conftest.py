"""The local control plane, started once per pytest session by scripts/k8s/up.sh.

Every test here runs against real kube-apiserver, etcd, kube-controller-manager and
kube-scheduler processes, with kwok playing the kubelets of the simulated nodes. The
cluster is stopped at the end of the session even when tests fail; each test works in
a namespace of its own, deleted afterwards.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "scripts" / "k8s"


@dataclass(frozen=True)
class Cluster:
    """A running local control plane: its kubeconfig and the directory of its binaries."""

    kubeconfig: Path
    bin: Path

    def api_client(self) -> client.ApiClient:
        return config.new_client_from_config(config_file=str(self.kubeconfig))

    def run(self, tool: str, *args: str, check: bool = True, env: dict[str, str] | None = None) -> str:
        """Run one of the cached binaries (kubectl, helm) against this cluster; stdout."""
        proc = subprocess.run(
            [str(self.bin / tool), "--kubeconfig", str(self.kubeconfig), *args],
            capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})},
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"{tool} {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
        return proc.stdout


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory, k8s_bin: Path) -> Iterator[Cluster]:
    """Start the control plane once; always stop every process it started.

    KUBETRAINER_TEST_KUBECONFIG=.cluster/kubeconfig (after `make cluster-up`) reuses a running
    local cluster instead, and leaves it running: quicker while working on these tests.
    """
    reuse = os.environ.get("KUBETRAINER_TEST_KUBECONFIG")
    if reuse:
        yield Cluster(kubeconfig=Path(reuse).resolve(), bin=k8s_bin)
        return
    workdir = tmp_path_factory.mktemp("cluster")
    try:
        up = subprocess.run(["bash", str(SCRIPTS / "up.sh"), str(workdir)], capture_output=True, text=True, timeout=300)
        if up.returncode != 0:
            pytest.fail(f"the local control plane did not start (scripts/k8s/up.sh):\n{up.stderr}", pytrace=False)
        yield Cluster(kubeconfig=workdir / "kubeconfig", bin=k8s_bin)
    finally:
        subprocess.run(["bash", str(SCRIPTS / "down.sh"), str(workdir)], capture_output=True, timeout=120)


@pytest.fixture(scope="session")
def api(cluster: Cluster) -> client.ApiClient:
    return cluster.api_client()


@pytest.fixture
def namespace(api: client.ApiClient) -> Iterator[str]:
    """A fresh namespace for one test, with its default service account ready."""
    core = client.CoreV1Api(api)
    name = f"t-{uuid.uuid4().hex[:8]}"
    core.create_namespace({"metadata": {"name": name}})
    wait_for(lambda: core.list_namespaced_service_account(name, field_selector="metadata.name=default").items,
             what=f"the default service account of {name}")
    yield name
    core.delete_namespace(name)
    # Wait until its pods are gone, so the next test sees only its own pods on the nodes.
    wait_for(lambda: not core.list_namespaced_pod(name).items, what=f"the pods of namespace {name} to be deleted")


def token_client(admin: client.ApiClient, token: str) -> client.ApiClient:
    """A client that reaches the same API server with only a bearer token (no client cert)."""
    conf = client.Configuration()
    conf.host = admin.configuration.host
    conf.ssl_ca_cert = admin.configuration.ssl_ca_cert
    conf.api_key = {"authorization": f"Bearer {token}"}
    return client.ApiClient(conf)


def wait_for(probe: Callable[[], Any], *, what: str, timeout_s: float = 60.0, interval_s: float = 0.25) -> Any:
    """Poll `probe` until it returns something truthy, and return that; fail naming `what`."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(interval_s)
