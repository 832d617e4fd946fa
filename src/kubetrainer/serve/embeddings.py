"""`/v1/embeddings` with the bundled all-MiniLM-L6-v2, each text's vector cached by content.

The sentence-transformers model is loaded on the first request (once per process),
so a server that never embeds never pays for it.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from kubetrainer.serve.cache import Cache, content_key
from kubetrainer.serve.metrics import ServeMetrics

_MODELS: dict[str, Any] = {}
_LOCK = threading.Lock()


def _sentence_model() -> Any:
    from kubetrainer.models.bundled import minilm_path

    with _LOCK:
        if "minilm" not in _MODELS:
            from sentence_transformers import SentenceTransformer

            _MODELS["minilm"] = SentenceTransformer(str(minilm_path()), device="cpu")
        return _MODELS["minilm"]


class EmbeddingService:
    """Vectors for texts, from the cache where possible and the model for the rest."""

    def __init__(self, cache: Cache, metrics: ServeMetrics) -> None:
        from kubetrainer.models.bundled import DEFAULT_EMBEDDING_ID

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
            fresh = model.encode([texts[index] for index in missing], normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=False).astype(np.float32)
            for index, vector in zip(missing, fresh):
                vectors[index] = vector
                self.cache.set(keys[index], vector.tobytes())
        tokens = sum(len(ids) for ids in model.tokenizer(texts)["input_ids"])
        return [vector for vector in vectors if vector is not None], tokens
