"""Settings shared by every stage: where the data home is and how chatty to be.

The data home (DESIGN.md section 3) holds all state: `models/`, `harvest/`,
`index/<name>/`, `runs/<run-id>/` and `cache/`. It is chosen by `--home`, then
`KUBETRAINER_HOME`, then `~/.kubetrainer`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from kubetrainer.errors import UserError

HOME_ENV = "KUBETRAINER_HOME"
DEFAULT_HOME = Path("~/.kubetrainer")
SUBDIRS = ("models", "harvest", "index", "runs", "cache", "investigations")


def resolve_home(explicit: Path | None = None) -> Path:
    """The data home: the explicit path, else $KUBETRAINER_HOME, else ~/.kubetrainer."""
    chosen = explicit or os.environ.get(HOME_ENV) or DEFAULT_HOME
    return Path(chosen).expanduser().resolve()


def usable_home(explicit: Path | None = None) -> Path:
    """`resolve_home`, refusing a file: the message names where the path came from (flag, variable, default)."""
    home = resolve_home(explicit)
    if home.exists() and not home.is_dir():
        from_env = os.environ.get(HOME_ENV) and resolve_home(Path(os.environ[HOME_ENV])) == home
        named_by = f"${HOME_ENV}" if from_env else "--home" if explicit else "the default data home"
        raise UserError("is a file", where=f"{named_by} {home}", expected="a directory for KubeTrainer's data")
    return home


@dataclass(frozen=True)
class Settings:
    """Process-wide options set once by the CLI (or by a Python caller)."""

    home: Path
    debug: bool = False
    verbose: bool = False

    def dir(self, name: str) -> Path:
        """A subdirectory of the data home, created on first use."""
        if name not in SUBDIRS:
            raise ValueError(f"unknown data-home subdirectory {name!r}; known: {SUBDIRS}")
        path = self.home / name
        try:
            path.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise UserError("is not a directory", where=path,
                            expected=f"a directory inside the data home {self.home}") from None
        return path


def default_settings() -> Settings:
    """Settings from the environment alone, for Python callers that skip the CLI."""
    return Settings(home=resolve_home())
