"""What every reader shares: redaction on the way in, and a list of skipped-input reports."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from kubetrainer.records import content_id, make_record
from kubetrainer.redact import default_redactor, redact_record
from kubetrainer.redact_keys import KeyBlock

log = logging.getLogger("kubetrainer.sources")


@dataclass
class Problems:
    """Inputs that were skipped, each as `path[:line]: why`; readers never crash on bad input."""

    items: list[str] = field(default_factory=list)

    def report(self, message: str) -> None:
        self.items.append(message)
        log.info("%s", message)

    def skip(self, path: Path | str, why: str) -> None:
        self.report(f"{path}: {why}, skipped")

    def summary(self, shown: int = 3) -> str:
        """The first few reports on one line, for an error that says why nothing could be read."""
        more = len(self.items) - shown
        return "; ".join(self.items[:shown]) + (f"; {more} more" if more > 0 else "") if self.items else "nothing in it"


@lru_cache(maxsize=1)
def _keyword_pattern() -> re.Pattern[str] | None:
    """Every redaction keyword (patterns and entropy backstop) as one regex; None if some pattern has none."""
    keywords = default_redactor().keywords()
    if keywords is None:
        return None
    return re.compile("|".join(re.escape(keyword) for keyword in sorted(keywords)))


def _may_hold_secret(record: dict[str, Any]) -> bool:
    """False only when no redaction pattern could match (none of their keywords occurs).

    The redactor skips a pattern whose keywords are absent from the lower-cased
    text; checking all keywords at once first lets the common secret-free log
    line skip the per-pattern loop and the record copy, with the same result.
    """
    pattern = _keyword_pattern()
    if pattern is None:
        return True
    texts = [record["message"], (record.get("object") or {}).get("summary", ""), *(record.get("labels") or {}).values()]
    return any(pattern.search(text.lower()) for text in texts if isinstance(text, str))


def scrubbed(record: dict[str, Any]) -> dict[str, Any]:
    """The record with secrets redacted; its content id is recomputed so it encodes no secret."""
    if not _may_hold_secret(record):
        record.setdefault("redactions", 0)
        return record
    clean = redact_record(record)
    if clean["redactions"] > int(record.get("redactions") or 0) and record["id"] == content_id(record):
        clean["id"] = content_id(clean)
    return clean


def emit(kind: str, ts: Any, source: str, message: str, **fields: Any) -> dict[str, Any]:
    """make_record then redaction: the only way readers build records."""
    return scrubbed(make_record(kind, ts, source, message, **fields))


def emit_line(block: KeyBlock, kind: str, ts: Any, source: str, message: str, **fields: Any) -> dict[str, Any]:
    """`emit` for one line of a log stream: the stream's key-block step first.

    A private key printed line by line has bare base64 body lines that no pattern can
    recognise alone; `block` (one per stream) remembers that a key is open.
    """
    stepped, keys = block.step(message)
    return emit(kind, ts, source, stepped, **fields, **({"redactions": keys} if keys else {}))
