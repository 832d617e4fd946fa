"""A binary built for another CPU architecture: the platform of the node it was started on.

`exec /app/server: exec format error` says only that the kernel cannot run the binary. What makes it actionable is
the node's platform (`linux/amd64`, as `kubectl describe node` shows and as images name theirs): the image holds no
build for it, typically one built on an arm64 laptop and pushed for amd64 nodes, or the reverse. The node's status
line (`sources.render`) is quoted with the failure.
"""

from __future__ import annotations

from collections.abc import Mapping

from kubetrainer.diagnose.collect import ObjectFacts
from kubetrainer.diagnose.finding import Finding
from kubetrainer.diagnose.knowledge import LOG_SIGNATURES, matching
from kubetrainer.diagnose.status import parse_node

ARCHITECTURE_SIGNATURES = frozenset({"exec-format"})


def _wrong_architecture(finding: Finding) -> bool:
    """Whether the finding (a crash loop, a failed container) quotes a line of another architecture's binary."""
    return finding.kind == "Pod" and finding.node is not None and any(
        signature.rule in ARCHITECTURE_SIGNATURES for item in finding.evidence
        for signature in matching(item.text, LOG_SIGNATURES))


def name_node_platform(findings: list[Finding], objects: Mapping[tuple, ObjectFacts]) -> None:
    """A pod whose binary is for another architecture names its node's platform; the node's status line is quoted."""
    for finding in findings:
        if not _wrong_architecture(finding):
            continue
        node = objects.get(("Node", None, finding.node))
        platform = parse_node(node.status.text).platform if node and node.status else ""
        if not platform:
            continue
        finding.cause += f"; its node {node.name} is {platform}: the image's binary is not built for it"
        if node.status not in finding.evidence:  # quoted right after the failure: the node's platform explains it
            finding.evidence.insert(1, node.status)
