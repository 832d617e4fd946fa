"""Kubernetes objects rendered as short readable status text that names the object.

This text is what gets embedded and shown to people, so it says what an
engineer would say ("Pod web/x on node n: Running, not ready; container app
waiting: CrashLoopBackOff, 12 restarts, last terminated OOMKilled exit 137").
A container's env settings are listed as `kubectl describe pod` lists them, since the address a
client dials or the batch size a writer uses is often the answer; a setting whose name looks
secret is withheld, and one taken from a Secret says only which Secret and key (Secrets are
never read). Records are redacted after rendering as well (`sources.base`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from kubetrainer.hardware.cluster import GPU_RESOURCES
from kubetrainer.hardware.labels import labelled_vendor, read_gpu_labels

NONE_REGISTERED = "none registered"
ZONE_LABELS = ("topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone")  # current first
INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"
_HEAP_FLAG = re.compile(r"-Xmx\d+[kKmMgG]?\b|-XX:MaxRAMPercentage=[\d.]+")
_V8_HEAP_FLAG = re.compile(r"--max-old-space-size=\d+")  # MiB, in NODE_OPTIONS or node's arguments

SECRET_KEY_WORDS = ("password", "passwd", "secret", "token", "credential", "apikey", "api_key", "api-key", "access_key", "accesskey", "private", "auth", "dsn", "tls.key", "signing")
WITHHELD = "(value withheld)"
CONFIG_VALUE_LIMIT = 160
ENV_VALUE_LIMIT = 100
ENV_SHOWN = 12  # settings listed per container; `kubectl describe` lists all, an embedded record cannot


def _where(obj: dict) -> str:
    meta = obj.get("metadata", {})
    namespace = meta.get("namespace")
    return f"{namespace}/{meta.get('name')}" if namespace else str(meta.get("name"))


def _condition_text(conditions: list[dict], interesting: Callable[[dict], bool]) -> list[str]:
    out = []
    for condition in conditions:
        if interesting(condition):
            detail = ": ".join(part for part in (condition.get("reason"), condition.get("message")) if part)
            out.append(f"{condition.get('type')}={condition.get('status')}" + (f" ({detail})" if detail else ""))
    return out


def _container_state(status: dict, label: str = "container") -> str:
    name = status.get("name")
    parts = []
    state = status.get("state") or {}
    for key in ("waiting", "terminated"):
        if key in state:
            info = state[key] or {}
            text = f"{label} {name} {key}: {info.get('reason', 'unknown')}"
            if "exitCode" in info:
                text += f" exit code {info['exitCode']}"
            if info.get("message"):
                text += f" ({info['message']})"
            parts.append(text)
    if "running" in state:
        parts.append(f"{label} {name} running" + ("" if status.get("ready") else ", not ready"))
    restarts = status.get("restartCount", 0)
    if restarts:
        parts.append(f"{restarts} restarts")
    last = (status.get("lastState") or {}).get("terminated")
    if last:
        parts.append(f"last terminated: {last.get('reason', 'unknown')} exit code {last.get('exitCode')}")
    return ", ".join(parts)


def _init_done(status: dict) -> bool:
    """An init container that ran to completion: nothing to say about it."""
    terminated = (status.get("state") or {}).get("terminated") or {}
    return terminated.get("reason") == "Completed" and not status.get("restartCount")


def render_pod(pod: dict) -> str:
    spec, status = pod.get("spec", {}), pod.get("status", {})
    node = spec.get("nodeName")
    text = f"Pod {_where(pod)}" + (f" on node {node}" if node else " (not scheduled to a node)")
    text += f": phase {status.get('phase', 'Unknown')}"
    if status.get("reason"):
        text += f", {status['reason']}: {status.get('message', '')}".rstrip(": ")
    conditions = _condition_text(status.get("conditions", []), lambda c: c.get("status") != "True")
    if conditions:
        text += "; conditions " + ", ".join(conditions)
    states = [_container_state(s, "init container") for s in status.get("initContainerStatuses", []) if not _init_done(s)]
    states += [_container_state(s) for s in status.get("containerStatuses", [])]
    if any(states):
        text += "; " + "; ".join(s for s in states if s)
    requests = [f"{key}={value}" for c in spec.get("containers", []) for key, value in (c.get("resources", {}).get("limits") or {}).items() if "gpu" in key]
    if requests:
        text += "; GPU limits " + ", ".join(requests)
    selects = _node_selection(spec)
    if selects:
        text += "; node selector " + ", ".join(selects)
    heap = _flags(spec.get("containers", []), _HEAP_FLAG)
    if heap:
        text += "; JVM heap " + ", ".join(heap)
    v8_heap = _flags(spec.get("containers", []), _V8_HEAP_FLAG)
    if v8_heap:
        text += "; Node.js heap " + ", ".join(v8_heap)
    memory = [f"{c.get('name')}={limit}" for c in spec.get("containers", [])
              if (limit := (c.get("resources", {}).get("limits") or {}).get("memory"))]
    # What it ran into, or what its heap cap is measured against; on every pod, memory questions would find pod
    # summaries.
    if memory and (_oom_killed(status) or heap or v8_heap):
        text += "; memory limits " + ", ".join(memory)
    shm = _shm_volume(spec)
    if shm:
        text += f"; /dev/shm {shm}"  # NCCL and DataLoader workers need more than the runtime's 64M default
    claims = [v["persistentVolumeClaim"]["claimName"] for v in spec.get("volumes", []) if "persistentVolumeClaim" in v]
    if claims:
        text += "; volume claims " + ", ".join(claims)
    if status.get("podIP"):
        text += f"; pod IP {status['podIP']}"  # what other pods' logs name it by (kubectl get pods -o wide)
    images = sorted({c.get("image", "") for c in spec.get("containers", [])})
    text += "; images " + ", ".join(images)
    # Last: an embedding model reads a record's first few hundred tokens, and a long environment is the least of it.
    text += "".join(f"; {clause}" for clause in map(_env_clause, spec.get("containers", [])) if clause)
    return text + "."


def _oom_killed(status: dict) -> bool:
    """Whether a container of the pod is or was last OOMKilled."""
    for container in status.get("containerStatuses", []):
        states = [container.get("state") or {}, container.get("lastState") or {}]
        if any((state.get("terminated") or {}).get("reason") == "OOMKilled" for state in states):
            return True
    return False


def _shm_volume(spec: dict) -> str:
    """What is mounted at /dev/shm (`emptyDir Memory, sizeLimit 8Gi`, `volume dshm`), or "" for nothing."""
    mounted = {m.get("name") for c in spec.get("containers", []) for m in c.get("volumeMounts") or []
               if m.get("mountPath", "").rstrip("/") == "/dev/shm"}
    for volume in spec.get("volumes") or []:
        if volume.get("name") in mounted:
            empty = volume.get("emptyDir")
            if empty is None:
                return f"volume {volume.get('name')}"
            size = f", sizeLimit {empty['sizeLimit']}" if empty.get("sizeLimit") else ""
            return f"emptyDir {empty.get('medium') or 'on disk'}{size}"
    return ""


def _env_clause(container: dict) -> str:
    """`env app: REDIS_ADDR=redis-0.redis:6379, REDIS_PASSWORD (value withheld), DB_USER from secret db key user`,
    or "" for a container without settings. `;` in a value becomes `,`: the record's clauses are split at it."""
    settings = [_env_setting(item) for item in container.get("env") or [] if item.get("name")]
    for source in container.get("envFrom") or []:
        for kind, ref in (("configmap", "configMapRef"), ("secret", "secretRef")):
            if (source.get(ref) or {}).get("name"):
                settings.append(f"{source.get('prefix') or ''}* from {kind} {source[ref]['name']}")
    if not settings:
        return ""
    more = f" and {len(settings) - ENV_SHOWN} more" if len(settings) > ENV_SHOWN else ""
    return f"env {container.get('name')}: " + ", ".join(settings[:ENV_SHOWN]) + more


