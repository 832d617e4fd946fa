"""`kubetrainer submit`, `kubetrainer jobs` and the TrainingJob operator against the local control plane."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client

from .conftest import Cluster, wait_for

REPO = Path(__file__).resolve().parents[2]
CRD = REPO / "helm" / "kubetrainer" / "crds" / "trainingjob.yaml"
pytestmark = pytest.mark.k8s


def kubetrainer(cluster: Cluster, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "kubetrainer", *args, "--kubeconfig", str(cluster.kubeconfig)],
                          capture_output=True, text=True, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"kubetrainer {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def test_submit_places_job_on_free_gpus_and_jobs_follow_it(cluster: Cluster, api: client.ApiClient, namespace: str) -> None:
    kubetrainer(cluster, "submit", "train", "--dataset", "/data/ds.json", "--gpus", "2", "--name", "tune-a", "-n", namespace)
    batch, core = client.BatchV1Api(api), client.CoreV1Api(api)
    job = batch.read_namespaced_job("tune-a", namespace)
    assert job.spec.completion_mode == "Indexed"
    assert core.read_namespaced_service("tune-a", namespace).spec.cluster_ip == "None"
    pod = wait_for(lambda: [p for p in core.list_namespaced_pod(namespace).items if p.spec.node_name],
                   what="the training pod to be scheduled")[0]
    node = core.read_node(pod.spec.node_name)
    assert int(node.status.allocatable["nvidia.com/gpu"]) >= 2
    listed = json.loads(kubetrainer(cluster, "jobs", "list", "-n", namespace, "--json").stdout)
    assert [job["name"] for job in listed] == ["tune-a"]
    wait_for(lambda: json.loads(kubetrainer(cluster, "jobs", "status", "tune-a", "-n", namespace).stdout)["phase"] == "Succeeded",
             what="the job to succeed under kwok")
    kubetrainer(cluster, "jobs", "cancel", "tune-a", "-n", namespace)
    wait_for(lambda: not batch.list_namespaced_job(namespace).items, what="the job to be deleted")


def test_submit_that_cannot_fit_says_why_and_creates_nothing(cluster: Cluster, api: client.ApiClient, namespace: str) -> None:
    proc = kubetrainer(cluster, "submit", "train", "--dataset", "/d", "--gpus", "64", "-n", namespace, check=False)
    assert proc.returncode == 2
    assert "no GPU product in the cluster has 1 node(s) with 64 free GPU(s)" in " ".join(proc.stderr.split())
    assert not client.BatchV1Api(api).list_namespaced_job(namespace).items


@pytest.fixture
def operator(cluster: Cluster, namespace: str) -> Iterator[callable]:
    cluster.run("kubectl", "apply", "-f", str(CRD))
    cluster.run("kubectl", "wait", "--for=condition=Established", "crd/trainingjobs.kubetrainer.dev", "--timeout=60s")
    processes: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        env = {**os.environ, "KUBETRAINER_RECONCILE_INTERVAL": "1"}
        proc = subprocess.Popen([sys.executable, "-m", "kubetrainer", "operator", "-n", namespace,
                                 "--kubeconfig", str(cluster.kubeconfig)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        processes.append(proc)
        return proc

    yield start
    for proc in processes:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def training_job(name: str, gpus: int) -> dict:
    return {"apiVersion": "kubetrainer.dev/v1alpha1", "kind": "TrainingJob", "metadata": {"name": name},
            "spec": {"dataset": "/data/cluster_texts.json", "method": "lora", "gpus": gpus,
                     "hyperparameters": {"learningRate": 0.0002, "maxSteps": 50}}}


def test_operator_runs_a_training_job_to_success_and_cleans_up(operator, api: client.ApiClient, namespace: str) -> None:
    custom, batch = client.CustomObjectsApi(api), client.BatchV1Api(api)
    first = operator()
    custom.create_namespaced_custom_object("kubetrainer.dev", "v1alpha1", namespace, "trainingjobs", training_job("tj-a", 2))
    wait_for(lambda: batch.list_namespaced_job(namespace).items, what="the operator to create the job")
    # Restart the operator mid-way: it must pick up the existing job, not create a second one.
    first.kill()
    first.wait()
    operator()

    def phase() -> str | None:
        return (custom.get_namespaced_custom_object("kubetrainer.dev", "v1alpha1", namespace, "trainingjobs", "tj-a")
                .get("status") or {}).get("phase")

    wait_for(lambda: phase() == "Succeeded", what="the TrainingJob to succeed", timeout_s=90)
    (job,) = batch.list_namespaced_job(namespace).items
    assert job.metadata.owner_references[0].kind == "TrainingJob"
    assert "--max-steps" in job.spec.template.spec.containers[0].command
    status = custom.get_namespaced_custom_object("kubetrainer.dev", "v1alpha1", namespace, "trainingjobs", "tj-a")["status"]
    assert status["placement"]["gpu_resource"] == "nvidia.com/gpu"
    assert {c["type"]: c["status"] for c in status["conditions"]} == {"Placed": "True", "Succeeded": "True"}
    custom.delete_namespaced_custom_object("kubetrainer.dev", "v1alpha1", namespace, "trainingjobs", "tj-a")
    wait_for(lambda: not batch.list_namespaced_job(namespace).items, what="the garbage collector to remove the job")


def test_operator_reports_an_impossible_training_job(operator, api: client.ApiClient, namespace: str) -> None:
    custom = client.CustomObjectsApi(api)
    operator()
    custom.create_namespaced_custom_object("kubetrainer.dev", "v1alpha1", namespace, "trainingjobs", training_job("tj-big", 64))

    def placed_condition() -> dict | None:
        status = custom.get_namespaced_custom_object("kubetrainer.dev", "v1alpha1", namespace, "trainingjobs", "tj-big").get("status") or {}
        return next((c for c in status.get("conditions") or [] if c["type"] == "Placed"), None)

    condition = wait_for(placed_condition, what="the Placed condition")
    assert condition["status"] == "False" and condition["reason"] == "Unplaceable"
    assert "64 free GPU(s)" in condition["message"]
    assert not client.BatchV1Api(api).list_namespaced_job(namespace).items
