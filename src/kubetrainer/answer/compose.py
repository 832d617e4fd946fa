"""The answer written from findings alone: a direct sentence, the quoted evidence, what it means, what to do.

Every sentence comes from a finding, every quote is a verbatim line with the number of
the source that holds it, so this answer is right whenever the diagnosis is, and it is
what stands when a model's phrasing fails the guard.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from kubetrainer.answer.contrast import differing
from kubetrainer.answer.passages import Passage
from kubetrainer.answer.sources import Sources
from kubetrainer.diagnose.changes import MAX_CHANGES
from kubetrainer.diagnose.collect import json_message, readable, shape
from kubetrainer.diagnose.engine import GPU_NODE_RULES, GPU_POD_RULES, NODE_AGENT_RULES, SERVER_RULES, server_down
from kubetrainer.diagnose.finding import Evidence, Finding
from kubetrainer.diagnose.rollouts import counterpart_role
from kubetrainer.diagnose.startup import governing

# A finding of the key's rule is a symptom when a related finding of one of these rules is present: lead with the cause.
EXPLAINED_BY: dict[str, frozenset[str]] = {
    "job-failed": frozenset({"container-failed", "crash-loop", "oom-killed", "init-container-failed", "cuda-oom"}),
    "replicas-short": frozenset(
        {
            "crash-loop",
            "oom-killed",
            "image-pull",
            "container-config",
            "init-container-failed",
            "quota-exceeded",
            "readiness-probe",
            "unschedulable",
            "failed-create",
        }
    ),
    # a claim that never binds; a node the autoscaler announced that the cloud cannot launch (linked only then)
    "unschedulable": frozenset({"pvc-unbound", "cloud-capacity"}),
    "pod-evicted": frozenset({"node-pressure"}),
    "gpu-withheld": frozenset({"gpu-xid"}),
    "gpu-missing": frozenset({"kernel-module-missing", "crash-loop", "container-failed", "init-container-failed"}),
    "node-cordoned": frozenset({"eviction-blocked"}),
    "volume-attach": frozenset({"volume-ownership-slow"}),
    "x509-not-yet-valid": frozenset({"node-condition"}),  # linked only to its node's clock condition
    # linked only to the CSI node plugin's pod on the same node (`diagnose.engine`): whatever stops it explains this
    "csi-driver-missing": frozenset({"crash-loop", "container-failed", "oom-killed", "image-pull", "container-config",
                                     "init-container-failed", "pod-failed", "unschedulable"}),
    **SERVER_RULES,
    **NODE_AGENT_RULES,
}
for _rule in GPU_POD_RULES:  # linked only to their node's GPU fault (`diagnose.engine`)
    EXPLAINED_BY[_rule] = EXPLAINED_BY.get(_rule, frozenset()) | GPU_NODE_RULES
# Related findings that bear on the key's rule without being its cause: stated right after it. A node without GPUs
# is one reason a GPU pod finds no node, but the scheduler does not say the pod would fit there; a node group at its
# maximum size is why the autoscaler adds no node, not why none fits.
MAY_EXPLAIN: dict[str, frozenset[str]] = {"unschedulable": frozenset({"gpu-missing", "autoscaler-group-at-max"})}
_TIMES = re.compile(r" \(\d+ times\)")
PEERS_SHOWN = 3  # findings of the same rule in other pods of the namespace, named after the one chosen
MAX_QUOTES = 3
MAX_KEPT = 2  # settings kept from the middle of a long quoted line
_SETTING_END = re.compile(r"(?<=[\w\"'])[,;)]|\s(?!\d)")  # where a `key=value` (or `"key": value`) word ends
QUOTE_CHARS = 300  # a longer line is quoted up to a word boundary near here, the cut marked outside the quote


@dataclass
class Composed:
    text: str
    findings: list[Finding]  # lead first
    cited: dict[str, list[int]] = field(default_factory=dict)  # finding id -> source numbers of its evidence


def order(findings: Sequence[Finding], everything: Sequence[Finding]) -> list[Finding]:
    """The chosen findings with causes before the symptoms they explain (related causes are pulled in), and
    possible causes right after them."""
    by_id = {finding.id: finding for finding in everything}
    ordered: list[Finding] = []
    for finding in findings:
        related = [by_id[related] for related in finding.related if related in by_id]
        causes = [item for item in related if item.rule in EXPLAINED_BY.get(finding.rule, ()) or server_down(item, finding)]
        possible = [item for item in related if item.rule in MAY_EXPLAIN.get(finding.rule, ())]
        peers = [item for item in related if item.rule == finding.rule and item.kind == finding.kind][:PEERS_SHOWN]
        for item in [*causes, finding, *possible, *peers]:
            if item not in ordered:
                ordered.append(item)
    return ordered


def _sentence(text: str) -> str:
    text = text.strip()
    text = text[0].upper() + text[1:] if text else text
    return text if text.endswith((".", '"', ")")) else text + "."


def quote(line: str, keep: re.Pattern[str] | None = None) -> str:
    """How an evidence line appears in an answer: verbatim, within quotes, short enough to read.

    A line of up to QUOTE_CHARS is quoted whole. Of a longer JSON log line, its message and
    error fields as they are written in it (a reader wants "slot hold failed" and the Redis
    error, not the serialised stack and arguments); of any other long line, its beginning
    and its end, where wrapped errors keep their root cause ("...: 401 Unauthorized"), and the settings
    `keep` finds between them (`max_tokens=4096` in the middle of a request's logged sampling parameters). Every
    quoted part is a substring of the line, so the cited source still holds it word for word; the indent
    of a message's body line (.NET's console logger) is left out.
    """
    line = line.strip()
    if len(line) <= QUOTE_CHARS:
        return f'"{line}"'
    parts = [part for part in _json_parts(line) if part in line] or [line]
    return " — ".join(_clipped(part, keep) for part in parts)


def _json_parts(line: str) -> list[str]:
    """The message and error of a JSON line, JSON-escaped as they appear in it; [] for other lines."""
    return [json.dumps(part, ensure_ascii=False)[1:-1] for part in json_message(line) or () if part]


def _governing(finding: Finding) -> re.Pattern[str] | None:
    """The settings the finding's failure is governed by (`Signature.settings`), one pattern, or None."""
    patterns = governing(finding)
    return re.compile("|".join(f"(?:{p.pattern})" for p in patterns), re.IGNORECASE) if patterns else None


