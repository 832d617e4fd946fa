"""Output helpers shared by the commands: rich for people, plain JSON for scripts.

In a pipe or a file rich has no terminal width to follow and would cut lines at 80
columns (a node named `gpu-a…`, an error wrapped mid-path). There the consoles are
PIPE_WIDTH wide, so lines and table cells come out whole; $COLUMNS still wins, and a
terminal keeps its own width. What would then stretch to that width (rules, expanding
tables, Markdown headings) goes through the helpers below.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, TextIO

from rich.console import Console
from rich.rule import Rule

PIPE_WIDTH = 4096
RULE_WIDTH = 100  # a separator in a pipe: wide enough to see, not PIPE_WIDTH dashes


def _width(stream: TextIO) -> int | None:
    """None (rich measures the terminal, or reads $COLUMNS) on a terminal; PIPE_WIDTH elsewhere."""
    return None if stream.isatty() or os.environ.get("COLUMNS") else PIPE_WIDTH


console = Console(width=_width(sys.stdout))
error_console = Console(stderr=True, width=_width(sys.stderr))


def print_json(value: Any) -> None:
    """JSON on stdout, nothing else: scripts pipe this into jq."""
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")
    sys.stdout.flush()


def error(message: str) -> None:
    error_console.print(f"[bold red]error:[/] {message}", highlight=False, markup=True, soft_wrap=True)


def note(message: str) -> None:
    error_console.print(f"[dim]{message}[/]", highlight=False, soft_wrap=True)


def rule(title: str, align: str = "center") -> None:
    """A titled separator across the terminal, or RULE_WIDTH wide in a pipe."""
    console.print(Rule(title, align=align), width=None if console.is_terminal else min(console.width, RULE_WIDTH))


def expand() -> bool:
    """Whether tables should stretch to the width: on a terminal yes, in a pipe they keep their natural width."""
    return console.is_terminal


def markdown(text: str) -> None:
    """Rendered on a terminal; in a pipe the Markdown itself, which is already plain text."""
    if console.is_terminal:
        from rich.markdown import Markdown

        console.print(Markdown(text))
    else:
        console.print(text, markup=False, highlight=False, soft_wrap=True)


def progress() -> Any:
    """A rich progress display on stderr (so stdout stays the result), gone when done: each task shows its
    description, a bar, done/total and the time taken."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    return Progress(*columns, console=error_console, transient=True)
