"""Who listens on the port a question names: "What is already holding port 9100 on cpu-0?"

A port conflict (a hostPort the scheduler finds taken, `bind: address already in use`) is settled by what listens
there, and servers say it as they start (`msg="Listening on" address=[::]:9100`, `Uvicorn running on
http://0.0.0.0:8000`; `collect.LISTENING`); the index keeps such once-said lines verbatim. A question that names a
port gets, from every log chunk, the first line of each pod saying it listens on that port, on the node the question
names when it names one: quoted as data with its pod and node, never as a finding.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from kubetrainer.answer.match import whole_names
from kubetrainer.answer.passages import Passage, chunk_lines, quoted_from
from kubetrainer.diagnose.collect import LISTENING
from kubetrainer.rag.chunk import Chunk

ASKS_PORT = re.compile(r"\bport (?P<port>\d{2,5})\b", re.IGNORECASE)
MAX_LISTENERS = 3


def listeners(question: str, chunks: Sequence[Chunk]) -> list[Passage]:
    """The lines of at most MAX_LISTENERS pods saying they listen on a port `question` names (on a node it names)."""
    ports = {match["port"] for match in ASKS_PORT.finditer(question)}
    if not ports:
        return []
    nodes = whole_names(question) & {chunk.node for chunk in chunks if chunk.node}
    found: dict[tuple, Passage] = {}
    for chunk in chunks:
        pod = (chunk.namespace, chunk.name)
        if chunk.kind != "log" or pod in found or (nodes and chunk.node not in nodes):
            continue
        line = next((line for line in chunk_lines(chunk.text)
                     if (match := LISTENING.search(line)) and match["port"] in ports), None)
        if line is not None:
            found[pod] = quoted_from(chunk, line)
    return list(found.values())[:MAX_LISTENERS]
