"""The chart's own service accounts, acting with their own tokens: each can do what it needs and nothing more.

The chart is installed into the local control plane; for the agent, the server and the
operator a token is minted (TokenRequest) and every check is made with that token alone:
real requests where they are cheap, and SelfSubjectAccessReviews (the API server's own
RBAC decision, asked by the service account about itself) for the rest. None of them may
read Secrets, exec into pods, or write anything cluster-wide.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from .conftest import Cluster, token_client

CHART = Path(__file__).resolve().parents[2] / "helm" / "kubetrainer"
RELEASE = "kt"
pytestmark = pytest.mark.k8s

# (verb, group, resource, subresource): what no account of ours may do, in any namespace or cluster-wide.
NEVER = [
    ("get", "", "secrets", ""), ("list", "", "secrets", ""), ("watch", "", "secrets", ""),
    ("create", "", "pods", "exec"), ("get", "", "pods", "exec"), ("create", "", "pods", "attach"),
    ("create", "", "pods", "portforward"), ("create", "", "serviceaccounts", "token"),
    ("impersonate", "", "serviceaccounts", ""), ("escalate", "rbac.authorization.k8s.io", "clusterroles", ""),
    ("bind", "rbac.authorization.k8s.io", "clusterroles", ""),
]
CLUSTER_WRITES = [(verb, group, resource) for verb in ("create", "update", "patch", "delete")
                  for group, resource in (("", "namespaces"), ("", "nodes"), ("", "pods"), ("", "configmaps"),
                                          ("apps", "deployments"), ("batch", "jobs"),
                                          ("rbac.authorization.k8s.io", "clusterroles"),
                                          ("rbac.authorization.k8s.io", "clusterrolebindings"),
                                          ("rbac.authorization.k8s.io", "rolebindings"),
                                          ("apiextensions.k8s.io", "customresourcedefinitions"),
                                          ("kubetrainer.dev", "trainingjobs"))]


def _allowed(api: client.ApiClient, verb: str, group: str, resource: str, namespace: str = "",
             subresource: str = "") -> bool:
    """The API server's RBAC decision for the token behind `api`, asked by that account itself."""
    review = client.AuthorizationV1Api(api).create_self_subject_access_review({"spec": {"resourceAttributes": {
        "verb": verb, "group": group, "resource": resource, "namespace": namespace, "subresource": subresource}}})
    return bool(review.status.allowed)


def _refused(call: object) -> int:
    try:
        call()  # type: ignore[operator]
    except ApiException as error:
        return error.status
    return 200


@pytest.fixture
def accounts(cluster: Cluster, api: client.ApiClient, namespace: str) -> Iterator[dict[str, client.ApiClient]]:
    """The chart installed in `namespace` (operator served there too), and a client per service account."""
    cluster.run("helm", "install", RELEASE, str(CHART), "--namespace", namespace,
                "--set", "server.persistence.enabled=false", "--set", "operator.enabled=true",
                "--set", f"operator.namespace={namespace}", "--set", "operator.createNamespace=false", "--wait=false")
    core = client.CoreV1Api(api)
    tokens = {}
    for role in ("agent", "server", "operator"):
        name = f"{RELEASE}-kubetrainer-{role}"
        tokens[role] = core.create_namespaced_service_account_token(
            name, namespace, {"spec": {"expirationSeconds": 600}}).status.token
    yield {role: token_client(api, token) for role, token in tokens.items()}
    cluster.run("helm", "uninstall", RELEASE, "--namespace", namespace)


def test_no_account_reads_secrets_execs_or_writes_cluster_wide(accounts: dict[str, client.ApiClient],
                                                               namespace: str) -> None:
    for role, api in accounts.items():
        for verb, group, resource, sub in NEVER:
            for where in (namespace, "default", ""):
                assert not _allowed(api, verb, group, resource, where, sub), (role, verb, resource, sub, where)
        for verb, group, resource in CLUSTER_WRITES:
            assert not _allowed(api, verb, group, resource, ""), (role, "cluster-wide", verb, resource)
            assert not _allowed(api, verb, group, resource, "default"), (role, "default", verb, resource)
        assert _refused(lambda api=api: client.CoreV1Api(api).list_namespaced_secret(namespace)) == 403, role
        assert _refused(lambda api=api: client.CoreV1Api(api).list_secret_for_all_namespaces()) == 403, role


def test_agent_needs_and_gets_nothing_from_the_api(accounts: dict[str, client.ApiClient], namespace: str) -> None:
    agent = client.CoreV1Api(accounts["agent"])
    assert _refused(agent.list_node) == 403
    assert _refused(lambda: agent.list_namespaced_pod(namespace)) == 403
    assert _refused(lambda: agent.list_event_for_all_namespaces()) == 403


def test_server_reads_cluster_state_and_writes_nothing(accounts: dict[str, client.ApiClient], namespace: str) -> None:
    api = accounts["server"]
    core, apps, batch = client.CoreV1Api(api), client.AppsV1Api(api), client.BatchV1Api(api)
    assert core.list_node().items
    for listing in (core.list_pod_for_all_namespaces, core.list_event_for_all_namespaces,
                    core.list_config_map_for_all_namespaces, core.list_persistent_volume_claim_for_all_namespaces,
                    apps.list_deployment_for_all_namespaces, apps.list_daemon_set_for_all_namespaces,
                    batch.list_job_for_all_namespaces):
        listing()
    assert _allowed(api, "get", "", "pods", "", "log")
    assert _refused(lambda: core.create_namespaced_config_map(namespace, {"metadata": {"name": "x"}})) == 403
    assert _refused(lambda: core.delete_collection_namespaced_pod(namespace)) == 403
    for verb in ("create", "update", "patch", "delete"):
        for group, resource in (("", "pods"), ("", "services"), ("batch", "jobs"), ("kubetrainer.dev", "trainingjobs")):
            assert not _allowed(api, verb, group, resource, namespace), (verb, resource)


def test_operator_manages_training_in_its_namespace_only(accounts: dict[str, client.ApiClient], namespace: str) -> None:
    api = accounts["operator"]
    batch = client.BatchV1Api(api)
    job = {"metadata": {"name": "rbac-probe"}, "spec": {"template": {"spec": {
        "restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}}
    batch.create_namespaced_job(namespace, job)
    batch.delete_namespaced_job("rbac-probe", namespace, propagation_policy="Background")
    assert _refused(lambda: batch.create_namespaced_job("default", job)) == 403
    # Writes only in its namespace; reading cluster state (the chart's read role) is allowed everywhere.
    for verb, group, resource in (("patch", "kubetrainer.dev", "trainingjobs"), ("create", "", "services"),
                                  ("create", "", "events"), ("delete", "batch", "jobs")):
        assert _allowed(api, verb, group, resource, namespace), (verb, resource)
        assert not _allowed(api, verb, group, resource, "default"), (verb, resource, "default")
    assert _allowed(api, "watch", "batch", "jobs", namespace) and _allowed(api, "list", "", "pods", "")
    assert _allowed(api, "patch", "kubetrainer.dev", "trainingjobs", namespace, "status")
    for verb, group, resource in (("create", "", "pods"), ("create", "apps", "deployments"),
                                  ("create", "rbac.authorization.k8s.io", "roles"), ("delete", "", "configmaps")):
        assert not _allowed(api, verb, group, resource, namespace), (verb, resource)
