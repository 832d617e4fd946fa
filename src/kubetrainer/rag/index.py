"""Build and grow an index directory: chunks, dense vectors, BM25, the record ids it holds.

Layout of `<index>/`: manifest.json (backend, embedding model, dense structure,
counts, sources), chunks.jsonl (row i = vector i), findings.jsonl (the diagnosis of
the same records, `kubetrainer.diagnose`), collected.json (the facts that diagnosis
kept, so later records are diagnosed with them), record_ids.npy (64-bit prefixes of every
record id seen), dense.faiss or chroma/, bm25/.
Those files live in one version directory of the index (`kubetrainer.versions`): adding
records builds the next version beside the current one and switches `CURRENT` to it, so a
reader always opens a complete index and an interrupted build (even a SIGKILL) leaves the
previous one in place. One writer at a time: a second `index` (or `/v1/ingest`) on the same
index waits for the first when asked to, else is refused with the PID that writes.
Adding records is incremental: records whose id is already held are skipped, only new
chunks are embedded and appended to the dense store.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from kubetrainer import atomic, versions
from kubetrainer.diagnose.collect import Collector
from kubetrainer.diagnose.engine import findings_of
from kubetrainer.diagnose.state import COLLECTED, load_collector, save_collector
from kubetrainer.diagnose.store import FINDINGS, combined, read_findings, write_findings
from kubetrainer.errors import UserError
from kubetrainer.rag.chunk import Chunk, chunk_records
from kubetrainer.rag.dense import ChromaStore, DenseStore, FaissStore
from kubetrainer.rag.embed import Embedder
from kubetrainer.rag.lexical import DIR as LEXICAL_DIR
from kubetrainer.rag.lexical import Lexical

FORMAT = 1
MANIFEST = "manifest.json"
CHUNKS = "chunks.jsonl"
RECORD_IDS = "record_ids.npy"
BACKENDS = ("faiss", "chroma")
# The files of an index from before versions, at the top level of its directory.
LEGACY = (MANIFEST, CHUNKS, RECORD_IDS, FINDINGS, COLLECTED, FaissStore.FILE, LEXICAL_DIR, "chroma-*")


@dataclass
class BuildStats:
    records_added: int = 0
    records_skipped: int = 0
    chunks_added: int = 0
    chunks_total: int = 0
    embedded: int = 0  # texts the model had to embed (the rest came from the cache)
    findings: int = 0  # what the diagnosis of all records so far found wrong

    def to_json(self) -> dict:
        return asdict(self)


def resolve_index(name_or_dir: str | Path | None, index_root: Path) -> Path:
    """`--index`: a directory path (contains a slash or exists), else a name under <home>/index/."""
    if name_or_dir is None:
        return index_root / "default"
    text = str(name_or_dir)
    if "/" in text or Path(text).exists():
        return Path(text).expanduser().resolve()
    return index_root / text


def read_manifest(directory: Path) -> dict | None:
    """The manifest of the index's current version (None: no index there)."""
    path = versions.current(directory) / MANIFEST
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UserError(f"unreadable index manifest ({error})", where=path, expected="an index made by `kubetrainer index`") from error
    if manifest.get("format") != FORMAT:
        raise UserError(f"index format {manifest.get('format')!r} is not supported", where=path, expected=f"format {FORMAT}; rebuild the index")
    return manifest


def read_chunks(directory: Path) -> list[Chunk]:
    path = versions.current(directory) / CHUNKS
    if not path.is_file():
        return []
    with path.open(encoding="utf-8") as handle:
        return [Chunk.from_json(json.loads(line)) for line in handle if line.strip()]


def id_prefix(record_id: str) -> int:
    """64 bits of a record id: enough to tell a billion records apart, 8 bytes each on disk."""
    return int(record_id[:16].ljust(16, "0"), 16)


def _known_ids(directory: Path) -> np.ndarray:
    path = Path(directory) / RECORD_IDS
    return np.load(path) if path.is_file() else np.zeros(0, dtype=np.uint64)


def _new_records(records: Iterable[dict], known: set[int], ids_out: list[int], stats: BuildStats,
                 collector: Collector) -> Iterator[dict]:
    for record in records:
        prefix = id_prefix(record["id"])
        if prefix in known:
            stats.records_skipped += 1
            continue
        known.add(prefix)
        ids_out.append(prefix)
        stats.records_added += 1
        collector.add(record)
        yield record


