"""scripts/setup.core.d/20-agent.sh: `make run` builds the agent in the background, `make setup-test` waits.

The script runs on a copy of itself in a small fake repository (so it never touches this
checkout's .venv), with an empty KUBETRAINER_CACHE and a fake `cargo` that writes the binary
once the test lets it (a gate file), so each step is observed while the build is running.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

FAKE_CARGO = """#!/bin/sh
# What 20-agent.sh runs: cargo build --release ... with CARGO_TARGET_DIR set.
echo "$$" >> "$CALLS"
[ -z "$FAIL" ] || { echo "error: could not compile kubetrainer-agent" >&2; exit 101; }
i=0
while [ ! -e "$GATE" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
mkdir -p "$CARGO_TARGET_DIR/release"
printf '#!/bin/sh\\necho fake agent\\n' > "$CARGO_TARGET_DIR/release/kubetrainer-agent"
chmod +x "$CARGO_TARGET_DIR/release/kubetrainer-agent"
echo "Finished release [optimized] target(s)"
"""


def fake_repo(root: Path) -> Path:
    """The files 20-agent.sh reads (scripts, agent sources, redaction vectors) and a .venv/bin."""
    for name in ("scripts/lib.sh", "scripts/setup.core.d/20-agent.sh"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, root / name)
    (root / "cluster_agent" / "src").mkdir(parents=True)
    for name in ("Cargo.toml", "Cargo.lock"):
        (root / "cluster_agent" / name).write_text(f"# {name}\n")
    (root / "cluster_agent" / "src" / "main.rs").write_text("fn main() {}\n")
    (root / "schemas").mkdir()
    (root / "schemas" / "redaction-vectors.json").write_text("[]\n")
    (root / ".venv" / "bin").mkdir(parents=True)
    return root / "scripts" / "setup.core.d" / "20-agent.sh"


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.05)


class Setup:
    """20-agent.sh in a fake repository, with its own cache and a fake cargo that waits for `gate`."""

    def __init__(self, tmp_path: Path) -> None:
        self.script = fake_repo(tmp_path / "repo")
        cache, fake_bin = tmp_path / "cache", tmp_path / "bin"
        self.gate, self.calls, self.log = tmp_path / "gate", tmp_path / "calls", cache / "agent-build.log"
        self.binary = cache / "cargo-target" / "agent" / "release" / "kubetrainer-agent"
        self.link = tmp_path / "repo" / ".venv" / "bin" / "kubetrainer-agent"
        fake_bin.mkdir()
        (fake_bin / "cargo").write_text(FAKE_CARGO)
        (fake_bin / "cargo").chmod(0o755)
        # HOME elsewhere: the script puts ~/.cargo/bin first on PATH.
        self.env = {**os.environ, "HOME": str(tmp_path / "home"), "KUBETRAINER_CACHE": str(cache),
                    "GATE": str(self.gate), "CALLS": str(self.calls), "PATH": f"{fake_bin}:/usr/bin:/bin"}

    def start(self, mode: str, **env: str) -> subprocess.Popen:
        return subprocess.Popen(["bash", str(self.script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**self.env, "KUBETRAINER_AGENT_BUILD": mode, **env})

    def run(self, mode: str, **env: str) -> str:
        """Its stdout; fails on a non-zero exit."""
        process = self.start(mode, **env)
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        return out

    def builds(self) -> int:
        return len(self.calls.read_text().split()) if self.calls.exists() else 0


def test_background_build_returns_at_once_and_setup_test_waits_for_it(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    try:
        first = setup.run("background")
        assert "in the background" in first and str(setup.log) in first
        assert len(first.strip().splitlines()) == 1, first
        wait_until(lambda: setup.builds() == 1, 30, "the background build to start cargo")
        assert not setup.binary.exists() and not setup.link.exists()  # returned before the build finished

        second = setup.run("background")
        assert "already being built" in second and str(setup.log) in second

        waiting = setup.start("wait")
        time.sleep(1)
        assert waiting.poll() is None, "setup-test's agent step must wait for the running build"
        setup.gate.touch()
        out, err = waiting.communicate(timeout=60)
        assert waiting.returncode == 0, err
        assert "waiting for the build running in the background" in out and "up to date" in out
        assert setup.binary.is_file() and setup.link.is_symlink() and setup.link.resolve() == setup.binary.resolve()
        assert setup.builds() == 1  # one build for the three calls
        wait_until(lambda: "background build done" in setup.log.read_text(), 30, "the background build's last line")
        assert "Finished release" in setup.log.read_text()

        assert "up to date" in setup.run("background") and setup.builds() == 1
    finally:
        setup.gate.touch()  # never leave a fake build waiting


def test_wait_mode_builds_when_nothing_is_running(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    setup.gate.touch()
    built = setup.run("wait")
    assert "cargo build --release" in built and "linked as .venv/bin/kubetrainer-agent" in built
    assert setup.link.is_symlink() and setup.link.resolve() == setup.binary.resolve()
    assert "up to date" in setup.run("wait") and setup.builds() == 1


def test_a_failed_background_build_leaves_no_stamp_and_the_next_setup_retries(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    setup.gate.touch()
    assert "in the background" in setup.run("background", FAIL="1")
    wait_until(lambda: setup.log.exists() and "background build failed" in setup.log.read_text(), 30, "the failure")
    assert "could not compile" in setup.log.read_text()
    assert not setup.link.exists() and not (setup.binary.parent.parent / ".stamp-agent").exists()
    assert "linked as .venv/bin/kubetrainer-agent" in setup.run("wait") and setup.builds() == 2
