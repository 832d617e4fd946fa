"""Create the simulated nodes of the local control plane and wait until kwok has them Ready.

Run by up.sh right after the control plane is up. The nodes are Node objects shaped like
real GPU nodes (kubetrainer.samples.nodes); kwok plays their kubelets (leases, pods to
Running), except for nodes whose Ready condition is not True: those get no kwok annotation,
so they stay NotReady the way a node whose kubelet died does.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable

from kubernetes import client, config
from kubernetes.client.rest import ApiException

from kubetrainer.samples.nodes import sample_nodes

KWOK_ANNOTATION = "kwok.x-k8s.io/node"
# Fields the API server sets itself and refuses (resourceVersion) or ignores on create.
SERVER_FIELDS = ("uid", "resourceVersion", "creationTimestamp")


def simulated_nodes() -> list[dict]:
    """The sample nodes, each with the annotation that hands it to kwok unless it is NotReady."""
    nodes = sample_nodes()
    for node in nodes:
        for field in SERVER_FIELDS:
            node["metadata"].pop(field, None)
        if not declared_not_ready(node):
            node["metadata"].setdefault("annotations", {})[KWOK_ANNOTATION] = "fake"
    return nodes


def declared_not_ready(node: dict) -> bool:
    conditions = node.get("status", {}).get("conditions", [])
    return any(c.get("type") == "Ready" and c.get("status") != "True" for c in conditions)


def _is_ready(node: client.V1Node) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or [])


def create_nodes(api: client.CoreV1Api, nodes: Iterable[dict]) -> list[str]:
    """Create each node (status included: the API server keeps a new node's status).

    A node the API server refuses as invalid is reported on stderr and left out, so one
    bad sample does not take the whole cluster down; the names created are returned.
    """
    created = []
    for node in nodes:
        name = node["metadata"]["name"]
        try:
            api.create_node(node)
        except ApiException as err:
            if err.status == 422:
                message = json.loads(err.body).get("message", err.body)
                print(f"nodes.py: the API server refused sample node {name}: {message}", file=sys.stderr)
                continue
            if err.status != 409:  # 409: already there from an earlier run of up.sh
                raise
        created.append(name)
    return created


def wait_ready(api: client.CoreV1Api, names: set[str], timeout_s: float = 60.0) -> None:
    """Block until kwok reports every named node Ready; SystemExit naming the laggards if not."""
    deadline = time.monotonic() + timeout_s
    while True:
        ready = {n.metadata.name for n in api.list_node().items if _is_ready(n)}
        if names <= ready:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"nodes.py: nodes not Ready after {timeout_s:.0f}s: {sorted(names - ready)}")
        time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", required=True)
    args = parser.parse_args(argv)
    api = client.CoreV1Api(config.new_client_from_config(config_file=args.kubeconfig))
    nodes = simulated_nodes()
    created = set(create_nodes(api, nodes))
    wait_ready(api, {n["metadata"]["name"] for n in nodes if not declared_not_ready(n)} & created)
    print(f"{len(created)} simulated nodes created")
    return 0


if __name__ == "__main__":
    sys.exit(main())
