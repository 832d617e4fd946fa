"""Dense vector stores behind one small interface: FAISS (default) and ChromaDB.

Row i of the store is chunk i of the index (removing rows moves the later ones up, as
removing chunks does). FAISS is exact (flat inner product)
while small and switches to HNSW past `HNSW_THRESHOLD` vectors; the choice is
recorded in the manifest. Filters arrive as an array of allowed rows.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Protocol

import numpy as np

HNSW_THRESHOLD = 200_000
HNSW_M = 32
HNSW_EF_SEARCH = 128


class DenseStore(Protocol):
    kind: str

    def add(self, vectors: np.ndarray) -> None: ...

    def remove(self, rows: list[int]) -> None: ...

    def search(self, vector: np.ndarray, k: int, allowed: np.ndarray | None) -> list[tuple[int, float]]: ...

    def save(self, directory: Path) -> None: ...

    def describe(self) -> dict: ...


class FaissStore:
    kind = "faiss"
    FILE = "dense.faiss"

    def __init__(self, index) -> None:
        self.index = index

    @classmethod
    def create(cls, dim: int) -> FaissStore:
        import faiss

        return cls(faiss.IndexFlatIP(dim))

    @classmethod
    def open(cls, directory: Path) -> FaissStore:
        import faiss

        return cls(faiss.read_index(str(directory / cls.FILE)))

    @property
    def structure(self) -> str:
        return "hnsw" if "HNSW" in type(self.index).__name__ else "flat"

    def add(self, vectors: np.ndarray) -> None:
        total = self.index.ntotal + len(vectors)
        if self.structure == "flat" and total > HNSW_THRESHOLD:
            self._rebuild_hnsw(self._all())
        if len(vectors):
            self.index.add(np.ascontiguousarray(vectors, dtype=np.float32))

    def remove(self, rows: list[int]) -> None:
        """Drop these rows; HNSW cannot remove, so it is rebuilt from the vectors it keeps."""
        import faiss

        if not rows:
            return
        if self.structure == "flat":
            self.index.remove_ids(faiss.IDSelectorBatch(np.asarray(rows, dtype=np.int64)))
        else:
            self._rebuild_hnsw(np.delete(self._all(), rows, axis=0))

    def _all(self) -> np.ndarray:
        if not self.index.ntotal:
            return np.zeros((0, self.index.d), np.float32)
        return self.index.reconstruct_n(0, self.index.ntotal)

    def _rebuild_hnsw(self, vectors: np.ndarray) -> None:
        import faiss

        self.index = faiss.IndexHNSWFlat(self.index.d, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        self.index.hnsw.efConstruction = 80
        if len(vectors):
            self.index.add(vectors)

    def search(self, vector: np.ndarray, k: int, allowed: np.ndarray | None) -> list[tuple[int, float]]:
        import faiss

        if self.index.ntotal == 0 or k <= 0:
            return []
        query = np.ascontiguousarray(vector.reshape(1, -1), dtype=np.float32)
        params = None
        if allowed is not None:
            if len(allowed) == 0:
                return []
            selector = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
            params = faiss.SearchParametersHNSW(sel=selector, efSearch=max(HNSW_EF_SEARCH, k)) if self.structure == "hnsw" else faiss.SearchParameters(sel=selector)
        elif self.structure == "hnsw":
            params = faiss.SearchParametersHNSW(efSearch=max(HNSW_EF_SEARCH, k))
        scores, rows = self.index.search(query, min(k, self.index.ntotal), params=params)
        return [(int(row), float(score)) for row, score in zip(rows[0], scores[0]) if row >= 0]

    def save(self, directory: Path) -> None:
        import faiss

        faiss.write_index(self.index, str(directory / self.FILE))

    def describe(self) -> dict:
        reason = f"exact inner product up to {HNSW_THRESHOLD} vectors" if self.structure == "flat" else f"HNSW (M={HNSW_M}) past {HNSW_THRESHOLD} vectors"
        return {"backend": "faiss", "structure": self.structure, "vectors": int(self.index.ntotal), "why": reason}


class ChromaStore:
    """ChromaDB's embedded persistent client; ids are row numbers, inner-product space.

    Each build writes a new `chroma-<id>/` directory (named in the manifest):
    Chroma caches one client per path for the life of the process, so reusing a
    path after the index directory was swapped would serve the old data.
    """

    kind = "chroma"
    COLLECTION = "chunks"

    def __init__(self, path: Path) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        self.path = path
        self.client = chromadb.PersistentClient(path=str(path), settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False))
        self.collection = self.client.get_or_create_collection(self.COLLECTION, metadata={"hnsw:space": "ip"})

    @classmethod
    def create(cls, staging: Path, previous: Path | None = None) -> ChromaStore:
        path = staging / f"chroma-{uuid.uuid4().hex[:12]}"
        if previous is not None:
            shutil.copytree(previous, path)
        return cls(path)

    @classmethod
    def open(cls, directory: Path, manifest: dict) -> ChromaStore:
        return cls(directory / manifest["dense"]["dir"])

    def add(self, vectors: np.ndarray) -> None:
        start = self.collection.count()
        batch = 4096
        for offset in range(0, len(vectors), batch):
            part = vectors[offset : offset + batch]
            ids = [str(start + offset + i) for i in range(len(part))]
            self.collection.add(ids=ids, embeddings=part.tolist(), metadatas=[{"row": start + offset + i} for i in range(len(part))])

    def remove(self, rows: list[int]) -> None:
        """Drop these rows: ids are row numbers, so the rows after the first removed are added again, moved up."""
        if not rows:
            return
        first, count, dropped = min(rows), self.collection.count(), set(rows)
        tail = [str(row) for row in range(first, count)]
        stored = self.collection.get(ids=tail, include=["embeddings"])
        vectors = dict(zip(stored["ids"], stored["embeddings"]))
        kept = [vectors[row_id] for row_id in tail if int(row_id) not in dropped]
        self.collection.delete(ids=tail)
        if kept:
            self.add(np.asarray(kept, dtype=np.float32))

    def search(self, vector: np.ndarray, k: int, allowed: np.ndarray | None) -> list[tuple[int, float]]:
        count = self.collection.count()
        if count == 0 or k <= 0 or (allowed is not None and len(allowed) == 0):
            return []
        where = {"row": {"$in": [int(row) for row in allowed]}} if allowed is not None else None
        found = self.collection.query(query_embeddings=[vector.tolist()], n_results=min(k, count), where=where, include=["distances"])
        return [(int(row), 1.0 - float(distance)) for row, distance in zip(found["ids"][0], found["distances"][0])]

    def save(self, directory: Path) -> None:
        """Chroma persists as it goes; nothing more to write."""

    def describe(self) -> dict:
        return {"backend": "chroma", "structure": "hnsw", "dir": self.path.name, "vectors": int(self.collection.count()), "why": "ChromaDB embedded persistent client (approximate HNSW)"}
