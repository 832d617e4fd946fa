"""The control-plane scripts without a cluster: a clear error when unbuilt, and the node set-up."""

from __future__ import annotations

import importlib.util
import os
import subprocess
from pathlib import Path

from .conftest import SCRIPTS, _k8s_bin


def test_up_says_how_to_build_when_the_binaries_are_missing(tmp_path: Path) -> None:
    env = {**os.environ, "KUBETRAINER_CACHE": str(tmp_path / "empty-cache")}
    up = subprocess.run(["bash", str(SCRIPTS / "up.sh"), str(tmp_path / "c")], capture_output=True, text=True,
                        env=env, timeout=60)

    assert up.returncode == 1
    assert "kube-apiserver is not built" in up.stderr and "make setup" in up.stderr
    assert not (tmp_path / "c" / "kubeconfig").exists()


def test_down_on_a_cluster_never_started_is_a_no_op(tmp_path: Path) -> None:
    down = subprocess.run(["bash", str(SCRIPTS / "down.sh"), str(tmp_path / "c")], capture_output=True, text=True,
                          timeout=60)
    assert down.returncode == 0, down.stderr


def test_only_ready_sample_nodes_are_handed_to_kwok() -> None:
    spec = importlib.util.spec_from_file_location("k8s_nodes", SCRIPTS / "nodes.py")
    nodes_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(nodes_module)

    nodes = nodes_module.simulated_nodes()

    managed = {n["metadata"]["name"] for n in nodes if nodes_module.KWOK_ANNOTATION in n["metadata"].get("annotations", {})}
    not_ready = {n["metadata"]["name"] for n in nodes if nodes_module.declared_not_ready(n)}
    assert not_ready and managed and not managed & not_ready
    assert managed | not_ready == {n["metadata"]["name"] for n in nodes}
    assert all("resourceVersion" not in n["metadata"] and "uid" not in n["metadata"] for n in nodes)


def test_build_rebuilds_only_the_part_whose_inputs_changed(tmp_path: Path) -> None:
    """Each part (kube, etcd, kwok, helm) has its own stamp: a stale helm stamp rebuilds helm, not Kubernetes."""
    env = {**os.environ, "KUBETRAINER_CACHE": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}  # no go
    names = subprocess.run(["bash", "-c", f'source "{SCRIPTS}/versions.sh" && echo "$K8S_BIN" "${{K8S_BINARIES[@]}}"'],
                           capture_output=True, text=True, check=True, env=env).stdout.split()
    fake_bin, binaries = Path(names[0]), names[1:]
    fake_bin.mkdir(parents=True)
    for name in binaries:
        (fake_bin / name).write_text("#!/bin/sh\n")
        (fake_bin / name).chmod(0o755)
    for stamp in _k8s_bin().glob(".stamp-*"):  # the keys of the real, built cache
        (fake_bin / stamp.name).write_text(stamp.read_text())

    def build() -> subprocess.CompletedProcess:
        return subprocess.run(["bash", str(SCRIPTS / "build.sh")], capture_output=True, text=True, env=env, timeout=60)

    fresh = build()
    assert fresh.returncode == 0 and "up to date" in fresh.stdout, fresh.stdout + fresh.stderr
    (fake_bin / ".stamp-helm").write_text("stale\n")
    stale = build()
    assert stale.returncode == 1 and "go command is needed" in stale.stderr
    assert "to build: helm (" in stale.stdout, stale.stdout