def _env_setting(item: dict) -> str:
    name = item["name"]
    reference = item.get("valueFrom") or {}
    for kind, key in (("secret", "secretKeyRef"), ("configmap", "configMapKeyRef")):
        if key in reference:
            return f"{name} from {kind} {reference[key].get('name')} key {reference[key].get('key')}"
    if "fieldRef" in reference:
        return f"{name} from field {reference['fieldRef'].get('fieldPath')}"
    if "resourceFieldRef" in reference:
        return f"{name} from resource {reference['resourceFieldRef'].get('resource')}"
    if looks_secret(name):
        return f"{name} {WITHHELD}"
    value = " ".join(str(item.get("value", "")).split()).replace(";", ",")
    return f"{name}={value if len(value) <= ENV_VALUE_LIMIT else value[:ENV_VALUE_LIMIT] + '...'}"


def _flags(containers: list[dict], flag: re.Pattern[str]) -> list[str]:
    """The heap flags in the containers' command, args and env values (JAVA_OPTS, JAVA_TOOL_OPTIONS, NODE_OPTIONS):
    only the flags, never the rest of a value, so a runtime's heap cap can explain its out-of-memory error."""
    texts = [str(part) for c in containers for part in [*(c.get("command") or []), *(c.get("args") or [])]]
    texts += [str(env.get("value") or "") for c in containers for env in c.get("env") or []]
    return list(dict.fromkeys(found for text in texts for found in flag.findall(text)))


