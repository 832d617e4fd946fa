"""Log chunking: fold routine lines into templates with counts, keep problems verbatim with context.

Cluster logs are mostly the same few lines repeated; what matters is the odd
error. Per container and time window this yields:
- a *problems* chunk: warning/error lines and stack traces verbatim, with a
  line of context either side; a problem that repeats is shown once and counted;
- a *patterns* chunk: the routine lines as drain3 templates with counts, so a
  thousand identical access-log lines become one line of one chunk; a value that stayed
  the same in every line of a template in the window is shown as it is (a heartbeat's
  `"version": "v20260313.2"` is what a question about the version asks for), only what
  varied is masked; a template whose few lines were all printed in the same second is a
  table (nvidia-smi's CSV rows, a `df` listing) and its rows are kept as they are; a line whose
  template occurs once in the window is kept verbatim instead (start-up banners,
  settings, versions, listening addresses, end-of-run summaries: said once, and
  their values are what a question about them asks for).
Both chunks name the pod, container and node, and the window's time span.
Records stream through; only templates, counts and problem lines are kept.

An index grows by batches (`/v1/ingest` posts a few records at a time), so a container's
last window stays open between builds: the folding state is saved with the index
(`LogFolder.state`, JSON) and resumed by the next build, whose records join the open
window; the window's chunks are then made again and replace the ones made before
(`LogFolder.retired`). A stream of batches and one batch of the same records give the
same chunks: resuming is continuing, nothing is re-derived from the chunks.
"""

from __future__ import annotations

import json
import re
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from drain3 import TemplateMiner
from drain3.template_miner_config import TemplateMinerConfig

from kubetrainer.diagnose.knowledge import is_problem_line
from kubetrainer.rag.chunk import Chunk, explained, split_text
from kubetrainer.records import parse_ts

CONTINUATION = re.compile(r"^(?:\s+\S|Traceback|Caused by|\.\.\. \d+ more)")
VARIABLE = re.compile(r"\d[\dT.:,+-]*Z?|[0-9a-f]{12,}")  # numbers, times, addresses, long hex ids
CONTEXT_LINES = 1
TOP_TEMPLATES = 20
ONCE_SHOWN = 40  # lines said once per window kept verbatim; more are counted
TABLE_ROWS = 16  # a template's lines printed within one second, at most this many, are a table's rows


def shape(line: str) -> str:
    """The line with its variable parts (numbers, addresses, ids) masked."""
    return VARIABLE.sub("<*>", line)


def _miner() -> TemplateMiner:
    config = TemplateMinerConfig()
    config.profiling_enabled = False
    config.drain_sim_th = 0.5
    config.parametrize_numeric_tokens = True
    return TemplateMiner(config=config)


@dataclass
class _Window:
    start: datetime
    first: str
    last: str
    lines: int = 0
    routine: Counter = field(default_factory=Counter)  # drain cluster id -> count
    firsts: dict[int, str] = field(default_factory=dict)  # drain cluster id -> its first line in the window, verbatim
    varied: dict[int, list[int]] = field(default_factory=dict)  # cluster id -> token positions that differed from it
    # cluster id -> [second, its lines verbatim] while all came in that second (a table); dropped once one did not
    tables: dict[int, list] = field(default_factory=dict)
    problems: list[list[str]] = field(default_factory=list)  # verbatim blocks
    repeats: dict[int, list] = field(default_factory=dict)  # cluster id -> [count, last ts] of repeated problems
    emitted: list[str] = field(default_factory=list)  # ids of the chunks made for it while it was open

    def to_json(self) -> dict:
        return {"first": self.first, "last": self.last, "lines": self.lines,
                "routine": [[cluster, count] for cluster, count in self.routine.items()],
                "firsts": [[cluster, line] for cluster, line in self.firsts.items()],
                "varied": [[cluster, positions] for cluster, positions in self.varied.items()],
                "tables": [[cluster, *value] for cluster, value in self.tables.items()], "problems": self.problems,
                "repeats": [[cluster, *value] for cluster, value in self.repeats.items()], "emitted": self.emitted}

    def note_variation(self, cluster: int, line: str) -> None:
        """Mark the token positions where `line` differs from the cluster's first line in this window."""
        first, tokens = self.firsts[cluster].split(), line.split()
        varied = set(self.varied.get(cluster, ()))
        changed = {i for i, (a, b) in enumerate(zip(first, tokens)) if a != b} | set(range(len(first), len(tokens)))
        if not changed <= varied:
            self.varied[cluster] = sorted(varied | changed)

    def note_row(self, cluster: int, ts: str, line: str) -> None:
        """Keep a template's lines while they read as one table: printed in the same second, and few."""
        if cluster not in self.firsts:
            self.tables[cluster] = [ts[:19], [line]]
            return
        table = self.tables.get(cluster)
        if table and table[0] == ts[:19] and len(table[1]) < TABLE_ROWS:
            table[1].append(line)
        elif table:
            del self.tables[cluster]

    def rows(self, cluster: int) -> list[str] | None:
        """The lines of a template printed as a table, verbatim; None when its lines were spread out in time."""
        table = self.tables.get(cluster)
        return table[1] if table else None

    def pattern(self, cluster: int, template: str) -> str:
        """The cluster's template with the values that never varied in this window shown as they are."""
        first, masked = self.firsts[cluster].split(), template.split()
        if len(first) != len(masked):
            return template
        varied = set(self.varied.get(cluster, ()))
        return " ".join(mask if i in varied else value for i, (value, mask) in enumerate(zip(first, masked)))

    @classmethod
    def from_json(cls, value: dict) -> _Window:
        return cls(parse_ts(value["first"]), value["first"], value["last"], value["lines"],
                   Counter(dict(value["routine"])), dict(value["firsts"]),
                   dict(value.get("varied", ())),  # "varied" and "tables" are absent in older indexes
                   {cluster: [second, lines] for cluster, second, lines in value.get("tables", ())}, value["problems"],
                   {cluster: [count, ts] for cluster, count, ts in value["repeats"]}, value["emitted"])


