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
    path = versions.current(directory) / FINDINGS
    if not path.is_file():
        return []
    with path.open(encoding="utf-8") as handle:
        return [Finding.from_json(json.loads(line)) for line in handle if line.strip()]


def write_findings(directory: Path, findings: list[Finding]) -> None:
    lines = "".join(json.dumps(finding.to_json(), ensure_ascii=False) + "\n" for finding in findings)
    atomic.write_text(Path(directory) / FINDINGS, lines)


def read_changes(directory: Path) -> list[Change]:
    """The changes stored in an index directory's current version, oldest first (none before they were stored)."""
    path = versions.current(directory) / CHANGES
    if not path.is_file():
        return []
    with path.open(encoding="utf-8") as handle:
        return [Change.from_json(json.loads(line)) for line in handle if line.strip()]


def write_changes(directory: Path, changes: list[Change]) -> None:
    ordered = sorted(changes, key=lambda change: change.evidence.ts or "")
    atomic.write_text(Path(directory) / CHANGES, "".join(json.dumps(change.to_json()) + "\n" for change in ordered))


def combined(held: list[Finding], fresh: list[Finding]) -> list[Finding]:
    """Findings of an index grown by new records: the same finding seen again gains evidence, not a twin.

    Each batch is diagnosed on its own, so a cause whose status and events arrive in
    different batches is reported from each; rebuilding the index from all records
    diagnoses them together.
    """
    return sorted(merge([*held, *fresh]), key=Finding.sort_key)