def _check_compatible(manifest: dict, backend: str, embedder: Embedder, directory: Path) -> None:
    if manifest["backend"] != backend:
        raise UserError(f"this index uses the {manifest['backend']} backend", where=directory, expected=f"--backend {manifest['backend']}, or a new --index for {backend}")
    if manifest["embedding_model"] != embedder.model_id:
        raise UserError(f"this index was embedded with {manifest['embedding_model']}", where=directory, expected=f"the same --embedding-model, or a new --index for {embedder.model_id}")


def _dense_store(backend: str, staging: Path, previous: Path | None, dim: int, manifest: dict | None) -> DenseStore:
    if backend == "chroma":
        return ChromaStore.create(staging, previous / manifest["dense"]["dir"] if previous and manifest else None)
    return FaissStore.open(previous) if previous and manifest else FaissStore.create(dim)


def build_index(
    directory: Path,
    records: Iterable[dict],
    embedder: Embedder,
    *,
    backend: str = "faiss",
    source: str | None = None,
    window_minutes: float = 60.0,
    progress: Callable[[int], None] | None = None,
    wait: bool = False,
) -> BuildStats:
    """Add `records` to the index at `directory` (created if absent); returns what changed.

    While another process writes the same index this waits for it when `wait`, else raises
    UserError naming that process: two writers building on the same version would each
    drop the other's records.
    """
    if backend not in BACKENDS:
        raise UserError(f"unknown index backend {backend!r}", where="--backend", expected=" or ".join(BACKENDS))
    with versions.writing(directory, what="index", legacy=LEGACY, wait=wait) as writer:
        return _add(writer, records, embedder, backend, source, window_minutes, progress)


def _add(writer: versions.Writer, records: Iterable[dict], embedder: Embedder, backend: str, source: str | None,
         window_minutes: float, progress: Callable[[int], None] | None) -> BuildStats:
    base = writer.base
    manifest = read_manifest(base) if base else None
    if manifest:
        _check_compatible(manifest, backend, embedder, writer.directory)
    stats = BuildStats()
    known_array = _known_ids(base) if base else np.zeros(0, dtype=np.uint64)
    new_ids: list[int] = []
    old_chunks = read_chunks(base) if base else []
    held = {chunk.id for chunk in old_chunks}
    fresh: list[Chunk] = []
    saved = load_collector(base) if base and manifest else None
    collector = saved or Collector()
    new_records = _new_records(records, set(known_array.tolist()), new_ids, stats, collector)
    for chunk in chunk_records(new_records, path=source, window_minutes=window_minutes):
        if chunk.id not in held:
            held.add(chunk.id)
            fresh.append(chunk)
    stats.chunks_added, stats.chunks_total = len(fresh), len(old_chunks) + len(fresh)
    if manifest and not new_ids:
        return stats
    with writer.next_version() as staging:
        if base and manifest:
            shutil.copyfile(base / CHUNKS, staging / CHUNKS)
        with (staging / CHUNKS).open("a", encoding="utf-8") as handle:
            handle.writelines(json.dumps(chunk.to_json(), ensure_ascii=False) + "\n" for chunk in fresh)
        computed_before = embedder.computed
        vectors = embedder.embed([chunk.text for chunk in fresh], progress)
        stats.embedded = embedder.computed - computed_before
        dim = int(vectors.shape[1]) if len(vectors) else int(manifest["dim"]) if manifest else embedder.dim
        store = _dense_store(backend, staging, base, dim, manifest)
        store.add(vectors)
        store.save(staging)
        Lexical.build([chunk.text for chunk in [*old_chunks, *fresh]]).save(staging)
        # The saved facts and the new records diagnosed together; an index from before they were saved merges.
        findings = findings_of(collector) if saved or not manifest else combined(read_findings(base),
                                                                                 findings_of(collector))
        write_findings(staging, findings)
        save_collector(staging, collector)
        stats.findings = len(findings)
        np.save(staging / RECORD_IDS, np.sort(np.concatenate([known_array, np.array(new_ids, dtype=np.uint64)])))
        sources = sorted(set((manifest or {}).get("sources", [])) | ({source} if source else set()))
        atomic.write_json(staging / MANIFEST, {
            "format": FORMAT,
            "backend": backend,
            "embedding_model": embedder.model_id,
            "dim": dim,
            "dense": store.describe(),
            "lexical": "bm25s",
            "findings": FINDINGS,
            "fusion": "reciprocal rank fusion (k=60)",
            "chunks": stats.chunks_total,
            "records": int(len(known_array) + len(new_ids)),
            "window_minutes": window_minutes,
            "sources": sources,
            "updated": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        })
    return stats
