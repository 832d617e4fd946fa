"""Stop sequences applied to streamed text, holding back what might become one.

A streamed delta may end with the first half of a stop sequence; emitting it and
then stopping would leak the stop text to the client. `StopTrimmer` keeps back the
longest tail that is still a prefix of some stop sequence.
"""

from __future__ import annotations


class StopTrimmer:
    """Feed text deltas in, get the safe-to-emit text out; `stopped` once a stop hits."""

    def __init__(self, stops: list[str]) -> None:
        self.stops = [stop for stop in stops if stop]
        self.pending = ""
        self.stopped = False

    def feed(self, delta: str) -> str:
        """The part of `pending + delta` that can be emitted now."""
        if self.stopped:
            return ""
        self.pending += delta
        cut = min((index for index in (self.pending.find(stop) for stop in self.stops) if index >= 0), default=-1)
        if cut >= 0:
            self.stopped = True
            emitted, self.pending = self.pending[:cut], ""
            return emitted
        keep = self._held_back()
        emitted = self.pending[: len(self.pending) - keep]
        self.pending = self.pending[len(self.pending) - keep :]
        return emitted

    def flush(self) -> str:
        """What was held back, once the stream has ended without a stop."""
        emitted, self.pending = ("" if self.stopped else self.pending), ""
        return emitted

    def _held_back(self) -> int:
        longest = 0
        for stop in self.stops:
            for size in range(min(len(stop) - 1, len(self.pending)), longest, -1):
                if self.pending.endswith(stop[:size]):
                    longest = size
                    break
        return longest


def trim_at_stop(text: str, stops: list[str]) -> tuple[str, bool]:
    """`text` cut before the first stop sequence, and whether one was found."""
    trimmer = StopTrimmer(stops)
    head = trimmer.feed(text)
    return (head, True) if trimmer.stopped else (head + trimmer.flush(), False)
