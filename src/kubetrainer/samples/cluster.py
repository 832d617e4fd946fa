"""The sample cluster generator: a realistic `kubectl cluster-info dump` with incidents.

`generate_cluster(out, seed, size)` writes the dump tree (nodes.json, per-namespace
object lists, per-pod logs.txt) plus `questions.jsonl`: on-call questions with
the evidence that answers them, for retrieval evaluation and the quickstart.
The same seed, size and scenario always give the same bytes. Scenarios: `default`
(incidents.py, used by the quickstart and tests), `heldout` (heldout.py: other
incidents on other objects, with scoreable facts, for evaluation only), `fresh`
(fresh.py: a third such set, for evaluation only), `blind` (blind.py: a fourth,
kept for a final held-out score), `sealed` (sealed.py: a fifth, kept only for
honest evaluation of the on-call answers), `unseen` (unseen.py: a sixth, written
blind for a held-out answer score), `drill` (drill.py: a seventh, a development
set for the answers), `reserve` (reserve.py: an eighth, written blind for a
held-out answer score), `vigil` (vigil.py: a ninth), `ember` (ember.py: a tenth),
`tundra` (tundra.py: an eleventh), `quarry` (quarry.py: a twelfth), `cobalt` (cobalt.py:
a thirteenth), `lumen` (lumen.py: a fourteenth) and `harbor` (harbor.py: a fifteenth), each written
blind for a held-out answer score.
"""

from __future__ import annotations

import importlib
import random
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from kubetrainer.samples.model import LOG_WINDOW, NOW, SampleCluster, SampleContainer, SamplePod
from kubetrainer.samples.objects import GPU_RESOURCES
from kubetrainer.samples.secrets import planted_secrets
from kubetrainer.samples.workloads import WORKLOADS, Workload


@dataclass(frozen=True)
class ClusterSize:
    """How much routine log noise to write (incidents are the same at every size)."""

    log_lines: int


SIZES = {
    "small": ClusterSize(log_lines=3_000),
    "default": ClusterSize(log_lines=60_000),
    "huge": ClusterSize(log_lines=1_000_000),
}


def resolve_size(size: str | int | ClusterSize) -> ClusterSize:
    """A preset name, a number of log lines, or a ClusterSize."""
    if isinstance(size, ClusterSize):
        return size
    if isinstance(size, int):
        return ClusterSize(log_lines=size)
    if size in SIZES:
        return SIZES[size]
    if size.isdigit():
        return ClusterSize(log_lines=int(size))
    raise ValueError(f"unknown sample size {size!r}; expected one of {', '.join(SIZES)} or a number of log lines")


def gpu_vendor_of(node: dict) -> str | None:
    allocatable = node.get("status", {}).get("allocatable", {})
    for vendor, resource in GPU_RESOURCES.items():
        if int(allocatable.get(resource, "0") or 0) > 0:
            return vendor
    return None


def is_ready(node: dict) -> bool:
    conditions = node.get("status", {}).get("conditions", [])
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _tolerates(workload: Workload, node: dict) -> bool:
    taints = node.get("spec", {}).get("taints", [])
    return not taints or workload.gpu_vendor is not None or workload.kind == "DaemonSet"


def _eligible_nodes(workload: Workload, nodes: list[dict]) -> list[dict]:
    ready = [node for node in nodes if is_ready(node)]
    if workload.gpu_vendor:
        return [node for node in ready if gpu_vendor_of(node) == workload.gpu_vendor]
    if workload.kind == "DaemonSet":
        return ready
    return [node for node in ready if gpu_vendor_of(node) is None and _tolerates(workload, node)]


def _pod_names(cluster: SampleCluster, workload: Workload, count: int) -> list[tuple[str, tuple[str, str]]]:
    if workload.kind == "StatefulSet":
        return [(f"{workload.name}-{i}", ("StatefulSet", workload.name)) for i in range(count)]
    if workload.kind == "Deployment":
        replica_set = f"{workload.name}-{cluster.suffix(10)}"
        return [(f"{replica_set}-{cluster.suffix()}", ("ReplicaSet", replica_set)) for _ in range(count)]
    return [(f"{workload.name}-{cluster.suffix()}", (workload.kind, workload.name)) for _ in range(count)]


def running_container(spec, image: str, started) -> SampleContainer:
    return SampleContainer(spec=spec, image=image, state={"running": {"startedAt": started.strftime("%Y-%m-%dT%H:%M:%SZ")}})


