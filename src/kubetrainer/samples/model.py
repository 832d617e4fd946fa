"""The sample cluster in memory: pods, containers, events and questions, before writing.

The generator builds healthy state from the workload catalog, incidents then
break parts of it, and `dump.py` serialises the result as a cluster-info dump.
Everything random comes from one seeded `random.Random`, so a seed is a cluster.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from kubetrainer.samples.secrets import FakeSecrets
from kubetrainer.samples.workloads import ContainerSpec, Workload

NOW = datetime(2026, 3, 14, 12, 0, 0, tzinfo=UTC)
LOG_WINDOW = timedelta(hours=6)
# involvedObject.apiVersion by kind; anything else is an apps/v1 controller.
_API_VERSIONS = {
    "Pod": "v1", "Node": "v1", "PersistentVolumeClaim": "v1", "ResourceQuota": "v1",
    "HorizontalPodAutoscaler": "autoscaling/v2", "NetworkPolicy": "networking.k8s.io/v1",
}


@dataclass
class SampleContainer:
    spec: ContainerSpec
    image: str
    state: dict  # Kubernetes ContainerState: {"running": {...}} | {"waiting": {...}} | {"terminated": {...}}
    last_state: dict = field(default_factory=dict)
    ready: bool = True
    restarts: int = 0
    noise: bool = True  # False: only the incident lines (a container that crashes at start-up)
    lines: list[tuple[datetime, str]] = field(default_factory=list)
    env: list[dict] = field(default_factory=list)


@dataclass
class SamplePod:
    workload: Workload
    name: str
    uid: str
    node: str | None
    start: datetime
    containers: list[SampleContainer]
    owner: tuple[str, str]  # (kind, name) of the controller
    phase: str = "Running"
    conditions: dict[str, str] = field(default_factory=dict)  # type -> status overrides
    reason: str | None = None
    message: str | None = None
    claims: list[str] = field(default_factory=list)  # PersistentVolumeClaim names
    init_containers: list[SampleContainer] = field(default_factory=list)  # run before `containers`, logged first
    resources: dict | None = None  # replaces the workload's container resources (e.g. a MIG slice request)

    @property
    def namespace(self) -> str:
        return self.workload.namespace


@dataclass(frozen=True)
class Evidence:
    """What a correct retrieval hit looks like: the object it names and a phrase it contains."""

    namespace: str | None
    name: str
    contains: str

    def to_json(self) -> dict:
        return {"namespace": self.namespace, "name": self.name, "contains": self.contains}


@dataclass(frozen=True)
class Question:
    """An on-call question, the answer, where the evidence is, and the facts a right answer states.

    Each fact is a short phrase; `|` separates alternatives; an answer states the
    fact when one alternative is a case-insensitive substring of it (`evaluate.facts.states`).
    """

    id: str
    question: str
    answer: str
    evidence: tuple[Evidence, ...]
    incident: str
    facts: tuple[str, ...] = ()

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "question": self.question,
            "answer": self.answer,
            "incident": self.incident,
            "evidence": [item.to_json() for item in self.evidence],
            "facts": list(self.facts),
        }


@dataclass
class SampleCluster:
    rng: random.Random
    secrets: FakeSecrets
    nodes: list[dict]
    pods: list[SamplePod] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    questions: list[Question] = field(default_factory=list)

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def suffix(self, length: int = 5) -> str:
        return "".join(self.rng.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(length))

    def pods_of(self, namespace: str, workload: str) -> list[SamplePod]:
        found = [pod for pod in self.pods if pod.namespace == namespace and pod.workload.name == workload]
        if not found:
            raise KeyError(f"no sample pods for {namespace}/{workload}")
        return found

    def node_named(self, name: str) -> dict:
        return next(node for node in self.nodes if node["metadata"]["name"] == name)

    def event(
        self,
        involved: tuple[str, str | None, str],
        reason: str,
        message: str,
        at: datetime,
        *,
        warning: bool = False,
        count: int = 1,
        component: str = "kubelet",
        host: str | None = None,
        first: datetime | None = None,
    ) -> dict:
        """Record a core/v1 Event about (kind, namespace, name) and return it."""
        kind, namespace, name = involved
        stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": f"{name}.{self.rng.getrandbits(64):x}",
                "namespace": namespace or "default",
                "uid": self.uid(),
                "creationTimestamp": stamp,
            },
            "involvedObject": {"kind": kind, "name": name, "apiVersion": _API_VERSIONS.get(kind, "apps/v1")},
            "reason": reason,
            "message": message,
            "source": {"component": component, **({"host": host} if host else {})},
            "firstTimestamp": (first or at).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "lastTimestamp": stamp,
            "count": count,
            "type": "Warning" if warning else "Normal",
            "reportingComponent": component,
            "reportingInstance": host or "",
        }
        if namespace:
            event["involvedObject"]["namespace"] = namespace
        self.events.append(event)
        return event

    def unschedule(self, pod: SamplePod) -> None:
        """Make a pod Pending with no node, dropping the start-up events it would not have had."""
        pod.node, pod.phase = None, "Pending"
        pod.conditions = {"PodScheduled": "False"}
        for container in pod.containers:
            container.state = {"waiting": {"reason": "ContainerCreating", "message": ""}}
            container.ready, container.noise = False, False
        self.events = [e for e in self.events if e["involvedObject"]["name"] != pod.name]

    def ask(self, qid: str, question: str, answer: str, incident: str, *evidence: Evidence, facts: tuple[str, ...] = ()) -> None:
        self.questions.append(Question(qid, question, answer, tuple(evidence), incident, tuple(facts)))
