"""What changed before a failure: scale-ups, rollouts, preemptions, slow image pulls, restarts, rotated config.

The first question of every incident review is "what changed?". Kubernetes records most
changes as Normal events (the deployment controller's ScalingReplicaSet, the HPA's
SuccessfulRescale, the scheduler's Preempted on its victim, the kubelet's Pulled with how
long the pull took, a node's Starting/RegisteredNode), and controllers such as Stakater's
Reloader log the ConfigMaps and Secrets whose change made them roll a workload. None of
these is a failure, so no rule reports them (nor the scalings that schedulers such as
kube-downscaler log, nor the objects a GitOps controller such as Flux creates or reconfigures), and the objects
themselves record two more that outlive the events: a ReplicaSet's and a node's creation time; but a connection limit exhausted right after
a client was scaled from 2 to 12, or a training worker that missed its rendezvous because
its image took 17 minutes to pull, is explained only by them. This pass attaches to each
failure the few changes that came shortly before it and touch the same workload,
namespace or node. It states them as what changed, never as the cause: the correlation is
the reader's to judge.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from kubetrainer.diagnose.finding import Evidence, Finding
from kubetrainer.diagnose.knowledge import INFO
from kubetrainer.records import parse_ts

# Normal event reasons that record a change, by the kind of object they are written on ("" for any kind).
CHANGE_REASONS: dict[str, str] = {
    "ScalingReplicaSet": "",  # deployment controller: `Scaled up replica set web-7d9f to 12 from 2`
    "SuccessfulRescale": "",  # HPA: `New size: 5; reason: cpu resource utilization (percentage of request) above target`
    "Preempted": "Pod",  # kube-scheduler, on the victim: `Preempted by pod <uid> on node gpu-3`
    "Starting": "Node",  # kubelet: `Starting kubelet.` (a kubelet restart, or a node that came up)
    "RegisteredNode": "Node",  # node controller: `Node gpu-9 event: Registered Node gpu-9 in Controller`
    # statefulset controller, scaling down (or rolling) a StatefulSet: `delete Pod db-2 in StatefulSet db successful`;
    # a ReplicaSet's pod churn is routine, a StatefulSet member going away (a quorum member, a shard) is not
    "SuccessfulDelete": "StatefulSet",
}
MEMBER_DELETED = re.compile(r"delete Pod (\S+) in StatefulSet ")
# The kubelet's Pulled event says how long the pull took: `Successfully pulled image "x" in 16m48.221s (...)`.
PULL_TIME = re.compile(r'Successfully pulled image "[^"]+" in (?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>[\d.]+)s)?')
SLOW_PULL = timedelta(minutes=1)  # a pull this long delays a pod's start noticeably (a cold node, a huge image)
# Stakater Reloader: `Changes detected in 'db-credentials' of type 'SECRET' in namespace 'loyalty', Updated
# 'loyalty-api' of type 'Deployment' in namespace 'loyalty'`.
RELOADER = re.compile(r"Changes detected in '(?P<what>[^']+)' of type '\w+' in namespace '(?P<namespace>[^']+)'")
# A controller's log line that scales a workload by schedule or load: kube-downscaler `Scaling down Deployment
# gatekeeper-system/gatekeeper-controller-manager from 3 to 0 replicas (uptime: always, downtime: Sat-Sun 08:00-24:00)`.
SCALED = re.compile(r"\b[Ss]cal(?:ing|ed) (?:up|down) (?P<kind>Deployment|StatefulSet|ReplicaSet|Rollout|CronJob) "
                    r"(?P<namespace>[a-z0-9][a-z0-9-]*)/(?P<name>[a-z0-9][a-z0-9.-]*) from \d+ to \d+")
# Flux's kustomize-controller after each apply: `{"msg":"server-side apply completed", ..., "output":
# {"NetworkPolicy/warehouse/default-deny-ingress":"created", "Deployment/warehouse/inventory":"unchanged"}}`.
APPLIED = "server-side apply completed"
APPLIED_CHANGES = frozenset({"created", "configured", "deleted"})
# kube-scheduler on the victim, since Kubernetes 1.27: `Preempted by pod 68e72010-... on node gpu-3` (the preemptor's
# uid; older releases wrote its namespace/name).
PREEMPTOR = re.compile(r"Preempted by pod (?P<uid>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")
# A ReplicaSet's status line ends `; created 2026-03-14T09:40:09Z.` (its name is its Deployment's and a template hash),
# a node's has it before its taints.
CREATED = re.compile(r"; created (?P<ts>\d{4}-\d\d-\d\dT[\d:]+Z)")
REPLICASET = re.compile(r"^(?P<deployment>[a-z0-9][a-z0-9-]*?)-[a-z0-9]{6,10}$")
# The deployment controller's `Scaled up replica set web-7d9f8c6b5d to 3 from 0`: the new ReplicaSet of a rollout.
SCALED_UP = re.compile(r"Scaled up replica set (?P<name>[a-z0-9][a-z0-9.-]*)")
WINDOW = timedelta(hours=3)  # changes this long before a failure's first evidence are still "before it"
SLACK = timedelta(minutes=1)  # event and log clocks differ a little: a change this soon after still counts
MAX_CHANGES = 2  # per finding, the most closely related
KEEP = 2000  # changes remembered per diagnosis (the newest), so a long history stays bounded


@dataclass(frozen=True)
class Change:
    """One change: the line that records it, the object it happened to and the namespace it touched."""

    evidence: Evidence
    kind: str  # the kind of object changed (Deployment, Pod, Node, Secret...)
    name: str
    namespace: str | None
    lasted: timedelta = timedelta(0)  # how long it took before its line was written (an image pull)
    lasting: bool = False  # in effect until undone (a workload scaled to zero), so WINDOW does not end it

    @property
    def when(self) -> datetime | None:
        """When it began: a slow pull was under way long before the kubelet reported it done."""
        moment = _moment(self.evidence.ts)
        return moment - self.lasted if moment else None

    def to_json(self) -> dict[str, Any]:
        return {"evidence": self.evidence.to_json(), "kind": self.kind, "name": self.name, "namespace": self.namespace,
                "lasted": self.lasted.total_seconds(), "lasting": self.lasting}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Change:
        return cls(Evidence.from_json(value["evidence"]), value["kind"], value["name"], value["namespace"],
                   timedelta(seconds=value["lasted"]), bool(value.get("lasting")))


def event_change(reason: str, kind: str, text: str) -> timedelta | None:
    """How long the change a Normal event records took (0 for an instant one), or None when the event (its reason,
    the kind of object it is on, its `Reason: message` text) records no change."""
    if reason == "Pulled":
        took = _pull_time(text)
        return took if took >= SLOW_PULL else None
    wanted = CHANGE_REASONS.get(reason)
    return timedelta(0) if wanted is not None and wanted in ("", kind) else None


def rollout_change(summary: Evidence) -> Change | None:
    """The rollout a ReplicaSet's status line records by its creation time (`sources.render`: `; created T`), as a
    change to its Deployment: Kubernetes keeps events an hour, a ReplicaSet as long as the Deployment's history."""
    created = CREATED.search(summary.text)
    owner = REPLICASET.match(summary.name or "")
    if created is None or owner is None or not summary.text.startswith("ReplicaSet "):
        return None
    return Change(replace(summary, ts=created["ts"]), "Deployment", owner["deployment"], summary.namespace)


