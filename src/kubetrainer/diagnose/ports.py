"""Who listens where inside a pod: refusals from a sidecar not yet up, servers reachable only on localhost.

Containers of a pod share one network namespace. Two common failures follow and show only
when the pod's containers are read together:

- an app that dials `127.0.0.1:6432` is refused because the sidecar serving that port
  (PgBouncer, a proxy) is not listening yet: containers start together, in no order; what
  the sidecar was waiting for meanwhile (`Waiting for PostgreSQL backend to be accessible`)
  is quoted with its listening line;
- a server that listens on `127.0.0.1` only is unreachable from outside the pod: the
  kubelet's probes, its Service and a mesh sidecar (Istio sends to the pod IP since 1.10)
  all dial the pod IP. A client's failure to reach a Service whose pods listen so is
  explained by the pod's listening line too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from kubetrainer.diagnose.addresses import address_book, dialed, serves, target_port
from kubetrainer.diagnose.collect import LISTENING, ObjectFacts
from kubetrainer.diagnose.finding import Evidence, Finding
from kubetrainer.diagnose.knowledge import is_problem_line

# `127.0.0.1:6432`, `localhost:6432`, libpq's `server at "127.0.0.1", port 6432`.
LOOPBACK_TARGET = re.compile(r'(?:127\.0\.0\.1|localhost|\[::1\])"?(?::|,? port )(?P<port>\d{2,5})\b')
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
# Findings a server unreachable on the pod IP explains.
WAITING = re.compile(r"\bwait(?:ing)?\b", re.IGNORECASE)  # a sidecar's `Waiting for <its backend>` as it starts
MAX_EVIDENCE = 5
UNREACHABLE_RULES = frozenset({"readiness-probe", "liveness-probe", "startup-probe", "no-healthy-upstream",
                               "connection-refused"})


def explain_ports(findings: list[Finding], objects: Mapping[tuple, ObjectFacts],
                  opening: Mapping[tuple, Sequence[Evidence]]) -> None:
    """Explain refusals and unreachable servers by who listens where in the pod; `opening`: (namespace, pod,
    container) -> the first lines of its log (`Collector.opening`)."""
    book = address_book(objects)
    for finding in findings:
        if finding.kind != "Pod":
            continue
        facts = objects.get(("Pod", finding.namespace, finding.name))
        if facts is None:
            continue
        _sidecar_not_ready(finding, facts, opening)
        if finding.rule in UNREACHABLE_RULES:
            _loopback_only(finding, facts) or _addressed_loopback_only(finding, objects) or _wrong_port(
                finding, objects, book)


def _listeners(facts: ObjectFacts) -> list[tuple[str, int, Evidence]]:
    return [(container, port, line) for container, logs in sorted(facts.logs.items())
            for port, line in sorted(logs.listening.items())]


def _sidecar_not_ready(finding: Finding, facts: ObjectFacts, opening: Mapping[tuple, Sequence[Evidence]]) -> None:
    """A refused dial to a loopback port another container of the pod listens on, and what that container was
    waiting for before it listened."""
    for item in sorted(finding.evidence, key=lambda entry: not is_problem_line(entry.text)):  # the refusal first
        target = LOOPBACK_TARGET.search(item.text)
        if not target:
            continue
        for container, port, line in _listeners(facts):
            if port != int(target["port"]) or container == (item.container or finding.container):
                continue
            early = bool(item.ts and line.ts and item.ts < line.ts)
            finding.cause += (f"; port {port} is served by the pod's own {container} container "
                              f'("{line.text.strip()[:120]}")'
                              + (", which was not listening yet: the containers start together, so the app must "
                                 "wait for it (or run it as a sidecar init container)" if early else ""))
            finding.terms = (*finding.terms, container, "sidecar")
            started = list(opening.get((facts.namespace, facts.name, container), ()))
            before = started[:started.index(line)] if line in started else []
            waited = [entry for entry in before if WAITING.search(entry.text)][-1:] if early else []
            after = finding.evidence.index(item) + 1  # quoted right after the refusal they explain
            for position, entry in enumerate([*waited, line], start=after):  # the listening line is in the cause
                if all(existing.text != entry.text for existing in finding.evidence):
                    finding.evidence.insert(position, entry)
            del finding.evidence[MAX_EVIDENCE:]
            return


def _loopback_only(finding: Finding, facts: ObjectFacts, whose: str = "its") -> bool:
    """A server of the pod bound to localhost, which nothing dialling the pod IP reaches; whether there is one."""
    for container, port, line in _listeners(facts):
        match = LISTENING.search(line.text)
        if match and match["host"] in LOOPBACK_HOSTS:
            finding.cause += (f"; {whose} {container} container listens on {match['host']}:{port} only "
                              f'("{line.text.strip()[:120]}"), which probes, Services and a mesh sidecar dialling '
                              "the pod IP cannot reach")
            finding.terms = (*finding.terms, "127.0.0.1", "localhost")
            finding.fix = (f"make the {container} container's server listen on 0.0.0.0 (all interfaces) instead of "
                           f"{match['host']}: its host setting or flag (uvicorn --host, gunicorn --bind, Flask --host, "
                           "a HOST variable); the pod IP is what probes, the Service and a mesh sidecar dial")
            finding.add_evidence(line)
            return True
    return False


def _addressed_loopback_only(finding: Finding, objects: Mapping[tuple, ObjectFacts]) -> bool:
    """A client's failure to reach a pod or Service whose server listens on localhost only."""
    if not finding.addressed:
        return False
    for facts in sorted(objects.values(), key=lambda facts: facts.name):
        if (facts.kind == "Pod" and facts.name != finding.name
                and serves(facts.kind, facts.namespace, facts.name, finding.addressed)
                and _loopback_only(finding, facts, f"pod {facts.namespace}/{facts.name} behind it: its")):
            return True
    return False


def _wrong_port(finding: Finding, objects: Mapping[tuple, ObjectFacts], book: Mapping[str, tuple[str, str]]) -> bool:
    """A client refused by (or finding no endpoint at) a pod or Service whose pods listen, but not on the port it is
    sent to: the Service's target port (or the client's) and the server's port differ."""
    for item in finding.evidence:
        for kind, where, port in dialed(item.text, book):
            namespace, _, name = where.partition("/")
            wanted = port
            if kind == "Service":
                service = objects.get(("Service", namespace, name))
                wanted = target_port(service.status.text, port) if service and service.status else None
            servers = [facts for facts in objects.values() if facts.kind == "Pod" and facts.name != finding.name
                       and serves("Pod", facts.namespace, facts.name, [where])]
            heard = [(facts, container, listening, line) for facts in sorted(servers, key=lambda facts: facts.name)
                     for container, listening, line in _listeners(facts)]
            if wanted is None or not heard or any(listening == wanted for _, _, listening, _ in heard):
                continue
            server, container, listening, line = heard[0]
            via = f"Service {where} sends port {port} to {wanted}" if kind == "Service" else f"it dials port {wanted}"
            finding.cause += (f"; {via}, but pod {server.namespace}/{server.name} behind it listens on port {listening} "
                              f'("{line.text.strip()[:120]}")')
            finding.terms = (*finding.terms, str(listening), str(wanted))
            finding.fix = (f"send the traffic to port {listening}, where {server.name}'s {container} container listens "
                           f"(the Service's targetPort or the client's address), or make the server listen on {wanted}")
            finding.add_evidence(line)
            return True
    return False
