"""A run's files beside its checkpoints: the resolved config, metrics JSONL and the loss-curve PNG."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from kubetrainer import atomic
from kubetrainer.errors import UserError
from kubetrainer.train.config import TrainConfig

CONFIG = "config.json"
METRICS = "metrics.jsonl"
PLOT = "loss.png"


def new_run_id(config: TrainConfig) -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{config.method}"


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
