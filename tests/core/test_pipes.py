"""In a pipe or a file nothing is cut at 80 columns: table cells and one-line errors come out whole."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from kubetrainer.cli import main


def _kubetrainer(*args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "COLUMNS"}
    return subprocess.run([sys.executable, "-m", "kubetrainer", *args], capture_output=True, text=True, env=env, check=False)


def test_tables_and_errors_in_a_pipe_keep_their_full_width(tmp_path: Path) -> None:
    dump = tmp_path / "dump"
    assert main(["--home", str(tmp_path / "home"), "samples", "cluster", "--out", str(dump), "--size", "300"]) == 0
    shown = _kubetrainer("--home", str(tmp_path / "home"), "detect", "--from", str(dump), "--no-local")
    assert shown.returncode == 0, shown.stderr
    assert "…" not in shown.stdout
    assert "gpu-t4-notready-0" in shown.stdout and "node.kubernetes.io/unschedulable:NoSchedule" in shown.stdout
    deep = tmp_path / ("a-rather-long-directory-name-" * 4) / "taken"
    deep.parent.mkdir()
    deep.write_text("a file where the dump should go")
    failed = _kubetrainer("--home", str(tmp_path / "home"), "samples", "cluster", "--out", str(deep))
    assert failed.returncode == 2
    assert failed.stderr.splitlines()[0] == f"error: --out {deep}: is an existing file; expected a new or empty directory"
