"""Options several commands share, declared once so their flag and help read the same everywhere."""

from __future__ import annotations

from typing import Annotated

import typer

Force = Annotated[bool, typer.Option(
    "--force", help="Write to an --out that exists: only what this command writes there is replaced.")]
