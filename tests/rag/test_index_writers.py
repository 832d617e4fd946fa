"""Index writers: one at a time, versions switched atomically, crashes recovered, old layouts still read."""

from __future__ import annotations

import multiprocessing
import os
import random
import shutil
import signal
import threading
from pathlib import Path

import numpy as np
import pytest

from kubetrainer import versions
from kubetrainer.errors import UserError
from kubetrainer.rag.embed import Embedder
from kubetrainer.rag.index import FOLDING, LEGACY, RECORD_IDS, build_index, id_prefix, read_manifest
from kubetrainer.rag.retriever import Retriever
from tests.rag.writers import check, read, records, write

KILLS = 16
KILL_IN = ("kubetrainer/", "kubetrainer/versions.py")  # half the kill points anywhere in a build, half in its switch


@pytest.fixture()
def embedder(tiny_model: Path, tmp_path: Path) -> Embedder:
    return Embedder(tiny_model, cache_dir=tmp_path / "cache")


def held_ids(index: Path) -> set[int]:
    return {int(value) for value in np.load(versions.current(index) / RECORD_IDS)}


def test_a_second_writer_is_refused_with_the_pid_or_waits(embedder: Embedder, tiny_model: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    build_index(index, records("a", 3), embedder)
    release, holding = threading.Event(), threading.Event()

    def hold() -> None:
        with versions.writing(index, what="index"):
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait(10)
    with pytest.raises(UserError, match=rf"index {index} is being written by PID {os.getpid()}") as refused:
        build_index(index, records("b", 3), embedder)
    assert "--wait" in refused.value.render()
    def own_embedder() -> None:  # SQLite: one connection per thread
        build_index(index, records("b", 3), Embedder(tiny_model, cache_dir=tmp_path / "cache"), wait=True)

    waited = threading.Thread(target=own_embedder)
    waited.start()
    waited.join(0.5)
    assert waited.is_alive()  # blocked on the lock, not refused
    release.set()
    holder.join()
    waited.join(30)
    assert read_manifest(index)["records"] == 6


def test_an_index_from_before_versions_is_read_then_migrated(embedder: Embedder, tmp_path: Path) -> None:
    index = tmp_path / "index"
    build_index(index, records("old", 4), embedder)
    version = versions.current(index)
    for path in version.iterdir():  # the layout before versions: the files at the top level
        path.rename(index / path.name)
    version.rmdir()
    (index / versions.POINTER).unlink()
    (index / FOLDING).unlink()  # newer than versions
    assert len(Retriever.open(index, embedder=embedder).chunks) == 4
    build_index(index, records("new", 2), embedder)
    assert (index / "manifest.json").exists()  # the old files stay while a reader may still read them
    build_index(index, records("newer", 2), embedder)
    assert not [pattern for pattern in LEGACY if list(index.glob(pattern))]
    assert sorted(path.name for path in index.iterdir()) == [".lock", "CURRENT", "v-000001", "v-000002"]
    assert check(Retriever.open(index, embedder=embedder)) is None and read_manifest(index)["records"] == 8


def test_leftovers_of_interrupted_switches_are_recovered(embedder: Embedder, tmp_path: Path) -> None:
    index = tmp_path / "index"
    build_index(index, records("a", 3), embedder)
    # The old swap died between its two renames: only `.index.old-PID` holds the index.
    index.rename(tmp_path / ".index.old-4242")
    (tmp_path / ".index.x1y2.tmp").mkdir()
    assert len(Retriever.open(index, embedder=embedder).chunks) == 3
    # A writer died after naming its version and before switching to it, another while staging.
    shutil.copytree(versions.current(index), index / "v-000002")
    (index / f"{versions.STAGING_PREFIX}4242").mkdir()
    (index / versions.POINTER).write_text("v-000009\n")  # and a pointer to nothing reads the newest complete one
    assert Retriever.open(index, embedder=embedder).directory.name == "v-000002"
    (index / versions.POINTER).write_text("v-000001\n")
    build_index(index, records("b", 2), embedder)
    assert sorted(path.name for path in index.iterdir()) == [".lock", "CURRENT", "v-000001", "v-000002"]
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".index")] == []
    assert read_manifest(index)["records"] == 5


def _forkserver() -> multiprocessing.context.BaseContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["tests.rag.writers"])
    return context


def _added(queue: multiprocessing.queues.Queue) -> set[int]:
    kind, record_ids, _calls = queue.get(timeout=10)
    assert kind == "added"
    return {id_prefix(record_id) for record_id in record_ids}


def test_writers_killed_at_random_points_never_leave_readers_an_incomplete_index(
        embedder: Embedder, tiny_model: Path, tmp_path: Path) -> None:
    """SIGKILL at a random Python or C call of a build, again and again, while two processes open and query it."""
    index, cache = tmp_path / "index", tmp_path / "cache"
    batches = [records(f"b{n}x", 3) for n in range(KILLS + 3)]
    embedder.embed([record["message"] for batch in batches for record in batch])  # the children only read vectors
    build_index(index, batches[0], embedder)
    context = _forkserver()
    acks, results, stop = context.Queue(), context.Queue(), context.Event()
    calls = {}  # how many calls a whole build makes from all of kubetrainer, and from the switch's module
    for where, batch in zip(KILL_IN, batches[1:3]):
        calibrate = context.Process(target=write, args=(index, tiny_model, cache, [batch], (where, 0), acks))
        calibrate.start()
        calibrate.join(60)
        calls[where] = acks.get(timeout=10)[2]
    acknowledged = {id_prefix(record["id"]) for record in batches[0] + batches[1] + batches[2]}
    readers = [context.Process(target=read, args=(index, stop, results)) for _ in range(2)]
    for reader in readers:
        reader.start()
    rng, killed = random.Random(16), 0
    for number, batch in enumerate(batches[3:]):
        where = KILL_IN[number % 2]
        kill_at = (where, rng.randint(1, calls[where]))
        writer = context.Process(target=write, args=(index, tiny_model, cache, [batch], kill_at, acks))
        writer.start()
        writer.join(60)
        killed += writer.exitcode == -signal.SIGKILL
        if writer.exitcode == 0:
            acknowledged |= _added(acks)
    stop.set()
    reports = [results.get(timeout=60) for _ in readers]
    assert [problem for _, _, problem in reports] == [None, None]
    assert all(opened >= KILLS for _, opened, _ in reports), reports
    assert killed >= KILLS // 2 and acknowledged <= held_ids(index)
    build_index(index, records("after", 1), embedder)  # the next writer cleans what the killed ones left
    assert len(list(index.iterdir())) == 4 and check(Retriever.open(index, embedder=embedder)) is None


def test_racing_writers_that_wait_lose_no_acknowledged_record(embedder: Embedder, tiny_model: Path,
                                                              tmp_path: Path) -> None:
    index, cache = tmp_path / "index", tmp_path / "cache"
    batches = {name: [records(f"{name}{n}x", 2) for n in range(5)] for name in ("p", "q")}
    embedder.embed([record["message"] for runs in batches.values() for batch in runs for record in batch])
    build_index(index, records("start", 1), embedder)
    context = _forkserver()
    acks = context.Queue()
    writers = [context.Process(target=write, args=(index, tiny_model, cache, runs, ("", 0), acks))
               for runs in batches.values()]
    for writer in writers:
        writer.start()
    acknowledged = set().union(*(_added(acks) for _ in range(10)))
    for writer in writers:
        writer.join(60)
    assert [writer.exitcode for writer in writers] == [0, 0]
    assert len(acknowledged) == 20 and acknowledged <= held_ids(index)
    assert read_manifest(index)["records"] == 21
