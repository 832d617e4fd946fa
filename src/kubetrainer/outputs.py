"""Outputs a user names (`--out`): never delete or overwrite what KubeTrainer did not write.

Every `--out` goes through `claim` before any work starts: a path that does not exist, or
an empty directory, is taken; an existing file or a directory that holds something is
refused unless `--force`. Writers then fill it with `atomic.entries` (directories) or
`atomic.write_*` (files), which replace only the entries they write, so even with
`--force` the rest of the directory stays as it was.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from kubetrainer.errors import UserError

FORCE_HINT = "pass --force to replace only the files this command writes there"


def claim(path: Path, *, force: bool, flag: str = "--out", kind: Literal["directory", "file"] = "directory") -> Path:
    """The absolute output path, after refusing one that holds something else (unless `force`)."""
    resolved = Path(path).expanduser().resolve()
    where = f"{flag} {path}"
    if kind == "file":
        if resolved.is_dir():
            raise UserError("is a directory", where=where, expected="the path of a file to write")
        if resolved.exists() and not force:
            raise UserError("already exists", where=where, expected="a new file", hint="pass --force to replace it")
        return resolved
    if force or not resolved.exists():
        return resolved
    if not resolved.is_dir():
        raise UserError("is an existing file", where=where, expected="a new or empty directory", hint=FORCE_HINT)
    if any(resolved.iterdir()):
        raise UserError("is a directory that already holds files", where=where, expected="a new or empty directory",
                        hint=FORCE_HINT)
    return resolved
