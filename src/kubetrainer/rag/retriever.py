"""Hybrid retrieval over an index directory: dense + BM25 fused by reciprocal rank, with filters."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kubetrainer import versions
from kubetrainer.errors import UserError
from kubetrainer.models.bundled import DEFAULT_EMBEDDING_ID
from kubetrainer.rag.chunk import Chunk
from kubetrainer.rag.dense import ChromaStore, DenseStore, FaissStore
from kubetrainer.rag.embed import Embedder
from kubetrainer.rag.index import read_chunks, read_manifest
from kubetrainer.rag.lexical import Lexical
from kubetrainer.records import parse_ts

RRF_K = 60
# Added to the fused score of chunks about something broken: half a first-place vote.
PROBLEM_PRIOR = 0.5 / (RRF_K + 1)
MODES = ("hybrid", "dense", "bm25")
FILTER_KEYS = ("namespace", "node", "kind", "name", "container", "since", "until")


@dataclass
class Hit:
    rank: int
    score: float
    text: str
    source: dict

    def to_json(self) -> dict:
        return {"rank": self.rank, "score": round(self.score, 6), "text": self.text, "source": self.source}


def _epoch(stamp: str | None) -> float:
    return parse_ts(stamp).timestamp() if stamp else float("nan")


def fuse(ranked_lists: list[list[tuple[int, float]]], k: int = RRF_K) -> list[tuple[int, float]]:
    """Reciprocal rank fusion: each list adds 1/(k + rank); robust to the lists' score scales."""
    fused: dict[int, float] = {}
    for ranked in ranked_lists:
        for rank, (row, _score) in enumerate(ranked, start=1):
            fused[row] = fused.get(row, 0.0) + 1.0 / (k + rank)
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


class Retriever:
    """Search one index directory; `open` loads it, `search` answers a query."""

    def __init__(self, directory: Path, manifest: dict, chunks: list[Chunk], dense: DenseStore, lexical: Lexical, embedder: Embedder) -> None:
        self.directory = directory
        self.manifest = manifest
        self.chunks = chunks
        self.dense = dense
        self.lexical = lexical
        self.embedder = embedder
        self._columns = {key: np.array([getattr(c, key) or "" for c in chunks], dtype=object) for key in ("namespace", "node", "kind", "name", "container")}
        self._start = np.array([_epoch(c.ts_start) for c in chunks], dtype=np.float64)
        self._end = np.array([_epoch(c.ts_end) for c in chunks], dtype=np.float64)

    @classmethod
    def open(cls, index_dir: Path, embedder: Embedder | None = None, cache_dir: Path | None = None) -> Retriever:
        """Load the index's current version, resolved once (`versions.current`), so every part is of one version.

        A writer keeps the version before its new one; only when two switches pass while this
        reads can that version vanish underneath, and then the newer one is read instead.
        """
        for attempt in range(3):
            version = versions.current(index_dir)
            try:
                return cls._load(version, index_dir, embedder, cache_dir)
            except (OSError, RuntimeError):  # RuntimeError: FAISS's "could not open"
                if attempt == 2 or versions.current(index_dir) == version:
                    raise
        raise AssertionError("unreachable")

    @classmethod
    def _load(cls, version: Path, index_dir: Path, embedder: Embedder | None, cache_dir: Path | None) -> Retriever:
        manifest = read_manifest(version)
        if manifest is None:
            raise UserError("no index here", where=index_dir, expected="a directory made by `kubetrainer index --source ...`")
        chunks = read_chunks(version)
        chroma = manifest["backend"] == "chroma"
        dense: DenseStore = ChromaStore.open(version, manifest) if chroma else FaissStore.open(version)
        model = manifest["embedding_model"]
        embedder = embedder or Embedder(None if model == DEFAULT_EMBEDDING_ID else model, cache_dir=cache_dir)
        return cls(version, manifest, chunks, dense, Lexical.open(version, len(chunks)), embedder)

    def allowed_rows(self, filters: dict | None) -> np.ndarray | None:
        """Row numbers passing the filters (None: no filter). Values may be a string or a list of strings."""
        if not filters:
            return None
        unknown = set(filters) - set(FILTER_KEYS)
        if unknown:
            raise UserError(f"unknown filter(s) {', '.join(sorted(unknown))}", where="filters", expected=", ".join(FILTER_KEYS))
        mask = np.ones(len(self.chunks), dtype=bool)
        for key, wanted in filters.items():
            if wanted is None or key in ("since", "until"):
                continue
            values = [wanted] if isinstance(wanted, str) else list(wanted)
            mask &= np.isin(self._columns[key], values)
        try:
            if filters.get("since"):
                mask &= ~(self._end < parse_ts(filters["since"]).timestamp())
            if filters.get("until"):
                mask &= ~(self._start > parse_ts(filters["until"]).timestamp())
        except ValueError as error:
            raise UserError(str(error), where="--since/--until", expected="an RFC 3339 time like 2026-03-14T10:00:00Z") from None
        return np.flatnonzero(mask)

    def search(self, text: str, top_k: int = 5, filters: dict | None = None, mode: str = "hybrid") -> list[Hit]:
        """The top_k chunks for `text`; `mode` hybrid (default), dense or bm25."""
        if mode not in MODES:
            raise UserError(f"unknown retrieval mode {mode!r}", where="mode", expected=", ".join(MODES))
        if not text.strip():
            raise UserError("empty query", where="query", expected="a question or keywords")
        allowed = self.allowed_rows(filters)
        candidates = max(50, top_k * 5)
        lists = []
        if mode in ("hybrid", "dense"):
            lists.append(self.dense.search(self.embedder.embed_query(text), candidates, allowed))
        if mode in ("hybrid", "bm25"):
            mask = None
            if allowed is not None:
                mask = np.zeros(len(self.chunks), dtype=bool)
                mask[allowed] = True
            lists.append(self.lexical.top(text, candidates, mask))
        if mode == "hybrid":
            ranked = [(row, score + (PROBLEM_PRIOR if self.chunks[row].problem else 0.0)) for row, score in fuse(lists)]
            ranked.sort(key=lambda item: (-item[1], item[0]))
        else:
            ranked = lists[0]
        return [Hit(rank, score, self.chunks[row].text, self.chunks[row].source()) for rank, (row, score) in enumerate(ranked[:top_k], start=1)]
