"""Index building: both backends, the embedding cache, incremental adds, interruption, filters, HNSW switch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kubetrainer.errors import UserError
from kubetrainer.rag import Retriever, dense
from kubetrainer.rag.embed import Embedder
from kubetrainer.rag.index import build_index, read_manifest, resolve_index
from kubetrainer.records import make_record


def _text(prefix: str, i: int, namespace: str = "web", node: str = "cpu-0") -> str:
    """A record's text; searching for it exactly ranks its chunk first in both dense and BM25 lists."""
    return f"Pod {namespace}/{prefix}-{i} on node {node}: phase Running; {prefix} marker{i}"


def _records(prefix: str, count: int, namespace: str = "web", node: str = "cpu-0", hour: int = 10) -> list[dict]:
    out = []
    for i in range(count):
        out.append(make_record("object", f"2026-03-14T{hour:02d}:{i % 60:02d}:00Z", "dump", _text(prefix, i, namespace, node),
                               namespace=namespace, node=node, pod=f"{prefix}-{i}", object={"apiVersion": "v1", "kind": "Pod", "name": f"{prefix}-{i}", "namespace": namespace, "summary": "s"}))
    return out


@pytest.fixture()
def embedder(tiny_model: Path, tmp_path: Path) -> Embedder:
    return Embedder(tiny_model, cache_dir=tmp_path / "cache")


@pytest.mark.parametrize("backend", ["faiss", "chroma"])
def test_build_search_and_add_incrementally(backend: str, embedder: Embedder, tmp_path: Path) -> None:
    index = tmp_path / "index"
    first = build_index(index, _records("alpha", 20), embedder, backend=backend, source="s1")
    assert (first.records_added, first.chunks_added, first.embedded) == (20, 20, 20)
    hits = Retriever.open(index, embedder=embedder).search(_text("alpha", 7), top_k=3)
    assert hits[0].source["name"] == "alpha-7" and hits[0].rank == 1
    again = build_index(index, _records("alpha", 20), embedder, backend=backend)
    assert (again.records_added, again.records_skipped, again.chunks_added) == (0, 20, 0)
    more = build_index(index, _records("alpha", 20) + _records("beta", 5, namespace="data", node="cpu-1"), embedder, backend=backend, source="s2")
    assert (more.records_added, more.records_skipped, more.chunks_total) == (5, 20, 25)
    manifest = read_manifest(index)
    assert manifest["backend"] == backend and manifest["chunks"] == 25 and manifest["records"] == 25 and manifest["sources"] == ["s1", "s2"]
    retriever = Retriever.open(index, embedder=embedder)
    assert retriever.dense.describe()["vectors"] == 25
    found = retriever.search(_text("beta", 3, "data", "cpu-1"), top_k=5, filters={"namespace": "data"})
    assert found and {h.source["namespace"] for h in found} == {"data"} and found[0].source["name"] == "beta-3"
    assert {h.source["node"] for h in retriever.search("marker", top_k=30, filters={"node": ["cpu-1"]})} == {"cpu-1"}
    assert retriever.search("marker", top_k=5, filters={"namespace": "nowhere"}) == []


def test_reindexing_unchanged_text_embeds_nothing(embedder: Embedder, tmp_path: Path) -> None:
    build_index(tmp_path / "one", _records("gamma", 10), embedder)
    computed = embedder.computed
    second = build_index(tmp_path / "two", _records("gamma", 10), embedder)
    assert second.chunks_added == 10 and second.embedded == 0 and embedder.computed == computed
    a = Retriever.open(tmp_path / "one", embedder=embedder).dense.index.reconstruct_n(0, 10)
    b = Retriever.open(tmp_path / "two", embedder=embedder).dense.index.reconstruct_n(0, 10)
    assert np.array_equal(a, b)


def test_an_interrupted_build_leaves_the_previous_index_usable(embedder: Embedder, tmp_path: Path) -> None:
    index = tmp_path / "index"
    build_index(index, _records("delta", 8), embedder)
    before = sorted(p.name for p in index.iterdir())

    def interrupt(_done: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_index(index, _records("epsilon", 8), embedder, progress=interrupt)
    assert sorted(p.name for p in index.iterdir()) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".index")]
    retriever = Retriever.open(index, embedder=embedder)
    assert len(retriever.chunks) == 8 and retriever.search(_text("delta", 2), top_k=1)[0].source["name"] == "delta-2"


def test_time_and_kind_filters_and_bad_filters(embedder: Embedder, tmp_path: Path) -> None:
    build_index(tmp_path / "i", _records("early", 5, hour=8) + _records("late", 5, hour=15), embedder)
    retriever = Retriever.open(tmp_path / "i", embedder=embedder)
    late = retriever.search("marker", top_k=20, filters={"since": "2026-03-14T12:00:00Z"})
    assert {h.source["name"].split("-")[0] for h in late} == {"late"}
    early = retriever.search("marker", top_k=20, filters={"until": "2026-03-14T09:00:00Z", "kind": "object"})
    assert {h.source["name"].split("-")[0] for h in early} == {"early"}
    with pytest.raises(UserError):
        retriever.search("marker", filters={"colour": "red"})
    with pytest.raises(UserError):
        retriever.search("marker", filters={"since": "last tuesday"})
    with pytest.raises(UserError):
        retriever.search("   ")