def render_node(node: dict) -> str:
    status, spec = node.get("status", {}), node.get("spec", {})
    conditions = status.get("conditions", [])
    ready = next((c for c in conditions if c.get("type") == "Ready"), {})
    text = f"Node {_where(node)}: {'Ready' if ready.get('status') == 'True' else 'NotReady'}"
    if ready and ready.get("status") != "True":
        text += f" (Ready={ready.get('status')}: {ready.get('reason', '')} {ready.get('message', '')})".replace("  ", " ")
    if spec.get("unschedulable"):
        text += ", cordoned (unschedulable)"
    pressure = _condition_text(conditions, lambda c: c.get("type") != "Ready" and c.get("status") != "False")
    text += "; " + (", ".join(pressure) if pressure else "no memory, disk or PID pressure")
    allocatable = status.get("allocatable", {})
    capacity = status.get("capacity", {})
    gpus = {key for key, value in {**capacity, **allocatable}.items() if "gpu" in key and value not in ("0", 0)}
    text += f"; allocatable cpu {allocatable.get('cpu')}, memory {allocatable.get('memory')}"
    if gpus:
        text += ", " + ", ".join(_gpu_count(key, allocatable.get(key, "0"), capacity.get(key)) for key in sorted(gpus))
    else:
        text += _gpus_missing(node.get("metadata", {}).get("labels") or {})
    text += "".join(f"; {part}" for part in _node_identity(node) if part)
    created = node.get("metadata", {}).get("creationTimestamp")
    if created:  # when it joined (`kubectl get nodes` AGE): a node replaced by an upgrade or a new node group is new
        text += f"; created {created}"
    taints = [f"{t.get('key')}{'=' + t['value'] if t.get('value') else ''}:{t.get('effect')}" for t in spec.get("taints", [])]
    if taints:
        text += "; taints " + ", ".join(taints)
    return text + "."


def _node_identity(node: dict) -> list[str]:
    """Where the node runs (zone, instance type, the InternalIP its traffic to NFS servers, databases and firewalls
    comes from), its GPUs' product and driver, and its system and platform (`linux/arm64`, as images name
    theirs): what `kubectl describe node` shows and what a failure that started with a new node group, zone, node
    image, driver or CPU architecture is explained by."""
    labels = node.get("metadata", {}).get("labels") or {}
    info = node.get("status", {}).get("nodeInfo") or {}
    zone = next((labels[key] for key in ZONE_LABELS if labels.get(key)), None)
    internal = next((a.get("address") for a in node.get("status", {}).get("addresses") or []
                     if a.get("type") == "InternalIP"), None)
    place = [f"zone {zone}" if zone else "", f"instance type {labels[INSTANCE_TYPE_LABEL]}"
             if labels.get(INSTANCE_TYPE_LABEL) else "", f"InternalIP {internal}" if internal else ""]
    vendor = labelled_vendor(labels)
    gpu = read_gpu_labels(labels, vendor) if vendor else None
    gpu_text = [f"GPU {gpu.product}", f"driver {gpu.driver_version}" if gpu.driver_version else "",
                *_gpu_sharing(labels, gpu.sharing)] if gpu else []
    arch = info.get("architecture") or labels.get("kubernetes.io/arch")
    platform = f"platform {info.get('operatingSystem') or labels.get('kubernetes.io/os') or 'linux'}/{arch}" if arch else ""
    system = [info.get("osImage"), f"kernel {info['kernelVersion']}" if info.get("kernelVersion") else "",
              f"kubelet {info['kubeletVersion']}" if info.get("kubeletVersion") else "", info.get("containerRuntimeVersion"),
              platform]
    return [", ".join(part for part in parts if part) for parts in (place, gpu_text, system)]


