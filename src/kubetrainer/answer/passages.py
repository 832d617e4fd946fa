"""Retrieved lines that bear on the question beyond the findings: quoted after the diagnosis, as data.

The diagnosis says what is broken; an on-call question often asks about something next to it: which version
is live, what a setting is, what a healthy neighbour logs. Retrieval found the chunks that hold such lines,
and the composed answer quoted only the findings' lines. This picks, among the lines of the retrieved chunks
that the answer does not quote yet, those that share at least two of the question's words besides the words of
their own object's name (a line naming the asked-about object says nothing by that alone: `Successfully
assigned cert-manager/...`), each word weighted by how few of these lines hold it (the index's own tokenizer).
They are quoted verbatim with their source, never interpreted: the answer's claims stay the findings'.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kubetrainer.answer.sources import normalized
from kubetrainer.diagnose.collect import shape
from kubetrainer.rag.chunk import Chunk
from kubetrainer.rag.lexical import words
from kubetrainer.rag.retriever import Hit

MAX_PASSAGES = 3
MIN_SHARED_WORDS = 2  # a line sharing one word with the question ("pod", "failed") is not about it
# Lines a chunk adds around the data: the catalogue's explanation and the folding marker (its heading is its first line).
_OUR_TEXT = ("Meaning:", "Said once:")


@dataclass(frozen=True)
class Passage:
    hit: Hit
    line: str
    weight: float  # the summed rarity of the question words it holds (0 for a named object's status, `unflagged`)


def quoted_from(chunk: Chunk, line: str) -> Passage:
    """A line of an indexed chunk that was not retrieved for the question, quoted with the chunk as its source."""
    return Passage(Hit(0, 0.0, chunk.text, chunk.source()), line, 0.0)


def chunk_lines(text: str) -> list[str]:
    """The data lines of a chunk's text: its first line names the object and window (kept for a one-line chunk, an
    object's record), and the lines the index adds are left out."""
    lines = [line.strip() for line in text.splitlines()]
    lines = lines[1:] if len(lines) > 1 else lines
    return [line for line in lines if line and not line.startswith(_OUR_TEXT)]


def _sibling_key(passage: Passage, quote: Callable[[str], str]) -> str:
    """The line as quoted, with its object's name and variable parts masked: the pods of one workload say the same."""
    name = passage.hit.source.get("name") or ""
    line = quote(passage.line)
    return shape(normalized(line.replace(name, "#") if name else line))


def passages(question: str, hits: Sequence[Hit], answered: str, quote: Callable[[str], str]) -> list[Passage]:
    """At most MAX_PASSAGES lines of `hits` that `answered` (the answer's text) does not quote yet, one per hit and
    per message, best first; `quote` renders a line as the answer quotes it (a JSON line by its message and error)."""
    shown = shape(normalized(answered))  # a line of the same message as one quoted (another replica's) is not new
    candidates = [(position, line) for position, hit in enumerate(hits) for line in chunk_lines(hit.text)
                  if shape(normalized(quote(line))) not in shown]
    if not candidates:
        return []
    asked = words([question])[0]
    own = words([" ".join(filter(None, (hit.source.get("namespace"), hit.source.get("name")))) for hit in hits])
    held = [(terms & asked) - own[position] for (position, _), terms in
            zip(candidates, words([line for _, line in candidates]))]
    frequency = {word: sum(word in terms for terms in held) for word in asked}
    rarity = {word: math.log(1 + len(candidates) / count) for word, count in frequency.items() if count}
    best: dict[int, Passage] = {}
    for (position, line), terms in zip(candidates, held):
        weight = sum(rarity[word] for word in terms)
        if len(terms) >= MIN_SHARED_WORDS and weight > (best[position].weight if position in best else 0.0):
            best[position] = Passage(hits[position], line, weight)
    kept: dict[str, Passage] = {}
    for passage in sorted(best.values(), key=lambda passage: -passage.weight):  # stable: retrieval order on ties
        kept.setdefault(_sibling_key(passage, quote), passage)
    return list(kept.values())[:MAX_PASSAGES]
