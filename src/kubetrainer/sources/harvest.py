"""Harvest: read any number of sources into one redacted, de-duplicated records JSONL."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from kubetrainer.records import write_jsonl


@dataclass
class HarvestResult:
    path: Path
    records: int
    by_kind: Counter = field(default_factory=Counter)
    redactions: int = 0
    duplicates: int = 0

    def to_json(self) -> dict:
        return {"path": str(self.path), "records": self.records, "by_kind": dict(self.by_kind), "redactions": self.redactions, "duplicates": self.duplicates}


def harvest(streams: Iterable[Iterator[dict]], out: Path, progress: Callable[[int], None] | None = None) -> HarvestResult:
    """Write every record once (first occurrence of an id wins) to `out`, atomically."""
    result = HarvestResult(path=Path(out), records=0)
    seen: set[str] = set()

    def unique() -> Iterator[dict]:
        for stream in streams:
            for record in stream:
                if record["id"] in seen:
                    result.duplicates += 1
                    continue
                seen.add(record["id"])
                result.by_kind[record["kind"]] += 1
                result.redactions += int(record.get("redactions") or 0)
                if progress and len(seen) % 1000 == 0:
                    progress(1000)
                yield record

    result.records = write_jsonl(out, unique())
    return result
