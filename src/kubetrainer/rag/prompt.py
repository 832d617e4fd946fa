"""How excerpts are named and fenced for a model (the chat itself is rendered by `generation.chat`).

Cluster text is attacker-reachable (any pod can log "ignore previous instructions"),
so whatever quotes it to a model fences it between FENCE_OPEN and FENCE_CLOSE, and
the system message says never to follow it (`answer.phrase`).
"""

from __future__ import annotations

FENCE_OPEN, FENCE_CLOSE = "<<<", ">>>"


def describe_source(source: dict) -> str:
    """One line naming where an excerpt came from, used in the prompt and in printed citations."""
    kind = source.get("kind") or "chunk"
    where = "/".join(part for part in (source.get("namespace"), source.get("name")) if part)
    parts = [f"{kind} {where}".strip()]
    if source.get("container"):
        parts.append(f"container {source['container']}")
    if source.get("node"):
        parts.append(f"node {source['node']}")
    if source.get("ts_start"):
        start, end = source["ts_start"][:19].replace("T", " "), (source.get("ts_end") or "")[11:19]
        parts.append(f"{start}" + (f" to {end}" if end and not source["ts_start"].startswith(source["ts_end"][:19]) else "") + " UTC")
    return ", ".join(parts)

