"""Kubernetes resource quantities ("3500m", "1056762384Ki", "8", "1.5Gi") as numbers."""

from __future__ import annotations

import re

_SUFFIXES = {
    "n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1.0,
    "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
}
_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]?)$")


def parse_quantity(value: str | int | float) -> float:
    """The number a quantity stands for; ValueError names the text when it is not a quantity."""
    if isinstance(value, (int, float)):
        return float(value)
    match = _QUANTITY.match(str(value).strip())
    if not match:
        raise ValueError(f"not a Kubernetes quantity: {value!r}")
    number, suffix = match.groups()
    return float(number) * _SUFFIXES[suffix]


def parse_count(value: str | int | float) -> int:
    """A device count ("8"); extended resources are whole numbers."""
    if isinstance(value, str) and value.isdigit():  # the common case, without the regex
        return int(value)
    return int(parse_quantity(value))
