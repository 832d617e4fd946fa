"""`kubetrainer eval ADAPTER` scores its base by switching the adapter off: that must equal loading the base anew.

Both sides go through `load_candidates`, as `kubetrainer eval` does: without --baseline the base
shares the tuned model's weights with the adapter disabled; with --baseline it is a second copy.
The adapter has random non-zero weights on the output head as well, because the tiny random
model's near-uniform outputs barely move under attention-only LoRA: an adapter left on then
shifts perplexity by about a fifth instead of a thousandth, far past any numerical noise.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kubetrainer.evaluate.dataset import load_eval_set
from kubetrainer.evaluate.run import EvalSettings, evaluate_variants
from kubetrainer.evaluate.stage import EvalRequest, load_candidates
from tests.train.tiny import qa_records, write_jsonl

SETTINGS = EvalSettings(window=32, stride=16)


@pytest.fixture(scope="module")
def adapter_dir(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    """A LoRA adapter on the tiny model's attention and output head, B random (PEFT's default would be zero)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(1)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "lm_head"], init_lora_weights=False)
    path = tmp_path_factory.mktemp("adapter-off-adapter")
    get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir), config).save_pretrained(path, save_embedding_layers=False)
    return path


@pytest.fixture(scope="module")
def scores(tmp_path_factory: pytest.TempPathFactory, adapter_dir: Path, tiny_model_dir: Path) -> dict:
    """{"ours": [base, tuned], "separate": [base, tuned]} on the same held-out set, with each side's candidates."""
    work = tmp_path_factory.mktemp("adapter-off")
    eval_set = load_eval_set(write_jsonl(work / "held.jsonl", qa_records(3)))
    runs = {}
    for side, baseline in (("ours", None), ("separate", str(tiny_model_dir))):
        request = EvalRequest(model=str(adapter_dir), baseline=baseline, device="cpu")
        candidates = load_candidates(request, adapter_dir, None, work / "models")
        runs[side] = (candidates, evaluate_variants(candidates, eval_set, SETTINGS))
    return runs


def test_ours_scores_the_base_on_the_tuned_weights(scores: dict) -> None:
    (base, tuned), _ = scores["ours"]
    assert base.model is tuned.model and base.shares_weights_with_tuned
    (separate_base, _), _ = scores["separate"]
    assert separate_base.model is not tuned.model and not hasattr(separate_base.model, "disable_adapter")


def test_adapter_off_equals_a_separately_loaded_base(scores: dict) -> None:
    _, (ours, _) = scores["ours"]
    _, (separate, _) = scores["separate"]
    assert ours.perplexity == pytest.approx(separate.perplexity, rel=1e-6)
    assert ours.qa == separate.qa and ours.qa["count"] == 3
    assert [answer.prediction for answer in ours.answers] == [answer.prediction for answer in separate.answers]


def test_the_adapter_changes_the_scores(scores: dict) -> None:
    _, (base, tuned) = scores["ours"]
    _, (_, separate_tuned) = scores["separate"]
    assert abs(tuned.perplexity["perplexity"] - base.perplexity["perplexity"]) > 0.05 * base.perplexity["perplexity"]
    assert tuned.perplexity == pytest.approx(separate_tuned.perplexity, rel=1e-6)
