"""Errors that are the user's to fix.

A `UserError` is rendered as one clear message (what went wrong, where, what was
expected) and exits with status 2; everything else is a bug and gets a traceback
only under `--debug`.
"""

from __future__ import annotations

from pathlib import Path

EXIT_USER_ERROR = 2
EXIT_UNAVAILABLE = 3


class UserError(Exception):
    """A mistake in the user's input or environment that they can fix."""

    exit_code = EXIT_USER_ERROR

    def __init__(
        self,
        what: str,
        *,
        where: str | Path | None = None,
        expected: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(what)
        self.what = what
        self.where = str(where) if where is not None else None
        self.expected = expected
        self.hint = hint

    def render(self) -> str:
        """One readable message: `where: what (expected ...). hint`."""
        text = f"{self.where}: {self.what}" if self.where else self.what
        if self.expected:
            text += f"; expected {self.expected}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class Unavailable(UserError):
    """A feature that cannot run here (missing hardware, stage not built, offline)."""

    exit_code = EXIT_UNAVAILABLE
