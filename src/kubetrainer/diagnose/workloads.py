"""Rules for everything that is not a pod or a node: claims, controllers, jobs, autoscalers, quota.

Most of these objects say what is wrong only through their warning events (the
persistentvolume-controller's ProvisioningFailed, the replicaset-controller's FailedCreate,
the HPA's FailedGetResourceMetric, the job-controller's BackoffLimitExceeded), so the rules
read the event reasons those controllers write.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from kubetrainer.diagnose.collect import ObjectFacts, clipped, readable
from kubetrainer.diagnose.finding import Evidence, Finding
from kubetrainer.diagnose.knowledge import CRITICAL, INFO, SIGNATURE_BY_RULE, WARNING, matching
from kubetrainer.diagnose.quota import QUOTA_DENIAL
from kubetrainer.diagnose.status import claim_phase, job_counts, workload_counts

CONTROLLERS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet")
HPA_REASONS = (
    "FailedGetResourceMetric",
    "FailedComputeMetricsReplicas",
    "FailedGetExternalMetric",
    "FailedGetPodsMetric",
    "FailedGetObjectMetric",
    "FailedGetContainerResourceMetric",
)


def _finding(
    facts: ObjectFacts, rule: str, severity: str, cause: str, meaning: str, fix: str, terms: tuple[str, ...]
) -> Finding:
    return Finding(
        rule=rule,
        severity=severity,
        kind=facts.kind,
        namespace=facts.namespace,
        name=facts.name,
        cause=cause,
        meaning=meaning,
        fix=fix,
        terms=terms,
        node=facts.node,
    )


def _status(facts: ObjectFacts, text: str) -> Evidence:
    status = facts.status
    assert status is not None
    return Evidence(text, status.kind, status.namespace, status.name, None, status.node, status.ts, status.record)


def object_findings(facts: ObjectFacts, used: set[str]) -> list[Finding]:
    """Findings about one claim, controller, job or autoscaler; explained event texts go into `used`."""

    def take(*reasons: str) -> list[Evidence]:
        hits = [event for event in facts.events if facts.reasons.get(event.text) in reasons]
        used.update(event.text for event in hits)
        return hits

    found: list[Finding] = []
    summary = facts.status.text if facts.status else ""
    if facts.kind == "PersistentVolumeClaim":
        pending = claim_phase(summary) == "Pending"
        waiting = take("ExternalProvisioning")  # said by every claim while provisioned: a problem only if still Pending
        events = take("ProvisioningFailed", "FailedBinding") or (waiting if pending else [])
        if events or pending:
            why = events[-1].text.split(": ", 1)[-1] if events else "no volume is bound to it"
            signature = SIGNATURE_BY_RULE["unbound-pvc"]
            finding = _finding(
                facts,
                "pvc-unbound",
                CRITICAL,
                f"claim {facts.name} is not bound: {why}",
                signature.meaning,
                signature.fix,
                ("not bound", "unbound", *_quoted(why)),
            )
            for item in events[-1:] + ([_status(facts, summary)] if summary else []):
                finding.add_evidence(item)
            found.append(finding)
    if creates := take("FailedCreate"):
        quota = [event for event in creates if "exceeded quota" in event.text]
        found.append(_quota(facts, quota) if quota else _failed_create(facts, creates))
    if hpa := take(*HPA_REASONS):
        finding = _finding(
            facts,
            "hpa-metrics",
            WARNING,
            f"autoscaler {facts.name} cannot read its metrics: {clipped(hpa[-1].text.split(': ', 1)[-1], 200)}",
            "without metrics the HorizontalPodAutoscaler cannot scale; it keeps the current replica count",
            "install or fix metrics-server (or the custom metrics adapter) and set resource requests on the "
            "target's containers",
            ("metrics", "autoscal"),
        )
        for item in hpa[-2:]:
            finding.add_evidence(item)
        found.append(finding)
    if jobs := take("BackoffLimitExceeded", "DeadlineExceeded"):
        finding = _finding(
            facts,
            "job-failed",
            CRITICAL,
            f"job {facts.name} failed: {jobs[-1].text}",
            "the job gave up: its pods failed more often than its backoffLimit allows, or it ran past its deadline",
            "read why its pods failed (see the related findings), fix that, and re-run the job",
            ("failed", "BackoffLimitExceeded", "DeadlineExceeded"),
        )
        finding.add_evidence(jobs[-1])
        found.append(finding)
    elif facts.kind == "Job" and (counts := job_counts(summary)) and counts[1] and not counts[0] and not counts[2]:
        finding = _finding(
            facts,
            "job-failed",
            CRITICAL,
            f"job {facts.name} failed ({counts[1]} failed pods)",
            "the job's pods failed",
            "read why its pods failed (see the related findings)",
            ("failed",),
        )
        finding.add_evidence(_status(facts, summary))
        found.append(finding)
    if facts.kind in CONTROLLERS and (counts := workload_counts(summary)) and counts[0] < counts[1]:
        finding = _finding(
            facts,
            "replicas-short",
            WARNING if counts[0] else CRITICAL,
            f"{facts.kind} {facts.name} has {counts[0]} of {counts[1]} replicas ready",
            "fewer pods serve than desired; see the related pod findings for why",
            "fix the cause in the related findings",
            ("replicas", "ready"),
        )
        finding.add_evidence(_status(facts, summary))
        found.append(finding)
    return found


def _quota(facts: ObjectFacts, events: list[Evidence]) -> Finding:
    text = events[-1].text
    match = QUOTA_DENIAL.search(text)
    detail = (
        (
            f"quota {match['quota']}"
            + (
                f": requested {match['requested']}, used {match['used']}, limited {match['limited']}"
                if match["requested"]
                else ""
            )
        )
        if match
        else "a ResourceQuota"
    )
    signature = SIGNATURE_BY_RULE["quota-exceeded"]
    finding = _finding(
        facts,
        "quota-exceeded",
        CRITICAL,
        f"{facts.kind.lower()} {facts.name} cannot create pods: the namespace exceeded its {detail}",
        signature.meaning,
        signature.fix,
        ("quota", *((match["quota"],) if match else ())),
    )
    finding.add_evidence(events[-1])
    return finding


def _failed_create(facts: ObjectFacts, events: list[Evidence]) -> Finding:
    finding = _finding(
        facts,
        "failed-create",
        WARNING,
        f"{facts.kind.lower()} {facts.name} cannot create pods: {events[-1].text.split(': ', 1)[-1]}",
        "the controller's pod creation is rejected by the API",
        "fix what the API rejects (admission, RBAC, quota, pod security)",
        ("FailedCreate", "forbidden"),
    )
    finding.add_evidence(events[-1])
    return finding


def _quoted(text: str) -> tuple[str, ...]:
    return tuple(re.findall(r'"([^"]+)"', text))[:2]


def event_findings(facts: ObjectFacts, used: set[str]) -> list[Finding]:
    """Warning events no rule explained: reported as they are, so nothing the cluster warns about is lost."""
    found = []
    for event in facts.events:
        if event.text in used:
            continue
        reason = facts.reasons.get(event.text, "")
        count = facts.counts.get(event.text, 1)
        known = next(iter(matching(event.text)), None)
        if known is not None:
            # A one-off event of a known kind is noted; a repeated (or critical) one is a problem.
            severity = known.severity if count >= 3 or known.severity == CRITICAL else INFO
            finding = _finding(facts, known.rule, severity, f"{facts.kind} {facts.name}: {known.cause}: "
                               f"{clipped(event.text, 240)}", known.meaning, known.fix, known.terms)
        else:
            finding = _finding(
                facts,
                f"event-{reason or 'warning'}",
                INFO if count < 3 else WARNING,
                f"{facts.kind} {facts.name} has warning events: {clipped(event.text, 240)}",
                "a component reported a problem with this object",
                "read the event's message; it names the component",
                (reason,) if reason else ("warning",),
            )
        finding.count = count
        finding.add_evidence(event)
        found.append(finding)
    return found


_ACTIVE = re.compile(r"\b[1-9]\d* active\b")
_STARTED = re.compile(r"started (\S+?)\.?$")
_RUNNING = re.compile(r": phase (?:Running|Pending)\b")


def name_active_jobs(findings: list[Finding], objects: Mapping[tuple, ObjectFacts],
                     last_line: Callable[[str | None, str], Evidence | None]) -> None:
    """A CronJob skipping its runs names what it waits for: its Jobs still active, with when they started, or
    (in a dump without Jobs) the pods of its runs that are still running, and what such a pod logged last
    (`last_line(namespace, pod)`): a run that hangs shows where it stopped."""
    for finding in findings:
        if finding.rule != "cronjob-skipped":
            continue
        run = re.compile(rf"{re.escape(finding.name)}-\d+(?:-[a-z0-9]+)?")
        for facts in objects.values():
            if facts.namespace != finding.namespace or facts.status is None or not run.fullmatch(facts.name):
                continue
            if facts.kind == "Job" and _ACTIVE.search(facts.status.text):
                started = _STARTED.search(facts.status.text)
                finding.cause += f"; its Job {facts.name} is still active" + (f", started {started[1]}" if started else "")
            elif facts.kind == "Pod" and _RUNNING.search(facts.status.text):
                finding.cause += f"; its run's pod {facts.name} is still running"
                last = last_line(facts.namespace, facts.name)
                if last is not None:
                    finding.cause += f', and the last line it logged, at {last.ts}, is "{readable(last.text)[:160]}"'
                    finding.add_evidence(last)
            else:
                continue
            finding.add_evidence(facts.status)