class _ContainerLog:
    """Folding state for one container: its miner, the open window, recent context."""

    def __init__(self, key: tuple, window: timedelta) -> None:
        self.key = key
        self.window = window
        self.miner = _miner()
        self.shapes: dict[str, int] = {}
        self.current: _Window | None = None
        self.context: deque[str] = deque(maxlen=CONTEXT_LINES)
        self.after = 0  # lines of trailing context still owed to the last problem block
        self.in_trace = False

    def to_json(self) -> dict:
        """What continuing needs: the distinct shapes in the order the miner met them, the open window, the context."""
        return {"shapes": list(self.shapes), "window": self.current.to_json() if self.current else None,
                "context": list(self.context), "after": self.after, "in_trace": self.in_trace}

    @classmethod
    def from_json(cls, key: tuple, window: timedelta, value: dict) -> _ContainerLog:
        """The same state again: the miner is rebuilt by meeting the same shapes in the same order."""
        state = cls(key, window)
        for masked in value["shapes"]:
            state.shapes[masked] = state.miner.add_log_message(masked)["cluster_id"]
        state.current = _Window.from_json(value["window"]) if value["window"] else None
        state.context.extend(value["context"])
        state.after, state.in_trace = value["after"], value["in_trace"]
        return state

    def cluster_of(self, line: str) -> int:
        masked = shape(line)
        cluster = self.shapes.get(masked)
        if cluster is None:
            cluster = self.miner.add_log_message(masked)["cluster_id"]
            self.shapes[masked] = cluster
        return cluster

    def template(self, cluster: int) -> str:
        return self.miner.drain.id_to_cluster[cluster].get_template()

    def add(self, ts: str, moment: datetime, line: str) -> _Window | None:
        """Add a line; returns the window it closed, if the line starts a new one."""
        closed = None
        if self.current is None or moment >= self.current.start + self.window:
            closed = self.current
            self.current = _Window(start=moment, first=ts, last=ts)
            self.context.clear()
            self.after, self.in_trace = 0, False
        window = self.current
        window.lines += 1
        window.last = max(window.last, ts)
        continuation = self.in_trace and CONTINUATION.match(line)
        if continuation or is_problem_line(line):
            self._problem(window, ts, line, bool(continuation))
        elif self.after:
            window.problems[-1].append(line)
            self.after -= 1
            self.in_trace = False
        else:
            cluster = self.cluster_of(line)
            window.routine[cluster] += 1
            window.note_row(cluster, ts, line)
            if cluster in window.firsts:
                window.note_variation(cluster, line)
            else:
                window.firsts[cluster] = line
            self.context.append(line)
            self.in_trace = False
        return closed

    def _problem(self, window: _Window, ts: str, line: str, continuation: bool) -> None:
        self.in_trace = True
        if continuation and window.problems:
            window.problems[-1].append(line)
            return
        cluster = self.cluster_of(line)
        if cluster in window.repeats:
            window.repeats[cluster][0] += 1
            window.repeats[cluster][1] = ts
            self.in_trace = False  # a repeated problem's trace is the same trace again
            return
        window.repeats[cluster] = [0, ts]
        window.problems.append([*self.context, line])
        self.context.clear()
        self.after = CONTEXT_LINES


