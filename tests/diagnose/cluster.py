"""Records built the way the readers build them: real Kubernetes objects and events through `sources.kube`,
log lines through `make_record`. Each test states the real message format it checks."""

from __future__ import annotations

from kubetrainer.records import make_record
from kubetrainer.sources.kube import event_record, object_record

TS = "2026-03-14T11:00:00Z"


def pod(name: str, namespace: str = "web", *, node: str | None = "node-1", phase: str = "Running",
        containers: list[dict] | None = None, init: list[dict] | None = None, reason: str | None = None,
        message: str | None = None, claims: tuple[str, ...] = (), gpus: int = 0, conditions: list[dict] | None = None,
        uid: str | None = None, ip: str | None = None, labels: dict | None = None, memory: str | None = None,
        shm: str | None = None, requests: dict[str, str] | None = None, env: list[dict] | None = None,
        selector: dict[str, str] | None = None) -> dict:
    """`memory`: the container's memory limit; `shm`: the sizeLimit of a memory-backed emptyDir mounted at
    /dev/shm ("" for one without a limit); `requests`: the container's resource requests; `env`: its env entries;
    `selector`: the pod's nodeSelector."""
    limits = {**({"nvidia.com/gpu": str(gpus)} if gpus else {}), **({"memory": memory} if memory else {})}
    resources = {**({"limits": limits} if limits else {}), **({"requests": requests} if requests else {})}
    spec: dict = {"containers": [{"name": "app", "image": "registry.example.com/app:1.0",
                                  **({"resources": resources} if resources else {}), **({"env": env} if env else {})}]}
    if shm is not None:
        spec["containers"][0]["volumeMounts"] = [{"name": "dshm", "mountPath": "/dev/shm"}]
        spec["volumes"] = [{"name": "dshm", "emptyDir": {"medium": "Memory", **({"sizeLimit": shm} if shm else {})}}]
    if node:
        spec["nodeName"] = node
    if selector:
        spec["nodeSelector"] = selector
    if claims:
        spec["volumes"] = [*spec.get("volumes", []), *({"name": c, "persistentVolumeClaim": {"claimName": c}} for c in claims)]
    status: dict = {"phase": phase, "containerStatuses": containers or [], "conditions": conditions or []}
    if init:
        status["initContainerStatuses"] = init
    if ip:
        status["podIP"] = ip
    if reason:
        status["reason"], status["message"] = reason, message or ""
    obj = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace,
                                                          "creationTimestamp": "2026-03-14T08:00:00Z",
                                                          **({"uid": uid} if uid else {}),
                                                          **({"labels": labels} if labels else {})},
           "spec": spec, "status": status}
    return object_record(obj, "dump")


def container(name: str = "app", *, waiting: tuple[str, str] | None = None, terminated: tuple[str, int] | None = None,
              last: tuple[str, int] | None = None, restarts: int = 0, ready: bool = False) -> dict:
    state: dict = {"running": {"startedAt": TS}}
    if waiting:
        state = {"waiting": {"reason": waiting[0], "message": waiting[1]}}
    if terminated:
        state = {"terminated": {"reason": terminated[0], "exitCode": terminated[1], "finishedAt": TS}}
    status = {"name": name, "state": state, "ready": ready, "restartCount": restarts, "image": "app:1.0"}
    if last:
        status["lastState"] = {"terminated": {"reason": last[0], "exitCode": last[1], "finishedAt": TS}}
    return status


def node(name: str, *, ready: str = "True", reason: str = "KubeletReady", pressure: dict | None = None,
         cordoned: bool = False, gpus: tuple[int, int] | None = None, labels: dict | None = None,
         taints: list[dict] | None = None, message: str = "", info: dict | None = None,
         created: str = "2026-03-01T00:00:00Z") -> dict:
    """`message`: the Ready condition's message (the kubelet's reason in words); `info`: its status.nodeInfo;
    `created`: its creationTimestamp."""
    conditions = [{"type": "Ready", "status": ready, "reason": reason, "message": message, "lastTransitionTime": TS}]
    for kind, (status, why, text) in (pressure or {}).items():
        conditions.append({"type": kind, "status": status, "reason": why, "message": text, "lastTransitionTime": TS})
    allocatable = {"cpu": "32", "memory": "256Gi"}
    capacity = dict(allocatable)
    if gpus:
        allocatable["nvidia.com/gpu"], capacity["nvidia.com/gpu"] = str(gpus[0]), str(gpus[1])
    obj = {"apiVersion": "v1", "kind": "Node",
           "metadata": {"name": name, "creationTimestamp": created, "labels": labels or {}},
           "spec": {**({"unschedulable": True} if cordoned else {}), **({"taints": taints} if taints else {})},
           "status": {"conditions": conditions, "allocatable": allocatable, "capacity": capacity,
                      **({"nodeInfo": info} if info else {})}}
    return object_record(obj, "dump")


def workload(kind: str, name: str, namespace: str, status: dict, spec: dict | None = None) -> dict:
    obj = {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name, "namespace": namespace,
                                                              "creationTimestamp": "2026-03-14T08:00:00Z"},
           "spec": spec or {}, "status": status}
    return object_record(obj, "dump")


def claim(name: str, namespace: str, phase: str = "Pending", storage_class: str = "fast-ssd") -> dict:
    obj = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
           "metadata": {"name": name, "namespace": namespace, "creationTimestamp": "2026-03-14T08:00:00Z"},
           "spec": {"storageClassName": storage_class, "resources": {"requests": {"storage": "10Gi"}}},
           "status": {"phase": phase}}
    return object_record(obj, "dump")


def event(kind: str, name: str, namespace: str | None, reason: str, message: str, *, warning: bool = True,
          count: int = 1, host: str | None = None, ts: str = TS, first: str | None = None) -> dict:
    """`ts` is the event's lastTimestamp, `first` its firstTimestamp (a repeated event)."""
    involved = {"kind": kind, "name": name, **({"namespace": namespace} if namespace else {})}
    return event_record({"apiVersion": "v1", "kind": "Event", "metadata": {"name": f"{name}.1", "namespace": namespace or "default"},
                         "involvedObject": involved, "reason": reason, "message": message, "count": count,
                         "type": "Warning" if warning else "Normal", "lastTimestamp": ts,
                         **({"firstTimestamp": first} if first else {}),
                         "source": {"component": "kubelet", **({"host": host} if host else {})}}, "dump")


def log(pod_name: str, line: str, namespace: str = "web", container_name: str = "app", node_name: str = "node-1",
        ts: str = TS) -> dict:
    return make_record("log", ts, "dump", line, namespace=namespace, pod=pod_name, container=container_name, node=node_name)
