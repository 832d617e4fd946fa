"""A run's files beside its checkpoints: the resolved config, metrics JSONL, the loss-curve PNG and its state.

`state.json` says where the run is in its life (running, finished, interrupted, failed) and which
process runs it, so `kubetrainer runs list` can tell a run in progress from one that died. A fresh
run that fails before its first optimizer step leaves nothing behind: its directory is removed.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubetrainer import atomic
from kubetrainer.errors import UserError
from kubetrainer.train import paths
from kubetrainer.train.config import TrainConfig

CONFIG = "config.json"
METRICS = "metrics.jsonl"
PLOT = "loss.png"
STATE = "state.json"


def new_run_id(config: TrainConfig, runs_dir: Path) -> str:
    """`<UTC time>-<method>`, with a counter when a run started in the same second already has that name."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    name, count = f"{stamp}-{config.method}", 1
    while (runs_dir / name).exists():
        count += 1
        name = f"{stamp}-{config.method}-{count}"
    return name


def write_config(run_dir: Path, config: TrainConfig) -> None:
    atomic.write_text(run_dir / CONFIG, config.model_dump_json(indent=2) + "\n")


def read_config(run_dir: Path) -> TrainConfig:
    """The resolved config of an existing run (what `--resume` continues)."""
    path = run_dir / CONFIG
    if not path.is_file():
        raise UserError("not a training run (no config.json)", where=run_dir, expected="a directory under <home>/runs/")
    return TrainConfig.model_validate_json(path.read_text())


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / METRICS
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def append_metrics(run_dir: Path, row: dict[str, Any], history: list[dict[str, Any]]) -> None:
    """Add one row; the file is rewritten atomically so a resumed run never sees a torn line."""
    history.append(row)
    atomic.write_text(run_dir / METRICS, "".join(json.dumps(item) + "\n" for item in history))


def truncate_metrics(run_dir: Path, history: list[dict[str, Any]], step: int) -> list[dict[str, Any]]:
    """Drop rows past `step` (logged after the checkpoint a resumed run restarts from)."""
    kept = [row for row in history if row["step"] <= step]
    atomic.write_text(run_dir / METRICS, "".join(json.dumps(item) + "\n" for item in kept))
    return kept


def plot_loss(run_dir: Path, history: list[dict[str, Any]]) -> None:
    """loss.png: training loss per step and eval loss where measured."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = [(row["step"], row["loss"]) for row in history if "loss" in row]
    evals = [(row["step"], row["eval_loss"]) for row in history if "eval_loss" in row]
    figure, axes = plt.subplots(figsize=(7, 4))
    if train:
        axes.plot(*zip(*train), label="train loss", linewidth=1)
    if evals:
        axes.plot(*zip(*evals), "o-", label="eval loss")
    axes.set_xlabel("optimizer step")
    axes.set_ylabel("loss (nats/token)")
    axes.set_title(run_dir.name)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    tmp = run_dir / f".{PLOT}.tmp.png"
    figure.savefig(tmp, dpi=100)
    plt.close(figure)
    tmp.replace(run_dir / PLOT)


def _write_state(run_dir: Path, state: str, started: str | None = None) -> None:
    previous = _read_state(run_dir)
    atomic.write_json(run_dir / STATE, {
        "state": state, "pid": os.getpid(), "host": socket.gethostname(),
        "started": started or previous.get("started") or _now(), "updated": _now(),
    })


def _read_state(run_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((run_dir / STATE).read_text())
    except (OSError, ValueError):
        return {}


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _has_steps(run_dir: Path) -> bool:
    return bool(paths.checkpoints(run_dir)) or any(row.get("step", 0) > 0 for row in read_metrics(run_dir))


@contextmanager
def lifecycle(run_dir: Path, *, fresh: bool, is_main: bool) -> Iterator[None]:
    """Track the run in state.json; on failure a fresh run without a step is removed, any other is marked."""
    if is_main:
        _write_state(run_dir, "running", started=_now() if fresh else None)
    try:
        yield
    except BaseException as error:
        if is_main and fresh and not _has_steps(run_dir):
            shutil.rmtree(run_dir, ignore_errors=True)
        elif is_main:
            _write_state(run_dir, "interrupted" if isinstance(error, KeyboardInterrupt) else "failed")
        raise
    if is_main:
        _write_state(run_dir, "finished")


@dataclass(frozen=True)
class RunInfo:
    """One line of `kubetrainer runs list`."""

    run_id: str
    state: str
    steps: int
    started: str
    latest: bool
    output: Path | None

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "output": str(self.output) if self.output else None}


def _state_now(run_dir: Path) -> str:
    """The recorded state; a 'running' run whose process is gone on this host reads 'stopped'."""
    recorded = _read_state(run_dir)
    state = recorded.get("state") or ("finished" if (run_dir / "final").is_dir() else "stopped")
    if state == "running" and recorded.get("host") == socket.gethostname() and not _alive(recorded.get("pid")):
        return "stopped"
    return state


def _alive(pid: Any) -> bool:
    try:
        os.kill(int(pid), 0)
    except (OSError, TypeError, ValueError):
        return False
    return True


def describe(run_dir: Path, latest: Path | None) -> RunInfo:
    steps = max((row.get("step", 0) for row in read_metrics(run_dir)), default=0)
    started = _read_state(run_dir).get("started") or dt.datetime.fromtimestamp(
        (run_dir / CONFIG).stat().st_mtime, dt.UTC).isoformat(timespec="seconds")
    return RunInfo(run_dir.name, _state_now(run_dir), steps, started, latest == run_dir, paths.newest_output(run_dir))


def list_runs(runs_dir: Path) -> list[RunInfo]:
    """Every run under `runs_dir` (directories with a config.json), oldest first."""
    latest = paths.latest_run(runs_dir)
    found = [describe(path, latest) for path in runs_dir.iterdir() if (path / CONFIG).is_file()] if runs_dir.is_dir() else []
    return sorted(found, key=lambda info: (info.started, info.run_id))


def remove_run(runs_dir: Path, run_id: str, *, force: bool) -> Path | None:
    """Delete a run; `latest` (or a running run) only with `force`, and then latest moves to the newest other output.

    Returns the run `latest` names afterwards (None when no run has an output left).
    """
    run_dir = runs_dir / run_id
    if "/" in run_id or run_id in ("", ".", "..", paths.LATEST) or not (run_dir / CONFIG).is_file():
        raise UserError(f"no run named {run_id!r}", where=runs_dir, expected="a run id from `kubetrainer runs list`")
    info = describe(run_dir, paths.latest_run(runs_dir))
    if not force and (info.latest or info.state == "running"):
        why = "is the latest run (what ./checkpoints/latest means)" if info.latest else "is running"
        raise UserError(f"run {run_id} {why}", where=run_dir, hint="pass --force to remove it anyway")
    shutil.rmtree(run_dir)
    if not info.latest:
        return paths.latest_run(runs_dir)
    remaining = [runs_dir / other.run_id for other in list_runs(runs_dir) if other.output is not None]
    if remaining:
        paths.mark_latest(runs_dir, remaining[-1])
        return remaining[-1]
    (runs_dir / paths.LATEST).unlink(missing_ok=True)
    return None
