"""Who holds an exhausted ResourceQuota: the denial's resource, summed over the namespace's pods per workload."""

from __future__ import annotations

import pytest

from kubetrainer.diagnose import diagnose
from kubetrainer.diagnose.owners import workload_of
from kubetrainer.diagnose.quota import amount, denied_resources

from .cluster import event, log, pod

# The API server's admission denial, as the replicaset-controller's FailedCreate event and a CI runner's log say it.
DENIAL = ('pods "{pod}" is forbidden: exceeded quota: ci-compute, requested: requests.cpu=2, '
          "used: requests.cpu=30500m, limited: requests.cpu=32")


def holders(namespace: str = "ci") -> list[dict]:
    soak = [pod(f"k6-soak-7f9c8d6b5-{suffix}", namespace, requests={"cpu": "2", "memory": "2Gi"})
            for suffix in ("a1b2c", "d3e4f", "g5h6i")]
    return [*soak, pod("runner-5c8d7f9b6-zz9yx", namespace, requests={"cpu": "500m"}),
            pod("web-6d8f7c9b5-q1w2e", "other", requests={"cpu": "16"}),  # another namespace's quota
            pod("report-28391-tq7xz", namespace, phase="Succeeded", requests={"cpu": "8"})]  # finished: not counted


def test_a_runner_logging_the_denial_names_the_workloads_holding_the_quota_largest_first():
    line = ('{"level":"error","msg":"Job failed (system failure): prepare environment: setting up build pod: '
            + DENIAL.format(pod="runner-abc-project-1-concurrent-0-x1").replace('"', '\\"') + '"}')
    found = diagnose([*holders(), log("runner-5c8d7f9b6-zz9yx", line, "ci")])
    finding = next(f for f in found if f.rule == "quota-exceeded")
    assert "its requests.cpu is held by k6-soak (3 pods, 6 in all), runner (1 pod, 500m)" in finding.cause
    assert "exceeded quota: ci-compute, requested: requests.cpu=2" in finding.cause, "the quota is named"
    assert "web" not in finding.cause and "report" not in finding.cause
    assert any(item.kind == "object" and item.name.startswith("k6-soak-") for item in finding.evidence)


def test_a_failed_create_event_names_them_too():
    message = f"Error creating: {DENIAL.format(pod='api-7d9f-abcde')}"
    found = diagnose([*holders(), event("ReplicaSet", "api-7d9f", "ci", "FailedCreate", message)])
    finding = next(f for f in found if f.rule == "quota-exceeded")
    assert "ci-compute" in finding.cause and "held by k6-soak (3 pods, 6 in all)" in finding.cause


def test_without_pod_requests_in_the_records_nothing_is_named():
    message = f"Error creating: {DENIAL.format(pod='api-7d9f-abcde')}"
    found = diagnose([pod("api-7d9f8c6b5-a1b2c", "ci"), event("ReplicaSet", "api-7d9f", "ci", "FailedCreate", message)])
    assert "held by" not in next(f for f in found if f.rule == "quota-exceeded").cause


def test_a_cloud_apis_quota_error_is_not_a_resource_quota():
    line = "ERROR google.api_core: 429 Quota exceeded for quota metric 'Read requests' of service 'sheets.googleapis.com'"
    assert not [f for f in diagnose([pod("sync-1", "ci"), log("sync-1", line, "ci")]) if f.rule == "quota-exceeded"]


def test_the_denied_resource_is_the_one_that_ran_out():
    text = ("exceeded quota: team, requested: limits.memory=1Gi,requests.cpu=1, used: limits.memory=2Gi,"
            "requests.cpu=31500m, limited: limits.memory=64Gi,requests.cpu=32")
    assert denied_resources(text) == ["requests.cpu"]
    assert denied_resources("exceeded quota: team, requested: cpu=1, used: cpu=4, limited: cpu=4") == ["requests.cpu"]
    assert denied_resources("exceeded quota: team") == []


@pytest.mark.parametrize(("pod_name", "workload"), [
    ("checkout-api-7d9f8c6b5d-x2lqp", "checkout-api"), ("kafka-2", "kafka"), ("backup-28391-tq7xz", "backup-28391"),
    ("standalone", "standalone"),
])
def test_workload_of_a_generated_pod_name(pod_name: str, workload: str):
    assert workload_of(pod_name) == workload


def test_amounts_read_as_people_write_them():
    assert (amount("requests.cpu", 0.5), amount("requests.cpu", 28.0), amount("requests.cpu", 2.25)) == (
        "500m", "28", "2250m")
    assert amount("limits.memory", 2 * 2**30) == "2Gi" and amount("requests.memory", 512 * 2**20) == "512Mi"
    assert amount("requests.nvidia.com/gpu", 8.0) == "8" and amount("pods", 14.0) == "14"
