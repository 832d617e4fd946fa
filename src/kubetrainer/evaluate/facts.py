"""Whether an answer states an expected fact: the one definition the sample questions and the answer scores share."""

from __future__ import annotations


def states(text: str, fact: str) -> bool:
    """Whether `text` states `fact`: one of its `|`-separated alternatives, case-insensitively."""
    lowered = text.lower()
    return any(option.strip().lower() in lowered for option in fact.split("|") if option.strip())
