"""Output helpers shared by the commands: rich for people, plain JSON for scripts."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

console = Console()
error_console = Console(stderr=True)


def print_json(value: Any) -> None:
    """JSON on stdout, nothing else: scripts pipe this into jq."""
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")
    sys.stdout.flush()


def error(message: str) -> None:
    error_console.print(f"[bold red]error:[/] {message}", highlight=False, markup=True, soft_wrap=True)


def note(message: str) -> None:
    error_console.print(f"[dim]{message}[/]", highlight=False, soft_wrap=True)
