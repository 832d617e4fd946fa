"""Build and grow an index directory: chunks, dense vectors, BM25, the record ids it holds.

Layout of an index version: manifest.json (backend, embedding model, dense structure,
counts, sources), chunks.jsonl (row i = vector i), findings.jsonl (the diagnosis of
the same records, `kubetrainer.diagnose`), collected.json (the facts that diagnosis
kept, so later records are diagnosed with them), folding.json (each container's log
folding state, so later log lines join its open window), record_ids.npy (64-bit
prefixes of every record id seen), dense.faiss or chroma/, bm25/.
Those files live in one version directory of the index (`kubetrainer.versions`): adding
records builds the next version beside the current one and switches `CURRENT` to it, so a
reader always opens a complete index and an interrupted build (even a SIGKILL) leaves the
previous one in place. One writer at a time: a second `index` (or `/v1/ingest`) on the same
index waits for the first when asked to, else is refused with the PID that writes.
Adding records is incremental: records whose id is already held are skipped, only new
chunks are embedded and appended to the dense store. Log lines join their container's
open window (`rag.logfold`): that window's chunks are made again and replace the old
ones, so records added in batches (`/v1/ingest`) give the chunks one batch would give.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from kubetrainer import atomic, versions
from kubetrainer.diagnose.collect import Collector
from kubetrainer.diagnose.engine import findings_of
from kubetrainer.diagnose.state import COLLECTED, load_collector, save_collector
from kubetrainer.diagnose.store import CHANGES, FINDINGS, combined, read_findings, write_changes, write_findings
from kubetrainer.errors import UserError
from kubetrainer.rag.chunk import Chunk, chunk_more
from kubetrainer.rag.dense import ChromaStore, DenseStore, FaissStore
from kubetrainer.rag.embed import Embedder
from kubetrainer.rag.lexical import DIR as LEXICAL_DIR
from kubetrainer.rag.lexical import Lexical
from kubetrainer.rag.logfold import LogFolder

FORMAT = 1
FOLDING_FORMAT = 2  # of the saved log-folding state; 2: windows keep each template's first line verbatim
MANIFEST = "manifest.json"
CHUNKS = "chunks.jsonl"
RECORD_IDS = "record_ids.npy"
FOLDING = "folding.json"  # each container's log folding state (`rag.logfold`), so later records join its window
BACKENDS = ("faiss", "chroma")
# The files of an index from before versions, at the top level of its directory.
LEGACY = (MANIFEST, CHUNKS, RECORD_IDS, FINDINGS, CHANGES, COLLECTED, FaissStore.FILE, LEXICAL_DIR, "chroma-*")


ADDED = ("records_added", "records_skipped", "chunks_added", "chunks_replaced", "embedded")  # per build, summed


@dataclass
class BuildStats:
    records_added: int = 0
    records_skipped: int = 0
    chunks_added: int = 0
    chunks_replaced: int = 0  # chunks of log windows made again because more of their lines arrived
    chunks_total: int = 0
    embedded: int = 0  # texts the model had to embed (the rest came from the cache)
    findings: int = 0  # what the diagnosis of all records so far found wrong

    @classmethod
    def total(cls, runs: list[BuildStats]) -> BuildStats:
        """Several builds into one index, in order: counts add up; chunks and findings are the last build's (they
        describe the whole index)."""
        last = runs[-1]
        return cls(**{name: sum(getattr(run, name) for run in runs) for name in ADDED},
                   chunks_total=last.chunks_total, findings=last.findings)

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


@dataclass
class _Held:
    """What the version a build starts from holds."""

    manifest: dict | None = None
    chunks: list[Chunk] = field(default_factory=list)
    known: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint64))
    collector: Collector | None = None  # None: an index from before the collector was saved
    folding: dict[str, dict] = field(default_factory=dict)

    @classmethod
    def read(cls, base: Path | None) -> _Held:
        manifest = read_manifest(base) if base else None
        if base is None or manifest is None:
            return cls()
        return cls(manifest, read_chunks(base), _known_ids(base), load_collector(base), _read_folding(base))


@dataclass
class _Change:
    """What a build adds: chunks kept and made, record ids, the diagnosis' facts, the folding state."""

    held: _Held
    kept: list[Chunk]
    fresh: list[Chunk]
    removed_rows: list[int]
    new_ids: list[int]
    collector: Collector
    folding: dict[str, dict]


