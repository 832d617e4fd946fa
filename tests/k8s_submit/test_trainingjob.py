"""The operator's decisions about a TrainingJob, without a cluster."""

from __future__ import annotations

from kubetrainer.k8s import trainingjob


def test_spec_becomes_a_submit_request_with_hyperparameter_flags() -> None:
    request = trainingjob.to_request("tj", "ml", {
        "dataset": "/data/d.json", "gpus": 4, "nodes": 2, "model": "auto", "dataPvc": "pvc-1",
        "hyperparameters": {"learningRate": 0.0001, "maxSteps": 20, "unknown": 1},
    })
    assert request.model is None and request.gpus == 4 and request.nodes == 2 and request.data_pvc == "pvc-1"
    assert request.extra_args == ("--lr", "0.0001", "--max-steps", "20")
    assert trainingjob.output_location(request) == "pvc/pvc-1:/data/runs/tj/final"


def test_status_follows_the_job() -> None:
    request = trainingjob.to_request("tj", "ml", {"dataset": "d", "nodes": 2})
    running = trainingjob.observed_status({"status": {"active": 2}}, request, {})
    assert running["phase"] == "Running" and running["progress"] == "0/2 nodes done, 2 running, 0 failed"
    done = trainingjob.observed_status(
        {"status": {"succeeded": 2, "conditions": [{"type": "Complete", "status": "True"}]}}, request, running)
    assert done["phase"] == "Succeeded"
    assert {c["type"]: c["status"] for c in done["conditions"]} == {"Succeeded": "True"}
    failed = trainingjob.observed_status(
        {"status": {"failed": 1, "conditions": [{"type": "Failed", "status": "True", "message": "BackoffLimitExceeded"}]}},
        request, {})
    assert failed["phase"] == "Failed"
    assert {c["type"] for c in failed["conditions"]} == {"Succeeded", "Failed"}


def test_condition_keeps_transition_time_while_status_holds() -> None:
    first = trainingjob.condition("Placed", False, "Unplaceable", "no GPUs")
    first["lastTransitionTime"] = "2026-01-01T00:00:00Z"
    again = trainingjob.merge_conditions([first], trainingjob.condition("Placed", False, "Unplaceable", "still none"))
    assert again[0]["lastTransitionTime"] == "2026-01-01T00:00:00Z" and again[0]["message"] == "still none"
    flipped = trainingjob.merge_conditions([first], trainingjob.condition("Placed", True, "Submitted"))
    assert flipped[0]["lastTransitionTime"] != "2026-01-01T00:00:00Z"


def test_placement_survives_on_the_job_for_a_restarted_operator() -> None:
    from kubetrainer.hardware.cluster import build_inventory
    from kubetrainer.k8s import submit
    from kubetrainer.samples.nodes import sample_nodes

    nodes = sample_nodes()
    labels = {node["metadata"]["name"]: node["metadata"].get("labels", {}) for node in nodes}
    request = trainingjob.to_request("tj", "ml", {"dataset": "d", "gpus": 2})
    plan = submit.plan(request, build_inventory("t", nodes, []), labels, {"job"})
    job = plan.objects[-1]
    trainingjob.annotate_placement(job, plan)
    status = trainingjob.placed_status(job, request, {})
    assert status["backend"] == "job" and status["placement"] == plan.placement.to_json()
    assert status["conditions"][0]["type"] == "Placed" and status["conditions"][0]["status"] == "True"
