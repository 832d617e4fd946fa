"""Addresses in evidence lines, resolved to the pods and Services that hold them.

A proxy or client logs whom it failed to reach by address: nginx `upstream:
"http://10.244.3.245:8080/..."`, Go `dial tcp 10.96.12.7:5432: connect: connection refused`,
Envoy's upstream host. An engineer reads those with `kubectl get pods -o wide`; this does the
same from the rendered statuses (`sources.render`: "pod IP ...", "ClusterIP ..."), so a finding
in the ingress controller is also about the app behind it: the answer names the app, and a
question about the app finds the finding. A Service's DNS name (`risk-scorer.underwriting.svc`)
says whose it is by itself, even when the dump holds no Services: it only adds the Service to the
finding's `addressed`. `serves` says which objects stand behind an addressed Service.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace

from kubetrainer.diagnose.collect import ObjectFacts
from kubetrainer.diagnose.finding import Evidence, Finding
from kubetrainer.diagnose.rollouts import POD_OF_REPLICASET
from kubetrainer.diagnose.status import parse_pod

IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.]*\d)")
_LABEL = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?"
# `name.namespace.svc`, and a headless Service's pod: `worker-0.workers.namespace.svc` (a StatefulSet's stable name).
SERVICE_DNS = re.compile(rf"\b(?:(?P<pod>{_LABEL})\.)?(?P<name>{_LABEL})\.(?P<namespace>{_LABEL})\.svc\b")
# A Service named as `namespace/name` (ingress-nginx: `Service "shop/pricing" does not have any active Endpoint`).
SERVICE_REF = re.compile(rf'\bService "(?P<namespace>{_LABEL})/(?P<name>{_LABEL})"')
# An address dialled with its port: `10.244.1.5:8080`, `api.shop.svc.cluster.local:8000`.
DIALED_IP = re.compile(r"(?<![\w.])(?P<ip>(?:\d{1,3}\.){3}\d{1,3}):(?P<port>\d{2,5})\b")
DIALED_NAME = re.compile(SERVICE_DNS.pattern + r"(?:\.cluster\.local)?:(?P<port>\d{2,5})\b")
SERVICE_PORTS = re.compile(r"(?P<port>\d+)(?:->(?P<target>[\w-]+))?/\w+")  # `80->8000/TCP` in a rendered Service
SERVICE_IP = re.compile(r"^Service [^:]+: \w+ (?P<ip>(?:\d{1,3}\.){3}\d{1,3}) ports ")


def address_book(objects: Mapping[tuple, ObjectFacts]) -> dict[str, tuple[str, str]]:
    """IP and Service DNS name (`name.namespace.svc`) -> (kind, `namespace/name`) of the pods and Services."""
    book: dict[str, tuple[str, str]] = {}
    for facts in objects.values():
        if facts.kind == "Service":
            book[f"{facts.name}.{facts.namespace}.svc"] = (facts.kind, f"{facts.namespace}/{facts.name}")
        if facts.status is None or facts.kind not in ("Pod", "Service"):
            continue
        if facts.kind == "Pod":
            ip = parse_pod(facts.status.text).ip
        else:
            match = SERVICE_IP.match(facts.status.text)
            ip = match["ip"] if match else ""
        if ip:
            book[ip] = (facts.kind, f"{facts.namespace}/{facts.name}")
    return book


def name_addresses(findings: list[Finding], objects: Mapping[tuple, ObjectFacts]) -> None:
    """Each evidence line naming another object's IP says whose it is (`Evidence.about`), and the finding lists
    that object in `addressed`."""
    book = address_book(objects)
    pods = {f"{facts.namespace}/{facts.name}" for facts in objects.values() if facts.kind == "Pod"}
    for finding in findings:
        own = f"{finding.namespace}/{finding.name}"
        finding.evidence = [_resolved(item, book, pods, own, finding.addressed) for item in finding.evidence]


def _resolved(item: Evidence, book: Mapping[str, tuple[str, str]], pods: set[str], own: str,
              addressed: list[str]) -> Evidence:
    """The item naming whose each IP in it is; an object's own address (in its status line, or the finding's
    object's) names nothing new."""
    named = []
    itself = (own, f"{item.namespace}/{item.name}")
    for ip in dict.fromkeys(IPV4.findall(item.text)):
        kind, where = book.get(ip, ("", ""))
        if where and where not in itself:
            named.append(f"{ip} is {kind.lower() if kind == 'Pod' else kind} {where}")
            if where not in addressed:
                addressed.append(where)
    for match in SERVICE_REF.finditer(item.text):
        where = f"{match['namespace']}/{match['name']}"
        if where not in itself and where not in addressed:
            addressed.append(where)
    for match in SERVICE_DNS.finditer(item.text):  # the name says whose it is, whether the dump holds the Service or not
        for where in (f"{match['namespace']}/{match['name']}", *_hosts(match["namespace"], match["pod"], pods)):
            if where not in itself and where not in addressed:
                addressed.append(where)
    return replace(item, about="; ".join(named)) if named and not item.about else item


def serves(kind: str, namespace: str | None, name: str, addressed: list[str]) -> bool:
    """Whether an object is an addressed pod or Service, or the workload behind an addressed Service: by the
    convention that a Service is named after its Deployment or StatefulSet (`checkout` -> `checkout-7d9f8c6b5d-x2lqp`,
    `checkout-0`, ReplicaSet `checkout-7d9f8c6b5d`); the dump rarely holds the Service's selector and endpoints."""
    for where in addressed:
        space, _, target = where.rpartition("/")
        if namespace != space:
            continue
        replica = POD_OF_REPLICASET.match(name) if kind == "Pod" else None
        if (name == target or (replica is not None and replica["deployment"] == target)
                or re.fullmatch(rf"{re.escape(target)}-(?:\d+|[a-z0-9]{{6,10}})", name)):
            return True
    return False


def _hosts(namespace: str, hostname: str | None, pods: set[str]) -> list[str]:
    """The pods a headless Service's host name is: the pod of that name (a StatefulSet's `worker-0`), or the pods
    of an Indexed Job whose hostname it is (`pretrain-0` for pod `pretrain-0-4tqgr`)."""
    if not hostname:
        return []
    exact = f"{namespace}/{hostname}"
    if exact in pods:
        return [exact]
    return sorted(pod for pod in pods if re.fullmatch(rf"{re.escape(exact)}-[a-z0-9]{{5}}", pod))


def dialed(text: str, book: Mapping[str, tuple[str, str]]) -> list[tuple[str, str, int]]:
    """(kind, `namespace/name`, port) of each pod or Service `text` dials by IP and port or by Service name and port."""
    found = []
    for match in DIALED_IP.finditer(text):
        kind, where = book.get(match["ip"], ("", ""))
        if where:
            found.append((kind, where, int(match["port"])))
    for match in DIALED_NAME.finditer(text):
        found.append(("Service", f"{match['namespace']}/{match['name']}", int(match["port"])))
    return found


def target_port(service: str, port: int) -> int | None:
    """The container port a rendered Service sends `port` to (`80->8000/TCP`), the same port when it has no target
    port of its own, None when it has no such port or the target is a port name."""
    for match in SERVICE_PORTS.finditer(service.partition(" ports ")[2]):
        if int(match["port"]) == port:
            target = match["target"] or match["port"]
            return int(target) if target.isdigit() else None
    return None
