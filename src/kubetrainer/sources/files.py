"""Plain files: records JSONL (agent), Kubernetes YAML manifests, Markdown runbooks, plain-text logs.

Manifests become one `object` record per document (never a Secret: those are
skipped and reported), runbooks one record per section so a retrieved chunk is
a focused piece of advice, and other text files one `log` record per line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import yaml

from kubetrainer.errors import UserError
from kubetrainer.records import format_ts, iter_jsonl, record_id
from kubetrainer.redact_keys import KeyBlock
from kubetrainer.sources.base import Problems, emit, emit_line, scrubbed
from kubetrainer.sources.dump import looks_binary
from kubetrainer.sources.kube import NEVER_READ
from kubetrainer.sources.render import render_configmap, withhold_secrets

RECORDS_SUFFIXES = (".jsonl", ".ndjson")  # the agent's output, or an earlier harvest
MANIFEST_SUFFIXES = (".yaml", ".yml")
RUNBOOK_SUFFIXES = (".md", ".markdown")
_HEADING = re.compile(r"^#{1,6} ")


def read_files(paths: list[Path], problems: Problems) -> Iterator[dict]:
    """Records from files and directories (walked recursively, in sorted order)."""
    for path in paths:
        path = Path(path)
        if not path.exists():
            raise UserError("file not found", where=path, expected="a manifest, runbook or text file, or a directory of them")
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            yield from read_file(file, problems)


def read_file(path: Path, problems: Problems) -> Iterator[dict]:
    if looks_binary(path):
        problems.skip(path, "binary file")
        return
    if path.suffix.lower() in RECORDS_SUFFIXES:
        yield from (scrubbed(record) for record in iter_jsonl(path, on_error=problems.report))
        return
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        problems.skip(path, "not UTF-8 text")
        return
    stamp = format_ts(path.stat().st_mtime)
    suffix = path.suffix.lower()
    if suffix in MANIFEST_SUFFIXES:
        yield from _manifest_records(path, text, stamp, problems)
    elif suffix in RUNBOOK_SUFFIXES:
        yield from _runbook_records(path, text, stamp)
    else:
        block = KeyBlock()
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                yield emit_line(block, "log", stamp, "file", line, id=record_id("file", str(path), str(number)),
                                labels={"path": str(path)})


def _manifest_records(path: Path, text: str, stamp: str, problems: Problems) -> Iterator[dict]:
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError as error:
        problems.skip(path, f"invalid YAML ({str(error).splitlines()[0]})")
        return
    for index, document in enumerate(documents):
        if not isinstance(document, dict):
            continue
        kind = str(document.get("kind", "Unknown"))
        meta = document.get("metadata") or {}
        if kind in NEVER_READ:
            problems.skip(f"{path}#{index}", f"a {kind} manifest (never read)")
            continue
        body = render_configmap(document) if kind == "ConfigMap" else yaml.safe_dump(withhold_secrets(document), sort_keys=False).strip()
        summary = f"{kind} {meta.get('namespace', '') + '/' if meta.get('namespace') else ''}{meta.get('name', '')} manifest from {path.name}:\n{body}"
        yield _file_object(path, index, stamp, str(document.get("apiVersion", "v1")), kind, str(meta.get("name", "")), meta.get("namespace"), summary)


def _runbook_records(path: Path, text: str, stamp: str) -> Iterator[dict]:
    sections: list[list[str]] = [[]]
    for line in text.splitlines():
        if _HEADING.match(line) and sections[-1]:
            sections.append([])
        sections[-1].append(line)
    for index, lines in enumerate(sections):
        body = "\n".join(lines).strip()
        if not body:
            continue
        title = lines[0].lstrip("# ").strip() if _HEADING.match(lines[0]) else path.stem
        summary = f"Runbook {path.name}, section {title!r}:\n{body}"
        yield _file_object(path, index, stamp, "kubetrainer.dev/v1", "Runbook", f"{path.stem}#{index}", None, summary)


def _file_object(path: Path, index: int, stamp: str, api_version: str, kind: str, name: str, namespace: str | None, summary: str) -> dict:
    """The `object` record of one manifest document or runbook section (its id is its place in the file)."""
    return emit(
        "object",
        stamp,
        "file",
        summary,
        id=record_id("file", str(path), str(index)),
        namespace=namespace,
        object={"apiVersion": api_version, "kind": kind, "name": name, "namespace": namespace, "summary": summary},
        labels={"path": str(path)},
    )
