"""Pod rules: crash loops, OOM kills, failed containers, image pulls, config errors, init containers,
scheduling, probes and evictions, each explained by the pod's own events and log lines.

A pod's failure state says *that* it fails; its logs usually say *why*. When a container
that fails also logged a known failure signature (or an error-level line), that becomes
the cause, so the finding reads "exits with code 1: invalid configuration ..." rather than
"CrashLoopBackOff".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from kubetrainer.diagnose.collect import ContainerLogs, ObjectFacts, clipped, readable, shape
from kubetrainer.diagnose.finding import Evidence, Finding
from kubetrainer.diagnose.knowledge import (
    CRITICAL,
    LOG_SIGNATURES,
    NO_PLATFORM_MATCH,
    SIGNATURE_BY_RULE,
    WARNING,
    WRAPPER_ERROR,
    is_problem_line,
    matching,
)
from kubetrainer.diagnose.notes import pod_note
from kubetrainer.diagnose.scheduler import parse_failed_scheduling
from kubetrainer.diagnose.status import ContainerStatus, PodStatus, parse_pod

PULL_REASONS = (
    (NO_PLATFORM_MATCH, "the image holds no build for the node's platform (no match for platform in manifest)"),
    (
        re.compile(r"code = NotFound|manifest unknown|not found", re.IGNORECASE),
        "the image or tag does not exist in the registry (NotFound)",
    ),
    (
        re.compile(r"unauthorized|pull access denied|authentication required|401|403", re.IGNORECASE),
        "the registry refused access (missing or wrong imagePullSecrets)",
    ),
    (re.compile(r"x509", re.IGNORECASE), "the registry's TLS certificate is not trusted"),
    (
        re.compile(r"no such host|i/o timeout|connection refused|dial tcp", re.IGNORECASE),
        "the registry cannot be reached",
    ),
    (re.compile(r"toomanyrequests|rate limit", re.IGNORECASE), "the registry is rate-limiting pulls"),
)
# What a pull failure means and what to do, where that is not the image-pull signature's own: a rate-limited pull (the
# image name and credentials are fine) and an image without a build for the node's platform (it exists, for others).
PULL_MEANINGS = {
    PULL_REASONS[-1][1]: (
        "the registry refuses more pulls from this address or account for a while (Docker Hub limits anonymous "
        "pulls per IP address); nodes that already hold the image start their pods, new nodes cannot",
        "authenticate the pulls (imagePullSecrets for an account with a higher limit), or serve the image "
        "from your own registry, a mirror or a pull-through cache"),
    PULL_REASONS[0][1]: (
        "the image exists, but its manifest list holds builds for other platforms only: another CPU architecture "
        "(amd64 on arm64 nodes), or on Windows another OS version (a Windows container image must match the "
        "node's Windows Server build: ltsc2019 for 2019, ltsc2022 for 2022)",
        "build and push the image for the node's platform (a multi-platform image, or the base image matching the "
        "node's Windows build), or pin the pods to nodes of the image's platform (nodeSelector kubernetes.io/arch, "
        "node.kubernetes.io/windows-build)"),
}
_IMAGE = re.compile(r'(?:pull(?:ing)? image|Failed to pull image) "([^"]+)"', re.IGNORECASE)
# The registry's API endpoint in a pull error (`https://registry-1.docker.io/v2/library/varnish/manifests/...`): the
# host that answered, which the image name does not always spell (docker.io is served by registry-1.docker.io).
_REGISTRY_URL = re.compile(r"https?://([\w.-]+(?::\d+)?)/v2/")


@dataclass(frozen=True)
class Explanation:
    """Why a container fails, in words, with the lines that show it; `fix` when a known signature says what to do."""

    why: str = ""
    lines: tuple[Evidence, ...] = ()
    terms: tuple[str, ...] = ()
    fix: str = ""


# What an unschedulable pod's cause says when a node autoscaler announced a node for it; `engine.link` then relates
# the pod to the autoscaler's failure to launch one.
AWAITS_NODE = "a node autoscaler is adding a node for it"


def _cause_line(logs: ContainerLogs) -> Evidence:
    """The error line that states the cause: the last, unless it is a launcher's report that its child failed
    (torchrun's ChildFailedError), whose cause is the child's own exception logged before it."""
    last = logs.errors[-1]
    return logs.raised if WRAPPER_ERROR.search(last.text) and logs.raised else last


class PodRules:
    """The findings for one pod; `used` collects the event texts they explain."""

    def __init__(self, facts: ObjectFacts) -> None:
        self.facts = facts
        self.status: PodStatus | None = parse_pod(facts.status.text) if facts.status else None
        self.used: set[str] = set()
        self.used_signatures: set[tuple[str, str]] = set()  # (container, rule) explained by a pod finding
        self.used_errors: set[str] = set()  # containers whose error lines a pod finding quotes

    def findings(self) -> list[Finding]:
        found: list[Finding] = []
        if self.status:
            for container in self.status.containers:
                finding = self._container(container)
                if finding:
                    found.append(finding)
            found += self._pod_level()
        found += self._probe_findings(found)
        return found

    def _new(
        self,
        rule: str,
        severity: str,
        cause: str,
        meaning: str,
        fix: str,
        terms: tuple[str, ...],
        container: str | None = None,
    ) -> Finding:
        facts = self.facts
        return Finding(
            rule=rule,
            severity=severity,
            kind="Pod",
            namespace=facts.namespace,
            name=facts.name,
            cause=cause,
            meaning=meaning,
            fix=fix,
            terms=terms,
            node=facts.node,
            container=container,
        )

    def _events(self, *reasons: str, containing: str = "") -> list[Evidence]:
        found = [
            event
            for event in self.facts.events
            if self.facts.reasons.get(event.text) in reasons and containing.lower() in event.text.lower()
        ]
        self.used.update(event.text for event in found)
        return found

    def _status_evidence(self, fragment: str) -> Evidence:
        status = self.facts.status
        assert status is not None
        return Evidence(
            fragment, status.kind, status.namespace, status.name, None, status.node, status.ts, status.record
        )

    def _explanation(self, container: str) -> Explanation:
        """Why a container fails: a known signature in its logs, else its last error line (`_cause_line`), else the
        kubelet's start error (a container that never started has no logs; its `Failed` event says why)."""
        logs = self.facts.logs.get(container) or ContainerLogs()
        self.used_errors.add(container)
        if logs.signatures:
            return self._signatures(container, logs)
        if logs.errors:
            line = _cause_line(logs)
            message = readable(line.text)
            earlier = [item for item in logs.errors[:-1]
                       if readable(item.text) != message and len(_key_words(readable(item.text), 2)) == 2][-1:]
            return Explanation(f'it logs "{clipped(message, 240)}"', (*earlier, line), _key_words(message))
        return self._start_error()

    def _signatures(self, container: str, logs: ContainerLogs) -> Explanation:
        """The known signatures a container logged, in the order they first appeared: a controller that is
        throttled and then loses its lease needs both said."""
        shown = list(logs.signatures.items())[:SIGNATURES_EXPLAINED]
        parts, lines, terms = [], [], []
        for rule, hits in logs.signatures.items():
            self.used_signatures.add((container, rule))
        for rule, hits in shown:
            part = f'{hits.signature.cause}{pod_note(self.facts, rule)}: "{clipped(readable(hits.first.text), 200)}"'
            if hits.context and not lines and (len(hits.distinct) == 1 or is_problem_line(hits.context.text)):
                part += f', after "{readable(hits.context.text)[:160]}"'  # an ordinary line only beside a lone one
                lines.append(hits.context)
            parts.append(part)
            lines += hits.quoted
            terms += hits.signature.terms
        lines = list(dict.fromkeys(lines))
        final = logs.errors[-1] if logs.errors else None  # its last error-level line: often the program's own verdict
        if final is not None and all(shape(readable(item.text)) != shape(readable(final.text)) for item in lines):
            lines = [*lines[:FINAL_AFTER], final]
        return Explanation("; ".join(parts), tuple(lines), tuple(dict.fromkeys(terms)), shown[0][1].signature.fix)

    def _start_error(self) -> Explanation:
        """The kubelet's `Failed` event (`Error: failed to create containerd task: ...`), read for a signature."""
        events = self._events("Failed", containing="Error:")
        if not events:
            return Explanation()
        message = events[-1].text.split(": ", 1)[-1]
        detail = [line for line in message.splitlines() if line.strip()][-1]  # runtimes put the real error last
        signature = next(iter(matching(message, LOG_SIGNATURES)), None)
        if signature is None:
            return Explanation(f'it fails to start: "{clipped(detail, 240)}"', (events[-1],), _key_words(detail))
        return Explanation(f'it fails to start: {signature.cause}: "{clipped(detail, 200)}"', (events[-1],), signature.terms,
                           signature.fix)

    def _container(self, container: ContainerStatus) -> Finding | None:
        reason, last = container.reason, container.last_reason
        restarts = f", {container.restarts} restarts" if container.restarts else ""
        if "OOMKilled" in (reason, last):
            signature = SIGNATURE_BY_RULE["oom-killed"]
            finding = self._new(
                "oom-killed",
                CRITICAL,
                f"{container.label} is OOMKilled (exit code 137{restarts}): it runs out of memory at its memory limit"
                + (f" ({limit})" if (limit := self.status.memory_limits.get(container.name)) else ""),
                signature.meaning,
                signature.fix,
                signature.terms,
                container.name,
            )
            finding.add_evidence(self._status_evidence(container.text))
            logs = self.facts.logs.get(container.name)
            for line in (logs.errors if logs else [])[-1:]:
                finding.add_evidence(line)
            for event in self._events("BackOff", "OOMKilling"):
                finding.add_evidence(event)
            return finding
        if reason in ("ImagePullBackOff", "ErrImagePull", "InvalidImageName"):
            return self._image_pull(container)
        if reason in ("CreateContainerConfigError", "CreateContainerError", "RunContainerError"):
            finding = self._new(
                "container-config",
                CRITICAL,
                f"{container.label} cannot be created ({reason}): {container.message or 'see its events'}",
                "the kubelet cannot start the container: a ConfigMap, Secret or key it references is missing, "
                "or its command is invalid",
                "create the missing ConfigMap/Secret or key, or fix the pod spec's references",
                (reason, "not found", "missing"),
                container.name,
            )
            finding.add_evidence(self._status_evidence(container.text))
            for event in self._events("Failed"):
                finding.add_evidence(event)
            return finding
        evicted = self.status is not None and self.status.reason == "Evicted"
        crashing = reason == "CrashLoopBackOff" or (
            container.state == "terminated"
            and (container.exit_code or 0) != 0
            and reason != "ContainerStatusUnknown"
            and not evicted
        )
        if not crashing:
            restarted = container.state == "running" and container.restarts and container.last_reason not in (
                "", "Completed") and (container.last_exit_code or 0) != 0
            return self._restarted(container) if restarted else None
        code = container.last_exit_code if reason == "CrashLoopBackOff" else container.exit_code
        explained = self._explanation(container.name)
        if container.init:
            rule, summary = (
                "init-container-failed",
                f"{container.label} fails (exit code {code}{restarts}), so the pod never starts",
            )
            meaning = "init containers must finish before the app starts; a failing one holds the pod in Init:CrashLoopBackOff"
        elif reason == "CrashLoopBackOff":
            rule, summary = (
                "crash-loop",
                f"{container.label} keeps crashing (CrashLoopBackOff, exit code {code}{restarts})",
            )
            meaning = "the container exits soon after it starts and the kubelet restarts it with growing back-off"
        else:
            rule, summary = "container-failed", f"{container.label} failed (exit code {code})"
            meaning = "the container's process exited with an error, so its pod or job failed"
        finding = self._new(
            rule,
            CRITICAL,
            summary + (f": {explained.why}" if explained.why else ""),
            meaning,
            f"{explained.fix}, then restart the workload" if explained.fix else "fix what the log line reports, "
            "then restart the workload",
            (*explained.terms, "exit code", "crash")[:6],
            container.name,
        )
        for line in explained.lines:
            finding.add_evidence(line)
        finding.add_evidence(self._status_evidence(container.text))
        for event in self._events("BackOff"):
            finding.add_evidence(event)
        return finding

    def _restarted(self, container: ContainerStatus) -> Finding | None:
        """A container running again after failing: worth a finding while its back-off events are recent or its
        logs say why it failed. A failing liveness probe restarts containers too; its own finding says so."""
        if any(self.facts.reasons.get(e.text) == "Unhealthy" and "Liveness probe failed" in e.text
               for e in self.facts.events):
            self._events("BackOff")  # the restarts the probe causes
            return None
        explained = self._explanation(container.name)
        backoff = self._events("BackOff")
        if not (backoff or explained.why):
            return None
        finding = self._new(
            "container-restarts",
            WARNING,
            f"{container.label} restarted {container.restarts} times (last exit code {container.last_exit_code}, "
            f"{container.last_reason}) and runs again" + (f": {explained.why}" if explained.why else ""),
            "the container exits with an error and the kubelet restarts it; between failures it runs",
            f"{explained.fix}" if explained.fix else "fix what the log line reports",
            (*explained.terms, "restart")[:6],
            container.name,
        )
        for item in [*explained.lines, self._status_evidence(container.text), *backoff[-1:]]:
            finding.add_evidence(item)
        return finding

    def _image_pull(self, container: ContainerStatus) -> Finding:
        events = self._events("Failed", "ErrImagePull", "ImagePullBackOff", "InspectFailed")
        texts = " ".join([container.message, *(event.text for event in events)])
        image = next((m.group(1) for m in [_IMAGE.search(texts)] if m), None)
        why = next((explanation for pattern, explanation in PULL_REASONS if pattern.search(texts)), "the pull fails")
        registry = _REGISTRY_URL.search(texts)
        answered = f" ({registry.group(1)} answered)" if registry else ""
        signature = SIGNATURE_BY_RULE["image-pull"]
        finding = self._new(
            "image-pull",
            CRITICAL,
            f"image {image or 'of ' + container.label} cannot be pulled: {why}{answered}",
            *PULL_MEANINGS.get(why, (signature.meaning, signature.fix)),
            ("ImagePullBackOff", "pull", "not found", "NotFound"),
            container.name,
        )
        for event in events[:2]:
            finding.add_evidence(event)
        finding.add_evidence(self._status_evidence(container.text))
        return finding

    def _pod_level(self) -> list[Finding]:
        status = self.status
        assert status is not None
        found = []
        if status.reason == "Evicted":
            finding = self._new(
                "pod-evicted",
                WARNING,
                f"the pod was evicted: {status.message.split('. ')[0]}",
                "the kubelet killed the pod to reclaim a resource the node ran short of",
                "set memory requests close to real usage so the scheduler places the pod where it fits",
                ("evicted", "low on resource"),
            )
            finding.add_evidence(self._status_evidence(f"{status.reason}: {status.message}"))
            for event in self._events("Evicted"):
                finding.add_evidence(event)
            found.append(finding)
        elif status.phase == "Failed" and status.reason:
            found.append(self._pod_failed(status))
        if not status.scheduled and status.phase == "Pending":
            found.append(self._unschedulable(status))
        return found

    def _pod_failed(self, status: PodStatus) -> Finding:
        """A pod the kubelet failed as a whole (SysctlForbidden, UnexpectedAdmissionError, NodeAffinity, OutOfcpu):
        its reason and message, read for a known signature."""
        stated = f"{status.reason}: {status.message}"
        signature = next(iter(matching(stated)), None)
        finding = self._new(
            "pod-failed",
            CRITICAL,
            f"the pod failed ({status.reason})" + (f": {signature.cause}" if signature else "")
            + (f": {status.message}" if status.message else ""),
            signature.meaning if signature else "the kubelet stopped or rejected the pod before its containers ran",
            signature.fix if signature else "read the reason and message; they name what the node refused",
            signature.terms if signature else (status.reason, "failed"),
        )
        finding.add_evidence(self._status_evidence(stated))
        for event in self._events(status.reason)[-1:]:
            finding.add_evidence(event)
        return finding

    def _unschedulable(self, status: PodStatus) -> Finding:
        events = self._events("FailedScheduling")
        placement = next((p for event in reversed(events) for p in [parse_failed_scheduling(event.text)] if p), None)
        terms: tuple[str, ...] = ("Pending", "schedul")
        if placement and placement.unbound_claims:
            claims = ", ".join(status.claims) or "its volume claims"
            cause = f"the pod cannot be scheduled: its PersistentVolumeClaim {claims} is not bound"
            terms = ("unbound", "not bound", *status.claims)
        elif placement and placement.shortages:
            wanted = f" (it requests {status.gpu_limits})" if status.gpu_limits else ""
            cause = f"the pod cannot be scheduled: no node has enough free {', '.join(placement.shortages)}{wanted}; {placement.summary()}"
            terms = (*placement.shortages, *(_short_name(resource) for resource in placement.shortages))
        elif placement:
            cause = f"the pod cannot be scheduled: {placement.summary()}"
            terms = tuple(reason.split()[-1] for _, reason in placement.reasons[:2]) or terms
        else:
            cause = "the pod is Pending and not scheduled to any node" + (f": {events[-1].text}" if events else "")
        declined = self._events("NotTriggerScaleUp")
        if declined:
            cause += f"; the cluster autoscaler adds no node for it ({declined[-1].text})"
        awaited = [self.facts.awaits] if self.facts.awaits and not declined else []
        if awaited:
            cause += f"; {AWAITS_NODE} ({awaited[0].text})"
        finding = self._new(
            "unschedulable",
            WARNING,
            cause,
            "the scheduler found no node that satisfies the pod's requests, affinity, tolerations and volumes",
            "free or add capacity, fix the requests, tolerations or node selector, or bind the volume claims",
            terms,
        )
        for event in [*events[-1:], *declined[-1:], *awaited]:
            finding.add_evidence(event)
        if self.facts.status:
            finding.add_evidence(self._status_evidence(self.facts.status.text.split("; ")[0]))
        return finding

    def _probe_findings(self, found: list[Finding]) -> list[Finding]:
        out = []
        for probe, effect in (
            ("Readiness", "the pod is not Ready, so its Service sends it no traffic"),
            ("Liveness", "the kubelet kills and restarts the container"),
            ("Startup", "the container is restarted before it finishes starting"),
        ):
            events = self._events("Unhealthy", containing=f"{probe} probe failed")
            if not events:
                continue
            kills = self._events("Killing", containing=probe.lower()) if probe != "Readiness" else []
            events += kills
            container = next(
                (c for c in self.facts.logs if self.facts.logs[c].signatures or self.facts.logs[c].errors), None
            )
            explained = self._explanation(container) if container is not None else Explanation()
            probe_text = events[0].text.split(": ", 1)[-1]
            cause = f"its {probe.lower()} probe fails ({probe_text}): {effect}"
            finding = self._new(
                f"{probe.lower()}-probe",
                CRITICAL if kills else WARNING,  # a probe that kills the container takes it down, not only out of service
                cause + (f"; {explained.why}" if explained.why else ""),
                SIGNATURE_BY_RULE["probe-failed"].meaning,
                SIGNATURE_BY_RULE["probe-failed"].fix,
                ("probe", *explained.terms)[:5],
                container,
            )
            for item in [*events[:2], *explained.lines]:
                finding.add_evidence(item)
            out.append(finding)
        return out


SIGNATURES_EXPLAINED = 2  # known signatures a container's finding states, in order of appearance
FINAL_AFTER = 2  # signature lines kept before a distinct last error line (the finding quotes up to 4 lines)
_WORD = re.compile(r"[A-Za-z][\w.-]{3,}")
_STOP = frozenset(
    {"error", "failed", "fatal", "with", "from", "that", "this", "cannot", "could", "would", "level", "unable"}
)


def _key_words(message: str, most: int = 4) -> tuple[str, ...]:
    """Distinctive words of an error message, which a correct paraphrase keeps. A line with fewer than two
    (`Error Code : 0` under a Flyway or JDBC error) is a detail of a nearby line, not worth quoting alone."""
    words = [word.strip(".,:;\"'") for word in _WORD.findall(message)]
    return tuple(dict.fromkeys(word for word in words if word.lower() not in _STOP))[:most]


def _short_name(resource: str) -> str:
    """`nvidia.com/gpu` -> `GPU`, `cpu` -> `CPU`: how people name a resource."""
    return resource.rsplit("/", 1)[-1].upper()


PROBE_KILLS = frozenset({"liveness-probe", "startup-probe"})


# What a program is busy with, by the lines the usual tools print while at it (Spring Boot abbreviates Flyway's
# org.flywaydb loggers to o.f.*): long start-up work that outlasts a liveness probe.
BUSY_WITH: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bo\.f\.|org\.flywaydb|Migrating schema .* to version"), "a Flyway schema migration"),
    (re.compile(r"liquibase|Running Changeset", re.IGNORECASE), "a Liquibase schema migration"),
    (re.compile(r"alembic|Running upgrade \w+ -> \w+"), "an Alembic schema migration"),
    (re.compile(r"Applying \w+\.\d{4}_\w+"), "a Django schema migration"),
    (re.compile(r"== \d{14} \w+: migrating"), "a Rails schema migration"),
    (re.compile(r"Downloading|Fetching \d+ files|huggingface|safetensors", re.IGNORECASE), "a download (model or data)"),
)


def busy_with(line: str) -> str | None:
    """What a program's log line says it is in the middle of, or None."""
    return next((phrase for pattern, phrase in BUSY_WITH if pattern.search(line)), None)


def name_last_lines(findings: list[Finding], last_line: Callable[[str | None, str], Evidence | None]) -> None:
    """A container its liveness or startup probe kills while it logs no error is busy, not broken: the last line
    it logged (`last_line(namespace, pod)`) says with what (a schema migration, a model download, a cache warm-up)."""
    for finding in findings:
        if finding.rule not in PROBE_KILLS or any(item.kind == "log" for item in finding.evidence):
            continue
        last = last_line(finding.namespace, finding.name)
        if last is not None:
            doing = busy_with(last.text)
            finding.cause += (f"; it was in the middle of {doing}" if doing else "") + (
                f'; the last line it logged{f", at {last.ts}," if last.ts else ""} is "{clipped(readable(last.text), 200)}"')
            if last not in finding.evidence:  # quoted right after the probe's failure: it says why the probe failed
                finding.evidence.insert(1, last)
