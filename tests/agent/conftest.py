"""Helpers for running the real `kubetrainer-agent` release binary against real files."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kubetrainer.sources.local_agent import agent_binary

TS = "2026-11-29T04:31:07.{:09d}Z"


@pytest.fixture(scope="session")
def agent_bin() -> Path:
    """The binary scripts/setup.core.d/20-agent.sh built (the tests fail, never skip, without it)."""
    return agent_binary()


def cri_line(seq: int, text: str, stream: str = "stdout", tag: str = "F") -> str:
    return f"{TS.format(seq % 1_000_000_000)} {stream} {tag} {text}\n"


def container_dir(pods: Path, namespace: str = "default", pod: str = "web-0", uid: str = "uid-1", container: str = "app") -> Path:
    path = pods / f"{namespace}_{pod}_{uid}" / container
    path.mkdir(parents=True, exist_ok=True)
    return path


def output_lines(out_dir: Path, include_partial: bool = True) -> list[str]:
    """Every JSON line the file sink wrote (published files, and the one being filled)."""
    files = sorted(out_dir.glob("*.jsonl"))
    if include_partial:
        files += sorted(out_dir.glob(".current.jsonl.partial"))
    lines: list[str] = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:  # renamed while we looked
            continue
        lines += [line for line in text.splitlines() if line]
    return lines


def output_records(out_dir: Path, include_partial: bool = False) -> list[dict]:
    return [json.loads(line) for line in output_lines(out_dir, include_partial)]


def seqs_seen(out_dir: Path, prefix: str = "seq=") -> list[int]:
    """Sequence numbers of `seq=N` lines in the output (complete JSON lines only)."""
    found = []
    for line in output_lines(out_dir):
        try:
            message = json.loads(line)["message"]
        except ValueError:
            continue
        if message.startswith(prefix):
            found.append(int(message[len(prefix) :].split()[0]))
    return found


def run_measured(command: list[str]) -> int:
    """Run `command` to completion and return its own peak RSS in KiB.

    A fresh Python parent is used so that only this command counts in RUSAGE_CHILDREN.
    """
    probe = (
        "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    result = subprocess.run([sys.executable, "-c", probe, *command], capture_output=True, text=True, check=True)
    return int(result.stdout.split()[-1])


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Agent:
    """A running agent daemon; `stop()` sends SIGTERM and waits for a clean exit."""

    def __init__(self, binary: Path, args: list[str], log: Path) -> None:
        self.log = log
        self.handle = log.open("ab")
        self.process = subprocess.Popen([str(binary), *args], stdout=self.handle, stderr=subprocess.STDOUT)

    def stop(self, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=timeout)
        self.handle.close()
        return code

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()
        self.handle.close()


@pytest.fixture
def run_agent(agent_bin: Path, tmp_path: Path) -> Iterator[Callable[..., Agent]]:
    started: list[Agent] = []

    def start(*args: str) -> Agent:
        agent = Agent(agent_bin, ["--kmsg", "none", "--gpu", "off", *args], tmp_path / "agent.log")
        started.append(agent)
        return agent

    yield start
    for agent in started:
        if agent.process.poll() is None:
            agent.kill()
