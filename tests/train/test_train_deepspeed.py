"""`--deepspeed zero2|zero3` on the CPU (DeepSpeed's CPU accelerator, gloo): the same steps as one plain process."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from kubetrainer.config import Settings
from kubetrainer.errors import Unavailable
from kubetrainer.train import engine, launch, paths, runs, zero
from tests.train.test_train_distributed import TOLERANCE, _config, _losses


def _final_weights(run_dir):
    final = run_dir / "final"
    name = "adapter_model.safetensors" if (final / "adapter_model.safetensors").exists() else "model.safetensors"
    return load_file(final / name)


@pytest.mark.parametrize(("method", "stage"), [("lora", "zero3"), ("full", "zero2")])
def test_two_zero_ranks_match_one_plain_process(tmp_path, tiny_model_dir, method, stage):
    single = engine.run(_config(tmp_path, tiny_model_dir, method=method, grad_accum=2), Settings(home=tmp_path / "one"))
    run_dir = launch.run_distributed(
        _config(tmp_path, tiny_model_dir, method=method, grad_accum=1, deepspeed=stage, save_every=3), Settings(home=tmp_path / "zero"), nproc=2, resume=False
    )
    assert (paths.checkpoint_dir(run_dir, 3) / zero.STATE_DIR).is_dir(), "DeepSpeed's own shards: the run really used it"
    assert _losses(run_dir) == pytest.approx(_losses(single.run_dir), abs=TOLERANCE)
    expected, written = _final_weights(single.run_dir), _final_weights(run_dir)
    assert written.keys() == expected.keys()
    for name in expected:
        torch.testing.assert_close(written[name], expected[name], rtol=1e-3, atol=1e-4)


def test_zero3_resumes_from_its_own_checkpoint_to_the_same_end(tmp_path, tiny_model_dir):
    settings = Settings(home=tmp_path / "home")
    config = _config(tmp_path, tiny_model_dir, max_steps=4, save_every=2, grad_accum=1, deepspeed="zero3")
    run_dir = launch.run_distributed(config, settings, nproc=2, resume=False)
    straight, straight_losses = _final_weights(run_dir), _losses(run_dir)
    assert (paths.checkpoint_dir(run_dir, 2) / zero.STATE_DIR).is_dir()
    # As if killed right after step 2's checkpoint: the later checkpoint and the output never got written.
    shutil.rmtree(paths.checkpoint_dir(run_dir, 4))
    shutil.rmtree(run_dir / "final")
    launch.run_distributed(config, settings, nproc=2, resume=True)
    resumed = _final_weights(run_dir)
    for name in straight:
        torch.testing.assert_close(resumed[name], straight[name], rtol=0, atol=1e-6)
    assert _losses(run_dir) == pytest.approx(straight_losses, abs=1e-6)
    assert [row["step"] for row in runs.read_metrics(run_dir) if "loss" in row] == [1, 2, 3, 4]


def test_zero_config_follows_the_run():
    config = zero.config_for("zero3", grad_accum=4, dtype=torch.bfloat16, max_grad_norm=0.5)
    assert config["zero_optimization"]["stage"] == 3 and config["gradient_accumulation_steps"] == 4
    assert config["bf16"]["enabled"] and not config["fp16"]["enabled"] and config["gradient_clipping"] == 0.5
    assert zero.config_for("zero2", grad_accum=1, dtype=torch.float32, max_grad_norm=1.0)["zero_optimization"]["stage"] == 2


def test_missing_deepspeed_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "deepspeed", None)
    with pytest.raises(Unavailable, match="DeepSpeed") as raised:
        zero.require()
    assert "--fsdp" in raised.value.hint


def test_cli_deepspeed_alone_runs_under_torchrun(tmp_path, tiny_model_dir, capfd):
    """`kubetrainer train --deepspeed zero2` without --nproc: one rank, launched through torchrun;
    stdout (at the file-descriptor level, where the ranks write too) holds only the JSON result."""
    from kubetrainer.cli import main
    from tests.train.tiny import qa_records, write_jsonl

    dataset = write_jsonl(tmp_path / "qa.jsonl", qa_records(20))
    code = main(["--home", str(tmp_path / "home"), "train", "--dataset", str(dataset), "--model", str(tiny_model_dir),
                 "--deepspeed", "zero2", "--max-steps", "2", "--batch-tokens", "120", "--save-every", "2", "--json"])
    assert code == 0
    summary = json.loads(capfd.readouterr().out)
    run_dir = Path(summary["run_dir"])
    assert (paths.checkpoint_dir(run_dir, 2) / zero.STATE_DIR).is_dir() and (run_dir / "final").is_dir()
    assert [row["step"] for row in summary["metrics"]] == [2]