def add_pods(cluster: SampleCluster, workload: Workload, count: int | None = None, *, node: str | None = None, image: str | None = None) -> list[SamplePod]:
    """Schedule `count` pods of a workload (DaemonSets: one per eligible node) and emit their events."""
    nodes = _eligible_nodes(workload, cluster.nodes)
    if workload.kind == "DaemonSet" and count is None:
        targets = [n["metadata"]["name"] for n in nodes]
    else:
        wanted = workload.replicas if count is None else count
        targets = [node or (nodes[(len(cluster.pods) + i) % len(nodes)]["metadata"]["name"] if nodes else None) for i in range(wanted)]
    created = []
    for (name, owner), target in zip(_pod_names(cluster, workload, len(targets)), targets):
        start = NOW - LOG_WINDOW - timedelta(minutes=cluster.rng.randint(5, 3 * 24 * 60))
        containers = [running_container(spec, image or spec.image, start) for spec in workload.containers]
        pod = SamplePod(workload, name, cluster.uid(), target, start, containers, owner)
        cluster.pods.append(pod)
        created.append(pod)
        if target:
            _startup_events(cluster, pod)
    return created


def _startup_events(cluster: SampleCluster, pod: SamplePod) -> None:
    at = NOW - timedelta(minutes=cluster.rng.randint(5, 55))
    ref = ("Pod", pod.namespace, pod.name)
    cluster.event(ref, "Scheduled", f"Successfully assigned {pod.namespace}/{pod.name} to {pod.node}", at, component="default-scheduler")
    for container in pod.containers:
        cluster.event(ref, "Pulled", f'Container image "{container.image}" already present on machine', at, host=pod.node)
        cluster.event(ref, "Created", f"Created container {container.spec.name}", at, host=pod.node)
        cluster.event(ref, "Started", f"Started container {container.spec.name}", at, host=pod.node)


# Scenario name -> the module of kubetrainer.samples that plants its incidents (and, except
# for the default, brings its own nodes and workloads). The order is the order they were written in.
_SCENARIO_MODULES = {
    "default": "incidents", "heldout": "heldout", "fresh": "fresh", "blind": "blind", "sealed": "sealed",
    "unseen": "unseen", "reserve": "reserve", "drill": "drill", "vigil": "vigil", "ember": "ember",
    "tundra": "tundra", "quarry": "quarry", "cobalt": "cobalt", "lumen": "lumen",
    "harbor": "harbor",
}
SCENARIOS = tuple(_SCENARIO_MODULES)


def _scenario(name: str):
    """(apply incidents, the nodes, the healthy workload catalog) of a scenario; ValueError if unknown."""
    from kubetrainer.samples.nodes import sample_nodes

    if name not in _SCENARIO_MODULES:
        raise ValueError(f"unknown sample scenario {name!r}; expected one of {', '.join(SCENARIOS)}")
    module = importlib.import_module(f"kubetrainer.samples.{_SCENARIO_MODULES[name]}")
    if name == "default":
        return module.apply_all, sample_nodes, WORKLOADS
    return module.apply_all, module.scenario_nodes, WORKLOADS + module.WORKLOADS


def build_cluster(seed: int = 0, nodes: list[dict] | None = None, scenario: str = "default") -> SampleCluster:
    """Healthy workloads on the sample nodes, then the scenario's incidents.

    `default` plants the incidents of incidents.py; `heldout` (heldout.py), `fresh`
    (fresh.py), `blind` (blind.py), `sealed` (sealed.py) and `unseen` (unseen.py) plant
    different incidents on different objects, kept for honest evaluation only; `drill`
    (drill.py: a seventh, a development set for the answers) does the same, and so does
    `reserve` (reserve.py: an eighth, written blind for a held-out answer score), and so do `vigil`,
    `ember`, `tundra`, `quarry`, `cobalt`, `lumen` and `harbor` (the ninth to fifteenth, written the same way). `nodes` replaces the
    scenario's own nodes (the other scenarios' incidents need those of their
    `scenario_nodes()`).
    Unknown scenario names raise ValueError.
    """
    apply_incidents, scenario_nodes, catalog = _scenario(scenario)
    cluster = SampleCluster(rng=random.Random(seed), secrets=planted_secrets(seed), nodes=nodes if nodes is not None else scenario_nodes())
    for workload in catalog:
        if workload.gpus <= 1:
            add_pods(cluster, workload)
    apply_incidents(cluster)
    return cluster


def generate_cluster(
    out: Path, seed: int = 0, size: str | int | ClusterSize = "default", progress=None, scenario: str = "default"
) -> SampleCluster:
    """Build the scenario's sample cluster and write it as a cluster-info dump under `out` (atomically)."""
    from kubetrainer.samples.dump import write_dump

    chosen = resolve_size(size)
    cluster = build_cluster(seed, scenario=scenario)
    write_dump(cluster, Path(out), chosen, progress=progress)
    return cluster
