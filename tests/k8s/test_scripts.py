"""The control-plane scripts without a cluster: a clear error when unbuilt, and the node set-up."""

from __future__ import annotations

import importlib.util
import os
import subprocess
from pathlib import Path

from .conftest import SCRIPTS


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


def _cache_with_binaries(tmp_path: Path, stamp: str) -> tuple[dict[str, str], Path]:
    """A cache holding executable stand-ins for the binaries and the given stamp; an env without go."""
    env = {**os.environ, "KUBETRAINER_CACHE": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}  # no go
    names = subprocess.run(["bash", "-c", f'source "{SCRIPTS}/versions.sh" && echo "$K8S_BIN" "${{K8S_BINARIES[@]}}"'],
                           capture_output=True, text=True, check=True, env=env).stdout.split()
    fake_bin, binaries = Path(names[0]), names[1:]
    fake_bin.mkdir(parents=True)
    for name in binaries:
        (fake_bin / name).write_text("#!/bin/sh\n")
        (fake_bin / name).chmod(0o755)
    (fake_bin / ".stamp").write_text(stamp)
    return env, fake_bin


def _build(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPTS / "build.sh"), *args], capture_output=True, text=True, env=env,
                          timeout=60)


def test_build_returns_at_once_when_the_stamp_matches_and_rebuilds_when_it_does_not(
        tmp_path: Path, k8s_bin: Path) -> None:
    """The stamp of the real, built cache is what build.sh computes from today's module and flags."""
    env, fake_bin = _cache_with_binaries(tmp_path, (k8s_bin / ".stamp").read_text())

    assert "up to date" in (fresh := _build(env)).stdout and fresh.returncode == 0, fresh.stdout + fresh.stderr
    assert "up to date" in (background := _build(env, "--background")).stdout and background.returncode == 0

    (fake_bin / ".stamp").write_text("stale\n")
    stale = _build(env)
    assert stale.returncode == 1 and "go command is needed" in stale.stderr, stale.stdout + stale.stderr


def test_a_build_waits_for_the_background_build_and_then_builds_itself(tmp_path: Path) -> None:
    """`make setup-test` starts the build in the background; the tests' build.sh waits for its lock, then retries."""
    env, _ = _cache_with_binaries(tmp_path, "stale\n")

    started = _build(env, "--background")
    assert started.returncode == 0 and "in the background" in started.stdout, started.stdout + started.stderr
    waited = _build(env)  # holds no lock until the background one has given it up

    assert waited.returncode == 1 and "go command is needed" in waited.stderr
    background_log = Path(env["KUBETRAINER_CACHE"]).glob("k8s-*/logs/background.log")
    assert "background build failed" in next(background_log).read_text()
