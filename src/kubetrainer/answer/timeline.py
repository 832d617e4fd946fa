"""What changed: for questions that ask it, the changes recorded in the cluster's data, quoted and cited.

"What changed in warehouse this morning?" names no failure, so no finding answers it. The
diagnosis records changes anyway (`diagnose.changes`: scale-ups, rollouts, preemptions, slow
pulls, kubelet restarts, rotated Secrets, scheduled scale-downs, GitOps applies), and they are
stored with the index. Such a question gets them, oldest first, within the namespaces or
objects it names (every change when it names none), each line quoted and cited; failures that
match the question follow, as in any answer. A rollout shortly before the failure (a new ReplicaSet
scaled up or created) is followed by the env settings of a pod it created, from that pod's record:
what the new pods were started with (`PGBOUNCER_POOL_MODE=transaction`) is often the change itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from kubetrainer.answer.compose import quote
from kubetrainer.answer.match import name_tokens
from kubetrainer.answer.passages import Passage, quoted_from
from kubetrainer.answer.sources import Sources
from kubetrainer.diagnose.changes import CREATED, SCALED_UP, Change
from kubetrainer.diagnose.finding import Finding
from kubetrainer.diagnose.status import parse_pod

ASKS_WHAT_CHANGED = re.compile(
    r"\bwhat (?:has |have |was |were |got )?(?:changed|changes|deployed|applied|rolled out)\b"
    r"|\b(?:any|recent) changes?\b|\bwho changed\b",
    re.IGNORECASE,
)
MAX_SHOWN = 8  # the newest changes in scope
_WORD = re.compile(r"[a-z][a-z0-9]*")


def asks_what_changed(question: str) -> bool:
    return bool(ASKS_WHAT_CHANGED.search(question))


def in_scope(question: str, changes: Sequence[Change], known: Iterable[str | None] = (),
             failures: Sequence[Finding] = ()) -> list[Change]:
    """The changes about the namespaces or objects the question names, and those shortly before the `failures` it
    describes that are of such an object (the node its failing pod was put on joined just before), newest
    MAX_SHOWN; when it names none of them nor any other `known` name (the namespaces and objects of the findings),
    the changes before the failures (whatever their age) and the newest: a question about a namespace where
    nothing changed gets none."""
    said = set(_WORD.findall(question.lower()))

    def named(name: str | None) -> bool:
        words = name_tokens(name or "")
        return bool(words) and words <= said

    names = {name for change in changes for name in (change.namespace, change.name) if named(name)}
    if names:
        attached = {item for failure in failures if named(failure.name) or named(failure.namespace)
                    for item in failure.changes}
        return [change for change in changes
                if change.namespace in names or change.name in names or change.evidence in attached][-MAX_SHOWN:]
    if any(named(name) for name in known):
        return []
    newest, attached = list(changes)[-MAX_SHOWN:], {item for failure in failures for item in failure.changes}
    return [change for change in changes if change in newest or change.evidence in attached]


def compose_changes(changes: Sequence[Change], failures: Sequence[Finding], sources: Sources) -> str:
    """The changes as a cited list, oldest first, those that came shortly before the failures matching the question
    first ("what changed that broke X?"), then the failures."""
    before = {item for finding in failures for item in finding.changes}
    first = [change for change in changes if change.evidence in before]
    rest = [change for change in changes if change.evidence not in before]
    lines: list[str] = []
    for heading, group in (("What changed shortly before the failure the question describes (oldest first):", first),
                           ("Other changes in the cluster's data (oldest first):" if first else
                            "What changed, as the cluster's data records it (oldest first):", rest)):
        if group:
            lines += [*([""] if lines else []), heading]
            for change in group:
                lines.append(_change_line(change, sources))
                settings = _rollout_settings(change, sources) if group is first else None
                if settings is not None:
                    lines.append(f"  its pod {settings.hit.source.get('name')}: {quote(settings.line)} "
                                 f"[{sources.number(settings.hit)}]")
    if failures:
        lines += ["", "Failures that match the question:"]
        for finding in failures:
            numbers = "".join(f" [{sources.cite(item)}]" for item in finding.evidence[:1])
            lines.append(f"- {finding.subject}: {finding.cause}{numbers}")
    return "\n".join(lines)


def _change_line(change: Change, sources: Sources) -> str:
    item = change.evidence
    when = f"{item.ts[:16].replace('T', ' ')} UTC, " if item.ts and len(item.ts) >= 16 else ""
    about = f" ({item.about})" if item.about else ""
    return f"- {when}{item.name}: {quote(item.text)} [{sources.cite(item)}]{about}"


def _rollout_settings(change: Change, sources: Sources) -> Passage | None:
    """The env clauses of the newest pod of the ReplicaSet a rollout change scaled up or created, from its record in
    the index; None for another change or when no such pod states any."""
    item = change.evidence
    scaled = SCALED_UP.search(item.text)
    replicaset = scaled["name"] if scaled else item.name if CREATED.search(item.text) else None
    if not replicaset:
        return None
    pods = [chunk for chunk in sources.chunks if chunk.kind == "object" and chunk.text.startswith("Pod ")
            and chunk.namespace == change.namespace and (chunk.name or "").startswith(f"{replicaset}-")]
    for chunk in sorted(pods, key=lambda chunk: chunk.ts_end or "", reverse=True):
        env = parse_pod(chunk.text).env
        if env:
            return quoted_from(chunk, "; ".join(env.values()))
    return None
