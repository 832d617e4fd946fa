"""The numbered sources of an answer: retrieved chunks, plus the chunk (or record) that holds each quoted line.

A citation `[n]` must point at a source that really contains what it supports, so
evidence is cited by finding the source whose text holds the line verbatim: first among
the retrieved hits, then among all of the index's chunks, else the record itself is
listed as a source.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from kubetrainer.diagnose.finding import Evidence
from kubetrainer.rag.chunk import Chunk
from kubetrainer.rag.retriever import Hit

_SPACE = re.compile(r"\s+")


def normalized(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


class Sources:
    """Numbered sources, in the order first cited; `cite` returns the number of the source holding a line."""

    def __init__(self, hits: Sequence[Hit], chunks: Sequence[Chunk] = ()) -> None:
        self.hits = list(hits)
        self.chunks = chunks
        self.listed: list[Hit] = []
        self._texts: list[str] = []

    def number(self, hit: Hit) -> int:
        """The number of `hit`, listing it if it is not yet."""
        for number, held in enumerate(self.listed, start=1):
            if held.text == hit.text and held.source == hit.source:
                return number
        self.listed.append(hit)
        self._texts.append(normalized(hit.text))
        return len(self.listed)

    def cite(self, item: Evidence) -> int:
        """The number of a source holding `item`'s line: its own object's before another's (replicas log the same
        start-up line, and the citation should name the pod that said it), a retrieved one before the index's."""
        wanted = normalized(item.text)
        for own in (True, False) if item.name else (None,):
            for hit in self.hits:
                if _owned(hit.source.get("name"), item, own) and wanted in normalized(hit.text):
                    return self.number(hit)
            for chunk in self.chunks:
                if _owned(chunk.name, item, own) and wanted in normalized(chunk.text):
                    return self.number(Hit(rank=0, score=0.0, text=chunk.text, source=chunk.source()))
        return self.number(Hit(rank=0, score=0.0, text=item.text, source=_record_source(item)))

    def add_retrieved(self) -> None:
        """List the retrieved hits not cited yet, after the cited ones (context the reader may want)."""
        for hit in self.hits:
            self.number(hit)

    def holds(self, number: int, text: str) -> bool:
        """Whether source `number` exists and contains `text`."""
        return 1 <= number <= len(self.listed) and normalized(text) in self._texts[number - 1]


def _owned(name: str | None, item: Evidence, own: bool | None) -> bool:
    """Whether a source named `name` is in this pass: of `item`'s own object (True), of another (False), any (None)."""
    return own is None or (name == item.name) == own


def _record_source(item: Evidence) -> dict:
    return {
        "kind": item.kind,
        "namespace": item.namespace,
        "name": item.name,
        "container": item.container,
        "node": item.node,
        "path": None,
        "ts_start": item.ts,
        "ts_end": item.ts,
        "record": item.record,
    }
