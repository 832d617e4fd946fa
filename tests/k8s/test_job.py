"""The job controller creates a batch Job's pods and marks the Job complete when they succeed."""

from __future__ import annotations

import pytest
from kubernetes import client

from .conftest import wait_for

pytestmark = pytest.mark.k8s


def test_job_pods_are_created_by_the_job_controller_and_complete(api: client.ApiClient, namespace: str) -> None:
    batch, core = client.BatchV1Api(api), client.CoreV1Api(api)
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "train"},
        "spec": {
            "completions": 3,
            "parallelism": 2,
            "backoffLimit": 0,
            "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "busybox"}]}},
        },
    }
    batch.create_namespaced_job(namespace, job)

    status = wait_for(
        lambda: (s := batch.read_namespaced_job_status("train", namespace).status).succeeded == 3 and s,
        what="the job to succeed 3 times",
    )
    assert any(c.type == "Complete" and c.status == "True" for c in status.conditions)
    pods = core.list_namespaced_pod(namespace, label_selector="job-name=train").items
    assert len(pods) == 3
    assert all(p.status.phase == "Succeeded" and p.spec.node_name for p in pods)
    assert all(p.metadata.owner_references[0].kind == "Job" for p in pods)
