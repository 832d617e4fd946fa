"""Export: the merged model equals base + adapter, and the loader reads it back as a plain model."""

from __future__ import annotations

import json

import torch

from kubetrainer.cli import main
from kubetrainer.config import Settings
from kubetrainer.models.loader import load_causal_lm
from kubetrainer.train import engine
from kubetrainer.train.config import TrainConfig
from tests.train.tiny import qa_records, write_jsonl


def test_merge_round_trip_through_the_cli_and_the_loader(tmp_path, tiny_model_dir, capsys):
    home = tmp_path / "home"
    config = TrainConfig(
        dataset=write_jsonl(tmp_path / "qa.jsonl", qa_records(16)), model=str(tiny_model_dir), learning_rate=5e-2,
        max_steps=3, batch_tokens=200, warmup_steps=0, eval_every=3, lora_dropout=0.0,
    )
    result = engine.run(config, Settings(home=home))
    merged_dir, adapter_copy = tmp_path / "merged", tmp_path / "adapter"
    assert main(["--home", str(home), "export", "./checkpoints/latest", "--merge", "--out", str(merged_dir)]) == 0
    assert main(["--home", str(home), "export", str(result.run_dir), "--out", str(adapter_copy)]) == 0
    assert not (merged_dir / "adapter_config.json").exists()
    assert json.loads((adapter_copy / "adapter_config.json").read_text())["peft_type"] == "LORA"

    models_dir = home / "models"
    merged, _ = load_causal_lm(merged_dir, models_dir)
    adapted, tokenizer = load_causal_lm(result.output_dir, models_dir)
    base, _ = load_causal_lm(tiny_model_dir, models_dir)
    ids = torch.tensor([tokenizer("Why is db-0 pending?")["input_ids"]])
    with torch.no_grad():
        merged_logits, adapted_logits, base_logits = (m(input_ids=ids).logits for m in (merged, adapted, base))
    torch.testing.assert_close(merged_logits, adapted_logits, atol=1e-4, rtol=1e-4)
    assert not torch.allclose(merged_logits, base_logits, atol=1e-3)


def test_merging_a_full_model_is_a_clear_error(tmp_path, tiny_model_dir, capsys):
    assert main(["--home", str(tmp_path), "export", str(tiny_model_dir), "--merge", "--out", str(tmp_path / "o")]) == 2
    assert "--merge needs a LoRA adapter" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
