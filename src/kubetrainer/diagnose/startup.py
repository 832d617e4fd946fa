"""What a failing program said about itself when it started: its version, and the setting its failure names.

Programs print their configuration as they start (`Initializing an LLM engine ... max_seq_len=131072`,
`Picked up JAVA_TOOL_OPTIONS: -Xmx512m`, `tile-server 1.9.0 (base image ...:nonroot)`) and fail
later with an error that names only the effect (`max seq len (131072) is larger than ...`). The line
that explains a failure is often that ordinary start-up line, not an error: an on-call engineer
reads the top of the log for it. So each failing pod's finding gets

- the start-up line that states the setting its failure's signature is governed by
  (`Signature.settings`: the -Xmx of a heap exhaustion), else the one that shares the most
  distinctive words and numbers with the failure (a word every start-up line of the container
  has, such as the program's name or the year, counts for nothing), and its version banner
  (the first line that names a version);
- when the previous version of its Deployment still serves, else a replica of its own ReplicaSet serves
  (`rollouts.working_counterparts`), that pod's lines of the kinds chosen, and the one that shares the most with
  the failure (all a pod that never started, its volume refused, is compared by): what the old version said where the new one failed ("listening on 0.0.0.0:80"), what a
  working replica loaded where a scaled-up one found nothing ("loaded 'reranker' version 3").

The lines are stated as what the program reported, never as the cause. So are the last lines a failing
container logged before its first failure (`attach_before`): the step a training run reached, the file a job
was reading, the size it had just computed; what `kubectl logs -p | tail` shows.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence

from kubetrainer.diagnose.addresses import serves
from kubetrainer.diagnose.collect import ObjectFacts, readable, shape
from kubetrainer.diagnose.finding import Evidence, Finding
from kubetrainer.diagnose.knowledge import INFO, LOG_SIGNATURES, is_problem_line, matching

MAX_LINES = 4  # start-up lines attached to one finding
MAX_STATED = 2  # lines stating the failure's setting (vLLM's max_seq_len, then its KV cache blocks)
MIN_SCORE = 1.5  # a shared number or version alone reaches it; one shared common word does not
# Words (and words split at `_`, `-`, `.`) and numbers: `max_seq_len=131072` -> max, seq, len, 131072.
_TOKEN = re.compile(r"[a-z]{3,}|\d+(?:\.\d+)+|\d{3,}")
_VERSION = re.compile(r"(?<![\w.])v?\d+\.\d+\.\d+(?:[.+-]?\w+)*\b|\bversion[ =:\"]+v?\d")
_VERSION_FIELD = re.compile(r'"(?:version|release|build)"\s*:\s*"v?\d')  # a JSON log line's own version field
# Times, dates and source locations in a line's prefix or body (`I0314 11:58:38.001626 1 llm_engine.py:237]`):
# masked before tokens are taken, so none of them counts as a shared number.
_NOISE = re.compile(r"\d{4}-\d\d-\d\d|\d\d:\d\d(?::\d\d)?(?:[.,]\d+)?|\b[IWEF]\d{4}\b|\[\d+\.\d+s\]"
                    r"|\.(?:go|py|cc|cpp|rs|java|js|ts|kt|c|h):\d+")
_COMMON = frozenset(
    "the and for with from that this was are not has have into its all any can could error failed failure info "
    "warn warning debug true false none null level msg message caller while which will when".split()
)


def tokens(line: str) -> set[str]:
    """The distinctive words and numbers of a log line, lower case, its clock times removed."""
    found = set(_TOKEN.findall(_NOISE.sub(" ", readable(line)).lower()))
    return found - _COMMON


def attach_startup(findings: list[Finding], opening: Mapping[tuple, Sequence[Evidence]],
                   versions: Mapping[str, Sequence[ObjectFacts]]) -> None:
    """Give each failing pod's finding the start-up lines that bear on it (see the module's docstring); `opening`:
    (namespace, pod, container) -> the first lines of its log; `versions`: `rollouts.working_counterparts`."""
    for finding in findings:
        if finding.kind != "Pod" or finding.severity == INFO:
            continue
        failure = _failure_tokens(finding)
        own = _containers(opening, finding.namespace, finding.name, finding.container)
        chosen = _chosen(own, failure, finding)
        quoted = {shape(readable(item.text)) for item in finding.evidence}
        lines = [item for item in chosen if shape(readable(item.text)) not in quoted]  # not quoted twice
        for facts in versions.get(finding.id, [])[:1]:  # of a pod that never started: its best line on the failure
            theirs = _containers(opening, facts.namespace, facts.name, finding.container)
            lines += _counterparts(theirs, chosen, failure)
        finding.startup = lines[:MAX_LINES]


def attach_pulls(findings: list[Finding], versions: Mapping[str, Sequence[ObjectFacts]]) -> None:
    """Give each image-pull failure the kubelet's `Pulled` event of a working replica on another node: a registry that
    refuses a pull fails only the nodes without the image, and `Container image "..." already present on machine` on
    the node where a replica started says so (`versions`: `rollouts.working_counterparts`)."""
    for finding in findings:
        if finding.rule != "image-pull" or finding.severity == INFO:
            continue
        pulled = next((facts.pulled for facts in versions.get(finding.id, [])
                       if facts.pulled and facts.node and facts.node != finding.node), None)
        if pulled is not None:
            finding.startup.append(pulled)


def attach_server_settings(findings: list[Finding], opening: Mapping[tuple, Sequence[Evidence]]) -> None:
    """Give each failure whose evidence addresses a server (`Finding.addressed`: the webhook a controller called, the
    Service a client dialled) the start-up lines of that server's pods stating its failure's setting: the
    certificate a TLS server loaded, whose expiry the client rejected."""
    for finding in findings:
        if not finding.addressed or finding.severity == INFO:
            continue
        settings = governing(finding)
        if not settings:
            continue
        theirs = [item for (namespace, pod, _), lines in sorted(opening.items())
                  if serves("Pod", namespace, pod, finding.addressed) for item in lines]
        stated = [item for item in theirs if any(pattern.search(item.text) for pattern in settings)]
        finding.startup += _distinct(stated)[:MAX_STATED]


def governing(finding: Finding) -> list[re.Pattern[str]]:
    """The patterns of the settings the signatures of the finding's evidence are governed by."""
    return [signature.settings for item in finding.evidence
            for signature in matching(item.text, LOG_SIGNATURES) if signature.settings]


