"""A pod out of GPU memory: the GPU its node has, and the GPUs its healthy replicas run on.

"CUDA out of memory" on one replica while another serves fine is usually placement, not a
leak: the failing pod landed on a node with a smaller GPU (an autoscaler added a cheaper node
type). The node's GPU product (from its labels, `sources.render`; the canonical name states its
memory, `NVIDIA L4 24GB`) and where the healthy replicas run answer "why this one?" and "where
does it fit?".
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from kubetrainer.diagnose.collect import ObjectFacts
from kubetrainer.diagnose.finding import Finding
from kubetrainer.diagnose.owners import workload_of
from kubetrainer.diagnose.status import parse_node

GPU_MEMORY_RULES = frozenset({"cuda-oom"})
_GPU_MEMORY = re.compile(r"GPU memory|CUDA out of memory|OutOfMemoryError")
_SERVING = re.compile(r": phase Running; (?!.*waiting:)")


def _out_of_gpu_memory(finding: Finding) -> bool:
    return finding.kind == "Pod" and finding.node is not None and (
        finding.rule in GPU_MEMORY_RULES or bool(_GPU_MEMORY.search(finding.cause)))


def name_gpu_fit(findings: list[Finding], objects: Mapping[tuple, ObjectFacts]) -> None:
    """A pod out of GPU memory names its node's GPU, and the nodes (with other GPUs) where its workload's other
    pods run without failing; each node's status line is quoted."""
    nodes = {facts.name: facts for facts in objects.values() if facts.kind == "Node" and facts.status}
    failing = {(finding.namespace, finding.name) for finding in findings if _out_of_gpu_memory(finding)}
    for finding in findings:
        if not _out_of_gpu_memory(finding) or finding.node not in nodes:
            continue
        node = nodes[finding.node]
        gpu = parse_node(node.status.text).gpu
        if not gpu:
            continue
        finding.cause += f"; its node {node.name} has GPU {gpu}"
        if node.status not in finding.evidence:  # quoted right after the failure: where it ran is the explanation
            finding.evidence.insert(1, node.status)
        workload = workload_of(finding.name)
        elsewhere = sorted({facts.node for facts in objects.values()
                            if facts.kind == "Pod" and facts.namespace == finding.namespace and facts.node in nodes
                            and facts.node != node.name and workload_of(facts.name) == workload
                            and (facts.namespace, facts.name) not in failing
                            and facts.status and _SERVING.search(facts.status.text)})
        others = [(name, other) for name in elsewhere if (other := parse_node(nodes[name].status.text).gpu) != gpu]
        if others:
            finding.cause += "; its other replicas run on " + ", ".join(f"{name} (GPU {other})" for name, other in others)
            finding.add_evidence(nodes[others[0][0]].status, limit=6)
