"""`--nproc N`: create the run here, then let torchrun start N ranks of it (kubetrainer.train.worker)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from kubetrainer.config import Settings
from kubetrainer.errors import UserError
from kubetrainer.train import distributed, engine, runs
from kubetrainer.train.config import TrainConfig

STDERR_FD = 2


def run_distributed(config: TrainConfig, settings: Settings, *, nproc: int, resume: bool) -> Path:
    """Run `config` on `nproc` local processes (and as many nodes as the environment names); the run dir."""
    config, run_dir, fresh = engine.prepare_run(config, settings, resume=resume)
    command = distributed.launch_command(nproc, run_dir, settings.home, resume=resume, env=os.environ)
    with runs.lifecycle(run_dir, fresh=fresh, is_main=True):  # a launch that fails before a step leaves no run
        # The ranks' notes and library logs are progress, not results: stdout stays for the CLI's --json output.
        completed = subprocess.run(command, check=False, stdout=STDERR_FD)
        if completed.returncode != 0:
            raise UserError(
                f"torchrun exited with status {completed.returncode}",
                where=run_dir,
                hint="the ranks' output is above; `kubetrainer train --resume` continues from the last checkpoint",
            )
    return run_dir
