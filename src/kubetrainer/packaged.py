"""Data files that ship inside the package, read through importlib.resources.

The record schema and the redaction patterns must be there in every install (a wheel
in a fresh virtualenv, the server image), not only in a checkout, so they live in
`src/kubetrainer/schemas/` as package data. That directory is the one copy: the
repository's `schemas/` is a link to it and the Rust agent embeds the same file.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable

SCHEMAS = "schemas"
REDACTION_VECTORS = "redaction-vectors.json"
RECORD_SCHEMA = "record.schema.json"


def schema_file(name: str) -> Traversable:
    """A file of the packaged `schemas/` directory (a Path in ordinary installs)."""
    return resources.files("kubetrainer") / SCHEMAS / name
