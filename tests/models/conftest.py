"""Fixtures: tiny real models built from a config (random weights), a real word-level
tokenizer, and the bundled default converted once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

WORDS = "the pod node gpu memory error crash loop back off image pull restart kubelet".split()


def save_tiny_tokenizer(out_dir: Path) -> None:
    """A real (fast) word-level tokenizer over a small vocabulary, saved like any HF tokenizer."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = ["<unk>", "<s>", "</s>"]
    vocab = {token: index for index, token in enumerate(specials + WORDS)}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token="<unk>", bos_token="<s>", eos_token="</s>"
    )
    tokenizer.save_pretrained(out_dir)


def tiny_llama_config(**overrides: int):
    from transformers import LlamaConfig

    shape = {"vocab_size": 64, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2}
    values = {**shape, "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 128}
    values.update(overrides)
    return LlamaConfig(**values)


def save_tiny_llama(out_dir: Path) -> Path:
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(tiny_llama_config())
    model.save_pretrained(out_dir)
    save_tiny_tokenizer(out_dir)
    return out_dir


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def converted_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models/ dir holding the bundled default, converted from its GGUF once for the session."""
    from kubetrainer.models.bundled import ensure_default_llm

    models_dir = tmp_path_factory.mktemp("home") / "models"
    ensure_default_llm(models_dir)
    return models_dir
