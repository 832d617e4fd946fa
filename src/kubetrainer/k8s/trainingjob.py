"""The TrainingJob custom resource (kubetrainer.dev/v1alpha1): its spec as a submit request, its status.

Pure: the operator's decisions live here, so they are tested without a cluster. The CRD
itself is `helm/kubetrainer/crds/trainingjob.yaml`.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from kubetrainer.k8s.jobs import phase_of
from kubetrainer.k8s.submit import DEFAULT_IMAGE, Plan, TrainRequest

GROUP, VERSION, PLURAL = "kubetrainer.dev", "v1alpha1", "trainingjobs"
TERMINAL = ("Succeeded", "Failed")
PLACEMENT_ANNOTATION = "kubetrainer.dev/placement"
# CRD hyperparameter -> `kubetrainer train` flag.
HYPERPARAMETER_FLAGS = {
    "learningRate": "--lr", "epochs": "--epochs", "maxSteps": "--max-steps", "loraRank": "--rank",
    "loraAlpha": "--alpha", "batchTokens": "--batch-tokens", "maxSeqLen": "--max-seq-len",
    "gradAccum": "--grad-accum", "seed": "--seed",
}


def to_request(name: str, namespace: str, spec: dict[str, Any]) -> TrainRequest:
    """The submit request a TrainingJob stands for."""
    extra: list[str] = []
    for key, value in sorted((spec.get("hyperparameters") or {}).items()):
        if key in HYPERPARAMETER_FLAGS:
            extra += [HYPERPARAMETER_FLAGS[key], str(value)]
    model = spec.get("model") or "auto"
    return TrainRequest(
        name=name, namespace=namespace, dataset=spec["dataset"], method=spec.get("method", "lora"),
        model=None if model == "auto" else model, gpus=int(spec.get("gpus", 1)), nodes=int(spec.get("nodes", 1)),
        image=spec.get("image") or DEFAULT_IMAGE, backend=spec.get("backend", "auto"), data_pvc=spec.get("dataPvc"),
        fsdp=bool(spec.get("fsdp", False)), extra_args=tuple(extra),
    )


def condition(kind: str, ok: bool, reason: str, message: str = "") -> dict[str, str]:
    return {
        "type": kind, "status": "True" if ok else "False", "reason": reason, "message": message,
        "lastTransitionTime": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def merge_conditions(old: list[dict[str, Any]], new: dict[str, str]) -> list[dict[str, Any]]:
    """Replace the condition of the same type; keep its transition time when its status did not change."""
    kept = [c for c in old if c.get("type") != new["type"]]
    previous = next((c for c in old if c.get("type") == new["type"]), None)
    if previous and previous.get("status") == new["status"]:
        new = {**new, "lastTransitionTime": previous.get("lastTransitionTime", new["lastTransitionTime"])}
    return [*kept, new]


def output_location(request: TrainRequest) -> str:
    where = f"pvc/{request.data_pvc}" if request.data_pvc else "the rank-0 pod's data home"
    return f"{where}:/data/runs/{request.name}/final"


def progress_of(job: dict[str, Any], nodes: int) -> str:
    status = job.get("status") or {}
    done, active, failed = status.get("succeeded", 0), status.get("active", 0), status.get("failed", 0)
    return f"{done}/{nodes} nodes done, {active} running, {failed} failed"


def observed_status(job: dict[str, Any], request: TrainRequest, status: dict[str, Any]) -> dict[str, Any]:
    """The TrainingJob status that follows from its job's status."""
    phase, message = phase_of(job)
    ok = phase != "Failed"
    conditions = merge_conditions(status.get("conditions") or [], condition("Succeeded", phase == "Succeeded", phase, message))
    if not ok:
        conditions = merge_conditions(conditions, condition("Failed", True, "JobFailed", message))
    return {"phase": phase, "progress": progress_of(job, request.nodes), "conditions": conditions}


def annotate_placement(job: dict[str, Any], plan: Plan) -> None:
    """Record the placement on the job itself, where a restarted operator finds it again."""
    note = {"backend": plan.backend, "placement": plan.placement.to_json()}
    job["metadata"].setdefault("annotations", {})[PLACEMENT_ANNOTATION] = json.dumps(note, sort_keys=True)


def placed_status(job: dict[str, Any], request: TrainRequest, status: dict[str, Any]) -> dict[str, Any]:
    """The status fields that say where the job went, read from its placement annotation."""
    note = json.loads(((job.get("metadata") or {}).get("annotations") or {}).get(PLACEMENT_ANNOTATION) or "{}")
    nodes = ", ".join((note.get("placement") or {}).get("nodes") or [])
    placed = condition("Placed", True, "Submitted", f"{note.get('backend', 'job')} on {nodes}")
    return {
        "backend": note.get("backend"), "jobName": request.name, "placement": note.get("placement") or {},
        "output": output_location(request),
        "conditions": merge_conditions(status.get("conditions") or [], placed),
    }