def test_faiss_switches_to_hnsw_when_large_and_records_it(embedder: Embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dense, "HNSW_THRESHOLD", 12)
    build_index(tmp_path / "i", _records("small", 10), embedder)
    assert read_manifest(tmp_path / "i")["dense"]["structure"] == "flat"
    build_index(tmp_path / "i", _records("grown", 10), embedder)
    manifest = read_manifest(tmp_path / "i")
    assert manifest["dense"]["structure"] == "hnsw" and manifest["dense"]["vectors"] == 20
    retriever = Retriever.open(tmp_path / "i", embedder=embedder)
    assert retriever.search(_text("grown", 4), top_k=1)[0].source["name"] == "grown-4"
    assert {h.source["name"] for h in retriever.search("marker", top_k=3, filters={"namespace": "web"})}


def test_mismatched_backend_or_model_and_missing_index_are_user_errors(embedder: Embedder, tiny_model: Path, tmp_path: Path) -> None:
    build_index(tmp_path / "i", _records("x", 3), embedder)
    with pytest.raises(UserError, match="faiss"):
        build_index(tmp_path / "i", _records("y", 3), embedder, backend="chroma")
    with pytest.raises(UserError, match="embedded with"):
        build_index(tmp_path / "i", _records("y", 3), Embedder(str(tiny_model) + "/", cache_dir=tmp_path / "c"))
    with pytest.raises(UserError, match="no index"):
        Retriever.open(tmp_path / "absent")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "manifest.json").write_text("{not json")
    with pytest.raises(UserError, match="manifest"):
        Retriever.open(tmp_path / "bad")
    assert read_manifest(tmp_path / "i")["records"] == 3


def test_resolve_index_names_and_paths(tmp_path: Path) -> None:
    assert resolve_index(None, tmp_path) == tmp_path / "default"
    assert resolve_index("prod", tmp_path) == tmp_path / "prod"
    assert resolve_index("./vector_index/", tmp_path) == (Path.cwd() / "vector_index").resolve()


def test_records_added_in_batches_are_diagnosed_as_one(embedder: Embedder, tmp_path: Path) -> None:
    """A crash loop whose status arrives in one batch and its log line in the next (as `/v1/ingest` delivers them)
    is explained by that line, exactly as when all records are indexed at once."""
    from kubetrainer.diagnose.store import read_findings
    from tests.diagnose.cluster import container, log, pod

    status = pod("token-1", "identity", containers=[container(waiting=("CrashLoopBackOff", "back-off 5m0s"),
                                                              last=("Error", 2), restarts=9)])
    lines = [log("token-1", "panic: runtime error: invalid memory address or nil pointer dereference", "identity"),
             log("token-1", "goroutine 1 [running]:", "identity", ts="2026-03-14T10:00:01Z")]
    build_index(tmp_path / "once", [status, *lines], embedder)
    build_index(tmp_path / "batches", [status], embedder)
    build_index(tmp_path / "batches", lines, embedder)

    def causes(name: str) -> list[tuple[str, str]]:
        return [(finding.rule, finding.cause) for finding in read_findings(tmp_path / name)]

    assert causes("batches") == causes("once")
    assert [rule for rule, _ in causes("once")] == ["crash-loop"] and "panicked" in causes("once")[0][1]


@pytest.mark.parametrize("backend", ["faiss", "chroma"])
def test_logs_added_in_batches_join_their_open_windows(backend: str, embedder: Embedder, tmp_path: Path) -> None:
    """Batches (as `/v1/ingest` adds them) end with the chunks one build of all the records makes."""
    from tests.rag.test_chunking import _mixed_logs

    logs = _mixed_logs(200)
    records = [*logs[:100], *_records("pod", 3), *logs[100:]]  # rows of windows made again before and after the pods
    build_index(tmp_path / "once", records, embedder, backend=backend)
    replaced = 0
    for start in range(0, len(records), 20):
        stats = build_index(tmp_path / "batches", records[start:start + 20], embedder, backend=backend)
        replaced += stats.chunks_replaced
    once, batches = (Retriever.open(tmp_path / name, embedder=embedder) for name in ("once", "batches"))
    assert sorted(chunk.text for chunk in batches.chunks) == sorted(chunk.text for chunk in once.chunks)
    assert replaced > 0 and batches.dense.describe()["vectors"] == len(batches.chunks) < 25
    for i in range(3):  # the dense rows moved up with their chunks
        assert batches.search(_text("pod", i), top_k=1, mode="dense")[0].source["name"] == f"pod-{i}"


def test_answering_a_question_embeds_only_the_question(embedder: Embedder, tmp_path: Path) -> None:
    from kubetrainer.answer import AnswerEngine
    from kubetrainer.diagnose.store import read_findings

    crash = 'psycopg.OperationalError: connection failed: FATAL:  password authentication failed for user "app"'
    records = _records("delta", 5) + [make_record("log", f"2026-03-14T10:0{i}:00Z", "dump", crash, namespace="web",
                                                  pod="api-1", container="app", node="cpu-0") for i in range(3)]
    build_index(tmp_path / "index", records, embedder)
    retriever = Retriever.open(tmp_path / "index", embedder=embedder)
    engine = AnswerEngine(retriever, read_findings(retriever.directory))
    computed = embedder.computed
    assert engine.answer("why does the api fail to log in to its database?").findings
    assert embedder.computed == computed + 1, "the chunks and the findings' descriptions were embedded when indexed"
