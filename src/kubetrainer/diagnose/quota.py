"""Who holds an exhausted ResourceQuota.

The API server's denial says how much is used ("exceeded quota: ci-compute, requested:
requests.cpu=2, used: requests.cpu=30500m, limited: requests.cpu=32") but not by whom, and
that is the on-call engineer's next question: which workload ate the namespace's CPU? The
pods' own requests answer it (`sources.kube.quota_usage`, in the quota's names), summed per
workload as the quota counts them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from kubetrainer.diagnose.collect import ObjectFacts
from kubetrainer.diagnose.finding import Finding
from kubetrainer.diagnose.owners import workload_of
from kubetrainer.hardware.quantity import parse_quantity

QUOTA_DENIAL = re.compile(
    r"exceeded quota: (?P<quota>[\w.-]+)(?:, requested: (?P<requested>[^,]+(?:,[^,:]+=[^,]+)*)"
    r", used: (?P<used>[^,]+(?:,[^,:]+=[^,]+)*), limited: (?P<limited>[^,]+(?:,[^,:]+=[^,]+)*))?"
)
SHOWN = 3  # workloads named per exhausted resource
_BARE = ("cpu", "memory", "ephemeral-storage")  # a quota's `cpu` is `requests.cpu`
_BYTES = ("memory", "storage")


def canonical(resource: str) -> str:
    """The name quota usage is kept under: a quota's bare `cpu` counts requests."""
    return f"requests.{resource}" if resource in _BARE else resource


def denied_resources(text: str) -> list[str]:
    """The resources a quota denial says ran out (used + requested above the limit), else all it names."""
    match = QUOTA_DENIAL.search(text)
    if match is None or not match["requested"]:
        return []
    requested, used, limited = (_amounts(match[part]) for part in ("requested", "used", "limited"))
    out = [name for name in requested if name in limited and used.get(name, 0.0) + requested[name] > limited[name]]
    return [canonical(name) for name in (out or list(requested))]


def _amounts(text: str) -> dict[str, float]:
    out = {}
    for pair in text.split(","):
        name, _, value = pair.strip().partition("=")
        try:
            out[name] = parse_quantity(value)
        except ValueError:
            continue
    return out


def amount(resource: str, value: float) -> str:
    """A quantity as people write it: 500m or 28 cores, 2Gi or 512Mi, 3 pods or GPUs."""
    if resource.endswith("cpu"):
        return f"{value * 1000:.0f}m" if value < 1 or value != int(value) else f"{value:g}"
    if resource.endswith(_BYTES):
        return f"{value / 2**30:.3g}Gi" if value >= 2**30 else f"{value / 2**20:.3g}Mi"
    return f"{value:g}"


def name_quota_consumers(findings: list[Finding], objects: Mapping[tuple, ObjectFacts]) -> None:
    """A quota denial names the workloads holding most of what ran out, with their pod counts and totals, and
    quotes the status of a pod of the largest."""
    for finding in findings:
        if finding.rule != "quota-exceeded" or finding.namespace is None:
            continue
        resources = next((found for item in finding.evidence if (found := denied_resources(item.text))), [])
        for resource in resources[:1]:
            holders: dict[str, tuple[float, list[ObjectFacts]]] = {}
            for facts in objects.values():
                if facts.kind == "Pod" and facts.namespace == finding.namespace and facts.quota.get(resource):
                    total, pods = holders.get(workload_of(facts.name), (0.0, []))
                    holders[workload_of(facts.name)] = (total + facts.quota[resource], [*pods, facts])
            ranked = sorted(holders.items(), key=lambda item: (-item[1][0], item[0]))[:SHOWN]
            if not ranked:
                continue
            held = ", ".join(f"{workload} ({len(pods)} pod{'s' if len(pods) > 1 else ''}, "
                             f"{amount(resource, total)}{' in all' if len(pods) > 1 else ''})"
                             for workload, (total, pods) in ranked)
            finding.cause += f"; its {resource} is held by {held}"
            largest = min(ranked[0][1][1], key=lambda facts: facts.name)
            if largest.status is not None:
                finding.add_evidence(largest.status)
