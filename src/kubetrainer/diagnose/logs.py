"""Log rules: known failure signatures in a container's log, reported when no pod rule explained them.

A signature seen in a container that is otherwise running (a worker whose DNS lookups
fail, a controller denied by RBAC, a device plugin reporting an Xid) is a finding of its
own, with the distinct lines that show it (after the line that began the log entry the first one continues)
and how often it was seen.
"""

from __future__ import annotations

from kubetrainer.diagnose.collect import ObjectFacts, clipped, readable, shape
from kubetrainer.diagnose.finding import Finding
from kubetrainer.diagnose.knowledge import INFO, WARNING
from kubetrainer.diagnose.nodes import xid_finding
from kubetrainer.diagnose.notes import pod_note

ERRORS_WORTH_A_WARNING = 3
MAX_DETAILS = 4  # specifics named in one finding's cause (denied permissions, missing tables)


def log_findings(facts: ObjectFacts, explained: set[tuple[str, str]], quoted: set[str]) -> list[Finding]:
    """Signature findings for `facts`' containers, except (container, rule) pairs in `explained`; then
    error-level lines no signature covers, for containers no other finding quotes (`quoted`)."""
    found = []
    for container, logs in sorted(facts.logs.items()):
        if logs.errors and not logs.signatures and not logs.xids and container not in quoted:
            found.append(_errors(facts, container, logs))
        for rule, hits in logs.signatures.items():
            if (container, rule) in explained:
                continue
            signature = hits.signature
            seen = f" ({hits.count} times)" if hits.count > 1 else ""
            named = signature.details([item.text for item in [hits.first, *hits.distinct, hits.last]])
            specifics = f" ({'; '.join(named[:MAX_DETAILS])})" if named else ""
            finding = Finding(
                rule=signature.rule,
                severity=signature.severity,
                kind=facts.kind,
                namespace=facts.namespace,
                name=facts.name,
                cause=f"{_where(facts, container)}: {signature.cause}{specifics}{seen}{pod_note(facts, rule)}",
                meaning=signature.meaning,
                fix=signature.fix,
                terms=signature.terms,
                node=facts.node,
                container=container or None,
                count=hits.count,
            )
            for item in hits.quoted:
                finding.add_evidence(item)
            found.append(finding)
        for (code, device), hits in sorted(logs.xids.items()):
            node = facts.node or hits.first.node or facts.name
            found.append(xid_finding(node, code, device, hits.first, hits.last, hits.count))
    return found


def _where(facts: ObjectFacts, container: str) -> str:
    if facts.kind == "Pod":
        return (
            f"container {container} of pod {facts.namespace}/{facts.name}"
            if container
            else f"pod {facts.namespace}/{facts.name}"
        )
    return f"{facts.kind.lower()} {facts.name}"


def _errors(facts: ObjectFacts, container: str, logs) -> Finding:
    """A container that logs errors no known signature explains: its last error, quoted, and its distinct errors."""
    last = logs.errors[-1]
    message = readable(last.text)
    context = logs.error_context.get(shape(message))
    after = f', after "{clipped(readable(context.text), 200)}"' if context else ""
    count = logs.error_count
    finding = Finding(
        rule="log-errors",
        severity=WARNING if count >= ERRORS_WORTH_A_WARNING else INFO,
        kind=facts.kind,
        namespace=facts.namespace,
        name=facts.name,
        cause=f'{_where(facts, container)} logs errors ({count}); the last: "{clipped(message, 240)}"{after}',
        meaning="the program reports failures it did not recover from on its own",
        fix="read the quoted error; it names what failed",
        terms=("error",),
        node=facts.node,
        container=container or None,
        count=count,
    )
    for item in [*([context] if context else []), *logs.error_variants.values(), last]:
        finding.add_evidence(item)
    return finding