def node_joined(summary: Evidence) -> Change | None:
    """A node's creation, from its status line's `; created T` (`sources.render`), as a change to it: a node that
    replaced another (a node-group upgrade to a new OS image, a new instance type) runs what its pods then meet."""
    created = CREATED.search(summary.text)
    if created is None or not summary.text.startswith("Node "):
        return None
    return Change(replace(summary, ts=created["ts"]), "Node", summary.name or "", None)


def log_changes(line: str, evidence: Evidence) -> list[Change]:
    """The changes to other objects a controller's log line records (Reloader's rotated Secret, a scheduled
    scale-down, the objects a GitOps apply created or reconfigured)."""
    match = RELOADER.search(line)
    if match is not None:
        return [Change(evidence, "ConfigMap/Secret", match["what"], match["namespace"])]
    match = SCALED.search(line)
    if match is not None:
        return [Change(evidence, match["kind"], match["name"], match["namespace"], lasting=match[0].endswith(" to 0"))]
    return _applied(line, evidence) if APPLIED in line else []


def _applied(line: str, evidence: Evidence) -> list[Change]:
    """Flux's apply summary: one change per object created, configured or deleted (`Kind/namespace/name`)."""
    try:
        output = json.loads(line).get("output")
    except (ValueError, AttributeError):
        return []
    if not isinstance(output, dict):
        return []
    changes = []
    for target, outcome in output.items():
        kind, _, rest = str(target).partition("/")
        namespace, _, name = rest.rpartition("/")
        if outcome in APPLIED_CHANGES and name:
            where = f"{namespace}/{name}" if namespace else name
            changes.append(Change(replace(evidence, about=f"{kind} {where} {outcome}"), kind, name, namespace or None,
                                  lasting=True))
    return changes


