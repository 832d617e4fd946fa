"""Records, schema v1: the one event type every source writes and every stage reads.

A record is a plain dict (DESIGN.md section 4, schemas/record.schema.json), so it
crosses the Python/Rust boundary as one JSON line with no translation layer.
Ids are derived from content, so re-reading the same input yields the same ids
and re-delivery is idempotent downstream (the index skips ids it already has).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from kubetrainer import atomic
from kubetrainer.errors import UserError

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
KINDS = ("log", "event", "object", "metric", "gpu")
SOURCES = ("agent", "dump", "api", "file")
STREAMS = ("stdout", "stderr")
OPTIONAL_FIELDS = (
    "node",
    "namespace",
    "pod",
    "container",
    "stream",
    "object",
    "metrics",
    "labels",
    "redactions",
)
REQUIRED_FIELDS = ("v", "id", "kind", "ts", "source", "message")
OBJECT_FIELDS = ("apiVersion", "kind", "name", "namespace", "uid", "summary")  # uid: events name pods by it
_ID_SEPARATOR = "\x1f"  # ASCII unit separator: cannot collide with ordinary text
ID_HEX_CHARS = 32
# Already in the one form records carry: up to microseconds, no trailing zeros.
_CANONICAL_TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{0,5}[1-9])?Z$")


def record_id(*parts: str) -> str:
    """A stable 32-hex-digit id: sha256 over the parts joined by U+001F, truncated.

    The Rust agent computes the same function, so an event seen by both the agent
    and a dump reader is the same record.
    """
    joined = _ID_SEPARATOR.join(str(part) for part in parts)
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()[:ID_HEX_CHARS]


def format_ts(value: str | datetime | float | int | None) -> str:
    """RFC 3339 UTC with a `Z` suffix, the only timestamp form records carry.

    Accepts a datetime (naive means UTC), epoch seconds, or an ISO 8601 string
    (Kubernetes writes `...Z`, CRI logs write nanoseconds); None means "now".
    """
    if isinstance(value, str) and _CANONICAL_TS.match(value):
        return value
    if value is None:
        moment = datetime.now(timezone.utc)
    elif isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    elif isinstance(value, (int, float)):
        moment = datetime.fromtimestamp(value, timezone.utc)
    else:
        moment = parse_ts(value)
    text = moment.astimezone(timezone.utc).replace(tzinfo=None).isoformat(timespec="microseconds")
    return text.rstrip("0").rstrip(".") + "Z"


def parse_ts(text: str) -> datetime:
    """Parse an ISO 8601 timestamp, tolerating nanosecond fractions (CRI logs)."""
    cleaned = text.strip().replace("Z", "+00:00").replace("z", "+00:00")
    if "." in cleaned:
        head, _, rest = cleaned.partition(".")
        digits = len(rest) - len(rest.lstrip("0123456789"))
        cleaned = f"{head}.{rest[:min(digits, 6)]}{rest[digits:]}"
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError as error:
        raise ValueError(f"not an RFC 3339 timestamp: {text!r}") from error
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def make_record(kind: str, ts: str | datetime | float | None, source: str, message: str, **fields: Any) -> dict:
    """Build a schema-v1 record; the id is derived from content unless `id=` is given.

    Fields that are None are left out, so callers can pass "where known" values
    straight through.
    """
    if kind not in KINDS:
        raise ValueError(f"record kind {kind!r} is not one of {KINDS}")
    if source not in SOURCES:
        raise ValueError(f"record source {source!r} is not one of {SOURCES}")
    explicit_id = fields.pop("id", None)
    unknown = set(fields) - set(OPTIONAL_FIELDS)
    if unknown:
        raise ValueError(f"unknown record fields {sorted(unknown)}; known: {OPTIONAL_FIELDS}")
    present = {name: value for name, value in fields.items() if value is not None}
    if present.get("stream") not in (None, *STREAMS):
        raise ValueError(f"record stream {present['stream']!r} is not one of {STREAMS}")
    if kind == "object" and "object" not in present:
        raise ValueError("an object record needs object={apiVersion, kind, name, summary}")
    if kind in ("metric", "gpu") and "metrics" not in present:
        raise ValueError(f"a {kind} record needs metrics={{name: number}}")
    stamp = format_ts(ts)
    identity = explicit_id or content_id({"source": source, "kind": kind, "ts": stamp, "message": message, **present})
    record: dict[str, Any] = {"v": SCHEMA_VERSION, "id": identity, "kind": kind, "ts": stamp, "source": source}
    for name in ("node", "namespace", "pod", "container", "stream"):
        if name in present:
            record[name] = str(present[name])
    record["message"] = message
    if "object" in present:
        record["object"] = {key: str(present["object"][key]) for key in OBJECT_FIELDS if present["object"].get(key) is not None}
        if present["object"].get("quota"):  # a pod's share of its namespace's ResourceQuota (sources.kube)
            record["object"]["quota"] = {str(key): float(value) for key, value in present["object"]["quota"].items()}
    if "metrics" in present:
        record["metrics"] = {str(key): float(value) for key, value in present["metrics"].items()}
    if "labels" in present:
        record["labels"] = {str(key): str(value) for key, value in present["labels"].items()}
    if "redactions" in present:
        record["redactions"] = int(present["redactions"])
    return record


def content_id(record: dict) -> str:
    """The id make_record derives from a record's content (source, kind, time, place, message).

    Readers recompute it after redaction, so an id never encodes a secret.
    """
    return record_id(
        record["source"],
        record["kind"],
        record["ts"],
        record.get("node", ""),
        record.get("namespace", ""),
        record.get("pod", ""),
        record.get("container", ""),
        record["message"],
    )


_HEX_ID = re.compile(r"[0-9a-f]{16,64}")  # the schema's id pattern: indexes key vectors by it


def check_record(value: Any) -> str | None:
    """Why `value` is not a usable schema-v1 record, or None when it is.

    A light structural check (the full JSON Schema is enforced in tests); it is
    what lets readers skip a future record version instead of misreading it.
    """
    if not isinstance(value, dict):
        return f"expected a JSON object, got {type(value).__name__}"
    if "v" not in value:
        return "not a schema-v1 record (no field v)"
    if value.get("v") != SCHEMA_VERSION:
        return f"unknown record version v={value.get('v')!r}; expected v=1"
    missing = [name for name in REQUIRED_FIELDS if name not in value]
    if missing:
        return f"missing field(s) {', '.join(missing)}"
    if value["kind"] not in KINDS:
        return f"unknown kind {value['kind']!r}; expected one of {', '.join(KINDS)}"
    if not isinstance(value["message"], str):
        return "field message is not a string"
    if not isinstance(value["id"], str) or not _HEX_ID.fullmatch(value["id"]):
        return f"field id {value['id']!r} is not 16 to 64 lower-case hex digits"
    return None


def _warn(message: str) -> None:
    log.warning("%s", message)


def iter_jsonl(path: Path | str, *, on_error: Callable[[str], None] | None = None) -> Iterator[dict]:
    """Yield the records of a JSONL file; a bad line is reported as `path:line: why` and skipped.

    Bad means: not UTF-8 (a binary file), not JSON (a truncated write), or not a
    schema-v1 record. `on_error` receives each report (default: a logged warning).
    A missing file is the user's mistake and raises UserError.
    """
    report = on_error or _warn
    path = Path(path)
    if not path.is_file():
        raise UserError("records file not found", where=path, expected="a JSONL file of schema-v1 records")
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                value = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError:
                report(f"{path}:{number}: not UTF-8 text (binary data?), skipped")
                continue
            except json.JSONDecodeError as error:
                report(f"{path}:{number}: invalid JSON ({error.msg}), skipped")
                continue
            problem = check_record(value)
            if problem:
                report(f"{path}:{number}: {problem}, skipped")
                continue
            yield value


def write_jsonl(path: Path | str, records: Iterable[dict]) -> int:
    """Write records as JSON Lines atomically (all or nothing); returns how many."""
    lines = [json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n" for record in records]
    atomic.write_text(Path(path), "".join(lines))
    return len(lines)
