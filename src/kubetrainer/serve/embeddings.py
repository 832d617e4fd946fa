"""`/v1/embeddings` with the bundled all-MiniLM-L6-v2, each text's vector cached by content.

The model is loaded on the first request (once per process),
so a server that never embeds never pays for it.
"""

from __future__ import annotations

import threading

import numpy as np

from kubetrainer.models.bundled import DEFAULT_EMBEDDING_ID, minilm_path
from kubetrainer.rag.sentence import SentenceModel, load_sentence_model
from kubetrainer.serve.cache import Cache, content_key
from kubetrainer.serve.metrics import ServeMetrics

_MODELS: dict[str, SentenceModel] = {}
_LOCK = threading.Lock()


def _sentence_model() -> SentenceModel:
    with _LOCK:
        if "minilm" not in _MODELS:
            _MODELS["minilm"] = load_sentence_model(minilm_path())
        return _MODELS["minilm"]


class EmbeddingService:
    """Vectors for texts, from the cache where possible and the model for the rest."""

    def __init__(self, cache: Cache, metrics: ServeMetrics) -> None:
        self.model_id = DEFAULT_EMBEDDING_ID
        self.cache = cache
        self.metrics = metrics

    def ids(self) -> list[str]:
        """Names a request may use: the Hub id and its short name."""
        return [self.model_id, self.model_id.rsplit("/", 1)[-1]]

    def embed(self, texts: list[str]) -> tuple[list[np.ndarray], int]:
        """One normalised float32 vector per text, and the number of tokens embedded."""
        model = _sentence_model()
        keys = [content_key("embedding", self.model_id, text) for text in texts]
        vectors: list[np.ndarray | None] = []
        for key in keys:
            value = self.cache.get(key)
            self.metrics.cache.labels("embedding", "hit" if value is not None else "miss").inc()
            vectors.append(np.frombuffer(value, dtype=np.float32) if value is not None else None)
        missing = [index for index, vector in enumerate(vectors) if vector is None]
        if missing:
            fresh = model.encode([texts[index] for index in missing])
            for index, vector in zip(missing, fresh):
                vectors[index] = vector
                self.cache.set(keys[index], vector.tobytes())
        tokens = model.count_tokens(texts)
        return [vector for vector in vectors if vector is not None], tokens
