"""Pick the reader for a path: a cluster-info dump, a /var/log/pods tree, or files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from kubetrainer.sources.base import Problems
from kubetrainer.sources.cri import is_pods_dir, read_pods_dir
from kubetrainer.sources.dump import read_dump
from kubetrainer.sources.dump_files import is_dump
from kubetrainer.sources.files import read_files


def records_from_path(path: Path, problems: Problems) -> Iterator[dict]:
    """Redacted records from whatever `path` holds (records JSONL files included)."""
    path = Path(path)
    if is_dump(path):
        return read_dump(path, problems)
    if is_pods_dir(path):
        return read_pods_dir(path, problems)
    return read_files([path], problems)
