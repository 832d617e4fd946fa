"""Kubernetes JSON for the sample cluster's pods and controllers, as the API server returns it."""

from __future__ import annotations

from collections import defaultdict

from kubetrainer.records import record_id
from kubetrainer.samples.model import NOW, SampleCluster, SamplePod
from kubetrainer.samples.workloads import Workload

GPU_RESOURCES = {"nvidia": "nvidia.com/gpu", "amd": "amd.com/gpu", "intel": "gpu.intel.com/i915"}


def ts(moment) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _resources(workload: Workload) -> dict:
    requests = {"cpu": "500m" if not workload.gpus else "8", "memory": "512Mi" if not workload.gpus else "64Gi"}
    limits = {"memory": "8Gi" if workload.name == "feature-extractor" else requests["memory"]}
    if workload.gpu_vendor:
        requests[GPU_RESOURCES[workload.gpu_vendor]] = limits[GPU_RESOURCES[workload.gpu_vendor]] = str(workload.gpus)
    return {"requests": requests, "limits": limits}


def pod_json(pod: SamplePod) -> dict:
    workload = pod.workload
    containers = []
    for container in pod.containers:
        spec = {"name": container.spec.name, "image": container.image, "resources": _resources(workload), "imagePullPolicy": "IfNotPresent"}
        if workload.port:
            spec["ports"] = [{"containerPort": workload.port, "protocol": "TCP"}]
            spec["readinessProbe"] = {"httpGet": {"path": "/ready", "port": workload.port}, "periodSeconds": 10}
        if container.env:
            spec["env"] = container.env
        containers.append(spec)
    spec = {"containers": containers, "restartPolicy": "Never" if workload.kind == "Job" else "Always", "serviceAccountName": "default"}
    if pod.node:
        spec["nodeName"] = pod.node
    if workload.gpu_vendor == "nvidia":
        spec["tolerations"] = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    if pod.claims:
        spec["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": claim}} for claim in pod.claims]
    conditions = {"PodScheduled": "True", "Initialized": "True", "ContainersReady": "True", "Ready": "True"}
    if not all(container.ready for container in pod.containers):
        conditions.update(ContainersReady="False", Ready="False")
    conditions.update(pod.conditions)
    status: dict = {
        "phase": pod.phase,
        "conditions": [
            {"type": kind, "status": value, "lastTransitionTime": ts(pod.start), **({"reason": "Unschedulable"} if kind == "PodScheduled" and value == "False" else {})}
            for kind, value in conditions.items()
        ],
        "startTime": ts(pod.start),
        "qosClass": "Burstable",
    }
    if pod.reason:
        status.update(reason=pod.reason, message=pod.message)
    if pod.node:
        status["hostIP"] = "10.0.0.%d" % (sum(map(ord, pod.node)) % 250 + 2)
        status["podIP"] = "10.244.%d.%d" % (len(pod.name) % 8, sum(map(ord, pod.name)) % 250 + 2)
        status["containerStatuses"] = [
            {
                "name": container.spec.name,
                "image": container.image,
                "imageID": "" if "waiting" in container.state and container.restarts == 0 else f"{container.image.split(':')[0]}@sha256:{record_id(container.image)}",
                "ready": container.ready,
                "started": "running" in container.state,
                "restartCount": container.restarts,
                "state": container.state,
                "lastState": container.last_state,
            }
            for container in pod.containers
        ]
    labels = {"app.kubernetes.io/name": workload.name}
    if pod.owner[0] == "ReplicaSet":
        labels["pod-template-hash"] = pod.owner[1].rsplit("-", 1)[-1]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod.name,
            "namespace": pod.namespace,
            "uid": pod.uid,
            "creationTimestamp": ts(pod.start),
            "labels": labels,
            "ownerReferences": [{"apiVersion": "v1" if pod.owner[0] == "Pod" else ("batch/v1" if pod.owner[0] == "Job" else "apps/v1"), "kind": pod.owner[0], "name": pod.owner[1], "controller": True}],
        },
        "spec": spec,
        "status": status,
    }


def controllers_json(cluster: SampleCluster, namespace: str) -> dict[str, list[dict]]:
    """deployments, replicasets, daemonsets, services of one namespace, with status counts from its pods."""
    pods = [pod for pod in cluster.pods if pod.namespace == namespace]
    by_owner: dict[tuple[str, str], list[SamplePod]] = defaultdict(list)
    for pod in pods:
        by_owner[pod.owner].append(pod)
    out: dict[str, list[dict]] = {"deployments": [], "replicasets": [], "daemonsets": [], "services": []}
    seen: set[str] = set()
    for (kind, name), members in by_owner.items():
        workload = members[0].workload
        ready = sum(1 for pod in members if pod.phase == "Running" and all(c.ready for c in pod.containers))
        meta = {"name": name, "namespace": namespace, "creationTimestamp": ts(min(pod.start for pod in members)), "labels": {"app.kubernetes.io/name": workload.name}}
        counts = {"replicas": len(members), "readyReplicas": ready, "availableReplicas": ready}
        if kind == "ReplicaSet":
            out["replicasets"].append({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {**meta, "ownerReferences": [{"kind": "Deployment", "name": workload.name}]}, "spec": {"replicas": len(members)}, "status": counts})
        elif kind == "DaemonSet":
            out["daemonsets"].append({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": meta, "status": {"desiredNumberScheduled": len(members), "currentNumberScheduled": len(members), "numberReady": ready}})
        if workload.kind == "Deployment" and workload.name not in seen:
            seen.add(workload.name)
            all_members = [pod for pod in pods if pod.workload.name == workload.name]
            ready_all = sum(1 for pod in all_members if pod.phase == "Running" and all(c.ready for c in pod.containers))
            available = "True" if ready_all >= workload.replicas else "False"
            out["deployments"].append({
                "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {**meta, "name": workload.name},
                "spec": {"replicas": workload.replicas},
                "status": {"replicas": len(all_members), "readyReplicas": ready_all, "availableReplicas": ready_all, "updatedReplicas": 1,
                           "conditions": [{"type": "Available", "status": available, "lastUpdateTime": ts(NOW)},
                                          {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated"}]},
            })
        if workload.port and workload.name not in {s["metadata"]["name"] for s in out["services"]}:
            out["services"].append({"apiVersion": "v1", "kind": "Service", "metadata": {**meta, "name": workload.name},
                                    "spec": {"type": "ClusterIP", "ports": [{"port": workload.port, "protocol": "TCP"}], "selector": {"app.kubernetes.io/name": workload.name}}})
    return out
