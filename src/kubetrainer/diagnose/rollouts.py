"""A rollout whose new pods fail while the previous version's pods still serve: name the difference.

A Deployment's pods are named `<deployment>-<ReplicaSet hash>-<suffix>`. When a failing pod
belongs to one ReplicaSet and pods of another ReplicaSet of the same Deployment run and are
ready with other images, the failure came with the new version, and the previous version is
what still serves users: the first thing an on-call engineer checks ("1.9.0 crash-loops, 1.8.3
still runs"). The running pod's status line, with its images, becomes evidence.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from kubetrainer.diagnose.collect import ObjectFacts
from kubetrainer.diagnose.finding import Finding
from kubetrainer.diagnose.knowledge import INFO

# `checkout-api-7d9f8c6b5d-x2lqp`: the ReplicaSet's pod-template hash, then the pod's own suffix.
POD_OF_REPLICASET = re.compile(r"^(?P<deployment>[a-z0-9][a-z0-9-]*?)-(?P<hash>[a-z0-9]{6,10})-[a-z0-9]{5}$")
IMAGES = re.compile(r"; images (?P<images>[^;]+?)(?:; env |\.?$)")  # a pod's status: its images, then its env
SHOWN = 2  # running pods of the previous version named per finding
MAX_EVIDENCE = 5


def _images(facts: ObjectFacts | None) -> str | None:
    match = IMAGES.search(facts.status.text) if facts and facts.status else None
    return match["images"] if match else None


def _serving(facts: ObjectFacts) -> bool:
    text = facts.status.text if facts.status else ""
    return "phase Running" in text and "waiting:" not in text and "Ready=False" not in text


def _serving_by_deployment(objects: Mapping[tuple, ObjectFacts]) -> dict[tuple, list[tuple[str, ObjectFacts]]]:
    """(namespace, deployment) -> (ReplicaSet hash, pod) of each of its pods that runs and is ready."""
    serving: dict[tuple[str | None, str], list[tuple[str, ObjectFacts]]] = {}
    for facts in objects.values():
        match = POD_OF_REPLICASET.match(facts.name) if facts.kind == "Pod" else None
        if match and _serving(facts):
            serving.setdefault((facts.namespace, match["deployment"]), []).append((match["hash"], facts))
    return serving


def _serving_pods(findings: list[Finding], objects: Mapping[tuple, ObjectFacts],
                  same_replicaset: bool) -> dict[str, list[ObjectFacts]]:
    """Finding id -> the serving pods of the failing pod's Deployment, of its own ReplicaSet or of the others; never the
    pod itself, nor a pod that shows the same failure (a replica logging the same error is running, not working)."""
    serving = _serving_by_deployment(objects)
    failing = {(finding.rule, finding.namespace, finding.name) for finding in findings if finding.kind == "Pod"}
    found = {}
    for finding in findings:
        match = POD_OF_REPLICASET.match(finding.name) if finding.kind == "Pod" else None
        if match is None or finding.severity == INFO:
            continue
        others = sorted((facts for rs_hash, facts in serving.get((finding.namespace, match["deployment"]), [])
                         if (rs_hash == match["hash"]) == same_replicaset and facts.name != finding.name
                         and (finding.rule, facts.namespace, facts.name) not in failing), key=lambda f: f.name)
        if others:
            found[finding.id] = others
    return found


SERVER = "the server it calls"


def counterpart_role(failing: str, other: str) -> str:
    """How the pod `other`, whose start-up lines a failure of `failing` quotes, is named in answers: a working
    replica (its own ReplicaSet), the previous version (another ReplicaSet of its Deployment), else the server the
    failure addresses (`startup.attach_server_settings`)."""
    first, second = POD_OF_REPLICASET.match(failing), POD_OF_REPLICASET.match(other)
    if not (first and second and first["deployment"] == second["deployment"]):
        return SERVER
    return "a working replica" if first["hash"] == second["hash"] else "the previous version"


def previous_versions(findings: list[Finding], objects: Mapping[tuple, ObjectFacts]) -> dict[str, list[ObjectFacts]]:
    """Finding id -> the serving pods of another ReplicaSet of its Deployment, by name (the same images when only
    the pod template's arguments or settings changed)."""
    return _serving_pods(findings, objects, same_replicaset=False)


def working_counterparts(findings: list[Finding], objects: Mapping[tuple, ObjectFacts]) -> dict[str, list[ObjectFacts]]:
    """Finding id -> the pods that do the same job and work: the previous version's (`previous_versions`), else the
    serving replicas of its own ReplicaSet. A replica added by a scale-up that fails where its siblings serve (another
    node, a model fetched at start) is explained by what they said where it failed."""
    return {**_serving_pods(findings, objects, same_replicaset=True), **previous_versions(findings, objects)}


def name_previous_versions(findings: list[Finding], objects: Mapping[tuple, ObjectFacts],
                           versions: Mapping[str, list[ObjectFacts]]) -> None:
    """A failing pod of a Deployment names the pods of its other ReplicaSet that still serve (`versions`) with
    other images, and their images."""
    for finding in findings:
        own = _images(objects.get(("Pod", finding.namespace, finding.name)))
        others = [facts for facts in versions.get(finding.id, []) if _images(facts) not in (None, own)]
        if not others:
            continue
        deployment = POD_OF_REPLICASET.match(finding.name)["deployment"]
        names = ", ".join(facts.name for facts in others[:SHOWN]) + (f" and {len(others) - SHOWN} more" if len(others) > SHOWN else "")
        finding.cause += (f"; the previous version of {deployment} still serves ({_images(others[0])}: pods "
                          f"{names}), this pod runs {own or 'other images'}")
        status = others[0].status
        if status and all(item.text != status.text for item in finding.evidence):
            finding.evidence.insert(1, status)  # quoted right after the failure it is compared with
            del finding.evidence[MAX_EVIDENCE:]


# A run's pod of a recurring Job: `<cronjob>-<scheduled minute>-<suffix>` (a CronJob's Job), or a Job named by the
# day or a build number (`train-20260314-8ds9j`, `lora-0314-...`), an Indexed Job's pods with their completion index
# (`lora-0314-0-26swz`): the family is what every run's name starts with. A run's Job is the same name without the
# pod's suffix (`ams-export-29558100`).
POD_OF_RUN = re.compile(r"^(?P<family>[a-z0-9][a-z0-9-]*?)-(?P<run>\d{4,12})(?:-\d{1,5})?-[a-z0-9]{5}$")
JOB_OF_RUN = re.compile(r"^(?P<family>[a-z0-9][a-z0-9-]*?)-(?P<run>\d{4,12})$")
_PHASE = re.compile(r": phase (?P<phase>\w+)")


def _run_of(finding: Finding) -> re.Match[str] | None:
    """The family and run of a failing run's pod, or of a failing run's Job (one that could not even create its pod:
    an admission webhook, a quota)."""
    pattern = {"Pod": POD_OF_RUN, "Job": JOB_OF_RUN}.get(finding.kind)
    return pattern.match(finding.name) if pattern else None


def name_previous_runs(findings: list[Finding], objects: Mapping[tuple, ObjectFacts]) -> None:
    """A failing run of a recurring Job names the latest earlier run of its family that ran other images (any
    images, for a run that has no pod to compare), with its phase: "yesterday's run worked" is then answered by
    what differs between the two."""
    runs: dict[tuple[str | None, str], list[tuple[str, ObjectFacts]]] = {}
    for facts in objects.values():
        match = POD_OF_RUN.match(facts.name) if facts.kind == "Pod" else None
        if match and _images(facts):
            runs.setdefault((facts.namespace, match["family"]), []).append((match["run"], facts))
    for finding in findings:
        match = _run_of(finding)
        if match is None or finding.severity == INFO:
            continue
        own = _images(objects.get(("Pod", finding.namespace, finding.name)))
        earlier = sorted(((run, facts) for run, facts in runs.get((finding.namespace, match["family"]), [])
                          if run < match["run"] and _images(facts) != own), key=lambda pair: pair[0])
        if not earlier:
            continue
        facts = earlier[-1][1]
        phase = _PHASE.search(facts.status.text) if facts.status else None
        finding.cause += (f"; the previous run {facts.name}{f' ({phase[1]})' if phase else ''} ran "
                          f"{_images(facts)}" + (f", this run runs {own}" if own else ""))
        if facts.status and all(item.text != facts.status.text for item in finding.evidence):
            finding.evidence.insert(1, facts.status)  # quoted right after the failure it is compared with
            del finding.evidence[MAX_EVIDENCE:]


def replicaset_images(objects: Mapping[tuple, ObjectFacts]) -> dict[tuple[str | None, str], str]:
    """(namespace, ReplicaSet) -> the images its pods run, from the pods' names and status lines."""
    found: dict[tuple[str | None, str], str] = {}
    for facts in objects.values():
        images = _images(facts) if facts.kind == "Pod" and POD_OF_REPLICASET.match(facts.name) else None
        if images:
            found.setdefault((facts.namespace, facts.name.rpartition("-")[0]), images)
    return found
