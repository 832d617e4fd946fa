"""A binary or an image built for another platform: the platform of the node it was started on.

`exec /app/server: exec format error` says only that the kernel cannot run the binary, and containerd's `no match for
platform in manifest` only that the image holds no build the node can use. What makes either actionable is the node's
platform (`linux/amd64`, as `kubectl describe node` shows and as images name theirs) and its OS image: the image holds
no build for it, typically one built on an arm64 laptop and pushed for amd64 nodes, or the reverse, or a Windows
image for another Windows Server build than the node's (ltsc2019 on a Windows Server 2022 node). The node's status
line (`sources.render`) is quoted with the failure.
"""

from __future__ import annotations

from collections.abc import Mapping

from kubetrainer.diagnose.collect import ObjectFacts
from kubetrainer.diagnose.finding import Finding
from kubetrainer.diagnose.knowledge import LOG_SIGNATURES, NO_PLATFORM_MATCH, matching
from kubetrainer.diagnose.status import parse_node

ARCHITECTURE_SIGNATURES = frozenset({"exec-format"})


def _wrong_binary(finding: Finding) -> bool:
    """Whether the finding (a crash loop, a failed container) quotes a line of another architecture's binary."""
    return any(signature.rule in ARCHITECTURE_SIGNATURES for item in finding.evidence
               for signature in matching(item.text, LOG_SIGNATURES))


def _wrong_image(finding: Finding) -> bool:
    """Whether the finding is a pull the runtime refused for want of a build for the node's platform."""
    return finding.rule == "image-pull" and any(NO_PLATFORM_MATCH.search(item.text) for item in finding.evidence)


def name_node_platform(findings: list[Finding], objects: Mapping[tuple, ObjectFacts]) -> None:
    """A pod whose binary or image is for another platform names its node's platform (and, for an image, its OS);
    the node's status line is quoted."""
    for finding in findings:
        if finding.kind != "Pod" or finding.node is None:
            continue
        binary, image = _wrong_binary(finding), _wrong_image(finding)
        if not (binary or image):
            continue
        node = objects.get(("Node", None, finding.node))
        status = parse_node(node.status.text) if node and node.status else None
        if status is None or not status.platform:
            continue
        if binary:
            finding.cause += f"; its node {node.name} is {status.platform}: the image's binary is not built for it"
        else:
            system = f" ({status.system})" if status.system else ""
            finding.cause += f"; its node {node.name} is {status.platform}{system}: the image has no build for it"
        if node.status not in finding.evidence:  # quoted right after the failure: the node's platform explains it
            finding.evidence.insert(1, node.status)
