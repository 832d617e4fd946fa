"""A directory replaced as a whole: one writer at a time, versions switched by one atomic pointer.

Layout of `<dir>/`: `CURRENT` names the live version (`v-000007`); each `v-N/` is a complete
version that is never changed once it is named; `.lock` is the writers' advisory lock
(`fcntl.flock`, released by the kernel when its holder dies, even by SIGKILL) and holds the
PID of the writer. A writer builds the next version in `.next-PID/`, fsyncs every file in it,
renames it to `v-N`, fsyncs `<dir>`, then replaces `CURRENT` (temp file, fsync, rename, fsync
of `<dir>`): whatever instant it dies at, `CURRENT` names a complete version. Readers resolve
`CURRENT` once per open and read only that version; the version before it is kept until the
next switch, so a reader that resolved it just before a switch can finish. The next writer
removes what an interrupted one left (its `.next-*`, a `v-N` it never switched to).

A directory from before versions (its files at the top level, named by `legacy`) is read as it
is, and is the previous version after the first switch. A directory the old swap (rename the
old one away, then the new one in) lost between its two renames is restored from `.NAME.old-PID`.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from kubetrainer import atomic
from kubetrainer.errors import UserError

POINTER = "CURRENT"
LOCK = ".lock"
STAGING_PREFIX = ".next-"
_VERSION = re.compile(r"v-(\d{6,})")


def sync_dir(path: Path) -> None:
    """fsync a directory, so the renames and new names in it survive a power loss."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_tree(root: Path) -> None:
    """fsync every file and directory under `root` (libraries write without fsync)."""
    for folder, _dirs, files in os.walk(root):
        for name in files:
            fd = os.open(Path(folder) / name, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        sync_dir(Path(folder))


def _number(path: Path) -> int | None:
    match = _VERSION.fullmatch(path.name)
    return int(match.group(1)) if match and path.is_dir() else None


def _versions(directory: Path) -> dict[int, Path]:
    return {number: path for path in directory.iterdir() if (number := _number(path)) is not None}


def _pointed(directory: Path) -> Path | None:
    """The version `CURRENT` names, if it names one that exists."""
    try:
        name = (directory / POINTER).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return directory / name if _VERSION.fullmatch(name) and (directory / name).is_dir() else None


def _restore_lost(directory: Path) -> None:
    """The old swap died between its renames: the complete previous directory waits as `.NAME.old-PID`."""
    if directory.exists() or not directory.parent.is_dir():
        return
    retired_dirs = directory.parent.glob(f".{directory.name}.old-*")
    for retired in sorted(retired_dirs, key=lambda path: path.stat().st_mtime, reverse=True):
        try:
            os.rename(retired, directory)
            sync_dir(directory.parent)
            return
        except FileNotFoundError:  # another process restored it first
            continue


def current(directory: Path) -> Path:
    """The directory a reader reads: the version `CURRENT` names, else `directory` itself (before versions).

    Resolve once per open and read everything from the result: a writer may switch meanwhile.
    """
    directory = Path(directory)
    _restore_lost(directory)
    if not directory.is_dir():
        return directory
    pointed = _pointed(directory)
    if pointed is not None:
        return pointed
    versions = _versions(directory) if (directory / POINTER).exists() else {}
    return versions[max(versions)] if versions else directory  # a pointer to nothing: the newest complete one


def _holder(lock: Path) -> str:
    try:
        pid = lock.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        pid = ""
    return f"PID {pid}" if pid.isdigit() else "another process"


@contextmanager
def _locked(directory: Path, what: str, wait: bool) -> Iterator[None]:
    path = directory / LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES):
                raise
            raise UserError(f"{what} {directory} is being written by {_holder(path)}",
                            expected="one writer at a time", hint="wait for it to finish, or pass --wait") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


@dataclass
class Writer:
    """The lock held on `directory`; `base` is the version to build on (None: nothing yet)."""

    directory: Path
    legacy: tuple[str, ...]
    base: Path | None

    @contextmanager
    def next_version(self) -> Iterator[Path]:
        """A staging directory; on a clean exit it becomes the current version, on an exception it is removed."""
        staging = self.directory / f"{STAGING_PREFIX}{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        try:
            yield staging
            sync_tree(staging)
            numbers = _versions(self.directory)
            target = self.directory / f"v-{max(numbers, default=0) + 1:06d}"
            os.rename(staging, target)
            sync_dir(self.directory)
            atomic.write_text(self.directory / POINTER, target.name + "\n")
            sync_dir(self.directory)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        previous, self.base = self.base, target
        _clean(self.directory, self.legacy, keep={target, previous})


def _clean(directory: Path, legacy: tuple[str, ...], keep: set[Path | None]) -> None:
    """Remove what no reader can be using: staging and unswitched versions, versions before the previous one."""
    for path in directory.iterdir():
        stale_version = _number(path) is not None and path not in keep
        pointer_temp = path.name.startswith(f".{POINTER}.") and path.name.endswith(".tmp")
        staging = path.name.startswith(STAGING_PREFIX) or pointer_temp
        if stale_version or staging:
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    if directory not in keep:
        for pattern in legacy:
            for path in directory.glob(pattern):
                shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    parent, name = directory.parent, directory.name
    for leftover in [*parent.glob(f".{name}.old-*"), *parent.glob(f".{name}.*.tmp")]:
        shutil.rmtree(leftover, ignore_errors=True)


@contextmanager
def writing(directory: Path, *, what: str, legacy: tuple[str, ...] = (), wait: bool = False) -> Iterator[Writer]:
    """Hold `directory`'s writer lock (waiting for it when `wait`, else UserError naming the holder's PID).

    On entry, what an interrupted writer left is cleaned up; `Writer.next_version` makes the next version.
    """
    directory = Path(directory)
    _restore_lost(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with _locked(directory, what, wait):
        started = (directory / POINTER).exists() or any(directory.glob(pattern) for pattern in legacy)
        base = current(directory) if started else None
        _clean(directory, legacy, keep={base, _before(directory, base)})
        yield Writer(directory, legacy, base)


def _before(directory: Path, base: Path | None) -> Path | None:
    """The version a reader may still be reading besides `base`: the newest older one, else the top level."""
    if base is None or base == directory:
        return None
    numbers = _versions(directory)
    older = [number for number in numbers if number < (_number(base) or 0)]
    return numbers[max(older)] if older else directory
