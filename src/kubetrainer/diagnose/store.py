"""Findings on disk: `findings.jsonl` beside an index's chunks, so `ask` reads the diagnosis it was built with, and
`changes.jsonl`, the changes recorded in the same records, so `ask` can say what changed."""

from __future__ import annotations

import json
from pathlib import Path

from kubetrainer import atomic, versions
from kubetrainer.diagnose.changes import Change
from kubetrainer.diagnose.engine import merge
from kubetrainer.diagnose.finding import Finding

FINDINGS = "findings.jsonl"
CHANGES = "changes.jsonl"


def read_findings(directory: Path) -> list[Finding]:
    """The findings stored in an index directory's current version (none for an index built before findings existed)."""
    return [Finding.from_json(value) for value in _read(directory, FINDINGS)]


def write_findings(directory: Path, findings: list[Finding]) -> None:
    _write(directory, FINDINGS, [finding.to_json() for finding in findings])


def read_changes(directory: Path) -> list[Change]:
    """The changes stored in an index directory's current version, oldest first (none before they were stored)."""
    return [Change.from_json(value) for value in _read(directory, CHANGES)]


def write_changes(directory: Path, changes: list[Change]) -> None:
    _write(directory, CHANGES, [change.to_json() for change in sorted(changes, key=lambda c: c.evidence.ts or "")])


def _read(directory: Path, name: str) -> list[dict]:
    path = versions.current(directory) / name
    if not path.is_file():
        return []
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _write(directory: Path, name: str, values: list[dict]) -> None:
    atomic.write_text(Path(directory) / name, "".join(json.dumps(value, ensure_ascii=False) + "\n" for value in values))


def combined(held: list[Finding], fresh: list[Finding]) -> list[Finding]:
    """Findings of an index grown by new records: the same finding seen again gains evidence, not a twin.

    Each batch is diagnosed on its own, so a cause whose status and events arrive in
    different batches is reported from each; rebuilding the index from all records
    diagnoses them together.
    """
    return sorted(merge([*held, *fresh]), key=Finding.sort_key)
