"""The live cluster reader: list Nodes and unfinished Pods through the official client.

A thin adapter over `hardware.cluster`: it pages through both lists (limit/continue,
so a 5,000-node cluster is never one giant response), keeps the raw JSON dicts (the
same shape the offline readers see) and only needs `list` on nodes and pods; it never
touches Secrets.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import orjson

from kubetrainer.errors import Unavailable, UserError
from kubetrainer.hardware.cluster import build_inventory
from kubetrainer.hardware.inventory import ClusterInventory

PAGE_SIZE = 500
TIMEOUT_S = 15
UNFINISHED = "status.phase!=Succeeded,status.phase!=Failed"


def _api_client(kubeconfig: str | None, context: str | None) -> Any:
    """A client from the given kubeconfig, else in-cluster credentials, else the default kubeconfig."""
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    try:
        if kubeconfig is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
            config.load_incluster_config()
            return client.ApiClient()
        return config.new_client_from_config(config_file=kubeconfig, context=context)
    except (ConfigException, OSError, TypeError, ValueError) as error:
        raise Unavailable(
            f"no usable Kubernetes credentials: {error}",
            where=kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config",
            hint="pass --kubeconfig PATH, or --from DIR for a `kubectl cluster-info dump`",
        ) from error


def _pages(call: Callable[..., Any], **query: Any) -> Iterator[dict[str, Any]]:
    """Every item of a list call, one page of PAGE_SIZE at a time."""
    token = None
    while True:
        response = call(limit=PAGE_SIZE, _continue=token, _preload_content=False, _request_timeout=TIMEOUT_S, **query)
        body = orjson.loads(response.data)
        yield from body.get("items") or ()
        token = (body.get("metadata") or {}).get("continue")
        if not token:
            return


def inventory_from_api(kubeconfig: str | None = None, *, context: str | None = None) -> ClusterInventory:
    """The GPU inventory of a live cluster (kubeconfig, or in-cluster when run in a pod)."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    api_client = _api_client(kubeconfig, context)
    host = api_client.configuration.host
    core = client.CoreV1Api(api_client)
    try:
        nodes = list(_pages(core.list_node))
        pods = list(_pages(core.list_pod_for_all_namespaces, field_selector=UNFINISHED))
    except ApiException as error:
        if error.status in (401, 403):
            raise UserError(f"the API server refused to list nodes and pods ({error.status} {error.reason})",
                            where=host, hint="detect needs `list` on nodes and pods (cluster-wide)") from error
        raise Unavailable(f"the API server answered {error.status} {error.reason}", where=host) from error
    except HTTPError as error:
        raise Unavailable(f"cannot reach the API server: {error}", where=host,
                          hint="check the kubeconfig's server address, or use --from DIR offline") from error
    finally:
        api_client.close()
    return build_inventory(f"api:{host}", nodes, pods)
