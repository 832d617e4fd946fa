"""BM25 over chunk texts (bm25s): finds exact identifiers (Xid=79, pod names, error codes) dense vectors blur."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

DIR = "bm25"
logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG


def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def _tokenize(texts: list[str], *, ids: bool = True):
    """Lower-cased, stop words dropped, stemmed: "pretraining" in a question meets "pretrain" in a pod name."""
    import bm25s

    return bm25s.tokenize(texts, stopwords="en", stemmer=_stemmer(), return_ids=ids, show_progress=False)


def words(texts: list[str]) -> list[set[str]]:
    """The index's terms of each text (lower-cased, stop words dropped, stemmed), for matching a question to lines
    the way retrieval matched it to chunks."""
    if not texts:
        return []
    return [set(tokens) for tokens in _tokenize(texts, ids=False)]


class Lexical:
    def __init__(self, retriever, size: int) -> None:
        self.retriever = retriever
        self.size = size

    @classmethod
    def build(cls, texts: list[str]) -> Lexical:
        import bm25s

        retriever = bm25s.BM25()
        if texts:
            retriever.index(_tokenize(texts), show_progress=False)
        return cls(retriever, len(texts))

    @classmethod
    def open(cls, directory: Path, size: int) -> Lexical:
        import bm25s

        if size == 0:
            return cls(bm25s.BM25(), 0)
        return cls(bm25s.BM25.load(str(directory / DIR), show_progress=False), size)

    def save(self, directory: Path) -> None:
        if self.size:
            self.retriever.save(str(directory / DIR), show_progress=False)

    def top(self, query: str, k: int, allowed_mask: np.ndarray | None) -> list[tuple[int, float]]:
        """The k best rows with a positive score (rows outside `allowed_mask` excluded)."""
        if self.size == 0 or k <= 0:
            return []
        tokens = _tokenize([query], ids=False)[0]
        known = [token for token in tokens if token in self.retriever.vocab_dict]
        if not known:
            return []
        scores = self.retriever.get_scores(known)
        if allowed_mask is not None:
            scores = np.where(allowed_mask, scores, 0.0)
        k = min(k, self.size)
        best = np.argpartition(-scores, k - 1)[:k]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(int(row), float(scores[row])) for row in best if scores[row] > 0]
