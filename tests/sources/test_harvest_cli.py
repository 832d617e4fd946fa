"""`kubetrainer samples cluster` and `kubetrainer harvest` end to end through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubetrainer.cli import main
from kubetrainer.records import iter_jsonl


def test_samples_then_harvest_writes_redacted_records(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home, dump = tmp_path / "home", tmp_path / "dump"
    assert main(["--home", str(home), "samples", "cluster", "--out", str(dump), "--size", "400", "--seed", "2"]) == 0
    runbook = tmp_path / "runbook.md"
    runbook.write_text("# OOMKilled\nRaise the memory limit or reduce batch size.\n")
    capsys.readouterr()
    assert main(["--home", str(home), "harvest", "--from", str(dump), "--files", str(runbook), "--name", "s", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    out = home / "harvest" / "s.jsonl"
    records = list(iter_jsonl(out))
    assert summary["records"] == len(records) and summary["path"] == str(out)
    assert summary["redactions"] >= 9 and summary["by_kind"]["log"] > 400
    assert any(r["source"] == "file" for r in records)
    assert "ghp_" not in out.read_text() and "AKIA" not in out.read_text()
    assert main(["--home", str(home), "harvest", "--from", str(dump), "--name", "s", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["records"] == summary["records"] - 1


def test_harvest_without_sources_and_bad_size_are_user_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--home", str(tmp_path), "harvest"]) == 2
    assert main(["--home", str(tmp_path), "samples", "cluster", "--out", str(tmp_path / "x"), "--size", "enormous"]) == 2
    assert main(["--home", str(tmp_path), "harvest", "--from", str(tmp_path)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "nothing to harvest" in err and "--size" in err and "not a cluster-info dump" in err


def test_files_takes_several_paths_after_one_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The README's `--files PATH...`: `--files A B` used to stop at A and reject B."""
    paths = []
    for name in ("a.md", "b.md", "c.md"):
        paths.append(tmp_path / name)
        paths[-1].write_text(f"# {name}\nRestart the pod.\n")
    argv = ["--home", str(tmp_path), "harvest", "--files", str(paths[0]), str(paths[1]), "--files", str(paths[2])]
    assert main([*argv, "--json"]) == 0
    records = list(iter_jsonl(tmp_path / "harvest" / "harvest.jsonl"))
    assert {record["labels"]["path"] for record in records} == {str(path) for path in paths}
    assert main(["--home", str(tmp_path), "harvest", str(paths[0])]) == 2
    assert "paths given without --files" in capsys.readouterr().err