def _read_folding(directory: Path) -> dict[str, dict]:
    try:
        body = json.loads((directory / FOLDING).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}  # an index from before: its containers' next records start new windows
    return body["containers"] if body.get("format") == FOLDING_FORMAT else {}


def _change(held: _Held, records: Iterable[dict], stats: BuildStats, source: str | None,
            window_minutes: float) -> _Change:
    """The new records chunked, their logs joining the open windows of their containers."""
    new_ids: list[int] = []
    collector = held.collector or Collector()
    folder = LogFolder(window_minutes=window_minutes, path=source, saved=held.folding)
    made = list(chunk_more(_new_records(records, set(held.known.tolist()), new_ids, stats, collector), folder, source))
    kept = [chunk for chunk in held.chunks if chunk.id not in folder.retired]
    ids = {chunk.id for chunk in kept}
    fresh = []
    for chunk in made:
        if chunk.id not in ids:
            ids.add(chunk.id)
            fresh.append(chunk)
    removed = [row for row, chunk in enumerate(held.chunks) if chunk.id in folder.retired]
    stats.chunks_added, stats.chunks_replaced, stats.chunks_total = len(fresh), len(removed), len(kept) + len(fresh)
    return _Change(held, kept, fresh, removed, new_ids, collector, folder.state())


def _add(writer: versions.Writer, records: Iterable[dict], embedder: Embedder, backend: str, source: str | None,
         window_minutes: float, progress: Callable[[int], None] | None) -> BuildStats:
    held = _Held.read(writer.base)
    if held.manifest:
        _check_compatible(held.manifest, backend, embedder, writer.directory)
    stats = BuildStats()
    change = _change(held, records, stats, source, window_minutes)
    if held.manifest and not change.new_ids:
        return stats
    with writer.next_version() as staging:
        _write_chunks(staging, writer.base, change)
        computed_before = embedder.computed
        vectors = embedder.embed([chunk.text for chunk in change.fresh], progress)
        stats.embedded = embedder.computed - computed_before
        manifest = held.manifest
        dim = int(vectors.shape[1]) if len(vectors) else int(manifest["dim"]) if manifest else embedder.dim
        store = _dense_store(backend, staging, writer.base, dim, manifest)
        store.remove(change.removed_rows)
        store.add(vectors)
        store.save(staging)
        Lexical.build([chunk.text for chunk in [*change.kept, *change.fresh]]).save(staging)
        # The saved facts and the new records diagnosed together; an index from before they were saved merges.
        findings = findings_of(change.collector)
        if manifest and held.collector is None:
            findings = combined(read_findings(writer.base), findings)
        write_findings(staging, findings)
        if embedder.cache and findings:  # what `ask` compares each question with, embedded now, not on a first question
            embedder.embed([finding.description for finding in findings])
        save_collector(staging, change.collector)
        write_changes(staging, list(change.collector.changes))
        stats.findings = len(findings)
        known = np.sort(np.concatenate([held.known, np.array(change.new_ids, dtype=np.uint64)]))
        np.save(staging / RECORD_IDS, known)
        folding = {"format": FOLDING_FORMAT, "containers": change.folding}
        atomic.write_text(staging / FOLDING, json.dumps(folding, ensure_ascii=False))
        sources = sorted(set((manifest or {}).get("sources", [])) | ({source} if source else set()))
        atomic.write_json(staging / MANIFEST, {
            "format": FORMAT,
            "backend": backend,
            "embedding_model": embedder.model_id,
            "dim": dim,
            "dense": store.describe(),
            "lexical": "bm25s",
            "findings": FINDINGS,
            "changes": CHANGES,
            "fusion": "reciprocal rank fusion (k=60)",
            "chunks": stats.chunks_total,
            "records": len(known),
            "window_minutes": window_minutes,
            "sources": sources,
            "updated": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        })
    return stats


def _write_chunks(staging: Path, base: Path | None, change: _Change) -> None:
    """chunks.jsonl: the old file copied and the new chunks appended, or rewritten when some were replaced."""
    if base and change.held.manifest and not change.removed_rows:
        shutil.copyfile(base / CHUNKS, staging / CHUNKS)
        written = change.fresh
    else:
        written = [*change.kept, *change.fresh]
    with (staging / CHUNKS).open("a", encoding="utf-8") as handle:
        handle.writelines(json.dumps(chunk.to_json(), ensure_ascii=False) + "\n" for chunk in written)