def attach_before(findings: list[Finding], objects: Mapping[tuple, ObjectFacts]) -> None:
    """Give each failing container's finding the lines it logged just before its first failure
    (`ContainerLogs.before`) that it does not quote already, and the last line before it that reported the failing
    operation done (`ContainerLogs.succeeded`)."""
    for finding in findings:
        if finding.kind != "Pod" or finding.severity == INFO or finding.container is None:
            continue
        facts = objects.get(("Pod", finding.namespace, finding.name))
        logs = facts.logs.get(finding.container) if facts else None
        if logs is None:
            continue
        quoted = {shape(readable(item.text)) for item in [*finding.evidence, *finding.startup]}
        finding.before = [item for item in logs.before if shape(readable(item.text)) not in quoted]
        if logs.succeeded and logs.succeeded.text not in {item.text for item in [*finding.lines]}:
            finding.succeeded = [logs.succeeded]


def _containers(opening: Mapping[tuple, Sequence[Evidence]], namespace: str | None, pod: str,
                container: str | None) -> list[Evidence]:
    """The opening lines of the pod's named container, or of all its containers when none is named."""
    if container is not None:
        return list(opening.get((namespace, pod, container), ()))
    return [item for (ns, name, _), lines in opening.items() if (ns, name) == (namespace, pod) for item in lines]


def _failure_tokens(finding: Finding) -> set[str]:
    """The tokens of the finding's problem lines (not of the ordinary line quoted as what came before them)."""
    lines = [item.text for item in finding.evidence if item.kind == "log" and is_problem_line(item.text)]
    lines = lines or [finding.cause]
    return set().union(*(tokens(line) for line in lines))


def _weights(lines: Sequence[Evidence]) -> dict[str, float]:
    """How distinctive each token is among these lines: a token in every line weighs nothing."""
    counts = Counter(token for item in lines for token in tokens(item.text))
    total = len(lines)
    return {token: math.log((total + 1) / count) for token, count in counts.items()}


def _scored(lines: Sequence[Evidence], failure: set[str]) -> list[tuple[float, int, Evidence]]:
    """(score, position, line) for the lines sharing tokens with the failure, best first; numbers count double."""
    weights = _weights(lines)
    scored = []
    for position, item in enumerate(lines):
        shared = tokens(item.text) & failure
        score = sum(weights[token] * (2 if token[0].isdigit() else 1) for token in shared)
        if score >= MIN_SCORE:
            scored.append((score, position, item))
    return sorted(scored, key=lambda entry: (-entry[0], entry[1]))


def _chosen(lines: Sequence[Evidence], failure: set[str], finding: Finding) -> list[Evidence]:
    """The line stating the failure's setting, else the one that shares the most with it; then the version banner."""
    settings = governing(finding)
    stated = [item for item in lines if any(pattern.search(item.text) for pattern in settings)]
    chosen = _distinct(stated)[:MAX_STATED] or [item for _, _, item in _scored(lines, failure)[:1]]
    banner = next((item for item in lines if states_version(item.text)), None)
    if banner is not None and banner not in chosen:
        chosen.append(banner)
    return chosen


def states_version(line: str) -> bool:
    """Whether a log line states a version: in its message (`tile-server 1.9.0`, `version=2.4.0`) or, for a JSON
    line, in a version field (`"version": "v20260313.2"`)."""
    return bool(_VERSION.search(readable(line)) or _VERSION_FIELD.search(line))


def _distinct(lines: Sequence[Evidence]) -> list[Evidence]:
    """The first line of each lead: a setting restated at every restart is quoted once."""
    leads: set[str] = set()
    return [item for item in lines if not (_lead(item.text) in leads or leads.add(_lead(item.text)))]


def _counterparts(lines: Sequence[Evidence], chosen: Sequence[Evidence], failure: set[str]) -> list[Evidence]:
    """The previous version's lines of the kinds chosen for the failing pod, or the one that shares the most with
    the failure (the old version's `listening on 0.0.0.0:80` next to the new one's `failed to bind 0.0.0.0:80`)."""
    found = []
    for item in chosen:
        lead = _lead(item.text)
        match = next((line for line in lines if _lead(line.text) == lead), None)
        if match is not None and match not in found:
            found.append(match)
    best = _scored(lines, failure)
    if best and best[0][2] not in found:
        found.insert(0, best[0][2])
    return found[:2]


def _lead(line: str) -> str:
    """The first words of a line, its times and numbers masked: two lines with one lead report the same setting."""
    words = shape(_NOISE.sub(" ", readable(line))).split()
    return " ".join(word for word in words if word != "#")[:40]
