"""Pending pods pinned to a zone by their volume: the zones where no node takes pods.

The scheduler says "N node(s) had volume node affinity conflict": the pod's bound volume
(a zonal disk) lives in one zone and those nodes are elsewhere. The dump rarely holds the
PersistentVolume, but the nodes' zone labels and states show the answer an on-call
engineer looks for: a zone whose every node is cordoned or NotReady, so the pod has
nowhere to go until one comes back (or the volume moves).
"""

from __future__ import annotations

from collections.abc import Mapping

from kubetrainer.diagnose.collect import ObjectFacts
from kubetrainer.diagnose.finding import Finding

VOLUME_ZONE_CONFLICT = "volume node affinity conflict"


def node_state(facts: ObjectFacts) -> str | None:
    """Why a node takes no new pods (`cordoned`, `NotReady`), from its rendered status; None when it does."""
    text = facts.status.text if facts.status else ""
    if ": NotReady" in text:
        return "NotReady"
    if "cordoned" in text:
        return "cordoned"
    return None


def closed_zones(objects: Mapping[tuple, ObjectFacts]) -> dict[str, list[tuple[str, str]]]:
    """zone -> [(node, state)] for the zones in which no node takes new pods."""
    zones: dict[str, list[tuple[str, str | None]]] = {}
    for facts in objects.values():
        if facts.kind == "Node" and facts.zone:
            zones.setdefault(facts.zone, []).append((facts.name, node_state(facts)))
    return {zone: sorted(nodes) for zone, nodes in sorted(zones.items())  # type: ignore[misc]
            if all(state for _, state in nodes)}


def name_closed_zones(findings: list[Finding], objects: Mapping[tuple, ObjectFacts]) -> None:
    """A pod that cannot follow its volume to its zone names the zones left without a schedulable node."""
    pinned = [f for f in findings if f.rule == "unschedulable" and VOLUME_ZONE_CONFLICT in f.cause]
    if not pinned:
        return
    closed = closed_zones(objects)
    for finding in pinned:
        finding.cause += "; its volume pins it to one zone (volume node affinity conflict)"
        if closed:
            finding.cause += ", and no node takes pods in " + "; ".join(
                f"zone {zone} ({', '.join(f'{node}: {state}' for node, state in nodes)})"
                for zone, nodes in closed.items())
            finding.terms = (*finding.terms, *closed)
        for zone_nodes in closed.values():
            for node, _ in zone_nodes:
                status = objects.get(("Node", None, node))
                if status and status.status:
                    finding.add_evidence(status.status)
