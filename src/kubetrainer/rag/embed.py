"""Sentence embeddings with a content-hash cache, so re-indexing unchanged text costs nothing.

The default model is the bundled all-MiniLM-L6-v2 (offline); any
sentence-transformers model name or local path works. Vectors are L2-normalised
float32, so inner product is cosine similarity. The cache is one SQLite file per
model under `<home>/cache/embeddings/`; the model itself is only loaded when
some text is not cached yet.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from kubetrainer.errors import Unavailable
from kubetrainer.models.bundled import DEFAULT_EMBEDDING_ID, minilm_path
from kubetrainer.rag.sentence import SentenceModel, load_question_model, load_sentence_model

_SQL_BATCH = 500


def _key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()[:16]


class EmbeddingCache:
    """text hash -> vector, persisted in SQLite (transactional: a crash loses nothing already committed)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path)
        self.db.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vec BLOB NOT NULL)")

    def get_many(self, keys: Sequence[bytes]) -> dict[bytes, bytes]:
        found: dict[bytes, bytes] = {}
        for start in range(0, len(keys), _SQL_BATCH):
            batch = list(keys[start : start + _SQL_BATCH])
            marks = ",".join("?" * len(batch))
            found.update(self.db.execute(f"SELECT key, vec FROM vectors WHERE key IN ({marks})", batch).fetchall())
        return found

    def put_many(self, items: list[tuple[bytes, bytes]]) -> None:
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO vectors (key, vec) VALUES (?, ?)", items)


class Embedder:
    """Embeds texts in batches; `model` is None (bundled MiniLM), a sentence-transformers name, or a path."""

    def __init__(self, model: str | Path | None = None, cache_dir: Path | None = None, batch_size: int = 64, device: str | None = None) -> None:
        self.model_ref = model
        self.model_id = DEFAULT_EMBEDDING_ID if model is None else str(model)
        self.batch_size = batch_size
        self.device = device or "cpu"
        self._model: SentenceModel | None = None
        self._question_model: SentenceModel | None = None
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.model_id).strip("_")[-80:]
        self.cache = EmbeddingCache(cache_dir / "embeddings" / f"{slug}.sqlite") if cache_dir else None
        self.computed = 0  # texts embedded by the model (not served from the cache), for reports and tests

    @property
    def model(self) -> SentenceModel:
        if self._model is None:
            self._model = self._load(lambda source: load_sentence_model(source, self.device))
        return self._model

    def _load(self, loader: Callable[[str | Path], SentenceModel]) -> SentenceModel:
        source = minilm_path() if self.model_ref is None else self.model_ref
        try:
            return loader(source)
        except OSError as error:
            raise Unavailable(f"cannot load the embedding model {self.model_id!r}: {error}", hint="use a local path, or run where the Hugging Face Hub is reachable") from error

    @property
    def dim(self) -> int:
        return self.model.dim

    def _encode(self, texts: list[str], progress: Callable[[int], None] | None) -> np.ndarray:
        out = []
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start : start + self.batch_size]
            out.append(self.model.encode(batch, batch_size=self.batch_size))
            self.computed += len(batch)
            if progress:
                progress(len(batch))
        return np.concatenate(out).astype(np.float32) if out else np.zeros((0, self.dim), np.float32)

    def embed(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """(len(texts), dim) float32, unit length; cached texts are not recomputed."""
        texts = list(texts)
        if not self.cache:
            return self._encode(texts, progress)
        keys = [_key(text) for text in texts]
        cached = self.cache.get_many(keys)
        unique_missing: dict[bytes, int] = {}  # key -> first index of a text not cached yet
        for index, key in enumerate(keys):
            if key not in cached:
                unique_missing.setdefault(key, index)
        if unique_missing:
            fresh = self._encode([texts[i] for i in unique_missing.values()], progress)
            items = [(key, vector.tobytes()) for key, vector in zip(unique_missing, fresh)]
            self.cache.put_many(items)
            cached.update(items)
        if progress and len(texts) > len(unique_missing):
            progress(len(texts) - len(unique_missing))
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return np.stack([np.frombuffer(cached[key], dtype=np.float32) for key in keys])

    def embed_query(self, text: str) -> np.ndarray:
        """One query vector (not cached: queries rarely repeat and are cheap).

        A process that has not loaded the bulk model (`ask`, a one-off query) embeds with the
        light question model instead: the same vectors without importing torch."""
        if self._model is None and self._question_model is None:
            self._question_model = self._load(load_question_model)
        return (self._model or self._question_model).encode([text])[0]
