"""`make setup` puts `kubetrainer-agent` into .venv/bin: the command the README shows."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_setup_links_the_built_agent_into_the_venv(agent_bin: Path) -> None:
    command = REPO / ".venv" / "bin" / "kubetrainer-agent"
    assert command.is_symlink(), "run `make setup`: scripts/setup.core.d/20-agent.sh links it"
    assert command.resolve() == agent_bin.resolve()  # the set-up build, so a rebuild is what runs
    helped = subprocess.run([str(command), "--help"], capture_output=True, text=True, timeout=60, check=False)
    assert helped.returncode == 0, helped.stderr
    assert "Usage: kubetrainer-agent" in helped.stdout