def _node_selection(spec: dict) -> list[str]:
    """The node labels a pod requires: its nodeSelector (`key=value`) and its required node affinity's `In` terms
    (`key in (a, b)`), what the scheduler's "didn't match Pod's node affinity/selector" is about."""
    selects = [f"{key}={value}" for key, value in (spec.get("nodeSelector") or {}).items()]
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    for term in required.get("nodeSelectorTerms") or []:
        for expression in term.get("matchExpressions") or []:
            if expression.get("operator") == "In" and expression.get("values"):
                selects.append(f"{expression['key']} in ({', '.join(expression['values'])})")
    return selects


def _gpu_sharing(labels: dict[str, str], sharing: dict | None) -> list[str]:
    """How the node's GPUs are shared (time-slicing or MPS, so many pods per GPU) and, when GPU Feature Discovery
    renamed the product label for it (`NVIDIA-L4-SHARED`), that label: a nodeSelector on the product's own name
    no longer matches the node."""
    if not sharing:
        return []
    replicas = f", {sharing['replicas']} replicas per GPU" if sharing.get("replicas") else ""
    product = labels.get("nvidia.com/gpu.product", "")
    renamed = [f"product label nvidia.com/gpu.product={product}"] if product.endswith("-SHARED") else []
    return [f"shared by {sharing['strategy']}{replicas}", *renamed]


def _gpus_missing(labels: dict[str, str]) -> str:
    """`, amd.com/gpu 0 (labelled AMD Instinct MI300X, none registered)` for a GPU node whose device plugin offers none."""
    vendor = labelled_vendor(labels)
    resource = next((name for name, owner in GPU_RESOURCES.items() if owner == vendor), None)
    if resource is None:
        return ""
    return f", {resource} 0 (labelled {read_gpu_labels(labels, vendor).product} GPUs, {NONE_REGISTERED})"


def _gpu_count(resource: str, allocatable, capacity) -> str:
    """`nvidia.com/gpu 8`, or `nvidia.com/gpu 7 of 8 allocatable` when the device plugin withholds some."""
    if capacity is not None and str(capacity) != str(allocatable):
        return f"{resource} {allocatable} of {capacity} allocatable"
    return f"{resource} {allocatable}"


def render_workload(obj: dict) -> str:
    """Deployments, StatefulSets, DaemonSets, ReplicaSets and Jobs: desired vs ready, failing conditions."""
    kind, spec, status = obj.get("kind", "Workload"), obj.get("spec", {}), obj.get("status", {})
    if kind == "DaemonSet":
        counts = f"{status.get('numberReady', 0)}/{status.get('desiredNumberScheduled', 0)} ready"
    elif kind == "Job":
        counts = f"{status.get('succeeded', 0)} succeeded, {status.get('failed', 0)} failed, {status.get('active', 0)} active"
        if status.get("active") and status.get("startTime"):
            counts += f", started {status['startTime']}"
    else:
        counts = f"{status.get('readyReplicas', 0)}/{spec.get('replicas', status.get('replicas', 0))} replicas ready"
    text = f"{kind} {_where(obj)}: {counts}"
    conditions = _condition_text(status.get("conditions", []), lambda c: c.get("status") != "True" or c.get("type") in ("Failed",))
    if conditions:
        text += "; conditions " + ", ".join(conditions)
    if kind == "ReplicaSet":  # one per rollout: when it was made and what it runs say when which release came
        containers = spec.get("template", {}).get("spec", {}).get("containers", [])
        images = sorted({c["image"] for c in containers if c.get("image")})
        if images:
            text += "; images " + ", ".join(images)
        if obj.get("metadata", {}).get("creationTimestamp"):
            text += f"; created {obj['metadata']['creationTimestamp']}"
    return text + "."


