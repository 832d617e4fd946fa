"""RAG for chat: retrieve with the last user message, quote the hits, cite them.

The RAG stage (`kubetrainer.rag`) owns retrieval and prompt assembly; this module
only fits them into a chat request: the token budget left by the conversation and
the answer, the `sources` list, and a numbered citation footer in the text.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from kubetrainer.errors import UserError
from kubetrainer.serve.access import public_hit
from kubetrainer.serve.errors import APIError

# Room for the chat template's own tokens around the messages.
TEMPLATE_MARGIN_TOKENS = 32
T = TypeVar("T")


def index_version(index_dir: Path) -> str:
    """Changes whenever any file of the index changes, so cached answers never go stale."""
    digest = hashlib.sha256()
    for path in sorted(Path(index_dir).rglob("*")):
        if path.is_file():
            stat = path.stat()
            digest.update(f"{path.relative_to(index_dir)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
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
        self._version = ""
        self.reopen()

    def _on_rag_thread(self, work: Callable[[], T]) -> T:
        return self._thread.submit(work).result()

    def version(self) -> str:
        return self._version

    def reopen(self) -> None:
        """Open (again) the index on disk, after ingest updated it."""
        from kubetrainer.rag.retriever import Retriever

        def open_index() -> None:
            embedder = self.retriever.embedder if self.retriever is not None else None  # keep the loaded model
            self.retriever = Retriever.open(self.index_dir, embedder=embedder, cache_dir=self.cache_dir)
            self._version = index_version(self.index_dir)

        self._on_rag_thread(open_index)

    def add_records(self, records: list[dict[str, Any]]) -> int:
        """Index new records incrementally (only their chunks are embedded); returns chunks added."""
        from kubetrainer.rag.index import build_index

        manifest = self.retriever.manifest
        stats = self._on_rag_thread(lambda: build_index(
            self.index_dir, records, self.retriever.embedder, backend=manifest["backend"], source="ingest",
            window_minutes=manifest.get("window_minutes", 60.0)))
        self.reopen()
        return stats.chunks_added

    def search(self, text: str, top_k: int | None = None, filters: dict | None = None) -> list[Any]:
        return self._on_rag_thread(lambda: self.retriever.search(text, top_k=top_k or self.top_k, filters=filters))

    def augment(self, messages: list[dict[str, str]], tokenizer: Any, budget_tokens: int,
                top_k: int | None) -> tuple[list[dict[str, str]], list[dict[str, Any]]]:
        """The conversation with its last user turn replaced by the RAG prompt, and the sources used."""
        last_user = max(index for index, message in enumerate(messages) if message["role"] == "user")
        question = messages[last_user]["content"]
        history = messages[:last_user] + messages[last_user + 1:]
        history_tokens = sum(len(tokenizer(message["content"])["input_ids"]) for message in history)
        room = max(budget_tokens - history_tokens - TEMPLATE_MARGIN_TOKENS, 0)
        from kubetrainer.rag.prompt import build_messages

        try:
            built, used = build_messages(question, self.search(question, top_k), tokenizer, room)
        except UserError as error:
            raise APIError(400, error.what, param="messages", code="context_length_exceeded") from error
        return [*history, *built], [public_hit(hit.to_json()) for hit in used]
