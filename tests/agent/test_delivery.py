"""The agent as a daemon: rotation both ways while writing, kill -9 at random points,
a log directory that appears after start, its /metrics, and start-up errors."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from kubetrainer.errors import Unavailable, UserError
from kubetrainer.sources.local_agent import run_agent_once

from .conftest import container_dir, cri_line, output_lines, output_records, seqs_seen, wait_for

FAST = ["--flush-interval", "0.05", "--scan-interval", "0.05", "--telemetry-interval", "0"]


def write_with_rotation(log_dir: Path, total: int, rotate_every: int, mode: str, stop: threading.Event | None = None) -> None:
    """Append `seq=N` lines, rotating kubelet-style (rename) or logrotate-style (copytruncate)."""
    path = log_dir / "0.log"
    handle = path.open("a")
    rotated: list[Path] = []
    for i in range(total):
        if stop is not None and stop.is_set():
            break
        handle.write(cri_line(i, f"seq={i}"))
        handle.flush()
        if i % rotate_every == rotate_every - 1:
            if mode == "rename":
                handle.close()
                target = log_dir / f"0.log.{i:08d}-000000"
                path.rename(target)
                rotated.append(target)
                if len(rotated) > 3:  # kubelet keeps a few and deletes the oldest (maybe while it is read)
                    rotated.pop(0).unlink()
                handle = path.open("a")
            else:
                shutil.copyfile(path, log_dir / f"0.log.{i}")
                os.truncate(path, 0)
        if i % 50 == 0:
            time.sleep(0.01)
    handle.close()


@pytest.mark.parametrize("mode", ["rename", "copytruncate"])
def test_rotation_while_writing_loses_nothing(tmp_path: Path, run_agent, mode: str) -> None:
    pods, out = tmp_path / "pods", tmp_path / "out"
    log_dir = container_dir(pods)
    total = 6000
    agent = run_agent("--pods-dir", str(pods), "--state-dir", str(tmp_path / "state"), "--output", f"file:{out}", *FAST)
    write_with_rotation(log_dir, total, 1000, mode)
    wait_for(lambda: set(seqs_seen(out)) >= set(range(total)), 90, f"all {total} lines after {mode} rotation")
    assert agent.stop() == 0
    published = [json.loads(line)["message"] for line in output_lines(out, include_partial=False)]
    seqs = Counter(int(m.split("=")[1]) for m in published if m.startswith("seq="))
    assert set(seqs) == set(range(total))
    if mode == "rename":
        assert max(seqs.values()) == 1, "rename rotation is followed by identity: no re-reading"


def test_kill_9_at_random_points_loses_no_line(tmp_path: Path, run_agent) -> None:
    pods, out, state = tmp_path / "pods", tmp_path / "out", tmp_path / "state"
    log_dir = container_dir(pods)
    stop = threading.Event()
    total = 20_000
    writer = threading.Thread(target=write_with_rotation, args=(log_dir, total, 4000, "rename", stop))
    writer.start()
    rng = random.Random(1129)
    args = ["--pods-dir", str(pods), "--state-dir", str(state), "--output", f"file:{out}", "--batch-bytes", "8KiB", *FAST]
    try:
        for _ in range(15):
            agent = run_agent(*args)
            time.sleep(rng.uniform(0.05, 0.4))
            agent.kill()
    finally:
        writer.join()
    agent = run_agent(*args)
    wait_for(lambda: set(seqs_seen(out)) >= set(range(total)), 90, "every line after the kills")
    assert agent.stop() == 0

    records = [json.loads(line) for line in output_lines(out, include_partial=False)]  # each line parses: no torn lines
    seqs = Counter(int(r["message"].split("=")[1]) for r in records)
    assert set(seqs) == set(range(total)), "no line lost"
    by_id: dict[str, str] = {}
    for record in records:
        assert by_id.setdefault(record["id"], record["message"]) == record["message"], "one id, one line"
    duplicates = len(records) - len(by_id)
    print(f"kill -9 x15: {len(records)} records, {duplicates} duplicates, all dropped by id")
    assert len(by_id) == total


def test_directory_appearing_after_start(tmp_path: Path, run_agent) -> None:
    pods, out = tmp_path / "pods", tmp_path / "out"
    agent = run_agent("--pods-dir", str(pods), "--state-dir", str(tmp_path / "state"), "--output", f"file:{out}", *FAST)
    time.sleep(0.5)
    (container_dir(pods) / "0.log").write_text(cri_line(0, "seq=0 first pod"))
    wait_for(lambda: seqs_seen(out) == [0], 30, "the first pod's line")
    (container_dir(pods, container="sidecar") / "0.log").write_text(cri_line(1, "seq=1 new container"))
    wait_for(lambda: sorted(seqs_seen(out)) == [0, 1], 30, "the new container's line")
    assert agent.stop() == 0
    assert {r["container"] for r in output_records(out)} == {"app", "sidecar"}


def test_health_and_metrics_endpoint(tmp_path: Path, run_agent) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    pods, out = tmp_path / "pods", tmp_path / "out"
    (container_dir(pods) / "0.log").write_text(cri_line(0, "seq=0 password=hunter2") + "garbage\n")
    agent = run_agent(
        "--pods-dir", str(pods), "--state-dir", str(tmp_path / "s"), "--output", f"file:{out}", "--metrics-addr", f"127.0.0.1:{port}", *FAST
    )
    wait_for(lambda: len(output_lines(out)) == 2, 30, "two records")

    def get(path: str) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.read().decode()

    assert get("/healthz") == "ok\n"
    wait_for(lambda: 'kubetrainer_agent_redactions_total{type="secret_pair"} 1' in get("/metrics"), 10, "redaction counter")
    metrics = get("/metrics")
    assert "kubetrainer_agent_lines_read_total 2" in metrics
    assert 'kubetrainer_agent_errors_total{kind="malformed_line"} 1' in metrics
    assert 'kubetrainer_agent_records_written_total{kind="log"} 2' in metrics
    assert agent.stop() == 0


def test_start_up_errors_are_clear(tmp_path: Path, agent_bin: Path) -> None:
    config = tmp_path / "agent.toml"
    config.write_text('pods_dir = "/var/log/pods"\nbatch_bytes = "lots"\n')
    result = subprocess.run([str(agent_bin), "--config", str(config)], capture_output=True, text=True)
    assert result.returncode == 2
    assert "--batch-bytes" in result.stderr and "lots" in result.stderr
    config.write_text("flush_intervall = 1\n")
    result = subprocess.run([str(agent_bin), "--config", str(config)], capture_output=True, text=True)
    assert result.returncode == 2 and "agent.toml" in result.stderr and "flush_intervall" in result.stderr
    result = subprocess.run([str(agent_bin), "--state-dir", str(tmp_path / "s"), "--redact-pattern", "x=("], capture_output=True, text=True)
    assert result.returncode == 2 and "--redact-pattern" in result.stderr
    assert "Traceback" not in result.stderr and "panicked" not in result.stderr


def test_python_adapter_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UserError) as caught:
        run_agent_once(tmp_path / "missing", tmp_path / "s", tmp_path / "o")
    assert "--pods-dir" in caught.value.render()
    monkeypatch.setenv("KUBETRAINER_AGENT_BIN", str(tmp_path / "nope"))
    with pytest.raises(Unavailable):
        run_agent_once(tmp_path, tmp_path / "s", tmp_path / "o")
