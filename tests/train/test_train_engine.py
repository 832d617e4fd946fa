"""The engine end to end on a tiny random Llama: LoRA learns, full fine-tuning works, resume is exact."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from kubetrainer.config import Settings
from kubetrainer.errors import Unavailable
from kubetrainer.train import engine, paths, runs
from kubetrainer.train.config import TrainConfig
from tests.train.tiny import qa_records, write_jsonl


def _config(tmp_path, model_dir, **overrides) -> TrainConfig:
    dataset = write_jsonl(tmp_path / "qa.jsonl", qa_records(48))
    values = dict(
        dataset=dataset, model=str(model_dir), method="lora", lora_rank=8, lora_alpha=16, learning_rate=3e-2,
        warmup_steps=2, max_steps=16, batch_tokens=200, eval_every=8, save_every=4, seed=7, lora_dropout=0.1,
    )
    values.update(overrides)
    return TrainConfig(**values)


def test_lora_lowers_eval_loss_and_writes_the_run(tmp_path, tiny_model_dir):
    settings = Settings(home=tmp_path / "home")
    result = engine.run(_config(tmp_path, tiny_model_dir), settings)
    assert result.dataset_format == "chat"
    assert result.last_eval_loss < result.first_eval_loss - 0.1
    run_dir = result.run_dir
    assert json.loads((run_dir / "config.json").read_text())["method"] == "lora"
    assert (run_dir / "loss.png").stat().st_size > 1000
    assert [row["step"] for row in runs.read_metrics(run_dir) if "loss" in row] == list(range(1, 17))
    assert (result.output_dir / "adapter_config.json").is_file()
    assert [p.name for p in paths.checkpoints(run_dir)] == ["step-000012", "step-000016"]
    assert paths.resolve_checkpoint(tmp_path / "checkpoints" / "latest", settings.dir("runs")) == result.output_dir


def test_full_fine_tuning_updates_every_weight(tmp_path, tiny_model_dir):
    settings = Settings(home=tmp_path / "home")
    result = engine.run(_config(tmp_path, tiny_model_dir, method="full", learning_rate=1e-3, max_steps=4), settings)
    before = load_file(tiny_model_dir / "model.safetensors")
    after = load_file(result.output_dir / "model.safetensors")
    assert set(before) == set(after)
    assert all(not torch.equal(before[name], after[name]) for name in before if "norm" not in name)
    assert result.last_eval_loss < result.first_eval_loss


def test_interrupted_and_resumed_run_matches_an_uninterrupted_one(tmp_path, tiny_model_dir):
    straight = engine.run(_config(tmp_path, tiny_model_dir, save_every=5), Settings(home=tmp_path / "a"))

    def interrupt(progress):
        if progress.step == 7:
            raise KeyboardInterrupt

    settings = Settings(home=tmp_path / "b")
    with pytest.raises(KeyboardInterrupt):
        engine.run(_config(tmp_path, tiny_model_dir, save_every=5), settings, on_step=interrupt)
    assert paths.latest_checkpoint(paths.latest_run(settings.dir("runs"))).name == "step-000007"
    resumed = engine.run(_config(tmp_path, tiny_model_dir, save_every=5), settings, resume=True)

    first, second = (load_file(r.output_dir / "adapter_model.safetensors") for r in (straight, resumed))
    assert first.keys() == second.keys()
    for name in first:
        torch.testing.assert_close(first[name], second[name], rtol=0, atol=0)
    losses = [[row["loss"] for row in runs.read_metrics(r.run_dir) if "loss" in row] for r in (straight, resumed)]
    assert losses[0] == losses[1]


def test_qlora_without_cuda_says_why_and_suggests_lora(tmp_path, tiny_model_dir):
    if torch.cuda.is_available():
        pytest.fail("this test documents the CPU path; the GPU path is bench/gpu/check_train.py")
    with pytest.raises(Unavailable) as caught:
        engine.run(_config(tmp_path, tiny_model_dir, method="qlora"), Settings(home=tmp_path / "home"))
    assert "CUDA" in caught.value.what and "--method lora" in caught.value.hint
