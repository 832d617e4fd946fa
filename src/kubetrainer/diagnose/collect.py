"""Records -> what is known about each object: its latest status, its warning events, its log problems.

Streaming and bounded: a million routine log lines leave nothing behind; per container
only lines that match a failure signature or report an error are kept, a few of each.
Every source (dump, live API, agent JSONL, CRI logs) produces the same records, so this
is the only place diagnosis reads them.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from kubetrainer.diagnose.changes import APPLIED, KEEP, Change, event_change, log_changes, node_joined, rollout_change
from kubetrainer.diagnose.finding import Evidence
from kubetrainer.diagnose.knowledge import (
    EXCEPTION_LINE,
    GPU_DEVICE,
    LOG_SIGNATURES,
    STATED_SETTING,
    WRAPPER_ERROR,
    XID,
    Signature,
    is_problem_line,
    matching,
)
from kubetrainer.sources.logtime import line_time
from kubetrainer.sources.render import ZONE_LABELS

# A line written at error level or worse, in the common layouts (klog, logfmt/JSON, Python logging; pino and
# bunyan write levels as numbers: 50 error, 60 fatal; .NET's console logger writes `fail:` and `crit:`; Rust's
# panic handler `thread 'main' panicked at src/main.rs:88:10:`).
ERROR_LEVEL = re.compile(
    r'^[EF]\d{4} |\b(?:FATAL|ERROR|CRITICAL|PANIC)\b|"level"\s*:\s*"(?:error|fatal|panic|critical)"|level=(?:error|fatal)'
    r'|"level"\s*:\s*[56]0\b|^(?:\S+ )?(?:fail|crit): [\w.]+\[\d+\]|^thread \'[^\']*\' panicked at '
    r"|^Traceback|^\w+(?:\.\w+)*(?:Error|Exception): |^panic: ",
    re.IGNORECASE,
)
# Normal events that still mean something did not happen: the cronjob controller skipping a run whose
# predecessor is still active (concurrencyPolicy: Forbid), the cluster autoscaler declining to add a node for a
# pending pod.
# ExternalProvisioning: what a claim waiting for its CSI (external) provisioner says, as a Normal event.
NOTABLE_NORMAL_REASONS = frozenset({"JobAlreadyActive", "NotTriggerScaleUp", "ExternalProvisioning"})
# A node autoscaler's Normal events on a pending pod it is adding a node for: Karpenter's `Nominated` ("Pod should
# schedule on: nodeclaim/gpu-p5-jm8vd"), cluster-autoscaler's `TriggeredScaleUp` ("pod triggered scale-up: ...").
AWAITING_NODE_REASONS = frozenset({"Nominated", "TriggeredScaleUp"})

# The kubelet's Normal `Killing` event when a probe (not a deletion) stops a container: `Container app failed
# liveness probe, will be restarted`.
PROBE_KILL = re.compile(r"Killing: Container \S+ failed (?:liveness|startup) probe")
# A line that states a level below error: its level wins over an "error" word in its text (klog's
# `I0313 ... RegistrationStatus{PluginRegistered:true,Error:,}` reports success).
BELOW_ERROR_LEVEL = re.compile(
    r'^I\d{4} |"level"\s*:\s*(?:"(?:info|debug|trace)"|[123]0\b)|\blevel=(?:info|debug|trace)\b', re.IGNORECASE
)
# A server's start-up line naming the address it listens on: `listening on 0.0.0.0:6432` (PgBouncer, PostgreSQL),
# `Uvicorn running on http://127.0.0.1:8000`, `Listening at: http://0.0.0.0:8000` (gunicorn), go-kit's
# `msg="Listening on" address=[::]:9100` (Prometheus exporters).
LISTENING = re.compile(
    r"(?:listening on|listening at:?|running on|serving on)\"?\s+(?:address=)?(?:\w+://)?"
    r"(?P<host>\[[0-9a-f:]*\]|[\w.-]*):(?P<port>\d{2,5})\b",
    re.IGNORECASE,
)
KEEP_ERRORS = 3  # last error-level lines per container
OPENING_LINES = 40  # first lines kept per container (diagnose.startup)
STATED_LINES = 10  # and later lines that state a setting a signature is governed by (a JVM's limits at a crash)
MAX_VARIANTS = 3  # distinct message shapes kept per signature and container
BEFORE_LINES = 3  # distinct ordinary lines quoted from just before a container's first failure
# A line reporting that an operation succeeded, by its verb: `uploaded global_step18000 to s3://...`, `saved
# checkpoint`, `synced 412 files`. The verb's stem is what a later failure of the same operation names
# (`upload of global_step19000 failed`), so "when did it last work?" has an answer.
DONE_STEMS = {"uploaded": "upload", "saved": "sav", "wrote": "writ", "written": "writ", "synced": "sync",
              "committed": "commit", "published": "publish", "pushed": "push", "exported": "export",
              "flushed": "flush", "replicated": "replicat", "backed up": "backup", "delivered": "deliver",
              "sent": "send", "stored": "stor", "persisted": "persist", "checkpointed": "checkpoint"}
SUCCEEDED = re.compile(rf"\b(?P<verb>{'|'.join(DONE_STEMS)})\b", re.IGNORECASE)
_RECENT_LINES = 12  # lines remembered per container to find them (a progress loop repeats one shape)
_ANY_YEAR = 2000  # whether a line starts with a timestamp, not which year a klog line is from
MAX_IDS = 5  # ids (UUIDs) named in a container's problem lines, each with the first line naming it
UUID = re.compile(r"(?<![0-9a-f])[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?![0-9a-f])", re.IGNORECASE)
_VARIABLE = re.compile(r"\d[\dT.:,+-]*Z?|[0-9a-f]{12,}")  # numbers, times, addresses, long hex ids



def states_a_failure(message: str) -> bool:
    """Whether a Normal event's message is a known failure all the same (Kueue's `Pending` event on a Workload
    it cannot admit: `couldn't assign flavors to pod set main: insufficient unused quota ...`)."""
    return any(not signature.generic for signature in matching(message))


def ids_in(text: str) -> list[str]:
    """The UUIDs in `text` (keys, requests, volumes, objects), lower-case, in order, once each."""
    return list(dict.fromkeys(match.lower() for match in UUID.findall(text)))


def clipped(text: str, limit: int) -> str:
    """`text`, or its first words within `limit` characters and `…`: a quote in a finding's cause is cut between
    words, never inside one (`kind "Service` of `kind "ServiceMonitor"` names another kind)."""
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", limit // 2, limit)
    return text[: cut if cut > 0 else limit].rstrip(" ,;:") + "…"


def shape(line: str) -> str:
    """A log line with its variable parts masked: two lines with one shape say the same thing."""
    return _VARIABLE.sub("#", line)


@dataclass
class SignatureHits:
    """How often one signature matched in one container, its first and last lines, and what came before the first."""

    signature: Signature
    first: Evidence
    last: Evidence
    count: int = 1
    context: Evidence | None = None  # the last ordinary or warning line before the first hit (and its stack trace)
    # the error line that began the multi-line entry the first hit continues: `ERROR - Exception when attempting to
    # create Namespaced Pod: {`, then the pod's JSON, the traceback and `HTTP response body: ... forbidden`
    head: Evidence | None = None
    variants: dict[str, Evidence] = field(default_factory=dict)  # shape -> first line of that shape (a few)

    @property
    def distinct(self) -> list[Evidence]:
        """The first line of each distinct message shape (numbers and ids masked), at most MAX_VARIANTS."""
        return list(self.variants.values()) or [self.first]

    @property
    def quoted(self) -> list[Evidence]:
        """The lines a finding quotes: the head of the entry the first hit continues, then the distinct lines."""
        return [*([self.head] if self.head else []), *self.distinct]


# Lines that continue a stack trace rather than say something new.
# `nvidia-smi -q` prints one section per GPU under a header line naming its PCI bus id: `GPU 00000000:AB:00.0`.
GPU_SECTION = re.compile(r"^GPU (?P<bus>[0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-7])\s*$")
TRACE_LINE = re.compile(r"^(?:\s|Traceback \(most recent call last\)|Caused by|\.\.\. \d+ more|goroutine \d+)")
# An indented line that is a frame whatever came before it (Java/.NET `at`, Python `File "..."`, an inner exception).
STACK_FRAME = re.compile(r'^\s+(?:at |File "|---> |\.\.\. \d+ more)')


@dataclass
class ContainerLogs:
    errors: list[Evidence] = field(default_factory=list)  # the last KEEP_ERRORS error-level lines
    raised: Evidence | None = None  # the last exception it raised, not a launcher's report that its child failed
    error_count: int = 0
    error_variants: dict[str, Evidence] = field(default_factory=dict)  # shape -> first error of that shape (a few)
    # shape -> the problem line (not itself an error) just before the first error of that shape: programs often
    # log the specific failure as a warning, then a generic error ("Permission denied", then "saving error").
    error_context: dict[str, Evidence] = field(default_factory=dict)
    signatures: dict[str, SignatureHits] = field(default_factory=dict)  # rule -> hits
    xids: dict[tuple[int, str], SignatureHits] = field(default_factory=dict)  # (code, device) -> hits
    listening: dict[int, Evidence] = field(default_factory=dict)  # port -> the line saying the program listens on it
    ids: dict[str, Evidence] = field(default_factory=dict)  # UUID -> the first problem line naming it (MAX_IDS)
    # the last BEFORE_LINES distinct lines it logged before its first error or known failure, oldest first: what it was
    # doing when it failed (`kubectl logs -p | tail`: the step it reached, the file it was reading)
    before: list[Evidence] = field(default_factory=list)
    # the last line before its first failure that reported the failing operation done (`SUCCEEDED`)
    succeeded: Evidence | None = None


@dataclass
class ObjectFacts:
    """Everything the records say about one object."""

    kind: str
    namespace: str | None
    name: str
    node: str | None = None
    status: Evidence | None = None  # the newest rendered status
    events: list[Evidence] = field(default_factory=list)  # warning events, newest last
    reasons: dict[str, str] = field(default_factory=dict)  # event text -> reason
    counts: dict[str, int] = field(default_factory=dict)  # event text -> times seen
    logs: dict[str, ContainerLogs] = field(default_factory=dict)  # container -> log problems
    gpu_metrics: dict[str, dict[str, float]] = field(default_factory=dict)  # gpu -> newest DCGM values
    zone: str | None = None  # a node's topology.kubernetes.io/zone label
    labels: dict[str, str] = field(default_factory=dict)  # a pod's labels, which Services select it by
    quota: dict[str, float] = field(default_factory=dict)  # what a pod holds of a ResourceQuota (sources.kube)
    pulled: Evidence | None = None  # a pod's newest `Pulled` event: its image pulled, or found on the node already
    awaits: Evidence | None = None  # a pending pod's newest word from a node autoscaler: a node is on its way for it


def readable(line: str) -> str:
    """The message of a JSON log line (`msg`/`message`) and the error it carries, else the line itself.

    Structured loggers put the human summary in `msg` and the cause in an error field
    (see `json_message`). "slot hold failed" alone says nothing; "slot hold failed: MISCONF
    Redis is configured to save RDB snapshots..." says why.
    """
    parts = json_message(line)
    if parts is None:
        return line.strip()
    message, detail = parts
    if message and detail and detail not in message:
        return f"{message}: {detail}"
    return message or detail or line.strip()


def json_message(line: str) -> tuple[str, str] | None:
    """(message, error) of a JSON log line, either may be ""; None for any other line.

    pino and bunyan serialise `err` as an object with `message`, zap and logrus write
    `error` as a string, structlog `exception`. A line without such a field may carry the
    error in a field of its own making (`"body": "upstream connect error ... connection
    failure"`): the first other field whose text reports a problem stands in.
    """
    stripped = line.strip()
    if not stripped.startswith("{"):
        return None
    try:
        value = json.loads(stripped)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    message = next((value[key] for key in ("msg", "message") if isinstance(value.get(key), str)), "")
    detail = next((text for key in ("err", "error", "exception") if (text := _error_text(value.get(key)))), "")
    if not detail:
        detail = next((text.strip() for key, text in value.items() if key not in _NOT_DETAIL and isinstance(text, str)
                       and text != message and is_problem_line(text)), "")
    return message, detail


_NOT_DETAIL = frozenset({"msg", "message", "level", "severity", "lvl", "ts", "time", "timestamp", "@timestamp", "logger",
                         "caller"})


def _error_text(value: Any) -> str:
    """The message of a serialised error: a string, or an object's `message` (pino, bunyan, Winston)."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, dict) and isinstance(value.get("message"), str):
        return value["message"].strip()
    return ""


