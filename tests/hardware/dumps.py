"""Writing test clusters in the layout `kubectl cluster-info dump` uses (test helper)."""

from __future__ import annotations

import json
from pathlib import Path


def write_dump(directory: Path, nodes: list[dict], pods: list[dict]) -> Path:
    """The layout `kubectl cluster-info dump --all-namespaces --output-directory` writes."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "nodes.json").write_text(json.dumps({"kind": "NodeList", "apiVersion": "v1", "items": nodes}))
    for namespace in {pod["metadata"]["namespace"] for pod in pods} | {"kube-system"}:
        items = [pod for pod in pods if pod["metadata"]["namespace"] == namespace]
        (directory / namespace).mkdir(exist_ok=True)
        (directory / namespace / "pods.json").write_text(json.dumps({"kind": "PodList", "items": items}))
        (directory / namespace / "events.json").write_text(json.dumps({"kind": "EventList", "items": []}))
    return directory
