"""The node a failing pod runs on, next to the node of a pod that does the same job and works.

"Why does it crash on the new nodes but not on the old ones?": a failure that only some nodes show is explained
by what differs between them: the node image, the container runtime, the zone, the GPU driver. The diagnosis
already pairs a failing pod with a working counterpart, the previous version still serving or a working replica
of its own ReplicaSet (`diagnose.rollouts.working_counterparts`), and quotes its lines (`Finding.startup`, which
carry their node). When that pod runs on another node, both nodes' status records are quoted side by side, as
`kubectl describe node` on both would show, each cut to the clauses the other lacks (`differing`: the InternalIP
from another subnet, the newer kernel): the reader compares, the answer claims nothing about the difference.
"""

from __future__ import annotations

from collections.abc import Sequence

from kubetrainer.answer.passages import Passage, quoted_from
from kubetrainer.diagnose.finding import Finding
from kubetrainer.diagnose.rollouts import SERVER, counterpart_role
from kubetrainer.rag.chunk import Chunk


def compared_nodes(lead: Finding, chunks: Sequence[Chunk]) -> list[Passage]:
    """The status records of `lead`'s node and of the node a working counterpart runs on, in that order; [] when
    there is no counterpart on another node or the index lacks either record."""
    working = next((item.node for item in lead.startup if item.name != lead.name and item.node
                    and item.node != lead.node and counterpart_role(lead.name, item.name) != SERVER), None)
    if working is None or lead.node is None:
        return []
    records = {chunk.name: chunk for chunk in chunks
               if chunk.kind == "object" and chunk.name in (lead.node, working) and chunk.text.startswith("Node ")}
    if lead.node not in records or working not in records:
        return []
    return [quoted_from(records[node], records[node].text) for node in (lead.node, working)]


def differing(record: str, other: str) -> list[str]:
    """The clauses of a node status record (`; ` and `, ` separated, after its `Node name:` head) that the other
    record lacks, verbatim and in order; [] when they say the same."""
    theirs = set(_clauses(other))
    return [clause for clause in _clauses(record) if clause not in theirs]


def _clauses(record: str) -> list[str]:
    body = record.partition(": ")[2].rstrip(".")
    return [part for clause in body.split("; ") for part in clause.split(", ") if part]
