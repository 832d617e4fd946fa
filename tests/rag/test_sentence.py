"""Loading sentence-embedding models: the plain layout runs on transformers alone with the same vectors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from kubetrainer.models.bundled import minilm_path
from kubetrainer.rag.bert_numpy import NumpyBert
from kubetrainer.rag.sentence import (
    PooledEncoder,
    SentenceTransformersModel,
    load_question_model,
    load_sentence_model,
    pooling_of,
)

from .conftest import make_tiny_model

TEXTS = ["  Why is the token-service crashing?  ", "x", "OOMKilled exit code 137 " * 120, "Node gpu-3 is NotReady"]


def _same_as_sentence_transformers(directory: Path) -> None:
    ours = load_sentence_model(directory)
    theirs = SentenceTransformersModel(str(directory), "cpu")
    assert isinstance(ours, PooledEncoder) and ours.dim == theirs.dim
    assert np.abs(ours.encode(TEXTS, batch_size=3) - theirs.encode(TEXTS, batch_size=3)).max() < 1e-5
    assert ours.count_tokens(TEXTS) == theirs.count_tokens(TEXTS)
    question = load_question_model(directory)
    assert isinstance(question, NumpyBert) and question.dim == theirs.dim
    assert np.abs(question.encode(TEXTS) - theirs.encode(TEXTS)).max() < 1e-5
    assert question.count_tokens(TEXTS) == theirs.count_tokens(TEXTS)


def test_the_bundled_model_gives_sentence_transformers_vectors_without_it() -> None:
    assert pooling_of(minilm_path()) == "mean"  # the pre-v6 layout, truncating at its 256 tokens
    _same_as_sentence_transformers(minilm_path())


def test_a_model_saved_by_current_sentence_transformers_is_read_too(tmp_path: Path) -> None:
    _same_as_sentence_transformers(make_tiny_model(tmp_path))


def test_other_layouts_and_hub_names_go_through_sentence_transformers(tmp_path: Path) -> None:
    directory = make_tiny_model(tmp_path)
    config = directory / "1_Pooling" / "config.json"
    config.write_text(config.read_text().replace('"mean"', '"max"'))
    assert pooling_of(directory) is None
    assert isinstance(load_sentence_model(directory), SentenceTransformersModel)
    assert pooling_of(tmp_path / "nothing-here") is None


def test_a_question_is_embedded_without_importing_torch() -> None:
    """What `kubetrainer ask` pays per call: neither torch, transformers nor sentence-transformers is imported."""
    code = ("import sys; from kubetrainer.rag.embed import Embedder; Embedder().embed_query('why'); "
            "print(*(name in sys.modules for name in ('torch', 'transformers', 'sentence_transformers')))")
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert ran.stdout.split() == ["False", "False", "False"]
