"""Pending pods kept off nodes by a taint: the nodes that carry it.

The scheduler says "2 node(s) had untolerated taint {dedicated: inference}" and no more; the
on-call engineer's next step is `kubectl get nodes -o custom-columns=...taints` to see which
nodes carry it, and so whether the pod lacks a toleration or the nodes were tainted by
mistake (a node group's new taint, a cordon-like `NoSchedule` left after maintenance). The
nodes' rendered statuses list their taints (`sources.render`: "taints key=value:NoSchedule").
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from kubetrainer.diagnose.collect import ObjectFacts
from kubetrainer.diagnose.finding import Finding

# kube-scheduler 1.24+: `had untolerated taint {key: value}` (value may be empty: `{key: }`).
UNTOLERATED = re.compile(r"had untolerated taint \{(?P<key>[^:{}]+):\s?(?P<value>[^{}]*)\}")
NODE_TAINTS = re.compile(r"; taints (?P<taints>[^;]+?)\.?$")  # how sources.render ends a node's status
SHOWN = 3  # tainted nodes named per taint


def taints_of(status: str) -> set[tuple[str, str]]:
    """(key, value) of each taint a rendered node status lists."""
    match = NODE_TAINTS.search(status)
    if not match:
        return set()
    pairs = set()
    for taint in match["taints"].split(", "):
        key_value = taint.rsplit(":", 1)[0]
        key, _, value = key_value.partition("=")
        pairs.add((key, value))
    return pairs


def name_tainted_nodes(findings: list[Finding], objects: Mapping[tuple, ObjectFacts]) -> None:
    """A pod pending on an untolerated taint names the nodes carrying it, and quotes one's status."""
    nodes = [facts for facts in objects.values() if facts.kind == "Node" and facts.status]
    for finding in findings:
        if finding.rule != "unschedulable":
            continue
        said = dict.fromkeys((match["key"].strip(), match["value"].strip()) for match in UNTOLERATED.finditer(finding.cause))
        for key, value in said:
            tainted = sorted((facts for facts in nodes if (key, value) in taints_of(facts.status.text)),
                             key=lambda facts: facts.name)
            if not tainted:
                continue
            names = ", ".join(facts.name for facts in tainted[:SHOWN]) + (" and more" if len(tainted) > SHOWN else "")
            finding.cause += f"; the taint {key}{'=' + value if value else ''} is on node(s) {names}"
            finding.terms = (*finding.terms, key)
            finding.add_evidence(tainted[0].status)
