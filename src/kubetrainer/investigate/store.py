"""Investigations on disk: one JSON file per alert fingerprint under `<home>/investigations/`.

Keyed by fingerprint, so a re-sent alert replaces its file instead of adding one; written
atomically, so a reader never sees half an investigation; bounded, so an alert storm
cannot fill the disk: past `limit`, closed investigations go first, oldest first.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from kubetrainer import atomic
from kubetrainer.investigate.alerts import Alert
from kubetrainer.investigate.investigation import CLOSED, Investigation, Outcome, receive


def pruned(held: list[Investigation], limit: int) -> list[Investigation]:
    """The investigations to delete so at most `limit` remain: closed ones first, then the least recently updated."""
    ranked = sorted(held, key=lambda item: (item.status != CLOSED, item.updated_at))
    return ranked[:max(0, len(held) - limit)]


class InvestigationStore:
    """The investigations of one data home; safe to use from several threads of one process."""

    def __init__(self, directory: Path, limit: int) -> None:
        self.directory = Path(directory)
        self.limit = limit
        self._lock = threading.RLock()  # `receive` lists while holding it

    def _path(self, fingerprint: str) -> Path:
        return self.directory / f"{fingerprint}.json"  # fingerprints are alphanumeric (`alerts.parse_alert`)

    def get(self, fingerprint: str) -> Investigation | None:
        path = self._path(fingerprint)
        return Investigation.from_json(json.loads(path.read_text(encoding="utf-8"))) if path.is_file() else None

    def all(self, status: str | None = None) -> list[Investigation]:
        """Every investigation (or those with `status`), most recently updated first."""
        if not self.directory.is_dir():
            return []
        with self._lock:  # not while `receive` prunes
            held = [Investigation.from_json(json.loads(path.read_text(encoding="utf-8")))
                    for path in self.directory.glob("*.json")]
        chosen = [item for item in held if status is None or item.status == status]
        return sorted(chosen, key=lambda item: item.updated_at, reverse=True)

    def receive(self, alert: Alert, run: Callable[[], Investigation], now: datetime) -> Outcome:
        """Open, update or close the investigation of `alert` and store it; `run` investigates afresh."""
        with self._lock:
            outcome = receive(self.get(alert.fingerprint), alert, run, now)
            if outcome.investigation is not None:
                atomic.write_json(self._path(alert.fingerprint), outcome.investigation.to_json())
                for item in pruned(self.all(), self.limit):
                    self._path(item.fingerprint).unlink(missing_ok=True)
            return outcome