def _clipped(text: str, keep: re.Pattern[str] | None = None) -> str:
    """`"text"`, or for a long text its beginning and its end, each cut at a space: `"head"…"tail"`, with the
    `key=value` words between them that `keep` finds: `"head"…"max_tokens=4096"…"tail"`."""
    if len(text) <= QUOTE_CHARS:
        return f'"{text}"'
    half = QUOTE_CHARS // 2
    head = text.rfind(" ", half // 2, half)
    tail = text.find(" ", len(text) - half, len(text) - half // 2)
    head = head if head > 0 else half
    tail = tail + 1 if tail > 0 else len(text) - half
    kept = [f'"{word}"' for word in dict.fromkeys(_settings_in(text[head:tail], keep))][:MAX_KEPT] if keep else []
    return "…".join([f'"{text[:head]}"', *kept, f'"{text[tail:]}"'])


def _settings_in(text: str, keep: re.Pattern[str]) -> list[str]:
    """The whole words (`max_tokens=4096`, `"max_tokens": 4096`) around each match of `keep` in `text`."""
    words = []
    for match in keep.finditer(text):
        start = max(text.rfind(" ", 0, match.start()), text.rfind("(", 0, match.start())) + 1
        end = _SETTING_END.search(text, match.end())
        words.append(text[start : end.start() if end else len(text)].rstrip(",;"))
    return [word for word in words if word]


def _quotable(evidence: Sequence[Evidence], quoted: set[str]) -> list[Evidence]:
    """The evidence lines worth quoting: not already quoted, and not the same message as one that is."""
    chosen = []
    for item in evidence:
        key = shape(readable(item.text))
        if key not in quoted:
            quoted.add(key)
            chosen.append(item)
    return chosen


def _cite(finding: Finding, sources: Sources) -> list[int]:
    return list(dict.fromkeys(sources.cite(item) for item in finding.evidence[:MAX_QUOTES]))


def _same_problem(one: Finding, other: Finding) -> bool:
    """Two findings that say the same thing about sibling objects (the pods of one DaemonSet, say)."""
    return one.rule == other.rule and _problem(one) == _problem(other)


def _problem(finding: Finding) -> str:
    """The cause without the object's name, counts and other numbers: what sibling findings have in common."""
    cause = finding.cause.replace(finding.name, "#")
    if finding.container:  # the same failure in another workload's container (`app`, `worker`) is the same problem
        cause = cause.replace(f"container {finding.container} ", "container # ")
    return shape(_TIMES.sub("", cause))


def _grouped(findings: Sequence[Finding]) -> list[list[Finding]]:
    groups: list[list[Finding]] = []
    for finding in findings:
        group = next((group for group in groups if _same_problem(group[0], finding)), None)
        if group is None:
            groups.append([finding])
        else:
            group.append(finding)
    return groups


def compose(findings: Sequence[Finding], sources: Sources) -> Composed:
    """The composed answer for findings ordered lead-first; fills `sources` with what it cites.

    Findings that repeat the lead's (or each other's) problem on sibling objects are named once,
    not restated: the answer says the same holds for them.
    """
    lead, *rest = findings
    cited = {finding.id: _cite(finding, sources) for finding in findings}

    def marks(finding: Finding) -> str:
        return "".join(f" [{n}]" for n in cited[finding.id])

    first, *others = _grouped([lead, *rest])
    lines = [f"{lead.subject}: {_sentence(lead.cause)}{marks(lead)}"]
    if first[1:]:
        lines.append("The same on " + ", ".join(f"{f.kind} {f.name}{marks(f)}" for f in first[1:]) + ".")
    lines += ["", "Evidence:"]
    quoted: set[str] = set()  # shapes of the lines quoted so far: a line is quoted once, cited by number after
    for item in _quotable(lead.evidence[:MAX_QUOTES], quoted):
        lines.append(f"- {quote(item.text)} [{sources.cite(item)}]{_notes(item)}")
    if lead.elsewhere:
        lines += ["", "The same id or file elsewhere:"]
        lines += [f"- {_where(item)}{_container(item, lead)}: {quote(item.text)} [{sources.cite(item)}]"
                  for item in lead.elsewhere]
    changes = _changes(first)
    if changes:
        lines += ["", "What changed shortly before:"]
        lines += [f"- {_clock(item.ts)}{item.name}: {quote(item.text)} [{sources.cite(item)}]"
                  + (f", {item.about}" if item.about else "") for item in changes]
    if lead.startup:
        lines += ["", "What it reported when it started:"]
        lines += [f"- {item.name}{'' if item.name == lead.name else f' ({counterpart_role(lead.name, item.name)})'}: "
                  f"{quote(item.text)} [{sources.cite(item)}]" for item in lead.startup]
    if lead.before:
        lines += ["", "What it logged just before it failed:"]
        keep = _governing(lead)
        lines += [f"- {quote(item.text, keep)} [{sources.cite(item)}]" for item in lead.before]
    if lead.succeeded:
        lines += ["", "The last time it did that successfully:"]
        lines += [f"- {quote(item.text)} [{sources.cite(item)}]" for item in lead.succeeded]
    if lead.settings:
        lines += ["", "How it is configured:"]
        lines += [f"- {quote(item.text)} [{sources.cite(item)}]" for item in lead.settings]
    lines += ["", f"What it means: {_sentence(lead.meaning)}", f"What to do: {_sentence(lead.fix)}"]
    if others:
        lines += ["", "Related:"]
        for finding, *same in others:
            also = " The same on " + ", ".join(f"{f.name}{marks(f)}" for f in same) + "." if same else ""
            lines.append(f"- {finding.subject}: {_sentence(finding.cause)}{marks(finding)}{also}")
            for item in _quotable(finding.evidence[:1], quoted):
                lines.append(f"  {quote(item.text)} [{sources.cite(item)}]{_notes(item)}")
    return Composed("\n".join(lines), list(findings), cited)


def _changes(group: Sequence[Finding]) -> list[Evidence]:
    """What changed shortly before the lead's problem: before the lead, then before the objects showing the same
    problem (a client rolled out before the server it floods began to refuse it), oldest first."""
    found = list(dict.fromkeys(item for finding in group for item in finding.changes))[:MAX_CHANGES]
    return sorted(found, key=lambda item: item.ts or "")


def _where(item: Evidence) -> str:
    return f"{item.namespace}/{item.name}" if item.namespace else item.name or "?"


def _container(item: Evidence, lead: Finding) -> str:
    """` (container model-sync)` for a line of another container of the lead's own pod, else ""."""
    same_pod = (item.namespace, item.name) == (lead.namespace, lead.name)
    return f" (container {item.container})" if same_pod and item.container else ""


def _notes(item: Evidence) -> str:
    """` (GPU 00000000:AB:00.0; first seen ...)`: what the quoted line names only by id, and since when it repeats."""
    notes = [note for note in (item.about, _first_seen(item)) if note]
    return f" ({'; '.join(notes)})" if notes else ""


def _first_seen(item: Evidence) -> str:
    """`first seen 2026-03-14 09:41 UTC` for a repeated event, "" otherwise: "since when?" is an on-call question."""
    since = item.since or ""
    return f"first seen {since[:10]} {since[11:16]} UTC" if len(since) >= 16 and since[10] == "T" else ""


def _clock(ts: str | None) -> str:
    """`10:18 UTC, ` from a record's RFC 3339 time (records carry UTC); "" when unknown."""
    return f"{ts[11:16]} UTC, " if ts and len(ts) >= 16 and ts[10] == "T" else ""


def brief(composed: Composed) -> str:
    """The lead finding in two sentences with its citations: the form a model's phrasing should take.

    Used as the training target for tuning a model to phrase diagnoses (`train.cluster_dataset`).
    """
    lead = composed.findings[0]
    marks = "".join(f" [{n}]" for n in composed.cited[lead.id])
    return f"{lead.subject}: {_sentence(lead.cause)}{marks} What to do: {_sentence(lead.fix)}"


def nothing_found(closest: Sequence[Finding], sources: Sources) -> str:
    """What to say when no finding answers the question: that, and the closest findings with their sources."""
    lines = ["Nothing in the cluster data answers this question: no finding matches what it asks about."]
    if closest:
        lines += ["", "The closest findings:"]
        for finding in closest:
            numbers = "".join(f" [{n}]" for n in _cite(finding, sources)[:1])
            lines.append(f"- {finding.subject}: {_sentence(finding.cause)}{numbers}")
    return "\n".join(lines)


def with_unflagged(text: str, named: Sequence[Passage], sources: Sources) -> str:
    """`text` followed by the status records of the objects the question names that have no finding
    (`answer.unflagged`): the suspect is fine, and the reader sees the record that says so; a line one of its pods
    logged (the version it states), or the images a pod's record says it runs, is shown as that pod's; an event a
    named controller reported, as its object's."""
    if not named:
        return text
    lines = ["", "Named in the question, with no finding:"]
    for passage in named:
        source = passage.hit.source
        whose = (f"{source.get('name')} logged: " if source.get("kind") == "log"
                 else f"{source.get('namespace')}/{source.get('name')}: " if source.get("kind") == "event"
                 else "" if passage.line == passage.hit.text else f"{source.get('name')}: ")  # a clause of a record
        lines.append(f"- {whose}{quote(passage.line)} [{sources.number(passage.hit)}]")
    return "\n".join([text, *lines])


def with_listeners(text: str, found: Sequence[Passage], sources: Sources) -> str:
    """`text` followed by the lines of the pods saying they listen on the port the question names
    (`answer.listeners`), each with its pod and node."""
    if not found:
        return text
    lines = ["", "Listening on the port the question names:"]
    for passage in found:
        source = passage.hit.source
        node = f" on node {source['node']}" if source.get("node") else ""
        lines.append(f"- {source.get('namespace')}/{source.get('name')}{node}: {quote(passage.line)} "
                     f"[{sources.number(passage.hit)}]")
    return "\n".join([text, *lines])


def with_compared(text: str, compared: Sequence[Passage], sources: Sources) -> str:
    """`text` followed by the failing pod's node record and a working counterpart's, each as the clauses the other
    lacks (`answer.contrast`)."""
    if not compared:
        return text
    lines = ["", "Its node, and the node of a pod that works (what differs):"]
    for passage, other, role in zip(compared, compared[::-1], ("fails", "works")):
        parts = differing(passage.line, other.line)
        said = " — ".join(f'"{part}"' for part in parts) if parts else quote(passage.line)
        lines.append(f"- {passage.hit.source.get('name')} ({role}): {said} [{sources.number(passage.hit)}]")
    return "\n".join([text, *lines])


def with_passages(text: str, found: Sequence[Passage], sources: Sources) -> str:
    """`text` followed by the retrieved lines bearing on the question (`answer.passages`), each with its object
    and source number: shown as data, apart from the diagnosis."""
    if not found:
        return text
    lines = ["", "Other retrieved lines on the question:"]
    for passage in found:
        source = passage.hit.source
        where = "/".join(part for part in (source.get("namespace"), source.get("name")) if part) or "?"
        lines.append(f"- {where}: {quote(passage.line)} [{sources.number(passage.hit)}]")
    return "\n".join([text, *lines])
