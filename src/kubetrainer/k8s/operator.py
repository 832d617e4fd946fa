"""The TrainingJob operator (kopf): reconcile each TrainingJob into a placed training job.

Level-triggered and idempotent: one timer per TrainingJob looks at what exists and does
the next step, so an operator restarted at any moment picks up where the cluster is.
The job it creates is owned by the TrainingJob (ownerReferences), so deleting the
TrainingJob lets the garbage collector remove the job, its pods and its Service.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import kopf

from kubetrainer.errors import UserError
from kubetrainer.k8s import cluster_state, submit, trainingjob
from kubetrainer.k8s.client import KINDS, Cluster
from kubetrainer.k8s.manifests import JOB_LABEL, MANAGED_BY

RECONCILE_INTERVAL_S = float(os.environ.get("KUBETRAINER_RECONCILE_INTERVAL", "3"))
_cluster: Cluster | None = None


def _api() -> Cluster:
    global _cluster
    if _cluster is None:
        _cluster = Cluster.open(os.environ.get("KUBECONFIG"))
    return _cluster


@kopf.on.startup()
def _configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.posting.level = logging.INFO


@kopf.on.login()
def _login(**kwargs: Any) -> Any:
    return kopf.login_with_kubeconfig(**kwargs) if os.environ.get("KUBECONFIG") else kopf.login_with_service_account(**kwargs)


def _existing_job(cluster: Cluster, namespace: str, name: str) -> dict[str, Any] | None:
    for backend in sorted(cluster.served_backends()):
        api_version, kind = KINDS[backend]
        found = cluster.list(api_version, kind, namespace, f"app.kubernetes.io/managed-by={MANAGED_BY},{JOB_LABEL}={name}")
        if found:
            return found[0]
    return None


@kopf.timer(trainingjob.GROUP, trainingjob.VERSION, trainingjob.PLURAL, interval=RECONCILE_INTERVAL_S, initial_delay=0)
def reconcile(name: str, namespace: str, spec: dict[str, Any], status: dict[str, Any], body: Any,
              patch: kopf.Patch, logger: logging.Logger, **_: Any) -> None:
    if status.get("phase") in trainingjob.TERMINAL:
        return
    cluster = _api()
    request = trainingjob.to_request(name, namespace, dict(spec))
    job = _existing_job(cluster, namespace, name)
    if job is not None:
        # The placement is read back from the job itself, so an operator that died between
        # creating the job and writing the status still fills it in.
        current = dict(status)
        if "placement" not in current:
            current.update(trainingjob.placed_status(job, request, current))
        current.update(trainingjob.observed_status(job, request, current))
        patch.status.update(current)
        return
    try:
        plan = submit.plan(request, *_cluster_view(cluster))
    except UserError as error:
        placed = trainingjob.condition("Placed", False, "Unplaceable", error.render())
        if status.get("phase") != "Unschedulable":
            kopf.warn(body, reason="Unplaceable", message=error.what)
        patch.status.update({"phase": "Unschedulable",
                             "conditions": trainingjob.merge_conditions(status.get("conditions") or [], placed)})
        return
    for obj in plan.objects:
        kopf.adopt(obj, owner=body)
    trainingjob.annotate_placement(plan.objects[-1], plan)
    submit.submit(cluster, plan.objects)
    kopf.info(body, reason="Submitted", message=f"{plan.backend} on {', '.join(plan.placement.nodes)}")
    patch.status.update({"phase": "Pending", **trainingjob.placed_status(plan.objects[-1], request, dict(status))})


def _cluster_view(cluster: Cluster) -> tuple[Any, dict[str, dict[str, str]], set[str]]:
    state = cluster_state.from_cluster(cluster)
    return state.inventory, state.node_labels, state.served_backends


def run(namespaces: list[str], kubeconfig: str | None) -> None:
    """Run the operator until interrupted; standalone (no peering objects needed).

    The API server is asked once before kopf starts, so missing credentials or an unreachable
    cluster is one clear error instead of kopf's login tracebacks and retries.
    """
    if kubeconfig:
        os.environ["KUBECONFIG"] = kubeconfig
    try:
        _api().served_backends()
    except UserError as error:
        error.hint = "pass --kubeconfig PATH, or run it in the cluster (the Helm chart's operator.enabled=true)"
        raise
    kopf.run(standalone=True, namespaces=namespaces or (), clusterwide=not namespaces)
