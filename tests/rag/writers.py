"""Writer and reader processes for the index concurrency tests.

They run as forkserver children (imports paid once, no torch thread pool inherited): a
writer adds records and can SIGKILL itself at its N-th Python or C call, a reader opens
and checks the index over and over. Texts are embedded by the parent beforehand, so the
children read vectors from the embedding cache and never load the model.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

import bm25s  # noqa: F401 - imported here, once by the forkserver, rather than in every child
import faiss  # noqa: F401
import numpy as np
import Stemmer  # noqa: F401

from kubetrainer.rag.embed import Embedder
from kubetrainer.rag.index import RECORD_IDS, build_index
from kubetrainer.rag.retriever import Retriever
from kubetrainer.records import make_record


def records(prefix: str, count: int) -> list[dict]:
    """`count` pod records, one chunk each: an index holds as many chunks as records."""
    return [make_record("object", f"2026-03-14T10:{i % 60:02d}:00Z", "dump",
                        f"Pod web/{prefix}-{i}: Running; marker {prefix}{i}", namespace="web", pod=f"{prefix}-{i}",
                        object={"apiVersion": "v1", "kind": "Pod", "name": f"{prefix}-{i}", "namespace": "web",
                                "summary": "s"})
            for i in range(count)]


def write(index: Path, model: Path, cache: Path, batches: list[list[dict]], kill_at: tuple[str, int],
          acks: Any) -> None:
    """Add each batch (waiting for other writers) and acknowledge it once added.

    `kill_at` (where, n): SIGKILL at the n-th call made from code under `where` (a path fragment:
    "kubetrainer/" for all of the build, "versions.py" for the lock, staging and switch); n=0: never.
    Reports how many such calls the build made, for choosing kill points.
    """
    embedder = Embedder(model, cache_dir=cache)
    where, at = kill_at
    calls = 0

    def count(frame: Any, event: str, _arg: Any) -> None:
        nonlocal calls
        if event in ("call", "c_call") and where in frame.f_code.co_filename:
            calls += 1
            if calls == at:
                os.kill(os.getpid(), signal.SIGKILL)

    for batch in batches:
        sys.setprofile(count)
        build_index(index, batch, embedder, wait=True)
        sys.setprofile(None)
        acks.put(("added", [record["id"] for record in batch], calls))


def check(retriever: Retriever) -> str | None:
    """What is incomplete about an opened index (None: nothing): every part must hold every chunk."""
    manifest, chunks = retriever.manifest, retriever.chunks
    ids = np.load(retriever.directory / RECORD_IDS)
    sizes = {"manifest": manifest["chunks"], "chunks": len(chunks), "dense": retriever.dense.index.ntotal,
             "bm25": retriever.lexical.size, "records": manifest["records"], "record ids": len(ids)}
    if len(set(sizes.values())) != 1:
        return f"parts disagree: {sizes}"
    last = chunks[-1].text.rsplit("marker ", 1)[1]
    if retriever.search(f"marker {last}", top_k=1, mode="bm25")[0].text != chunks[-1].text:
        return f"bm25 does not find the last chunk ({last})"
    vector = retriever.dense.index.reconstruct(len(chunks) - 1)
    if retriever.dense.search(vector, 1, None)[0][0] != len(chunks) - 1:
        return "the dense store does not find the last chunk"
    return None


def read(index: Path, stop: Any, results: Any) -> None:
    """Open and check the index until `stop` is set; report how many opens and the first problem."""
    opened, problem = 0, None
    while not stop.is_set() and problem is None:
        try:
            problem = check(Retriever.open(index, embedder=Embedder(None)))
        except Exception as error:  # noqa: BLE001 - any failure to open is what this reports
            problem = f"{type(error).__name__}: {error}"
        opened += 1
    results.put(("read", opened, problem))