_SEEN = re.compile(r" \(seen (\d+) times\)$")


def event_text(record: dict) -> str:
    """`Reason: message` of an event record, without the renderer's prefix and count."""
    labels = record.get("labels") or {}
    message = record["message"]
    prefix = f"{labels.get('type', 'Normal')} event on "
    if message.startswith(prefix):
        message = message.split(": ", 1)[-1] if ": " in message else message
    return _SEEN.sub("", message)


class Collector:
    """Feed records with `add`; `objects` then holds the facts per (kind, namespace, name)."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str | None, str], ObjectFacts] = {}
        self.previous: dict[tuple, dict] = {}  # container -> its last ordinary or warning log record
        self.changes: deque[Change] = deque(maxlen=KEEP)  # scale-ups, rollouts, preemptions... (changes.py)
        self.pods_by_uid: dict[str, str] = {}  # uid -> namespace/name: kube-scheduler names preemptors by uid
        # (namespace, pod, container) -> the first OPENING_LINES lines of its log (what it said as it started), then
        # lines stating a setting (STATED_SETTING)
        self.opening: dict[tuple[str | None, str, str], list[Evidence]] = {}
        self._opening_trace: set[tuple[str | None, str, str]] = set()  # containers whose opening is in a stack trace
        self.last: dict[tuple[str | None, str], dict] = {}  # (namespace, pod) -> its newest log record
        self.recent: dict[tuple, deque[dict]] = {}  # container -> its last _RECENT_LINES non-failure records
        self.done: dict[tuple, dict[str, dict]] = {}  # container -> verb stem -> its last line reporting success
        self.gpu_section: dict[tuple, str] = {}  # container -> the GPU whose `nvidia-smi -q` section it is printing
        # container -> the error-level line with its own timestamp that began the entry its next lines continue
        self.error_entry: dict[tuple, Evidence] = {}

    def facts(self, kind: str, namespace: str | None, name: str) -> ObjectFacts:
        key = (kind, namespace or None, name)
        found = self.objects.get(key)
        if found is None:
            found = self.objects[key] = ObjectFacts(kind, namespace or None, name)
        return found

    def add_all(self, records: Iterable[dict]) -> Collector:
        for record in records:
            self.add(record)
        return self

    def add(self, record: dict) -> None:
        kind = record.get("kind")
        if kind == "object":
            self._object(record)
        elif kind == "event":
            self._event(record)
        elif kind == "log":
            self._log(record)
        elif kind == "gpu" and record.get("node"):
            self._gpu(record)

    def _object(self, record: dict) -> None:
        obj = record.get("object") or {}
        if not obj.get("name"):
            return
        facts = self.facts(obj.get("kind", "Object"), obj.get("namespace") or record.get("namespace"), obj["name"])
        facts.node = record.get("node") or facts.node
        if facts.kind == "Pod" and obj.get("uid"):
            self.pods_by_uid[obj["uid"]] = f"{facts.namespace}/{facts.name}"
        labels = record.get("labels") or {}
        facts.zone = next((labels[key] for key in ZONE_LABELS if labels.get(key)), facts.zone)
        if facts.kind == "Pod" and labels:
            facts.labels = dict(labels)
        if facts.status is None or (record.get("ts") or "") >= (facts.status.ts or ""):
            facts.status = _evidence(record, obj.get("summary") or record["message"], name=obj["name"])
            facts.quota = dict(obj.get("quota") or {})
        if facts.kind in ("ReplicaSet", "Node"):
            self._created(facts.status)

    def _created(self, summary: Evidence) -> None:
        """A ReplicaSet's creation as a change to its Deployment, a node's as one to it, once each
        (`changes.rollout_change`, `changes.node_joined`)."""
        change = rollout_change(summary) or node_joined(summary)
        if change is not None and not any(known.evidence.name == summary.name and known.kind == change.kind
                                          and known.evidence.kind == "object" for known in self.changes):
            self.changes.append(change)

    def _event(self, record: dict) -> None:
        labels = record.get("labels") or {}
        kind = labels.get("involved_kind") or "Object"
        if labels.get("type") != "Warning" and labels.get("involved_name"):
            self._change(record, kind, labels)
        if labels.get("reason") == "Pulled" and kind == "Pod" and labels.get("involved_name"):
            pod = self.facts("Pod", record.get("namespace"), labels["involved_name"])
            pod.pulled = _evidence(record, event_text(record), name=labels["involved_name"])
        if labels.get("reason") in AWAITING_NODE_REASONS and kind == "Pod" and labels.get("involved_name"):
            pod = self.facts("Pod", record.get("namespace"), labels["involved_name"])
            pod.awaits = _evidence(record, event_text(record), name=labels["involved_name"])
        notable = (labels.get("type") == "Warning" or labels.get("reason") in NOTABLE_NORMAL_REASONS
                   or PROBE_KILL.search(record["message"]) is not None or states_a_failure(record["message"]))
        if not notable or not labels.get("involved_name"):
            return
        facts = self.facts(kind, None if kind == "Node" else record.get("namespace"), labels["involved_name"])
        text = event_text(record)
        seen = _SEEN.search(record["message"])
        facts.counts[text] = facts.counts.get(text, 0) + (int(seen.group(1)) if seen else 1)
        facts.reasons[text] = labels.get("reason", "")
        facts.events = [item for item in facts.events if item.text != text]
        facts.events.append(_evidence(record, text, name=labels["involved_name"]))
        facts.node = facts.node or (record.get("node") if labels.get("involved_kind") == "Pod" else None)

    def _change(self, record: dict, kind: str, labels: dict) -> None:
        text = event_text(record)
        lasted = event_change(labels.get("reason", ""), kind, text)
        if lasted is not None:
            namespace = None if kind == "Node" else record.get("namespace")
            evidence = _evidence(record, text, name=labels["involved_name"])
            self.changes.append(Change(evidence, kind, labels["involved_name"], namespace, lasted))

    def _log(self, record: dict) -> None:
        line = record["message"]
        pod = record.get("pod")
        key = (record.get("namespace"), pod, record.get("node"), record.get("container") or "")
        if "Changes detected" in line or "caling" in line or APPLIED in line:
            self.changes.extend(log_changes(line, _evidence(record, line, name=pod)))
        if pod:
            self._opening(record, pod, line)
            key_pod = (record.get("namespace"), pod)
            if (record.get("ts") or "") >= (self.last.get(key_pod, {}).get("ts") or ""):
                self.last[key_pod] = record
        if pod and ("isten" in line or "unning on" in line or "erving on" in line):
            self._listening(record, pod, line)
        if section := GPU_SECTION.match(line):
            self.gpu_section[key] = section["bus"]
        elif not line[:1].isspace():
            self.gpu_section.pop(key, None)
        head = self._entry(record, key, line)
        if not is_problem_line(line) and "NCCL" not in line:
            if not TRACE_LINE.match(line):
                self.previous[key] = record
                self.recent.setdefault(key, deque(maxlen=_RECENT_LINES)).append(record)
                if done := SUCCEEDED.search(line):
                    self.done.setdefault(key, {})[DONE_STEMS[done["verb"].lower()]] = record
            return
        facts = self.facts("Pod", record.get("namespace"), pod) if pod else self.facts("Node", None, record.get("node") or "unknown")
        facts.node = facts.node or record.get("node")
        logs = facts.logs.setdefault(record.get("container") or "", ContainerLogs())
        item = _evidence(record, line, name=pod or record.get("node"))
        if key in self.gpu_section:  # an indented line of a GPU's section says only what, not which GPU
            item = replace(item, about=f"GPU {self.gpu_section[key]}")
        before = self.previous.get(key)
        context = _evidence(before, before["message"], name=pod or record.get("node")) if before else None
        for found in ids_in(line)[: max(MAX_IDS - len(logs.ids), 0)]:
            logs.ids.setdefault(found, item)
        if EXCEPTION_LINE.search(line) and not WRAPPER_ERROR.search(line):
            logs.raised = item  # `[rank0]: ValueError: ...`, which a launcher's ChildFailedError reports
        error = bool(ERROR_LEVEL.search(line)) and not BELOW_ERROR_LEVEL.search(line)
        if error:
            logs.errors = [*logs.errors[-(KEEP_ERRORS - 1) :], item]
            logs.error_count += 1
            variant = shape(readable(line))
            if len(logs.error_variants) < MAX_VARIANTS and variant not in logs.error_variants:
                logs.error_variants[variant] = item
                if context and is_problem_line(context.text):
                    logs.error_context[variant] = context
        known = False
        for match in XID.finditer(line):
            device = _device(line)
            _hit(logs.xids, (int(match.group(1)), device), None, item, context)
            known = True
        for signature in matching(line, LOG_SIGNATURES):
            _hit(logs.signatures, signature.rule, signature, item, context, head)
            known = True
        if (error or known) and not logs.before:
            logs.before = _distinct_last(self.recent.get(key, ()), pod or record.get("node"))
            logs.succeeded = _last_done(self.done.get(key, {}), line, pod or record.get("node"))
        if not error and not known and not TRACE_LINE.match(line):
            self.previous[key] = record  # a warning the program gave before failing is the best context there is
            self.recent.setdefault(key, deque(maxlen=_RECENT_LINES)).append(record)
        elif not TRACE_LINE.match(line):
            self.previous.pop(key, None)

    def _entry(self, record: dict, key: tuple, line: str) -> Evidence | None:
        """The error line that began the multi-line log entry `line` continues, if it continues one: a line without
        its own timestamp after one with it belongs to that one's message (a JSON body, a traceback, an HTTP
        response), whose first line says what was being done when it failed."""
        if line_time(line, _ANY_YEAR) is None:
            return self.error_entry.get(key)
        if ERROR_LEVEL.search(line) and not BELOW_ERROR_LEVEL.search(line):
            self.error_entry[key] = _evidence(record, line, name=record.get("pod") or record.get("node"))
        else:
            self.error_entry.pop(key, None)
        return None

    def last_line(self, namespace: str | None, pod: str) -> Evidence | None:
        """The newest line the pod logged: what a process that hangs was doing when it stopped."""
        record = self.last.get((namespace, pod))
        return _evidence(record, record["message"], name=pod) if record else None

    def _opening(self, record: dict, pod: str, line: str) -> None:
        """Keep the container's first lines, and its later lines stating a setting. An indented line is a message's
        body (.NET's console logger and others write `info: Category[id]`, then the message indented) unless it
        follows an error or a traceback's start: then it is a stack frame."""
        key = (record.get("namespace"), pod, record.get("container") or "")
        lines = self.opening.setdefault(key, [])
        indented = line[:1].isspace()
        if not indented:
            if ERROR_LEVEL.search(line) or TRACE_LINE.match(line):
                self._opening_trace.add(key)
            else:
                self._opening_trace.discard(key)
        if ERROR_LEVEL.search(line) or len(lines) >= OPENING_LINES + STATED_LINES:
            return
        stated = STATED_SETTING.search(line)  # also in an indented block (the JVM's container limits at a crash)
        body = indented and key not in self._opening_trace and not STACK_FRAME.match(line)
        if stated or (len(lines) < OPENING_LINES and (body or not TRACE_LINE.match(line))):
            lines.append(_evidence(record, line, name=pod))

    def _listening(self, record: dict, pod: str, line: str) -> None:
        match = LISTENING.search(line)
        if match:
            logs = self.facts("Pod", record.get("namespace"), pod).logs.setdefault(record.get("container") or "",
                                                                                  ContainerLogs())
            logs.listening.setdefault(int(match["port"]), _evidence(record, line, name=pod))

    def _gpu(self, record: dict) -> None:
        facts = self.facts("Node", None, record["node"])
        gpu = str((record.get("labels") or {}).get("gpu", "0"))
        newest = facts.gpu_metrics.setdefault(gpu, {})
        newest.update({key: float(value) for key, value in (record.get("metrics") or {}).items()})


def _last_done(done: dict[str, dict], failure: str, name: str | None) -> Evidence | None:
    """The last success line of the operation the failing line names (`upload of x failed` <- `uploaded y`)."""
    words = re.findall(r"[a-z]+", failure.lower())
    found = [record for stem, record in done.items() if any(word.startswith(stem) for word in words)]
    newest = max(found, key=lambda record: record.get("ts") or "", default=None)
    return _evidence(newest, newest["message"], name=name) if newest else None


def _distinct_last(records: Iterable[dict], name: str | None) -> list[Evidence]:
    """The newest BEFORE_LINES records of distinct message shapes, oldest first: of a progress loop, its last step."""
    kept: dict[str, dict] = {}
    for record in reversed(list(records)):
        kept.setdefault(shape(readable(record["message"])), record)
        if len(kept) == BEFORE_LINES:
            break
    return [_evidence(record, record["message"], name=name) for record in reversed(kept.values())]


def _device(line: str) -> str:
    match = GPU_DEVICE.search(line)
    return match.group(1) if match else ""


def _hit(table: dict, key, signature: Signature | None, item: Evidence, context: Evidence | None,
         head: Evidence | None = None) -> None:
    hits = table.get(key)
    if hits is None:
        head = head if head is not None and head.text != item.text else None
        hits = table[key] = SignatureHits(signature, item, item, context=context, head=head)  # type: ignore[arg-type]
    else:
        hits.count += 1
        hits.last = item
    if len(hits.variants) < MAX_VARIANTS:
        hits.variants.setdefault(shape(readable(item.text)), item)


def _evidence(record: dict, text: str, *, name: str | None) -> Evidence:
    return Evidence(
        text=text,
        kind=record["kind"],
        namespace=record.get("namespace"),
        name=name,
        container=record.get("container"),
        node=record.get("node"),
        ts=record.get("ts"),
        record=record.get("id"),
        since=_first_seen(record),
    )


def _first_seen(record: dict) -> str | None:
    """When a repeated event first happened (`kubectl get events` FIRST SEEN), when that is before its record's time."""
    first = (record.get("labels") or {}).get("first_seen")
    return first if first and first < (record.get("ts") or "") else None
