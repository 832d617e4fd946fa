"""RBAC is enforced: a service account's token gets only what its Role grants."""

from __future__ import annotations

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from .conftest import Cluster, token_client

pytestmark = pytest.mark.k8s


def test_service_account_without_list_secrets_is_refused(api: client.ApiClient, namespace: str) -> None:
    core, rbac = client.CoreV1Api(api), client.RbacAuthorizationV1Api(api)
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "reader"}})
    rbac.create_namespaced_role(namespace, {
        "metadata": {"name": "pod-reader"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}],
    })
    rbac.create_namespaced_role_binding(namespace, {
        "metadata": {"name": "reader-reads-pods"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"},
        "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": namespace}],
    })
    token = core.create_namespaced_service_account_token(
        "reader", namespace, {"spec": {"expirationSeconds": 600}}
    ).status.token
    as_reader = client.CoreV1Api(token_client(api, token))

    assert as_reader.list_namespaced_pod(namespace).items == []
    with pytest.raises(ApiException) as refused:
        as_reader.list_namespaced_secret(namespace)
    assert refused.value.status == 403
    assert f"system:serviceaccount:{namespace}:reader" in refused.value.body


def test_impersonated_service_account_is_refused_by_kubectl(cluster: Cluster, namespace: str) -> None:
    subject = f"system:serviceaccount:{namespace}:nobody"
    answer = cluster.run("kubectl", "auth", "can-i", "list", "secrets", "-n", namespace, "--as", subject, check=False)
    assert answer.strip() == "no"
    assert cluster.run("kubectl", "auth", "can-i", "list", "secrets", "-n", namespace).strip() == "yes"
