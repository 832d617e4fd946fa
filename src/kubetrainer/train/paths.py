"""Where a run keeps its outputs, and how `./checkpoints/latest`-style paths resolve.

Layout of `<home>/runs/<run-id>/`: `config.json` (resolved), `metrics.jsonl`, `loss.png`,
`checkpoints/step-<N>/` (`model/` = adapter or full model, `trainer_state.pt`, `state.json`)
and `final/` (an adapter or a full model, loadable as is). `<home>/runs/latest` is a pointer
file naming the newest run, rewritten atomically whenever a run saves.

`resolve_checkpoint(path, runs_dir)` turns any of these into a loadable model directory:
- a model or adapter directory (config.json or adapter_config.json): itself;
- a checkpoint directory `step-N`: its `model/`;
- a run directory: its `final/`, else its newest checkpoint;
- a path ending in `latest` (`./checkpoints/latest`, `<run>/checkpoints/latest`, `latest`)
  that does not exist: the newest output of that run, or of the newest run under `runs_dir`.
"""

from __future__ import annotations

import re
from pathlib import Path

from kubetrainer import atomic
from kubetrainer.errors import UserError

LATEST = "latest"
STEP_PATTERN = re.compile(r"^step-(\d+)$")


def checkpoint_dir(run_dir: Path, step: int) -> Path:
    return run_dir / "checkpoints" / f"step-{step:06d}"


def checkpoints(run_dir: Path) -> list[Path]:
    """The run's complete checkpoints, oldest first (staging dirs start with a dot and never match)."""
    folder = run_dir / "checkpoints"
    found = [path for path in folder.iterdir() if STEP_PATTERN.match(path.name)] if folder.is_dir() else []
    return sorted(found, key=lambda path: int(STEP_PATTERN.match(path.name).group(1)))


def latest_checkpoint(run_dir: Path) -> Path | None:
    found = checkpoints(run_dir)
    return found[-1] if found else None


def newest_output(run_dir: Path) -> Path | None:
    """The run's final model if it finished, else its newest checkpoint's model."""
    if (run_dir / "final").is_dir():
        return run_dir / "final"
    checkpoint = latest_checkpoint(run_dir)
    return checkpoint / "model" if checkpoint else None


def mark_latest(runs_dir: Path, run_dir: Path) -> None:
    atomic.write_text(runs_dir / LATEST, run_dir.name + "\n")


def latest_run(runs_dir: Path) -> Path | None:
    pointer = runs_dir / LATEST
    if not pointer.is_file():
        return None
    run_dir = runs_dir / pointer.read_text().strip()
    return run_dir if run_dir.is_dir() else None


def _is_model_dir(path: Path) -> bool:
    has_weights = any(path.glob("*.safetensors")) or any(path.glob("*.bin"))
    return has_weights and ((path / "config.json").is_file() or (path / "adapter_config.json").is_file())


def resolve_checkpoint(path: str | Path, runs_dir: Path) -> Path:
    """A loadable model/adapter directory for a model dir, checkpoint, run dir or `.../latest` path."""
    path = Path(path)
    if path.is_dir():
        if _is_model_dir(path):
            return path
        if STEP_PATTERN.match(path.name) and (path / "model").is_dir():
            return path / "model"
        output = newest_output(path)
        if output is not None:
            return output
    elif path.name == LATEST:
        run_dir = path.parent.parent if path.parent.name == "checkpoints" and path.parent.is_dir() else latest_run(runs_dir)
        output = newest_output(run_dir) if run_dir is not None else None
        if output is not None:
            return output
        raise UserError("no finished run or checkpoint yet", where=path, expected=f"a run under {runs_dir} (run `kubetrainer train` first)")
    raise UserError(
        "not a model, adapter, checkpoint or run directory", where=path, expected="a directory with config.json or adapter_config.json, a run directory, or .../latest"
    )
