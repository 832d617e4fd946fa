"""The live cluster through the official client: a thin adapter over the shared converters.

It lists nodes, events, pods, deployments, statefulsets, daemonsets, jobs,
PersistentVolumeClaims and ConfigMaps (keys, and values only of keys that do
not look secret). It never lists Secrets. Raw JSON is requested so the objects
are the same dicts a cluster-info dump holds and go through the same renderers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from kubetrainer.errors import Unavailable
from kubetrainer.k8s.client import connect, pages
from kubetrainer.sources.base import Problems
from kubetrainer.sources.kube import records_from_list


def list_calls(api_client_) -> list[tuple[str, str, Callable]]:
    """(list kind, description, call) for everything we read; Secrets are deliberately absent."""
    from kubernetes import client

    core, apps, batch = client.CoreV1Api(api_client_), client.AppsV1Api(api_client_), client.BatchV1Api(api_client_)
    return [
        ("NodeList", "nodes", core.list_node),
        ("EventList", "events", core.list_event_for_all_namespaces),
        ("PodList", "pods", core.list_pod_for_all_namespaces),
        ("DeploymentList", "deployments", apps.list_deployment_for_all_namespaces),
        ("StatefulSetList", "statefulsets", apps.list_stateful_set_for_all_namespaces),
        ("DaemonSetList", "daemonsets", apps.list_daemon_set_for_all_namespaces),
        ("JobList", "jobs", batch.list_job_for_all_namespaces),
        ("PersistentVolumeClaimList", "persistentvolumeclaims", core.list_persistent_volume_claim_for_all_namespaces),
        ("ConfigMapList", "configmaps", core.list_config_map_for_all_namespaces),
    ]


def read_api(kubeconfig: str | None, problems: Problems) -> Iterator[dict]:
    """Records for the whole cluster; a list the credentials may not read is reported and skipped."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    client_ = connect(kubeconfig)
    host = client_.configuration.host
    for list_kind, what, call in list_calls(client_):
        try:
            # Paged, so a cluster with a million events is never one response in memory.
            document = {"kind": list_kind, "items": list(pages(call))}
        except ApiException as error:
            problems.skip(f"{host} {what}", f"API error {error.status} {error.reason}")
            continue
        except HTTPError as error:
            raise Unavailable(f"cannot reach the Kubernetes API: {error}", where=host) from error
        yield from records_from_list(document, "api")
