"""Runs: `latest` moves only when a run saves or finishes; failed runs never hide a good one; `runs list|rm`."""

from __future__ import annotations

import json

import pytest

from kubetrainer.cli import main
from kubetrainer.config import Settings
from kubetrainer.train import engine, paths
from kubetrainer.train.config import TrainConfig
from tests.train.tiny import qa_records, write_jsonl


def _config(tmp_path, model_dir, **overrides) -> TrainConfig:
    values = dict(dataset=write_jsonl(tmp_path / "qa.jsonl", qa_records(16)), model=str(model_dir), max_steps=2,
                  batch_tokens=200, warmup_steps=0, eval_every=2, save_every=100)
    return TrainConfig(**(values | overrides))


def _runs(home, capsys) -> list[dict]:
    capsys.readouterr()
    assert main(["--home", str(home), "runs", "list", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_failed_train_leaves_latest_and_the_runs_alone(tmp_path, tiny_model_dir, capsys):
    home = tmp_path / "home"
    good = engine.run(_config(tmp_path, tiny_model_dir), Settings(home=home))
    runs_dir = home / "runs"
    missing_run = ["--dataset", str(tmp_path / "qa.jsonl"), "--resume", "--run-id", "nosuchrun"]
    for argv in (["--dataset", "/nonexistent.json"], missing_run):
        assert main(["--home", str(home), "train", "--model", str(tiny_model_dir), *argv]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "/nonexistent.json" in err and "--run-id: no run named 'nosuchrun' to resume" in err
    assert paths.latest_run(runs_dir) == good.run_dir
    assert sorted(path.name for path in runs_dir.iterdir()) == sorted([good.run_dir.name, "latest"])
    assert paths.resolve_checkpoint("./checkpoints/latest", runs_dir) == good.output_dir
    [listed] = _runs(home, capsys)
    assert listed["run_id"] == good.run_dir.name and listed["state"] == "finished"
    assert listed["steps"] == 2 and listed["latest"] and listed["started"]


def test_a_run_that_fails_after_a_step_is_marked_failed_and_never_becomes_latest(tmp_path, tiny_model_dir, capsys):
    home = tmp_path / "home"

    def crash(progress):
        raise RuntimeError("the GPU fell off the bus")

    with pytest.raises(RuntimeError):
        engine.run(_config(tmp_path, tiny_model_dir), Settings(home=home), on_step=crash)
    [failed] = _runs(home, capsys)
    assert failed["state"] == "failed" and failed["steps"] == 1 and not failed["latest"]
    assert paths.latest_run(home / "runs") is None


def test_rm_refuses_latest_without_force_and_then_moves_it(tmp_path, tiny_model_dir, capsys):
    home = tmp_path / "home"
    older = engine.run(_config(tmp_path, tiny_model_dir), Settings(home=home))
    newer = engine.run(_config(tmp_path, tiny_model_dir), Settings(home=home))
    assert older.run_dir != newer.run_dir and paths.latest_run(home / "runs") == newer.run_dir
    assert main(["--home", str(home), "runs", "rm", newer.run_dir.name]) == 2
    assert "is the latest run" in capsys.readouterr().err and newer.run_dir.is_dir()
    assert main(["--home", str(home), "runs", "rm", newer.run_dir.name, "--force"]) == 0
    assert not newer.run_dir.exists() and paths.latest_run(home / "runs") == older.run_dir
    assert main(["--home", str(home), "runs", "rm", "nosuchrun"]) == 2
    assert main(["--home", str(home), "runs", "rm", older.run_dir.name, "--force"]) == 0
    assert _runs(home, capsys) == [] and not (home / "runs" / "latest").exists()
