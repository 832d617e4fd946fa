"""Services whose selector matches no pod: the Service has no endpoints, so every client is refused.

`kubectl describe service` shows the Selector and `kubectl get endpoints` shows none; the
usual cause is a label that changed on one side (a Deployment's template relabelled to
`app: pricing-v2`, a Service edited by hand). The rendered Service lists its selector
(`sources.render`: "selector app=pricing") and pods keep their labels (`ObjectFacts.labels`),
so this is the same check, and the pod that almost matches (every key, one value different)
shows which label moved. A namespace whose pods the records do not hold says nothing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from kubetrainer.diagnose.collect import ObjectFacts
from kubetrainer.diagnose.finding import Finding
from kubetrainer.diagnose.knowledge import INFO, WARNING

VARIANT_PREFIX = 4  # label values sharing this many leading characters are one name changed (`payments`, `paymentsv2`)
SELECTOR = re.compile(r"; selector (?P<selector>[^;]+?)\.?$")  # how sources.render ends a Service with a selector


def selector_of(status: str) -> dict[str, str]:
    """The label selector a rendered Service status names; {} when it has none."""
    match = SELECTOR.search(status)
    if not match:
        return {}
    return dict(pair.split("=", 1) for pair in match["selector"].split(",") if "=" in pair)


def service_findings(objects: Mapping[tuple, ObjectFacts]) -> list[Finding]:
    """A finding per Service whose selector matches none of its namespace's pods (when the records hold some)."""
    pods: dict[str | None, list[ObjectFacts]] = {}
    for facts in objects.values():
        if facts.kind == "Pod":
            pods.setdefault(facts.namespace, []).append(facts)
    found = []
    for facts in objects.values():
        selector = selector_of(facts.status.text) if facts.kind == "Service" and facts.status else {}
        neighbours = pods.get(facts.namespace, [])
        if not selector or not neighbours or any(_selects(selector, pod.labels) for pod in neighbours):
            continue
        found.append(_selects_nothing(facts, selector, _closest(selector, neighbours)))
    return found


def _selects(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def _closest(selector: Mapping[str, str], pods: list[ObjectFacts]) -> ObjectFacts | None:
    """The pod that has every key of the selector with all but one value the same, and that one a variant of the
    selected value (`pricing` -> `pricing-v2`): the label that moved. Another app's pod (`checkout`) is not close."""
    def near(pod: ObjectFacts) -> bool:
        if not set(selector) <= set(pod.labels):
            return False
        differ = [(value, pod.labels[key]) for key, value in selector.items() if pod.labels[key] != value]
        return len(differ) == 1 and _variant(*differ[0])
    close = [pod for pod in pods if near(pod)]
    return min(close, key=lambda pod: pod.name) if close else None


def _variant(wanted: str, found: str) -> bool:
    return wanted in found or found in wanted or len(os.path.commonprefix([wanted, found])) >= VARIANT_PREFIX


def _selects_nothing(facts: ObjectFacts, selector: dict[str, str], closest: ObjectFacts | None) -> Finding:
    wanted = ",".join(f"{key}={value}" for key, value in sorted(selector.items()))
    cause = f"Service {facts.name} selects {wanted}, which no pod in {facts.namespace} has, so it has no endpoints"
    if closest is not None:
        moved = next(key for key, value in selector.items() if closest.labels.get(key) != value)
        cause += f"; pod {closest.name} has {moved}={closest.labels[moved]}"
    finding = Finding(
        rule="service-selects-nothing",
        severity=WARNING if closest is not None else INFO,  # none close: perhaps scaled to zero on purpose
        kind="Service",
        namespace=facts.namespace,
        name=facts.name,
        cause=cause,
        meaning="a Service sends traffic only to ready pods whose labels match its selector; with none, clients "
                "are refused or get 503 (no endpoints available)",
        fix="make the selector and the pod template's labels agree (kubectl get endpoints shows the result)",
        terms=("selector", "endpoints", *selector),
    )
    assert facts.status is not None
    finding.add_evidence(facts.status)
    if closest is not None and closest.status is not None:
        finding.add_evidence(closest.status)
    return finding
