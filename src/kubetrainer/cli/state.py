"""The settings the global options resolved, shared by every command module."""

from __future__ import annotations

from dataclasses import dataclass, field

from kubetrainer.config import Settings, default_settings


@dataclass
class CliState:
    settings: Settings = field(default_factory=default_settings)


STATE = CliState()
