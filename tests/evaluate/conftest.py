"""Tiny real models for the evaluation tests, built by the training tests' builders (tests/train/tiny.py).

The adapter is a real PEFT LoRA adapter saved to disk, with non-zero weights so that
it changes the outputs (a freshly initialised LoRA is a no-op).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.train.tiny import build_model, build_tokenizer


@pytest.fixture(scope="session")
def tiny_lm():
    tokenizer = build_tokenizer()
    return build_model(tokenizer).eval(), tokenizer


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory, tiny_lm) -> Path:
    model, tokenizer = tiny_lm
    path = tmp_path_factory.mktemp("tiny-llama")
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_adapter_dir(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    """A LoRA adapter on the tiny model with random (not zero) B matrices, saved like a training run's final/."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(1)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    path = tmp_path_factory.mktemp("tiny-adapter")
    get_peft_model(base, config).save_pretrained(path)
    return path
