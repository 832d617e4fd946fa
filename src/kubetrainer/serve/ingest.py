"""`POST /v1/ingest`: the agent's NDJSON records in, validated, redacted again, stored once.

The agent redacts before sending; redacting again on arrival means a secret that
slipped past an old agent's patterns still never reaches the disk or the index.
Re-delivery is normal (the agent retries after a timeout), so records are
idempotent by `id`: a record already stored is counted as a duplicate, not kept twice.
Each batch is one atomically written file under `<home>/harvest/ingest/`.
"""

from __future__ import annotations

import hashlib
import json
import threading
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from kubetrainer.packaged import RECORD_SCHEMA, schema_file
from kubetrainer.records import iter_jsonl, write_jsonl
from kubetrainer.redact import redact_record
from kubetrainer.serve.errors import APIError

SCHEMA_PATH = schema_file(RECORD_SCHEMA)  # package data: there in every install, not only a checkout
MAX_REPORTED_REJECTIONS = 50


@lru_cache(maxsize=1)
def _validator() -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")), format_checker=Draft202012Validator.FORMAT_CHECKER)


def decode_body(raw: bytes, content_encoding: str | None, max_bytes: int) -> bytes:
    """The NDJSON bytes, gunzipped when sent with gzip, refusing to inflate beyond `max_bytes`."""
    gzipped = (content_encoding or "").lower() == "gzip" or raw[:2] == b"\x1f\x8b"
    if not gzipped:
        return raw
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(raw, max_bytes + 1)
    except zlib.error as error:
        raise APIError(400, f"body is not valid gzip: {error}", code="invalid_body") from error
    if len(data) > max_bytes or inflater.unconsumed_tail:
        raise APIError(413, f"decompressed body over {max_bytes} bytes", code="request_too_large")
    return data


@dataclass
class IngestResult:
    records: list[dict[str, Any]] = field(default_factory=list)
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    redactions: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"accepted": len(self.records), "duplicates": self.duplicates, "rejected": len(self.rejected),
                "errors": self.rejected[:MAX_REPORTED_REJECTIONS], "redactions": self.redactions}


def check_lines(data: bytes, seen: set[str]) -> IngestResult:
    """Validate, de-duplicate and redact each line; bad lines are reported by line number."""
    result = IngestResult()
    batch_ids: set[str] = set()
    for number, raw in enumerate(data.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            result.rejected.append({"line": number, "error": f"invalid JSON: {error}"})
            continue
        problems = sorted(_validator().iter_errors(value), key=lambda e: list(e.absolute_path))
        if problems:
            where = "/".join(str(part) for part in problems[0].absolute_path) or "record"
            result.rejected.append({"line": number, "error": f"{where}: {problems[0].message}"})
            continue
        if value["id"] in seen or value["id"] in batch_ids:
            result.duplicates += 1
            continue
        batch_ids.add(value["id"])
        cleaned = redact_record(value)
        result.redactions += cleaned.get("redactions", 0) - value.get("redactions", 0)
        result.records.append(cleaned)
    return result


class IngestStore:
    """The ingested records on disk and the ids already stored."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.seen = {record["id"] for path in sorted(self.directory.glob("*.jsonl")) for record in iter_jsonl(path)}
        self._lock = threading.Lock()

    def ingest(self, data: bytes) -> IngestResult:
        """Check a batch and store its new records as one file; safe to call from several threads."""
        with self._lock:
            result = check_lines(data, self.seen)
            if result.records:
                name = hashlib.sha256("".join(r["id"] for r in result.records).encode()).hexdigest()[:20]
                write_jsonl(self.directory / f"batch-{name}.jsonl", result.records)
                self.seen.update(record["id"] for record in result.records)
            return result