def _pull_time(text: str) -> timedelta:
    match = PULL_TIME.search(text)
    if match is None or not any(match.groupdict().values()):
        return timedelta(0)
    return timedelta(hours=int(match["h"] or 0), minutes=int(match["m"] or 0), seconds=float(match["s"] or 0))


def _moment(ts: str | None) -> datetime | None:
    try:
        return parse_ts(ts) if ts else None
    except ValueError:
        return None


def _closeness(change: Change, finding: Finding) -> int:
    """How closely a change touches a finding: 3 its object or its owner, 2 named by it or naming it (or its
    namespace named in a Service address, `webhook.gatekeeper-system.svc`), 1 its namespace or node, 0 unrelated."""
    owner = finding.name.startswith(f"{change.name}-") or change.name.startswith(f"{finding.name}-")
    if change.name == finding.name or (owner and change.namespace == finding.namespace):
        return 3
    texts = " ".join(item.text for item in finding.evidence)
    if (len(change.name) >= 4 and change.name in texts) or f"'{finding.name}'" in change.evidence.text:
        return 2
    if change.namespace and change.namespace != finding.namespace and f".{change.namespace}.svc" in texts:
        return 2
    if finding.namespace and change.namespace == finding.namespace:
        return 1
    node = finding.name if finding.kind == "Node" else finding.node
    return int(bool(node) and (change.evidence.node == node or (change.kind == "Node" and change.name == node)))


def changes_before(finding: Finding, changes: list[Change]) -> list[Evidence]:
    """The changes shortly before `finding`'s evidence that touch it, most closely related first."""
    moments = [moment for item in finding.evidence for ts in (item.ts, item.since) if (moment := _moment(ts))]
    if not moments:
        return []
    start, end = min(moments) - WINDOW, max(moments) + SLACK
    first = min(moments)
    scored = []
    for change in changes:
        when = change.when
        if when is None or not (start <= when or change.lasting) or when > end or change.evidence in finding.evidence:
            continue
        closeness = _closeness(change, finding)
        if closeness:
            scored.append((-closeness, abs((first - when).total_seconds()), change))
    scored.sort(key=lambda row: row[:2])
    # one per changed object (a rollout's two scalings are one change), but each StatefulSet member removed
    chosen: dict[tuple[str, str, str], Evidence] = {}
    for _, _, change in scored:
        member = MEMBER_DELETED.search(change.evidence.text)
        chosen.setdefault((change.kind, change.name, member[1] if member else ""), change.evidence)
    return sorted(list(chosen.values())[:MAX_CHANGES], key=lambda item: _moment(item.ts) or first)


def name_changes(findings: list[Finding], changes: list[Change]) -> None:
    """Attach to each failure (not to notes) the changes that came shortly before it."""
    if not changes:
        return
    for finding in findings:
        if finding.severity != INFO:
            finding.changes = changes_before(finding, changes)


def resolved(change: Change, pods_by_uid: Mapping[str, str], replicaset_images: Mapping[tuple, str]) -> Change:
    """The change with what its line names only by an id resolved (`about`): a preemptor's uid to its pod
    (`pods_by_uid`: uid -> namespace/name), a ReplicaSet scaled up to the images its pods run
    (`replicaset_images`: (namespace, ReplicaSet) -> images), which says which release a rollout brought."""
    item = change.evidence
    if item.about:
        return change
    about = None
    if (match := PREEMPTOR.search(item.text)) and match["uid"] in pods_by_uid:
        about = f"by pod {pods_by_uid[match['uid']]}"
    elif (match := SCALED_UP.search(item.text)) and (change.namespace, match["name"]) in replicaset_images:
        about = f"its pods run {replicaset_images[(change.namespace, match['name'])]}"
    elif CREATED.search(item.text) and "; images " not in item.text and (change.namespace, item.name) in replicaset_images:
        about = f"its pods run {replicaset_images[(change.namespace, item.name)]}"
    return replace(change, evidence=replace(item, about=about)) if about else change
