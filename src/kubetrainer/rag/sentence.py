"""Loading a sentence-embedding model: the one place that decides how (the embedder and `/v1/embeddings` call it).

sentence-transformers takes seconds to import (it pulls in scikit-learn), and a one-question
`kubetrainer ask` would pay that on every call. The common layout (a transformer, then mean or
CLS pooling, then optional normalisation; the bundled all-MiniLM-L6-v2 is one) runs here on
transformers alone and gives the same vectors. Any other layout, and a Hub name, goes through
sentence-transformers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from kubetrainer.rag import bert_numpy

# modules.json names modules by class path (`sentence_transformers.models.Pooling` before v6,
# `sentence_transformers.sentence_transformer.modules.pooling.Pooling` since): the class name decides.
PLAIN_LAYOUTS = (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"])
POOLING_MODES = {"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "cls"}  # before v6; since: "pooling_mode"


class SentenceModel(Protocol):
    dim: int

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """(len(texts), dim) float32, L2-normalised."""

    def count_tokens(self, texts: Sequence[str]) -> int: ...


class PooledEncoder:
    """A transformer with mean or CLS pooling, run the way sentence-transformers runs it."""

    def __init__(self, directory: Path, pooling: str, device: str) -> None:
        from transformers import AutoModel, AutoTokenizer

        self.max_length, self.lower = truncation(directory)
        self.pooling = pooling
        self.device = device
        self.tokenizer = AutoTokenizer.from_pretrained(directory)
        self.model = AutoModel.from_pretrained(directory).to(device).eval()
        self.dim = int(self.model.config.hidden_size)

    def _prepared(self, texts: Sequence[str]) -> list[str]:
        stripped = [str(text).strip() for text in texts]  # as sentence-transformers' Transformer module does
        return [text.lower() for text in stripped] if self.lower else stripped

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        import torch

        out = []
        for start in range(0, len(texts), batch_size):
            batch = self.tokenizer(self._prepared(texts[start : start + batch_size]), padding=True, truncation=True,
                                   max_length=self.max_length, return_tensors="pt").to(self.device)
            with torch.inference_mode():
                hidden = self.model(**batch).last_hidden_state
            if self.pooling == "cls":
                pooled = hidden[:, 0]
            else:
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out.append(torch.nn.functional.normalize(pooled, p=2, dim=1).float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.dim), np.float32)

    def count_tokens(self, texts: Sequence[str]) -> int:
        return sum(len(ids) for ids in self.tokenizer(self._prepared(texts))["input_ids"])


class SentenceTransformersModel:
    """Any other sentence-transformers model (or a Hub name, downloaded by sentence-transformers)."""

    def __init__(self, source: str, device: str) -> None:
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(source, device=device)
        self.dim = int(self.model.get_embedding_dimension())

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        vectors = self.model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                                    convert_to_numpy=True, show_progress_bar=False)
        return vectors.astype(np.float32)

    def count_tokens(self, texts: Sequence[str]) -> int:
        return sum(len(ids) for ids in self.model.tokenizer(list(texts))["input_ids"])


def pooling_of(directory: Path) -> str | None:
    """"mean" or "cls" when a local model is transformer -> one pooling mode -> (normalise); None otherwise."""
    modules = _json(directory / "modules.json")
    if not isinstance(modules, list):
        return None
    classes = [str(module.get("type", "")).rpartition(".")[2] for module in modules]
    if classes not in PLAIN_LAYOUTS or modules[0].get("path"):
        return None
    config = _json(directory / modules[1].get("path", "") / "config.json") or {}
    if "pooling_mode" in config:
        return config["pooling_mode"] if config["pooling_mode"] in ("mean", "cls") else None
    modes = [mode for key, mode in POOLING_MODES.items() if config.get(key)]
    others = [key for key, value in config.items() if key.startswith("pooling_mode") and value and key not in POOLING_MODES]
    return modes[0] if len(modes) == 1 and not others else None


def truncation(directory: Path) -> tuple[int | None, bool]:
    """(max tokens, lower-case first) as sentence-transformers reads them: its own config, else the tokenizer's."""
    settings = _json(directory / "sentence_bert_config.json") or {}
    limit = settings.get("max_seq_length") or (_json(directory / "tokenizer_config.json") or {}).get("model_max_length")
    return (int(limit) if isinstance(limit, int | float) and limit < 1e6 else None), bool(settings.get("do_lower_case"))


def load_question_model(source: str | Path) -> SentenceModel:
    """For embedding a question or two: NumPy for a plain BERT layout (no torch import), else `load_sentence_model`."""
    directory = Path(source)
    pooling = pooling_of(directory) if directory.is_dir() else None
    if pooling is not None and bert_numpy.supports(directory):
        return bert_numpy.NumpyBert(directory, pooling, *truncation(directory))
    return load_sentence_model(source)


def load_sentence_model(source: str | Path, device: str = "cpu") -> SentenceModel:
    """The model at a local path or Hub name; OSError when it cannot be found or read."""
    directory = Path(source)
    pooling = pooling_of(directory) if directory.is_dir() else None
    if pooling is not None:
        return PooledEncoder(directory, pooling, device)
    return SentenceTransformersModel(str(source), device)


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
