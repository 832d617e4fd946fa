"""The one home of a `kubectl cluster-info dump` tree: where its files lie and how a list file becomes objects.

Two readers share it. The GPU inventory (`hardware.readers`) reads a dump strictly: the
user pointed us at it, so a broken file stops the read with a `UserError` naming
file:line:col. The records reader (`sources.dump`) reads leniently: in a dump of
thousands of files one truncated write should cost that file, not the whole index, so it
is reported through `Problems` and skipped. The policy is a parameter (`strict` or
`Lenient`); the layout and the parsing are the same code, so the readers cannot drift.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from kubetrainer.errors import UserError
from kubetrainer.sources.base import Problems

NODES_FILE = "nodes.json"
LOGS_FILE = "logs.txt"
# The per-namespace lists the dump writes, in the order they are read, each with the kind of its items.
NAMESPACE_LISTS = {
    "events": "Event",
    "pods": "Pod",
    "services": "Service",
    "deployments": "Deployment",
    "replicasets": "ReplicaSet",
    "daemonsets": "DaemonSet",
    "replication-controllers": "ReplicationController",
    "statefulsets": "StatefulSet",
    "jobs": "Job",
}


class BadFile(UserError):
    """A file (or one item of it) that is not what `kubectl` writes.

    `what` and `where` are for the user who must fix it (the strict policy raises this as
    it is); `note` is the shorter line a lenient read puts in its list of skipped inputs.
    """

    def __init__(self, what: str, *, path: Path, where: str | None = None, expected: str | None = None,
                 note: str | None = None) -> None:
        super().__init__(what, where=where or path, expected=expected)
        self.path = path
        self.note = note or what


OnBadFile = Callable[[BadFile], None]


def strict(error: BadFile) -> None:
    """Stop the read: input the user pointed us at is fixed by them, never half-used."""
    raise error


@dataclass(frozen=True)
class Lenient:
    """Report the broken file (or item) to `problems` and go on without it."""

    problems: Problems

    def __call__(self, error: BadFile) -> None:
        self.problems.skip(error.path, error.note)


def is_dump(path: Path) -> bool:
    """A directory that looks like a cluster-info dump (nodes.json or namespace dirs with pods.json)."""
    return path.is_dir() and (nodes_file(path).is_file() or any(list_files(path, "pods")))


def nodes_file(root: Path) -> Path:
    return root / NODES_FILE


def namespace_dirs(root: Path) -> list[Path]:
    """One directory per namespace, sorted so every read of a dump meets its objects in the same order."""
    return sorted(path for path in root.iterdir() if path.is_dir())


def namespace_lists(namespace_dir: Path, names: Collection[str] = tuple(NAMESPACE_LISTS)) -> Iterator[tuple[str, Path]]:
    """(item kind, path) of each of the `names` lists this namespace has, in `NAMESPACE_LISTS` order."""
    for name, kind in NAMESPACE_LISTS.items():
        if name in names and (path := namespace_dir / f"{name}.json").is_file():
            yield kind, path


def list_files(root: Path, name: str) -> Iterator[Path]:
    """The `name` list (e.g. "pods") of every namespace that has one, in namespace order."""
    for namespace_dir in namespace_dirs(root):
        yield from (path for _, path in namespace_lists(namespace_dir, (name,)))


def log_files(namespace_dir: Path) -> list[Path]:
    """Each pod's `<pod>/logs.txt` in this namespace (absent with `kubectl cluster-info dump` for no pods)."""
    return sorted(namespace_dir.glob(f"*/{LOGS_FILE}"))


def read_objects(path: Path, kind: str, on_bad: OnBadFile, lone_kinds: Collection[str] = ()) -> list[dict[str, Any]]:
    """The objects a file holds (a List, a typed list, a bare JSON array, or one object), each with a kind.

    API list responses leave `kind` off their items, so an item without one takes the
    list's kind ("NodeList" -> "Node") or `kind`. A lone object is accepted when its kind
    is `kind` or one of `lone_kinds`. A file `on_bad` lets pass gives no objects; an item
    it lets pass is left out.
    """
    try:
        items, item_kind = _items(load_document(path, kind), path, kind, {kind, *lone_kinds})
    except BadFile as error:
        on_bad(error)
        return []
    objects = []
    for position, item in enumerate(items):
        if isinstance(item, dict) and isinstance((item.get("metadata") or {}).get("name"), str):
            item.setdefault("kind", item_kind)
            objects.append(item)
        else:
            on_bad(BadFile(f"item {position} is not a Kubernetes object with metadata.name", path=path,
                           expected="objects as `kubectl get -o json` prints them"))
    return objects


def _items(data: Any, path: Path, kind: str, lone_kinds: Collection[str]) -> tuple[list[Any], str]:
    """The items of a parsed file and the kind an item without one takes."""
    if isinstance(data, dict) and isinstance(data.get("items"), list):
        list_kind = str(data.get("kind") or "")
        return data["items"], list_kind.removesuffix("List") if list_kind not in ("", "List") else kind
    if isinstance(data, dict) and data.get("kind") in lone_kinds:
        return [data], kind
    if isinstance(data, list):
        return data, kind
    raise BadFile("not a Kubernetes object or list", path=path,
                  expected=f"a List/{kind}List with `items`, a JSON array of {kind}s, or one {kind}")


def load_document(path: Path, kind: str) -> Any:
    """The parsed file: YAML by its suffix, else JSON through orjson (a 5,000-node dump is ~75 MB: 2-3x faster).

    `kind` only words what a broken file was expected to hold.
    """
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise BadFile(f"cannot read the file: {error.strerror}", path=path) from error
    if path.suffix in (".yaml", ".yml"):
        return _load_yaml(raw, path, kind)
    try:
        return orjson.loads(raw)
    except json.JSONDecodeError as error:  # orjson's error is a subclass, with the same line and column
        raise _json_error(raw, path, kind, error) from error


def _json_error(raw: bytes, path: Path, kind: str, error: json.JSONDecodeError) -> BadFile:
    """Binary data named as such (a copied core file, say), else the line and column of the syntax error."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return BadFile("not UTF-8 text (binary data?)", path=path, expected=f"a Kubernetes {kind} list in JSON")
    return BadFile(f"not valid JSON ({error.msg})", path=path, where=f"{path}:{error.lineno}:{error.colno}",
                   expected=f"a Kubernetes List, {kind}List or {kind} object",
                   note=f"invalid JSON at line {error.lineno} ({error.msg})")


def _load_yaml(raw: bytes, path: Path, kind: str) -> Any:
    import yaml  # only a nodes file a user wrote by hand is YAML; dumps never are

    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError as error:
        line = getattr(getattr(error, "problem_mark", None), "line", None)
        raise BadFile(f"not valid YAML ({getattr(error, 'problem', error)})", path=path,
                      where=f"{path}:{line + 1}" if line is not None else None,
                      expected=f"a Kubernetes List or {kind} in YAML") from error
