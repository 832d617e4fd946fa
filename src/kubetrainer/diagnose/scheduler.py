"""The scheduler's FailedScheduling message, read as the per-node-count reasons it lists.

`0/6 nodes are available: 3 Insufficient nvidia.com/gpu, 1 node(s) had untolerated taint
{node.kubernetes.io/unreachable: }, 2 node(s) didn't match Pod's node affinity/selector.
preemption: 0/6 nodes are available: ...` (kube-scheduler's format since 1.24).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_HEAD = re.compile(r"(?P<fit>\d+)/(?P<total>\d+) nodes are available: (?P<reasons>.*)")
_SPLIT = re.compile(r",\s+(?=\d+ |pod )")
_COUNTED = re.compile(r"^(?P<count>\d+) (?P<reason>.+)$")
_INSUFFICIENT = re.compile(r"Insufficient ([\w./-]+)")


@dataclass(frozen=True)
class Placement:
    """Why no node fits: total nodes and (count, reason) pairs, most nodes first."""

    total: int
    reasons: tuple[tuple[int, str], ...]

    @property
    def shortages(self) -> list[str]:
        """Resources some nodes lack (`nvidia.com/gpu`, `cpu`)."""
        return [m.group(1) for _, reason in self.reasons for m in [_INSUFFICIENT.search(reason)] if m]

    @property
    def unbound_claims(self) -> bool:
        return any("unbound" in reason and "PersistentVolumeClaim" in reason for _, reason in self.reasons)

    def summary(self) -> str:
        parts = [f"{count} {reason}" if count else reason for count, reason in self.reasons]
        return f"0 of {self.total} nodes fit ({'; '.join(parts)})"


def parse_failed_scheduling(message: str) -> Placement | None:
    """The reasons in a FailedScheduling message, or None when it is in another format."""
    main = message.split(" preemption: ")[0].strip()
    match = _HEAD.search(main)
    if not match:
        return None
    reasons = []
    for part in _SPLIT.split(match["reasons"].rstrip(".")):
        part = part.strip().rstrip(".")
        counted = _COUNTED.match(part)
        reasons.append((int(counted["count"]), counted["reason"]) if counted else (0, part))
    reasons.sort(key=lambda item: -item[0])
    return Placement(int(match["total"]), tuple(reasons))
