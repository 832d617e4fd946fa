"""The main job end to end (`make run` runs it): a reduced quickstart on the embedded model, offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def quickstart(home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "160"}
    return subprocess.run([sys.executable, "-m", "kubetrainer", "--home", str(home), "quickstart", "--tiny"],
                          capture_output=True, text=True, env=env, timeout=1500)


@pytest.mark.timeout(1500)  # the whole main job on 2 shared cores: 6 minutes quiet, past 15 under load
def test_quickstart_runs_every_step_then_reuses_them(tmp_path: Path) -> None:
    first = quickstart(tmp_path)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    state = json.loads((tmp_path / "quickstart" / "state.json").read_text())
    assert list(state) == ["detect", "load", "harvest", "rag", "answers", "train", "eval"]
    for title in ("1. Detect", "3. Harvest", "4. RAG", "5. Answers", "6. Fine-tune", "7. Evaluate", "8. Next"):
        assert title in first.stdout
    assert "re-run alone: kubetrainer --home" in first.stderr
    # The printed answer states the sample incident's cause and cites its evidence; held-out scores come first.
    assert "(states the expected cause and cites its evidence)" in first.stdout
    assert first.stdout.index("held-out scenario:") < first.stdout.index("sample's own questions (in-sample):")
    assert (tmp_path / "runs" / "quickstart" / "eval-answers" / "report.json").is_file()
    assert (tmp_path / "runs" / "quickstart" / "final").is_dir()
    assert (tmp_path / "runs" / "quickstart" / "eval" / "report.json").is_file()
    assert "kubetrainer" in first.stdout and "serve --adapter" in first.stdout

    second = quickstart(tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    assert second.stderr.count("(cached;") == 7
