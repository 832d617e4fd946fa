"""Pending GPU pods no node's labels match: GPU nodes whose product label was renamed when they began sharing.

The scheduler says "N node(s) didn't match Pod's node affinity/selector" and no more. On GPU
nodes a common cause is the NVIDIA device plugin's sharing (time-slicing or MPS) with its
default `renameByDefault`: GPU Feature Discovery then relabels the product `NVIDIA-L4` as
`NVIDIA-L4-SHARED`, and every pod that selects the GPU by its product name stops matching. The
nodes' rendered statuses say so ("product label nvidia.com/gpu.product=NVIDIA-L4-SHARED",
`sources.render`), and a pod's status names what it selects ("node selector ...").
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from kubetrainer.diagnose.collect import ObjectFacts
from kubetrainer.diagnose.finding import Finding

SELECTOR_MISMATCH = "didn't match Pod's node affinity/selector"
RENAMED = re.compile(r"product label (?P<key>[\w./-]+)=(?P<value>[\w.-]+)-SHARED\b")
POD_SELECTS = re.compile(r"; node selector (?P<selects>[^;]+)")
IMAGES = re.compile(r"; images (?P<image>[^;,\s]+)")
SHOWN = 3  # renamed nodes named


def _selected(renamed: re.Match[str], selects: str) -> bool:
    """Whether a pod's node selection asks for the product by the name the node had before it was renamed."""
    key, value = re.escape(renamed["key"]), re.escape(renamed["value"])
    return bool(re.search(rf"{key}={value}(?:,|$)|{key} in \([^)]*\b{value}(?:,|\))", selects))


def _nodes_running_its_image(pod: ObjectFacts, objects: Mapping[tuple, ObjectFacts]) -> set[str]:
    """The nodes where other pods of the pending pod's namespace ran (or run) its image."""
    image = IMAGES.search(pod.status.text) if pod.status else None
    if image is None:
        return set()
    wanted = image["image"].rstrip(".")
    return {facts.node for facts in objects.values() if facts.kind == "Pod" and facts is not pod and facts.node
            and facts.namespace == pod.namespace and facts.status and (found := IMAGES.search(facts.status.text))
            and found["image"].rstrip(".") == wanted}


def name_renamed_gpu_nodes(findings: list[Finding], objects: Mapping[tuple, ObjectFacts]) -> None:
    """A GPU pod that no node's labels match names the GPU nodes whose product label gained `-SHARED`: those it
    selects by the product's old name or, when what it selects is not recorded, those where its image ran."""
    renamed = sorted(((facts, match) for facts in objects.values() if facts.kind == "Node" and facts.status
                      and (match := RENAMED.search(facts.status.text))), key=lambda pair: pair[0].name)
    if not renamed:
        return
    for finding in findings:
        pod = objects.get(("Pod", finding.namespace, finding.name))
        if (finding.rule != "unschedulable" or SELECTOR_MISMATCH not in finding.cause or pod is None
                or pod.status is None or "GPU limits" not in pod.status.text):
            continue
        selects = POD_SELECTS.search(pod.status.text)
        if selects is None:  # what it selects is not recorded: the renamed nodes are where its image ran before
            ran = _nodes_running_its_image(pod, objects)
            chosen = [(facts, match) for facts, match in renamed if facts.name in ran]
        else:
            chosen = [(facts, match) for facts, match in renamed if _selected(match, selects["selects"])]
        if not chosen:
            continue
        key, value = chosen[0][1]["key"], chosen[0][1]["value"]
        names = ", ".join(facts.name for facts, _ in chosen[:SHOWN]) + (" and more" if len(chosen) > SHOWN else "")
        if selects is not None:
            finding.cause += (f"; it selects {key}={value}, but GPU sharing renamed that label to "
                              f"{key}={value}-SHARED on node(s) {names}")
        else:
            finding.cause += (f"; GPU sharing renamed {key} to {value}-SHARED on node(s) {names}, so a node "
                              f"selector on {key}={value} no longer matches them")
        finding.terms = (*finding.terms, f"{value}-SHARED")
        finding.add_evidence(chosen[0][0].status, limit=5)  # beside the scheduler's lines and a taint's node
