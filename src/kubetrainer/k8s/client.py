"""The one adapter between KubeTrainer and the Kubernetes API (the official client).

Everything that talks to a cluster for submit, jobs and the operator goes through here,
so credentials, discovery and error messages are handled once. It never reads Secrets.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from kubetrainer.errors import Unavailable, UserError

PAGE_SIZE = 500
TIMEOUT_S = 15
# Which training backends a cluster offers, by the API group its CRDs serve.
BACKEND_GROUPS = {"trainjob": "trainer.kubeflow.org", "pytorchjob": "kubeflow.org"}
KINDS = {"job": ("batch/v1", "Job"), "pytorchjob": ("kubeflow.org/v1", "PyTorchJob"),
         "trainjob": ("trainer.kubeflow.org/v1alpha1", "TrainJob")}


def connect(kubeconfig: str | None = None, context: str | None = None) -> Any:
    """An ApiClient from the given kubeconfig, else in-cluster credentials, else the default kubeconfig."""
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


def pages(call: Callable[..., Any], **query: Any) -> Iterator[dict[str, Any]]:
    """Every item of a list call as plain JSON dicts, one page of PAGE_SIZE at a time."""
    token = None
    while True:
        response = call(limit=PAGE_SIZE, _continue=token, _preload_content=False, _request_timeout=TIMEOUT_S, **query)
        body = orjson.loads(response.data)  # several times faster than json on 100 MB node lists
        yield from body.get("items") or ()
        token = (body.get("metadata") or {}).get("continue")
        if not token:
            return


def api_error(error: Exception, host: str, doing: str) -> UserError:
    """A clear message for an API failure: refused (RBAC), rejected (invalid), or unreachable."""
    from kubernetes.client.exceptions import ApiException

    if isinstance(error, ApiException):
        reason = _api_message(error)
        if error.status in (401, 403):
            return UserError(f"the API server refused to {doing}: {reason}", where=host,
                             hint="check the RBAC of your kubeconfig's user (see the Helm chart's README)")
        if error.status in (400, 409, 422):
            return UserError(f"the API server rejected {doing}: {reason}", where=host)
        return Unavailable(f"the API server answered {error.status} while trying to {doing}: {reason}", where=host)
    return Unavailable(f"cannot reach the API server to {doing}: {error}", where=host)


def _api_message(error: Any) -> str:
    try:
        return json.loads(error.body).get("message") or error.reason
    except (TypeError, ValueError, AttributeError):
        return str(error.reason)


@dataclass
class Cluster:
    """A connected cluster: listing, discovery, creating and deleting objects of any kind."""

    api_client: Any

    @classmethod
    def open(cls, kubeconfig: str | None = None, context: str | None = None) -> Cluster:
        return cls(connect(kubeconfig, context))

    @property
    def host(self) -> str:
        return str(self.api_client.configuration.host)

    def nodes_and_pods(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """All nodes and the unfinished pods, as the API returns them."""
        from kubernetes import client

        core = client.CoreV1Api(self.api_client)
        try:
            nodes = list(pages(core.list_node))
            pods = list(pages(core.list_pod_for_all_namespaces,
                              field_selector="status.phase!=Succeeded,status.phase!=Failed"))
        except Exception as error:
            raise api_error(error, self.host, "list nodes and pods (detection needs `list` on both, cluster-wide)") from error
        return nodes, pods

    def served_backends(self) -> set[str]:
        """The training backends whose API groups this cluster serves (`job` always)."""
        from kubernetes import client

        try:
            groups = {group.name for group in client.ApisApi(self.api_client).get_api_versions().groups}
        except Exception as error:
            raise api_error(error, self.host, "discover API groups") from error
        return {"job"} | {backend for backend, group in BACKEND_GROUPS.items() if group in groups}

    def _resource(self, api_version: str, kind: str) -> Any:
        from kubernetes.dynamic import DynamicClient
        from kubernetes.dynamic.exceptions import ResourceNotFoundError

        try:
            return DynamicClient(self.api_client).resources.get(api_version=api_version, kind=kind)
        except ResourceNotFoundError as error:
            raise UserError(f"this cluster does not serve {kind} ({api_version})", where=self.host,
                            hint="install its operator, or choose --backend job") from error

    def create(self, obj: dict[str, Any]) -> None:
        resource = self._resource(obj["apiVersion"], obj["kind"])
        name = f"{obj['kind']} {obj['metadata']['namespace']}/{obj['metadata']['name']}"
        try:
            resource.create(body=obj, namespace=obj["metadata"]["namespace"])
        except Exception as error:
            raise api_error(error, self.host, f"create {name}") from error

    def delete(self, api_version: str, kind: str, namespace: str, name: str) -> bool:
        """Delete and let the garbage collector remove what it owns; False when it was already gone."""
        from kubernetes.dynamic.exceptions import NotFoundError

        try:
            self._resource(api_version, kind).delete(name=name, namespace=namespace, propagation_policy="Foreground")
        except NotFoundError:
            return False
        except Exception as error:
            raise api_error(error, self.host, f"delete {kind} {namespace}/{name}") from error
        return True

    def list(self, api_version: str, kind: str, namespace: str, label_selector: str) -> list[dict[str, Any]]:
        try:
            result = self._resource(api_version, kind).get(namespace=namespace, label_selector=label_selector)
        except Exception as error:
            raise api_error(error, self.host, f"list {kind} in {namespace}") from error
        return [item.to_dict() for item in result.items]

    def pod_log(self, namespace: str, name: str, tail_lines: int | None = None) -> str:
        from kubernetes import client

        try:
            return client.CoreV1Api(self.api_client).read_namespaced_pod_log(
                name, namespace, tail_lines=tail_lines, _request_timeout=TIMEOUT_S)
        except Exception as error:
            raise api_error(error, self.host, f"read the log of pod {namespace}/{name}") from error
