"""Workloads and nodes a question names that the diagnosis found nothing wrong with: said so, with their status.

"Is cert-manager failing for the helpdesk site?", "Is the sso-portal app itself the problem?": on-call
questions often name a suspect that is fine. The findings answer with what is broken elsewhere; the
answer should also say, from the same data, that the suspect has no finding, and quote its status record
(`Deployment cert-manager/cert-manager: 1/1 replicas ready.`) so the reader can check. A question about versions
("which version is journey-planner still serving?") also gets the newest line its pods logged that states one. Only an object whose
whole name the question says counts (written out when it holds a digit: "cpu" says no one node), and only when no
finding is about it or anything it created (a ReplicaSet, its pods: named after it). A question that names a release by
its number ("Is partner-sync 1.9.0 live now?") also counts the workloads named after what it writes out
(`partner-sync-api`), and gets the images a running pod of each runs: what is live, whatever the rollout said.
A controller asked about for a namespace ("Is cert-manager failing for the helpdesk site?") gets the newest event it
reported there (`... [at 10:55:09 by cert-manager-certificates-issuing]`): what it last did for that namespace.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from kubetrainer.answer.match import name_said, question_words, whole_names
from kubetrainer.answer.passages import Passage, chunk_lines, quoted_from
from kubetrainer.diagnose.finding import Finding
from kubetrainer.diagnose.startup import states_version
from kubetrainer.diagnose.status import parse_pod
from kubetrainer.rag.chunk import Chunk

# "Which version/release/build is it serving?", "Is 1.9.0 live?"
ASKS_VERSION = re.compile(r"\b(?:version|release|build)s?\b|\bv?\d+\.\d+\.\d+\b", re.IGNORECASE)
NAMES_A_RELEASE = re.compile(r"\bv?\d+\.\d+\.\d+\b")  # "Is 1.9.0 live?": a release asked about by its number
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")
# The objects whose status record says whether they are fine; pods are covered by their workload.
STATUS_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "CronJob", "Node")
MAX_NAMED = 2


def _kind(chunk: Chunk) -> str:
    return chunk.text.split(" ", 1)[0]


def _troubled(findings: Sequence[Finding]) -> set[str]:
    """The names the findings are about: their objects, nodes and evidence lines' objects."""
    names = {name for finding in findings for name in (finding.name, finding.node) if name}
    return names | {item.name for finding in findings for item in finding.evidence if item.name}


def _about(name: str, troubled: set[str]) -> bool:
    """Whether a finding is about the object or anything it created: a controller names what it creates after
    itself (`partner-portal` -> ReplicaSet `partner-portal-q7tgxlqgwc` -> its pods)."""
    return name in troubled or any(other.startswith(f"{name}-") for other in troubled)


def _said(name: str, words: set[str], written: set[str]) -> bool:
    if any(char.isdigit() for char in name):
        return name in written
    return name_said(name, words) == 1.0


def _named_after(name: str, written: set[str]) -> bool:
    """Whether a workload is named after a name the question writes out (`partner-sync-api` after `partner-sync`)."""
    return any(name.startswith(f"{whole}-") for whole in written)


def _version_line(workload: Chunk, chunks: Sequence[Chunk]) -> Passage | None:
    """The newest line a pod of `workload` logged that states a version, or None."""
    logs = [chunk for chunk in chunks if chunk.kind == "log" and chunk.namespace == workload.namespace
            and (chunk.name or "").startswith(f"{workload.name}-")]
    for chunk in sorted(logs, key=lambda chunk: chunk.ts_end or "", reverse=True):
        stated = [line for line in chunk_lines(chunk.text) if states_version(line)]
        if stated:
            return quoted_from(chunk, stated[-1])
    return None


def _running_images(workload: Chunk, chunks: Sequence[Chunk]) -> Passage | None:
    """The images of the newest running pod of `workload`, quoted from its status record, or None."""
    pods = [chunk for chunk in chunks if chunk.kind == "object" and _kind(chunk) == "Pod"
            and chunk.namespace == workload.namespace and (chunk.name or "").startswith(f"{workload.name}-")]
    for chunk in sorted(pods, key=lambda chunk: chunk.ts_end or "", reverse=True):
        status = parse_pod(chunk.text)
        if status.phase == "Running" and status.images:
            return quoted_from(chunk, f"images {', '.join(status.images)}")
    return None


def _reported_for(workload: Chunk, namespaces: set[str], chunks: Sequence[Chunk]) -> Passage | None:
    """The newest event line `workload` (a controller: its components are named after it) reported on an object in
    one of `namespaces` other than its own, or None."""
    by = f" by {workload.name}"
    events = [chunk for chunk in chunks if chunk.kind == "event" and chunk.namespace in namespaces
              and chunk.namespace != workload.namespace]
    for chunk in sorted(events, key=lambda chunk: chunk.ts_end or "", reverse=True):
        reported = [line for line in chunk_lines(chunk.text) if by in line and line.endswith("]")]
        if reported:
            return quoted_from(chunk, reported[-1])
    return None


def unflagged(question: str, chunks: Sequence[Chunk], findings: Sequence[Finding]) -> list[Passage]:
    """The status records of at most MAX_NAMED workloads or nodes whose whole name `question` says (or, when it names a
    release by number, that are named after such a name) and that no finding is about, each followed, when the question
    asks about versions, by the images a running pod of it runs and the newest version its pods stated, and by the
    newest event it reported in a namespace the question names."""
    words, written = question_words(question), whole_names(question)
    troubled, release = _troubled(findings), NAMES_A_RELEASE.search(question) is not None
    candidates = [chunk for chunk in chunks if chunk.kind == "object" and _kind(chunk) in STATUS_KINDS and chunk.name
                  and not _about(chunk.name, troubled)]
    named = [chunk for chunk in candidates if _said(chunk.name, words, written)]
    if release:
        named += [chunk for chunk in candidates if _kind(chunk) in WORKLOAD_KINDS and chunk not in named
                  and _named_after(chunk.name, written)]
    namespaces = (words | written) & {chunk.namespace for chunk in chunks if chunk.namespace}
    found = []
    for chunk in named[:MAX_NAMED]:
        found.append(quoted_from(chunk, chunk.text))
        images = _running_images(chunk, chunks) if release and _kind(chunk) in WORKLOAD_KINDS else None
        version = _version_line(chunk, chunks) if ASKS_VERSION.search(question) else None
        reported = _reported_for(chunk, namespaces, chunks) if _kind(chunk) in WORKLOAD_KINDS else None
        found += [passage for passage in (images, version, reported) if passage is not None]
    return found
