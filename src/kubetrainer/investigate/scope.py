"""What an alert is about: its labels as a scope of Kubernetes objects, and the findings in it.

Alert labels come from whatever produced the metric: kube-state-metrics (`namespace`,
`pod`, `container`, `node`, `deployment`, `statefulset`, `daemonset`, `job_name`),
dcgm-exporter (`Hostname`), a scrape target (`instance`, `job`). When the metric was
scraped through another pod, Prometheus keeps the object's own labels as
`exported_*`, so those win. Selection is pure: findings in, findings out.

The findings an alert names directly come first; then their neighbours, because the
cause is often one hop away: a pod's node (and its GPUs, which are findings of the
node), a workload's pods, and whatever the diagnosis linked (`Finding.related`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from kubetrainer.diagnose.finding import Finding

WORKLOAD_LABELS = {"deployment": "Deployment", "statefulset": "StatefulSet", "daemonset": "DaemonSet", "job_name": "Job"}
NODE_LABELS = ("node", "kubernetes_node", "Hostname")


def _label(labels: Mapping[str, str], name: str) -> str | None:
    return labels.get(f"exported_{name}") or labels.get(name) or None


@dataclass(frozen=True)
class Scope:
    namespace: str | None = None
    pod: str | None = None
    container: str | None = None
    node: str | None = None
    instance: str | None = None  # a scrape target's host, often a node's name or address
    workloads: tuple[tuple[str, str], ...] = ()  # (kind, name)
    job: str | None = None  # `job`: a Kubernetes Job only if one of that name has a finding, else the scrape job

    @property
    def empty(self) -> bool:
        return not (self.namespace or self.pod or self.node or self.instance or self.workloads)

    def describe(self) -> str:
        """`pod ml-training/fe-1 on node gpu-3`: the alert's objects as a question names them."""
        parts = []
        where = f"{self.namespace}/" if self.namespace else ""
        if self.pod:
            parts.append(f"pod {where}{self.pod}" + (f" (container {self.container})" if self.container else ""))
        parts += [f"{kind.lower()} {where}{name}" for kind, name in self.workloads]
        if self.node:
            parts.append(f"node {self.node}")
        if not parts and self.namespace:
            parts.append(f"namespace {self.namespace}")
        if not parts and self.instance:
            parts.append(f"instance {self.instance}")
        return ", ".join(parts) or "the cluster"

    def filters(self) -> dict[str, Any]:
        """Retrieval filters for the answer: the namespace when the alert has one, else the node."""
        if self.namespace:
            return {"namespace": self.namespace}
        node = self.node or self.instance
        return {"node": node} if node else {}

    def context_filters(self) -> dict[str, Any]:
        """Retrieval filters for the alert's surrounding events and logs: its pod when it names one."""
        return {**self.filters(), **({"name": self.pod} if self.pod else {})}

    def to_json(self) -> dict[str, Any]:
        body = {key: getattr(self, key) for key in ("namespace", "pod", "container", "node", "instance")}
        body["workloads"] = [{"kind": kind, "name": name} for kind, name in self.workloads]
        return {key: value for key, value in body.items() if value}


def scope_of(labels: Mapping[str, str]) -> Scope:
    """The objects an alert's labels name."""
    instance = labels.get("instance")
    host = instance.rsplit(":", 1)[0].strip("[]") if instance else None
    workloads = tuple((kind, labels[name]) for name, kind in WORKLOAD_LABELS.items() if labels.get(name))
    return Scope(
        namespace=_label(labels, "namespace"),
        pod=_label(labels, "pod") or labels.get("pod_name"),
        container=_label(labels, "container"),
        node=next((labels[name] for name in NODE_LABELS if labels.get(name)), None),
        instance=host or None,
        workloads=tuple(dict.fromkeys(workloads)),
        job=labels.get("job") or None,
    )


def resolve(scope: Scope, findings: Sequence[Finding]) -> Scope:
    """The scope with its `job` label as a Job workload, when the diagnosis knows a Job of that name."""
    if scope.job and any(f.kind == "Job" and f.name == scope.job and _same_namespace(f, scope) for f in findings):
        return replace(scope, workloads=tuple(dict.fromkeys([*scope.workloads, ("Job", scope.job)])))
    return scope


def _same_namespace(finding: Finding, scope: Scope) -> bool:
    return scope.namespace is None or finding.namespace == scope.namespace


def _names_it(finding: Finding, scope: Scope) -> bool:
    """Whether the alert's labels name the finding's object itself."""
    if scope.pod:
        return (finding.kind == "Pod" and finding.name == scope.pod and _same_namespace(finding, scope)
                and (scope.container is None or finding.container in (None, scope.container)))
    for kind, name in scope.workloads:
        if _same_namespace(finding, scope) and (
                (finding.kind == kind and finding.name == name)
                or (finding.kind in ("Pod", "ReplicaSet") and finding.name.startswith(f"{name}-"))):
            return True
    if scope.workloads:
        return False
    if scope.node or scope.instance:
        return finding.kind == "Node" and finding.name in (scope.node, scope.instance)
    return scope.namespace is not None and finding.namespace == scope.namespace


def _neighbours(direct: Sequence[Finding], findings: Sequence[Finding], scope: Scope) -> list[Finding]:
    """One hop out: the nodes under the alert's pods (and GPUs, node findings too) and the diagnosis's links."""
    nodes = {finding.node for finding in direct if finding.kind == "Pod" and finding.node}
    if scope.pod or scope.workloads:
        nodes |= {name for name in (scope.node, scope.instance) if name}
    linked = {related for finding in direct for related in finding.related}
    chosen = {finding.id for finding in direct}
    return [finding for finding in findings if finding.id not in chosen
            and ((finding.kind == "Node" and finding.name in nodes) or finding.id in linked)]


def select(findings: Sequence[Finding], scope: Scope) -> tuple[list[Finding], list[Finding]]:
    """(the findings the alert names, their neighbours); an alert that names no object gets every finding.

    Give it a scope `resolve`d against the same findings, so a `job` label that names a Job counts.
    """
    if scope.empty:
        return list(findings), []
    direct = [finding for finding in findings if _names_it(finding, scope)]
    return direct, _neighbours(direct, findings, scope)
