"""A BERT encoder's forward pass in NumPy, for embedding one question without importing torch.

`kubetrainer ask` embeds one short question per call, and importing torch and transformers
for it cost most of the call. A BERT-family sentence model (the bundled all-MiniLM-L6-v2 is
one) is a few matrix products per layer, so its weights (safetensors) and its tokenizer
(`tokenizer.json`, the Rust tokenizers library) run here directly; tests hold the vectors
equal to sentence-transformers'. Bulk embedding (indexing) stays on torch, which batches.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def supports(directory: Path) -> bool:
    """A plain BERT with absolute positions, gelu and a fast tokenizer file: what this module runs."""
    try:
        config = json.loads((directory / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return (
        config.get("model_type") == "bert"
        and config.get("hidden_act") == "gelu"
        and config.get("position_embedding_type", "absolute") == "absolute"
        and (directory / "tokenizer.json").is_file()
        and (directory / "model.safetensors").is_file()
    )


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + eps) * weight + bias


def _gelu(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf

    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


class NumpyBert:
    """Mean- or CLS-pooled, L2-normalised sentence vectors, one text at a time (no padding needed)."""

    def __init__(self, directory: Path, pooling: str, max_length: int | None, lower: bool) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        config = json.loads((directory / "config.json").read_text())
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.dim = int(config["hidden_size"])
        self.pooling = pooling
        self.lower = lower
        weights = load_file(str(directory / "model.safetensors"))
        self.w = {key.removeprefix("bert."): value.astype(np.float32) for key, value in weights.items()}
        self.counter = Tokenizer.from_file(str(directory / "tokenizer.json"))  # counts what was sent, untruncated
        self.counter.no_padding()
        self.counter.no_truncation()
        self.tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=max_length or int(config.get("max_position_embeddings", 512)))

    def _prepared(self, text: str) -> str:
        text = str(text).strip()  # as sentence-transformers' Transformer module does
        return text.lower() if self.lower else text

    def _ids(self, text: str) -> list[int]:
        return self.tokenizer.encode(self._prepared(text)).ids

    def _layer(self, x: np.ndarray, index: int) -> np.ndarray:
        w = self.w
        prefix = f"encoder.layer.{index}."
        tokens, width = x.shape
        head = width // self.heads

        def project(name: str) -> np.ndarray:
            out = x @ w[f"{prefix}attention.self.{name}.weight"].T + w[f"{prefix}attention.self.{name}.bias"]
            return out.reshape(tokens, self.heads, head).transpose(1, 0, 2)

        query, key, value = project("query"), project("key"), project("value")
        scores = query @ key.transpose(0, 2, 1) / np.sqrt(head)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        context = (scores / scores.sum(-1, keepdims=True)) @ value
        context = context.transpose(1, 0, 2).reshape(tokens, width)
        attended = context @ w[f"{prefix}attention.output.dense.weight"].T + w[f"{prefix}attention.output.dense.bias"]
        x = _layer_norm(attended + x, w[f"{prefix}attention.output.LayerNorm.weight"],
                        w[f"{prefix}attention.output.LayerNorm.bias"], self.eps)
        inner = _gelu(x @ w[f"{prefix}intermediate.dense.weight"].T + w[f"{prefix}intermediate.dense.bias"])
        out = inner @ w[f"{prefix}output.dense.weight"].T + w[f"{prefix}output.dense.bias"]
        return _layer_norm(out + x, w[f"{prefix}output.LayerNorm.weight"], w[f"{prefix}output.LayerNorm.bias"], self.eps)

    def _vector(self, text: str) -> np.ndarray:
        w = self.w
        ids = np.array(self._ids(text))
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][: len(ids)]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps)
        for index in range(self.layers):
            x = self._layer(x, index)
        pooled = x[0] if self.pooling == "cls" else x.mean(0)
        return (pooled / max(float(np.linalg.norm(pooled)), 1e-12)).astype(np.float32)

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return np.stack([self._vector(text) for text in texts])

    def count_tokens(self, texts: Sequence[str]) -> int:
        return sum(len(self.counter.encode(self._prepared(text)).ids) for text in texts)