class LogFolder:
    """Streams log records in, yields chunks as each container's windows close.

    `saved` is the `state()` of an earlier folder: its containers continue where they stopped.
    """

    def __init__(self, window_minutes: float = 60.0, path: str | None = None,
                 saved: dict[str, dict] | None = None) -> None:
        self.window = timedelta(minutes=window_minutes)
        self.path = path
        self.containers: dict[tuple, _ContainerLog] = {}
        self.saved = dict(saved or {})  # key (JSON) -> state, resumed when the container logs again
        self.retired: set[str] = set()  # ids of chunks made before for windows made again since

    def add(self, record: dict) -> Iterator[Chunk]:
        key = (record.get("namespace"), record.get("pod"), record.get("container"), record.get("node"), (record.get("labels") or {}).get("path"))
        state = self.containers.get(key)
        if state is None:
            saved = self.saved.pop(json.dumps(key), None)
            state = _ContainerLog.from_json(key, self.window, saved) if saved else _ContainerLog(key, self.window)
            self.containers[key] = state
        closed = state.add(record["ts"], parse_ts(record["ts"]), record["message"])
        if closed:
            yield from self._chunks(state, closed)

    def flush_all(self) -> Iterator[Chunk]:
        """The chunks of every open window, closing it: all records are in."""
        for state in self.containers.values():
            if state.current:
                yield from self._chunks(state, state.current)
                state.current = None

    def flush_open(self) -> Iterator[Chunk]:
        """The chunks of the open windows that received records, which stay open for the next batch."""
        for state in self.containers.values():
            if state.current:
                made = list(self._chunks(state, state.current))
                state.current.emitted = [chunk.id for chunk in made]
                yield from made

    def state(self) -> dict[str, dict]:
        """Every container's folding state, JSON-ready, for `LogFolder(saved=...)` to continue from."""
        return {**self.saved, **{json.dumps(key): state.to_json() for key, state in self.containers.items()}}

    def _chunks(self, state: _ContainerLog, window: _Window) -> Iterator[Chunk]:
        self.retired.update(window.emitted)
        namespace, pod, container, node, path = state.key
        who = f"container {container} of pod {namespace}/{pod}" if pod else f"log file {path or 'unknown'}"
        where = f" on node {node}" if node else ""
        span = f"{window.first[:19].replace('T', ' ')} to {window.last[11:19]} UTC"
        base = dict(kind="log", namespace=namespace, name=pod, node=node, container=container, path=path or self.path, ts_start=window.first, ts_end=window.last)
        if window.problems:
            body = "\n...\n".join("\n".join(block) for block in window.problems)
            repeats = [(state.template(c), n, last) for c, (n, last) in window.repeats.items() if n]
            if repeats:
                body += "\n" + "\n".join(f"(repeated {n} more times, last at {last[11:19]}: {template})" for template, n, last in repeats)
            for text in split_text(f"Errors and warnings from {who}{where}, {span}:", body):
                yield explained(Chunk(text=text, problem=True, **base))
        if window.routine:
            ranked = [(cluster, count) for cluster, count in window.routine.most_common() if count > 1]
            lines = [row for cluster, count in ranked[:TOP_TEMPLATES]
                     for row in window.rows(cluster) or [f"{count}x {window.pattern(cluster, state.template(cluster))}"]]
            if len(ranked) > TOP_TEMPLATES:
                lines.append(f"... and {len(ranked) - TOP_TEMPLATES} rarer patterns ({sum(c for _, c in ranked[TOP_TEMPLATES:])} lines)")
            once = [window.firsts[cluster] for cluster, count in window.routine.items() if count == 1]
            if once:
                lines.append("Said once:")
                lines += once[:ONCE_SHOWN]
                if len(once) > ONCE_SHOWN:
                    lines.append(f"... and {len(once) - ONCE_SHOWN} more lines said once")
            header = f"Routine log patterns of {who}{where}, {span} ({window.lines} lines):"
            for text in split_text(header, "\n".join(lines)):
                yield Chunk(text=text, **base)

