"""`kubetrainer harvest --local` before the agent is built: the Python CRI reader, and one note.

`make run` builds the node agent in the background (scripts/setup.core.d/20-agent.sh), so the
quickstart's harvest can run before the binary exists.
"""

from __future__ import annotations

import fcntl
import json
import socket
from pathlib import Path

import jsonschema
import pytest

from kubetrainer.cli import main
from kubetrainer.records import iter_jsonl
from kubetrainer.sources import local_agent
from kubetrainer.sources.base import Problems

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "record.schema.json").read_text())
TOKEN = "ghp_" + "a1B2c3D4e5F6g7H8i9J0" * 2  # a GitHub token shape the redactor knows


@pytest.fixture
def no_agent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No agent binary (KUBETRAINER_AGENT_BIN names a missing file), an empty cache; the cache dir."""
    monkeypatch.setenv("KUBETRAINER_AGENT_BIN", str(tmp_path / "not-built" / "kubetrainer-agent"))
    monkeypatch.setenv("KUBETRAINER_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("NODE_NAME", raising=False)
    (tmp_path / "cache").mkdir()
    return tmp_path / "cache"


def pods_tree(root: Path) -> Path:
    container = root / "default_web-0_0123abcd-0000-4000-8000-000000000001" / "app"
    container.mkdir(parents=True)
    (container / "0.log").write_text(
        "2026-11-29T04:31:07.000000001Z stdout F starting web server on :8080\n"
        f"2026-11-29T04:31:08.000000002Z stderr F login with token {TOKEN} failed\n"
    )
    return root


def harvest_local(home: Path, capsys: pytest.CaptureFixture[str]) -> tuple[dict, str]:
    capsys.readouterr()
    assert main(["--home", str(home), "harvest", "--local", "--name", "local", "--json"]) == 0
    captured = capsys.readouterr()
    return json.loads(captured.out), " ".join(captured.err.split())  # stdout is the JSON alone


def test_without_the_agent_harvest_local_reads_pods_with_the_python_reader(
    no_agent: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pods = pods_tree(tmp_path / "pods")
    monkeypatch.setattr(local_agent, "PODS_DIR", pods)

    summary, err = harvest_local(tmp_path / "home", capsys)

    records = list(iter_jsonl(tmp_path / "home" / "harvest" / "local.jsonl"))
    assert summary["records"] == len(records) == 2 and summary["by_kind"] == {"log": 2}
    assert summary["redactions"] >= 1 and TOKEN not in json.dumps(records)
    for record in records:
        jsonschema.validate(record, SCHEMA)
    assert {r["node"] for r in records} == {socket.gethostname()}  # the node name the agent would give
    assert {(r["namespace"], r["pod"], r["container"]) for r in records} == {("default", "web-0", "app")}
    assert f"read {pods} with the Python reader" in err and "node/GPU telemetry left out" in err
    assert "KUBETRAINER_AGENT_BIN is not an executable file" in err  # no build running: says why


def test_the_note_says_a_running_build_and_where_its_log_is(
    no_agent: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(local_agent, "PODS_DIR", pods_tree(tmp_path / "pods"))
    with (no_agent / local_agent.BUILD_LOCK).open("w") as lock:  # what 20-agent.sh holds while it builds
        fcntl.flock(lock, fcntl.LOCK_EX)
        assert local_agent.build_running()
        summary, err = harvest_local(tmp_path / "home", capsys)
    assert not local_agent.build_running()
    assert summary["records"] == 2
    assert f"the node agent is still being built (log: {no_agent / 'agent-build.log'})" in err
    assert "node/GPU telemetry left out this time" in err


def test_without_the_agent_or_pod_logs_nothing_is_read_locally(
    no_agent: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(local_agent, "PODS_DIR", tmp_path / "no-such-dir")
    summary, err = harvest_local(tmp_path / "home", capsys)
    assert summary["records"] == 0
    assert "nothing was read locally this time" in err and "telemetry needs the agent" in err


def test_local_records_uses_the_agent_when_it_is_built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The choice itself, without running anything: a built binary means the agent runs (here a fake one)."""
    fake = tmp_path / "kubetrainer-agent"
    fake.write_text('#!/bin/sh\nwhile [ "$1" != --output ]; do shift; done\nmkdir -p "${2#file:}"\n')
    fake.chmod(0o755)
    monkeypatch.setenv("KUBETRAINER_AGENT_BIN", str(fake))
    records, note = local_agent.local_records(tmp_path / "work", Problems(), pods_dir=pods_tree(tmp_path / "pods"))
    assert note is None and list(records) == []  # the fake agent wrote nothing; the Python reader did not run