def render_pvc(claim: dict) -> str:
    spec, status = claim.get("spec", {}), claim.get("status", {})
    size = spec.get("resources", {}).get("requests", {}).get("storage", "?")
    return f"PersistentVolumeClaim {_where(claim)}: {status.get('phase', 'Unknown')}, {size} of storage class {spec.get('storageClassName', 'default')}."


def render_service(service: dict) -> str:
    spec = service.get("spec", {})
    ports = ", ".join(f"{p.get('port')}{_target(p)}/{p.get('protocol', 'TCP')}" for p in spec.get("ports", []))
    address = spec.get("clusterIP") if spec.get("clusterIP") not in (None, "", "None") else None
    kind = spec.get("type", "ClusterIP") + (f" {address}" if address else "")
    selector = ",".join(f"{key}={value}" for key, value in sorted((spec.get("selector") or {}).items()))
    return f"Service {_where(service)}: {kind} ports {ports or 'none'}" + (f"; selector {selector}." if selector else ".")


def _target(port: dict) -> str:
    """`->8000` when the Service sends its port to another container port (`kubectl describe service`'s TargetPort):
    the port the pods must listen on."""
    target = port.get("targetPort")
    return f"->{target}" if target not in (None, "", port.get("port")) else ""


def looks_secret(key: str) -> bool:
    lowered = key.lower()
    return any(word in lowered for word in SECRET_KEY_WORDS)


def render_configmap(config: dict) -> str:
    """Keys and short values; values of keys that look secret are never included."""
    parts = []
    for key, value in sorted((config.get("data") or {}).items()):
        if looks_secret(key) or not isinstance(value, str):
            parts.append(f"{key} {WITHHELD}")
        else:
            shown = value if len(value) <= CONFIG_VALUE_LIMIT else value[:CONFIG_VALUE_LIMIT] + "..."
            parts.append(f"{key}={shown!r}")
    parts += [f"{key} (binary)" for key in sorted(config.get("binaryData") or {})]
    return f"ConfigMap {_where(config)}: keys " + ("; ".join(parts) or "none") + "."


def withhold_secrets(value: Any) -> Any:
    """A copy of a manifest with values of secret-looking keys and env vars replaced.

    Redaction patterns find secrets by shape; a YAML `env` entry (`name: DB_PASSWORD`
    then `value: ...` on the next line) has no shape, so it is withheld by name.
    """
    if isinstance(value, list):
        return [withhold_secrets(item) for item in value]
    if not isinstance(value, dict):
        return value
    named_secret = isinstance(value.get("name"), str) and looks_secret(value["name"]) and "value" in value
    out = {}
    for key, item in value.items():
        if (named_secret and key == "value") or (looks_secret(str(key)) and isinstance(item, (str, int, float))):
            out[key] = WITHHELD
        else:
            out[key] = withhold_secrets(item)
    return out


def render_event(event: dict) -> str:
    involved = event.get("involvedObject") or event.get("regarding") or {}
    where = "/".join(p for p in (involved.get("namespace"), involved.get("name")) if p)
    count = event.get("count") or (event.get("series") or {}).get("count") or 1
    text = f"{event.get('type', 'Normal')} event on {involved.get('kind', 'object')} {where}: {event.get('reason', '')}: {event.get('message') or event.get('note') or ''}"
    return text.rstrip() + (f" (seen {count} times)" if int(count) > 1 else "")


RENDERERS: dict[str, Callable[[dict], str]] = {
    "Pod": render_pod,
    "Node": render_node,
    "Deployment": render_workload,
    "StatefulSet": render_workload,
    "DaemonSet": render_workload,
    "ReplicaSet": render_workload,
    "Job": render_workload,
    "PersistentVolumeClaim": render_pvc,
    "Service": render_service,
    "ConfigMap": render_configmap,
}
