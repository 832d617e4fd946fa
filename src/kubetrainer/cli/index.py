"""`kubetrainer index`: records from any source -> a searchable index under <home>/index/."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated, Optional

import typer

from kubetrainer.cli import app, render
from kubetrainer.cli.state import STATE


@app.command("index")
def index_command(
    source: Annotated[list[Path], typer.Option("--source", help="A cluster-info dump dir, /var/log/pods dir, records JSONL, manifests or runbooks (repeatable).")],
    index: Annotated[Optional[str], typer.Option("--index", help="Index NAME under <home>/index/, or a DIR path.")] = None,
    backend: Annotated[str, typer.Option("--backend", help="faiss (default) or chroma.")] = "faiss",
    embedding_model: Annotated[Optional[str], typer.Option("--embedding-model", help="sentence-transformers name or path (default: bundled all-MiniLM-L6-v2).")] = None,
    window_minutes: Annotated[float, typer.Option("--window-minutes", min=1, help="Log window per chunk.")] = 60.0,
    wait: Annotated[bool, typer.Option("--wait", help="If another process is writing the index, wait for it.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the build summary as JSON.")] = False,
) -> None:
    """Add records to an index (incremental: records already indexed are skipped)."""
    from kubetrainer.errors import UserError
    from kubetrainer.rag.embed import Embedder
    from kubetrainer.rag.index import BuildStats, build_index, read_manifest, resolve_index
    from kubetrainer.sources.auto import records_from_path
    from kubetrainer.sources.base import Problems

    settings = STATE.settings
    directory = resolve_index(index, settings.dir("index"))
    for path in source:
        if not path.exists():
            raise UserError("source not found", where=f"--source {path}", expected="a dump directory, a pods log directory or files")
    problems = Problems()
    embedder = Embedder(embedding_model, cache_dir=settings.dir("cache"))
    with render.progress() as progress:
        task = progress.add_task("embedding new chunks", total=None)
        readable = [(path, records) for path in source if (records := _nonempty(records_from_path(path, problems)))]
        runs = [
            build_index(directory, records, embedder, backend=backend, source=str(path.resolve()),
                        window_minutes=window_minutes, progress=lambda n: progress.advance(task, n), wait=wait)
            for path, records in readable
        ]
    if not runs:
        raise UserError(f"no records could be read from any source ({problems.summary()})", where="--source",
                        expected="a cluster-info dump, a pods log directory, records JSONL, manifests or runbooks")
    totals = BuildStats.total(runs)
    manifest = read_manifest(directory) or {}
    summary = {"index": str(directory), **totals.to_json(), "dense": manifest.get("dense"), "skipped": problems.items}
    if as_json:
        render.print_json(summary)
        return
    render.console.print(
        f"index {directory}: +{totals.records_added} records ({totals.records_skipped} already indexed), "
        f"+{totals.chunks_added} chunks, {totals.chunks_replaced} replaced by grown log windows "
        f"({totals.chunks_total} in all), {totals.embedded} embedded, "
        f"dense {manifest.get('dense', {}).get('backend')}/{manifest.get('dense', {}).get('structure')}"
    )
    for problem in problems.items:
        render.note(f"skipped: {problem}")


def _nonempty(records: Iterable[dict]) -> Iterator[dict] | None:
    """The same records, or None when there are none (the index is not touched for a source that held nothing)."""
    records = iter(records)
    first = next(records, None)
    return None if first is None else itertools.chain([first], records)
