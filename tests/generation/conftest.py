"""A tiny random Llama whose tokenizer has no chat template (a base model), built from code in a second."""

from __future__ import annotations

from pathlib import Path

import pytest
from transformers import PreTrainedTokenizerFast

from tests.train.tiny import build_model, build_tokenizer


def bare_tokenizer() -> PreTrainedTokenizerFast:
    """The training tests' byte-level BPE tokenizer without its chat template."""
    tokenizer = build_tokenizer()
    tokenizer.chat_template = None
    return tokenizer


@pytest.fixture(scope="session")
def bare_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved random Llama + tokenizer directory with no chat template anywhere in it."""
    tokenizer = bare_tokenizer()
    directory = tmp_path_factory.mktemp("bare-llama")
    build_model(tokenizer).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    assert not (directory / "chat_template.jinja").exists()
    return directory


@pytest.fixture(scope="session")
def hf_engine(bare_model_dir: Path):
    """The transformers engine over the bare model, loaded as every stage loads it."""
    from kubetrainer.generation.hf import TransformersEngine
    from kubetrainer.models.loader import load_causal_lm

    model, tokenizer = load_causal_lm(bare_model_dir, bare_model_dir.parent)
    return TransformersEngine(model, tokenizer)
