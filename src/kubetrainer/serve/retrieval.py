"""RAG for chat: the answer engine over the open index, on the one thread that owns it.

The answer stage (`kubetrainer.answer`) decides what the answer says: findings from the
diagnosis stored with the index, quoted evidence, citations that resolve to the sources.
This module keeps the index open, re-opens it after ingest, and renders the sources as a
numbered footer matching the answer's `[n]` marks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from kubetrainer.serve.access import public_hit

T = TypeVar("T")


def index_version(version_dir: Path) -> str:
    """Changes whenever any file of the open version changes, so cached answers never go stale."""
    digest = hashlib.sha256()
    for path in sorted(Path(version_dir).rglob("*")):
        if path.is_file():
            stat = path.stat()
            digest.update(f"{path.relative_to(version_dir)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def citation_footer(sources: list[dict[str, Any]]) -> str:
    """`Sources:` and one numbered line per source used, matching the [n] marks in the context."""
    if not sources:
        return ""
    from kubetrainer.rag.prompt import describe_source

    return "\n\nSources:\n" + "\n".join(f"[{number}] {describe_source(hit['source'])}"
                                           for number, hit in enumerate(sources, 1))


class RagContext:
    """An open index and what the chat route needs from it.

    Every index operation runs on one dedicated thread: the RAG stage's embedding
    cache is a SQLite connection, which may only be used by the thread that opened it,
    and a single writer also keeps ingest's incremental updates in order.
    """

    def __init__(self, index_dir: Path, top_k: int, cache_dir: Path | None = None) -> None:
        self.index_dir = Path(index_dir)
        self.top_k = top_k
        self.cache_dir = cache_dir
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rag")
        self.retriever: Any = None
        self.findings: list[Any] = []
        self._version = ""
        self.reopen()

    def _on_rag_thread(self, work: Callable[[], T]) -> T:
        return self._thread.submit(work).result()

    def version(self) -> str:
        return self._version

    def reopen(self) -> None:
        """Open (again) the index on disk, after ingest updated it."""
        from kubetrainer.diagnose.store import read_findings
        from kubetrainer.rag.retriever import Retriever

        def open_index() -> None:
            embedder = self.retriever.embedder if self.retriever is not None else None  # keep the loaded model
            self.retriever = Retriever.open(self.index_dir, embedder=embedder, cache_dir=self.cache_dir)
            self.findings = read_findings(self.retriever.directory)  # the version the retriever opened
            self._version = index_version(self.retriever.directory)

        self._on_rag_thread(open_index)

    def add_records(self, records: list[dict[str, Any]]) -> int:
        """Index new records incrementally (only their chunks are embedded); returns chunks added.

        Waits while another process (`kubetrainer index`) writes the index: the records are
        already stored and acknowledged, so they must reach the index, not be refused.
        """
        from kubetrainer.rag.index import build_index

        manifest = self.retriever.manifest
        stats = self._on_rag_thread(lambda: build_index(
            self.index_dir, records, self.retriever.embedder, backend=manifest["backend"], source="ingest",
            window_minutes=manifest.get("window_minutes", 60.0), wait=True))
        self.reopen()
        return stats.chunks_added

    def search(self, text: str, top_k: int | None = None, filters: dict | None = None) -> list[Any]:
        return self._on_rag_thread(lambda: self.retriever.search(text, top_k=top_k or self.top_k, filters=filters))

    def with_index(self, work: Callable[[Any, list[Any]], T]) -> T:
        """`work(retriever, findings)` on the index's thread (an investigation asks and searches several times)."""
        return self._on_rag_thread(lambda: work(self.retriever, self.findings))

    def answer(self, question: str, top_k: int | None = None, phraser: Callable[[list[dict[str, str]]], str] | None = None,
               earlier: Sequence[str] = ()):
        """The answer engine's answer to `question` (a model phrases it only with `phraser`, under the guard), after
        the `earlier` questions of its conversation."""
        from kubetrainer.answer import AnswerEngine

        return self._on_rag_thread(lambda: AnswerEngine(self.retriever, self.findings, phraser, top_k or self.top_k)
                                   .answer(question, earlier=earlier))


def answer_sources(answer: Any) -> list[dict[str, Any]]:
    """An answer's numbered sources as responses show them (no server file paths)."""
    return [public_hit(source) for source in answer.sources_json()]
