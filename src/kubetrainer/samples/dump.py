"""Write a SampleCluster as `kubectl cluster-info dump --all-namespaces --output-directory` does.

Layout: `nodes.json`; `<ns>/{events,pods,services,deployments,replicasets,daemonsets,
replication-controllers}.json` (List objects); `<ns>/<pod>/logs.txt` holding every
container's log (init containers first, as kubectl writes them) between
`==== START logs for container C of pod NS/P ====` and the matching END line. Routine noise is streamed to disk so the huge size never
sits in memory. `questions.jsonl` goes next to the dump.
"""

from __future__ import annotations

import heapq
import json
import random
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

from kubetrainer import atomic
from kubetrainer.records import record_id
from kubetrainer.samples.model import LOG_WINDOW, NOW, SampleCluster, SampleContainer, SamplePod
from kubetrainer.samples.noise import STYLES
from kubetrainer.samples.objects import controllers_json, pod_json

LIST_FILES = ("events", "pods", "services", "deployments", "replicasets", "daemonsets", "replication-controllers")


def _list(kind: str, items: list[dict]) -> dict:
    return {"kind": kind, "apiVersion": "v1", "metadata": {"resourceVersion": "184467"}, "items": items}


def _write_json(path: Path, value: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=4) + "\n", encoding="utf-8")


def _noise(rng: random.Random, container: SampleContainer, start: datetime, count: int) -> Iterator[tuple[datetime, str]]:
    """`count` routine lines in the container's style, in time order from `start` until it ended."""
    make = STYLES[container.spec.style]
    finished = container.state.get("terminated", {}).get("finishedAt")
    end = datetime.fromisoformat(finished) if finished else NOW
    step = (end - start) / max(count, 1)
    for index in range(count):
        moment = start + step * index + timedelta(microseconds=rng.randint(0, 999_999) * step.total_seconds() / 2)
        yield moment, make(rng, moment)


def _container_lines(rng: random.Random, pod: SamplePod, container: SampleContainer, noise_lines: int) -> Iterator[str]:
    start = max(pod.start, NOW - LOG_WINDOW)
    planted = sorted(container.lines, key=lambda item: item[0])  # stable: same-time lines keep their order
    routine = _noise(rng, container, start, noise_lines) if container.noise else iter(())
    for _, line in heapq.merge(routine, planted, key=lambda item: item[0]):
        yield line


def _noise_shares(cluster: SampleCluster, total_lines: int) -> dict[tuple[str, str], int]:
    """Routine lines per (pod uid, container), proportional to each container's weight."""
    noisy = [(pod, c) for pod in cluster.pods if pod.node for c in pod.containers if c.noise]
    weight = sum(container.spec.weight for _, container in noisy) or 1.0
    return {(pod.uid, c.spec.name): int(total_lines * c.spec.weight / weight) for pod, c in noisy}


def _init_container_json(container: SampleContainer) -> tuple[dict, dict]:
    """An init container's spec and status entries (they fall back to their log tail as termination message)."""
    resources = {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "128Mi"}}
    spec = {"name": container.spec.name, "image": container.image, "resources": resources,
            "imagePullPolicy": "IfNotPresent", "terminationMessagePolicy": "FallbackToLogsOnError"}
    if container.env:
        spec["env"] = container.env
    pulled = "waiting" not in container.state or container.restarts > 0
    status = {
        "name": container.spec.name,
        "image": container.image,
        "imageID": f"{container.image.split(':')[0]}@sha256:{record_id(container.image)}" if pulled else "",
        "ready": container.ready,
        "started": False,
        "restartCount": container.restarts,
        "state": container.state,
        "lastState": container.last_state,
    }
    return spec, status


def pod_document(pod: SamplePod) -> dict:
    """The pod as the API server returns it, with what `pod_json` leaves out: init containers, resource overrides."""
    document = pod_json(pod)
    if pod.resources is not None:
        for container in document["spec"]["containers"]:
            container["resources"] = pod.resources
    if pod.init_containers:
        specs, statuses = zip(*(_init_container_json(c) for c in pod.init_containers))
        document["spec"] = {"initContainers": list(specs), **document["spec"]}
        if pod.node:
            document["status"]["initContainerStatuses"] = list(statuses)
    return document


def write_logs(cluster: SampleCluster, root: Path, total_lines: int, progress: Callable[[int], None] | None = None) -> int:
    """Write every pod's logs.txt; returns the number of log lines written."""
    rng = random.Random(cluster.rng.random())
    shares = _noise_shares(cluster, total_lines)
    written = 0
    for pod in cluster.pods:
        if not pod.node:
            continue
        path = root / pod.namespace / pod.name / "logs.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as handle:
            for container in pod.init_containers + pod.containers:
                ref = f"container {container.spec.name} of pod {pod.namespace}/{pod.name}"
                handle.write(f"==== START logs for {ref} ====\n")
                count = 0
                for line in _container_lines(rng, pod, container, shares.get((pod.uid, container.spec.name), 0)):
                    handle.write(line + "\n")
                    count += 1
                handle.write(f"==== END logs for {ref} ====\n")
                written += count
                if progress:
                    progress(count)
    return written


def write_dump(cluster: SampleCluster, out: Path, size, progress: Callable[[int], None] | None = None) -> int:
    """Write the dump into `out` atomically (no half tree; other files in `out` stay); returns log lines."""
    with atomic.entries(out) as root:
        _write_json(root / "nodes.json", _list("NodeList", cluster.nodes))
        namespaces = sorted({pod.namespace for pod in cluster.pods} | {e["metadata"]["namespace"] for e in cluster.events})
        for namespace in namespaces:
            lists = controllers_json(cluster, namespace)
            lists["pods"] = [pod_document(pod) for pod in cluster.pods if pod.namespace == namespace]
            lists["events"] = [event for event in cluster.events if event["metadata"]["namespace"] == namespace]
            lists["replication-controllers"] = []
            for name in LIST_FILES:
                kind = "".join(part.title() for part in name.rstrip("s").split("-")) + "List"
                _write_json(root / namespace / f"{name}.json", _list(kind, lists[name]))
        lines = write_logs(cluster, root, size.log_lines, progress)
        questions = "".join(json.dumps(q.to_json()) + "\n" for q in cluster.questions)
        (root / "questions.jsonl").write_text(questions, encoding="utf-8")
    return lines
