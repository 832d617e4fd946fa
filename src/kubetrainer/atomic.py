"""Atomic writes: a reader sees the old file or the new one, never half of one.

Everything under the data home is written through these helpers (temp file in the
same directory, fsync, rename), so a crash or Ctrl-C never leaves a truncated
index, checkpoint or report behind. What they create gets the permissions the
process's umask gives, as a plain `open()` or `mkdir` would (not the 0600/0700 of
`tempfile`): a report or an exported model is meant to be read by others.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def _temp_name(path: Path) -> Path:
    """A hidden sibling name no other writer picks (pid and random suffix)."""
    return path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")


def write_bytes(path: Path, data: bytes) -> None:
    """Replace `path` with `data` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_name(path)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies, as for open()
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    """Replace `path` with `text` (UTF-8) atomically."""
    write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, value: Any) -> None:
    """Replace `path` with `value` as indented JSON atomically."""
    write_text(path, json.dumps(value, indent=2, sort_keys=False) + "\n")


def _staging_dir(beside: Path) -> Path:
    staging = _temp_name(beside)
    staging.mkdir(0o777)  # the umask applies, as for mkdir
    return staging


def _swap(new: Path, path: Path) -> None:
    """Put `new` at `path`, whatever `path` was (file, directory or nothing); the old one is removed after."""
    if not path.exists() and not path.is_symlink():
        os.replace(new, path)
        return
    retired = _temp_name(path)
    os.replace(path, retired)
    os.replace(new, path)
    if retired.is_dir() and not retired.is_symlink():
        shutil.rmtree(retired, ignore_errors=True)
    else:
        retired.unlink(missing_ok=True)


@contextmanager
def directory(path: Path) -> Iterator[Path]:
    """Build a directory in a sibling temp dir and swap it into place on success.

    On any exception the temp dir is removed and the previous `path` (if any) is
    left untouched, so an interrupted build never replaces a good result.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = _staging_dir(path)
    try:
        yield staging
        _swap(staging, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


@contextmanager
def entries(path: Path) -> Iterator[Path]:
    """Like `directory`, but into an existing directory: only the entries written are replaced.

    For outputs a user names (`--out`): what else the directory holds is theirs and stays.
    Each top-level entry is swapped in atomically; a failed build changes nothing.
    """
    path = Path(path)
    if not path.is_dir():
        with directory(path) as staging:
            yield staging
        return
    staging = _staging_dir(path / ".kubetrainer-out")
    try:
        yield staging
        for entry in sorted(staging.iterdir()):
            _swap(entry, path / entry.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
