"""`--out` never deletes what KubeTrainer did not write: every command with an --out shares one rule."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from kubetrainer import atomic
from kubetrainer.cli import main

SAMPLE = ["samples", "cluster", "--size", "300"]


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _victim(tmp_path: Path) -> Path:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "notes.txt").write_text("mine")
    return victim


@pytest.mark.parametrize("command", [
    [*SAMPLE, "--out"],
    ["eval", "--answers", "questions.jsonl", "--index", "idx", "--out"],
    ["export", "some-run", "--out"],
])
def test_an_out_directory_that_holds_files_or_is_a_file_is_refused(tmp_path, capsys, command):
    victim = _victim(tmp_path)
    a_file = tmp_path / "a-file"
    a_file.write_text("mine too")
    for target in (victim, a_file):
        assert main(["--home", str(tmp_path / "home"), *command, str(target)]) == 2
        err = " ".join(capsys.readouterr().err.split())
        assert f"--out {target}:" in err and "--force" in err and "internal error" not in err
    assert (victim / "notes.txt").read_text() == "mine" and a_file.read_text() == "mine too"
    assert sorted(path.name for path in victim.iterdir()) == ["notes.txt"]


def test_out_dot_is_refused_like_any_directory_that_holds_files(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(_victim(tmp_path))
    assert main(["--home", str(tmp_path / "home"), *SAMPLE, "--out", "."]) == 2
    assert "--out .: is a directory that already holds files" in " ".join(capsys.readouterr().err.split())


def test_force_replaces_only_what_the_command_writes_and_modes_follow_the_umask(tmp_path, umask_022):
    victim = _victim(tmp_path)
    (victim / "nodes.json").write_text("stale")
    assert main(["--home", str(tmp_path / "home"), *SAMPLE, "--out", str(victim), "--force"]) == 0
    assert (victim / "notes.txt").read_text() == "mine"
    assert (victim / "nodes.json").read_text().startswith("{") and (victim / "questions.jsonl").is_file()
    assert _mode(victim) == 0o755 and not [p for p in victim.iterdir() if p.name.startswith(".")]
    fresh = tmp_path / "fresh"
    assert main(["--home", str(tmp_path / "home"), *SAMPLE, "--out", str(fresh)]) == 0
    assert _mode(fresh) == 0o755 and _mode(fresh / "nodes.json") == 0o644


def test_force_on_a_file_writes_the_directory_in_its_place(tmp_path):
    a_file = tmp_path / "dump"
    a_file.write_text("old")
    assert main(["--home", str(tmp_path / "home"), *SAMPLE, "--out", str(a_file), "--force"]) == 0
    assert (a_file / "nodes.json").is_file()


def test_a_file_output_is_not_overwritten_without_force(tmp_path, capsys):
    out = tmp_path / "data.json"
    out.write_text("my data")
    source = tmp_path / "records.jsonl"
    source.write_text("")
    assert main(["--home", str(tmp_path / "home"), "dataset", "build", "--source", str(source), "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err and out.read_text() == "my data"
    assert main(["--home", str(tmp_path / "home"), "dataset", "build", "--source", str(source), "--out", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_entries_changes_nothing_when_the_build_fails(tmp_path):
    target = _victim(tmp_path)
    (target / "report.json").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic.entries(target) as staging:
            (staging / "report.json").write_text("half")
            raise RuntimeError("interrupted")
    assert sorted(p.name for p in target.iterdir()) == ["notes.txt", "report.json"]
    assert (target / "report.json").read_text() == "old"
    with atomic.entries(target) as staging:
        (staging / "notes.txt").mkdir()  # an entry of another type replaces the old one whole
    assert (target / "notes.txt").is_dir() and (target / "report.json").read_text() == "old"


def test_atomic_files_follow_the_umask(tmp_path, umask_022):
    atomic.write_text(tmp_path / "a.txt", "x")
    with atomic.directory(tmp_path / "d") as staging:
        (staging / "b").write_text("y")
    assert _mode(tmp_path / "a.txt") == 0o644 and _mode(tmp_path / "d") == 0o755
