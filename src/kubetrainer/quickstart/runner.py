"""Run the quickstart's commands in this process, remember what finished, skip it next time."""

from __future__ import annotations

import contextlib
import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubetrainer import atomic
from kubetrainer.errors import UserError
from kubetrainer.quickstart.plan import Command, Layout, Step


@dataclass
class StepOutcome:
    step: Step
    outputs: list[Any]
    seconds: float
    cached: bool


@dataclass
class State:
    """What finished, by step: each command's JSON output, keyed by its command line."""

    path: Path
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> State:
        try:
            return cls(path, json.loads(path.read_text()))
        except (OSError, ValueError):
            return cls(path)

    def output(self, step: Step, command: Command, home: Path) -> tuple[bool, Any]:
        """(True, output) when `command` finished before and the output it left still exists."""
        outputs = self.steps.get(step.key, {}).get("outputs", {})
        line = command.shell(home)
        if line not in outputs or (command.done_when is not None and not command.done_when.exists()):
            return False, None
        return True, outputs[line]

    def record(self, step: Step, command: Command, home: Path, output: Any) -> None:
        saved = self.steps.setdefault(step.key, {"outputs": {}, "seconds": 0.0})
        saved["outputs"][command.shell(home)] = output
        atomic.write_json(self.path, self.steps)

    def finish(self, step: Step, seconds: float) -> None:
        self.steps[step.key]["seconds"] = seconds
        atomic.write_json(self.path, self.steps)


def run_command(command: Command, home: Path, cli_main: Callable[[list[str]], int]) -> Any:
    """Run one command; its parsed JSON output (or None); a failure stops the quickstart with the command to retry."""
    captured = io.StringIO()
    with contextlib.redirect_stdout(captured):
        code = cli_main(["--home", str(home), *command.argv])
    if code != 0:
        raise UserError(f"this step failed (exit {code})", where=command.shell(home),
                        hint="the error is above; fix it and run `kubetrainer quickstart` again (finished steps are skipped)")
    text = captured.getvalue()
    if not command.json_output:
        return None
    try:
        return json.loads(text)
    except ValueError as error:
        raise UserError(f"expected JSON on stdout, got {text[:200]!r}", where=command.shell(home)) from error


def run_step(step: Step, layout: Layout, state: State, cli_main: Callable[[list[str]], int],
             before_command: Callable[[Command], None]) -> StepOutcome:
    """Run the commands of `step` that have not finished before; a step with none left is `cached`."""
    started = time.monotonic()
    outputs, ran = [], False
    for command in step.commands:
        done, output = state.output(step, command, layout.home)
        if not done:
            before_command(command)
            output = run_command(command, layout.home, cli_main)
            state.record(step, command, layout.home, output)
            ran = True
        outputs.append(output)
    if not ran:
        return StepOutcome(step, outputs, state.steps[step.key]["seconds"], cached=True)
    seconds = time.monotonic() - started
    state.finish(step, seconds)
    return StepOutcome(step, outputs, seconds, cached=False)
