"""The command table: which stage commands this build has, in `--help` order.

Each stage module registers its commands on `app` when imported; adding a stage
is one line in `STAGE_MODULES`.
"""

from __future__ import annotations

import importlib

from kubetrainer.cli import app

STAGE_MODULES: tuple[str, ...] = ("detect", "load", "serve", "dashboard", "harvest", "index", "diagnose", "query",
                                  "investigate", "train", "runs", "submit", "operator", "quickstart", "eval")

for _module in STAGE_MODULES:
    importlib.import_module(f"kubetrainer.cli.{_module}")


def available() -> set[str]:
    """Names of the commands registered on the app."""
    names = {command.name or command.callback.__name__ for command in app.registered_commands}
    names |= {group.name for group in app.registered_groups if group.name}
    return names
